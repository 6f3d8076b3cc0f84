package main

import (
	"fmt"
	"log/slog"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream/synth"
)

// loadModel chooses the model the live commands run: the checkpoint at
// weights (with the class names in the labels file, when given), or else the
// default model. There is no embedded default model yet, so without
// --weights it builds random weights of the published layout for the
// synthetic gestures' classes and says loudly that their predictions mean
// nothing. It returns the model and a name for it.
func loadModel(weights, labels string, size, threads int, log *slog.Logger) (*onlinetsm.Model, string, error) {
	var opts []onlinetsm.Option
	if size > 0 {
		opts = append(opts, onlinetsm.WithInputSize(size))
	}
	if threads > 0 {
		opts = append(opts, onlinetsm.WithThreads(threads))
	}
	var names []string
	if labels != "" {
		var err error
		if names, err = onlinetsm.ReadLabelsFile(labels); err != nil {
			return nil, "", fmt.Errorf("--labels: %w", err)
		}
		opts = append(opts, onlinetsm.WithLabels(names))
	}
	if weights != "" {
		m, err := onlinetsm.Load(weights, opts...)
		if err != nil {
			return nil, "", err
		}
		return m, weights, nil
	}
	if names == nil {
		names = synth.Labels()
		opts = append(opts, onlinetsm.WithLabels(names))
	}
	log.Warn("no --weights and no embedded model yet: using random weights; predictions are meaningless")
	m, err := onlinetsm.NewRandom(1.0, len(names), 1, opts...)
	if err != nil {
		return nil, "", err
	}
	return m, fmt.Sprintf("random (width 1.0, %d classes)", len(names)), nil
}
