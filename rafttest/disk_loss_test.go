package rafttest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// losingTails pins a scenario in which crashes are frequent and half of
// them lose the tail of the node's log (one node at a time), with the
// given kind of quarantine.
func losingTails(tailOnly bool) func(*Scenario) {
	return func(sc *Scenario) {
		sc.Crash = 0.01
		sc.Restart = 0.2
		sc.LoseTail = 0.5
		sc.TailOnly = tailOnly
	}
}

// TestDiskLossSeeds runs seeds in which disks lose the tail of their log
// below the persisted commit index (raft.Config.RecoverLostState on): every
// safety check and the linearizability of the history hold, nothing
// panics, and every restart succeeds.
func TestDiskLossSeeds(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 20
	}
	for _, tailOnly := range []bool{true, false} {
		seeds := make([]int64, n)
		for i := range seeds {
			seeds[i] = int64(i + 1)
		}
		results := runSeeds(seeds, func(seed int64) Options {
			return Options{Seed: seed, OutDir: outDir(t), Scenario: losingTails(tailOnly)}
		})
		lost, still := 0, 0
		for _, res := range results {
			require.NotNil(t, res)
			require.Nil(t, res.Violation, "tailonly=%t: %v\nscenario: %s", tailOnly, res.Violation, res.Scenario)
			lost += res.Faults.LostTails
			still += res.Faults.StillQuarantined
		}
		t.Logf("tailonly=%t: %d seeds, %d lost tails, %d nodes still quarantined at the end, no violation", tailOnly, n, lost, still)
		assert.Greater(t, lost, n/2, "the fault is exercised")
	}
}

// TestDiskLossIsOffInDrawnScenarios: no drawn scenario loses tails, so
// the CI seed set replays the runs it had before the fault existed.
func TestDiskLossIsOffInDrawnScenarios(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		assert.Zero(t, newSim(Options{Seed: seed}).sc.LoseTail)
	}
}
