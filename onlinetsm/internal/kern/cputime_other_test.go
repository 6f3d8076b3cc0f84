//go:build !linux

package kern

import "time"

func cpuSeconds() float64 { return 0 }

func threadCPU() time.Duration { return 0 }
