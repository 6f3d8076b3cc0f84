package onlinetsm

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultInputSize is the side of the square frames a model takes unless
// told otherwise.
const DefaultInputSize = 224

// Option changes how Load builds a Model.
type Option func(*config)

type config struct {
	size    int
	labels  []string
	threads int
	shift   []int     // shifted blocks; nil means the published set
	mean    []float32 // preprocessing statistics from metadata, if any
	std     []float32
}

// WithInputSize sets the side of the square input frames (default 224, or
// the size in a safetensors file's metadata).
func WithInputSize(n int) Option { return func(c *config) { c.size = n } }

// WithLabels names the classes, in index order. Their number must equal the
// model's class count.
func WithLabels(labels []string) Option {
	return func(c *config) { c.labels = append([]string(nil), labels...) }
}

// WithThreads sets how many goroutines share the work of one frame
// (default: GOMAXPROCS).
func WithThreads(n int) Option { return func(c *config) { c.threads = n } }

// ReadLabels reads class names, one per line, from r. Surrounding spaces are
// trimmed; blank lines at the end are ignored, blank lines before a name are
// an error.
func ReadLabels(r io.Reader) ([]string, error) {
	var labels []string
	blank := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			blank++
			continue
		}
		if blank > 0 {
			return nil, fmt.Errorf("labels: blank line before line %d", len(labels)+blank+1)
		}
		labels = append(labels, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("labels: no names")
	}
	return labels, nil
}

// ReadLabelsFile reads a labels file with one class name per line.
func ReadLabelsFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	labels, err := ReadLabels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return labels, nil
}
