package raft

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newReadLeader returns node 1, leader of voters 1..size at term 1 with an
// entry of its term committed, in the given read mode.
func newReadLeader(t *testing.T, size int, opt ReadOnlyOption) *testNode {
	var ids, others []uint64
	for i := 1; i <= size; i++ {
		ids = append(ids, uint64(i))
		if i > 1 {
			others = append(others, uint64(i))
		}
	}
	n := newTestNode(t, 1, voters(ids...), nil, func(c *Config) {
		c.ReadOnlyOption = opt
		c.CheckQuorum = opt == ReadOnlyLeaseBased
	})
	n.becomeLeader(others...)
	n.ackAll(others...)
	require.True(t, n.r.committedEntryInCurrentTerm())
	return n
}

// readStates flushes the node and returns the ReadStates it handed out
// since the last call.
func (n *testNode) readStates() []ReadState {
	n.flush()
	rs := n.reads
	n.reads = nil
	return rs
}

// ackHeartbeats makes the given peers answer the heartbeats among msgs.
func (n *testNode) ackHeartbeats(msgs []pb.Message, from ...uint64) {
	for _, m := range filterMsgs(msgs, pb.MsgHeartbeat) {
		for _, id := range from {
			if m.To == id {
				require.NoError(n.t, n.step(pb.Message{From: id, To: 1, Type: pb.MsgHeartbeatResp, Term: m.Term, Context: m.Context}))
			}
		}
	}
}

// Thesis §6.4, ReadOnlySafe: the leader records its commit index, then
// confirms its leadership with a heartbeat round; the read is answered once
// a quorum (counting the leader) acknowledged that round.
func TestReadIndexSafeWaitsForQuorumOfAcks(t *testing.T) {
	for _, tt := range []struct {
		size  int
		acks  []uint64
		serve bool
	}{
		{3, nil, false},
		{3, []uint64{2}, true},
		{5, []uint64{2}, false},
		{5, []uint64{2, 5}, true},
	} {
		t.Run(fmt.Sprintf("%d/%v", tt.size, tt.acks), func(t *testing.T) {
			n := newReadLeader(t, tt.size, ReadOnlySafe)
			commit := n.r.raftLog.committed
			n.ReadIndex([]byte("ctx"))
			msgs := n.flush()
			require.Len(t, filterMsgs(msgs, pb.MsgHeartbeat), tt.size-1)
			n.ackHeartbeats(msgs, tt.acks...)
			rs := n.readStates()
			if !tt.serve {
				assert.Empty(t, rs)
				return
			}
			assert.Equal(t, []ReadState{{Index: commit, RequestCtx: []byte("ctx")}}, rs)
		})
	}
}

// Thesis §6.4.1, ReadOnlyLeaseBased: inside its lease the leader answers at
// once at its commit index (the lease's own rules: raft_lease_test.go).
func TestReadIndexLeaseBasedAnswersAtOnce(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2, 3)
	n.ReadIndex([]byte("ctx"))
	msgs := n.flush()
	assert.Empty(t, filterMsgs(msgs, pb.MsgHeartbeat))
	assert.Equal(t, []ReadState{{Index: n.r.raftLog.committed, RequestCtx: []byte("ctx")}}, n.readStates())
}

// Thesis §6.4: a new leader serves no read, in either mode and for local or
// forwarded requests, before it has committed an entry of its own term. The
// postponed reads are released by that commit.
func TestReadIndexPostponedUntilCommitInCurrentTerm(t *testing.T) {
	for _, opt := range []ReadOnlyOption{ReadOnlySafe, ReadOnlyLeaseBased} {
		t.Run(fmt.Sprint(opt), func(t *testing.T) {
			// Entries of an older term, not known committed.
			s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1)...)
			require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 1}))
			n := newTestNode(t, 1, pb.ConfState{}, s, func(c *Config) {
				c.ReadOnlyOption = opt
				c.CheckQuorum = true
			})
			if l := n.r.lease(); l != nil {
				// A restarted lease node waits an election timeout before
				// it campaigns (TestLeaseRestartedFollowerWaitsBeforeVoting).
				l.quarantined = false
			}
			n.becomeLeader(2)
			n.ReadIndex([]byte("local"))
			require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgReadIndex, Entries: []pb.Entry{{Data: []byte("fwd")}}}))
			msgs := n.flush()
			assert.Empty(t, filterMsgs(msgs, pb.MsgHeartbeat))
			assert.Empty(t, filterMsgs(msgs, pb.MsgReadIndexResp))
			assert.Empty(t, n.r.readStates)

			msgs = n.ackAll(2)
			require.Equal(t, uint64(4), n.r.raftLog.committed)
			// Without a lease (no TickInterval, and no heartbeat
			// acknowledged yet) lease mode takes the safe round too.
			n.ackHeartbeats(msgs, 2)
			msgs = n.flush()
			resp := filterMsgs(msgs, pb.MsgReadIndexResp)
			require.Len(t, resp, 1)
			assert.Equal(t, uint64(2), resp[0].To)
			assert.Equal(t, uint64(4), resp[0].Index, "never the stale commit index 1")
			assert.Equal(t, []pb.Entry{{Data: []byte("fwd")}}, resp[0].Entries)
			assert.Equal(t, []ReadState{{Index: 4, RequestCtx: []byte("local")}}, n.readStates())
		})
	}
}

// Thesis §6.4: followers forward reads to the leader and relay its answer
// as a ReadState; without a leader the read is dropped.
func TestReadIndexFollowerForwardsAndRelays(t *testing.T) {
	for _, opt := range []ReadOnlyOption{ReadOnlySafe, ReadOnlyLeaseBased} {
		t.Run(fmt.Sprint(opt), func(t *testing.T) {
			l := newReadLeader(t, 3, opt)
			f := newFollowerAt(t, 2, l.r.Term, 1, func(c *Config) { c.ReadOnlyOption = opt; c.CheckQuorum = true })
			nodes := map[uint64]*testNode{1: l, 2: f}
			// Bring the follower up to date.
			exchange(t, nodes, []pb.Message{{From: 1, To: 2, Type: pb.MsgHeartbeat, Term: l.r.Term}})
			f.ReadIndex([]byte("r2"))
			msgs := f.flush()
			require.Len(t, msgs, 1)
			assert.Equal(t, pb.MsgReadIndex, msgs[0].Type)
			assert.Equal(t, uint64(1), msgs[0].To)
			exchange(t, nodes, msgs)
			assert.Equal(t, []ReadState{{Index: l.r.raftLog.committed, RequestCtx: []byte("r2")}}, f.readStates())
		})
	}
}

// Reference bug (1), etcd raft v3.6: safe reads keyed by the request's
// context let a retried or duplicated context be confirmed by the
// acknowledgements of a heartbeat round sent before the retry arrived, and
// answer it at the old commit index: a stale read. Here every read gets a
// round of its own; an acknowledgement only confirms reads registered at
// or before the round it answers.
func TestReadIndexRetriedContextNotConfirmedByEarlierRound(t *testing.T) {
	n := newReadLeader(t, 3, ReadOnlySafe)
	c1 := n.r.raftLog.committed
	n.ReadIndex([]byte("same"))
	round1 := n.flush()
	require.Len(t, filterMsgs(round1, pb.MsgHeartbeat), 2)

	// A write commits after the first read arrived, and is acknowledged to
	// its client.
	require.NoError(t, n.Propose([]byte("w")))
	n.flush()
	n.ackAll(2, 3)
	c2 := n.r.raftLog.committed
	require.Greater(t, c2, c1)

	// The client retries its read, with the same context.
	n.ReadIndex([]byte("same"))
	round2 := n.flush()
	require.Len(t, filterMsgs(round2, pb.MsgHeartbeat), 2, "the retry gets its own heartbeat round")

	// Acknowledgements of the first round confirm the first read only.
	n.ackHeartbeats(round1, 2, 3)
	assert.Equal(t, []ReadState{{Index: c1, RequestCtx: []byte("same")}}, n.readStates(),
		"the retry must not be answered by a round sent before it arrived")

	// The retry is answered by its own round, at the newer commit index.
	n.ackHeartbeats(round2, 2)
	assert.Equal(t, []ReadState{{Index: c2, RequestCtx: []byte("same")}}, n.readStates())
}

// Reference bug (1), the duplicate form: two reads with the same context in
// flight at once are two reads; each is answered, and a later one is never
// answered at an earlier one's index by an earlier round.
func TestReadIndexDuplicateContextsAnsweredSeparately(t *testing.T) {
	n := newReadLeader(t, 3, ReadOnlySafe)
	n.ReadIndex([]byte("dup"))
	round1 := n.flush()
	n.ReadIndex([]byte("dup"))
	round2 := n.flush()
	// A later round's acknowledgement confirms every earlier read too.
	n.ackHeartbeats(round2, 3)
	rs := n.readStates()
	require.Len(t, rs, 2)
	for _, r := range rs {
		assert.Equal(t, []byte("dup"), r.RequestCtx)
	}
	// The late acknowledgement of round 1 answers nothing more.
	n.ackHeartbeats(round1, 2)
	assert.Empty(t, n.readStates())
}

// Heartbeat acknowledgements whose context is not a read round this leader
// handed out (an etcd-style raw context, a round from the future, garbage)
// confirm nothing.
func TestReadIndexIgnoresForeignAcknowledgements(t *testing.T) {
	n := newReadLeader(t, 3, ReadOnlySafe)
	n.ReadIndex([]byte("ctx"))
	n.flush()
	for _, ctx := range [][]byte{[]byte("ctx"), encodeReadRound(99), encodeReadRound(0), {0xff}, nil} {
		require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: n.r.Term, Context: ctx}))
		require.NoError(t, n.step(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeatResp, Term: n.r.Term, Context: ctx}))
	}
	assert.Empty(t, n.readStates())
	assert.Len(t, n.r.readOnly.pending, 1)
}

// A pending read's round rides on the periodic heartbeats too, so a lost
// heartbeat round is retried without a new read.
func TestReadIndexRoundRetriedByPeriodicHeartbeat(t *testing.T) {
	n := newReadLeader(t, 3, ReadOnlySafe)
	n.ReadIndex([]byte("ctx"))
	n.flush() // the read's heartbeats are lost
	n.Tick()
	msgs := n.flush()
	require.Len(t, filterMsgs(msgs, pb.MsgHeartbeat), 2)
	n.ackHeartbeats(msgs, 2)
	assert.Len(t, n.readStates(), 1)
}

// A read served by a leader that then loses its leadership is dropped with
// the leadership: the new term's reads start afresh.
func TestReadIndexPendingReadsDroppedOnStepDown(t *testing.T) {
	n := newReadLeader(t, 3, ReadOnlySafe)
	n.ReadIndex([]byte("ctx"))
	round := n.flush()
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: n.r.Term + 1})
	require.Equal(t, StateFollower, n.r.state)
	for _, m := range filterMsgs(round, pb.MsgHeartbeat) {
		require.NoError(t, n.step(pb.Message{From: m.To, To: 1, Type: pb.MsgHeartbeatResp, Term: m.Term, Context: m.Context}))
	}
	assert.Empty(t, n.readStates())
}

// Reference bug (2), etcd raft v3.6: the MaxUncommittedEntriesSize budget
// resets on every change of term, so a leader that repeatedly loses and
// regains leadership with an uncommitted tail grows it without bound. Here
// a new leader counts the tail it inherited.
func TestMaxUncommittedEntriesSizeHoldsAcrossLeaderFlaps(t *testing.T) {
	const limit = 1000
	payload := make([]byte, 300)
	n := newTestNode(t, 1, voters(1, 2, 3), nil, func(c *Config) { c.MaxUncommittedEntriesSize = limit })
	tailSize := func() uint64 {
		es, err := n.r.raftLog.slice(n.r.raftLog.committed+1, n.r.raftLog.lastIndex()+1, noLimit)
		require.NoError(t, err)
		return payloadsSize(es)
	}
	dropped := 0
	for flap := 0; flap < 10; flap++ {
		n.becomeLeader(2, 3)
		for i := 0; i < 5; i++ {
			if err := n.Propose(payload); err != nil {
				require.ErrorIs(t, err, ErrProposalDropped)
				dropped++
			}
		}
		n.flush()
		require.LessOrEqual(t, tailSize(), uint64(limit), "flap %d: uncommitted tail beyond the limit", flap)
		// Nobody acknowledges; a newer leader's heartbeat deposes node 1.
		n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: n.r.Term + 1})
		require.Equal(t, StateFollower, n.r.state)
	}
	assert.Greater(t, dropped, 40)
	// Once the tail commits and applies, the budget is available again.
	n.becomeLeader(2, 3)
	n.ackAll(2, 3)
	require.Equal(t, n.r.raftLog.lastIndex(), n.r.raftLog.applied)
	require.NoError(t, n.Propose(payload))
	require.NoError(t, n.Propose(payload))
}

// MaxUncommittedEntriesSize within one term: proposals beyond the budget
// are dropped, an empty tail always admits one proposal however large, and
// empty entries are always admitted.
func TestMaxUncommittedEntriesSizeLimitsProposals(t *testing.T) {
	n := newTestNode(t, 1, voters(1, 2, 3), nil, func(c *Config) { c.MaxUncommittedEntriesSize = 100 })
	n.becomeLeader(2, 3)
	n.ackAll(2, 3)
	require.NoError(t, n.Propose(make([]byte, 500)), "an empty tail admits any proposal")
	assert.ErrorIs(t, n.Propose(make([]byte, 1)), ErrProposalDropped)
	require.NoError(t, n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{}}}), "empty entries always fit")
	n.flush()
	n.ackAll(2, 3)
	require.Equal(t, uint64(0), n.r.uncommittedSize)
	require.NoError(t, n.Propose(make([]byte, 60)))
	require.NoError(t, n.Propose(make([]byte, 40)))
	assert.ErrorIs(t, n.Propose(make([]byte, 1)), ErrProposalDropped)
}

// Thesis §6.4, single voter: a lone leader is its own quorum, but it still
// serves no read before committing an entry of its term. Its commit index
// may have been lost in a restart (the commit index is persisted without
// sync), and entries it had committed and acknowledged would be missing
// from the read.
func TestReadIndexSingletonWaitsForCommitInCurrentTerm(t *testing.T) {
	s := newTestStorage(t, voters(1), ents(1, 1, 1)...)
	require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 1}))
	n := newTestNode(t, 1, pb.ConfState{}, s)
	require.NoError(t, n.step(pb.Message{Type: pb.MsgHup}))
	rd := n.Ready()
	require.NoError(t, s.SetHardState(rd.HardState))
	n.Advance(rd) // the self vote counts: leader, no-op appended, not committed
	require.Equal(t, StateLeader, n.r.state)
	require.Equal(t, uint64(1), n.r.raftLog.committed)
	n.ReadIndex([]byte("r"))
	rs := n.readStates()
	require.Equal(t, uint64(4), n.r.raftLog.committed)
	assert.Equal(t, []ReadState{{Index: 4, RequestCtx: []byte("r")}}, rs)
}
