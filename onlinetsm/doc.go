// Package onlinetsm is an online Temporal Shift Module (TSM) video
// recognizer: a MobileNetV2 whose inverted-residual blocks shift 1/8 of their
// input channels one frame forward in time, run one frame at a time with a
// per-stream cache, in pure Go.
//
// Three calls run a model:
//
//	m, err := onlinetsm.Load("mobilenetv2_jester_online.pth.tar")
//	s := m.NewStream()
//	logits, err := s.Step(frame) // frame: normalised 3×H×W float32 *tensor.Dense
//
// Load reads PyTorch checkpoints (the zip format of PyTorch ≥ 1.6 and the
// legacy format of earlier versions, bare state dicts or dicts holding
// "state_dict", with or without a "module." prefix) and safetensors files,
// detecting the format from the content. The width multiplier and the
// number of classes are inferred from the tensor shapes; batch norms are
// folded into the convolutions at load time.
//
// A Model is safe for concurrent use by many Streams. Each Stream owns its
// shift cache (package cache) and workspace, processes each frame exactly once
// and does not allocate in the steady state.
//
// The numeric kernels have more than one implementation, called kernel
// paths: "portable", pure Go, available everywhere; "avx2", AVX2/FMA
// assembly, on amd64 CPUs with AVX2 and FMA (unless built with the purego
// tag); and "avx512", which adds AVX-512 kernels on CPUs with AVX-512F, BW
// and VL. All give the same logits to float32 rounding. Models run on the
// fastest path available unless UseKernels chooses another for the process;
// KernelPath names the one in use.
//
// Package onlinetsm/offline runs the offline TSM recognisers of mmaction2
// (ResNet and MobileNetV2) on whole recorded clips.
package onlinetsm
