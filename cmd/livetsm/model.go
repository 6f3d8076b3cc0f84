package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/onlinetsm/defaultmodel"
	"github.com/livetsm/livetsm/stream"
)

// modelFlags are the flags that choose and run the online model. Every
// subcommand that runs it declares them through register, so that their
// names, defaults, help and checks read the same everywhere.
type modelFlags struct {
	weights, labels string
	threads, size   int
	fps             float64
	noSmooth        bool
}

// Which of the modelFlags a subcommand declares (bits for register).
const (
	modelChoice = 1 << iota // --weights, --labels, --threads
	modelInput              // --size
	modelStream             // --fps, --no-smooth
)

// register declares the flags of which (modelChoice, modelInput,
// modelStream, or'ed) on fs.
func (m *modelFlags) register(fs *flag.FlagSet, which int) {
	if which&modelChoice != 0 {
		fs.StringVar(&m.weights, "weights", "", "checkpoint `FILE` to load: PyTorch (.pth, .pth.tar) or safetensors (default: the embedded model)")
		fs.StringVar(&m.labels, "labels", "", "class names `FILE`, one per line, or \"jester\" for the built-in Jester list (default: from the weights' metadata)")
		fs.IntVar(&m.threads, "threads", 0, "goroutines sharing one frame's work (default: GOMAXPROCS)")
	}
	if which&modelInput != 0 {
		fs.IntVar(&m.size, "size", 0, "model input side in pixels (default: the model's)")
	}
	if which&modelStream != 0 {
		fs.Float64Var(&m.fps, "fps", 0, "frames per second fed to the model, per stream (default: the model's metadata, else 15)")
		fs.BoolVar(&m.noSmooth, "no-smooth", false, "each frame's own prediction instead of the smoothed one (the published demo's: 12 frames' logits averaged, labels held for two steps)")
	}
}

// validate checks the flags' values.
func (m *modelFlags) validate() error {
	switch {
	case m.fps != 0 && !(m.fps > 0 && m.fps <= 1000): // NaN fails too
		return fmt.Errorf("--fps %g out of range (0, 1000]", m.fps)
	case m.threads < 0:
		return errors.New("--threads must be 0 or more")
	case m.size != 0 && (m.size < 32 || m.size > 4096):
		return fmt.Errorf("--size %d out of range [32, 4096]", m.size)
	}
	return nil
}

// load loads the model the flags choose (see loadModel) and logs what it
// loaded.
func (m *modelFlags) load(log *slog.Logger) (*onlinetsm.Model, string, error) {
	model, name, err := loadModel(m.weights, m.labels, m.size, m.threads, log)
	if err != nil {
		return nil, "", err
	}
	log.Info("model", "weights", name, "classes", model.Classes(), "size", model.InputSize(), "threads", model.Threads())
	return model, name, nil
}

// streamOptions returns the pipeline options the flags set.
func (m *modelFlags) streamOptions() stream.Options {
	return stream.Options{FPS: m.fps, NoSmooth: m.noSmooth}
}

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
