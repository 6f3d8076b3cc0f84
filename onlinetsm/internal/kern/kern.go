// Package kern holds the numeric kernels of the online TSM engine: 1×1
// convolutions as GEMM with weights packed once, depthwise and dense 3×3
// convolutions, global average pooling and the final linear layer, plus the
// persistent worker pool that runs them across cores.
//
// All activations are planar CHW float32 slices for one frame. Kernels never
// allocate once their Scratch has grown to the largest layer (and the pool's
// workers to theirs).
//
// On amd64 CPUs with AVX2 and FMA the inner loops run in assembly: a 6×16
// register-blocked SGEMM micro-kernel with the bias, residual and ReLU6 fused
// into its epilogue, and a 9-tap depthwise plane kernel reading zero-padded
// (for stride 2, column-deinterleaved) copies of each input plane. On CPUs
// with AVX-512F, BW and VL the GEMM computes four such tiles at once in
// 512-bit registers (6×64 in 24 accumulators), and the depthwise kernels
// work on 16 lanes with masked edges, stride 1 straight from the unpadded
// plane. Elsewhere, with the purego build tag, or after Use(PathPortable),
// portable Go kernels with the same blocking give the same results to
// float32 rounding. Path, Available, Use and Current name and select these
// implementations.
//
// Parallel kernels split a GEMM over column blocks (and row blocks of A when
// there are few columns) and a depthwise convolution over channels; each
// thread takes a contiguous part of the tasks first, so that it computes the
// same region of successive layers and their data stays in its core's
// caches.
package kern

// Act is the activation fused into a kernel's epilogue.
type Act int

const (
	// ActNone leaves the result linear.
	ActNone Act = iota
	// ActReLU6 clamps the result to [0, 6].
	ActReLU6
	// ActReLU clamps the result to [0, +inf): max(0, x). Only the GEMM
	// kernels (Conv1x1, Conv3x3, Conv1x1Batch, Conv) take it; the
	// depthwise kernels take ActNone and ActReLU6.
	ActReLU
)

// apply returns v after the activation; the assembly kernels' epilogues
// index their clamp bounds by the same value.
func (a Act) apply(v float32) float32 {
	switch a {
	case ActReLU6:
		return relu6(v)
	case ActReLU:
		return max(v, 0)
	}
	return v
}
