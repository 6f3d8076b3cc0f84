package ckpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nlpodyssey/gopickle/pickle"
)

// scanPickle walks the opcodes of the pickle at the start of p without
// building anything and returns its length up to and including STOP. It
// rejects unknown opcodes and any length-prefixed argument (strings, bytes,
// frames, longs) that does not fit in the bytes that remain, so that
// gopickle, which allocates claimed lengths up front, only ever allocates
// what the file really holds.
func scanPickle(p []byte) (int, error) {
	i := 0
	need := func(n uint64, op byte) error {
		if n > uint64(len(p)-i) {
			return fmt.Errorf("%w: opcode 0x%02x at offset %d needs %d bytes, %d left: %w",
				errMalformedPickle, op, i-1, n, len(p)-i, errTruncated)
		}
		return nil
	}
	line := func(op byte, limit int) error {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return fmt.Errorf("%w: opcode 0x%02x at offset %d: unterminated line: %w", errMalformedPickle, op, i-1, errTruncated)
		}
		if limit > 0 && j > limit {
			return fmt.Errorf("%w: opcode 0x%02x at offset %d: argument of %d bytes is too long", errMalformedPickle, op, i-1, j)
		}
		i += j + 1
		return nil
	}
	for i < len(p) {
		op := p[i]
		i++
		var err error
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', 't', ')', 0x85, 0x86, 0x87, ']', 'a', 'e', 'l',
			'}', 'd', 's', 'u', 0x8f, 0x90, 0x91, 'b', 'R', 0x81, 0x92, 'o', 0x93, 0x94,
			'Q', 0x88, 0x89, 0x97, 0x98:
			// no argument
		case 0x80, 'K', 'h', 'q', 0x82: // PROTO BININT1 BINGET BINPUT EXT1
			err = need(1, op)
			i++
		case 'M', 0x83: // BININT2 EXT2
			err = need(2, op)
			i += 2
		case 'J', 'j', 'r', 0x84: // BININT LONG_BINGET LONG_BINPUT EXT4
			err = need(4, op)
			i += 4
		case 'G': // BINFLOAT
			err = need(8, op)
			i += 8
		case 0x95: // FRAME: its payload is more opcodes, which are scanned next
			if err = need(8, op); err == nil {
				n := binary.LittleEndian.Uint64(p[i:])
				i += 8
				err = need(n, op)
			}
		case 'U', 'C', 0x8c, 0x8a: // SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE LONG1
			if err = need(1, op); err == nil {
				n := uint64(p[i])
				i++
				if op == 0x8a && n == 0 {
					err = fmt.Errorf("%w: LONG1 of length 0 at offset %d", errMalformedPickle, i-2)
				} else if err = need(n, op); err == nil {
					i += int(n)
				}
			}
		case 'T', 'B', 'X', 0x8b: // BINSTRING BINBYTES BINUNICODE LONG4
			if err = need(4, op); err == nil {
				n := uint64(binary.LittleEndian.Uint32(p[i:]))
				i += 4
				if (op == 'T' || op == 0x8b) && n >= 1<<31 {
					err = fmt.Errorf("%w: negative length at offset %d", errMalformedPickle, i-5)
				} else if op == 0x8b && (n == 0 || n > maxNumberText) {
					err = fmt.Errorf("%w: LONG4 of %d bytes at offset %d", errMalformedPickle, n, i-5)
				} else if err = need(n, op); err == nil {
					i += int(n)
				}
			}
		case 0x8d, 0x8e, 0x96: // BINUNICODE8 BINBYTES8 BYTEARRAY8
			if err = need(8, op); err == nil {
				n := binary.LittleEndian.Uint64(p[i:])
				i += 8
				if err = need(n, op); err == nil {
					i += int(n)
				}
			}
		case 'I', 'L', 'F': // INT LONG FLOAT (text)
			err = line(op, maxNumberText)
		case 'S', 'V', 'P', 'g', 'p': // STRING UNICODE PERSID GET PUT (text)
			err = line(op, 0)
		case 'c', 'i': // GLOBAL INST: module and name lines
			if err = line(op, 0); err == nil {
				err = line(op, 0)
			}
		default:
			err = fmt.Errorf("%w: unknown opcode 0x%02x at offset %d", errMalformedPickle, op, i-1)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("%w: no STOP opcode: %w", errMalformedPickle, errTruncated)
}

// unpickle scans and unpickles the pickle at the start of p and returns
// the object and the number of bytes it used. findClass and persistentLoad
// may be nil (then no global besides gopickle's harmless built-ins and no
// persistent id is accepted).
func unpickle(p []byte, findClass func(module, name string) (interface{}, error),
	persistentLoad func(interface{}) (interface{}, error)) (obj interface{}, n int, err error) {
	n, err = scanPickle(p)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			obj, n, err = nil, 0, fmt.Errorf("%w (unpickler panic: %v)", errMalformedPickle, r)
		}
	}()
	if findClass == nil {
		findClass = findNoClass
	}
	if persistentLoad == nil {
		persistentLoad = func(interface{}) (interface{}, error) {
			return nil, errors.New("unexpected persistent id")
		}
	}
	u := pickle.NewUnpickler(bytes.NewReader(p[:n]))
	u.FindClass = func(module, name string) (interface{}, error) {
		v, err := findClass(module, name)
		return v, passThrough(err)
	}
	u.PersistentLoad = func(pid interface{}) (interface{}, error) {
		v, err := persistentLoad(pid)
		return v, passThrough(err)
	}
	obj, err = u.Load()
	if err != nil {
		var pe *passErr
		if errors.As(err, &pe) {
			return nil, 0, pe.err // our own checks already say what is wrong
		}
		return nil, 0, fmt.Errorf("%w: %w", errMalformedPickle, err)
	}
	return obj, n, nil
}

// passErr marks an error raised by this package's callbacks (class lookup,
// persistent load, rebuild functions) while gopickle runs, so that
// unpickle returns it as is rather than as a malformed pickle.
type passErr struct{ err error }

func (e *passErr) Error() string { return e.err.Error() }
func (e *passErr) Unwrap() error { return e.err }

func passThrough(err error) error {
	if err == nil {
		return nil
	}
	return &passErr{err}
}
