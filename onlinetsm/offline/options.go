package offline

// Option changes how Load builds a Model.
type Option func(*config)

type config struct {
	labels  []string
	threads int
}

// WithLabels names the classes, in index order. Their number must equal the
// model's class count.
func WithLabels(labels []string) Option {
	return func(c *config) { c.labels = append([]string(nil), labels...) }
}

// WithThreads sets how many goroutines share the work of one clip
// (default: GOMAXPROCS).
func WithThreads(n int) Option { return func(c *config) { c.threads = n } }
