package multiraft

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

var (
	simSeeds = flag.Int("multiraft.simseeds", 8, "seeds of TestSimulatedHostFaults (-short: 1)")
	simSeed  = flag.Int64("multiraft.simseed", 0, "run TestSimulatedHostFaults with this seed only")
	simSteps = flag.Int("multiraft.simsteps", 250, "steps per seed of TestSimulatedHostFaults")
)

// Simulation parameters: hosts, groups and replicas per group (replicas
// of group g on hosts g, g+1, g+2, modulo simHosts), and the bound, in
// ticks, within which a group whose replicas can form a quorum must have
// a leader: two randomized election timeouts, a liveness timeout and the
// campaign jitter, with slack.
const (
	simHosts     = 4
	simGroups    = 24
	simReplicas  = 3
	simLiveness  = 5
	simJitter    = 10
	simLeaderDue = 2*2*10 + simLiveness + simJitter + 15
)

// TestSimulatedHostFaults runs hosts that each hold many groups on one
// MemNetwork through random host crashes (between passes, and in the
// middle of a pass: a failed disk write), partitions between hosts, hosts
// whose disk stalls for a few ticks while the clock runs, and log
// compactions (so followers catch up by snapshot), under a workload of
// writes and ReadIndex reads at random hosts. It checks, per group:
//
//   - at most one leader per term;
//   - the state machine safety: replicas apply the same entry at an index;
//   - log matching: two replicas' logs that hold an entry with the same
//     index and term are identical up to it;
//   - no acknowledged write (applied by any replica) is lost: at the end
//     every replica has applied it;
//   - the history of writes and reads (one register per group) is
//     linearizable (porcupine);
//
// and per host: a group whose replicas can form a quorum (a majority of
// them up, not stalled, pairwise connected) has a leader acknowledged by
// a quorum within simLeaderDue ticks, during the run and after the
// final heal, so no group stays leaderless.
//
// go test ./multiraft -run SimulatedHostFaults -multiraft.simseeds=200
func TestSimulatedHostFaults(t *testing.T) {
	seeds := []int64{}
	switch {
	case *simSeed != 0:
		seeds = append(seeds, *simSeed)
	case testing.Short():
		seeds = append(seeds, 1)
	default:
		for s := int64(1); s <= int64(*simSeeds); s++ {
			seeds = append(seeds, s)
		}
	}
	var quiet, quiesces uint64
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			s := newSim(t, seed)
			s.run(*simSteps)
			if s.quiet {
				quiet++
				quiesces += s.quiesces
			}
		})
	}
	if quiet > 0 && !t.Failed() {
		// Quiescence must really happen in the seeds that turn it on, or
		// they test nothing of it.
		assert.Positive(t, quiesces, "no group went quiet in %d seeds with quiescence", quiet)
	}
}

// faultStore is a host's LogStore that can fail its next Save: the batch
// is not written, as when the process dies before the fsync returns.
type faultStore struct {
	*MemoryLogStore
	failNext bool
}

var errDiskFailed = errors.New("simulated disk failure")

func (s *faultStore) Save(ups []Update) error {
	if s.failNext && len(ups) > 0 {
		s.failNext = false
		return errDiskFailed
	}
	return s.MemoryLogStore.Save(ups)
}

// simHost is one host of the simulation and its durable state.
type simHost struct {
	id      HostID
	h       *Host // nil while down
	store   *faultStore
	epoch   uint64
	stalled int // ticks left during which the host runs no pass
}

// simRead is a ReadIndex request waiting for its answer or for the
// replica to apply up to its index.
type simRead struct {
	op    int // index in sim.ops
	host  HostID
	epoch uint64
	g     GroupID
	index uint64 // 0 until answered
}

type simInput struct {
	g     GroupID
	write bool
	value string
}

type sim struct {
	t     *testing.T
	seed  int64
	rng   *rand.Rand
	net   *MemNetwork
	hosts []*simHost // by HostID - 1
	cut   map[[2]HostID]bool
	ticks int

	mu         sync.Mutex // fields below; Apply and ReadStates run on workers
	clock      int64
	failures   []string
	committed  map[GroupID]map[uint64]string // index → entry data, over all replicas
	reg        map[HostID]map[GroupID]string // each replica's register
	applied    map[HostID]map[GroupID]uint64 // each replica's applied index
	writeOp    map[string]int                // write value → index in ops
	writeAt    map[string]uint64             // write value → index it was applied at
	ops        []porcupine.Operation
	done       []bool // ops completed (by an answer or an apply)
	reads      map[string]*simRead
	leaders    map[GroupID]map[uint64]uint64 // term → leader seen
	leaderless map[GroupID]int               // ticks a group able to elect has had no leader
	nextID     int
	// quiet turns HostConfig.Quiescence on, in three seeds of four (a
	// function of the seed alone, so that it changes no other draw).
	quiet bool
	// routineCap is HostConfig.MaxRoutineVisits: 3 in the seeds whose
	// (seed/4)%2 is 1, so that routine work is spread over many passes
	// (R2b); the default otherwise.
	routineCap int
	// quiesces counts the times groups went quiet, over the hosts' lives.
	quiesces uint64
}

func newSim(t *testing.T, seed int64) *sim {
	s := &sim{
		t: t, seed: seed, rng: rand.New(rand.NewSource(seed)), net: NewMemNetwork(), quiet: seed%4 != 0,
		cut:        make(map[[2]HostID]bool),
		committed:  make(map[GroupID]map[uint64]string),
		reg:        make(map[HostID]map[GroupID]string),
		applied:    make(map[HostID]map[GroupID]uint64),
		writeOp:    make(map[string]int),
		writeAt:    make(map[string]uint64),
		reads:      make(map[string]*simRead),
		leaders:    make(map[GroupID]map[uint64]uint64),
		leaderless: make(map[GroupID]int),
	}
	s.net.Strict = true
	if (seed/4)%2 == 1 {
		s.routineCap = 3
	}
	for id := HostID(1); id <= simHosts; id++ {
		s.hosts = append(s.hosts, &simHost{id: id, store: &faultStore{MemoryLogStore: NewMemoryLogStore()}})
	}
	for g := GroupID(1); g <= simGroups; g++ {
		s.committed[g] = make(map[uint64]string)
		s.leaders[g] = make(map[uint64]uint64)
	}
	for _, sh := range s.hosts {
		s.start(sh)
	}
	return s
}

// replicas returns the hosts of group g; the replica on host h has node ID h.
func replicasOf(g GroupID) []HostID {
	var hs []HostID
	for k := 0; k < simReplicas; k++ {
		hs = append(hs, HostID((int(g)+k)%simHosts+1))
	}
	return hs
}

func (s *sim) host(id HostID) *simHost { return s.hosts[id-1] }

func (s *sim) fail(format string, args ...interface{}) {
	s.mu.Lock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// start (re)starts a host over its store, restoring each replica's
// register from the store's snapshot, as an application would.
func (s *sim) start(sh *simHost) {
	sh.epoch++
	id := sh.id
	s.mu.Lock()
	s.reg[id] = make(map[GroupID]string)
	s.applied[id] = make(map[GroupID]uint64)
	s.mu.Unlock()
	h, err := NewHost(HostConfig{
		ID: id, Epoch: sh.epoch, Transport: s.net.Transport(id), LogStore: sh.store,
		Workers: 2, Seed: s.seed*10 + int64(id), Logger: quietLogger{},
		LivenessTimeoutTicks: simLiveness, CampaignJitterTicks: simJitter, Quiescence: s.quiet,
		MaxRoutineVisits: s.routineCap,
		Apply:            func(g GroupID, ents []pb.Entry) { s.apply(id, g, ents) },
		ApplySnapshot:    func(g GroupID, snap pb.Snapshot) { s.applySnapshot(id, g, snap) },
		ReadStates:       func(g GroupID, rs []raft.ReadState) { s.readStates(id, g, rs) },
	})
	require.NoError(s.t, err)
	for g := GroupID(1); g <= simGroups; g++ {
		hs := replicasOf(g)
		mine := false
		gc := GroupConfig{
			ID: g,
			Raft: raft.Config{
				ID: uint64(id), ElectionTick: 10, HeartbeatTick: 1,
				MaxSizePerMsg: 4 << 10, MaxInflightMsgs: 16,
				CheckQuorum: true, PreVote: true, Logger: quietLogger{},
			},
			Replicas: make(map[uint64]HostID),
		}
		for _, hh := range hs {
			mine = mine || hh == id
			gc.Replicas[uint64(hh)] = hh
			gc.Bootstrap = append(gc.Bootstrap, uint64(hh))
		}
		if !mine {
			continue
		}
		snap, err := sh.store.Memory(g).Snapshot()
		require.NoError(s.t, err)
		if !raft.IsEmptySnap(snap) {
			s.applySnapshot(id, g, snap)
		}
		require.NoError(s.t, h.AddGroup(gc))
	}
	sh.h = h
}

// crash stops a host between passes: what its store saved is kept.
func (s *sim) crash(sh *simHost) {
	s.quiesces += sh.h.Stats().Quiesces
	sh.h.Stop()
	sh.h = nil
	sh.stalled = 0
	sh.store.failNext = false
}

func (s *sim) apply(id HostID, g GroupID, ents []pb.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		if e.Index <= s.applied[id][g] {
			s.failures = append(s.failures, fmt.Sprintf("group %d host %d: applied index %d after %d", g, id, e.Index, s.applied[id][g]))
		}
		s.applied[id][g] = e.Index
		if e.Type != pb.EntryNormal || len(e.Data) == 0 {
			continue
		}
		v := string(e.Data)
		if prev, ok := s.committed[g][e.Index]; ok && prev != v {
			s.failures = append(s.failures, fmt.Sprintf("group %d: host %d applied %q at index %d where another replica applied %q", g, id, v, e.Index, prev))
		}
		s.committed[g][e.Index] = v
		s.reg[id][g] = v
		if _, ok := s.writeAt[v]; !ok {
			s.writeAt[v] = e.Index
			if op, ok := s.writeOp[v]; ok && !s.done[op] { // acknowledged now
				s.clock++
				s.ops[op].Return = s.clock
				s.done[op] = true
			}
		}
	}
}

func (s *sim) applySnapshot(id HostID, g GroupID, snap pb.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reg[id][g] = string(snap.Data)
	s.applied[id][g] = snap.Metadata.Index
}

func (s *sim) readStates(id HostID, g GroupID, rs []raft.ReadState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		if rd := s.reads[string(r.RequestCtx)]; rd != nil && rd.host == id && rd.g == g && rd.index == 0 {
			rd.index = r.Index
		}
	}
}

// completeReads answers the reads whose replica applied up to their
// index: the read returns the replica's register now.
func (s *sim) completeReads() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ctx, rd := range s.reads {
		sh := s.host(rd.host)
		if sh.h == nil || sh.epoch != rd.epoch { // the host crashed: the read never returns
			delete(s.reads, ctx)
			continue
		}
		if rd.index == 0 || s.applied[rd.host][rd.g] < rd.index {
			continue
		}
		s.clock++
		op := &s.ops[rd.op]
		op.Output = s.reg[rd.host][rd.g]
		op.Return = s.clock
		s.done[rd.op] = true
		delete(s.reads, ctx)
	}
}

func (s *sim) newOp(g GroupID, write bool, client int) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	v := fmt.Sprintf("g%d-%d", g, s.nextID)
	s.clock++
	s.ops = append(s.ops, porcupine.Operation{ClientId: client, Input: simInput{g: g, write: write, value: v}, Call: s.clock})
	s.done = append(s.done, false)
	return len(s.ops) - 1, v
}

// upHosts returns the hosts that run.
func (s *sim) upHosts() []*simHost {
	var up []*simHost
	for _, sh := range s.hosts {
		if sh.h != nil {
			up = append(up, sh)
		}
	}
	return up
}

func (s *sim) write(sh *simHost, g GroupID) {
	op, v := s.newOp(g, true, int(sh.id))
	s.mu.Lock()
	s.writeOp[v] = op
	s.mu.Unlock()
	if err := sh.h.Propose(g, []byte(v)); err != nil {
		// Not taken: the write never happens. Drop it from the history.
		s.mu.Lock()
		s.done[op] = true
		s.ops[op].Input = nil
		s.mu.Unlock()
	}
}

func (s *sim) read(sh *simHost, g GroupID) {
	op, v := s.newOp(g, false, int(sh.id))
	s.mu.Lock()
	s.reads[v] = &simRead{op: op, host: sh.id, epoch: sh.epoch, g: g}
	s.mu.Unlock()
	require.NoError(s.t, sh.h.ReadIndex(g, []byte(v)))
}

// compact snapshots and compacts group g's log on a host at its applied
// index, so that a lagging replica has to catch up by snapshot.
func (s *sim) compact(sh *simHost, g GroupID) {
	st, err := sh.h.Status(g)
	if err != nil {
		return
	}
	s.mu.Lock()
	data := s.reg[sh.id][g]
	applied := s.applied[sh.id][g]
	s.mu.Unlock()
	if applied == 0 || applied != st.Applied {
		return
	}
	var cs pb.ConfState
	for _, hh := range replicasOf(g) {
		cs.Voters = append(cs.Voters, uint64(hh))
	}
	ms := sh.store.Memory(g)
	if _, err := ms.CreateSnapshot(applied, &cs, []byte(data)); err != nil {
		return
	}
	require.NoError(s.t, ms.Compact(applied))
}

// settle runs passes on every running host that is not stalled until
// none has work. A host whose disk fails crashes.
func (s *sim) settle() {
	for round := 0; round < 1000; round++ {
		did := false
		for _, sh := range s.hosts {
			if sh.h == nil || sh.stalled > 0 {
				continue
			}
			ok, err := sh.h.Pass()
			if err != nil {
				require.ErrorIs(s.t, err, errDiskFailed)
				s.crash(sh)
				continue
			}
			did = did || ok
		}
		s.completeReads()
		if !did {
			return
		}
	}
	s.t.Fatalf("seed %d: hosts do not settle", s.seed)
}

// tick ticks every running host (stalled ones too: their clock runs,
// their passes wait), settles, and checks the leaders.
func (s *sim) tick(n int) {
	for i := 0; i < n; i++ {
		s.ticks++
		for _, sh := range s.hosts {
			if sh.h != nil {
				sh.h.Tick()
				if sh.stalled > 0 {
					sh.stalled--
				}
			}
		}
		s.settle()
		s.checkLeaders()
	}
}

// connected reports whether hosts a and b run, are not stalled, and can
// reach each other.
func (s *sim) connected(a, b HostID) bool {
	return s.host(a).h != nil && s.host(b).h != nil && s.host(a).stalled == 0 && s.host(b).stalled == 0 &&
		!s.cut[[2]HostID{a, b}]
}

// canElect reports whether a majority of group g's replicas run, are not
// stalled, and are pairwise connected.
func (s *sim) canElect(g GroupID) bool {
	hs := replicasOf(g)
	for _, a := range hs { // with three replicas: some pair is connected
		for _, b := range hs {
			if a < b && s.connected(a, b) {
				return true
			}
		}
	}
	return false
}

// leaderOf returns the replica that leads group g with the acknowledgement
// of a quorum of replicas it can reach, or 0.
func (s *sim) leaderOf(g GroupID) uint64 {
	hs := replicasOf(g)
	st := map[HostID]raft.BasicStatus{}
	for _, hh := range hs {
		if sh := s.host(hh); sh.h != nil {
			b, err := sh.h.Status(g)
			require.NoError(s.t, err)
			st[hh] = b
		}
	}
	for l, ls := range st {
		if ls.RaftState != raft.StateLeader {
			continue
		}
		n := 1
		for f, fs := range st {
			if f != l && s.connected(l, f) && fs.Lead == uint64(l) && fs.Term == ls.Term {
				n++
			}
		}
		if n > len(hs)/2 {
			return uint64(l)
		}
	}
	return 0
}

// checkLeaders records every leader seen (at most one per term and group)
// and counts the ticks each group able to elect has been without one.
func (s *sim) checkLeaders() {
	for g := GroupID(1); g <= simGroups; g++ {
		for _, hh := range replicasOf(g) {
			sh := s.host(hh)
			if sh.h == nil {
				continue
			}
			st, err := sh.h.Status(g)
			require.NoError(s.t, err)
			if st.RaftState != raft.StateLeader {
				continue
			}
			if l, ok := s.leaders[g][st.Term]; ok && l != st.ID {
				s.fail("group %d: replicas %d and %d both lead term %d", g, l, st.ID, st.Term)
			}
			s.leaders[g][st.Term] = st.ID
		}
		if !s.canElect(g) || s.leaderOf(g) != 0 {
			s.leaderless[g] = 0
			continue
		}
		s.leaderless[g]++
		if s.leaderless[g] > simLeaderDue {
			s.fail("group %d: able to elect but without a leader for %d ticks (tick %d)", g, s.leaderless[g], s.ticks)
			s.leaderless[g] = 0
		}
	}
	s.mu.Lock()
	failures := s.failures
	s.mu.Unlock()
	if len(failures) > 0 {
		s.t.Fatalf("seed %d: %s", s.seed, strings.Join(failures, "\n"))
	}
}

func (s *sim) run(steps int) {
	t := s.t
	s.tick(simLeaderDue)
	for step := 0; step < steps; step++ {
		up := s.upHosts()
		pick := func() *simHost { return up[s.rng.Intn(len(up))] }
		g := GroupID(1 + s.rng.Intn(simGroups))
		switch r := s.rng.Intn(100); {
		case r < 40 && len(up) > 0: // a write at a random host (a follower forwards it)
			sh := pick()
			if s.hasReplica(sh.id, g) {
				s.write(sh, g)
			}
		case r < 58 && len(up) > 0: // a linearizable read at a random replica
			sh := pick()
			if s.hasReplica(sh.id, g) {
				s.read(sh, g)
			}
		case r < 64: // cut two hosts apart
			a, b := HostID(1+s.rng.Intn(simHosts)), HostID(1+s.rng.Intn(simHosts))
			if a != b {
				s.net.Partition(a, b)
				s.cut[[2]HostID{a, b}], s.cut[[2]HostID{b, a}] = true, true
			}
		case r < 70:
			s.net.Heal()
			s.cut = make(map[[2]HostID]bool)
		case r < 74 && len(up) > simHosts-2: // crash a host between passes
			s.crash(pick())
		case r < 80: // restart a crashed host
			for _, sh := range s.hosts {
				if sh.h == nil {
					s.start(sh)
					break
				}
			}
		case r < 84 && len(up) > 0: // a slow disk: the host's passes wait a few ticks
			pick().stalled = 1 + s.rng.Intn(8)
		case r < 87 && len(up) > simHosts-2: // the disk fails in the next write: crash in a pass
			pick().store.failNext = true
		case r < 91 && len(up) > 0:
			sh := pick()
			if s.hasReplica(sh.id, g) {
				s.compact(sh, g)
			}
		}
		s.tick(1 + s.rng.Intn(3))
	}
	// Heal everything: every group must have a leader within the bound.
	for _, sh := range s.hosts {
		if sh.h == nil {
			s.start(sh)
		}
		sh.stalled = 0
		sh.store.failNext = false
	}
	s.net.Heal()
	s.cut = make(map[[2]HostID]bool)
	for g := GroupID(1); g <= simGroups; g++ {
		s.leaderless[g] = 0
	}
	for i := 0; ; i++ {
		all := true
		for g := GroupID(1); g <= simGroups; g++ {
			all = all && s.leaderOf(g) != 0
		}
		if all {
			break
		}
		require.Less(t, i, simLeaderDue, "seed %d: not every group has a leader %d ticks after the heal", s.seed, simLeaderDue)
		s.tick(1)
	}
	// A last write per group at its leader brings every replica up to date.
	for g := GroupID(1); g <= simGroups; g++ {
		s.write(s.host(HostID(s.leaderOf(g))), g)
	}
	s.tick(20)
	s.checkEnd()
}

func (s *sim) hasReplica(id HostID, g GroupID) bool {
	for _, hh := range replicasOf(g) {
		if hh == id {
			return true
		}
	}
	return false
}

// checkEnd checks, once everything is healed and caught up, that every
// replica applied every acknowledged write, that the replicas' logs match,
// and that the history is linearizable.
func (s *sim) checkEnd() {
	t := s.t
	s.mu.Lock()
	acked := 0
	for g := GroupID(1); g <= simGroups; g++ {
		var top uint64
		for idx := range s.committed[g] {
			top = max(top, idx)
			acked++
		}
		for _, hh := range replicasOf(g) {
			require.GreaterOrEqual(t, s.applied[hh][g], top, "seed %d group %d: host %d did not apply the acknowledged write at index %d", s.seed, g, hh, top)
		}
	}
	s.mu.Unlock()
	for g := GroupID(1); g <= simGroups; g++ {
		hs := replicasOf(g)
		for i := range hs {
			for j := i + 1; j < len(hs); j++ {
				s.checkLogMatching(g, hs[i], hs[j])
			}
		}
	}
	s.checkLinearizable()
	for _, sh := range s.hosts {
		if sh.h != nil {
			s.quiesces += sh.h.Stats().Quiesces
		}
	}
	t.Logf("seed %d: %d ticks, %d acknowledged writes, %d operations checked, quiescence %t, %d quiesces",
		s.seed, s.ticks, acked, len(s.ops), s.quiet, s.quiesces)
}

// checkLogMatching checks two replicas' logs where both hold entries: if
// they agree on an entry's term, they agree on every entry before it.
func (s *sim) checkLogMatching(g GroupID, a, b HostID) {
	load := func(id HostID) (uint64, []pb.Entry) {
		ms := s.host(id).store.Memory(g)
		first, err := ms.FirstIndex()
		require.NoError(s.t, err)
		last, err := ms.LastIndex()
		require.NoError(s.t, err)
		if last < first {
			return first, nil
		}
		ents, err := ms.Entries(first, last+1, math.MaxUint64)
		require.NoError(s.t, err)
		return first, ents
	}
	fa, ea := load(a)
	fb, eb := load(b)
	lo := max(fa, fb)
	hi := min(fa+uint64(len(ea)), fb+uint64(len(eb))) // exclusive
	match := uint64(0)
	for i := lo; i < hi; i++ {
		if ea[i-fa].Term == eb[i-fb].Term {
			match = i
		}
	}
	for i := lo; i <= match && i < hi; i++ {
		x, y := ea[i-fa], eb[i-fb]
		require.True(s.t, x.Term == y.Term && x.Type == y.Type && string(x.Data) == string(y.Data),
			"seed %d group %d: hosts %d and %d agree on index %d's term but differ at %d", s.seed, g, a, b, match, i)
	}
}

// checkLinearizable checks the history of each group's register with
// porcupine. A write never seen applied may or may not have happened.
func (s *sim) checkLinearizable() {
	s.mu.Lock()
	end := s.clock + 1
	var ops []porcupine.Operation
	for i, op := range s.ops {
		if op.Input == nil {
			continue
		}
		in := op.Input.(simInput)
		if !in.write && !s.done[i] {
			continue // a read never answered has no effect
		}
		if !s.done[i] {
			op.Return = end
		}
		ops = append(ops, op)
	}
	s.mu.Unlock()
	model := porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			by := map[GroupID][]porcupine.Operation{}
			for _, o := range h {
				g := o.Input.(simInput).g
				by[g] = append(by[g], o)
			}
			var gs []GroupID
			for g := range by {
				gs = append(gs, g)
			}
			sort.Slice(gs, func(i, j int) bool { return gs[i] < gs[j] })
			var out [][]porcupine.Operation
			for _, g := range gs {
				out = append(out, by[g])
			}
			return out
		},
		Init: func() interface{} { return "" },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			in := input.(simInput)
			if in.write {
				return true, in.value
			}
			return output.(string) == state.(string), state
		},
		DescribeOperation: func(input, output interface{}) string {
			in := input.(simInput)
			if in.write {
				return fmt.Sprintf("g%d put %s", in.g, in.value)
			}
			return fmt.Sprintf("g%d get -> %q", in.g, output)
		},
	}
	res, info := porcupine.CheckOperationsVerbose(model, ops, 30*time.Second)
	if res == porcupine.Illegal {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("multiraft-sim-seed-%d.html", s.seed))
		_ = porcupine.VisualizePath(model, info, path)
		s.t.Fatalf("seed %d: the history of %d operations is not linearizable (see %s)", s.seed, len(ops), path)
	}
}
