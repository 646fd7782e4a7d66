package raft

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file pin down what happens when a snapshot arrives
// while committed entries are out with the application: handed out (in a
// Ready's CommittedEntries, or in a MsgStorageApply) and not yet reported
// applied (by Advance, or by a MsgStorageApplyResp).

// lagNode is a RawNode whose application persists at once but applies the
// committed entries only when the test says so, as an apply thread that
// lags behind (AsyncStorageWrites), or an application that steps messages
// between Ready and Advance (the synchronous mode, as Node does).
type lagNode struct {
	t     *testing.T
	id    uint64
	rn    *RawNode
	s     *MemoryStorage
	async bool
	// lag holds the committed entries back until apply is called.
	lag bool

	// held are the committed entries handed out and not applied yet, and
	// heldResps, in asynchronous mode, the responses of their
	// MsgStorageApply messages.
	held      []pb.Entry
	heldResps []pb.Message
	// advanceOwed is set, in synchronous mode, while a Ready waits for
	// its Advance.
	advanceOwed bool

	// confs is the ConfState ApplyConfChange returned for each conf
	// change entry, by index.
	confs map[uint64]pb.ConfState
	// applied is the index of the last entry or snapshot applied.
	applied uint64
	// snaps counts the snapshots installed, and overtaken those that
	// arrived while entries were held (they are installed once the held
	// entries are applied, as an application whose apply thread drains
	// first would).
	snaps, overtaken int
	pendingSnap      pb.Snapshot
	// out holds the messages to peers.
	out []pb.Message
}

func newLagNode(t *testing.T, id uint64, cs pb.ConfState, async bool, configure func(*Config)) *lagNode {
	s := NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: cs}}))
	cfg := newTestConfig(id, 10, 1, s)
	cfg.AsyncStorageWrites = async
	if configure != nil {
		configure(cfg)
	}
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	rn.raft.setRandIntn(func(int) int { return 0 })
	rn.raft.resetRandomizedElectionTimeout()
	return &lagNode{t: t, id: id, rn: rn, s: s, async: async, confs: map[uint64]pb.ConfState{}, applied: 1}
}

// persist writes a snapshot, entries and a HardState. The snapshot goes
// into the (pretend) state machine once the entries handed out before it
// are applied.
func (n *lagNode) persist(snap pb.Snapshot, ents []pb.Entry, hs pb.HardState) {
	if !IsEmptySnap(snap) {
		require.NoError(n.t, n.s.ApplySnapshot(snap))
		if len(n.held) > 0 {
			n.overtaken++
			n.pendingSnap = snap
		} else {
			n.installSnap(snap)
		}
	}
	require.NoError(n.t, n.s.Append(ents))
	if !IsEmptyHardState(hs) {
		require.NoError(n.t, n.s.SetHardState(hs))
	}
}

// ready handles the node's Readies until it has none: it persists at once,
// queues the messages to peers, and applies the committed entries unless
// lag holds them back.
func (n *lagNode) ready() {
	for i := 0; n.rn.HasReady(); i++ {
		require.Less(n.t, i, 100, "node %d does not settle", n.id)
		rd := n.rn.Ready()
		if !n.async {
			n.persist(rd.Snapshot, rd.Entries, rd.HardState)
			n.out = append(n.out, rd.Messages...)
			n.held = append(n.held, rd.CommittedEntries...)
			n.advanceOwed = true
		}
		for _, m := range rd.Messages {
			if !n.async {
				break
			}
			switch m.To {
			case LocalAppendThread:
				n.persist(snapOf(m), m.Entries, pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit})
				n.deliverLocal(m.Responses)
			case LocalApplyThread:
				n.held = append(n.held, m.Entries...)
				n.heldResps = append(n.heldResps, m.Responses...)
			default:
				n.out = append(n.out, m)
			}
		}
		if !n.lag {
			n.apply()
		}
	}
}

func (n *lagNode) installSnap(snap pb.Snapshot) {
	require.Greater(n.t, snap.Metadata.Index, n.applied, "node %d installs a snapshot at or below its applied index", n.id)
	n.applied = snap.Metadata.Index
	n.snaps++
}

func snapOf(m pb.Message) pb.Snapshot {
	if m.Snapshot == nil {
		return pb.Snapshot{}
	}
	return *m.Snapshot
}

// deliverLocal steps the responses addressed to the node and queues the
// others.
func (n *lagNode) deliverLocal(resps []pb.Message) {
	for _, r := range resps {
		if r.To == n.id {
			require.NoError(n.t, n.rn.Step(r))
		} else {
			n.out = append(n.out, r)
		}
	}
}

// apply applies the held entries, recording what ApplyConfChange returns,
// and reports them applied.
func (n *lagNode) apply() {
	for _, e := range n.held {
		require.Equal(n.t, n.applied+1, e.Index, "node %d applies in order", n.id)
		n.applied = e.Index
		if e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2 {
			cc, err := decodeConfChange(e)
			require.NoError(n.t, err)
			n.confs[e.Index] = *n.rn.ApplyConfChange(cc)
		}
	}
	n.held = nil
	if !IsEmptySnap(n.pendingSnap) {
		n.installSnap(n.pendingSnap)
		n.pendingSnap = pb.Snapshot{}
	}
	if n.async {
		resps := n.heldResps
		n.heldResps = nil
		n.deliverLocal(resps)
	} else if n.advanceOwed {
		n.advanceOwed = false
		n.rn.Advance(Ready{})
	}
}

// take returns the messages queued for peers and clears the queue.
func (n *lagNode) take() []pb.Message {
	out := n.out
	n.out = nil
	return out
}

// jointCC is the change of the report that found the bug: add 5 and remove
// 4 in one joint step that leaves the joint configuration by itself.
var jointCC = pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{
	{Type: pb.ConfChangeAddNode, NodeID: 5},
	{Type: pb.ConfChangeRemoveNode, NodeID: 4},
}}

// ApplyConfChange for the entry at index i returns the configuration as of
// index i, even if a snapshot of a later configuration arrives while the
// entry is out with the application: the follower holds the snapshot back
// until the application reports the entry applied, then installs it and
// answers the leader.
func TestSnapshotWaitsForEntriesOutWithTheApplication(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%t", async), func(t *testing.T) {
			n := newLagNode(t, 2, voters(1, 2, 3, 4), async, nil)
			n.lag = true
			ccData, err := jointCC.Marshal()
			require.NoError(t, err)

			// The leader, 1 at term 2, commits the joint change at 2 and
			// three entries after it.
			require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgApp, Term: 2, Index: 1, LogTerm: 1, Commit: 5,
				Entries: []pb.Entry{
					{Index: 2, Term: 2, Type: pb.EntryConfChangeV2, Data: ccData},
					{Index: 3, Term: 2}, {Index: 4, Term: 2}, {Index: 5, Term: 2},
				}}))
			n.ready()
			require.Len(t, n.held, 4, "entries 2..5 are out with the application")
			n.take()

			// Before they are applied, a snapshot at 10 arrives: the joint
			// configuration was left at 6.
			snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: voters(1, 2, 3, 5)}}
			require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgSnap, Term: 2, Snapshot: &snap}))
			n.ready()
			assert.Empty(t, filterMsgs(n.take(), pb.MsgAppResp), "no answer while the snapshot waits")
			assert.Equal(t, uint64(5), n.rn.raft.raftLog.committed, "the snapshot is not installed yet")
			assert.NoError(t, voters(1, 2, 3, 4).Equivalent(n.rn.raft.trk.ConfState()))

			// The application applies the entries: the configuration of
			// entry 2 is the one every node has for it, and the snapshot
			// goes in after them.
			n.apply()
			want := pb.ConfState{Voters: []uint64{1, 2, 3, 5}, VotersOutgoing: []uint64{1, 2, 3, 4}, AutoLeave: true}
			require.Contains(t, n.confs, uint64(2))
			assert.NoError(t, want.Equivalent(n.confs[2]), "the configuration as of entry 2, as every node has it")
			n.ready()
			assert.Zero(t, n.overtaken, "no snapshot handed out while entries were out with the application")
			assert.Equal(t, 1, n.snaps)
			assert.Equal(t, uint64(10), n.applied)
			resps := filterMsgs(n.take(), pb.MsgAppResp)
			require.Len(t, resps, 1)
			assert.False(t, resps[0].Reject)
			assert.Equal(t, uint64(10), resps[0].Index, "the leader learns the snapshot is installed")
			assert.NoError(t, voters(1, 2, 3, 5).Equivalent(n.rn.raft.trk.ConfState()))
		})
	}
}

// A newer snapshot from the leader replaces the waiting one (an older one,
// reordered by the network, does not), and one that needs no wait (stale)
// is handled at once.
func TestWaitingSnapshotIsReplacedByANewerOne(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%t", async), func(t *testing.T) {
			n := newLagNode(t, 2, voters(1, 2, 3), async, nil)
			n.lag = true
			require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgApp, Term: 2, Index: 1, LogTerm: 1, Commit: 3,
				Entries: []pb.Entry{{Index: 2, Term: 2}, {Index: 3, Term: 2}, {Index: 4, Term: 2}}}))
			n.ready()
			require.Len(t, n.held, 2)
			n.take()

			// A stale snapshot is answered at once with the commit index,
			// and one whose last entry the follower has moves the commit
			// index at once: neither changes the log or the configuration.
			for _, idx := range []uint64{3, 4} {
				snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: idx, Term: 2, ConfState: voters(1, 2, 3)}}
				require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgSnap, Term: 2, Snapshot: &snap}))
				n.ready()
				resps := filterMsgs(n.take(), pb.MsgAppResp)
				require.Len(t, resps, 1)
				assert.Equal(t, idx, resps[0].Index)
			}
			assert.Nil(t, n.rn.raft.rare.waitingSnap)

			for _, idx := range []uint64{8, 12, 10} {
				snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: idx, Term: 2, ConfState: voters(1, 2, 3)}}
				require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgSnap, Term: 2, Snapshot: &snap}))
				n.ready()
				assert.Empty(t, filterMsgs(n.take(), pb.MsgAppResp), "snapshot %d waits", idx)
			}
			n.apply()
			n.ready()
			assert.Equal(t, 1, n.snaps, "only the newest snapshot is installed")
			assert.Equal(t, uint64(12), n.applied)
			resps := filterMsgs(n.take(), pb.MsgAppResp)
			require.Len(t, resps, 1)
			assert.Equal(t, uint64(12), resps[0].Index)
		})
	}
}

// A waiting snapshot is dropped if the follower left the term it came in
// before the entries were applied: the leader of the new term sends its
// own.
func TestWaitingSnapshotIsDroppedAtANewTerm(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%t", async), func(t *testing.T) {
			n := newLagNode(t, 2, voters(1, 2, 3), async, nil)
			n.lag = true
			require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgApp, Term: 2, Index: 1, LogTerm: 1, Commit: 3,
				Entries: []pb.Entry{{Index: 2, Term: 2}, {Index: 3, Term: 2}}}))
			n.ready()
			snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 8, Term: 2, ConfState: voters(1, 2, 3)}}
			require.NoError(t, n.rn.Step(pb.Message{From: 1, To: 2, Type: pb.MsgSnap, Term: 2, Snapshot: &snap}))
			// Leader 3 of term 3 appears.
			require.NoError(t, n.rn.Step(pb.Message{From: 3, To: 2, Type: pb.MsgHeartbeat, Term: 3, Commit: 3}))
			n.ready()
			n.apply()
			n.ready()
			assert.Zero(t, n.snaps)
			assert.Equal(t, uint64(3), n.rn.raft.raftLog.committed)
			assert.Nil(t, n.rn.raft.rare.waitingSnap, "the snapshot is not kept")
		})
	}
}

// lagCluster connects lagNodes; a MsgSnap is reported delivered
// (ReportSnapshot) as it is stepped, as a transport does.
type lagCluster struct {
	t     *testing.T
	nodes map[uint64]*lagNode
	// cut drops the messages to the node.
	cut map[uint64]bool
	// snaps counts the MsgSnap messages delivered.
	snaps int
}

// stabilize handles Readies and delivers messages until nothing moves.
func (c *lagCluster) stabilize() {
	for i := 0; ; i++ {
		require.Less(c.t, i, 1000, "cluster does not settle")
		var msgs []pb.Message
		for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
			c.nodes[id].ready()
			msgs = append(msgs, c.nodes[id].take()...)
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			if c.cut[m.To] {
				continue
			}
			_ = c.nodes[m.To].rn.Step(m)
			if m.Type == pb.MsgSnap {
				c.snaps++
				c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
			}
		}
	}
}

func (c *lagCluster) tick() {
	for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
		c.nodes[id].rn.Tick()
	}
	c.stabilize()
}

// A leader whose snapshot waits on a follower for the application keeps
// going: it sends the snapshot again at most once per heartbeat (after
// ReportSnapshot, a probe finds the follower still short), and replicates
// to the follower as soon as the follower installs it.
func TestLeaderCatchesUpFollowerWhoseSnapshotWaited(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%t", async), func(t *testing.T) {
			c := &lagCluster{t: t, nodes: map[uint64]*lagNode{}, cut: map[uint64]bool{}}
			for id := uint64(1); id <= 3; id++ {
				c.nodes[id] = newLagNode(t, id, voters(1, 2, 3), async, nil)
			}
			ld, f := c.nodes[1], c.nodes[2]
			require.NoError(t, ld.rn.Campaign())
			c.stabilize()
			require.Equal(t, StateLeader, ld.rn.raft.state)

			// The follower's application stalls with entries out.
			f.lag = true
			require.NoError(t, ld.rn.Propose([]byte("a")))
			c.stabilize()
			c.tick()
			require.NotEmpty(t, f.held, "entries are out with the follower's application")

			// Cut off, it falls behind the leader's compacted log.
			c.cut[2] = true
			for i := 0; i < 10; i++ {
				require.NoError(t, ld.rn.Propose([]byte(fmt.Sprint(i))))
				c.stabilize()
			}
			_, err := ld.s.CreateSnapshot(ld.applied, &pb.ConfState{Voters: []uint64{1, 2, 3}}, nil)
			require.NoError(t, err)
			require.NoError(t, ld.s.Compact(ld.applied))

			c.cut[2] = false
			const heartbeats = 10
			for i := 0; i < heartbeats; i++ {
				c.tick()
			}
			require.Positive(t, c.snaps)
			t.Logf("%d snapshots sent in %d heartbeats while the follower waited", c.snaps, heartbeats)
			assert.LessOrEqual(t, c.snaps, heartbeats, "at most one snapshot per heartbeat while it waits")
			assert.Equal(t, StateFollower, f.rn.raft.state, "the follower keeps following")

			f.lag = false
			f.apply()
			c.stabilize()
			c.tick()
			assert.Equal(t, 1, f.snaps)
			pr := ld.rn.raft.trk.Get(2)
			assert.Equal(t, "StateReplicate", pr.State.String())
			assert.Equal(t, ld.rn.raft.raftLog.lastIndex(), pr.Match)
			assert.Equal(t, ld.applied, f.applied)
		})
	}
}
