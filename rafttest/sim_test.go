package rafttest

import (
	crand "crypto/rand"
	"flag"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	flagSeeds   = flag.Int("rafttest.seeds", 0, "number of seeds to run in TestSeeds (soak); 0 means the fixed CI set (env RAFTTEST_SEEDS)")
	flagStart   = flag.Int64("rafttest.start", 1, "first seed of TestSeeds (env RAFTTEST_START)")
	flagWorkers = flag.Int("rafttest.workers", 0, "number of runs TestSeeds keeps going at once; 0 means GOMAXPROCS")
	flagAsync   = flag.Bool("rafttest.async", false, "run every seed of TestSeeds with AsyncStorageWrites")
	flagSync    = flag.Bool("rafttest.sync", false, "run every seed of TestSeeds without AsyncStorageWrites")
	flagLag     = flag.Int("rafttest.applylag", 0, "run every seed of TestSeeds with this Scenario.ApplyLag (0: as drawn)")
	flagConf    = flag.Float64("rafttest.confchange", 0, "run every seed of TestSeeds with this Scenario.ConfChange rate (0: as drawn)")
	flagLose    = flag.Float64("rafttest.losetail", 0, "run every seed of TestSeeds with this Scenario.LoseTail (0: off, as drawn)")
	flagState   = flag.Float64("rafttest.losestate", 0, "run every seed of TestSeeds with this Scenario.LoseState (0: off, as drawn)")
	flagTorn    = flag.Float64("rafttest.torn", 0, "run every seed of TestSeeds with this Scenario.TornHardState (0: off, as drawn)")
	flagWipe    = flag.Float64("rafttest.wipe", 0, "run every seed of TestSeeds with this Scenario.WipeDisk (0: off, as drawn)")
	flagBackup  = flag.Float64("rafttest.backup", 0, "run every seed of TestSeeds with this Scenario.RestoreBackup (0: off, as drawn)")
	flagAcked   = flag.Float64("rafttest.loseacked", 0, "run every seed of TestSeeds with this Scenario.LoseAcked (0: off, as drawn)")
	flagTail    = flag.Bool("rafttest.tailonly", false, "with a disk fault (-rafttest.losetail and others), set Scenario.TailOnly (HardStateIndependentlyDurable)")
	flagLease   = flag.Bool("rafttest.lease", false, "run every seed of TestSeeds with ReadOnlyLeaseBased reads (and the CheckQuorum they need) under the clock model it drew")
)

// pinScenario returns the Options.Scenario that the flags ask for, or nil.
func pinScenario() func(*Scenario) {
	disk := Scenario{LoseTail: *flagLose, LoseState: *flagState, TornHardState: *flagTorn,
		WipeDisk: *flagWipe, RestoreBackup: *flagBackup, LoseAcked: *flagAcked}
	if !*flagAsync && !*flagSync && *flagLag == 0 && *flagConf == 0 && !disk.diskFaults() && !*flagLease {
		return nil
	}
	return func(sc *Scenario) {
		if *flagLease {
			sc.CheckQuorum, sc.ReadOnlyOption = true, raft.ReadOnlyLeaseBased
		}
		if *flagAsync || *flagSync {
			sc.AsyncStorageWrites = *flagAsync
		}
		if *flagLag > 0 {
			sc.ApplyLag = *flagLag
		}
		if *flagConf > 0 {
			sc.ConfChange = *flagConf
		}
		if disk.diskFaults() {
			sc.LoseTail, sc.LoseState, sc.TornHardState = disk.LoseTail, disk.LoseState, disk.TornHardState
			sc.WipeDisk, sc.RestoreBackup, sc.LoseAcked = disk.WipeDisk, disk.RestoreBackup, disk.LoseAcked
			sc.TailOnly = *flagTail
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

// TestSeeds runs the simulator over a range of seeds, on every core, and
// requires every invariant to hold on each.
func TestSeeds(t *testing.T) {
	start, count := seedRange(t)
	seeds := make([]int64, count)
	for i := range seeds {
		seeds[i] = start + int64(i)
	}
	began := time.Now()
	pin := pinScenario()
	results := runSeeds(seeds, func(seed int64) Options { return Options{Seed: seed, OutDir: outDir(t), Scenario: pin} })
	elapsed := time.Since(began)
	var total Faults
	ops, events := 0, 0
	for _, res := range results {
		if res == nil {
			continue
		}
		if res.Violation != nil {
			t.Fatalf("%v\nscenario: %s", res.Violation, res.Scenario)
		}
		total = total.Add(res.Faults)
		ops += res.Ops
		events += res.Events
	}
	t.Logf("%d seeds [%d, %d) in %v (%.0f seeds/minute, %d workers): %d fault events, %d client operations, %d trace events, no violation",
		count, start, start+int64(count), elapsed.Round(time.Millisecond), float64(count)/elapsed.Minutes(), workers(),
		total.Total(), ops, events)
	t.Logf("faults: %+v", total)
}

// workers is the number of runs runSeeds keeps going at once:
// -rafttest.workers, or one per core the test may use.
func workers() int {
	if *flagWorkers > 0 {
		return *flagWorkers
	}
	return runtime.GOMAXPROCS(0)
}

// runSeeds runs the seeds with the options opts gives, workers() at a
// time, and returns their results in the order of seeds. After a
// violation it starts no further seed, whose result is then nil; as seeds
// start in order, the first violation among the results is that of the
// first failing seed.
func runSeeds(seeds []int64, opts func(seed int64) Options) []*Result {
	results := make([]*Result, len(seeds))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(seeds) {
					return
				}
				res := Run(opts(seeds[i]))
				results[i] = &res
				if res.Violation != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return results
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

// TestConcurrentRunsReplayLikeSequentialOnes runs seeds one after the
// other, then all at once, each twice, on as many goroutines, and requires
// the same trace from each run of a seed: runs share nothing (run it with
// -race).
func TestConcurrentRunsReplayLikeSequentialOnes(t *testing.T) {
	seeds := []int64{1, 2, 3, 4, 5, 6, 7, 8, 42, 1000}
	if testing.Short() {
		seeds = seeds[:4]
	}
	want := make([]Result, len(seeds))
	for i, seed := range seeds {
		want[i] = Run(Options{Seed: seed})
		require.Nil(t, want[i].Violation)
	}
	got := make([]Result, 2*len(seeds))
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = Run(Options{Seed: seeds[i%len(seeds)]})
		}()
	}
	wg.Wait()
	for i, res := range got {
		w := want[i%len(seeds)]
		assert.Equal(t, w.TraceHash, res.TraceHash, "seed %d", w.Seed)
		assert.Equal(t, w.Events, res.Events, "seed %d", w.Seed)
		assert.Equal(t, w.Faults, res.Faults, "seed %d", w.Seed)
		assert.Nil(t, res.Violation, "seed %d", w.Seed)
	}
}

// TestRunsGoOnAtOnce starts two runs whose first nodes each wait until
// the other run has started a node: runs that were serialized would never
// both get there.
func TestRunsGoOnAtOnce(t *testing.T) {
	var arrived atomic.Int32
	both := make(chan struct{})
	var timedOut atomic.Bool
	factory := func() NodeFactory {
		var once sync.Once
		return func(cfg NodeConfig) (Node, error) {
			once.Do(func() {
				if arrived.Add(1) == 2 {
					close(both)
				}
				select {
				case <-both:
				case <-time.After(20 * time.Second):
					timedOut.Store(true)
				}
			})
			return NewRawNode(cfg)
		}
	}
	var wg sync.WaitGroup
	for _, seed := range []int64{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Run(Options{Seed: seed, NewNode: factory()})
		}()
	}
	wg.Wait()
	assert.False(t, timedOut.Load(), "a run waited for the other to end")
}

// cryptoReader stands in for crypto/rand.Reader and counts its reads.
type cryptoReader struct{ reads atomic.Int64 }

func (r *cryptoReader) Read(p []byte) (int, error) {
	r.reads.Add(1)
	return len(p), nil
}

// TestRunLeavesCryptoRandAlone requires a run neither to replace
// crypto/rand.Reader nor to read it: its nodes draw from the run's own
// source, so the rest of the process keeps its randomness.
func TestRunLeavesCryptoRandAlone(t *testing.T) {
	own := &cryptoReader{}
	prev := crand.Reader
	crand.Reader = own
	defer func() { crand.Reader = prev }()

	seen := 0
	check := func(cfg NodeConfig) (Node, error) {
		seen++
		require.Same(t, own, crand.Reader, "crypto/rand.Reader while node %d starts", cfg.ID)
		require.NotNil(t, cfg.Rand, "the node gets the run's source")
		return NewRawNode(cfg)
	}
	for _, seed := range []int64{1, 2, 3} {
		res := Run(Options{Seed: seed, NewNode: check})
		require.Nil(t, res.Violation)
	}
	// Every start draws an election timeout, and so do elections.
	require.Greater(t, seen, 3, "nodes started")
	assert.Same(t, own, crand.Reader, "crypto/rand.Reader after the runs")
	assert.Zero(t, own.reads.Load(), "reads of crypto/rand.Reader")
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

// TestFaultsAddCoversEveryCount fills every count of two Faults and checks
// that Add sums each one, or keeps the larger of the longest waits, so
// that a count added to Faults without a line in Add fails here instead of
// reading 0 in every soak's summary.
func TestFaultsAddCoversEveryCount(t *testing.T) {
	longest := map[string]bool{"QuarantineSlowTicks": true, "FenceTicks": true, "FenceStall": true}
	var a, b Faults
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	for i := range va.NumField() {
		require.Equal(t, reflect.Int, va.Field(i).Kind(), "Faults.%s", va.Type().Field(i).Name)
		va.Field(i).SetInt(int64(2*i + 1))
		vb.Field(i).SetInt(int64(3*i + 2))
	}
	sum := reflect.ValueOf(a.Add(b))
	for i := range sum.NumField() {
		name := sum.Type().Field(i).Name
		want := int64(5*i + 3)
		if longest[name] {
			want = int64(3*i + 2)
		}
		assert.Equal(t, want, sum.Field(i).Int(), "Faults.Add: %s", name)
	}
}
