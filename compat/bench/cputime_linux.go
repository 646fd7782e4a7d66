package bench

import (
	"syscall"
	"unsafe"
)

// processCPU returns the CPU time the process used so far, in nanoseconds
// (clock_gettime(CLOCK_PROCESS_CPUTIME_ID)).
func processCPU() int64 {
	const clockProcessCPUTimeID = 2
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return ts.Nano()
}
