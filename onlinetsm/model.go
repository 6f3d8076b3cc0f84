package onlinetsm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/livetsm/livetsm/cache"
	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt"
	"github.com/livetsm/livetsm/onlinetsm/internal/kern"
)

// setting is MobileNetV2's (expansion t, channels c, repeats n, stride s).
var setting = [7][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
	{6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}

// numBlocks is the number of inverted-residual blocks in MobileNetV2.
const numBlocks = 17

// shiftBlocks are the blocks (0-based over the 17) that shift online in the
// published model.
var shiftBlocks = []int{2, 4, 5, 7, 8, 9, 11, 12, 14, 15}

// Model is a loaded online TSM network. It is safe for concurrent use by
// many Streams.
type Model struct {
	size    int
	labels  []string
	classes int
	width   float64
	format  string
	meta    map[string]string

	pool   *kern.Pool
	stem   conv
	blocks []block
	head   conv
	fcW    []float32
	fcB    []float32
	lastC  int
	lastHW int
	shapes []cache.Shape

	maxAct, maxHid, maxDW int
	mean, std             [3]float32
}

// conv is a 1×1 or dense 3×3 convolution with its batch norm folded in.
type conv struct {
	w    *kern.Mat
	bias []float32
}

// block is one inverted residual, with the shapes it sees at the model's
// input size.
type block struct {
	in, hid, out int
	stride       int
	h, w, oh, ow int
	expand       *conv // nil when the expansion ratio is 1
	dwW, dwB     []float32
	proj         conv
	res          bool
	slot         int // shift cache slot, -1 when the block does not shift
	shiftC       int
}

// Load reads a checkpoint and builds a Model. The format is detected from the
// content (PyTorch zip, PyTorch legacy, safetensors).
func Load(path string, opts ...Option) (*Model, error) {
	return ckpt.LoadFile("onlinetsm", path, func(ck *ckpt.Checkpoint) (*Model, error) { return build(ck, opts) })
}

// LoadBytes is Load for a checkpoint already in memory.
func LoadBytes(data []byte, opts ...Option) (*Model, error) {
	return ckpt.LoadBytes("onlinetsm", data, func(ck *ckpt.Checkpoint) (*Model, error) { return build(ck, opts) })
}

// conv1x1 reads a 1×1 convolution and its batch norm.
func conv1x1(p *ckpt.Params, wKey, bnPrefix string, out, in int) (conv, error) {
	w, b, err := p.ConvBN(wKey, bnPrefix, out, in, 1, 1)
	if err != nil {
		return conv{}, err
	}
	return conv{w: kern.NewMat(w, out, in), bias: b}, nil
}

func build(ck *ckpt.Checkpoint, opts []Option) (*Model, error) {
	cfg := config{}
	for _, o := range opts {
		o(&cfg)
	}
	if err := metaDefaults(ck.Meta, &cfg); err != nil {
		return nil, err
	}
	if cfg.size == 0 {
		cfg.size = DefaultInputSize
	}
	if cfg.shift == nil {
		cfg.shift = shiftBlocks
	}
	if cfg.size < 32 || cfg.size > 4096 {
		return nil, fmt.Errorf("input size %d out of range [32, 4096]", cfg.size)
	}
	p := ckpt.NewParams(ck.Tensors)
	m := &Model{size: cfg.size, format: ck.Format, meta: ck.Meta, mean: ImageNetMean, std: ImageNetStd}
	if cfg.mean != nil {
		m.mean, m.std = [3]float32(cfg.mean), [3]float32(cfg.std)
	}

	// Stem: 3×3 stride-2 convolution to 32 channels.
	ws, err := p.Shape("features.0.0.weight", 4)
	if err != nil {
		return nil, err
	}
	stemC := ws[0]
	w, b, err := p.ConvBN("features.0.0.weight", "features.0.1", stemC, 3, 3, 3)
	if err != nil {
		return nil, err
	}
	m.stem = conv{w: kern.NewMat(w, stemC, 27), bias: b}
	h := kern.OutSize(cfg.size, 2)
	m.maxAct = stemC * h * h

	in := stemC
	idx := 0
	for _, s := range setting {
		t, n, stride := s[0], s[2], s[3]
		for i := 0; i < n; i++ {
			st := 1
			if i == 0 {
				st = stride
			}
			blk, err := readBlock(p, idx, t, in, st, h)
			if err != nil {
				return nil, err
			}
			if slices.Contains(cfg.shift, idx) {
				if !blk.res {
					return nil, fmt.Errorf("block %d shifts but has no shortcut (%d→%d channels)", idx, blk.in, blk.out)
				}
				blk.slot = len(m.shapes)
				blk.shiftC = blk.in / 8
				m.shapes = append(m.shapes, cache.Shape{C: blk.shiftC, H: h, W: h})
			}
			m.maxHid = max(m.maxHid, blk.hid*h*h)
			m.maxDW = max(m.maxDW, blk.hid*blk.oh*blk.ow)
			m.maxAct = max(m.maxAct, blk.out*blk.oh*blk.ow)
			m.blocks = append(m.blocks, blk)
			in, h = blk.out, blk.oh
			idx++
		}
	}
	if p.Has(fmt.Sprintf("features.%d.conv.0.weight", numBlocks+1)) {
		return nil, fmt.Errorf("unexpected key %q: more than %d inverted-residual blocks", fmt.Sprintf("features.%d.conv.0.weight", numBlocks+1), numBlocks)
	}
	hs, err := p.Shape(fmt.Sprintf("features.%d.0.weight", numBlocks+1), 4)
	if err != nil {
		return nil, err
	}
	m.lastC = hs[0]
	if m.head, err = conv1x1(p, fmt.Sprintf("features.%d.0.weight", numBlocks+1), fmt.Sprintf("features.%d.1", numBlocks+1), m.lastC, in); err != nil {
		return nil, err
	}
	m.lastHW = h * h
	m.maxHid = max(m.maxHid, m.lastC*m.lastHW)

	fc, err := p.Classifier("classifier", m.lastC, cfg.labels)
	if err != nil {
		return nil, err
	}
	m.fcW, m.fcB, m.classes, m.labels = fc.W, fc.B, fc.Classes, fc.Labels
	m.width = float64(m.blocks[numBlocks-1].out) / float64(setting[6][1])
	m.pool = kern.NewPool(cfg.threads)
	return m, nil
}

// readBlock reads inverted-residual block idx (features.idx+1).
func readBlock(p *ckpt.Params, idx, t, in, stride, h int) (block, error) {
	pre := fmt.Sprintf("features.%d.conv.", idx+1)
	b := block{in: in, stride: stride, h: h, w: h, oh: kern.OutSize(h, stride), ow: kern.OutSize(h, stride), slot: -1}
	var err error
	if t == 1 {
		b.hid = in
		if b.dwW, b.dwB, err = p.ConvBN(pre+"0.weight", pre+"1", in, 1, 3, 3); err != nil {
			return b, err
		}
		s, err := p.Shape(pre+"3.weight", 4)
		if err != nil {
			return b, err
		}
		b.out = s[0]
		if b.proj, err = conv1x1(p, pre+"3.weight", pre+"4", b.out, in); err != nil {
			return b, err
		}
	} else {
		s, err := p.Shape(pre+"0.weight", 4)
		if err != nil {
			return b, err
		}
		b.hid = s[0]
		e, err := conv1x1(p, pre+"0.weight", pre+"1", b.hid, in)
		if err != nil {
			return b, err
		}
		b.expand = &e
		if b.dwW, b.dwB, err = p.ConvBN(pre+"3.weight", pre+"4", b.hid, 1, 3, 3); err != nil {
			return b, err
		}
		if s, err = p.Shape(pre+"6.weight", 4); err != nil {
			return b, err
		}
		b.out = s[0]
		if b.proj, err = conv1x1(p, pre+"6.weight", pre+"7", b.out, b.hid); err != nil {
			return b, err
		}
	}
	b.res = stride == 1 && b.in == b.out
	return b, nil
}

// metaDefaults applies a checkpoint's metadata (safetensors files written by
// livetsm's tools carry the input size, labels, shifted blocks and the
// preprocessing statistics) where no option was given.
func metaDefaults(meta map[string]string, cfg *config) error {
	if v, ok := meta["input_size"]; ok && cfg.size == 0 {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("metadata input_size %q: %w", v, err)
		}
		cfg.size = n
	}
	if v, ok := meta["labels"]; ok && cfg.labels == nil {
		if err := json.Unmarshal([]byte(v), &cfg.labels); err != nil {
			return fmt.Errorf("metadata labels: %w", err)
		}
	}
	if v, ok := meta["shift_blocks"]; ok {
		cfg.shift = []int{}
		if err := json.Unmarshal([]byte(v), &cfg.shift); err != nil {
			return fmt.Errorf("metadata shift_blocks: %w", err)
		}
		for _, b := range cfg.shift {
			if b < 0 || b >= numBlocks {
				return fmt.Errorf("metadata shift_blocks: block %d out of range [0, %d)", b, numBlocks)
			}
		}
	}
	for _, st := range []struct {
		key string
		dst *[]float32
	}{{"mean", &cfg.mean}, {"std", &cfg.std}} {
		if v, ok := meta[st.key]; ok {
			if err := json.Unmarshal([]byte(v), st.dst); err != nil {
				return fmt.Errorf("metadata %s: %w", st.key, err)
			}
			if len(*st.dst) != 3 {
				return fmt.Errorf("metadata %s: %d values, want 3", st.key, len(*st.dst))
			}
		}
	}
	if (cfg.mean == nil) != (cfg.std == nil) {
		return fmt.Errorf("metadata has only one of mean and std")
	}
	for i, v := range cfg.std {
		if !(v > 0) {
			return fmt.Errorf("metadata std[%d] = %v, want > 0", i, v)
		}
	}
	return nil
}

// ShiftBlocks returns the inverted-residual blocks (0-based over the 17)
// that shift online.
func (m *Model) ShiftBlocks() []int {
	var out []int
	for i, b := range m.blocks {
		if b.slot >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// InputSize is the side of the square frames Step takes.
func (m *Model) InputSize() int { return m.size }

// Classes is the number of classes the model scores.
func (m *Model) Classes() int { return m.classes }

// Labels returns the class names in index order ("class N" when none were
// given).
func (m *Model) Labels() []string { return slices.Clone(m.labels) }

// Width is the MobileNetV2 width multiplier, inferred from the shapes.
func (m *Model) Width() float64 { return m.width }

// Format names the checkpoint format the model was read from:
// "pytorch-zip", "pytorch-legacy" or "safetensors".
func (m *Model) Format() string { return m.format }

// Metadata returns the string metadata stored with the weights (safetensors
// only; empty otherwise).
func (m *Model) Metadata() map[string]string {
	out := make(map[string]string, len(m.meta))
	for k, v := range m.meta {
		out[k] = v
	}
	return out
}

// CacheShapes returns the shape of each shifted block's cache slot at the
// model's input size, in block order.
func (m *Model) CacheShapes() []cache.Shape { return slices.Clone(m.shapes) }

// Threads is the number of goroutines that share one frame's work.
func (m *Model) Threads() int { return m.pool.Threads() }

// Close stops the model's worker goroutines. Streams of a closed model must
// not be stepped.
func (m *Model) Close() { m.pool.Close() }
