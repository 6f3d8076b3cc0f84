package ckpttest

import (
	"bytes"
	"testing"
)

func TestWriteSafetensorsErrors(t *testing.T) {
	for name, tensors := range map[string]map[string]*Tensor{
		"short data":   {"a": {Shape: []int{2, 3}, Data: make([]float32, 5)}},
		"negative dim": {"a": {Shape: []int{-1}, Data: nil}},
		"reserved":     {"__metadata__": {Shape: []int{1}, Data: []float32{1}}},
		"nil":          {"a": nil},
	} {
		if err := WriteSafetensors(&bytes.Buffer{}, tensors, nil, false); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
