package main

import (
	"fmt"
	"log/slog"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/onlinetsm/defaultmodel"
)

// loadModel chooses the model the commands run: the checkpoint at weights
// (with the class names in the labels file, when given; the word "jester"
// names the built-in Jester list), or else the embedded default model. It returns the model and a name for it.
func loadModel(weights, labels string, size, threads int, log *slog.Logger) (*onlinetsm.Model, string, error) {
	var opts []onlinetsm.Option
	if size > 0 {
		opts = append(opts, onlinetsm.WithInputSize(size))
	}
	if threads > 0 {
		opts = append(opts, onlinetsm.WithThreads(threads))
	}
	switch labels {
	case "":
	case "jester":
		// The published Jester checkpoint's class names, built in.
		opts = append(opts, onlinetsm.WithLabels(onlinetsm.JesterLabels()))
	default:
		names, err := onlinetsm.ReadLabelsFile(labels)
		if err != nil {
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
	m, err := defaultmodel.Load(opts...)
	if err != nil {
		return nil, "", err
	}
	log.Debug("using the embedded default model", "classes", m.Classes(), "size", m.InputSize())
	return m, defaultmodel.Name, nil
}
