package multiraft

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

var (
	loadGroups = flag.Int("multiraft.loadgroups", 4096, "groups per host in BenchmarkLoad (48 of them take proposals)")
	loadTick   = flag.Duration("multiraft.loadtick", 100*time.Millisecond, "tick interval in BenchmarkLoad")
	loadFsync  = flag.Duration("multiraft.fsync", 0, "modeled fsync latency in BenchmarkLoad (a sleep per durable save)")
	loadVisits = flag.Int("multiraft.routinevisits", 0, "HostConfig.MaxRoutineVisits in BenchmarkLoad (0: the default)")
)

// loadActive is the number of groups that take proposals in BenchmarkLoad.
const loadActive = 48

// BenchmarkLoad measures throughput under load with the clock running as
// in production: three started hosts tick every -multiraft.loadtick (all
// groups, busy or idle), and one op is one 128-byte proposal in each of 48
// groups, waited for until every replica applied it. It runs the 48 groups
// alone and among -multiraft.loadgroups groups, as groups of a Host
// (impl=host), as groups of a Host with HostConfig.Quiescence on, the idle
// groups quiet before the timer starts (impl=host-quiesce), and as plain
// RawNodes ticked one by one with one durable write per group Ready, the
// way an application of etcd raft runs many groups without multiraft
// (impl=rawnodes). The timer starts after a garbage collection, so that
// the garbage of the setup (creating the groups, electing their leaders)
// is not collected inside it. It reports
//
//   - entries/s: acknowledged entries per second of wall time;
//   - cpu-ns/entry: process CPU time per entry (the machine is shared);
//   - cores: process CPU time over wall time (ticking idle groups included);
//   - fsyncs/pass: durable writes per pass of a host (impl=host), or per
//     round over a process's groups (impl=rawnodes);
//   - fsyncs/entry: durable writes, all three hosts, per entry;
//   - term-changes (impl=host): active groups whose term changed while
//     timed (a process starved of CPU misses heartbeats and elects).
//
// go test ./multiraft -run '^$' -bench Load -benchtime 300x -count 6
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{loadActive, *loadGroups} {
		b.Run(fmt.Sprintf("impl=host/groups=%d", n), func(b *testing.B) { benchHostLoad(b, n, false) })
		b.Run(fmt.Sprintf("impl=host-quiesce/groups=%d", n), func(b *testing.B) { benchHostLoad(b, n, true) })
		b.Run(fmt.Sprintf("impl=rawnodes/groups=%d", n), func(b *testing.B) { benchRawNodeLoad(b, n) })
	}
}

// appliedCounter counts applied entries of a host or process and wakes
// one waiter on every change.
type appliedCounter struct {
	n      atomic.Int64
	notify chan struct{}
}

func newAppliedCounter() *appliedCounter {
	return &appliedCounter{notify: make(chan struct{}, 1)}
}

func (a *appliedCounter) add(ents []pb.Entry) {
	k := 0
	for _, e := range ents {
		if e.Type == pb.EntryNormal && len(e.Data) > 0 {
			k++
		}
	}
	if k > 0 {
		a.n.Add(int64(k))
		select {
		case a.notify <- struct{}{}:
		default:
		}
	}
}

// wait waits until the counter reaches target.
func (a *appliedCounter) wait(b *testing.B, target int64) {
	deadline := time.After(30 * time.Second)
	for a.n.Load() < target {
		select {
		case <-a.notify:
		case <-deadline:
			b.Fatalf("applied %d entries, want %d", a.n.Load(), target)
		}
	}
}

// slowStore is a LogStore whose durable saves take a modeled fsync time.
type slowStore struct {
	LogStore
	fsync time.Duration
	syncs atomic.Uint64
}

func (s *slowStore) Save(ups []Update) error {
	sync := false
	for i := range ups {
		sync = sync || ups[i].MustSync
	}
	if sync {
		s.syncs.Add(1)
		if s.fsync > 0 {
			time.Sleep(s.fsync)
		}
	}
	return s.LogStore.Save(ups)
}

func benchHostLoad(b *testing.B, n int, quiesce bool) {
	counters := map[HostID]*appliedCounter{1: newAppliedCounter(), 2: newAppliedCounter(), 3: newAppliedCounter()}
	c := newTestCluster(b, 3, n, func(hc *HostConfig) {
		ctr := counters[hc.ID]
		hc.Quiescence = quiesce
		hc.TickInterval = *loadTick
		hc.MaxRoutineVisits = *loadVisits
		hc.LogStore = &slowStore{LogStore: hc.LogStore, fsync: *loadFsync}
		hc.Apply = func(_ GroupID, ents []pb.Entry) { ctr.add(ents) }
	})
	c.waitLeaders(200)
	for i, g := range c.groups[:loadActive] { // spread the active groups' leaders
		if l := c.leader(g); l != HostID(1+i%3) {
			_ = c.hosts[l].TransferLeader(g, uint64(1+i%3))
		}
	}
	c.tick(3)
	c.waitLeaders(200)
	lead := make(map[GroupID]HostID)
	for _, g := range c.groups[:loadActive] {
		lead[g] = c.leader(g)
	}
	if quiesce {
		// Tick until every group is quiet; the active ones wake at their
		// first proposal.
		for i := 0; ; i++ {
			c.tick(1)
			awake := 0
			for _, h := range c.hosts {
				awake += h.Stats().Awake
			}
			if awake == 0 {
				break
			}
			if i == 100 {
				b.Fatalf("%d groups still awake after 100 ticks", awake)
			}
		}
	}
	for _, h := range c.hosts {
		h.Start()
	}
	defer func() {
		for _, h := range c.hosts {
			h.Stop()
		}
	}()
	data := make([]byte, 128)
	termOf := func(g GroupID) uint64 {
		st, err := c.hosts[lead[g]].Status(g)
		if err != nil {
			b.Fatal(err)
		}
		return st.Term
	}
	terms := make(map[GroupID]uint64)
	for _, g := range c.groups[:loadActive] {
		terms[g] = termOf(g)
	}
	var passes0, syncs0 uint64
	for _, h := range c.hosts {
		passes0 += h.Stats().Passes
		syncs0 += h.Stats().Syncs
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for _, g := range c.groups[:loadActive] {
			if err := c.hosts[lead[g]].Propose(g, data); err != nil {
				b.Fatal(err)
			}
		}
		for _, ctr := range counters {
			ctr.wait(b, int64((i+1)*loadActive))
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	var passes, syncs uint64
	for _, h := range c.hosts {
		passes += h.Stats().Passes
		syncs += h.Stats().Syncs
	}
	passes -= passes0
	syncs -= syncs0
	changed := 0
	for _, g := range c.groups[:loadActive] {
		if termOf(g) != terms[g] {
			changed++
		}
	}
	entries := float64(b.N * loadActive)
	b.ReportMetric(entries/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/entries, "cpu-ns/entry")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(float64(syncs)/float64(passes), "fsyncs/pass")
	b.ReportMetric(float64(syncs)/entries, "fsyncs/entry")
	b.ReportMetric(float64(changed), "term-changes")
}

// rawProc is one process of the rawnodes baseline: a RawNode per group,
// each ticked and handled on its own, one durable write per group Ready.
type rawProc struct {
	id    HostID
	procs map[HostID]*rawProc
	ctr   *appliedCounter
	fsync time.Duration

	mu     sync.Mutex // the RawNodes and storages
	nodes  []*raft.RawNode
	stores []*raft.MemoryStorage

	inMu   sync.Mutex
	inbox  []rawItem
	wakeup chan struct{}

	syncs  atomic.Uint64
	rounds atomic.Uint64
}

// rawItem is a marshaled message or a local proposal for group g.
type rawItem struct {
	g    int
	msg  []byte
	prop []byte
	poke bool // only look at the group's Ready
}

func (p *rawProc) put(it rawItem) {
	p.inMu.Lock()
	p.inbox = append(p.inbox, it)
	p.inMu.Unlock()
	select {
	case p.wakeup <- struct{}{}:
	default:
	}
}

// run handles ticks, messages and proposals until stop closes.
func (p *rawProc) run(tick time.Duration, stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	dirty := make([]bool, len(p.nodes))
	var list []int
	mark := func(g int) {
		if !dirty[g] {
			dirty[g] = true
			list = append(list, g)
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			for g, rn := range p.nodes { // one by one, as each group's own ticker would
				rn.Tick()
				mark(g)
			}
			p.mu.Unlock()
		case <-p.wakeup:
		}
		for {
			p.inMu.Lock()
			in := p.inbox
			p.inbox = nil
			p.inMu.Unlock()
			p.mu.Lock()
			for _, it := range in {
				rn := p.nodes[it.g]
				switch {
				case it.poke:
				case it.prop != nil:
					_ = rn.Propose(it.prop)
				default:
					var m pb.Message
					if err := m.Unmarshal(it.msg); err == nil {
						_ = rn.Step(m)
					}
				}
				mark(it.g)
			}
			if len(list) == 0 {
				p.mu.Unlock()
				break
			}
			p.rounds.Add(1)
			work := list
			list = nil
			for _, g := range work {
				dirty[g] = false
				p.handle(g)
			}
			for _, g := range work {
				if p.nodes[g].HasReady() {
					mark(g)
				}
			}
			p.mu.Unlock()
		}
	}
}

// handle persists, sends and applies one Ready of group g.
func (p *rawProc) handle(g int) {
	rn := p.nodes[g]
	if !rn.HasReady() {
		return
	}
	rd := rn.Ready()
	st := p.stores[g]
	if !raft.IsEmptySnap(rd.Snapshot) {
		_ = st.ApplySnapshot(rd.Snapshot)
	}
	_ = st.Append(rd.Entries)
	if !raft.IsEmptyHardState(rd.HardState) {
		_ = st.SetHardState(rd.HardState)
	}
	if rd.MustSync {
		p.syncs.Add(1)
		if p.fsync > 0 {
			time.Sleep(p.fsync)
		}
	}
	for _, m := range rd.Messages {
		b, err := m.Marshal()
		if err != nil {
			continue
		}
		p.procs[HostID(m.To)].put(rawItem{g: g, msg: b})
	}
	for _, e := range rd.CommittedEntries {
		if e.Type == pb.EntryConfChange {
			var cc pb.ConfChange
			if cc.Unmarshal(e.Data) == nil {
				rn.ApplyConfChange(cc)
			}
		}
	}
	p.ctr.add(rd.CommittedEntries)
	rn.Advance(rd)
}

func benchRawNodeLoad(b *testing.B, n int) {
	procs := make(map[HostID]*rawProc)
	for id := HostID(1); id <= 3; id++ {
		p := &rawProc{id: id, procs: procs, ctr: newAppliedCounter(), fsync: *loadFsync, wakeup: make(chan struct{}, 1)}
		for g := 0; g < n; g++ {
			st := raft.NewMemoryStorage()
			rn, err := raft.NewRawNode(&raft.Config{
				ID: uint64(id), ElectionTick: electionTick, HeartbeatTick: 1, Storage: st,
				MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true,
				Logger: quietLogger{},
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := rn.Bootstrap([]raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}); err != nil {
				b.Fatal(err)
			}
			p.nodes = append(p.nodes, rn)
			p.stores = append(p.stores, st)
		}
		procs[id] = p
	}
	stop := make(chan struct{})
	var done sync.WaitGroup
	for _, p := range procs {
		done.Add(1)
		go p.run(*loadTick, stop, &done)
	}
	defer func() {
		close(stop)
		done.Wait()
	}()
	// Every group elects the replica that campaigns first (once it applied
	// its bootstrap conf changes); spread them.
	deadline := time.Now().Add(60 * time.Second)
	status := func(id HostID, g int) raft.BasicStatus {
		p := procs[id]
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.nodes[g].BasicStatus()
	}
	lead := make([]HostID, n)
	for g := 0; g < n; g++ {
		lead[g] = HostID(1 + g%3)
		procs[lead[g]].put(rawItem{g: g, poke: true})
	}
	for g := 0; g < n; g++ {
		for status(lead[g], g).Applied < 3 {
			time.Sleep(time.Millisecond)
		}
		p := procs[lead[g]]
		p.mu.Lock()
		_ = p.nodes[g].Campaign()
		p.mu.Unlock()
		p.put(rawItem{g: g, poke: true})
	}
	for g := 0; g < n; g++ {
		for {
			found := HostID(0)
			for id := HostID(1); id <= 3; id++ {
				if st := status(id, g); st.RaftState == raft.StateLeader && st.Applied >= st.Commit && st.Commit > 3 {
					found = id
				}
			}
			if found != 0 {
				lead[g] = found
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("group %d elects no leader", g)
			}
			time.Sleep(time.Millisecond)
		}
	}
	data := make([]byte, 128)
	var rounds0, syncs0 uint64
	for _, p := range procs {
		rounds0 += p.rounds.Load()
		syncs0 += p.syncs.Load()
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for g := 0; g < loadActive; g++ {
			procs[lead[g]].put(rawItem{g: g, prop: data})
		}
		for _, p := range procs {
			p.ctr.wait(b, int64((i+1)*loadActive))
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	var rounds, syncs uint64
	for _, p := range procs {
		rounds += p.rounds.Load()
		syncs += p.syncs.Load()
	}
	rounds -= rounds0
	syncs -= syncs0
	entries := float64(b.N * loadActive)
	b.ReportMetric(entries/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/entries, "cpu-ns/entry")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(float64(syncs)/float64(rounds), "fsyncs/pass")
	b.ReportMetric(float64(syncs)/entries, "fsyncs/entry")
}
