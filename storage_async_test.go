package raft

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asyncNode is a RawNode in AsyncStorageWrites mode with its two storage
// workers, which the test runs by hand.
type asyncNode struct {
	rn       *RawNode
	s        *MemoryStorage
	appendQ  []pb.Message // MsgStorageAppend not yet done
	applyQ   []pb.Message // MsgStorageApply not yet done
	applied  []string
	appliedI uint64
}

// asyncCluster routes the messages of asyncNodes: to the storage workers'
// queues or over the network (through a marshal round trip).
type asyncCluster struct {
	t     *testing.T
	ids   []uint64
	nodes map[uint64]*asyncNode
	net   []pb.Message
	// holdAppend stops the append worker of a node.
	holdAppend map[uint64]bool
}

func newAsyncCluster(t *testing.T, n int) *asyncCluster {
	c := &asyncCluster{t: t, nodes: map[uint64]*asyncNode{}, holdAppend: map[uint64]bool{}}
	var ids []uint64
	for i := 1; i <= n; i++ {
		ids = append(ids, uint64(i))
	}
	c.ids = ids
	for _, id := range ids {
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: voters(ids...)}}))
		cfg := newTestConfig(id, 10, 1, s)
		cfg.AsyncStorageWrites = true
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		rn.raft.setRandIntn(func(int) int { return int(id) })
		rn.raft.resetRandomizedElectionTimeout()
		c.nodes[id] = &asyncNode{rn: rn, s: s, appliedI: 1}
	}
	return c
}

// ready takes a node's Ready and routes its messages; it returns whether
// there was one.
func (c *asyncCluster) ready(id uint64) bool {
	n := c.nodes[id]
	if !n.rn.HasReady() {
		return false
	}
	rd := n.rn.Ready()
	for _, m := range rd.Messages {
		switch m.To {
		case LocalAppendThread:
			n.appendQ = append(n.appendQ, m)
		case LocalApplyThread:
			n.applyQ = append(n.applyQ, m)
		default:
			c.net = append(c.net, m)
		}
	}
	return true
}

// respond delivers a storage message's responses once its work is done.
func (c *asyncCluster) respond(id uint64, m pb.Message) {
	for _, resp := range m.Responses {
		if resp.To == id {
			require.NoError(c.t, c.nodes[id].rn.Step(resp))
		} else {
			c.net = append(c.net, resp)
		}
	}
}

// runAppend does the queued appends of a node, in order, and delivers
// their responses. It returns whether there was work.
func (c *asyncCluster) runAppend(id uint64) bool {
	n := c.nodes[id]
	if c.holdAppend[id] || len(n.appendQ) == 0 {
		return false
	}
	q := n.appendQ
	n.appendQ = nil
	for _, m := range q {
		persistStorageAppend(c.t, n.s, m)
		c.respond(id, m)
	}
	return true
}

func persistStorageAppend(t *testing.T, s *MemoryStorage, m pb.Message) {
	require.Equal(t, pb.MsgStorageAppend, m.Type)
	if m.Snapshot != nil {
		require.NoError(t, s.ApplySnapshot(*m.Snapshot))
	}
	require.NoError(t, s.Append(m.Entries))
	if m.Term != 0 || m.Vote != 0 || m.Commit != 0 {
		require.NoError(t, s.SetHardState(pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}))
	}
}

// runApply applies the queued entries of a node and delivers the responses.
func (c *asyncCluster) runApply(id uint64) bool {
	n := c.nodes[id]
	if len(n.applyQ) == 0 {
		return false
	}
	q := n.applyQ
	n.applyQ = nil
	for _, m := range q {
		for _, e := range m.Entries {
			require.Equal(c.t, n.appliedI+1, e.Index, "node %d applies in order", id)
			n.appliedI = e.Index
			if e.Type == pb.EntryNormal && len(e.Data) > 0 {
				n.applied = append(n.applied, string(e.Data))
			}
			// Applied entries are durable locally.
			last, _ := n.s.LastIndex()
			require.LessOrEqual(c.t, e.Index, last, "node %d applies an entry it has not persisted", id)
		}
		c.respond(id, m)
	}
	return true
}

func (c *asyncCluster) deliver() bool {
	msgs := c.net
	c.net = nil
	for _, m := range msgs {
		b, err := m.Marshal()
		require.NoError(c.t, err)
		var got pb.Message
		require.NoError(c.t, got.Unmarshal(b))
		if n, ok := c.nodes[got.To]; ok {
			_ = n.rn.Step(got)
		}
	}
	return len(msgs) > 0
}

func (c *asyncCluster) stabilize() {
	for i := 0; i < 1000; i++ {
		moved := false
		for _, id := range c.ids {
			moved = c.ready(id) || moved
			moved = c.runAppend(id) || moved
			moved = c.runApply(id) || moved
		}
		moved = c.deliver() || moved
		if !moved {
			return
		}
	}
	c.t.Fatal("async cluster does not settle")
}

// AsyncStorageWrites: a Ready carries the work for the storage threads as
// messages, each with the responses to deliver when done; the Ready's own
// persistence fields are not to be used.
func TestAsyncReadyCarriesStorageMessages(t *testing.T) {
	c := newAsyncCluster(t, 1)
	n := c.nodes[1]
	require.NoError(t, n.rn.Campaign())
	rd := n.rn.Ready()
	require.Len(t, rd.Messages, 1)
	app := rd.Messages[0]
	assert.Equal(t, pb.MsgStorageAppend, app.Type)
	assert.Equal(t, LocalAppendThread, app.To)
	assert.Equal(t, uint64(1), app.From)
	assert.Equal(t, uint64(1), app.Term, "the HardState travels in the message")
	assert.Equal(t, uint64(1), app.Vote)
	// The self vote is among the responses: it counts once durable.
	require.Len(t, app.Responses, 1)
	assert.Equal(t, pb.MsgVoteResp, app.Responses[0].Type)
	assert.Equal(t, uint64(1), app.Responses[0].To)
	assert.Equal(t, StateCandidate, n.rn.raft.state)

	persistStorageAppend(t, n.s, app)
	c.respond(1, app)
	require.Equal(t, StateLeader, n.rn.raft.state)

	rd = n.rn.Ready()
	var app2 pb.Message
	for _, m := range rd.Messages {
		if m.To == LocalAppendThread {
			app2 = m
		}
	}
	require.Equal(t, pb.MsgStorageAppend, app2.Type)
	require.Len(t, app2.Entries, 1, "the leader's empty entry")
	types := []pb.MessageType{}
	for _, r := range app2.Responses {
		types = append(types, r.Type)
	}
	assert.Equal(t, []pb.MessageType{pb.MsgAppResp, pb.MsgStorageAppendResp}, types)
	resp := app2.Responses[1]
	assert.Equal(t, LocalAppendThread, resp.From)
	assert.Equal(t, app2.Entries[0].Index, resp.Index)
	assert.Equal(t, app2.Entries[0].Term, resp.LogTerm)
	assert.Empty(t, rd.CommittedEntries, "nothing applies before it is durable")

	persistStorageAppend(t, n.s, app2)
	c.respond(1, app2)
	rd = n.rn.Ready()
	// The new commit index goes to the append thread, the entry to the
	// apply thread.
	require.Len(t, filterMsgs(rd.Messages, pb.MsgStorageAppend), 1)
	assert.Equal(t, uint64(2), filterMsgs(rd.Messages, pb.MsgStorageAppend)[0].Commit)
	require.Len(t, filterMsgs(rd.Messages, pb.MsgStorageApply), 1)
	apply := filterMsgs(rd.Messages, pb.MsgStorageApply)[0]
	assert.Equal(t, LocalApplyThread, apply.To)
	assert.Equal(t, app2.Entries, apply.Entries)
	require.Len(t, apply.Responses, 1)
	assert.Equal(t, pb.MsgStorageApplyResp, apply.Responses[0].Type)
	assert.Equal(t, LocalApplyThread, apply.Responses[0].From)
	c.respond(1, apply)
	assert.Equal(t, apply.Entries[0].Index, n.rn.raft.raftLog.applied)
	// Advance is not for async mode: it is ignored.
	require.NotPanics(t, func() { n.rn.Advance(Ready{}) })
}

// AsyncStorageWrites: a three-node cluster elects, replicates and commits,
// with responses leaving only once their write is done.
func TestAsyncClusterReplicatesAndCommits(t *testing.T) {
	c := newAsyncCluster(t, 3)
	require.NoError(t, c.nodes[1].rn.Campaign())
	c.stabilize()
	require.Equal(t, StateLeader, c.nodes[1].rn.raft.state)
	var want []string
	for i := 0; i < 10; i++ {
		d := fmt.Sprint("v", i)
		require.NoError(t, c.nodes[1].rn.Propose([]byte(d)))
		want = append(want, d)
		if i%3 == 0 {
			c.stabilize()
		}
	}
	c.stabilize()
	for _, id := range c.ids {
		assert.Equal(t, want, c.nodes[id].applied, "node %d", id)
		hs, _, err := c.nodes[id].s.InitialState()
		require.NoError(t, err)
		assert.Equal(t, c.nodes[1].rn.raft.raftLog.committed, hs.Commit, "node %d persisted the commit index", id)
	}
}

// AsyncStorageWrites: the leader's own acknowledgement of its entries counts
// only once its append thread delivered it.
func TestAsyncLeaderSelfAckCountsOnlyWhenDelivered(t *testing.T) {
	c := newAsyncCluster(t, 3)
	require.NoError(t, c.nodes[1].rn.Campaign())
	c.stabilize()
	r := c.nodes[1].rn.raft
	commit := r.raftLog.committed

	c.holdAppend[1] = true
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: []byte("x")}}}))
	c.ready(1)
	// Only follower 2 gets the append and acknowledges it.
	var app pb.Message
	for _, m := range c.net {
		if m.To == 2 && m.Type == pb.MsgApp {
			app = m
		}
	}
	require.NotEmpty(t, app.Entries)
	require.NoError(t, c.nodes[2].rn.Step(app))
	c.net = nil
	c.ready(2)
	c.runAppend(2)
	var acks []pb.Message
	for _, m := range c.net {
		if m.To == 1 && m.Type == pb.MsgAppResp {
			acks = append(acks, m)
		}
	}
	c.net = nil
	require.Len(t, acks, 1)
	require.NoError(t, c.nodes[1].rn.Step(acks[0]))
	assert.Equal(t, commit, r.raftLog.committed, "2 of 3 only with the leader's durable copy")

	c.holdAppend[1] = false
	c.runAppend(1)
	assert.Equal(t, commit+1, r.raftLog.committed)
}

// AsyncStorageWrites: a MsgStorageAppendResp for entries that were since
// overwritten (by a new leader's log) must not mark the new entries stable:
// neither through its older term nor, should the term match, through its
// (index, term) pair.
func TestAsyncStaleAppendResponseAfterOverwrite(t *testing.T) {
	for _, forgeTerm := range []bool{false, true} {
		t.Run(fmt.Sprint("forgeTerm=", forgeTerm), func(t *testing.T) {
			s := NewMemoryStorage()
			require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: voters(1, 2, 3)}}))
			cfg := newTestConfig(1, 10, 1, s)
			cfg.AsyncStorageWrites = true
			rn, err := NewRawNode(cfg)
			require.NoError(t, err)
			r := rn.raft

			// Leader 2 of term 2 sends entries 2 and 3.
			require.NoError(t, rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgApp, Term: 2, Index: 1, LogTerm: 1,
				Entries: []pb.Entry{{Index: 2, Term: 2}, {Index: 3, Term: 2}}}))
			rd := rn.Ready()
			old := filterMsgs(rd.Messages, pb.MsgStorageAppend)
			require.Len(t, old, 1)

			// Before that write is done, leader 3 of term 3 overwrites 3.
			require.NoError(t, rn.Step(pb.Message{From: 3, To: 1, Type: pb.MsgApp, Term: 3, Index: 2, LogTerm: 2,
				Entries: []pb.Entry{{Index: 3, Term: 3}}}))
			require.Equal(t, entryID{index: 3, term: 3}, r.raftLog.lastEntryID())
			rd = rn.Ready()
			fresh := filterMsgs(rd.Messages, pb.MsgStorageAppend)
			require.Len(t, fresh, 1)

			// The old write completes: its response must not cover the new
			// entry 3.
			staleResp := old[0].Responses[len(old[0].Responses)-1]
			require.Equal(t, pb.MsgStorageAppendResp, staleResp.Type)
			require.Equal(t, uint64(3), staleResp.Index)
			require.Equal(t, uint64(2), staleResp.LogTerm)
			if forgeTerm {
				staleResp.Term = r.Term
			}
			persistStorageAppend(t, s, old[0])
			require.NoError(t, rn.Step(staleResp))
			assert.True(t, r.raftLog.hasNextOrInProgressUnstableEnts(), "entry 3 of term 3 is not stable yet")
			u, ok := r.raftLog.unstable.maybeTerm(3)
			assert.True(t, ok, "entry 3 still comes from the unstable log")
			assert.Equal(t, uint64(3), u)

			// The new write completes and counts.
			persistStorageAppend(t, s, fresh[0])
			require.NoError(t, rn.Step(fresh[0].Responses[len(fresh[0].Responses)-1]))
			assert.False(t, r.raftLog.hasNextOrInProgressUnstableEnts())
			st, err := s.Term(3)
			require.NoError(t, err)
			assert.Equal(t, uint64(3), st)
			term, err := r.raftLog.term(3)
			require.NoError(t, err)
			assert.Equal(t, uint64(3), term)
		})
	}
}
