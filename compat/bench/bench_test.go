package bench

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ourpb "github.com/raftkit/raft/raftpb"
)

// libs are the libraries every scenario runs against, in this order, one
// after the other inside each count of the benchmark: -count=N interleaves
// them N times.
var libs = []Lib{raftkitLib{}, etcdLib{}}

// forEachLib runs f as a sub-benchmark lib=<name> for every library. The
// library is the last element of the name, so benchstat -col /lib puts the
// libraries side by side. Every run of f must stop what it starts: a Node
// loop or a goroutine left running would burn the CPU that the later
// scenarios' cpu-ns/op counts (it is the whole process's), so a run that
// leaves more goroutines than it found fails.
func forEachLib(b *testing.B, f func(b *testing.B, l Lib)) {
	for _, l := range libs {
		l := l
		b.Run("lib="+l.Name(), func(b *testing.B) {
			before := runtime.NumGoroutine()
			f(b, l)
			checkGoroutines(b, before)
		})
	}
}

// checkGoroutines fails b if more than before goroutines still run a
// second from now; those that a scenario stopped may take a moment to
// return.
func checkGoroutines(b *testing.B, before int) {
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			b.Fatalf("%d goroutines left running, %d before the scenario", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}

// settleHeap collects the garbage that the scenarios run before left, so
// that a scenario allocating at every op, whose time includes the
// collections it causes, starts from the same heap whatever ran before it
// in the process. The codec scenarios call it for both libraries, just
// before the measured loop.
func settleHeap() { runtime.GC() }

func payload(size int) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	return data
}

// wire encodes a message with raftkit's raftpb; the bytes are what etcd's
// raftpb produces too (compat/link_test.go proves it), so both libraries
// decode them alike.
func wire(m ourpb.Message) []byte {
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// cluster is a group of RawNodes driven from one goroutine, exchanging
// marshaled messages through per-node queues.
type cluster struct {
	nodes  []RawNode
	queues [][][]byte // queues[i] holds the messages to node i+1
	spare  [][][]byte
	msgs   int // messages sent so far
	// applied[i] counts the entries node i+1 applied.
	applied   []int
	readsDone int
	// native, when set, makes pump pass messages as native values
	// through nqueues instead of marshaled through queues.
	native  bool
	nqueues [][]any
	nspare  [][]any
	// lend is Options.Lend: pump tells the nodes when the native
	// messages they passed have all been stepped (RawNode.Delivered).
	lend bool
	// sendFn and sendNativeFn are c.send and c.sendNative, made once: a
	// method value passed to an interface method escapes, so making it
	// at every Ready cost the harness an allocation per Ready.
	sendFn       func(to uint64, m []byte)
	sendNativeFn func(to uint64, m any)
}

func newCluster(l Lib, n int, o Options) *cluster {
	c := &cluster{queues: make([][][]byte, n), spare: make([][][]byte, n), applied: make([]int, n), lend: o.Lend}
	c.sendFn, c.sendNativeFn = c.send, c.sendNative
	voters := make([]uint64, n)
	for i := range voters {
		voters[i] = uint64(i + 1)
	}
	for i := 0; i < n; i++ {
		o := o
		o.ID, o.Voters = uint64(i+1), voters
		c.nodes = append(c.nodes, l.NewRawNode(o))
	}
	return c
}

func (c *cluster) send(to uint64, m []byte) {
	c.queues[to-1] = append(c.queues[to-1], m)
	c.msgs++
}

func (c *cluster) sendNative(to uint64, m any) {
	c.nqueues[to-1] = append(c.nqueues[to-1], m)
	c.msgs++
}

// pump handles Readies and delivers messages until nothing is left to do.
func (c *cluster) pump() {
	for {
		busy := false
		for i, n := range c.nodes {
			for n.HasReady() {
				busy = true
				var st Stats
				if c.native {
					st = n.HandleReadyNative(c.sendNativeFn)
				} else {
					st = n.HandleReady(c.sendFn)
				}
				c.applied[i] += st.Committed
				c.readsDone += st.ReadStates
			}
		}
		if c.native {
			for i, n := range c.nodes {
				q := c.nqueues[i]
				if len(q) == 0 {
					continue
				}
				busy = true
				c.nqueues[i], c.nspare[i] = c.nspare[i][:0], q
				for j, m := range q {
					_ = n.StepNative(m)
					q[j] = nil
				}
			}
			if c.lend {
				// Step sends nothing: every message passed by the
				// Readies above has been stepped.
				for _, n := range c.nodes {
					n.Delivered()
				}
			}
		}
		for i, n := range c.nodes {
			q := c.queues[i]
			if len(q) == 0 {
				continue
			}
			busy = true
			c.queues[i], c.spare[i] = c.spare[i][:0], q
			for j, m := range q {
				_ = n.Step(m)
				q[j] = nil
			}
		}
		if !busy {
			return
		}
	}
}

// elect makes node 1 campaign and settles the cluster, with its first
// entry committed everywhere.
func (c *cluster) elect(b *testing.B) {
	if err := c.nodes[0].Campaign(); err != nil {
		b.Fatal(err)
	}
	c.pump()
	if !c.nodes[0].Leader() {
		b.Fatal("node 1 did not become leader")
	}
}

// BenchmarkSingleVoterNode proposes 128 B entries through a one-voter Node
// whose Ready loop appends to MemoryStorage and advances: ns and allocs
// per committed proposal.
func BenchmarkSingleVoterNode(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		var applied atomic.Int64
		var target atomic.Int64
		target.Store(-1)
		done := make(chan struct{}, 1)
		n := l.StartNode(Options{ID: 1, Voters: []uint64{1}}, func(uint64, []byte) {}, func(k int) {
			if applied.Add(int64(k)) == target.Load() {
				done <- struct{}{}
			}
		})
		defer n.Stop()
		ctx := context.Background()
		if err := n.Campaign(ctx); err != nil {
			b.Fatal(err)
		}
		for n.Lead() != 1 {
			time.Sleep(time.Millisecond)
		}
		for applied.Load() < 1 { // the leader's empty entry
			time.Sleep(time.Millisecond)
		}
		data := payload(128)
		b.ReportAllocs()
		b.ResetTimer()
		target.Store(applied.Load() + int64(b.N))
		for i := 0; i < b.N; i++ {
			if err := n.Propose(ctx, data); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
	})
}

// BenchmarkSingleVoterRawNodeBatch64 proposes 64 entries of 128 B to a
// one-voter RawNode per Ready: ns and allocs per proposal.
func BenchmarkSingleVoterRawNodeBatch64(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		c := newCluster(l, 1, Options{})
		c.elect(b)
		rn := c.nodes[0]
		data := payload(128)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; {
			for k := 0; k < 64 && i < b.N; k, i = k+1, i+1 {
				if err := rn.Propose(data); err != nil {
					b.Fatal(err)
				}
			}
			for rn.HasReady() {
				rn.HandleReady(nil)
			}
		}
	})
}

// BenchmarkThreeRawNodes runs three RawNodes in one goroutine, exchanging
// marshaled messages; the leader proposes batches of 64 entries. One op is
// one entry committed and applied on all three nodes.
func BenchmarkThreeRawNodes(b *testing.B) {
	for _, size := range []int{128, 1024} {
		b.Run("payload="+itoa(size), func(b *testing.B) {
			forEachLib(b, func(b *testing.B, l Lib) {
				c := newCluster(l, 3, Options{})
				c.elect(b)
				start := append([]int(nil), c.applied...)
				data := payload(size)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; {
					for k := 0; k < 64 && i < b.N; k, i = k+1, i+1 {
						if err := c.nodes[0].Propose(data); err != nil {
							b.Fatal(err)
						}
					}
					c.pump()
				}
				b.StopTimer()
				for j := range c.applied {
					if c.applied[j]-start[j] != b.N {
						b.Fatalf("node %d applied %d entries, want %d", j+1, c.applied[j]-start[j], b.N)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
				b.ReportMetric(float64(c.msgs)/float64(b.N), "msgs/entry")
			})
		})
	}
}

// BenchmarkThreeRawNodesSequential is a sequential client of three
// RawNodes: one 128 B proposal at a time, carried through the Readies of
// all three (messages delivered, storage appended, entries applied) until
// nothing is left to do, the leader having applied it. One op is one
// entry. With transport=wire the messages are marshaled and unmarshaled,
// with transport=native they are passed as values, so that the raft's own
// allocations show without the codec's. With messages=lent the nodes run
// with Options.Lend (raftkit's Config.LendReadyMessages; nothing for
// etcd): the native transport then passes copies of the messages, which
// the adapter reuses once they are stepped, in both libraries.
func BenchmarkThreeRawNodesSequential(b *testing.B) {
	for _, v := range []struct {
		name         string
		native, lend bool
	}{
		{"transport=wire", false, false},
		{"transport=native", true, false},
		{"transport=wire/messages=lent", false, true},
		{"transport=native/messages=lent", true, true},
	} {
		b.Run(v.name, func(b *testing.B) { benchmarkSequential(b, v.native, v.lend) })
	}
}

func benchmarkSequential(b *testing.B, native, lend bool) {
	forEachLib(b, func(b *testing.B, l Lib) {
		c := newCluster(l, 3, Options{Lend: lend})
		c.native = native
		c.nqueues, c.nspare = make([][]any, 3), make([][]any, 3)
		c.elect(b)
		start := c.applied[0]
		data := payload(128)
		var cpu cpuTimer
		b.ReportAllocs()
		b.ResetTimer()
		cpu.Start()
		for i := 0; i < b.N; i++ {
			if err := c.nodes[0].Propose(data); err != nil {
				b.Fatal(err)
			}
			c.pump()
		}
		cpu.Report(b)
		b.StopTimer()
		if got := c.applied[0] - start; got != b.N {
			b.Fatalf("the leader applied %d entries, want %d", got, b.N)
		}
		b.ReportMetric(float64(c.msgs)/float64(b.N), "msgs/entry")
	})
}

// BenchmarkThreeRawNodesRound64 is BenchmarkThreeRawNodes with 128 B
// entries counted per round: one op is 64 proposals carried until all
// three nodes have applied them, so allocs/op is allocs per round.
func BenchmarkThreeRawNodesRound64(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		c := newCluster(l, 3, Options{})
		c.elect(b)
		start := c.applied[0]
		data := payload(128)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for k := 0; k < 64; k++ {
				if err := c.nodes[0].Propose(data); err != nil {
					b.Fatal(err)
				}
			}
			c.pump()
		}
		b.StopTimer()
		if got := c.applied[0] - start; got != 64*b.N {
			b.Fatalf("the leader applied %d entries, want %d", got, 64*b.N)
		}
	})
}

// BenchmarkThreeNodes runs three Nodes, each with its goroutine and a
// Ready loop, over a channel transport; four goroutines propose 128 B
// entries to the leader. One op is one entry applied on all three.
func BenchmarkThreeNodes(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		const proposers = 4
		var (
			nodes   [3]Node
			inboxes [3]chan []byte
			applied [3]atomic.Int64
			wg      sync.WaitGroup
			stop    = make(chan struct{})
		)
		ctx := context.Background()
		for i := range inboxes {
			inboxes[i] = make(chan []byte, 4096)
		}
		send := func(to uint64, m []byte) {
			select {
			case inboxes[to-1] <- m:
			case <-stop:
			}
		}
		for i := range nodes {
			i := i
			nodes[i] = l.StartNode(Options{ID: uint64(i + 1), Voters: []uint64{1, 2, 3}}, send,
				func(k int) { applied[i].Add(int64(k)) })
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case m := <-inboxes[i]:
						_ = nodes[i].Step(ctx, m)
					case <-stop:
						return
					}
				}
			}()
		}
		defer func() {
			close(stop)
			wg.Wait()
			for _, n := range nodes {
				n.Stop()
			}
		}()
		if err := nodes[0].Campaign(ctx); err != nil {
			b.Fatal(err)
		}
		waitFor(b, func() bool {
			return nodes[0].Lead() == 1 && applied[0].Load() >= 1 && applied[1].Load() >= 1 && applied[2].Load() >= 1
		})
		var start [3]int64
		for i := range start {
			start[i] = applied[i].Load()
		}
		data := payload(128)
		b.ReportAllocs()
		b.ResetTimer()
		var pw sync.WaitGroup
		for p := 0; p < proposers; p++ {
			k := b.N / proposers
			if p < b.N%proposers {
				k++
			}
			pw.Add(1)
			go func() {
				defer pw.Done()
				for j := 0; j < k; j++ {
					if err := nodes[0].Propose(ctx, data); err != nil {
						panic(err)
					}
				}
			}()
		}
		pw.Wait()
		// The followers learn the last commit index from the leader's
		// heartbeats, as in a deployment: tick the leader (only, so that
		// nobody campaigns) while waiting. Without ticks, etcd raft does
		// not always send the final commit index (a paused follower is
		// not sent an empty append), and the run could stall.
		lastTick := time.Now()
		waitFor(b, func() bool {
			if time.Since(lastTick) > time.Millisecond {
				nodes[0].Tick()
				lastTick = time.Now()
			}
			for i := range applied {
				if applied[i].Load()-start[i] < int64(b.N) {
					return false
				}
			}
			return true
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// idleGroups is the number of groups of BenchmarkIdleGroups.
const idleGroups = 10000

// newIdleLeader returns a RawNode that leads a three-voter group, with its
// first entry committed and acknowledged by both (simulated) followers.
func newIdleLeader(b *testing.B, l Lib, voteResp, appResp2, appResp3 []byte) RawNode {
	rn := l.NewRawNode(Options{ID: 1, Voters: []uint64{1, 2, 3}})
	if err := rn.Campaign(); err != nil {
		b.Fatal(err)
	}
	for rn.HasReady() {
		rn.HandleReady(nil)
	}
	if err := rn.Step(voteResp); err != nil {
		b.Fatal(err)
	}
	for rn.HasReady() {
		rn.HandleReady(nil)
	}
	_ = rn.Step(appResp2)
	_ = rn.Step(appResp3)
	for rn.HasReady() {
		rn.HandleReady(nil)
	}
	if !rn.Leader() {
		b.Fatal("not leader")
	}
	return rn
}

// BenchmarkIdleGroups holds 10,000 three-voter groups whose leader is
// local and idle (HeartbeatTick 1, ElectionTick 10, as etcd's server
// configures them). It reports the heap bytes per RawNode (MemoryStorage
// included, measured after ten idle ticks) and, per op, ticks every group once and handles the Readies
// the ticks produce (heartbeats, dropped): ns per tick per RawNode.
func BenchmarkIdleGroups(b *testing.B) {
	voteResp := wire(ourpb.Message{Type: ourpb.MsgVoteResp, From: 2, To: 1, Term: 1})
	appResp2 := wire(ourpb.Message{Type: ourpb.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2})
	appResp3 := wire(ourpb.Message{Type: ourpb.MsgAppResp, From: 3, To: 1, Term: 1, Index: 2})
	forEachLib(b, func(b *testing.B, l Lib) {
		groups := make([]RawNode, idleGroups)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range groups {
			groups[i] = newIdleLeader(b, l, voteResp, appResp2, appResp3)
			// Idle for an election timeout, as groups at rest are.
			for t := 0; t < 10; t++ {
				groups[i].Tick()
				for groups[i].HasReady() {
					groups[i].HandleReady(nil)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perNode := float64(after.HeapAlloc-before.HeapAlloc) / idleGroups
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, rn := range groups {
				rn.Tick()
				if rn.HasReady() {
					rn.HandleReady(nil)
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/idleGroups, "ns/tick")
		b.ReportMetric(perNode, "B/rawnode")
		runtime.KeepAlive(groups)
	})
}

// idleThreeNodeGroups is the number of groups of
// BenchmarkIdleGroupsThreeNodes.
const idleThreeNodeGroups = 2000

// BenchmarkIdleGroupsThreeNodes holds 2,000 idle three-voter groups whose
// three RawNodes are all local, elected and settled, and reports the heap
// bytes each group holds (three RawNodes and their MemoryStorages,
// measured after ten idle ticks). Per op, it ticks every node of every
// group once and delivers the heartbeats: ns per tick per group.
func BenchmarkIdleGroupsThreeNodes(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		// scratch delivers the messages of one group at a time.
		scratch := newCluster(l, 0, Options{})
		scratch.queues, scratch.spare, scratch.applied = make([][][]byte, 3), make([][][]byte, 3), make([]int, 3)
		groups := make([][3]RawNode, idleThreeNodeGroups)
		tick := func(g *[3]RawNode) {
			scratch.nodes = g[:]
			for _, n := range g {
				n.Tick()
			}
			scratch.pump()
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range groups {
			c := newCluster(l, 3, Options{})
			c.elect(b)
			copy(groups[i][:], c.nodes)
			for t := 0; t < 10; t++ {
				tick(&groups[i])
			}
		}
		scratch.nodes = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		perGroup := float64(after.HeapAlloc-before.HeapAlloc) / idleThreeNodeGroups
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for g := range groups {
				tick(&groups[g])
			}
		}
		b.StopTimer()
		for g := range groups {
			if !groups[g][0].Leader() {
				b.Fatalf("group %d lost its leader", g)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/idleThreeNodeGroups, "ns/tick")
		b.ReportMetric(perGroup, "B/group")
		runtime.KeepAlive(groups)
	})
}

// stepChunk is the number of messages built, untimed, between two timed
// runs of Step; the node handles its Readies, untimed, after each chunk.
const stepChunk = 64

// BenchmarkStepMsgAppFollower steps MsgApp messages with 1 and 32 entries
// of 128 B into a follower: ns and allocs per message. The messages are
// built outside the timer, so allocs/op counts only the library's own
// allocations, beyond the entries.
func BenchmarkStepMsgAppFollower(b *testing.B) {
	for _, n := range []int{1, 32} {
		b.Run("entries="+itoa(n), func(b *testing.B) {
			forEachLib(b, func(b *testing.B, l Lib) {
				rn := l.NewRawNode(Options{ID: 1, Voters: []uint64{1, 2, 3}})
				data := payload(128)
				msgs := make([]any, stepChunk)
				index, logTerm := uint64(1), uint64(1)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; {
					b.StopTimer()
					k := min(stepChunk, b.N-i)
					for j := 0; j < k; j++ {
						msgs[j] = l.MsgApp(2, 1, 2, logTerm, index, index, n, data)
						index, logTerm = index+uint64(n), 2
					}
					b.StartTimer()
					for j := 0; j < k; j++ {
						if err := rn.StepNative(msgs[j]); err != nil {
							b.Fatal(err)
						}
					}
					i += k
					b.StopTimer()
					for rn.HasReady() {
						rn.HandleReady(nil)
					}
					b.StartTimer()
				}
			})
		})
	}
}

// BenchmarkFollowerCycle is a follower's whole cycle for one MsgApp of
// one 128 B entry that also commits it: Step, Ready, append to
// MemoryStorage, apply, Advance (the answer to the leader is dropped,
// not marshaled). The messages are built outside the timer, 64 at a time;
// one op is one message. messages=lent runs the follower with
// Options.Lend (raftkit's Config.LendReadyMessages; nothing for etcd): the
// dropped answer never outlives its Ready.
func BenchmarkFollowerCycle(b *testing.B) {
	benchmarkFollowerCycle(b, false)
	b.Run("messages=lent", func(b *testing.B) { benchmarkFollowerCycle(b, true) })
}

func benchmarkFollowerCycle(b *testing.B, lend bool) {
	forEachLib(b, func(b *testing.B, l Lib) {
		rn := l.NewRawNode(Options{ID: 1, Voters: []uint64{1, 2, 3}, Lend: lend})
		data := payload(128)
		msgs := make([]any, stepChunk)
		index, logTerm := uint64(1), uint64(1)
		applied := 0
		var cpu cpuTimer
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; {
			b.StopTimer()
			k := min(stepChunk, b.N-i)
			for j := 0; j < k; j++ {
				msgs[j] = l.MsgApp(2, 1, 2, logTerm, index, index+1, 1, data)
				index, logTerm = index+1, 2
			}
			b.StartTimer()
			cpu.Start()
			for j := 0; j < k; j++ {
				if err := rn.StepNative(msgs[j]); err != nil {
					b.Fatal(err)
				}
				for rn.HasReady() {
					applied += rn.HandleReady(nil).Committed
				}
			}
			cpu.Stop()
			i += k
		}
		cpu.Report(b)
		b.StopTimer()
		if applied != b.N {
			b.Fatalf("applied %d entries, want %d", applied, b.N)
		}
	})
}

// BenchmarkStepMsgAppRespLeader steps acknowledgements, one index at a
// time, into the leader of three voters whose log holds the entries:
// ns and allocs per message. Each acknowledgement commits an entry.
func BenchmarkStepMsgAppRespLeader(b *testing.B) {
	voteResp := wire(ourpb.Message{Type: ourpb.MsgVoteResp, From: 2, To: 1, Term: 1})
	appResp2 := wire(ourpb.Message{Type: ourpb.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2})
	appResp3 := wire(ourpb.Message{Type: ourpb.MsgAppResp, From: 3, To: 1, Term: 1, Index: 2})
	forEachLib(b, func(b *testing.B, l Lib) {
		rn := newIdleLeader(b, l, voteResp, appResp2, appResp3)
		data := payload(128)
		msgs := make([]any, stepChunk)
		index := uint64(2)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; {
			b.StopTimer()
			k := min(stepChunk, b.N-i)
			for j := 0; j < k; j++ {
				if err := rn.Propose(data); err != nil {
					b.Fatal(err)
				}
			}
			for rn.HasReady() {
				rn.HandleReady(nil)
			}
			for j := 0; j < k; j++ {
				msgs[j] = l.MsgAppResp(2, 1, 1, index+uint64(j)+1)
			}
			b.StartTimer()
			for j := 0; j < k; j++ {
				if err := rn.StepNative(msgs[j]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = rn.StepNative(l.MsgAppResp(3, 1, 1, index+uint64(k)))
			index += uint64(k)
			i += k
			for rn.HasReady() {
				rn.HandleReady(nil)
			}
			b.StartTimer()
		}
	})
}

// cloneSink keeps the clones of BenchmarkCodec alive, so that the
// compiler cannot drop them.
var cloneSink []byte

// BenchmarkCodec marshals and unmarshals a MsgApp with 16 entries of
// 128 B, beside a plain copy of its encoding into a reused buffer (the
// floor of MarshalTo) and an allocating copy, a clone (the floor of
// Marshal, which returns a new slice). MB/s is computed over the encoded
// size. Each library's loop starts after a collection (settleHeap), so
// that the garbage of the scenarios run before is not collected, and
// counted, in the first library's loop.
func BenchmarkCodec(b *testing.B) {
	b.Run("op=copy", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			src, _ := l.MsgAppMessage(16, 128).Marshal()
			dst := make([]byte, len(src))
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(dst, src)
			}
		})
	})
	b.Run("op=clone", func(b *testing.B) {
		// The floor of Marshal, which returns a new slice: allocate and
		// copy the encoding.
		forEachLib(b, func(b *testing.B, l Lib) {
			src, _ := l.MsgAppMessage(16, 128).Marshal()
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cloneSink = append([]byte(nil), src...)
			}
		})
	})
	b.Run("op=marshal", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			m := l.MsgAppMessage(16, 128)
			b.SetBytes(int64(m.Size()))
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("op=marshalto", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			m := l.MsgAppMessage(16, 128)
			buf := make([]byte, m.Size())
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.MarshalTo(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("op=unmarshal", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			src, _ := l.MsgAppMessage(16, 128).Marshal()
			m := l.NewMessage()
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Reset()
				if err := m.Unmarshal(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkCodecMsgApp64x128 marshals and unmarshals a MsgApp with 64
// entries of 128 B (9 KB encoded), beside the clone, the floor of
// Marshal. MB/s is computed over the encoded size. As in BenchmarkCodec,
// each library's loop starts after a collection (settleHeap). The heap is
// then some 0.4 MB live: the collector runs every 4 MB allocated, some
// 450 ops, and its work (and the page faults of the memory it returns to
// the system and takes back) is counted in cpu-ns/op, alike for both
// libraries, since they allocate the same bytes.
func BenchmarkCodecMsgApp64x128(b *testing.B) {
	b.Run("op=clone", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			src, _ := l.MsgAppMessage(64, 128).Marshal()
			b.SetBytes(int64(len(src)))
			var cpu cpuTimer
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			cpu.Start()
			for i := 0; i < b.N; i++ {
				cloneSink = append([]byte(nil), src...)
			}
			cpu.Report(b)
		})
	})
	b.Run("op=marshal", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			m := l.MsgAppMessage(64, 128)
			b.SetBytes(int64(m.Size()))
			var cpu cpuTimer
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			cpu.Start()
			for i := 0; i < b.N; i++ {
				var err error
				if cloneSink, err = m.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	})
	b.Run("op=marshalto", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			m := l.MsgAppMessage(64, 128)
			buf := make([]byte, m.Size())
			b.SetBytes(int64(len(buf)))
			var cpu cpuTimer
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			cpu.Start()
			for i := 0; i < b.N; i++ {
				if _, err := m.MarshalTo(buf); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	})
	b.Run("op=unmarshal", func(b *testing.B) {
		forEachLib(b, func(b *testing.B, l Lib) {
			src, _ := l.MsgAppMessage(64, 128).Marshal()
			m := l.NewMessage()
			b.SetBytes(int64(len(src)))
			var cpu cpuTimer
			b.ReportAllocs()
			settleHeap()
			b.ResetTimer()
			cpu.Start()
			for i := 0; i < b.N; i++ {
				m.Reset()
				if err := m.Unmarshal(src); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	})
}

// BenchmarkReadIndex serves linearizable reads (ReadOnlySafe) on the
// leader of three RawNodes in one goroutine, 8 outstanding at a time: one
// op is one read answered.
func BenchmarkReadIndex(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		c := newCluster(l, 3, Options{})
		c.elect(b)
		ctxs := make([][]byte, 8)
		for i := range ctxs {
			ctxs[i] = binary.BigEndian.AppendUint64(nil, uint64(i+1))
		}
		c.readsDone = 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; {
			k := min(len(ctxs), b.N-i)
			for j := 0; j < k; j++ {
				c.nodes[0].ReadIndex(ctxs[j])
			}
			c.pump()
			i += k
		}
		b.StopTimer()
		if c.readsDone != b.N {
			b.Fatalf("%d reads answered, want %d", c.readsDone, b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	})
}

// BenchmarkElection starts five voters with PreVote and CheckQuorum and
// ticks them all, delivering every message, until one leads: one op is one
// election from a cold start (nodes created included). It reports the
// ticks and the messages it took.
func BenchmarkElection(b *testing.B) {
	forEachLib(b, func(b *testing.B, l Lib) {
		ticks, msgs := 0, 0
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			c := newCluster(l, 5, Options{PreVote: true, CheckQuorum: true})
			for elected := false; !elected; {
				for _, n := range c.nodes {
					n.Tick()
				}
				ticks++
				c.pump()
				for _, n := range c.nodes {
					elected = elected || n.Leader()
				}
			}
			msgs += c.msgs
		}
		b.ReportMetric(float64(ticks)/float64(b.N), "ticks/election")
		b.ReportMetric(float64(msgs)/float64(b.N), "msgs/election")
	})
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}
