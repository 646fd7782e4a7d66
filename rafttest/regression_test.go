package rafttest

import (
	"strconv"
	"testing"
)

// regressions holds every seed that ever failed, with what it found. Each
// must pass now; a new failing seed from a soak goes here, with the
// invariant it broke, once the bug is fixed.
var regressions = []struct {
	seed  int64
	found string
}{
	{14, "simulator: compaction below the snapshot wrapped around (fixed in rafttest)"},
	{47, "liveness: a leader offered a new member a snapshot from before it joined, which raft refuses; " +
		"nodes now snapshot after each conf change, as etcd's server does for each MsgSnap (fixed in rafttest)"},
	{205619, "liveness: a delay fault outlived the fault phase, leaving a round trip longer than the election " +
		"timeout, so every leader stepped down at its first CheckQuorum; heal now restores the drawn delays (fixed in rafttest)"},
}

func TestRegressionSeeds(t *testing.T) {
	for _, rc := range regressions {
		t.Run(strconv.FormatInt(rc.seed, 10), func(t *testing.T) {
			t.Parallel()
			res := Run(Options{Seed: rc.seed, OutDir: outDir(t)})
			if res.Violation != nil {
				t.Errorf("seed %d (%s) fails again:\n%v", rc.seed, rc.found, res.Violation)
			}
		})
	}
}
