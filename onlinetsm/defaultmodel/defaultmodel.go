// Package defaultmodel embeds livetsm's default model: an online TSM
// MobileNetV2 trained on the synthetic hand gestures of package stream/synth
// (nine Jester classes: swipes in four directions, zooming in and out,
// turning clockwise and counterclockwise, no gesture). It lets livetsm
// recognise something real without a checkpoint of one's own.
//
// The weights (safetensors, float16, loaded as float32) carry their labels,
// input size, frame rate and normalisation in their metadata. They were
// trained by tools/train.py; see the README for what the model can and cannot
// do.
package defaultmodel

import (
	_ "embed"
	"fmt"

	"github.com/livetsm/livetsm/onlinetsm"
)

//go:embed model.safetensors
var weights []byte

// Name describes the default model in logs and results.
const Name = "livetsm default model (synthetic gestures)"

// Load builds the default model. Options apply as for onlinetsm.Load; the
// input size and labels come from the embedded metadata unless overridden.
func Load(opts ...onlinetsm.Option) (*onlinetsm.Model, error) {
	m, err := onlinetsm.LoadBytes(weights, opts...)
	if err != nil {
		return nil, fmt.Errorf("default model: %w", err)
	}
	return m, nil
}

// Weights returns a copy of the embedded safetensors file.
func Weights() []byte { return append([]byte(nil), weights...) }
