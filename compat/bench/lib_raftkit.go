package bench

import (
	"context"
	"sync"

	raft "github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// raftkitLib adapts raftkit. Edit this file, not lib_etcd.go: gen.sh
// derives that one from it.
type raftkitLib struct{}

func (raftkitLib) Name() string { return "raftkit" }

func (raftkitLib) config(o Options) (*raft.Config, *raft.MemoryStorage) {
	o = o.withDefaults()
	ms := raft.NewMemoryStorage()
	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: o.Voters}}}
	if err := ms.ApplySnapshot(snap); err != nil {
		panic(err)
	}
	return &raft.Config{
		ID:              o.ID,
		ElectionTick:    o.ElectionTick,
		HeartbeatTick:   o.HeartbeatTick,
		Storage:         ms,
		MaxSizePerMsg:   o.MaxSizePerMsg,
		MaxInflightMsgs: o.MaxInflightMsgs,
		PreVote:         o.PreVote,
		CheckQuorum:     o.CheckQuorum,
		ReadOnlyOption:  raft.ReadOnlySafe,
		Logger:          raftkitQuiet{},
		// gen.sh drops the next line for etcd, which has no such option.
		LendReadyMessages: o.Lend,
	}, ms
}

func (l raftkitLib) NewRawNode(o Options) RawNode {
	c, ms := l.config(o)
	rn, err := raft.NewRawNode(c)
	if err != nil {
		panic(err)
	}
	n := raftkitRawNode{rn: rn, ms: ms, first: 2}
	if o.Lend {
		return &raftkitLendingRawNode{raftkitRawNode: n}
	}
	return &n
}

func (raftkitLib) MsgApp(from, to, term, logTerm, index, commit uint64, n int, data []byte) any {
	ents := make([]pb.Entry, n)
	for i := range ents {
		ents[i] = pb.Entry{Term: term, Index: index + 1 + uint64(i), Data: data}
	}
	return &pb.Message{Type: pb.MsgApp, From: from, To: to, Term: term, LogTerm: logTerm, Index: index, Commit: commit, Entries: ents}
}

func (raftkitLib) MsgAppResp(from, to, term, index uint64) any {
	return &pb.Message{Type: pb.MsgAppResp, From: from, To: to, Term: term, Index: index}
}

func (raftkitLib) NewMessage() Message { return &pb.Message{} }

func (raftkitLib) MsgAppMessage(n, size int) Message {
	m := &pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 5, LogTerm: 5, Index: 1000, Commit: 990}
	for i := 0; i < n; i++ {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		m.Entries = append(m.Entries, pb.Entry{Term: 5, Index: 1001 + uint64(i), Data: data})
	}
	return m
}

type raftkitRawNode struct {
	rn    *raft.RawNode
	ms    *raft.MemoryStorage
	first uint64 // first index in ms, for compaction
}

// raftkitLendingRawNode is a node with Options.Lend. It has fields of its
// own so that the others stay as small as before (IdleGroupsThreeNodes
// counts the adapters' bytes too).
type raftkitLendingRawNode struct {
	raftkitRawNode
	// lent holds the copies of the messages passed by HandleReadyNative
	// since the last Delivered.
	lent []pb.Message
}

func (n *raftkitRawNode) Tick()                     { n.rn.Tick() }
func (n *raftkitRawNode) Campaign() error           { return n.rn.Campaign() }
func (n *raftkitRawNode) Propose(data []byte) error { return n.rn.Propose(data) }
func (n *raftkitRawNode) ReadIndex(rctx []byte)     { n.rn.ReadIndex(rctx) }
func (n *raftkitRawNode) HasReady() bool            { return n.rn.HasReady() }
func (n *raftkitRawNode) Leader() bool              { return n.rn.BasicStatus().RaftState == raft.StateLeader }
func (n *raftkitRawNode) StepNative(m any) error    { return n.rn.Step(*m.(*pb.Message)) }

func (n *raftkitRawNode) Step(b []byte) error {
	var m pb.Message
	if err := m.Unmarshal(b); err != nil {
		return err
	}
	return n.rn.Step(m)
}

func (n *raftkitRawNode) HandleReady(send func(to uint64, m []byte)) Stats {
	rd := n.rn.Ready()
	n.first = raftkitPersist(n.ms, &rd, send, n.first)
	n.rn.Advance(rd)
	return Stats{Entries: len(rd.Entries), Committed: len(rd.CommittedEntries), Messages: len(rd.Messages), ReadStates: len(rd.ReadStates)}
}

func (n *raftkitRawNode) HandleReadyNative(send func(to uint64, m any)) Stats {
	return n.handleReadyNative(send, nil)
}

// handleReadyNative passes the Ready's messages to send, or, if lent is
// not nil, copies of them appended to *lent: with Options.Lend the array
// is lent until Advance, and the messages are stepped after it. A copy
// left behind by append's growth stays as it is.
func (n *raftkitRawNode) handleReadyNative(send func(to uint64, m any), lent *[]pb.Message) Stats {
	rd := n.rn.Ready()
	n.first = raftkitPersist(n.ms, &rd, nil, n.first)
	for i := range rd.Messages {
		m := &rd.Messages[i]
		if lent != nil {
			*lent = append(*lent, *m)
			m = &(*lent)[len(*lent)-1]
		}
		send(m.To, m)
	}
	n.rn.Advance(rd)
	return Stats{Entries: len(rd.Entries), Committed: len(rd.CommittedEntries), Messages: len(rd.Messages), ReadStates: len(rd.ReadStates)}
}

func (n *raftkitRawNode) Delivered() {}

func (n *raftkitLendingRawNode) HandleReadyNative(send func(to uint64, m any)) Stats {
	return n.handleReadyNative(send, &n.lent)
}

// Delivered makes the copies' array reusable.
func (n *raftkitLendingRawNode) Delivered() { n.lent = n.lent[:0] }

// raftkitPersist does what a Ready asks of a synchronous application and
// returns the storage's new first index. It takes the Ready by pointer:
// a copy of some 300 bytes per Ready is the harness's, not the library's.
func raftkitPersist(ms *raft.MemoryStorage, rd *raft.Ready, send func(uint64, []byte), first uint64) uint64 {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := ms.ApplySnapshot(rd.Snapshot); err != nil {
			panic(err)
		}
	}
	if err := ms.Append(rd.Entries); err != nil {
		panic(err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := ms.SetHardState(rd.HardState); err != nil {
			panic(err)
		}
	}
	if send != nil {
		for i := range rd.Messages {
			b, err := rd.Messages[i].Marshal()
			if err != nil {
				panic(err)
			}
			send(rd.Messages[i].To, b)
		}
	}
	if n := len(rd.CommittedEntries); n > 0 {
		applied := rd.CommittedEntries[n-1].Index
		if applied-first >= compactEvery {
			first = applied - keepEntries
			if err := ms.Compact(first); err != nil {
				panic(err)
			}
		}
	}
	return first
}

func (l raftkitLib) StartNode(o Options, send func(to uint64, m []byte), apply func(n int)) Node {
	c, ms := l.config(o)
	n := &raftkitNode{n: raft.RestartNode(c), stop: make(chan struct{})}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		first := uint64(2)
		for {
			select {
			case rd := <-n.n.Ready():
				first = raftkitPersist(ms, &rd, send, first)
				if len(rd.CommittedEntries) > 0 {
					apply(len(rd.CommittedEntries))
				}
				n.n.Advance()
			case <-n.stop:
				return
			}
		}
	}()
	return n
}

type raftkitNode struct {
	n    raft.Node
	stop chan struct{}
	wg   sync.WaitGroup
}

func (n *raftkitNode) Propose(ctx context.Context, data []byte) error { return n.n.Propose(ctx, data) }
func (n *raftkitNode) ReadIndex(ctx context.Context, rctx []byte) error {
	return n.n.ReadIndex(ctx, rctx)
}
func (n *raftkitNode) Campaign(ctx context.Context) error { return n.n.Campaign(ctx) }
func (n *raftkitNode) Lead() uint64                       { return n.n.Status().Lead }
func (n *raftkitNode) Tick()                              { n.n.Tick() }

func (n *raftkitNode) Step(ctx context.Context, b []byte) error {
	var m pb.Message
	if err := m.Unmarshal(b); err != nil {
		return err
	}
	return n.n.Step(ctx, m)
}

func (n *raftkitNode) Stop() {
	close(n.stop)
	n.wg.Wait()
	n.n.Stop()
}

// raftkitQuiet is a Logger that drops everything but panics.
type raftkitQuiet struct{}

func (raftkitQuiet) Debug(...interface{})            {}
func (raftkitQuiet) Debugf(string, ...interface{})   {}
func (raftkitQuiet) Error(...interface{})            {}
func (raftkitQuiet) Errorf(string, ...interface{})   {}
func (raftkitQuiet) Info(...interface{})             {}
func (raftkitQuiet) Infof(string, ...interface{})    {}
func (raftkitQuiet) Warning(...interface{})          {}
func (raftkitQuiet) Warningf(string, ...interface{}) {}
func (raftkitQuiet) Fatal(v ...interface{})          { panic(v) }
func (raftkitQuiet) Fatalf(f string, v ...interface{}) {
	panic(f)
}
func (raftkitQuiet) Panic(v ...interface{}) { panic(v) }
func (raftkitQuiet) Panicf(f string, v ...interface{}) {
	panic(f)
}
