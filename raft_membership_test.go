package raft

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func addNode(id uint64) pb.ConfChangeSingle {
	return pb.ConfChangeSingle{Type: pb.ConfChangeAddNode, NodeID: id}
}

func addLearner(id uint64) pb.ConfChangeSingle {
	return pb.ConfChangeSingle{Type: pb.ConfChangeAddLearnerNode, NodeID: id}
}

func removeNode(id uint64) pb.ConfChangeSingle {
	return pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode, NodeID: id}
}

// lastEntry returns the leader's last log entry.
func lastEntry(t *testing.T, r *raft) pb.Entry {
	es, err := r.raftLog.entries(r.raftLog.lastIndex(), noLimit)
	require.NoError(t, err)
	require.Len(t, es, 1)
	return es[0]
}

// Issue 5: ConfChange (v1) and ConfChangeV2 entries are both accepted and
// applied alike.
func TestConfChangeV1AndV2BothAccepted(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	c.campaign(1)
	c.join(2)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}))
	assert.Equal(t, []uint64{1, 2}, c.members(1).Voters)
	c.join(3)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(3)}}))
	for _, id := range c.ids {
		assert.Equal(t, []uint64{1, 2, 3}, c.members(id).Voters, "node %d", id)
		assert.Equal(t, []uint64{1, 2, 3}, c.nodes[id].cs.Voters, "node %d persisted", id)
	}
	require.NoError(t, c.propose(1, "a"))
	assert.Equal(t, []string{"a"}, c.requireSameApplied(c.ids...))
}

// Issue 5: the transitions behave as their names say. Auto with one change
// is a simple change; Auto with several, and JointImplicit, enter a joint
// configuration that the leader leaves by itself; JointExplicit stays joint
// until the application proposes the leave.
func TestConfChangeTransitions(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cc        pb.ConfChangeV2
		wantJoint bool // after the change and stabilization
	}{
		{"auto simple", pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(4)}}, false},
		{"auto joint", pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(4), removeNode(3)}}, false},
		{"implicit", pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointImplicit, Changes: []pb.ConfChangeSingle{addNode(4)}}, false},
		{"explicit", pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointExplicit, Changes: []pb.ConfChangeSingle{addNode(4)}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, 3, nil)
			c.campaign(1)
			c.join(4)
			require.NoError(t, c.proposeConfChange(1, tt.cc))
			cs := c.members(1)
			assert.Equal(t, tt.wantJoint, len(cs.VotersOutgoing) > 0, "%s", DescribeConfState(cs))
			assert.False(t, cs.AutoLeave)
			if tt.wantJoint {
				// A second change is refused while joint; only the leave.
				assert.Error(t, c.proposeConfChange(1, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(5)}}))
				require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{}))
				cs = c.members(1)
				assert.Empty(t, cs.VotersOutgoing)
			}
			assert.Contains(t, cs.Voters, uint64(4))
			for _, id := range c.ids {
				assert.Equal(t, cs, c.members(id), "node %d", id)
			}
			require.NoError(t, c.propose(1, "a"))
			c.requireSameApplied(1, 2, 4)
		})
	}
}

// Issue 5: with auto-leave, the leader proposes the leave entry itself once
// the joint configuration is applied, not before.
func TestAutoLeaveProposedByLeaderAfterApply(t *testing.T) {
	n := newTestNode(t, 1, voters(1, 2, 3), nil)
	n.becomeLeader(2, 3)
	n.ackAll(2, 3)
	require.NoError(t, n.ProposeConfChange(pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(4), removeNode(3)}}))
	n.flush()
	n.ackAll(2, 3)
	// The joint entry is committed; flush applied it.
	cs := n.r.trk.ConfState()
	require.Equal(t, []uint64{1, 2, 3}, cs.VotersOutgoing, "joint now")
	require.True(t, cs.AutoLeave)
	last := lastEntry(t, n.r)
	require.Equal(t, pb.EntryConfChangeV2, last.Type, "the leave entry was appended")
	cc, err := decodeConfChange(last)
	require.NoError(t, err)
	assert.True(t, cc.LeaveJoint())
	// It is proposed once only.
	n.Tick()
	n.flush()
	assert.Equal(t, last.Index, n.r.raftLog.lastIndex())
	// The leave commits by the joint quorum (both majorities).
	n.ackAll(2, 4)
	cs = n.r.trk.ConfState()
	assert.Empty(t, cs.VotersOutgoing)
	assert.Equal(t, []uint64{1, 2, 4}, cs.Voters)
	assert.False(t, cs.AutoLeave)
}

// Issue 5: a leader refuses a second conf change while one is pending
// (appended but not applied), unless DisableConfChangeValidation; a new
// leader treats its whole uncommitted tail as pending.
func TestSecondConfChangeRefusedWhilePending(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprint("disable=", disable), func(t *testing.T) {
			n := newTestNode(t, 1, voters(1, 2, 3), nil, func(c *Config) { c.DisableConfChangeValidation = disable })
			n.becomeLeader(2, 3)
			n.ackAll(2, 3)
			require.NoError(t, n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}))
			last := n.r.raftLog.lastIndex()
			err := n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5})
			if disable {
				assert.NoError(t, err)
				assert.Equal(t, last+1, n.r.raftLog.lastIndex())
			} else {
				assert.ErrorIs(t, err, ErrProposalDropped)
				assert.Equal(t, last, n.r.raftLog.lastIndex(), "nothing appended")
				// Ordinary proposals are not affected.
				assert.NoError(t, n.Propose([]byte("x")))
				// Once applied, the next change is taken.
				n.flush()
				n.ackAll(2, 3)
				assert.NoError(t, n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5}))
			}
		})
	}
}

// Issue 5 and the design: a change takes effect when applied, never when
// appended or committed.
func TestConfChangeTakesEffectOnApplyOnly(t *testing.T) {
	n := newTestNode(t, 1, voters(1), nil)
	n.becomeLeader()
	require.NoError(t, n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}))
	assert.Equal(t, []uint64{1}, n.r.trk.VoterNodes(), "appended")

	rd := n.Ready()
	require.NoError(t, n.s.Append(rd.Entries))
	n.Advance(rd) // the leader's own write counts: committed
	require.Equal(t, n.r.raftLog.lastIndex(), n.r.raftLog.committed)
	assert.Equal(t, []uint64{1}, n.r.trk.VoterNodes(), "committed")

	rd = n.Ready()
	require.Len(t, rd.CommittedEntries, 1)
	assert.Equal(t, []uint64{1}, n.r.trk.VoterNodes(), "handed out for application")
	cc, err := decodeConfChange(rd.CommittedEntries[0])
	require.NoError(t, err)
	cs := n.ApplyConfChange(cc)
	assert.Equal(t, []uint64{1, 2}, cs.Voters)
	assert.Equal(t, []uint64{1, 2}, n.r.trk.VoterNodes(), "applied")
	n.Advance(rd)
}

// Issue 5: a node with a committed conf change it has not applied does not
// campaign: it does not know the configuration it would lead.
func TestNoCampaignWithCommittedUnappliedConfChange(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3)
	cc := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}
	data, err := cc.Marshal()
	require.NoError(t, err)
	require.NoError(t, n.step(pb.Message{From: 3, To: 1, Type: pb.MsgApp, Term: 2, Commit: 1,
		Entries: []pb.Entry{{Index: 1, Term: 2, Type: pb.EntryConfChange, Data: data}}}))
	require.NoError(t, n.step(pb.Message{Type: pb.MsgHup}))
	assert.Equal(t, StateFollower, n.r.state)
	n.flush() // applies it
	require.NoError(t, n.step(pb.Message{Type: pb.MsgHup}))
	assert.Equal(t, StateCandidate, n.r.state)
}

// Issue 5: learners receive the log and snapshots, never campaign, and
// count for nothing in quorums; they do answer vote requests, as the
// reference does.
func TestLearners(t *testing.T) {
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	t.Run("count for nothing in commit quorums", func(t *testing.T) {
		n := newTestNode(t, 1, cs, nil)
		n.becomeLeader(2, 3)
		n.ackAll(4)
		assert.Equal(t, uint64(0), n.r.raftLog.committed)
		n.ackAll(2)
		assert.Equal(t, uint64(1), n.r.raftLog.committed)
	})
	t.Run("count for nothing in elections", func(t *testing.T) {
		n := newTestNode(t, 1, cs, nil)
		msgs := n.stepFlush(pb.Message{Type: pb.MsgHup})
		for _, m := range msgs {
			assert.NotEqual(t, uint64(4), m.To, "no vote request to a learner")
		}
		require.NoError(t, n.step(pb.Message{From: 4, To: 1, Type: pb.MsgVoteResp, Term: 1}))
		assert.Equal(t, StateCandidate, n.r.state)
	})
	t.Run("count for nothing in CheckQuorum", func(t *testing.T) {
		n := newTestNode(t, 1, cs, nil, func(c *Config) { c.CheckQuorum = true })
		n.becomeLeader(2, 3)
		for i := 0; i < n.r.electionTimeout; i++ {
			n.stepFlush(pb.Message{From: 4, To: 1, Type: pb.MsgHeartbeatResp, Term: 1})
			n.Tick()
		}
		assert.Equal(t, StateFollower, n.r.state)
	})
	t.Run("never campaign", func(t *testing.T) {
		n := newTestNode(t, 4, cs, nil)
		for i := 0; i < 5*n.r.electionTimeout; i++ {
			n.Tick()
		}
		n.stepFlush(pb.Message{Type: pb.MsgHup})
		n.stepFlush(pb.Message{From: 1, To: 4, Type: pb.MsgTimeoutNow, Term: 1})
		assert.Equal(t, StateFollower, n.r.state)
		assert.Equal(t, uint64(1), n.r.Term, "the TimeoutNow's term, nothing more")
		assert.True(t, n.r.isLearner)
	})
	t.Run("answer vote requests", func(t *testing.T) {
		n := newTestNode(t, 4, cs, nil)
		msgs := n.stepFlush(pb.Message{From: 2, To: 4, Type: pb.MsgVote, Term: 1})
		require.Len(t, msgs, 1)
		assert.False(t, msgs[0].Reject)
	})
	t.Run("receive the log and snapshots", func(t *testing.T) {
		c := newTestCluster(t, 3, nil)
		c.campaign(1)
		c.join(4)
		require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}))
		require.NoError(t, c.propose(1, "a"))
		assert.Equal(t, []string{"a"}, c.nodes[4].applied)
		assert.Equal(t, []uint64{4}, c.members(4).Learners)
		c.crash(4)
		for i := 0; i < 5; i++ {
			require.NoError(t, c.propose(1, fmt.Sprint(i)))
		}
		c.compact(1)
		c.restart(4)
		c.tick(3)
		require.NoError(t, c.propose(1, "b"))
		assert.Equal(t, c.nodes[1].applied, c.nodes[4].applied)
		snap, _ := c.nodes[4].storage.Snapshot()
		assert.Greater(t, snap.Metadata.Index, uint64(1), "caught up by snapshot")
		assert.True(t, c.node(4).raft.isLearner)
	})
}

// Issue 5: promoting a learner makes it a voter that counts and can lead.
func TestPromoteLearner(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	c.join(4)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}))
	require.True(t, c.node(4).raft.isLearner)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
	assert.False(t, c.node(4).raft.isLearner)
	assert.Equal(t, []uint64{1, 2, 3, 4}, c.members(4).Voters)
	assert.Empty(t, c.members(4).Learners)
	c.node(1).TransferLeader(4)
	c.stabilize()
	assert.Equal(t, uint64(4), c.leader())
	require.NoError(t, c.propose(4, "a"))
	c.requireSameApplied(c.ids...)
}

// Issue 5: a leader that applies its own removal steps down with
// StepDownOnRemoval; otherwise it keeps leading, refusing proposals, until
// it hands over.
func TestRemovedLeader(t *testing.T) {
	for _, stepDown := range []bool{true, false} {
		t.Run(fmt.Sprint("stepDown=", stepDown), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) { cfg.StepDownOnRemoval = stepDown })
			c.campaign(1)
			require.NoError(t, c.propose(1, "a"))
			require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1}))
			for _, id := range c.ids {
				assert.Equal(t, []uint64{2, 3}, c.members(id).Voters, "node %d", id)
			}
			r1 := c.node(1).raft
			if stepDown {
				assert.Equal(t, StateFollower, r1.state)
				c.tick(30)
			} else {
				assert.Equal(t, StateLeader, r1.state)
				assert.ErrorIs(t, c.node(1).Propose([]byte("x")), ErrProposalDropped)
				c.tick(30)
				assert.Equal(t, StateLeader, r1.state, "keeps leading until it hands over")
				c.node(1).TransferLeader(2)
				c.stabilize()
			}
			lead := c.leader()
			require.NotZero(t, lead)
			require.NotEqual(t, uint64(1), lead)
			require.NoError(t, c.propose(lead, "b"))
			assert.Equal(t, []string{"a", "b"}, c.requireSameApplied(2, 3))
			// The removed node never campaigns.
			c.isolate(1)
			require.NoError(t, c.node(1).Campaign())
			c.tick(50)
			assert.NotEqual(t, StateCandidate, r1.state)
			assert.NotEqual(t, StatePreCandidate, r1.state)
		})
	}
}

// Issue 5: a node removed from the configuration ignores MsgHup.
func TestRemovedNodeIgnoresHup(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3)
	n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1}.AsV2())
	require.NoError(t, n.step(pb.Message{Type: pb.MsgHup}))
	for i := 0; i < 50; i++ {
		n.Tick()
	}
	assert.Equal(t, StateFollower, n.r.state)
	assert.Equal(t, uint64(2), n.r.Term)
	assert.Empty(t, n.flush())
}

// Issue 5: a cluster grows from one to three to five voters, with a learner
// along the way, and shrinks back to three; it commits throughout.
func TestClusterMembership1To3To5To3(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "v1"))
	want := []string{"v1"}
	for _, id := range []uint64{2, 3} {
		c.join(id)
		require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: id}))
		require.NoError(t, c.propose(1, fmt.Sprint("v", id)))
		want = append(want, fmt.Sprint("v", id))
	}
	assert.Equal(t, want, c.requireSameApplied(1, 2, 3))
	// A learner first, promoted; then a voter directly.
	c.join(4)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}))
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
	c.join(5)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(5)}}))
	require.NoError(t, c.propose(1, "five"))
	want = append(want, "five")
	for _, id := range c.ids {
		assert.Equal(t, []uint64{1, 2, 3, 4, 5}, c.members(id).Voters, "node %d", id)
	}
	assert.Equal(t, want, c.requireSameApplied(1, 2, 3, 4, 5))
	// Five voters tolerate two failures.
	c.crash(2)
	c.crash(3)
	require.NoError(t, c.propose(1, "two down"))
	want = append(want, "two down")
	c.restart(2)
	c.restart(3)
	c.tick(3)
	// Back to three: both removals at once, through a joint configuration.
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{removeNode(4), removeNode(5)}}))
	for _, id := range []uint64{1, 2, 3} {
		assert.Equal(t, []uint64{1, 2, 3}, c.members(id).Voters, "node %d", id)
		assert.Empty(t, c.members(id).VotersOutgoing)
	}
	c.crash(4)
	c.crash(5)
	require.NoError(t, c.propose(1, "three"))
	want = append(want, "three")
	assert.Equal(t, want, c.requireSameApplied(1, 2, 3))
}

// Issue 5: replacing a voter in one step through a joint configuration.
func TestReplaceVoterThroughJointConfig(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	c.join(4)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{
		Transition: pb.ConfChangeTransitionJointExplicit,
		Changes:    []pb.ConfChangeSingle{addNode(4), removeNode(3)},
	}))
	cs := c.members(1)
	assert.Equal(t, []uint64{1, 2, 4}, cs.Voters)
	assert.Equal(t, []uint64{1, 2, 3}, cs.VotersOutgoing)
	// While joint, both majorities are needed: with 2 and 3 down, {1, 4}
	// is a majority of the new voters but not of the old: nothing commits.
	c.crash(2)
	c.crash(3)
	require.NoError(t, c.propose(1, "stuck"))
	assert.NotContains(t, c.nodes[1].applied, "stuck")
	c.restart(2)
	c.restart(3)
	c.tick(3)
	assert.Contains(t, c.nodes[1].applied, "stuck")
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{}))
	for _, id := range []uint64{1, 2, 4} {
		assert.Equal(t, []uint64{1, 2, 4}, c.members(id).Voters)
		assert.Empty(t, c.members(id).VotersOutgoing)
	}
	c.crash(3)
	require.NoError(t, c.propose(1, "b"))
	assert.Equal(t, []string{"a", "stuck", "b"}, c.requireSameApplied(1, 2, 4))
}

// Issue 5: demoting a voter to learner.
func TestDemoteVoterToLearner(t *testing.T) {
	for _, joint := range []bool{false, true} {
		t.Run(fmt.Sprint("joint=", joint), func(t *testing.T) {
			c := newTestCluster(t, 3, nil)
			c.campaign(1)
			cc := pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addLearner(3)}}
			if joint {
				cc.Transition = pb.ConfChangeTransitionJointImplicit
			}
			require.NoError(t, c.proposeConfChange(1, cc))
			for _, id := range c.ids {
				cs := c.members(id)
				assert.Equal(t, []uint64{1, 2}, cs.Voters, "node %d", id)
				assert.Equal(t, []uint64{3}, cs.Learners, "node %d", id)
				assert.Empty(t, cs.LearnersNext)
			}
			assert.True(t, c.node(3).raft.isLearner)
			require.NoError(t, c.propose(1, "a"))
			assert.Equal(t, []string{"a"}, c.requireSameApplied(c.ids...))
			// Now 2 is needed for every commit.
			c.crash(2)
			require.NoError(t, c.propose(1, "b"))
			assert.NotContains(t, c.nodes[1].applied, "b")
		})
	}
}

// Issue 5: demoting a voter while joint goes through LearnersNext: it
// remains an outgoing voter until the joint configuration is left.
func TestDemoteVoterWhileJointUsesLearnersNext(t *testing.T) {
	n := newTestNode(t, 1, voters(1, 2, 3), nil)
	n.becomeLeader(2, 3)
	n.ackAll(2, 3)
	require.NoError(t, n.ProposeConfChange(pb.ConfChangeV2{
		Transition: pb.ConfChangeTransitionJointExplicit,
		Changes:    []pb.ConfChangeSingle{addLearner(3)},
	}))
	n.flush()
	n.ackAll(2, 3)
	cs := n.r.trk.ConfState()
	assert.Equal(t, []uint64{1, 2}, cs.Voters)
	assert.Equal(t, []uint64{1, 2, 3}, cs.VotersOutgoing)
	assert.Equal(t, []uint64{3}, cs.LearnersNext)
	require.NoError(t, n.ProposeConfChange(pb.ConfChangeV2{}))
	n.flush()
	n.ackAll(2, 3)
	cs = n.r.trk.ConfState()
	assert.Equal(t, []uint64{3}, cs.Learners)
	assert.Empty(t, cs.LearnersNext)
}

// Issue 5: a conf change proposed by a leader that crashes. If it reached
// only the leader it is lost; if it reached a majority the next leader
// commits and applies it, and refuses a new change until then.
func TestConfChangeAcrossLeaderCrash(t *testing.T) {
	t.Run("lost", func(t *testing.T) {
		c := newTestCluster(t, 3, nil)
		c.campaign(1)
		c.isolate(1)
		require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
		c.crash(1)
		c.heal()
		c.tick(30)
		lead := c.leader()
		require.NotZero(t, lead)
		c.restart(1)
		c.tick(5)
		require.NoError(t, c.propose(c.leader(), "a"))
		for _, id := range c.ids {
			assert.Equal(t, []uint64{1, 2, 3}, c.members(id).Voters, "node %d", id)
		}
		assert.Equal(t, []string{"a"}, c.requireSameApplied(c.ids...))
	})
	t.Run("survives", func(t *testing.T) {
		c := newTestCluster(t, 3, nil)
		c.campaign(1)
		c.join(4)
		// 2 receives the change; nobody hears back from it.
		c.cut[[2]uint64{1, 3}] = true
		c.cut[[2]uint64{2, 1}] = true
		require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
		require.Equal(t, []uint64{1, 2, 3}, c.members(1).Voters, "not committed")
		c.crash(1)
		c.heal()
		// 2 has the longer log: it wins; its election entry commits the
		// change.
		require.NoError(t, c.node(2).Campaign())
		c.stabilize()
		require.Equal(t, uint64(2), c.leader())
		for _, id := range []uint64{2, 3, 4} {
			assert.Equal(t, []uint64{1, 2, 3, 4}, c.members(id).Voters, "node %d", id)
		}
		c.restart(1)
		c.tick(3)
		assert.Equal(t, []uint64{1, 2, 3, 4}, c.members(1).Voters)
		require.NoError(t, c.propose(2, "a"))
		c.requireSameApplied(c.ids...)
	})
	t.Run("new leader refuses a change until its tail is applied", func(t *testing.T) {
		n := newTestNode(t, 1, voters(1, 2, 3), newTestStorage(t, voters(1, 2, 3), ents(1, 1)...))
		n.becomeLeader(2)
		assert.ErrorIs(t, n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}), ErrProposalDropped)
		n.ackAll(2)
		assert.NoError(t, n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
	})
}

// Issue 5: a snapshot that carries a joint ConfState restores the joint
// configuration on the follower, which then leaves it with the others.
func TestSnapshotCarriesJointConfState(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	c.crash(3)
	c.join(4)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{
		Transition: pb.ConfChangeTransitionJointExplicit,
		Changes:    []pb.ConfChangeSingle{addNode(4), addLearner(5)},
	}))
	require.NoError(t, c.propose(1, "b"))
	joint := c.members(1)
	require.NotEmpty(t, joint.VotersOutgoing)
	c.compact(1)
	c.compact(2)
	snap, err := c.nodes[1].storage.Snapshot()
	require.NoError(t, err)
	require.Equal(t, joint, snap.Metadata.ConfState)

	c.restart(3)
	c.tick(3)
	require.NoError(t, c.propose(1, "c"))
	assert.Equal(t, joint, c.members(3), "restored from the snapshot")
	assert.Equal(t, joint, c.nodes[3].cs)
	snap3, _ := c.nodes[3].storage.Snapshot()
	assert.Equal(t, joint, snap3.Metadata.ConfState)

	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{}))
	for _, id := range []uint64{1, 2, 3, 4} {
		cs := c.members(id)
		assert.Equal(t, []uint64{1, 2, 3, 4}, cs.Voters, "node %d", id)
		assert.Empty(t, cs.VotersOutgoing)
		assert.Equal(t, []uint64{5}, cs.Learners)
	}
	assert.Equal(t, []string{"a", "b", "c"}, c.requireSameApplied(1, 2, 3, 4))
}
