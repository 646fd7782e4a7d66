package rafttest

import (
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	flagSeeds = flag.Int("rafttest.seeds", 0, "number of seeds to run in TestSeeds (soak); 0 means the fixed CI set (env RAFTTEST_SEEDS)")
	flagStart = flag.Int64("rafttest.start", 1, "first seed of TestSeeds (env RAFTTEST_START)")
	flagAsync = flag.Bool("rafttest.async", false, "run every seed of TestSeeds with AsyncStorageWrites")
	flagSync  = flag.Bool("rafttest.sync", false, "run every seed of TestSeeds without AsyncStorageWrites")
	flagLag   = flag.Int("rafttest.applylag", 0, "run every seed of TestSeeds with this Scenario.ApplyLag (0: as drawn)")
	flagConf  = flag.Float64("rafttest.confchange", 0, "run every seed of TestSeeds with this Scenario.ConfChange rate (0: as drawn)")
)

// pinScenario returns the Options.Scenario that the flags ask for, or nil.
func pinScenario() func(*Scenario) {
	if !*flagAsync && !*flagSync && *flagLag == 0 && *flagConf == 0 {
		return nil
	}
	return func(sc *Scenario) {
		if *flagAsync || *flagSync {
			sc.AsyncStorageWrites = *flagAsync
		}
		if *flagLag > 0 {
			sc.ApplyLag = *flagLag
		}
		if *flagConf > 0 {
			sc.ConfChange = *flagConf
		}
	}
}

// ciSeeds and shortSeeds are the sizes of the fixed seed sets of plain and
// -short runs.
const (
	ciSeeds    = 2000
	shortSeeds = 150
)

// seedRange returns the seeds TestSeeds runs: the flags, then the
// environment, then the fixed CI set.
func seedRange(t *testing.T) (start int64, count int) {
	start, count = *flagStart, *flagSeeds
	if v := os.Getenv("RAFTTEST_START"); v != "" && start == 1 {
		s, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "RAFTTEST_START")
		start = s
	}
	if v := os.Getenv("RAFTTEST_SEEDS"); v != "" && count == 0 {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "RAFTTEST_SEEDS")
		count = n
	}
	if count == 0 {
		count = ciSeeds
		if testing.Short() {
			count = shortSeeds
		}
	}
	return start, count
}

// TestSeeds runs the simulator over a range of seeds and requires every
// invariant to hold on each.
func TestSeeds(t *testing.T) {
	start, count := seedRange(t)
	began := time.Now()
	var total Faults
	ops, events := 0, 0
	for seed := start; seed < start+int64(count); seed++ {
		res := Run(Options{Seed: seed, OutDir: outDir(t), Scenario: pinScenario()})
		if res.Violation != nil {
			t.Fatalf("%v\nscenario: %s", res.Violation, res.Scenario)
		}
		total = addFaults(total, res.Faults)
		ops += res.Ops
		events += res.Events
	}
	elapsed := time.Since(began)
	t.Logf("%d seeds [%d, %d) in %v (%.0f seeds/minute): %d fault events, %d client operations, %d trace events, no violation",
		count, start, start+int64(count), elapsed.Round(time.Millisecond), float64(count)/elapsed.Minutes(),
		total.Total(), ops, events)
	t.Logf("faults: %+v", total)
}

// outDir is where visualizations of failed runs go: the directory named by
// RAFTTEST_OUT, or the working directory of the test (the package).
func outDir(t *testing.T) string {
	if d := os.Getenv("RAFTTEST_OUT"); d != "" {
		return d
	}
	d, err := os.Getwd()
	require.NoError(t, err)
	return d
}

func addFaults(a, b Faults) Faults {
	a.Crashes += b.Crashes
	a.ReadyCrashes += b.ReadyCrashes
	a.Restarts += b.Restarts
	a.Partitions += b.Partitions
	a.OneWayCuts += b.OneWayCuts
	a.Heals += b.Heals
	a.Lost += b.Lost
	a.Duplicated += b.Duplicated
	a.Tampered += b.Tampered
	a.Snapshots += b.Snapshots
	a.ConfChanges += b.ConfChanges
	a.Transfers += b.Transfers
	a.Campaigns += b.Campaigns
	return a
}

// TestSameSeedReplaysByteForByte runs seeds twice and compares the hashes
// of their traces; different seeds give different runs.
func TestSameSeedReplaysByteForByte(t *testing.T) {
	hashes := map[uint64]int64{}
	for _, seed := range []int64{1, 2, 3, 42, 1000} {
		a := Run(Options{Seed: seed})
		b := Run(Options{Seed: seed})
		require.Nil(t, a.Violation)
		assert.Equal(t, a.TraceHash, b.TraceHash, "seed %d", seed)
		assert.Equal(t, a.Events, b.Events, "seed %d", seed)
		assert.Equal(t, a.Faults, b.Faults, "seed %d", seed)
		if other, ok := hashes[a.TraceHash]; ok {
			t.Errorf("seeds %d and %d produced the same trace", other, seed)
		}
		hashes[a.TraceHash] = seed
	}
}

var (
	flagReplay = flag.Int64("rafttest.replay", 0, "seed that TestReplay runs, printing its trace")
	flagTrace  = flag.Int("rafttest.trace", 200, "number of trace events TestReplay prints on a violation")
)

// TestReplay replays one seed given by -rafttest.replay, with a long
// trace (and the pins of the TestSeeds flags): the tool for reading a
// violation that TestSeeds reported. Without
// the flag it replays seed 1, so that the replay path stays tested.
func TestReplay(t *testing.T) {
	seed := *flagReplay
	if seed == 0 {
		seed = 1
	}
	res := Run(Options{Seed: seed, TraceSize: *flagTrace, OutDir: outDir(t), Scenario: pinScenario()})
	t.Logf("scenario: %s", res.Scenario)
	t.Logf("ticks %d, events %d, ops %d, trace hash %x, faults %+v", res.Ticks, res.Events, res.Ops, res.TraceHash, res.Faults)
	if res.Violation != nil {
		t.Fatal(res.Violation)
	}
}
