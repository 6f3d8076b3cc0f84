// Package kern holds the numeric kernels of the online TSM engine: 1×1
// convolutions as GEMM with weights packed once, depthwise and dense 3×3
// convolutions, global average pooling and the final linear layer, plus the
// persistent worker pool that runs them across cores.
//
// All activations are planar CHW float32 slices for one frame. Kernels never
// allocate once their Scratch has grown to the largest layer.
package kern

// Act is the activation fused into a kernel's epilogue.
type Act int

const (
	// ActNone leaves the result linear.
	ActNone Act = iota
	// ActReLU6 clamps the result to [0, 6].
	ActReLU6
)

func activate(v float32, act Act) float32 {
	if act == ActReLU6 {
		if v < 0 {
			return 0
		}
		if v > 6 {
			return 6
		}
	}
	return v
}
