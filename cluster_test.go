package raft

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/require"
)

// testCluster drives RawNodes in one goroutine, following the Ready
// contract: persist, then send (through a marshal round trip), then apply,
// then Advance. Tests cut links and crash nodes between steps.
type testCluster struct {
	t     testing.TB
	ids   []uint64
	nodes map[uint64]*testMember
	// cut holds the directed links that drop messages.
	cut map[[2]uint64]bool
	// down holds crashed nodes: they neither receive nor act.
	down map[uint64]bool
	// inflight are messages sent and not delivered yet.
	inflight []pb.Message
	// drop, if set, drops the messages for which it returns true.
	drop      func(m pb.Message) bool
	configure func(*Config)
	rng       *rand.Rand
	// boot is the configuration the cluster was bootstrapped with.
	boot pb.ConfState
}

type testMember struct {
	rn      *RawNode
	storage *MemoryStorage
	// applied holds the data of the normal entries applied, in order.
	applied []string
	cs      pb.ConfState
	// appliedIndex is the index of the last applied entry.
	appliedIndex uint64
	readStates   []ReadState
}

func newTestConfig(id uint64, election, heartbeat int, storage Storage) *Config {
	return &Config{
		ID:              id,
		ElectionTick:    election,
		HeartbeatTick:   heartbeat,
		Storage:         storage,
		MaxSizePerMsg:   noLimit,
		MaxInflightMsgs: 256,
		Logger:          discardLogger,
	}
}

// newTestCluster starts n voters with IDs 1..n from a bootstrapped ConfState.
func newTestCluster(t testing.TB, n int, configure func(*Config)) *testCluster {
	c := &testCluster{
		t:         t,
		nodes:     make(map[uint64]*testMember),
		cut:       make(map[[2]uint64]bool),
		down:      make(map[uint64]bool),
		configure: configure,
		rng:       rand.New(rand.NewSource(1)),
	}
	var voters []uint64
	for i := 1; i <= n; i++ {
		voters = append(voters, uint64(i))
	}
	c.boot = pb.ConfState{Voters: voters}
	for _, id := range voters {
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: voters},
		}}))
		c.addMember(id, s)
	}
	return c
}

func (c *testCluster) addMember(id uint64, s *MemoryStorage) {
	cfg := newTestConfig(id, 10, 1, s)
	if c.configure != nil {
		c.configure(cfg)
	}
	rn, err := NewRawNode(cfg)
	require.NoError(c.t, err)
	// Deterministic election timeouts, different per node.
	rng := rand.New(rand.NewSource(int64(id)))
	rn.raft.setRandIntn(rng.Intn)
	rn.raft.resetRandomizedElectionTimeout()
	_, cs, err := s.InitialState()
	require.NoError(c.t, err)
	m := &testMember{rn: rn, storage: s, cs: cs}
	if old, ok := c.nodes[id]; ok {
		m.applied = old.applied
	}
	snap, _ := s.Snapshot()
	m.appliedIndex = snap.Metadata.Index
	if cfg.Applied > m.appliedIndex {
		m.appliedIndex = cfg.Applied
	}
	c.nodes[id] = m
	found := false
	for _, x := range c.ids {
		found = found || x == id
	}
	if !found {
		c.ids = append(c.ids, id)
	}
}

func (c *testCluster) node(id uint64) *RawNode { return c.nodes[id].rn }

// process handles one Ready of a node, if it has one, and returns whether
// it did.
func (c *testCluster) process(id uint64) bool {
	m := c.nodes[id]
	if c.down[id] {
		return false
	}
	requireRareOnInSync(c.t, m.rn.raft)
	if !m.rn.HasReady() {
		return false
	}
	rd := m.rn.Ready()
	if !IsEmptySnap(rd.Snapshot) {
		require.NoError(c.t, m.storage.ApplySnapshot(rd.Snapshot))
		m.appliedIndex = rd.Snapshot.Metadata.Index
		m.cs = rd.Snapshot.Metadata.ConfState
		m.applied = nil
		require.NoError(c.t, json.Unmarshal(rd.Snapshot.Data, &m.applied))
	}
	require.NoError(c.t, m.storage.Append(rd.Entries))
	if !IsEmptyHardState(rd.HardState) {
		require.NoError(c.t, m.storage.SetHardState(rd.HardState))
	}
	c.inflight = append(c.inflight, rd.Messages...)
	for _, e := range rd.CommittedEntries {
		require.Equal(c.t, m.appliedIndex+1, e.Index, "node %d applies out of order", id)
		m.appliedIndex = e.Index
		switch e.Type {
		case pb.EntryNormal:
			if len(e.Data) > 0 {
				m.applied = append(m.applied, string(e.Data))
			}
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			cc, err := decodeConfChange(e)
			require.NoError(c.t, err)
			m.cs = *m.rn.ApplyConfChange(cc)
		}
	}
	m.readStates = append(m.readStates, rd.ReadStates...)
	m.rn.Advance(rd)
	return true
}

// deliver sends the in-flight messages, through the wire format.
func (c *testCluster) deliver() bool {
	msgs := c.inflight
	c.inflight = nil
	for _, msg := range msgs {
		if c.down[msg.To] || c.down[msg.From] || c.cut[[2]uint64{msg.From, msg.To}] || (c.drop != nil && c.drop(msg)) {
			continue
		}
		dst, ok := c.nodes[msg.To]
		if !ok {
			continue
		}
		b, err := msg.Marshal()
		require.NoError(c.t, err)
		var got pb.Message
		require.NoError(c.t, got.Unmarshal(b))
		_ = dst.rn.Step(got)
	}
	return len(msgs) > 0
}

// stabilize processes and delivers until nothing moves.
func (c *testCluster) stabilize() {
	for i := 0; i < 10000; i++ {
		moved := false
		for _, id := range c.ids {
			if c.process(id) {
				moved = true
			}
		}
		if c.deliver() {
			moved = true
		}
		if !moved {
			return
		}
	}
	c.t.Fatalf("cluster did not stabilize")
}

// tick ticks every live node n times, stabilizing after each tick.
func (c *testCluster) tick(n int) {
	for i := 0; i < n; i++ {
		for _, id := range c.ids {
			if !c.down[id] {
				c.nodes[id].rn.Tick()
			}
		}
		c.stabilize()
	}
}

func (c *testCluster) campaign(id uint64) {
	require.NoError(c.t, c.node(id).Campaign())
	c.stabilize()
}

// leader returns the leader with the highest term among live nodes, or 0.
func (c *testCluster) leader() uint64 {
	var lead, term uint64
	for _, id := range c.ids {
		r := c.node(id).raft
		if !c.down[id] && r.state == StateLeader && r.Term >= term {
			lead, term = id, r.Term
		}
	}
	return lead
}

func (c *testCluster) isolate(id uint64) {
	for _, o := range c.ids {
		if o != id {
			c.cut[[2]uint64{id, o}] = true
			c.cut[[2]uint64{o, id}] = true
		}
	}
}

func (c *testCluster) heal() {
	c.cut = make(map[[2]uint64]bool)
}

// propose proposes through the given node and stabilizes.
func (c *testCluster) propose(id uint64, data string) error {
	err := c.node(id).Propose([]byte(data))
	c.stabilize()
	return err
}

// crash drops a node's volatile state; restart rebuilds it from its storage.
func (c *testCluster) crash(id uint64) { c.down[id] = true }

func (c *testCluster) restart(id uint64) {
	delete(c.down, id)
	old := c.nodes[id]
	old.applied = nil
	c.addMember(id, old.storage)
	c.nodes[id].appliedIndex = func() uint64 { s, _ := old.storage.Snapshot(); return s.Metadata.Index }()
}

// requireSameApplied checks that the live nodes applied the same data.
func (c *testCluster) requireSameApplied(ids ...uint64) []string {
	want := c.nodes[ids[0]].applied
	for _, id := range ids[1:] {
		require.Equal(c.t, want, c.nodes[id].applied, "node %d vs node %d", ids[0], id)
	}
	return want
}

func TestClusterElectsAndReplicates(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := newTestCluster(t, n, nil)
			c.campaign(1)
			require.Equal(t, uint64(1), c.leader())
			for i := 0; i < 10; i++ {
				require.NoError(t, c.propose(1, fmt.Sprintf("v%d", i)))
			}
			got := c.requireSameApplied(c.ids...)
			require.Len(t, got, 10)
			for _, id := range c.ids {
				require.Equal(t, c.node(1).raft.raftLog.committed, c.node(id).raft.raftLog.committed)
			}
		})
	}
}

// compact snapshots a node's applied state and compacts its log.
func (c *testCluster) compact(id uint64) {
	m := c.nodes[id]
	data, err := json.Marshal(m.applied)
	require.NoError(c.t, err)
	_, err = m.storage.CreateSnapshot(m.appliedIndex, &m.cs, data)
	require.NoError(c.t, err)
	require.NoError(c.t, m.storage.Compact(m.appliedIndex))
}

func TestClusterSurvivesPartitionedLeader(t *testing.T) {
	for _, n := range []int{3, 5} {
		for _, prevote := range []bool{false, true} {
			t.Run(fmt.Sprintf("n=%d/prevote=%v", n, prevote), func(t *testing.T) {
				c := newTestCluster(t, n, func(cfg *Config) { cfg.PreVote = prevote; cfg.CheckQuorum = true })
				c.campaign(1)
				require.NoError(t, c.propose(1, "a"))
				c.isolate(1)
				// The old leader keeps accepting, but cannot commit.
				require.NoError(t, c.propose(1, "lost"))
				c.tick(40)
				lead := c.leader()
				require.NotEqual(t, uint64(0), lead)
				require.NotEqual(t, uint64(1), lead)
				// CheckQuorum made the isolated leader step down (it may be
				// campaigning in vain since).
				require.NotEqual(t, StateLeader, c.node(1).raft.state)
				require.NoError(t, c.propose(lead, "b"))
				c.heal()
				c.tick(20)
				require.NoError(t, c.propose(c.leader(), "c"))
				got := c.requireSameApplied(c.ids...)
				require.Equal(t, []string{"a", "b", "c"}, got)
			})
		}
	}
}

func TestClusterCatchesUpFollowerBySnapshot(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	c.crash(3)
	for i := 0; i < 20; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint(i)))
	}
	c.compact(1)
	c.compact(2)
	c.restart(3)
	c.tick(5)
	require.NoError(t, c.propose(1, "z"))
	require.Equal(t, c.nodes[1].applied, c.nodes[3].applied)
	require.Len(t, c.nodes[3].applied, 22)
	snap, err := c.nodes[3].storage.Snapshot()
	require.NoError(t, err)
	require.NotZero(t, snap.Metadata.Index, "node 3 caught up by snapshot")
}

func TestClusterTransfersLeadership(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	c.crash(3)
	require.NoError(t, c.propose(1, "b"))
	c.restart(3)
	// 3 lags: the leader catches it up first, then hands over.
	c.node(1).TransferLeader(3)
	c.stabilize()
	require.Equal(t, uint64(3), c.leader())
	require.NoError(t, c.propose(3, "c"))
	require.Equal(t, []string{"a", "b", "c"}, c.requireSameApplied(c.ids...))
}

func TestClusterServesReadIndex(t *testing.T) {
	for _, opt := range []ReadOnlyOption{ReadOnlySafe, ReadOnlyLeaseBased} {
		t.Run(fmt.Sprint(opt), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReadOnlyOption = opt; cfg.CheckQuorum = true })
			c.campaign(1)
			require.NoError(t, c.propose(1, "a"))
			for _, id := range c.ids {
				c.node(id).ReadIndex([]byte(fmt.Sprint("read", id)))
				c.stabilize()
				rs := c.nodes[id].readStates
				require.Len(t, rs, 1, "node %d", id)
				require.Equal(t, []byte(fmt.Sprint("read", id)), rs[0].RequestCtx)
				require.Equal(t, c.node(1).raft.raftLog.committed, rs[0].Index)
			}
		})
	}
}

// Unit-level helpers: a single node driven by hand.

// testNode is one RawNode whose peers are played by the test: the test steps
// messages into it and reads what it sends with flush.
type testNode struct {
	t testing.TB
	*RawNode
	r *raft
	s *MemoryStorage
	// applied holds every entry the node handed out for application.
	applied []pb.Entry
	// reads holds the ReadStates handed out and not yet taken by
	// readStates.
	reads []ReadState
}

// voters returns a ConfState with the given voters.
func voters(ids ...uint64) pb.ConfState { return pb.ConfState{Voters: ids} }

// newTestStorage returns a storage with an empty log (first index 1) whose
// configuration is cs, followed by ents.
func newTestStorage(t testing.TB, cs pb.ConfState, ents ...pb.Entry) *MemoryStorage {
	s := NewMemoryStorage()
	s.snapshot.Metadata.ConfState = cs
	require.NoError(t, s.Append(ents))
	return s
}

// newTestNode starts node id on s (a fresh storage with configuration cs
// when s is nil), with ElectionTick 10, HeartbeatTick 1, and a randomized
// election timeout of exactly ElectionTick unless a test changes randIntn.
func newTestNode(t testing.TB, id uint64, cs pb.ConfState, s *MemoryStorage, opts ...func(*Config)) *testNode {
	if s == nil {
		s = newTestStorage(t, cs)
	}
	cfg := newTestConfig(id, 10, 1, s)
	for _, o := range opts {
		o(cfg)
	}
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	rn.raft.setRandIntn(func(int) int { return 0 })
	rn.raft.resetRandomizedElectionTimeout()
	return &testNode{t: t, RawNode: rn, r: rn.raft, s: s}
}

// ents returns entries with the given terms at indexes 1, 2, ...
func ents(terms ...uint64) []pb.Entry {
	es := make([]pb.Entry, len(terms))
	for i, term := range terms {
		es[i] = pb.Entry{Index: uint64(i + 1), Term: term}
	}
	return es
}

// flush processes every Ready of the node as an application would
// (persist, apply, Advance, which steps the self-addressed responses) until
// none is left, and returns the messages addressed to others.
func (n *testNode) flush() []pb.Message {
	var out []pb.Message
	requireRareOnInSync(n.t, n.r)
	for i := 0; n.HasReady(); i++ {
		require.Less(n.t, i, 100, "node does not settle")
		rd := n.Ready()
		if !IsEmptySnap(rd.Snapshot) {
			require.NoError(n.t, n.s.ApplySnapshot(rd.Snapshot))
		}
		require.NoError(n.t, n.s.Append(rd.Entries))
		if !IsEmptyHardState(rd.HardState) {
			require.NoError(n.t, n.s.SetHardState(rd.HardState))
		}
		for _, e := range rd.CommittedEntries {
			n.applied = append(n.applied, e)
			if e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2 {
				// An entry that does not decode is skipped, as an
				// application that cannot read it would.
				if cc, err := decodeConfChange(e); err == nil {
					n.ApplyConfChange(cc)
				}
			}
		}
		out = append(out, rd.Messages...)
		n.reads = append(n.reads, rd.ReadStates...)
		n.Advance(rd)
	}
	return out
}

// step steps m into the state machine (not through RawNode.Step's checks).
func (n *testNode) step(m pb.Message) error { return n.r.Step(m) }

// stepFlush steps m, requires no error, and returns what the node sent.
func (n *testNode) stepFlush(m pb.Message) []pb.Message {
	require.NoError(n.t, n.r.Step(m))
	return n.flush()
}

// becomeLeader makes the node leader of a term of its own through an
// election it wins with the votes of the given peers, and flushes.
func (n *testNode) becomeLeader(votes ...uint64) {
	require.NoError(n.t, n.r.Step(pb.Message{Type: pb.MsgHup}))
	n.flush()
	if n.r.state == StatePreCandidate {
		for _, id := range votes {
			require.NoError(n.t, n.r.Step(pb.Message{From: id, To: n.r.id, Term: n.r.Term + 1, Type: pb.MsgPreVoteResp}))
		}
		n.flush()
	}
	for _, id := range votes {
		if n.r.state == StateLeader {
			break
		}
		require.NoError(n.t, n.r.Step(pb.Message{From: id, To: n.r.id, Term: n.r.Term, Type: pb.MsgVoteResp}))
	}
	n.flush()
	require.Equal(n.t, StateLeader, n.r.state)
}

// ackAll makes the given followers acknowledge the leader's whole log, and
// returns what the leader sent in response.
func (n *testNode) ackAll(ids ...uint64) []pb.Message {
	for _, id := range ids {
		require.NoError(n.t, n.r.Step(pb.Message{From: id, To: n.r.id, Term: n.r.Term, Type: pb.MsgAppResp, Index: n.r.raftLog.lastIndex()}))
	}
	return n.flush()
}

// filterMsgs returns the messages of type typ.
func filterMsgs(msgs []pb.Message, typ pb.MessageType) []pb.Message {
	var out []pb.Message
	for _, m := range msgs {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// msgSummary is the part of a message most tests compare.
type msgSummary struct {
	To     uint64
	Type   pb.MessageType
	Term   uint64
	Reject bool
}

func summarize(msgs []pb.Message) []msgSummary {
	out := []msgSummary{}
	for _, m := range msgs {
		out = append(out, msgSummary{To: m.To, Type: m.Type, Term: m.Term, Reject: m.Reject})
	}
	return out
}

// exchange delivers msgs among the nodes, and what they send in turn, until
// nothing is left; messages to absent nodes are dropped. It returns every
// message delivered.
func exchange(t testing.TB, nodes map[uint64]*testNode, msgs []pb.Message) []pb.Message {
	var delivered []pb.Message
	for i := 0; len(msgs) > 0; i++ {
		require.Less(t, i, 1000, "exchange does not settle")
		var next []pb.Message
		for _, m := range msgs {
			n, ok := nodes[m.To]
			if !ok {
				continue
			}
			delivered = append(delivered, m)
			_ = n.step(m)
			next = append(next, n.flush()...)
		}
		msgs = next
	}
	return delivered
}

// join starts node id with the cluster's bootstrap snapshot, as a node that
// is not yet in its own configuration: it learns it from the leader.
func (c *testCluster) join(id uint64) {
	s := NewMemoryStorage()
	require.NoError(c.t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: c.boot}}))
	c.addMember(id, s)
}

// proposeConfChange proposes cc through node id and stabilizes.
func (c *testCluster) proposeConfChange(id uint64, cc pb.ConfChangeI) error {
	err := c.node(id).ProposeConfChange(cc)
	c.stabilize()
	return err
}

// members returns the configuration node id has applied.
func (c *testCluster) members(id uint64) pb.ConfState { return c.node(id).raft.trk.ConfState() }

// requireRareOnInSync fails the test unless r.rareOn says which of rare's
// fields are set (syncRareOn follows every write of them).
func requireRareOnInSync(t testing.TB, r *raft) {
	t.Helper()
	require.Equal(t, rareOnOf(r.rare), r.rareOn, "raft.rareOn out of sync with raft.rare")
}
