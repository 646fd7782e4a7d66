// Package mixed runs simulated raft clusters whose nodes mix this library
// (raftkit) and etcd raft v3.6.0, on the rafttest simulator, with every
// rafttest check on. It holds the adapter that lets an etcd raft RawNode
// join a rafttest cluster, a NodeFactory that picks the library per node,
// and a rolling upgrade that replaces a running node's library by the
// other one over the same persisted state.
//
// Both adapters (adapter_raftkit.go and the generated adapter_etcd.go) are
// the same code: every value that crosses from the simulator to a node, or
// back, is marshaled by one library's raftpb and unmarshaled by the
// other's, so the tests also pin the wire format.
//
// Run clusters through Run rather than rafttest.Run: etcd raft reads
// crypto/rand.Reader for its election timeouts, and Run points that reader
// at the run's seeded source so that mixed runs replay (see Run).
//
// The tests run a fixed set of seeds; for a soak, give the number of seeds
// per split (and per configuration of the other tests):
//
//	go test ./mixed -mixed.seeds=1000 -timeout 0
//
// and to replay one failing run with a long trace:
//
//	go test ./mixed -run TestReplay -mixed.replay=SEED -mixed.split=0bMASK
//
// where bit id-1 of MASK set makes node id an etcd node; add
// -mixed.losetail=0.5 (and -mixed.tailonly for TailLoss) to replay a run
// of TestMixedLostTails, in which raftkit nodes lose the tails of their
// logs (only raftkit nodes: etcd raft cannot restart over a lost tail).
package mixed

import (
	"errors"
	"fmt"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// Kind names a raft implementation.
type Kind int

const (
	// Raftkit is this library.
	Raftkit Kind = iota
	// Etcd is go.etcd.io/raft/v3 v3.6.0.
	Etcd
)

// String returns "raftkit" or "etcd", the names used in test and log
// output.
func (k Kind) String() string {
	switch k {
	case Raftkit:
		return "raftkit"
	case Etcd:
		return "etcd"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Extra holds the raft options that rafttest.NodeConfig does not carry.
type Extra struct {
	// MaxUncommittedEntriesSize caps a leader's uncommitted tail; 0 means
	// no cap.
	MaxUncommittedEntriesSize uint64
}

// NewNode builds a node of the given kind over cfg.Disk. A raftkit node
// without extra options is rafttest.NewRawNode's; with extra options it
// comes from this package's own adapter.
func NewNode(kind Kind, cfg rafttest.NodeConfig, x Extra) (rafttest.Node, error) {
	switch kind {
	case Raftkit:
		if x == (Extra{}) {
			return rafttest.NewRawNode(cfg)
		}
		return newKitNode(cfg, x)
	case Etcd:
		return newEtcdNode(cfg, x)
	}
	return nil, fmt.Errorf("mixed: unknown kind %d", int(kind))
}

// Split assigns a kind to each node ID: bit id-1 of Etcd set means etcd.
type Split struct {
	// Etcd is the bit mask of the etcd nodes.
	Etcd uint64
}

// KindOf returns the kind of node id.
func (s Split) KindOf(id uint64) Kind {
	if id >= 1 && id <= 64 && s.Etcd&(1<<(id-1)) != 0 {
		return Etcd
	}
	return Raftkit
}

// String lists the kinds of nodes 1..n, "k" for raftkit and "e" for etcd.
func (s Split) String(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'k'
		if s.KindOf(uint64(i+1)) == Etcd {
			b[i] = 'e'
		}
	}
	return string(b)
}

// Stats is what a cluster saw of its nodes, by kind.
type Stats struct {
	// Led counts the terms led by a node of each kind.
	Led [2]int
	// Reads counts the ReadIndex answers handed out, by the kind of the
	// node that served the read and the kind of the leader it knew.
	Reads [2][2]int
	// FollowerReads counts those among Reads that a follower served, its
	// read confirmed by a leader of the other kind or its own.
	FollowerReads [2][2]int
	// LeaderDrops counts the proposals a leader of each kind refused,
	// which the uncommitted-size cap (or a pending transfer) causes.
	LeaderDrops [2]int
	// Started counts the nodes started (at start, at restarts and at
	// upgrades) of each kind.
	Started [2]int
	// Swaps counts the live replacements of a node's library.
	Swaps int
	// QuarantineVoteAnswers counts the answers to votes and pre-votes that
	// quarantined raftkit nodes sent (each a rejection, or the run fails).
	QuarantineVoteAnswers int

	led map[uint64]bool
}

// Add adds other's counts to s.
func (s *Stats) Add(o Stats) {
	for k := 0; k < 2; k++ {
		s.Led[k] += o.Led[k]
		s.Started[k] += o.Started[k]
		s.LeaderDrops[k] += o.LeaderDrops[k]
		for l := 0; l < 2; l++ {
			s.Reads[k][l] += o.Reads[k][l]
			s.FollowerReads[k][l] += o.FollowerReads[k][l]
		}
	}
	s.Swaps += o.Swaps
	s.QuarantineVoteAnswers += o.QuarantineVoteAnswers
}

// Cluster builds the nodes of one run: its Factory picks each node's kind
// with KindOf, and it counts what the nodes did in Stats. Use a fresh
// Cluster per run.
type Cluster struct {
	// KindOf picks the kind of a node when it starts.
	KindOf func(id uint64) Kind
	// Extra holds options for every node.
	Extra Extra
	// Stats counts what happened.
	Stats Stats
}

// Factory returns the NodeFactory to hand Run.
func (c *Cluster) Factory() rafttest.NodeFactory {
	return func(cfg rafttest.NodeConfig) (rafttest.Node, error) {
		kind := c.KindOf(cfg.ID)
		n, err := NewNode(kind, cfg, c.Extra)
		if err != nil {
			return nil, err
		}
		c.Stats.Started[kind]++
		t := &tracked{Node: n, kind: kind, c: c, disk: cfg.Disk, hs: cfg.Disk.HardState()}
		t.steady = t.quarantined()
		return t, nil
	}
}

// tracked counts a node's leadership and reads in its cluster's Stats,
// and checks that a quarantined raftkit node (raft.Config.RecoverLostState)
// never votes nor campaigns.
type tracked struct {
	rafttest.Node
	kind Kind
	c    *Cluster

	// disk holds the quarantine the node reported (Disk.Recovery).
	disk *rafttest.Disk
	// hs is the last HardState the node handed out.
	hs pb.HardState
	// steady is set while the node has stayed quarantined since its last
	// Ready: every message and HardState of its next Ready then comes
	// from a quarantined node.
	steady bool
}

// quarantined reports whether the node is quarantined now.
func (t *tracked) quarantined() bool {
	rec := t.disk.Recovery()
	return rec != nil && rec.Quarantined
}

// touched notes a call that may have ended the quarantine.
func (t *tracked) touched() {
	if !t.quarantined() {
		t.steady = false
	}
}

func (t *tracked) Tick() {
	t.Node.Tick()
	t.touched()
}

func (t *tracked) Step(data []byte) error {
	err := t.Node.Step(data)
	t.touched()
	return err
}

func (t *tracked) Advance() {
	t.Node.Advance()
	t.touched()
}

// checkQuarantine fails the run (the simulator reports the panic as a
// violation, with the trace) if a node that stayed quarantined since its
// last Ready grants a vote or a pre-vote (rule Q1), records a vote, or
// asks for votes (rule Q2).
func (t *tracked) checkQuarantine(u rafttest.Update) {
	if t.steady && t.quarantined() {
		for _, m := range u.Messages {
			switch m.Type {
			case pb.MsgVoteResp, pb.MsgPreVoteResp:
				t.c.Stats.QuarantineVoteAnswers++
				if !m.Reject {
					panic(fmt.Sprintf("mixed: quarantined node %d granted a vote (Q1): %s to %d at term %d", m.From, m.Type, m.To, m.Term))
				}
			case pb.MsgVote, pb.MsgPreVote:
				panic(fmt.Sprintf("mixed: quarantined node %d campaigned (Q2): %s to %d at term %d", m.From, m.Type, m.To, m.Term))
			}
		}
		if hs := u.HardState; hs.Vote != 0 && (hs.Term != t.hs.Term || hs.Vote != t.hs.Vote) {
			panic(fmt.Sprintf("mixed: quarantined node recorded a vote (Q1): %+v after %+v", hs, t.hs))
		}
	}
	if u.HardState != (pb.HardState{}) {
		t.hs = u.HardState
	}
	t.steady = t.quarantined()
}

func (t *tracked) Status() rafttest.Status {
	st := t.Node.Status()
	t.c.noteStatus(t.kind, st)
	return st
}

func (t *tracked) Propose(data []byte) error {
	err := t.Node.Propose(data)
	if err != nil && t.Node.Status().Role == 2 /* raft.StateLeader */ {
		t.c.Stats.LeaderDrops[t.kind]++
	}
	return err
}

func (t *tracked) Ready() (rafttest.Update, bool) {
	u, ok := t.Node.Ready()
	if ok {
		t.checkQuarantine(u)
	}
	if ok && len(u.ReadStates) > 0 {
		t.c.noteReads(t.kind, t.Node.Status(), len(u.ReadStates))
	}
	return u, ok
}

func (c *Cluster) noteStatus(kind Kind, st rafttest.Status) {
	if st.Role != 2 /* raft.StateLeader */ {
		return
	}
	if c.Stats.led == nil {
		c.Stats.led = map[uint64]bool{}
	}
	if !c.Stats.led[st.Term] {
		c.Stats.led[st.Term] = true
		c.Stats.Led[kind]++
	}
}

func (c *Cluster) noteReads(kind Kind, st rafttest.Status, n int) {
	if st.Lead == 0 {
		return
	}
	lk := c.KindOf(st.Lead)
	c.Stats.Reads[kind][lk] += n
	if st.Lead != st.ID {
		c.Stats.FollowerReads[kind][lk] += n
	}
}

// committedSizePerReady is the MaxCommittedSizePerReady both adapters
// use: the default (MaxSizePerMsg) except when MaxSizePerMsg is 0, where
// etcd raft v3.6.0 would never hand out a committed entry (see
// TestZeroCommittedSizePerReady) and 1 means one entry at a time.
func committedSizePerReady(cfg rafttest.NodeConfig) uint64 {
	if cfg.MaxSizePerMsg == 0 {
		return 1
	}
	return cfg.MaxSizePerMsg
}

var errUnknownConfChange = errors.New("mixed: unknown conf change type")

// wire is what both libraries' generated raftpb types offer.
type wire interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// convert copies src into dst through the wire encoding. The two
// libraries' types are wire-identical, so a failure is a broken invariant.
func convert(dst, src wire) {
	data, err := src.Marshal()
	if err != nil {
		panic(fmt.Sprintf("mixed: marshal %T: %v", src, err))
	}
	if err := dst.Unmarshal(data); err != nil {
		panic(fmt.Sprintf("mixed: unmarshal %T into %T: %v", src, dst, err))
	}
}

// decodeConfChange reads the conf change of a committed entry.
func decodeConfChange(e pb.Entry) (pb.ConfChangeV2, error) {
	switch e.Type {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return pb.ConfChangeV2{}, err
		}
		return cc.AsV2(), nil
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return pb.ConfChangeV2{}, err
		}
		return cc, nil
	}
	return pb.ConfChangeV2{}, fmt.Errorf("mixed: entry %d is not a conf change", e.Index)
}
