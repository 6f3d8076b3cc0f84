package ckpt

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// bnEps is PyTorch's BatchNorm2d default epsilon.
const bnEps = 1e-5

// Params hands out a checkpoint's tensors by key to a model builder,
// checking shapes and values and remembering which keys were read, so that
// the builder can refuse a checkpoint with keys it does not know.
type Params struct {
	t    map[string]*Tensor
	used map[string]bool
}

// NewParams returns the parameters of tensors, none of them read yet.
func NewParams(tensors map[string]*Tensor) *Params {
	return &Params{t: tensors, used: map[string]bool{}}
}

// Has reports whether key is present.
func (p *Params) Has(key string) bool { _, ok := p.t[key]; return ok }

// HasPrefix reports whether some key starts with prefix.
func (p *Params) HasPrefix(prefix string) bool {
	for k := range p.t {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// Skip marks every key that starts with prefix as read, for entries the
// model does not use but a valid checkpoint may hold.
func (p *Params) Skip(prefix string) {
	for k := range p.t {
		if strings.HasPrefix(k, prefix) {
			p.used[k] = true
		}
	}
}

// Get returns the values of key, which must have exactly the given shape
// and hold only finite values, and marks it read.
func (p *Params) Get(key string, shape ...int) ([]float32, error) {
	t, ok := p.t[key]
	if !ok {
		return nil, fmt.Errorf("missing key %q", key)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("key %q has shape %v, want %v", key, t.Shape, shape)
	}
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("key %q holds a non-finite value at index %d", key, i)
		}
	}
	p.used[key] = true
	return t.Data, nil
}

// Shape returns the shape of key, or an error if it is missing, not of the
// given rank or has a dimension outside [1, 65536]. It does not mark the
// key read.
func (p *Params) Shape(key string, rank int) ([]int, error) {
	t, ok := p.t[key]
	if !ok {
		return nil, fmt.Errorf("missing key %q", key)
	}
	if len(t.Shape) != rank {
		return nil, fmt.Errorf("key %q has shape %v, want rank %d", key, t.Shape, rank)
	}
	for _, d := range t.Shape {
		if d <= 0 || d > 1<<16 {
			return nil, fmt.Errorf("key %q has shape %v: dimension out of range", key, t.Shape)
		}
	}
	return t.Shape, nil
}

// CheckAllUsed reports the keys no Get has read.
func (p *Params) CheckAllUsed() error {
	var extra []string
	for k := range p.t {
		if !p.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	more := ""
	if len(extra) > 3 {
		more = fmt.Sprintf(" and %d more", len(extra)-3)
		extra = extra[:3]
	}
	return fmt.Errorf("unexpected keys %q%s", extra, more)
}

// ConvBN reads a convolution weight of the given shape (output channels
// first) and the batch norm at bnPrefix (weight, bias, running_mean,
// running_var and, if present, num_batches_tracked), and folds them:
// W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε).
func (p *Params) ConvBN(wKey, bnPrefix string, shape ...int) (w, b []float32, err error) {
	raw, err := p.Get(wKey, shape...)
	if err != nil {
		return nil, nil, err
	}
	out := shape[0]
	var bn [4][]float32
	for i, name := range []string{"weight", "bias", "running_mean", "running_var"} {
		if bn[i], err = p.Get(bnPrefix+"."+name, out); err != nil {
			return nil, nil, err
		}
	}
	if p.Has(bnPrefix + ".num_batches_tracked") {
		p.used[bnPrefix+".num_batches_tracked"] = true
	}
	per := len(raw) / out
	w = make([]float32, len(raw))
	b = make([]float32, out)
	for o := 0; o < out; o++ {
		if bn[3][o] < 0 {
			return nil, nil, fmt.Errorf("key %q holds a negative variance", bnPrefix+".running_var")
		}
		scale := float64(bn[0][o]) / math.Sqrt(float64(bn[3][o])+bnEps)
		for i := o * per; i < (o+1)*per; i++ {
			w[i] = float32(float64(raw[i]) * scale)
		}
		b[o] = float32(float64(bn[1][o]) - float64(bn[2][o])*scale)
	}
	return w, b, nil
}

// Classifier is a model's last layer, a linear classifier, and the names
// of its classes.
type Classifier struct {
	// W holds Classes×In weights, row-major; B the Classes biases.
	W, B []float32
	// Classes is the number of classes, read from the weight's shape.
	Classes int
	// Labels names the classes in index order.
	Labels []string
}

// Classifier finishes a model: it reads the linear layer at prefix
// (prefix.weight of shape (classes, in), prefix.bias), checks that no key
// of the checkpoint is left unread, and names the classes with labels,
// whose number must equal the class count ("class 0", "class 1", … when
// labels is nil).
func (p *Params) Classifier(prefix string, in int, labels []string) (*Classifier, error) {
	wKey := prefix + ".weight"
	s, err := p.Shape(wKey, 2)
	if err != nil {
		return nil, err
	}
	c := &Classifier{Classes: s[0]}
	if c.W, err = p.Get(wKey, c.Classes, in); err != nil {
		return nil, err
	}
	if c.B, err = p.Get(prefix+".bias", c.Classes); err != nil {
		return nil, err
	}
	if err := p.CheckAllUsed(); err != nil {
		return nil, err
	}
	if labels != nil {
		if len(labels) != c.Classes {
			return nil, fmt.Errorf("%d labels given for a model of %d classes", len(labels), c.Classes)
		}
		c.Labels = labels
		return c, nil
	}
	c.Labels = make([]string, c.Classes)
	for i := range c.Labels {
		c.Labels[i] = "class " + strconv.Itoa(i)
	}
	return c, nil
}
