package mixed

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/rafttest"
)

var (
	flagSeeds = flag.Int("mixed.seeds", 0, "seeds per split (per configuration for the other tests); 0 means the fixed CI set")
	flagStart = flag.Int64("mixed.start", 1, "first seed")
)

var (
	flagReplay = flag.Int64("mixed.replay", 0, "seed that TestReplay runs with a long trace")
	flagSplit  = flag.String("mixed.split", "0b10101", "etcd node mask of TestReplay (bit id-1 set: node id is etcd)")
	flagIndex  = flag.Int("mixed.index", -1, "position of the seed in its test's set, which pins the protocol options; -1 keeps the drawn ones")
	flagVoters = flag.Int("mixed.voters", 0, "number of voters TestReplay pins; 0 keeps the drawn number")
	// -mixed.losetail and -mixed.tailonly pin Scenario.LoseTail and
	// Scenario.TailOnly in TestReplay (as TestMixedLostTails does).
	flagLoseTail = flag.Float64("mixed.losetail", 0, "Scenario.LoseTail that TestReplay pins; 0 keeps the drawn one (off)")
	flagTailOnly = flag.Bool("mixed.tailonly", false, "with -mixed.losetail, Scenario.TailOnly (HardStateIndependentlyDurable) in TestReplay")
)

// TestReplay replays one seed on one split, printing a long trace on a
// violation: the tool for reading a failure the other tests report.
// Without -mixed.replay it replays seed 1 on the default split, so that the
// replay path stays tested.
func TestReplay(t *testing.T) {
	seed := *flagReplay
	if seed == 0 {
		seed = 1
	}
	mask, err := strconv.ParseUint(*flagSplit, 0, 64)
	require.NoError(t, err, "-mixed.split")
	c := &Cluster{KindOf: Split{Etcd: mask}.KindOf}
	var sc func(*rafttest.Scenario)
	if *flagIndex >= 0 {
		sc = options(*flagIndex, func(sc *rafttest.Scenario) {
			if *flagVoters > 0 {
				setVoters(sc, *flagVoters)
			}
		})
	}
	if *flagLoseTail > 0 {
		sc = lostTails(sc, *flagLoseTail, *flagTailOnly)
	}
	res := Run(rafttest.Options{Seed: seed, NewNode: c.Factory(), Scenario: sc, TraceSize: 400, OutDir: outDir(), LoseTailOf: raftkitOnly(c), Fencers: raftkitOnly(c)})
	t.Logf("scenario: %s", res.Scenario)
	t.Logf("ticks %d, events %d, ops %d, faults %+v, stats %+v", res.Ticks, res.Events, res.Ops, res.Faults, c.Stats)
	if res.Violation != nil {
		t.Fatal(res.Violation)
	}
}

// seeds returns the seeds a test runs: ci of them by default (a quarter
// with -short), or -mixed.seeds.
func seeds(ci int) (start int64, count int) {
	if *flagSeeds > 0 {
		return *flagStart, *flagSeeds
	}
	if testing.Short() {
		ci /= 4
	}
	return *flagStart, ci
}

// options pins the protocol options by the seed's position i in its set,
// so that a set of 16 consecutive seeds covers PreVote and CheckQuorum on
// and off, safe and lease-based reads and both storage modes; the rest of
// the scenario (faults, conf changes, compaction, transfers) is drawn from
// the seed.
func options(i int, pin func(*rafttest.Scenario)) func(*rafttest.Scenario) {
	return func(sc *rafttest.Scenario) {
		sc.PreVote = i&1 != 0
		sc.CheckQuorum = i&2 != 0
		sc.ReadOnlyOption = raft.ReadOnlySafe
		if sc.CheckQuorum && i&4 != 0 {
			sc.ReadOnlyOption = raft.ReadOnlyLeaseBased
		}
		sc.AsyncStorageWrites = i&8 != 0
		// No clock model: raftkit nodes then take the safe round for
		// lease-based reads. The simulation breaks the conditions under
		// which a mixed cluster may use lease reads (Campaign on etcd
		// followers, immediate restarts), and an etcd leader's lease is
		// unsafe anyway: its read probes find etcd's stale reads
		// (compat/lease_test.go shows them one by one).
		sc.TickInterval = 0
		if pin != nil {
			pin(sc)
		}
	}
}

// setVoters sets the number of voters, keeping the number of spares the
// seed drew.
func setVoters(sc *rafttest.Scenario, voters int) {
	sc.Nodes = voters + sc.Nodes - sc.Voters
	sc.Voters = voters
}

// tally sums what a set of runs did.
type tally struct {
	runs   int
	stats  Stats
	faults rafttest.Faults
	ops    int
	// bothLed counts the runs in which both kinds led.
	bothLed int
}

func (t *tally) add(res rafttest.Result, st Stats) {
	t.runs++
	t.stats.Add(st)
	t.faults = t.faults.Add(res.Faults)
	t.ops += res.Ops
	if st.Led[Raftkit] > 0 && st.Led[Etcd] > 0 {
		t.bothLed++
	}
}

func (t *tally) log(tb testing.TB, what string, began time.Time) {
	tb.Logf("%s: %d runs in %v, %d client ops; terms led raftkit=%d etcd=%d (both kinds led in %d runs); "+
		"ReadIndex answers served-by/leader-kind %v, by followers %v; nodes started %v, swaps %d",
		what, t.runs, time.Since(began).Round(time.Millisecond), t.ops, t.stats.Led[Raftkit], t.stats.Led[Etcd], t.bothLed,
		t.stats.Reads, t.stats.FollowerReads, t.stats.Started, t.stats.Swaps)
	tb.Logf("%s: faults %+v", what, t.faults)
}

// run runs one seed on a mixed cluster and fails the test with the seed,
// the split and the trace on a violation.
func run(t *testing.T, seed int64, c *Cluster, what string, sc func(*rafttest.Scenario)) rafttest.Result {
	t.Helper()
	res := Run(rafttest.Options{Seed: seed, NewNode: c.Factory(), Scenario: sc, OutDir: outDir(), LoseTailOf: raftkitOnly(c), Fencers: raftkitOnly(c)})
	if res.Violation != nil {
		t.Fatalf("%s, seed %d:\n%v\nscenario: %s\nreplay: go test -run TestReplay -mixed.replay=%d -mixed.split=%#b "+
			"-mixed.index=%d -mixed.voters=%d (plus the test's other pins, shown in the scenario)",
			what, seed, res.Violation, res.Scenario, seed, splitMask(c), seed-*flagStart, res.Scenario.Voters)
	}
	return res
}

// splitMask recovers a cluster's etcd mask from its KindOf.
func splitMask(c *Cluster) uint64 {
	var m uint64
	for id := uint64(1); id <= 8; id++ {
		if c.KindOf(id) == Etcd {
			m |= 1 << (id - 1)
		}
	}
	return m
}

func outDir() string {
	if d := os.Getenv("RAFTTEST_OUT"); d != "" {
		return d
	}
	return os.TempDir()
}

// TestMixedThreeVoterClusters runs three-voter clusters in every split of
// the voters between the libraries (2^3), with the spares that conf
// changes add of both kinds too, under the simulator's faults, conf
// changes (v1 and joint), snapshots, transfers and every check.
func TestMixedThreeVoterClusters(t *testing.T) {
	start, count := seeds(64)
	began := time.Now()
	var all tally
	for split := uint64(0); split < 8; split++ {
		var tl tally
		began := time.Now()
		for i := 0; i < count; i++ {
			seed := start + int64(i)
			// The spares (IDs 4 and 5) take the four assignments in turn.
			s := Split{Etcd: split | uint64(i%4)<<3}
			c := &Cluster{KindOf: s.KindOf}
			res := run(t, seed, c, "split "+s.String(5), options(i, func(sc *rafttest.Scenario) { setVoters(sc, 3) }))
			tl.add(res, c.Stats)
			all.add(res, c.Stats)
		}
		tl.log(t, "voters "+Split{Etcd: split}.String(3), began)
		if split != 0 && split != 7 {
			assert.Greater(t, tl.stats.Led[Raftkit], 0, "split %s: a raftkit node led", Split{Etcd: split}.String(3))
			assert.Greater(t, tl.stats.Led[Etcd], 0, "split %s: an etcd node led", Split{Etcd: split}.String(3))
		}
	}
	all.log(t, "all three-voter splits", began)
	assertExercised(t, all)
}

// fiveSplits is a spread of the ways to split five voters: one, two,
// three and four etcd nodes in different positions, so that the first
// and the last IDs (which the workload treats alike, but the network
// delays do not) are of both kinds.
var fiveSplits = []uint64{0b00001, 0b10000, 0b00011, 0b11000, 0b00101, 0b10101, 0b01010, 0b00111, 0b11100, 0b01111, 0b11110, 0b11011}

// TestMixedFiveVoterClusters runs five-voter clusters over a spread of
// splits.
func TestMixedFiveVoterClusters(t *testing.T) {
	start, count := seeds(40)
	began := time.Now()
	var all tally
	for k, split := range fiveSplits {
		var tl tally
		began := time.Now()
		for i := 0; i < count; i++ {
			seed := start + int64(i)
			// Spares 6 and 7 alternate between the kinds.
			s := Split{Etcd: split | uint64((i+k)%4)<<5}
			c := &Cluster{KindOf: s.KindOf}
			res := run(t, seed, c, "split "+s.String(7), options(i, func(sc *rafttest.Scenario) { setVoters(sc, 5) }))
			tl.add(res, c.Stats)
			all.add(res, c.Stats)
		}
		tl.log(t, "voters "+Split{Etcd: split}.String(5), began)
	}
	all.log(t, "all five-voter splits", began)
	assertExercised(t, all)
	assert.Greater(t, all.bothLed, 0, "some run had leaders of both kinds")
}

// assertExercised requires a set of runs to have exercised what the mixed
// tests promise: leaders of both kinds, crashes, partitions, lost and
// duplicated messages, snapshots, conf changes, transfers, and ReadIndex
// reads served across kinds.
func assertExercised(t *testing.T, tl tally) {
	t.Helper()
	assert.Greater(t, tl.stats.Led[Raftkit], 0, "raftkit led")
	assert.Greater(t, tl.stats.Led[Etcd], 0, "etcd led")
	assert.Greater(t, tl.faults.Crashes, 0, "crashes")
	assert.Greater(t, tl.faults.Partitions, 0, "partitions")
	assert.Greater(t, tl.faults.Lost, 0, "lost messages")
	assert.Greater(t, tl.faults.Duplicated, 0, "duplicated messages")
	assert.Greater(t, tl.faults.Snapshots, 0, "snapshots")
	assert.Greater(t, tl.faults.ConfChanges, 0, "conf changes")
	assert.Greater(t, tl.faults.Transfers, 0, "leadership transfers")
	assert.Greater(t, tl.stats.FollowerReads[Etcd][Raftkit], 0, "etcd followers read through raftkit leaders")
	assert.Greater(t, tl.stats.FollowerReads[Raftkit][Etcd], 0, "raftkit followers read through etcd leaders")
}

// TestReadIndexAcrossKinds pins the ReadIndex fix against the reference:
// a raftkit leader tags each safe read round in its heartbeats' Context,
// which etcd followers echo as they echo any context, and an etcd leader's
// rounds are echoed by raftkit followers. Clusters of both splits, read
// heavy, with safe reads only and then lease-based reads only, must keep
// every read linearizable (porcupine), and followers of each kind must
// have been served by leaders of the other.
func TestReadIndexAcrossKinds(t *testing.T) {
	start, count := seeds(120)
	for _, mode := range []raft.ReadOnlyOption{raft.ReadOnlySafe, raft.ReadOnlyLeaseBased} {
		began := time.Now()
		var tl tally
		for i := 0; i < count; i++ {
			seed := start + int64(i)
			s := Split{Etcd: []uint64{0b001, 0b110, 0b010, 0b101, 0b01010, 0b10101}[i%6]}
			c := &Cluster{KindOf: s.KindOf}
			res := run(t, seed, c, fmt.Sprintf("reads %d, split %s", mode, s.String(5)), options(i, func(sc *rafttest.Scenario) {
				sc.ReadOnlyOption = mode
				if mode == raft.ReadOnlyLeaseBased {
					sc.CheckQuorum = true
				}
				sc.OpRate = 0.5
				sc.Transfer = 0.01
			}))
			tl.add(res, c.Stats)
		}
		tl.log(t, fmt.Sprintf("read-only option %d", mode), began)
		assert.Greater(t, tl.stats.FollowerReads[Etcd][Raftkit], 0, "etcd followers read through raftkit leaders")
		assert.Greater(t, tl.stats.FollowerReads[Raftkit][Etcd], 0, "raftkit followers read through etcd leaders")
		assert.Greater(t, tl.stats.Reads[Raftkit][Raftkit]-tl.stats.FollowerReads[Raftkit][Raftkit], 0, "raftkit leaders read")
		assert.Greater(t, tl.stats.Reads[Etcd][Etcd]-tl.stats.FollowerReads[Etcd][Etcd], 0, "etcd leaders read")
	}
}

// TestUncommittedSizeCapAcrossKinds runs clusters with
// MaxUncommittedEntriesSize set on every node while leadership moves
// often between the kinds: raftkit keeps its cap across a term change
// where etcd resets it, a leader-local difference that must not show in
// any safety property.
func TestUncommittedSizeCapAcrossKinds(t *testing.T) {
	start, count := seeds(120)
	began := time.Now()
	var tl tally
	for i := 0; i < count; i++ {
		seed := start + int64(i)
		s := Split{Etcd: []uint64{0b001, 0b110, 0b010, 0b101, 0b01010, 0b10101, 0b00111}[i%7]}
		c := &Cluster{KindOf: s.KindOf, Extra: Extra{MaxUncommittedEntriesSize: []uint64{1, 64, 256}[i%3]}}
		res := run(t, seed, c, "uncommitted cap, split "+s.String(5), options(i, func(sc *rafttest.Scenario) {
			sc.OpRate = 0.6
			sc.Clients = 4
			sc.Transfer = 0.02
			sc.Campaign = 0.005
		}))
		tl.add(res, c.Stats)
	}
	tl.log(t, "uncommitted cap", began)
	t.Logf("proposals refused by leaders: raftkit %d, etcd %d", tl.stats.LeaderDrops[Raftkit], tl.stats.LeaderDrops[Etcd])
	assert.Greater(t, tl.stats.LeaderDrops[Raftkit], 0, "the cap refused proposals on raftkit leaders")
	assert.Greater(t, tl.stats.LeaderDrops[Etcd], 0, "the cap refused proposals on etcd leaders")
	assert.Greater(t, tl.bothLed, count/2, "leaders of both kinds alternated in most runs")
}

// TestRollingUpgrade upgrades running etcd clusters one node at a time to
// raftkit, each node restarting from what etcd persisted, and rolls them
// back the same way, under the client workload and the simulator's
// faults (crashes, partitions, loss), with every rafttest check on: the
// durability checks compare each disk with what was committed and the
// linearizability check fails if an acknowledged write is lost. The
// reverse (raftkit first) runs too.
func TestRollingUpgrade(t *testing.T) {
	start, count := seeds(32)
	for _, dir := range [][2]Kind{{Etcd, Raftkit}, {Raftkit, Etcd}} {
		for _, voters := range []int{3, 5} {
			began := time.Now()
			var tl tally
			for i := 0; i < count; i++ {
				seed := start + int64(i)
				u := &Upgrade{From: dir[0], To: dir[1], Nodes: voters, Start: 100, Gap: 60}
				opts := options(i, func(sc *rafttest.Scenario) {
					sc.Voters, sc.Nodes = voters, voters
					sc.ConfChange = 0
					// Room for the schedule and for the waits of nodes
					// that are down when their turn comes, which
					// restart quickly.
					sc.FaultTicks = u.Start + 2*voters*u.Gap + 400
					sc.Restart = 0.1
					sc.OpRate = 0.4
					if i%3 == 0 {
						// A quiet run: the upgrade alone.
						sc.Crash, sc.ReadyCrash, sc.Partition, sc.Loss, sc.Dup = 0, 0, 0, 0, 0
					}
				})
				res := Run(rafttest.Options{Seed: seed, NewNode: u.Factory(), Scenario: opts, OutDir: outDir()})
				if res.Violation != nil {
					t.Fatalf("rolling upgrade %s->%s, %d voters, seed %d:\n%v\nscenario: %s\nswaps:\n%v",
						dir[0], dir[1], voters, seed, res.Violation, res.Scenario, u.Swaps)
				}
				require.True(t, u.Done(), "seed %d: the upgrade and roll-back finished (swaps %v)", seed, u.Swaps)
				for id := uint64(1); id <= uint64(voters); id++ {
					require.Equal(t, 2, u.ChangesOf(id), "seed %d: node %d was upgraded and rolled back (swaps %v)", seed, id, u.Swaps)
				}
				tl.add(res, u.Cluster.Stats)
			}
			tl.log(t, fmt.Sprintf("rolling upgrade %s->%s->%s, %d voters", dir[0], dir[1], dir[0], voters), began)
			assert.Greater(t, tl.stats.Led[Raftkit], 0, "raftkit led")
			assert.Greater(t, tl.stats.Led[Etcd], 0, "etcd led")
			assert.Greater(t, tl.ops, 0, "clients ran")
		}
	}
}
