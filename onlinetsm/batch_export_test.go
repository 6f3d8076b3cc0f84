package onlinetsm

// SetBatchPlane lets tests and benchmarks move the split between the
// blocks run stream by stream and those run batched.
func SetBatchPlane(b *Batch, plane int) { b.setPlane(plane) }

// EachKernelPath runs f once per available kernel path, as subtests.
var EachKernelPath = eachKernelPath
