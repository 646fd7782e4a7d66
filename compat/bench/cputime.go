package bench

import "testing"

// cpuTimer adds up the CPU time of the whole process, every thread (the
// benchmark's and the garbage collector's), between Start and Stop. On a
// shared machine wall-clock time per op grows with the other processes'
// load; CPU time much less, so the benchmarks of issue 20 report it beside
// ns/op, as cpu-ns/op, and their ratios are taken on it too.
type cpuTimer struct {
	start, total int64
	on           bool
}

// Start starts counting; it is a no-op if the timer runs.
func (t *cpuTimer) Start() {
	if !t.on {
		t.start, t.on = processCPU(), true
	}
}

// Stop stops counting; it is a no-op if the timer is stopped.
func (t *cpuTimer) Stop() {
	if t.on {
		t.total += processCPU() - t.start
		t.on = false
	}
}

// Report stops the timer and reports the CPU time per op as cpu-ns/op,
// where the platform can tell (processCPU returns 0 elsewhere).
func (t *cpuTimer) Report(b *testing.B) {
	t.Stop()
	if t.total > 0 {
		b.ReportMetric(float64(t.total)/float64(b.N), "cpu-ns/op")
	}
}
