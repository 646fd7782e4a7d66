package raft_test

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// The benchmarks of this file measure raftkit alone, for profiling; the
// comparison with etcd raft runs the same scenarios in compat/bench.

// benchQuiet is a Logger that drops everything but panics.
type benchQuiet struct{}

func (benchQuiet) Debug(...interface{})              {}
func (benchQuiet) Debugf(string, ...interface{})     {}
func (benchQuiet) Error(...interface{})              {}
func (benchQuiet) Errorf(string, ...interface{})     {}
func (benchQuiet) Info(...interface{})               {}
func (benchQuiet) Infof(string, ...interface{})      {}
func (benchQuiet) Warning(...interface{})            {}
func (benchQuiet) Warningf(string, ...interface{})   {}
func (benchQuiet) Fatal(v ...interface{})            { panic(v) }
func (benchQuiet) Fatalf(f string, v ...interface{}) { panic(f) }
func (benchQuiet) Panic(v ...interface{})            { panic(v) }
func (benchQuiet) Panicf(f string, v ...interface{}) { panic(f) }

// benchConfig returns the configuration of node id over a storage holding
// a snapshot at index 1 of the given voters.
func benchConfig(b *testing.B, id uint64, voters []uint64) (*raft.Config, *raft.MemoryStorage) {
	ms := raft.NewMemoryStorage()
	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: voters}}}
	if err := ms.ApplySnapshot(snap); err != nil {
		b.Fatal(err)
	}
	c := &raft.Config{
		ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, Logger: benchQuiet{},
	}
	if benchMetrics {
		c.Metrics = new(raft.Metrics)
	}
	return c, ms
}

// benchMetrics turns Config.Metrics on in every benchmark node
// (RAFTKIT_BENCH_METRICS=1), to measure what counting costs.
var benchMetrics = os.Getenv("RAFTKIT_BENCH_METRICS") == "1"

type benchNode struct {
	*raft.RawNode
	ms      *raft.MemoryStorage
	applied int
	reads   int
}

func newBenchNode(b *testing.B, id uint64, voters []uint64, configure ...func(*raft.Config)) *benchNode {
	c, ms := benchConfig(b, id, voters)
	for _, f := range configure {
		f(c)
	}
	rn, err := raft.NewRawNode(c)
	if err != nil {
		b.Fatal(err)
	}
	return &benchNode{RawNode: rn, ms: ms}
}

// handle processes one Ready like a synchronous application, passing the
// messages to send (dropping them when send is nil).
func (n *benchNode) handle(b *testing.B, send func(m pb.Message)) {
	rd := n.Ready()
	if err := n.ms.Append(rd.Entries); err != nil {
		b.Fatal(err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		_ = n.ms.SetHardState(rd.HardState)
	}
	if send != nil {
		for _, m := range rd.Messages {
			send(m)
		}
	}
	n.applied += len(rd.CommittedEntries)
	n.reads += len(rd.ReadStates)
	n.Advance(rd)
}

// benchCluster runs RawNodes in one goroutine; messages travel marshaled,
// or, with native set, as values.
type benchCluster struct {
	nodes []*benchNode
	// inbox[i] holds the marshaled messages to node i+1, ninbox[i] the
	// native ones; spare and nspare are the queues emptied by the last
	// delivery, reused so that the transport allocates nothing per round.
	inbox, spare   [][][]byte
	ninbox, nspare [][]pb.Message
	native         bool
	// sent counts the messages sent between nodes.
	sent int
}

func newBenchCluster(b *testing.B, n int, configure ...func(*raft.Config)) *benchCluster {
	c := &benchCluster{
		inbox: make([][][]byte, n), spare: make([][][]byte, n),
		ninbox: make([][]pb.Message, n), nspare: make([][]pb.Message, n),
	}
	var ids []uint64
	for i := 1; i <= n; i++ {
		ids = append(ids, uint64(i))
	}
	for _, id := range ids {
		c.nodes = append(c.nodes, newBenchNode(b, id, ids, configure...))
	}
	if err := c.nodes[0].Campaign(); err != nil {
		b.Fatal(err)
	}
	c.pump(b)
	return c
}

func (c *benchCluster) pump(b *testing.B) {
	send := func(m pb.Message) {
		c.sent++
		if c.native {
			// A copy of the message value: the Ready's array may be lent.
			c.ninbox[m.To-1] = append(c.ninbox[m.To-1], m)
			return
		}
		buf, err := m.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		c.inbox[m.To-1] = append(c.inbox[m.To-1], buf)
	}
	for busy := true; busy; {
		busy = false
		for _, n := range c.nodes {
			for n.HasReady() {
				busy = true
				n.handle(b, send)
			}
		}
		for i, n := range c.nodes {
			q := c.inbox[i]
			c.inbox[i], c.spare[i] = c.spare[i][:0], q
			for j, buf := range q {
				busy = true
				var m pb.Message
				if err := m.Unmarshal(buf); err != nil {
					b.Fatal(err)
				}
				_ = n.Step(m)
				q[j] = nil
			}
			nq := c.ninbox[i]
			c.ninbox[i], c.nspare[i] = c.nspare[i][:0], nq
			for j := range nq {
				busy = true
				_ = n.Step(nq[j])
				nq[j] = pb.Message{}
			}
		}
	}
}

func BenchmarkSingleVoterNode(b *testing.B) {
	c, ms := benchConfig(b, 1, []uint64{1})
	n := raft.RestartNode(c)
	defer n.Stop()
	ctx := context.Background()
	if err := n.Campaign(ctx); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 128)
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(done)
		for applied := 0; applied < b.N+1; { // +1: the leader's empty entry
			rd := <-n.Ready()
			_ = ms.Append(rd.Entries)
			if !raft.IsEmptyHardState(rd.HardState) {
				_ = ms.SetHardState(rd.HardState)
			}
			applied += len(rd.CommittedEntries)
			n.Advance()
		}
	}()
	for i := 0; i < b.N; i++ {
		if err := n.Propose(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

func BenchmarkSingleVoterRawNodeBatch64(b *testing.B) {
	c := newBenchCluster(b, 1)
	n := c.nodes[0]
	data := make([]byte, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		for k := 0; k < 64 && i < b.N; k, i = k+1, i+1 {
			if err := n.Propose(data); err != nil {
				b.Fatal(err)
			}
		}
		for n.HasReady() {
			n.handle(b, nil)
		}
	}
}

func BenchmarkThreeRawNodes(b *testing.B) {
	for _, size := range []int{128, 1024} {
		b.Run(map[int]string{128: "payload=128", 1024: "payload=1024"}[size], func(b *testing.B) {
			c := newBenchCluster(b, 3)
			data := make([]byte, size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				for k := 0; k < 64 && i < b.N; k, i = k+1, i+1 {
					if err := c.nodes[0].Propose(data); err != nil {
						b.Fatal(err)
					}
				}
				c.pump(b)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkThreeRawNodesSequential is a sequential client of three
// RawNodes: one 128 B proposal at a time, carried through the Readies of
// all three (messages delivered, storage appended, entries applied) until
// nothing is left to do. One op is one entry. With transport=wire the
// messages are marshaled and unmarshaled (8 messages per entry: the
// codec's allocations show), with transport=native they are passed as
// values, so that only the raft's own allocations remain.
func BenchmarkThreeRawNodesSequential(b *testing.B) { benchmarkSequential(b) }

// BenchmarkThreeRawNodesSequentialLent is BenchmarkThreeRawNodesSequential
// with Config.LendReadyMessages.
func BenchmarkThreeRawNodesSequentialLent(b *testing.B) {
	benchmarkSequential(b, func(c *raft.Config) { c.LendReadyMessages = true })
}

func benchmarkSequential(b *testing.B, configure ...func(*raft.Config)) {
	for _, native := range []bool{false, true} {
		name := "transport=wire"
		if native {
			name = "transport=native"
		}
		b.Run(name, func(b *testing.B) {
			c := newBenchCluster(b, 3, configure...)
			c.native = native
			start := c.nodes[0].applied
			data := make([]byte, 128)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.nodes[0].Propose(data); err != nil {
					b.Fatal(err)
				}
				c.pump(b)
			}
			b.StopTimer()
			if got := c.nodes[0].applied - start; got != b.N {
				b.Fatalf("the leader applied %d entries, want %d", got, b.N)
			}
		})
	}
}

// BenchmarkThreeRawNodesRound64 proposes 64 entries of 128 B per round to
// three RawNodes and carries them until all have applied them: one op is
// one round, so allocs/op is allocs per round.
func BenchmarkThreeRawNodesRound64(b *testing.B) {
	c := newBenchCluster(b, 3)
	data := make([]byte, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 64; k++ {
			if err := c.nodes[0].Propose(data); err != nil {
				b.Fatal(err)
			}
		}
		c.pump(b)
	}
}

// BenchmarkFollowerCycle is a follower's whole cycle for one MsgApp of one
// 128 B entry that also commits it: Step, Ready, append to MemoryStorage,
// apply, Advance (the answer is dropped). The messages are built outside
// the timer, 64 at a time; one op is one message.
func BenchmarkFollowerCycle(b *testing.B) { benchmarkFollowerCycle(b) }

// BenchmarkFollowerCycleLent is BenchmarkFollowerCycle with
// Config.LendReadyMessages.
func BenchmarkFollowerCycleLent(b *testing.B) {
	benchmarkFollowerCycle(b, func(c *raft.Config) { c.LendReadyMessages = true })
}

func benchmarkFollowerCycle(b *testing.B, configure ...func(*raft.Config)) {
	f := newBenchNode(b, 1, []uint64{1, 2, 3}, configure...)
	data := make([]byte, 128)
	msgs := make([]pb.Message, 64)
	index, logTerm := uint64(1), uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		b.StopTimer()
		k := min(len(msgs), b.N-i)
		for j := range msgs[:k] {
			ents := []pb.Entry{{Term: 2, Index: index + 1, Data: data}}
			msgs[j] = pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: logTerm, Index: index, Commit: index + 1, Entries: ents}
			index, logTerm = index+1, 2
		}
		b.StartTimer()
		for j := range msgs[:k] {
			if err := f.Step(msgs[j]); err != nil {
				b.Fatal(err)
			}
			for f.HasReady() {
				f.handle(b, nil)
			}
		}
		i += k
	}
	b.StopTimer()
	if f.applied != b.N {
		b.Fatalf("applied %d entries, want %d", f.applied, b.N)
	}
}

func BenchmarkStepMsgAppFollower(b *testing.B) {
	for _, n := range []int{1, 32} {
		b.Run(map[int]string{1: "entries=1", 32: "entries=32"}[n], func(b *testing.B) {
			f := newBenchNode(b, 1, []uint64{1, 2, 3})
			data := make([]byte, 128)
			msgs := make([]pb.Message, 64)
			index, logTerm := uint64(1), uint64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				b.StopTimer()
				k := min(len(msgs), b.N-i)
				for j := range msgs[:k] {
					ents := make([]pb.Entry, n)
					for e := range ents {
						ents[e] = pb.Entry{Term: 2, Index: index + 1 + uint64(e), Data: data}
					}
					msgs[j] = pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: logTerm, Index: index, Commit: index, Entries: ents}
					index, logTerm = index+uint64(n), 2
				}
				b.StartTimer()
				for j := range msgs[:k] {
					if err := f.Step(msgs[j]); err != nil {
						b.Fatal(err)
					}
				}
				i += k
				b.StopTimer()
				for f.HasReady() {
					f.handle(b, nil)
				}
				b.StartTimer()
			}
		})
	}
}

// newBenchLeader returns node 1 leading voters 1, 2, 3 whose followers are
// simulated and have acknowledged its first entry.
func newBenchLeader(b *testing.B) *benchNode {
	n := newBenchNode(b, 1, []uint64{1, 2, 3})
	_ = n.Campaign()
	for n.HasReady() {
		n.handle(b, nil)
	}
	_ = n.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: 1})
	for n.HasReady() {
		n.handle(b, nil)
	}
	_ = n.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2})
	_ = n.Step(pb.Message{Type: pb.MsgAppResp, From: 3, To: 1, Term: 1, Index: 2})
	for n.HasReady() {
		n.handle(b, nil)
	}
	if n.BasicStatus().RaftState != raft.StateLeader {
		b.Fatal("not leader")
	}
	return n
}

func BenchmarkStepMsgAppRespLeader(b *testing.B) {
	n := newBenchLeader(b)
	data := make([]byte, 128)
	index := uint64(2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		b.StopTimer()
		k := min(64, b.N-i)
		for j := 0; j < k; j++ {
			_ = n.Propose(data)
		}
		for n.HasReady() {
			n.handle(b, nil)
		}
		b.StartTimer()
		for j := 0; j < k; j++ {
			_ = n.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 1, Index: index + uint64(j) + 1})
		}
		b.StopTimer()
		index += uint64(k)
		_ = n.Step(pb.Message{Type: pb.MsgAppResp, From: 3, To: 1, Term: 1, Index: index})
		for n.HasReady() {
			n.handle(b, nil)
		}
		i += k
		b.StartTimer()
	}
}

// BenchmarkIdleGroups holds 10,000 idle three-voter groups led locally and
// reports the heap bytes each holds (B/rawnode, storage included) and the
// cost of ticking them. With RAFTKIT_IDLE_HEAPPROFILE=file it also writes
// an in-use heap profile, sampling every allocation, while the groups are
// alive (go tool pprof -sample_index=inuse_space file): the profile that
// -memprofile writes is taken after they are freed.
func BenchmarkIdleGroups(b *testing.B) {
	const groups = 10000
	profile := os.Getenv("RAFTKIT_IDLE_HEAPPROFILE")
	if profile != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	nodes := make([]*benchNode, groups)
	for i := range nodes {
		nodes[i] = newBenchLeader(b)
		for t := 0; t < 10; t++ {
			nodes[i].Tick()
			for nodes[i].HasReady() {
				nodes[i].handle(b, nil)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if profile != "" {
		writeHeapProfile(b, profile)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range nodes {
			n.Tick()
			if n.HasReady() {
				n.handle(b, nil)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/groups, "ns/tick")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/groups, "B/rawnode")
	runtime.KeepAlive(nodes)
}

// BenchmarkIdleGroupsThreeNodes holds 2,000 idle three-voter groups whose
// three RawNodes are all local, and reports the heap bytes per group
// (B/group, storage and the test's message queues included). Per op it
// ticks every node once and delivers the heartbeats. With
// RAFTKIT_IDLE_HEAPPROFILE=file it writes an in-use heap profile as
// BenchmarkIdleGroups does.
func BenchmarkIdleGroupsThreeNodes(b *testing.B) {
	const groups = 2000
	profile := os.Getenv("RAFTKIT_IDLE_HEAPPROFILE")
	if profile != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	tick := func(c *benchCluster) {
		for _, n := range c.nodes {
			n.Tick()
		}
		c.pump(b)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	clusters := make([]*benchCluster, groups)
	for i := range clusters {
		clusters[i] = newBenchCluster(b, 3)
		for t := 0; t < 10; t++ {
			tick(clusters[i])
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if profile != "" {
		writeHeapProfile(b, profile)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range clusters {
			tick(c)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/groups, "ns/tick")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/groups, "B/group")
	runtime.KeepAlive(clusters)
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkReadIndex(b *testing.B) {
	c := newBenchCluster(b, 3)
	ctxs := make([][]byte, 8)
	for i := range ctxs {
		ctxs[i] = binary.BigEndian.AppendUint64(nil, uint64(i+1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		k := min(len(ctxs), b.N-i)
		for _, ctx := range ctxs[:k] {
			c.nodes[0].ReadIndex(ctx)
		}
		c.pump(b)
		i += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkReadIndexMode compares lease reads with ReadOnlySafe on a
// three-voter cluster, one read at a time: reads/s and the messages sent
// per read, heartbeats included. The leader ticks once every 16 reads (the
// clock moving one TickInterval per tick), which keeps its lease fresh.
func BenchmarkReadIndexMode(b *testing.B) {
	for _, mode := range []struct {
		name string
		opt  raft.ReadOnlyOption
	}{{"safe", raft.ReadOnlySafe}, {"lease", raft.ReadOnlyLeaseBased}} {
		b.Run(mode.name, func(b *testing.B) {
			now := time.Unix(1000, 0)
			c := newBenchCluster(b, 3, func(cfg *raft.Config) {
				cfg.CheckQuorum = true
				cfg.ReadOnlyOption = mode.opt
				cfg.TickInterval = 100 * time.Millisecond
				cfg.Clock = func() time.Time { return now }
			})
			tick := func() {
				now = now.Add(100 * time.Millisecond)
				for _, n := range c.nodes {
					n.Tick()
				}
				c.pump(b)
			}
			tick()
			ctx := []byte("read")
			c.sent = 0
			reads := c.nodes[0].reads
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%16 == 0 {
					tick()
				}
				c.nodes[0].ReadIndex(ctx)
				c.pump(b)
			}
			b.StopTimer()
			if got := c.nodes[0].reads - reads; got != b.N {
				b.Fatalf("%d reads answered, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
			b.ReportMetric(float64(c.sent)/float64(b.N), "msgs/read")
		})
	}
}

func BenchmarkElection(b *testing.B) {
	ticks := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := &benchCluster{
			inbox: make([][][]byte, 5), spare: make([][][]byte, 5),
			ninbox: make([][]pb.Message, 5), nspare: make([][]pb.Message, 5),
		}
		ids := []uint64{1, 2, 3, 4, 5}
		for _, id := range ids {
			conf, _ := benchConfig(b, id, ids)
			conf.PreVote, conf.CheckQuorum = true, true
			rn, err := raft.NewRawNode(conf)
			if err != nil {
				b.Fatal(err)
			}
			c.nodes = append(c.nodes, &benchNode{RawNode: rn, ms: conf.Storage.(*raft.MemoryStorage)})
		}
		for elected := false; !elected; {
			for _, n := range c.nodes {
				n.Tick()
			}
			ticks++
			c.pump(b)
			for _, n := range c.nodes {
				elected = elected || n.BasicStatus().RaftState == raft.StateLeader
			}
		}
	}
	b.ReportMetric(float64(ticks)/float64(b.N), "ticks/election")
}
