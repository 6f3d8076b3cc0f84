package offline

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"gorgonia.org/tensor"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt"
	"github.com/livetsm/livetsm/onlinetsm/internal/kern"
)

// Architectures, as reported by (*Model).Arch.
const (
	ArchResNetTSM      = "resnet-tsm"
	ArchMobileNetV2TSM = "mobilenetv2-tsm"
)

// resNetDepths maps the number of bottlenecks per stage to the depth.
var resNetDepths = map[[4]int]int{{3, 4, 6, 3}: 50, {3, 4, 23, 3}: 101, {3, 8, 36, 3}: 152}

// Model is an offline (clip-at-a-time) TSM recogniser loaded from an
// mmaction2 checkpoint. It is safe for concurrent use.
type Model struct {
	arch     string
	depth    int
	width    float64
	classes  int
	featC    int
	labels   []string
	format   string
	shiftDiv int
	pool     *kern.Pool

	stem   offConv
	res    []resBlock // ResNet
	mb     []mbBlock  // MobileNetV2
	head   *offConv   // MobileNetV2's last 1×1 convolution
	fcW    []float32
	fcB    []float32
	shifts []string // names of the shifted blocks

	work sync.Pool // *workspace
}

// offConv is a convolution with its batch norm folded in.
type offConv struct {
	a              *kern.Mat
	bias           []float32
	cout, cin      int
	k, stride, pad int
}

// geom returns the convolution's geometry over t frames of h×w.
func (c *offConv) geom(t, h, w int) kern.ConvGeom {
	return kern.ConvGeom{Cin: c.cin, T: t, H: h, W: w, KH: c.k, KW: c.k, Stride: c.stride, Pad: c.pad}
}

// resBlock is one bottleneck: 1×1 (shifted input), 3×3 (stride), 1×1 ×4,
// with a 1×1 strided convolution on the shortcut where the shape changes.
type resBlock struct {
	conv1, conv2, conv3 offConv
	down                *offConv
	shift               bool
}

// mbBlock is one inverted residual of MobileNetV2TSM.
type mbBlock struct {
	expand   *offConv // nil for expansion 1
	dwW, dwB []float32
	hid      int
	stride   int
	proj     offConv
	in, out  int
	res      bool
	shift    bool
}

// Load reads an mmaction2 TSM checkpoint (a torch.save file holding
// "state_dict", with keys such as backbone.layer1.0.conv1.conv.net.weight
// and cls_head.fc_cls.weight) and builds the recogniser. The architecture
// (ResNet-TSM of depth 50, 101 or 152, or MobileNetV2-TSM), the widths, the
// shifted blocks and the class count are read from the keys and shapes.
// Options: WithLabels, WithThreads.
func Load(path string, opts ...Option) (*Model, error) {
	return ckpt.LoadFile("offline", path, func(ck *ckpt.Checkpoint) (*Model, error) { return build(ck, opts) })
}

// LoadBytes is Load for a checkpoint already in memory.
func LoadBytes(data []byte, opts ...Option) (*Model, error) {
	return ckpt.LoadBytes("offline", data, func(ck *ckpt.Checkpoint) (*Model, error) { return build(ck, opts) })
}

func build(ck *ckpt.Checkpoint, opts []Option) (*Model, error) {
	cfg := config{}
	for _, o := range opts {
		o(&cfg)
	}
	p := ckpt.NewParams(ck.Tensors)
	// mmengine's data preprocessor may store its mean and std; the
	// preprocessing is configured separately.
	p.Skip("data_preprocessor.")
	m := &Model{format: ck.Format, shiftDiv: 8}
	ws, err := p.Shape("backbone.conv1.conv.weight", 4)
	if err != nil {
		if !p.Has("backbone.conv1.conv.weight") && !p.HasPrefix("backbone.") {
			return nil, fmt.Errorf("not an mmaction2 recogniser checkpoint: no \"backbone.\" keys (an online MobileNetV2 checkpoint is loaded with Load)")
		}
		return nil, err
	}
	switch {
	case ws[2] == 7 && ws[3] == 7:
		m.arch = ArchResNetTSM
		err = m.readResNet(p)
	case ws[2] == 3 && ws[3] == 3:
		m.arch = ArchMobileNetV2TSM
		err = m.readMobileNetV2(p)
	default:
		err = fmt.Errorf("key %q has shape %v: neither ResNet's 7×7 nor MobileNetV2's 3×3 stem", "backbone.conv1.conv.weight", ws)
	}
	if err != nil {
		return nil, err
	}
	fc, err := p.Classifier("cls_head.fc_cls", m.featC, cfg.labels)
	if err != nil {
		return nil, err
	}
	m.fcW, m.fcB, m.classes, m.labels = fc.W, fc.B, fc.Classes, fc.Labels
	m.pool = kern.NewPool(cfg.threads)
	return m, nil
}

// convModule reads an mmcv ConvModule at prefix (prefix.conv.weight,
// prefix.bn.*) of a dense k×k convolution (padding k/2), reading the output channel count from the weight's shape.
func convModule(p *ckpt.Params, prefix string, cin, k, stride int) (offConv, error) {
	s, err := p.Shape(prefix+".conv.weight", 4)
	if err != nil {
		return offConv{}, err
	}
	cout := s[0]
	w, b, err := p.ConvBN(prefix+".conv.weight", prefix+".bn", cout, cin, k, k)
	if err != nil {
		return offConv{}, err
	}
	return offConv{a: kern.NewMat(w, cout, cin*k*k), bias: b, cout: cout, cin: cin, k: k, stride: stride, pad: k / 2}, nil
}

// resConv1 reads a bottleneck's first ConvModule, whose convolution
// TemporalShift wraps when the block shifts: key base+".conv.net.weight"
// when shifted, base+".conv.weight" otherwise. It reports which.
func resConv1(p *ckpt.Params, base string, cin int) (offConv, bool, error) {
	if !p.Has(base + ".conv.net.weight") {
		c, err := convModule(p, base, cin, 1, 1)
		return c, false, err
	}
	s, err := p.Shape(base+".conv.net.weight", 4)
	if err != nil {
		return offConv{}, false, err
	}
	cout := s[0]
	w, b, err := p.ConvBN(base+".conv.net.weight", base+".bn", cout, cin, 1, 1)
	if err != nil {
		return offConv{}, false, err
	}
	return offConv{a: kern.NewMat(w, cout, cin), bias: b, cout: cout, cin: cin, k: 1, stride: 1}, true, nil
}

func (m *Model) readResNet(p *ckpt.Params) error {
	var err error
	if m.stem, err = convModule(p, "backbone.conv1", 3, 7, 2); err != nil {
		return err
	}
	m.stem.pad = 3
	var counts [4]int
	for s := range counts {
		for p.Has(fmt.Sprintf("backbone.layer%d.%d.conv3.conv.weight", s+1, counts[s])) {
			counts[s]++
		}
	}
	depth, ok := resNetDepths[counts]
	if !ok {
		return fmt.Errorf("ResNet with %v bottlenecks per stage: not ResNet-50, -101 or -152", counts)
	}
	if p.Has("backbone.layer5.0.conv1.conv.weight") || p.Has("backbone.layer5.0.conv1.conv.net.weight") {
		return fmt.Errorf("unexpected key prefix \"backbone.layer5\": a ResNet has 4 stages")
	}
	m.depth = depth
	cin := m.stem.cout
	for s, n := range counts {
		for i := 0; i < n; i++ {
			pre := fmt.Sprintf("backbone.layer%d.%d", s+1, i)
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			var b resBlock
			if b.conv1, b.shift, err = resConv1(p, pre+".conv1", cin); err != nil {
				return err
			}
			planes := b.conv1.cout
			if b.conv2, err = convModule(p, pre+".conv2", planes, 3, stride); err != nil {
				return err
			}
			if b.conv2.cout != planes {
				return fmt.Errorf("%s.conv2 has %d output channels, want %d", pre, b.conv2.cout, planes)
			}
			if b.conv3, err = convModule(p, pre+".conv3", planes, 1, 1); err != nil {
				return err
			}
			out := b.conv3.cout
			if p.Has(pre + ".downsample.conv.weight") {
				d, err := convModule(p, pre+".downsample", cin, 1, stride)
				if err != nil {
					return err
				}
				if d.cout != out {
					return fmt.Errorf("%s.downsample has %d output channels, want %d", pre, d.cout, out)
				}
				d.pad = 0
				b.down = &d
			} else if stride != 1 || cin != out {
				return fmt.Errorf("missing key %q: block %s changes the shape (%d→%d channels, stride %d)", pre+".downsample.conv.weight", pre, cin, out, stride)
			}
			if b.shift {
				m.shifts = append(m.shifts, strings.TrimPrefix(pre, "backbone."))
			}
			m.res = append(m.res, b)
			cin = out
		}
	}
	m.featC = cin
	m.width = float64(m.stem.cout) / 64
	return nil
}

// mbSettings is MobileNetV2's (expansion, channels, repeats, stride).
var mbSettings = [7][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
	{6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}

func (m *Model) readMobileNetV2(p *ckpt.Params) error {
	var err error
	if m.stem, err = convModule(p, "backbone.conv1", 3, 3, 2); err != nil {
		return err
	}
	cin := m.stem.cout
	for l, st := range mbSettings {
		n := st[2]
		if p.Has(fmt.Sprintf("backbone.layer%d.%d.conv.0.conv.weight", l+1, n)) ||
			p.Has(fmt.Sprintf("backbone.layer%d.%d.conv.0.net.conv.weight", l+1, n)) {
			return fmt.Errorf("unexpected key prefix \"backbone.layer%d.%d\": MobileNetV2's layer%d has %d blocks", l+1, n, l+1, n)
		}
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 {
				stride = st[3]
			}
			b, err := readMBBlock(p, fmt.Sprintf("backbone.layer%d.%d.conv", l+1, i), cin, stride)
			if err != nil {
				return err
			}
			if b.shift {
				m.shifts = append(m.shifts, fmt.Sprintf("layer%d.%d", l+1, i))
			}
			m.mb = append(m.mb, b)
			cin = b.out
		}
	}
	h, err := convModule(p, "backbone.conv2", cin, 1, 1)
	if err != nil {
		return err
	}
	m.head = &h
	m.featC = h.cout
	m.width = float64(m.mb[len(m.mb)-1].out) / 320
	return nil
}

// mbBlock reads one inverted residual at pre (backbone.layerL.B.conv): with
// an expansion, pre.0 is the 1×1 expansion (pre.0.net when shifted), pre.1
// the depthwise 3×3, pre.2 the projection; without, pre.0 and pre.1.
func readMBBlock(p *ckpt.Params, pre string, cin, stride int) (mbBlock, error) {
	b := mbBlock{in: cin, stride: stride}
	dw := pre + ".0"
	proj := pre + ".1"
	if p.Has(pre+".2.conv.weight") || p.Has(pre+".0.net.conv.weight") {
		e := pre + ".0"
		if p.Has(pre + ".0.net.conv.weight") {
			e, b.shift = pre+".0.net", true
		}
		c, err := convModule(p, e, cin, 1, 1)
		if err != nil {
			return b, err
		}
		b.expand = &c
		b.hid = c.cout
		dw, proj = pre+".1", pre+".2"
	} else {
		b.hid = cin
	}
	var err error
	if b.dwW, b.dwB, err = p.ConvBN(dw+".conv.weight", dw+".bn", b.hid, 1, 3, 3); err != nil {
		return b, err
	}
	if b.proj, err = convModule(p, proj, b.hid, 1, 1); err != nil {
		return b, err
	}
	b.out = b.proj.cout
	b.res = stride == 1 && cin == b.out
	if b.shift && !b.res {
		return b, fmt.Errorf("%s shifts but has no shortcut (%d→%d channels, stride %d)", pre, cin, b.out, stride)
	}
	return b, nil
}

// Arch names the architecture: ArchResNetTSM or ArchMobileNetV2TSM.
func (m *Model) Arch() string { return m.arch }

// Depth is the ResNet depth (50, 101 or 152); 0 for MobileNetV2.
func (m *Model) Depth() int { return m.depth }

// Width is the width relative to the published network: the stem's
// channels over 64 for ResNet, the last block's over 320 for MobileNetV2.
func (m *Model) Width() float64 { return m.width }

// Classes is the number of classes the model scores.
func (m *Model) Classes() int { return m.classes }

// Labels returns the class names in index order ("class N" when none were
// given).
func (m *Model) Labels() []string { return slices.Clone(m.labels) }

// Format names the checkpoint format the model was read from.
func (m *Model) Format() string { return m.format }

// ShiftedBlocks names the blocks whose residual branch shifts, as in the
// checkpoint's keys ("layer1.0", …).
func (m *Model) ShiftedBlocks() []string { return slices.Clone(m.shifts) }

// Threads is the number of goroutines that share one clip's work.
func (m *Model) Threads() int { return m.pool.Threads() }

// Close stops the model's worker goroutines; the model must not be used
// afterwards.
func (m *Model) Close() { m.pool.Close() }

// String describes the model, e.g. "ResNet-50 TSM, 400 classes".
func (m *Model) String() string {
	if m.arch == ArchResNetTSM {
		w := ""
		if m.width != 1 {
			w = fmt.Sprintf(" (width %g)", m.width)
		}
		return fmt.Sprintf("ResNet-%d TSM%s, %d classes", m.depth, w, m.classes)
	}
	return fmt.Sprintf("MobileNetV2 TSM (width %g), %d classes", m.width, m.classes)
}

// Logits runs one view of a clip: frames holds its segments in temporal
// order, each a normalised float32 tensor of shape (3, H, W) or (1, 3, H, W),
// all of one size (H and W at least 32). It returns the consensus logits:
// the mean over the segments of each frame's classifier output (TSMHead with
// AvgConsensus). The temporal shift runs across these frames: the first
// C/8 channels of a block's input come from the next segment, the next C/8
// from the previous one, zeros at the ends.
func (m *Model) Logits(frames []*tensor.Dense) ([]float32, error) {
	data := make([][]float32, len(frames))
	h, w := 0, 0
	for i, f := range frames {
		if f == nil {
			return nil, fmt.Errorf("offline: logits: frame %d is nil", i)
		}
		if f.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("offline: logits: frame %d has dtype %v, want float32", i, f.Dtype())
		}
		if f.IsView() {
			return nil, fmt.Errorf("offline: logits: frame %d is a view; pass a materialized tensor", i)
		}
		s := f.Shape()
		ok := (len(s) == 3 && s[0] == 3) || (len(s) == 4 && s[0] == 1 && s[1] == 3)
		if !ok {
			return nil, fmt.Errorf("offline: logits: frame %d has shape %v, want (3, H, W)", i, s)
		}
		fh, fw := s[len(s)-2], s[len(s)-1]
		if i == 0 {
			h, w = fh, fw
		} else if fh != h || fw != w {
			return nil, fmt.Errorf("offline: logits: frame %d is %d×%d, frame 0 is %d×%d", i, fh, fw, h, w)
		}
		data[i] = f.Float32s()
	}
	return m.LogitsData(data, h, w)
}

// LogitsData is Logits for frames given as raw CHW values (3·h·w float32
// each).
func (m *Model) LogitsData(frames [][]float32, h, w int) ([]float32, error) {
	out := make([]float32, m.classes)
	if err := m.logitsInto(out, frames, h, w); err != nil {
		return nil, err
	}
	return out, nil
}

// maxSegments bounds the frames of one view.
const maxSegments = 256

func (m *Model) logitsInto(out []float32, frames [][]float32, h, w int) error {
	t := len(frames)
	if t == 0 {
		return fmt.Errorf("offline: logits: no frames")
	}
	if t > maxSegments {
		return fmt.Errorf("offline: logits: %d frames in one view, at most %d", t, maxSegments)
	}
	if h < 32 || w < 32 || h > 4096 || w > 4096 {
		return fmt.Errorf("offline: logits: frames are %d×%d, want sides in [32, 4096]", h, w)
	}
	n := 3 * h * w
	for i, f := range frames {
		if len(f) != n {
			return fmt.Errorf("offline: logits: frame %d has %d values, want 3×%d×%d = %d", i, len(f), h, w, n)
		}
		for j, v := range f {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("offline: logits: frame %d value %d (channel %d, y %d, x %d) is %v", i, j, j/(h*w), j/w%h, j%w, v)
			}
		}
	}
	wk, _ := m.work.Get().(*workspace)
	if wk == nil {
		wk = &workspace{}
	}
	defer m.work.Put(wk)
	wk.prepare(m, t, h, w)
	// Frames (T × 3 × HW) → 3 × T × HW.
	hw := h * w
	for ti, f := range frames {
		for c := 0; c < 3; c++ {
			copy(wk.in[(c*t+ti)*hw:(c*t+ti+1)*hw], f[c*hw:(c+1)*hw])
		}
	}
	var x []float32
	var fh, fw int
	if m.arch == ArchResNetTSM {
		x, fh, fw = m.forwardResNet(wk, t, h, w)
	} else {
		x, fh, fw = m.forwardMobileNetV2(wk, t, h, w)
	}
	m.head2logits(wk, x, t, fh*fw, out)
	return nil
}

// head2logits is TSMHead: average pool each (channel, frame) plane, the fc
// layer per frame, then the mean over the frames.
func (m *Model) head2logits(wk *workspace, x []float32, t, hw int, out []float32) {
	kern.AvgPool(x, m.featC*t, hw, wk.pooled)
	clear(wk.sum)
	for ti := 0; ti < t; ti++ {
		for c := 0; c < m.featC; c++ {
			wk.feat[c] = wk.pooled[c*t+ti]
		}
		kern.Linear(m.fcW, m.fcB, wk.feat, m.classes, m.featC, wk.logits)
		for i, v := range wk.logits {
			wk.sum[i] += float64(v)
		}
	}
	for i := range out[:m.classes] {
		out[i] = float32(wk.sum[i] / float64(t))
	}
}

// shiftInto writes the shifted first 2·fold channels of x (C×T×HW) into dst
// (2·fold × T × HW): channels [0, fold) from the next frame, [fold, 2·fold)
// from the previous one, zeros at the clip's ends.
func shiftInto(dst, x []float32, fold, t, hw int) {
	for c := 0; c < 2*fold; c++ {
		src := x[c*t*hw : (c+1)*t*hw]
		d := dst[c*t*hw : (c+1)*t*hw]
		if c < fold {
			copy(d, src[hw:])
			clear(d[(t-1)*hw:])
		} else {
			copy(d[hw:], src[:(t-1)*hw])
			clear(d[:hw])
		}
	}
}

// forwardResNet runs the backbone; it returns the last activation
// (featC × T × fh·fw) and its spatial size.
func (m *Model) forwardResNet(wk *workspace, t, h, w int) ([]float32, int, int) {
	pool, cs := m.pool, &wk.cs
	g := m.stem.geom(t, h, w)
	kern.Conv(pool, cs, m.stem.a, wk.in, g, m.stem.bias, nil, kern.ActReLU, wk.t1)
	h, w = g.Out()
	ph, pw := (h+2-3)/2+1, (w+2-3)/2+1
	kern.MaxPool(pool, wk.t1, m.stem.cout*t, h, w, 3, 2, 1, wk.x)
	h, w = ph, pw
	x, y := wk.x, wk.y
	for i := range m.res {
		b := &m.res[i]
		n := t * h * w
		cin := b.conv1.cin
		if fold := cin / m.shiftDiv; b.shift && fold > 0 {
			shiftInto(wk.shift, x, fold, t, h*w)
			kern.Conv1x1(pool, &cs.Scratch, b.conv1.a, wk.shift, 2*fold, x[2*fold*n:], n, b.conv1.bias, nil, kern.ActReLU, wk.t1)
		} else {
			kern.Conv(pool, cs, b.conv1.a, x, b.conv1.geom(t, h, w), b.conv1.bias, nil, kern.ActReLU, wk.t1)
		}
		g2 := b.conv2.geom(t, h, w)
		kern.Conv(pool, cs, b.conv2.a, wk.t1, g2, b.conv2.bias, nil, kern.ActReLU, wk.t2)
		oh, ow := g2.Out()
		g3 := b.conv3.geom(t, oh, ow)
		if b.down != nil {
			kern.Conv(pool, cs, b.down.a, x, b.down.geom(t, h, w), b.down.bias, nil, kern.ActNone, y)
			kern.Conv(pool, cs, b.conv3.a, wk.t2, g3, b.conv3.bias, y, kern.ActReLU, y)
			x, y = y, x
		} else {
			kern.Conv(pool, cs, b.conv3.a, wk.t2, g3, b.conv3.bias, x, kern.ActReLU, x)
		}
		h, w = oh, ow
	}
	return x, h, w
}

// forwardMobileNetV2 runs the backbone up to and including conv2.
func (m *Model) forwardMobileNetV2(wk *workspace, t, h, w int) ([]float32, int, int) {
	pool, cs := m.pool, &wk.cs
	g := m.stem.geom(t, h, w)
	kern.Conv(pool, cs, m.stem.a, wk.in, g, m.stem.bias, nil, kern.ActReLU6, wk.x)
	h, w = g.Out()
	x, y := wk.x, wk.y
	for i := range m.mb {
		b := &m.mb[i]
		n := t * h * w
		hid := x
		if b.expand != nil {
			if fold := b.in / m.shiftDiv; b.shift && fold > 0 {
				shiftInto(wk.shift, x, fold, t, h*w)
				kern.Conv1x1(pool, &cs.Scratch, b.expand.a, wk.shift, 2*fold, x[2*fold*n:], n, b.expand.bias, nil, kern.ActReLU6, wk.t1)
			} else {
				kern.Conv(pool, cs, b.expand.a, x, b.expand.geom(t, h, w), b.expand.bias, nil, kern.ActReLU6, wk.t1)
			}
			hid = wk.t1
		}
		kern.Depthwise3x3(pool, hid, b.hid*t, h, w, b.stride, wk.dwW[i], wk.dwB[i], kern.ActReLU6, wk.t2)
		oh, ow := kern.OutSize(h, b.stride), kern.OutSize(w, b.stride)
		g := b.proj.geom(t, oh, ow)
		if b.res {
			kern.Conv(pool, cs, b.proj.a, wk.t2, g, b.proj.bias, x, kern.ActNone, x)
		} else {
			kern.Conv(pool, cs, b.proj.a, wk.t2, g, b.proj.bias, nil, kern.ActNone, y)
			x, y = y, x
		}
		h, w = oh, ow
	}
	kern.Conv(pool, cs, m.head.a, x, m.head.geom(t, h, w), m.head.bias, nil, kern.ActReLU6, y)
	return y, h, w
}

// workspace is one caller's buffers for clips of T frames of H×W.
// Activations are laid out C×T×H×W (the T frames of a channel one after
// another), so that each 1×1 convolution of the clip is a single GEMM over
// T·H·W columns and the temporal shift moves whole planes.
type workspace struct {
	t, h, w              int
	in                   []float32
	x, y, t1, t2, shift  []float32
	dwW, dwB             [][]float32 // MobileNetV2 depthwise weights repeated per frame
	pooled, feat, logits []float32
	sum                  []float64
	cs                   kern.ConvScratch
}

// prepare sizes the buffers for clips of t frames of h×w.
func (wk *workspace) prepare(m *Model, t, h, w int) {
	if wk.t == t && wk.h == h && wk.w == w && wk.in != nil {
		return
	}
	var maxAct, maxT, maxShift int
	act := func(c, hh, ww int) { maxAct = max(maxAct, c*t*hh*ww) }
	tmp := func(c, hh, ww int) { maxT = max(maxT, c*t*hh*ww) }
	g := m.stem.geom(t, h, w)
	sh, sw := g.Out()
	if m.arch == ArchResNetTSM {
		tmp(m.stem.cout, sh, sw)
		sh, sw = (sh+2-3)/2+1, (sw+2-3)/2+1
		act(m.stem.cout, sh, sw)
		for _, b := range m.res {
			if b.shift {
				maxShift = max(maxShift, 2*(b.conv1.cin/m.shiftDiv)*t*sh*sw)
			}
			tmp(b.conv1.cout, sh, sw)
			oh, ow := b.conv2.geom(t, sh, sw).Out()
			tmp(b.conv2.cout, oh, ow)
			act(b.conv3.cout, oh, ow)
			sh, sw = oh, ow
		}
	} else {
		act(m.stem.cout, sh, sw)
		wk.dwW, wk.dwB = make([][]float32, len(m.mb)), make([][]float32, len(m.mb))
		for i, b := range m.mb {
			if b.shift {
				maxShift = max(maxShift, 2*(b.in/m.shiftDiv)*t*sh*sw)
			}
			tmp(b.hid, sh, sw)
			oh, ow := kern.OutSize(sh, b.stride), kern.OutSize(sw, b.stride)
			act(b.out, oh, ow)
			sh, sw = oh, ow
			wk.dwW[i] = make([]float32, b.hid*t*9)
			wk.dwB[i] = make([]float32, b.hid*t)
			for c := 0; c < b.hid; c++ {
				for ti := 0; ti < t; ti++ {
					copy(wk.dwW[i][(c*t+ti)*9:(c*t+ti+1)*9], b.dwW[c*9:(c+1)*9])
					wk.dwB[i][c*t+ti] = b.dwB[c]
				}
			}
		}
		act(m.head.cout, sh, sw)
	}
	maxAct = max(maxAct, maxT)
	wk.t, wk.h, wk.w = t, h, w
	wk.in = make([]float32, 3*t*h*w)
	wk.x = make([]float32, maxAct)
	wk.y = make([]float32, maxAct)
	wk.t1 = make([]float32, maxT)
	wk.t2 = make([]float32, maxT)
	wk.shift = make([]float32, maxShift)
	wk.pooled = make([]float32, m.featC*t)
	wk.feat = make([]float32, m.featC)
	wk.logits = make([]float32, m.classes)
	wk.sum = make([]float64, m.classes)
}

// Classify runs each view (a clip's frames, as for Logits) and returns the
// class probabilities averaged over the views: the softmax of each view's
// consensus logits, then the mean (mmaction2's average_clips='prob').
func (m *Model) Classify(views ...[]*tensor.Dense) ([]float32, error) {
	if len(views) == 0 {
		return nil, fmt.Errorf("offline: classify: no views")
	}
	acc := make([]float64, m.classes)
	for i, v := range views {
		logits, err := m.Logits(v)
		if err != nil {
			return nil, fmt.Errorf("view %d: %w", i, err)
		}
		addSoftmax(acc, logits)
	}
	return meanProbs(acc, len(views)), nil
}

// ClassifyData is Classify for views given as raw CHW frames of h×w.
func (m *Model) ClassifyData(views [][][]float32, h, w int) ([]float32, error) {
	if len(views) == 0 {
		return nil, fmt.Errorf("offline: classify: no views")
	}
	acc := make([]float64, m.classes)
	logits := make([]float32, m.classes)
	for i, v := range views {
		if err := m.logitsInto(logits, v, h, w); err != nil {
			return nil, fmt.Errorf("view %d: %w", i, err)
		}
		addSoftmax(acc, logits)
	}
	return meanProbs(acc, len(views)), nil
}

func addSoftmax(acc []float64, logits []float32) {
	p := onlinetsm.Softmax(nil, logits)
	for i, v := range p {
		acc[i] += float64(v)
	}
}

func meanProbs(acc []float64, n int) []float32 {
	out := make([]float32, len(acc))
	for i, v := range acc {
		out[i] = float32(v / float64(n))
	}
	return out
}

// Top returns the k most likely classes for probabilities as returned by
// Classify, with the model's labels.
func (m *Model) Top(probs []float32, k int) []onlinetsm.Prediction {
	idx := onlinetsm.TopK(probs, k)
	out := make([]onlinetsm.Prediction, len(idx))
	for i, j := range idx {
		label := ""
		if j < len(m.labels) {
			label = m.labels[j]
		}
		out[i] = onlinetsm.Prediction{Index: j, Label: label, Score: probs[j]}
	}
	return out
}
