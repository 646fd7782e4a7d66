//go:build !linux

package bench

// processCPU returns 0: the CPU time is measured on Linux only.
func processCPU() int64 { return 0 }
