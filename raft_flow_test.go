package raft

import (
	"testing"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newFlowLeader returns node 1 leading voters 1, 2, 3 at term 1; with
// replicate, both followers acknowledged its log and are replicating.
func newFlowLeader(t *testing.T, replicate bool, opts ...func(*Config)) *testNode {
	n := newTestNode(t, 1, voters(1, 2, 3), nil, opts...)
	n.becomeLeader(2, 3)
	if replicate {
		n.ackAll(2, 3)
		require.Equal(t, progress.StateReplicate, n.r.trk.Get(2).State)
	}
	return n
}

func appsTo(msgs []pb.Message, to uint64) []pb.Message {
	var out []pb.Message
	for _, m := range filterMsgs(msgs, pb.MsgApp) {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// A follower in StateProbe gets one append per answer: while a probe is
// unanswered, new proposals send nothing to it; a heartbeat response
// resumes probing; an acceptance moves it to StateReplicate.
func TestProbeSendsOneAppendPerResponse(t *testing.T) {
	n := newFlowLeader(t, false)
	pr := n.r.trk.Get(2)
	require.Equal(t, progress.StateProbe, pr.State)
	require.True(t, pr.IsPaused(), "the election's probe is in flight")
	for i := 0; i < 3; i++ {
		require.NoError(t, n.Propose([]byte("x")))
	}
	assert.Empty(t, appsTo(n.flush(), 2))

	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	apps := appsTo(msgs, 2)
	require.Len(t, apps, 1, "a heartbeat response resumes probing")
	assert.Len(t, apps[0].Entries, 4, "the probe carries everything from Next")
	assert.True(t, pr.IsPaused())

	msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 1, Index: n.r.raftLog.lastIndex()})
	assert.Equal(t, progress.StateReplicate, pr.State)
	assert.Equal(t, n.r.raftLog.lastIndex(), pr.Match)
	_ = msgs
}

// A follower in StateReplicate is sent appends optimistically, up to
// MaxInflightMsgs unacknowledged messages; acknowledgements free the window.
func TestReplicatePipelinesUpToInflightCount(t *testing.T) {
	n := newFlowLeader(t, true, func(c *Config) { c.MaxInflightMsgs = 3 })
	// Each proposal leaves in a Ready of its own (proposals within one
	// Ready are merged into one message).
	var apps []pb.Message
	for i := 0; i < 5; i++ {
		require.NoError(t, n.Propose([]byte("x")))
		apps = append(apps, appsTo(n.flush(), 2)...)
	}
	require.Len(t, apps, 3, "three messages in flight, then the window is full")
	pr := n.r.trk.Get(2)
	assert.True(t, pr.Inflights.Full())
	assert.True(t, pr.IsPaused())

	// The first acknowledgement frees one slot: the rest goes in one message.
	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 1, Index: apps[0].Entries[0].Index})
	apps = appsTo(msgs, 2)
	require.Len(t, apps, 1)
	assert.Len(t, apps[0].Entries, 2)
	assert.Equal(t, n.r.raftLog.lastIndex()+1, pr.Next)
}

// MaxInflightBytes limits the payload in flight to a replicating follower.
func TestReplicateInflightWindowByBytes(t *testing.T) {
	n := newFlowLeader(t, true, func(c *Config) {
		c.MaxSizePerMsg = 1000
		c.MaxInflightBytes = 1000
	})
	var apps []pb.Message
	for i := 0; i < 5; i++ {
		require.NoError(t, n.Propose(make([]byte, 400)))
		apps = append(apps, appsTo(n.flush(), 2)...)
	}
	require.Len(t, apps, 3, "400+400+400 reaches 1000 bytes")
	assert.True(t, n.r.trk.Get(2).Inflights.Full())
	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 1, Index: apps[1].Entries[0].Index})
	apps = appsTo(msgs, 2)
	require.Len(t, apps, 1, "two freed messages, one batch of the rest")
	assert.Len(t, apps[0].Entries, 2)
}

// MaxSizePerMsg bounds the encoded entries of each append (at least one
// entry always goes), and a lagging follower catches up over several.
func TestMaxSizePerMsgBatchesAppends(t *testing.T) {
	n := newFlowLeader(t, true, func(c *Config) { c.MaxSizePerMsg = 250 })
	f := newFollowerAt(t, 2, 1, 1)
	for i := 0; i < 10; i++ {
		require.NoError(t, n.Propose(make([]byte, 100)))
	}
	require.NoError(t, n.Propose(make([]byte, 1000)), "an entry larger than the limit")
	apps := appsTo(n.flush(), 2)
	require.NotEmpty(t, apps)
	total := 0
	for _, m := range apps {
		require.NotEmpty(t, m.Entries)
		if len(m.Entries) > 1 {
			assert.LessOrEqual(t, entsSize(m.Entries), uint64(250))
		}
		total += len(m.Entries)
	}
	assert.Equal(t, 11, total)
	assert.Greater(t, len(apps), 4)

	// A follower that lost it all is caught up in bounded messages.
	n.r.trk.Get(2).BecomeProbe()
	n.r.trk.Get(2).Next = 1
	n.r.trk.Get(2).Match = 0
	delivered := exchange(t, map[uint64]*testNode{1: n, 2: f}, []pb.Message{{From: 1, To: 2, Type: pb.MsgHeartbeat, Term: 1}})
	for _, m := range filterMsgs(delivered, pb.MsgApp) {
		if len(m.Entries) > 1 {
			assert.LessOrEqual(t, entsSize(m.Entries), uint64(250))
		}
	}
	assert.Equal(t, n.r.raftLog.lastIndex(), f.r.raftLog.lastIndex())
}

// A heartbeat response unpauses a replicating follower whose window is
// full, and the leader sends it an append without entries, so that a window
// whose messages were all lost recovers.
func TestHeartbeatResponseUnpausesFullWindow(t *testing.T) {
	n := newFlowLeader(t, true, func(c *Config) { c.MaxInflightMsgs = 1 })
	require.NoError(t, n.Propose([]byte("a")))
	require.NoError(t, n.Propose([]byte("b")))
	apps := appsTo(n.flush(), 2)
	require.Len(t, apps, 1)
	pr := n.r.trk.Get(2)
	require.True(t, pr.IsPaused())

	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	apps = appsTo(msgs, 2)
	require.Len(t, apps, 1)
	assert.Empty(t, apps[0].Entries, "the window is still full: an empty append")
	assert.Equal(t, n.r.raftLog.committed, apps[0].Commit)
	// A follower that is up to date gets no append.
	n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgAppResp, Term: 1, Index: n.r.raftLog.lastIndex()})
	msgs = n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	assert.Empty(t, appsTo(msgs, 3))
}

// A heartbeat's commit index is never past what the follower is known to
// have (min(Match, commit)).
func TestHeartbeatCommitBoundedByMatch(t *testing.T) {
	n := newFlowLeader(t, true)
	require.NoError(t, n.Propose([]byte("a")))
	n.flush()
	n.ackAll(3)
	commit := n.r.raftLog.committed
	require.Greater(t, commit, n.r.trk.Get(2).Match)
	msgs := n.stepFlush(pb.Message{Type: pb.MsgBeat})
	for _, m := range msgs {
		assert.Equal(t, min(n.r.trk.Get(m.To).Match, commit), m.Commit, "to %d", m.To)
	}
}

// MsgUnreachable sends a replicating follower back to probing; a probing
// one stays as it is.
func TestUnreachableMakesReplicatingFollowerProbe(t *testing.T) {
	n := newFlowLeader(t, true)
	require.NoError(t, n.Propose([]byte("a")))
	n.flush()
	pr := n.r.trk.Get(2)
	n.ReportUnreachable(2)
	assert.Equal(t, progress.StateProbe, pr.State)
	assert.Equal(t, pr.Match+1, pr.Next, "unacknowledged entries will be sent again")
	n.ReportUnreachable(2)
	assert.Equal(t, progress.StateProbe, pr.State)
}

// newCompactedLeader returns a leader whose log was compacted past what
// follower 2 has, and whose storage holds a snapshot.
func newCompactedLeader(t *testing.T) *testNode {
	n := newFlowLeader(t, true)
	for i := 0; i < 5; i++ {
		require.NoError(t, n.Propose([]byte("x")))
	}
	n.flush()
	n.ackAll(3)
	applied := n.r.raftLog.applied
	require.Equal(t, n.r.raftLog.lastIndex(), applied)
	_, err := n.s.CreateSnapshot(applied, &pb.ConfState{Voters: []uint64{1, 2, 3}}, nil)
	require.NoError(t, err)
	require.NoError(t, n.s.Compact(applied))
	// Follower 2 reports that it lost everything.
	pr := n.r.trk.Get(2)
	pr.BecomeProbe()
	pr.Match, pr.Next = 0, 1
	return n
}

// A follower that needs compacted entries is sent the snapshot, but only if
// it has recently been heard from; it then waits in StateSnapshot.
func TestSnapshotSentOnlyToRecentlyActiveFollower(t *testing.T) {
	n := newCompactedLeader(t)
	pr := n.r.trk.Get(2)
	pr.RecentActive = false
	require.NoError(t, n.Propose([]byte("y")))
	msgs := n.flush()
	assert.Empty(t, filterMsgs(msgs, pb.MsgSnap), "no snapshot to a peer not heard from")
	assert.Equal(t, progress.StateProbe, pr.State)

	// The follower answers: it is active again and gets the snapshot.
	msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	snaps := filterMsgs(msgs, pb.MsgSnap)
	require.Len(t, snaps, 1)
	snap, _ := n.s.Snapshot()
	assert.Equal(t, snap.Metadata.Index, snaps[0].Snapshot.Metadata.Index)
	assert.Equal(t, progress.StateSnapshot, pr.State)
	assert.Equal(t, snap.Metadata.Index, pr.PendingSnapshot)
	assert.True(t, pr.IsPaused())
	require.NoError(t, n.Propose([]byte("z")))
	assert.Empty(t, appsTo(n.flush(), 2), "nothing else while the snapshot is in flight")
}

// MsgSnapStatus: success moves the follower to probe after the snapshot;
// failure forgets the snapshot and probes from its match. Either way the
// flow pauses until the follower is heard from again.
func TestSnapStatusMovesProgress(t *testing.T) {
	for _, tt := range []struct {
		status   SnapshotStatus
		wantNext func(snapIndex uint64) uint64
	}{
		{SnapshotFinish, func(si uint64) uint64 { return si + 1 }},
		{SnapshotFailure, func(uint64) uint64 { return 1 }},
	} {
		t.Run(map[SnapshotStatus]string{SnapshotFinish: "finish", SnapshotFailure: "failure"}[tt.status], func(t *testing.T) {
			n := newCompactedLeader(t)
			pr := n.r.trk.Get(2)
			n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
			require.Equal(t, progress.StateSnapshot, pr.State)
			si := pr.PendingSnapshot
			n.ReportSnapshot(2, tt.status)
			assert.Equal(t, progress.StateProbe, pr.State)
			assert.Equal(t, uint64(0), pr.PendingSnapshot)
			assert.Equal(t, tt.wantNext(si), pr.Next)
			assert.True(t, pr.IsPaused())
			require.NoError(t, n.Propose([]byte("z")))
			assert.Empty(t, appsTo(n.flush(), 2))
			// A status report for a follower not in StateSnapshot is ignored.
			before := pr.String()
			n.ReportSnapshot(2, SnapshotFailure)
			assert.Equal(t, before, pr.String())
		})
	}
}

// A follower that acknowledges the snapshot's index leaves StateSnapshot and
// replicates from there.
func TestSnapshotAcknowledgedResumesReplication(t *testing.T) {
	n := newCompactedLeader(t)
	pr := n.r.trk.Get(2)
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	require.Equal(t, progress.StateSnapshot, pr.State)
	si := pr.PendingSnapshot
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 1, Index: si})
	assert.Equal(t, progress.StateReplicate, pr.State)
	assert.Equal(t, si, pr.Match)
}

// The whole path through real nodes: a follower behind a compaction is
// caught up by snapshot, then by appends.
func TestSnapshotCatchesUpFollowerEndToEnd(t *testing.T) {
	n := newCompactedLeader(t)
	f := newFollowerAt(t, 2, 1, 1)
	exchange(t, map[uint64]*testNode{1: n, 2: f}, []pb.Message{{From: 1, To: 2, Type: pb.MsgHeartbeat, Term: 1}})
	pr := n.r.trk.Get(2)
	// The snapshot arrived: the application reports it.
	n.ReportSnapshot(2, SnapshotFinish)
	require.NoError(t, n.Propose([]byte("after")))
	exchange(t, map[uint64]*testNode{1: n, 2: f}, n.flush())
	assert.Equal(t, progress.StateReplicate, pr.State)
	assert.Equal(t, n.r.raftLog.lastIndex(), f.r.raftLog.lastIndex())
	assert.Equal(t, n.r.raftLog.committed, f.r.raftLog.committed)
}

// Thesis §3.10: a transfer to a lagging voter first catches it up with
// appends, then sends MsgTimeoutNow.
func TestTransferLeaderCatchesUpLaggingTransferee(t *testing.T) {
	n := newFlowLeader(t, true)
	n.ackAll(2) // 3 acknowledged the first entries only
	require.NoError(t, n.Propose([]byte("a")))
	n.flush()
	n.ackAll(2)
	n.r.trk.Get(3).BecomeProbe() // its append was lost
	msgs := n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgTransferLeader})
	assert.Empty(t, filterMsgs(msgs, pb.MsgTimeoutNow))
	apps := appsTo(msgs, 3)
	require.Len(t, apps, 1)
	assert.Equal(t, uint64(3), n.r.leadTransferee)

	msgs = n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgAppResp, Term: 1, Index: n.r.raftLog.lastIndex()})
	tn := filterMsgs(msgs, pb.MsgTimeoutNow)
	require.Len(t, tn, 1)
	assert.Equal(t, uint64(3), tn[0].To)
}

// Thesis §3.10: proposals are dropped while a transfer is in progress, so
// that the transferee can catch up; the transfer is abandoned after an
// election timeout, after which proposals are taken again.
func TestTransferLeaderDropsProposalsAndAbortsAfterElectionTimeout(t *testing.T) {
	n := newFlowLeader(t, true)
	require.NoError(t, n.Propose([]byte("a")))
	n.flush() // nobody acknowledged "a"
	n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgTransferLeader})
	require.Equal(t, uint64(3), n.r.leadTransferee)
	assert.ErrorIs(t, n.Propose([]byte("b")), ErrProposalDropped)
	for i := 0; i < n.r.electionTimeout-1; i++ {
		n.Tick()
	}
	assert.Equal(t, uint64(3), n.r.leadTransferee)
	n.Tick()
	assert.Equal(t, None, n.r.leadTransferee, "abandoned after an election timeout")
	assert.Equal(t, StateLeader, n.r.state)
	assert.NoError(t, n.Propose([]byte("b")))
}

// Thesis §3.10: requests to transfer to a learner or to the leader itself
// are ignored; repeating a pending transfer does nothing; a transfer to
// another node replaces the pending one.
func TestTransferLeaderIgnoredTargets(t *testing.T) {
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	n := newTestNode(t, 1, cs, nil)
	n.becomeLeader(2, 3)
	n.ackAll(2, 3, 4)

	n.stepFlush(pb.Message{From: 4, To: 1, Type: pb.MsgTransferLeader})
	assert.Equal(t, None, n.r.leadTransferee, "learner")
	n.stepFlush(pb.Message{From: 1, To: 1, Type: pb.MsgTransferLeader})
	assert.Equal(t, None, n.r.leadTransferee, "self")
	assert.Equal(t, StateLeader, n.r.state)

	require.NoError(t, n.Propose([]byte("a")))
	n.flush()
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgTransferLeader})
	require.Equal(t, uint64(2), n.r.leadTransferee)
	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgTransferLeader})
	assert.Empty(t, msgs, "the same transfer again")
	n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgTransferLeader})
	assert.Equal(t, uint64(3), n.r.leadTransferee, "a new target replaces the old")

	// Once caught up the target gets TimeoutNow.
	msgs = n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgAppResp, Term: 1, Index: n.r.raftLog.lastIndex()})
	assert.Len(t, filterMsgs(msgs, pb.MsgTimeoutNow), 1)

	// A learner told to time out does not campaign.
	l := newTestNode(t, 4, cs, nil)
	l.stepFlush(pb.Message{From: 1, To: 4, Type: pb.MsgTimeoutNow, Term: 1})
	assert.Equal(t, StateFollower, l.r.state)
}

// Thesis §3.10 end to end: the transferee wins at once even when PreVote
// and CheckQuorum are on, since its campaign bypasses the lease.
func TestTransferLeaderWithPreVoteAndCheckQuorum(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.PreVote = true; cfg.CheckQuorum = true })
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	c.node(2).TransferLeader(3) // through a follower
	c.stabilize()
	require.Equal(t, uint64(3), c.leader())
	assert.Equal(t, StateFollower, c.node(1).raft.state)
	require.NoError(t, c.propose(3, "b"))
	assert.Equal(t, []string{"a", "b"}, c.requireSameApplied(c.ids...))
}

// snapStorage is a MemoryStorage whose Snapshot can be made temporarily
// unavailable, as an application that is still creating one would report.
type snapStorage struct {
	*MemoryStorage
	unavailable bool
}

func (s *snapStorage) Snapshot() (pb.Snapshot, error) {
	if s.unavailable {
		return pb.Snapshot{}, ErrSnapshotTemporarilyUnavailable
	}
	return s.MemoryStorage.Snapshot()
}

// When the storage has no snapshot ready yet, the leader sends nothing and
// tries again on the follower's next response.
func TestSnapshotTemporarilyUnavailableRetried(t *testing.T) {
	ms := newTestStorage(t, voters(1, 2, 3))
	s := &snapStorage{MemoryStorage: ms}
	rn, err := NewRawNode(newTestConfig(1, 10, 1, s))
	require.NoError(t, err)
	rn.raft.setRandIntn(func(int) int { return 0 })
	n := &testNode{t: t, RawNode: rn, r: rn.raft, s: ms}
	n.becomeLeader(2, 3)
	n.ackAll(2, 3)
	require.NoError(t, n.Propose([]byte("x")))
	n.flush()
	n.ackAll(3)
	_, err = ms.CreateSnapshot(n.r.raftLog.applied, &pb.ConfState{Voters: []uint64{1, 2, 3}}, nil)
	require.NoError(t, err)
	require.NoError(t, ms.Compact(n.r.raftLog.applied))
	pr := n.r.trk.Get(2)
	pr.BecomeProbe()
	pr.Match, pr.Next = 0, 1

	s.unavailable = true
	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	assert.Empty(t, filterMsgs(msgs, pb.MsgSnap))
	assert.Equal(t, progress.StateProbe, pr.State)

	s.unavailable = false
	msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
	assert.Len(t, filterMsgs(msgs, pb.MsgSnap), 1)
	assert.Equal(t, progress.StateSnapshot, pr.State)
}

// A transfer to a node that a conf change removes is abandoned.
func TestTransferLeaderAbortedWhenTransfereeRemoved(t *testing.T) {
	n := newFlowLeader(t, true)
	require.NoError(t, n.Propose([]byte("a")))
	n.flush()
	n.ackAll(2)
	n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgTransferLeader})
	require.Equal(t, uint64(3), n.r.leadTransferee)
	n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 3}.AsV2())
	assert.Equal(t, None, n.r.leadTransferee)
	assert.NoError(t, n.Propose([]byte("b")))
}

// The RawNode helpers that only read or nudge state: WithProgress visits
// every peer without inflights, TickQuiesced only advances the election
// clock, ForgetLeader forgets, ProposeConfChange refuses nil.
func TestRawNodeSmallHelpers(t *testing.T) {
	n := newFlowLeader(t, true)
	seen := map[uint64]ProgressType{}
	n.WithProgress(func(id uint64, typ ProgressType, pr progress.Progress) {
		seen[id] = typ
		assert.Nil(t, pr.Inflights)
	})
	assert.Equal(t, map[uint64]ProgressType{1: ProgressTypePeer, 2: ProgressTypePeer, 3: ProgressTypePeer}, seen)
	assert.Error(t, n.ProposeConfChange(nil))

	f := newFollowerAt(t, 2, 1, 1)
	for i := 0; i < 3*f.r.electionTimeout; i++ {
		f.TickQuiesced()
	}
	assert.Equal(t, StateFollower, f.r.state, "no campaign while quiesced")
	assert.Greater(t, f.r.electionElapsed, f.r.electionTimeout)
	require.NoError(t, f.ForgetLeader())
	assert.Equal(t, None, f.r.lead)
}

// A leader holds an inflight window for a follower only while it is in
// use: an idle group drops the windows at its heartbeats, a busy one keeps
// them, and a dropped window comes back, with its limits, at the next send.
func TestLeaderHoldsInflightWindowsOnlyWhileInUse(t *testing.T) {
	n := newFlowLeader(t, true, func(c *Config) { c.MaxInflightMsgs = 2 })
	pr := n.r.trk.Get(2)
	heartbeat := func() {
		for i := 0; i < n.r.heartbeatTimeout; i++ {
			n.Tick()
		}
		n.flush()
	}

	require.NoError(t, n.Propose([]byte("x")))
	apps := appsTo(n.flush(), 2)
	require.Len(t, apps, 1)
	win := pr.Inflights
	require.NotNil(t, win, "a send in StateReplicate gets a window")
	heartbeat()
	heartbeat()
	assert.Same(t, win, pr.Inflights, "kept while a message is in flight")

	// Busy: every interval sees a send, and the window is kept.
	for i := 0; i < 3; i++ {
		n.ackAll(2, 3)
		heartbeat()
		require.NoError(t, n.Propose([]byte("x")))
		n.flush()
		assert.Same(t, win, pr.Inflights, "a busy peer keeps its window")
	}

	// Idle: acknowledged, then two heartbeats with nothing in flight.
	n.ackAll(2, 3)
	heartbeat()
	assert.NotNil(t, pr.Inflights)
	heartbeat()
	assert.Nil(t, pr.Inflights, "an idle peer's window is dropped")
	assert.Nil(t, n.r.trk.Get(3).Inflights)

	// The next sends get a window with the configured limit.
	for i := 0; i < 3; i++ {
		require.NoError(t, n.Propose([]byte("x")))
		n.flush()
	}
	require.NotNil(t, pr.Inflights)
	assert.Equal(t, 2, pr.Inflights.Count())
	assert.True(t, pr.Inflights.Full(), "MaxInflightMsgs still bounds the window")
}
