package rafttest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// losingDisks pins a scenario in which crashes are frequent and half of
// them make the node's disk lose state as fault says (one node at a
// time), with the given kind of quarantine.
func losingDisks(tailOnly bool, fault func(*Scenario, float64)) func(*Scenario) {
	return func(sc *Scenario) {
		sc.Crash = 0.01
		sc.Restart = 0.2
		fault(sc, 0.5)
		sc.TailOnly = tailOnly
	}
}

// losingTails pins losingDisks with Scenario.LoseTail.
func losingTails(tailOnly bool) func(*Scenario) {
	return losingDisks(tailOnly, func(sc *Scenario, p float64) { sc.LoseTail = p })
}

// diskFaultKinds are the disk faults TestDiskLossSeeds runs, each with
// the counter of the faults it injects.
var diskFaultKinds = []struct {
	name     string
	tailOnly bool
	fault    func(*Scenario, float64)
	count    func(Faults) int
}{
	{"losetail tailonly", true, func(sc *Scenario, p float64) { sc.LoseTail = p }, func(f Faults) int { return f.LostTails }},
	{"losetail", false, func(sc *Scenario, p float64) { sc.LoseTail = p }, func(f Faults) int { return f.LostTails }},
	{"losestate", false, func(sc *Scenario, p float64) { sc.LoseState = p }, func(f Faults) int { return f.LostStates }},
	{"losestate tailonly", true, func(sc *Scenario, p float64) { sc.LoseState = p }, func(f Faults) int { return f.LostStates }},
	{"torn", false, func(sc *Scenario, p float64) { sc.TornHardState = p }, func(f Faults) int { return f.TornHardStates }},
	{"wipe", false, func(sc *Scenario, p float64) { sc.WipeDisk = p }, func(f Faults) int { return f.WipedDisks }},
	{"backup", false, func(sc *Scenario, p float64) { sc.RestoreBackup = p }, func(f Faults) int { return f.RestoredBackups }},
	{"loseacked", false, func(sc *Scenario, p float64) { sc.LoseAcked = p }, func(f Faults) int { return f.LostAcked }},
	{"loseacked tailonly", true, func(sc *Scenario, p float64) { sc.LoseAcked = p }, func(f Faults) int { return f.LostAcked }},
}

// TestDiskLossSeeds runs seeds in which disks lose persisted state, one
// kind of loss at a time (raft.Config.RecoverLostState on): every safety
// check and the linearizability of the history hold, nothing panics,
// every restart succeeds, and every TailLoss quarantine that got its cue
// ends within the bound.
func TestDiskLossSeeds(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 20
	}
	for _, kind := range diskFaultKinds {
		t.Run(kind.name, func(t *testing.T) {
			seeds := make([]int64, n)
			for i := range seeds {
				seeds[i] = int64(i + 1)
			}
			pin := losingDisks(kind.tailOnly, kind.fault)
			results := runSeeds(seeds, func(seed int64) Options {
				return Options{Seed: seed, OutDir: outDir(t), Scenario: pin}
			})
			var total Faults
			async := 0
			for _, res := range results {
				require.NotNil(t, res)
				require.Nil(t, res.Violation, "%v\nscenario: %s", res.Violation, res.Scenario)
				total = total.Add(res.Faults)
				if res.Scenario.AsyncStorageWrites && kind.count(res.Faults) > 0 {
					async++
				}
			}
			t.Logf("%d seeds: %d faults (%d declared), %d seeds with a fault and asynchronous writes; "+
				"%d quarantines left, %d still quarantined at the end, %d runs blocked by a quarantine; "+
				"%d fences due, longest %d ticks from cue to exit, longest stall %d ticks",
				n, kind.count(total), total.Declared, async, total.LeftQuarantine, total.StillQuarantined,
				total.QuarantineBlocked, total.FencesDue, total.FenceTicks, total.FenceStall)
			assert.Greater(t, kind.count(total), n/3, "the fault is exercised in a large share of seeds")
			assert.Positive(t, async, "the fault is exercised with asynchronous storage writes")
		})
	}
}

// TestDiskLossIsOffInDrawnScenarios: no drawn scenario loses disk state,
// so the CI seed set replays the runs it had before the faults existed.
func TestDiskLossIsOffInDrawnScenarios(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		sc := newSim(Options{Seed: seed}).sc
		assert.False(t, sc.diskFaults(), "seed %d: %s", seed, sc.lossString())
		assert.False(t, sc.TailOnly)
	}
}

// TestUndeclaredDiskLossIsCaught runs faults that only the application
// can see with an application that does not declare them: the nodes then
// vote with a log that lacks committed entries, or twice in a term, or
// commit a stale entry, and the checks must see it. This shows both that
// the checks account for the faults without hiding what they break, and
// why the declaration is needed. (An undeclared TornHardState or LoseAcked
// breaks safety too, but seldom: it takes a lost vote that a second
// candidate asks for, or a lost acknowledgement that decided a commit,
// before a leader change.)
func TestUndeclaredDiskLossIsCaught(t *testing.T) {
	for _, name := range []string{"losestate", "losestate tailonly", "wipe", "backup"} {
		t.Run(name, func(t *testing.T) {
			var pin func(*Scenario)
			for _, kind := range diskFaultKinds {
				if kind.name == name {
					pin = losingDisks(kind.tailOnly, kind.fault)
				}
			}
			require.NotNil(t, pin)
			opts := func(seed int64) Options {
				return Options{Seed: seed, Scenario: pin, skipDeclare: true}
			}
			v, seeds := hunt(300, safety, opts)
			require.NotNil(t, v, "no violation in %d seeds: the checks cannot see an undeclared fault", seeds)
			t.Logf("caught at seed %d: %s: %s", v.Seed, v.Invariant, firstLine(v.Detail))
		})
	}
}
