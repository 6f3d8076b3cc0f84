package ckpt

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckpointInertPlaceholders: the inert globals are accepted outside
// the state dict only, and do not open the door to other globals.
func TestCheckpointInertPlaceholders(t *testing.T) {
	// Pickle snippets (protocol 2) inside a zip's data.pkl.
	const scalar = "cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbc_codecs\nencode\nX\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\xe0?X\x06\x00\x00\x00latin1\x86R\x86R"
	cases := []struct {
		name string
		pkl  string
		want string // a substring of the error (the snippets hold no tensors)
		is   error
	}{
		{"scalar in meta", "\x80\x02}(X\x04\x00\x00\x00meta}X\x01\x00\x00\x00x" + scalar + "sX\x0a\x00\x00\x00state_dict}u.", "no tensors", errNoTensors},
		{"defaultdict in meta", "\x80\x02}(X\x04\x00\x00\x00meta}X\x01\x00\x00\x00dccollections\ndefaultdict\nc__builtin__\nlist\n\x85RX\x01\x00\x00\x00k]K\x01assX\x0a\x00\x00\x00state_dict}u.", "no tensors", errNoTensors},
		{"Namespace in meta", "\x80\x02}(X\x04\x00\x00\x00meta}X\x01\x00\x00\x00ncargparse\nNamespace\n)\x81}X\x01\x00\x00\x00aK\x01sbsX\x0a\x00\x00\x00state_dict}u.", "no tensors", errNoTensors},
		{"scalar in state dict", "\x80\x02}X\x0a\x00\x00\x00state_dict}X\x01\x00\x00\x00w" + scalar + "ss.", `numpy.core.multiarray.scalar object, not a tensor`, errDisallowed},
		{"global in state dict", "\x80\x02}X\x01\x00\x00\x00wcnumpy\ndtype\ns.", `global numpy.dtype, not a tensor`, errDisallowed},
		{"os.system inside ndarray args", "\x80\x02}X\x04\x00\x00\x00metacnumpy.core.multiarray\n_reconstruct\ncos\nsystem\nX\x02\x00\x00\x00ls\x85R\x85Rs.", `disallowed class "os.system"`, errDisallowed},
		{"numpy other class", "\x80\x02}X\x04\x00\x00\x00metacnumpy\nload\n)Rs.", `disallowed class "numpy.load"`, errDisallowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := makeZip(t, "archive/data.pkl", c.pkl)
			_, err := read(data, false)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
				t.Fatalf("error %q, want it to contain %q and wrap %v", err, c.want, c.is)
			}
		})
	}
}
