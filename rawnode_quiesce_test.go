package raft

import (
	"testing"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newQuiesceCluster returns a 3-voter cluster with PreVote and CheckQuorum
// whose leader is 1, with every replica caught up.
func newQuiesceCluster(t *testing.T) *testCluster {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.PreVote, cfg.CheckQuorum = true, true })
	c.campaign(1)
	c.stabilize()
	require.Equal(t, uint64(1), c.leader())
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	return c
}

func TestIdleLeaderWithCaughtUpFollowersMayQuiesce(t *testing.T) {
	c := newQuiesceCluster(t)
	assert.True(t, c.node(1).MayQuiesce(nil))
	assert.False(t, c.node(2).MayQuiesce(nil), "a follower is never the one that quiesces a group")
	st := c.node(1).BasicStatus()
	assert.True(t, c.node(2).MayQuiesceFollowing(1, st.Term, st.Commit))
	assert.False(t, c.node(2).MayQuiesceFollowing(3, st.Term, st.Commit), "another leader")
	assert.False(t, c.node(2).MayQuiesceFollowing(1, st.Term+1, st.Commit), "another term")
	assert.False(t, c.node(2).MayQuiesceFollowing(1, st.Term, st.Commit+1), "another commit")
}

func TestLeaderMayNotQuiesceWithWorkPending(t *testing.T) {
	c := newQuiesceCluster(t)
	require.NoError(t, c.node(1).Propose([]byte("y")))
	assert.False(t, c.node(1).MayQuiesce(nil), "an unsent proposal")
	c.stabilize()
	require.True(t, c.node(1).MayQuiesce(nil))

	c.node(1).ReadIndex([]byte("r"))
	assert.False(t, c.node(1).MayQuiesce(nil), "a ReadIndex in flight")
	c.stabilize()
	require.True(t, c.node(1).MayQuiesce(nil))

	c.node(1).TransferLeader(2)
	assert.False(t, c.node(1).MayQuiesce(nil), "a leadership transfer")
}

func TestLeaderMayQuiesceLeavingADownFollowerBehind(t *testing.T) {
	c := newQuiesceCluster(t)
	c.isolate(3)
	require.NoError(t, c.propose(1, "y"))
	c.stabilize()
	assert.False(t, c.node(1).MayQuiesce(nil), "3 lags")
	assert.True(t, c.node(1).MayQuiesce(func(id uint64) bool { return id == 3 }), "3 is down: left lagging")
}

func TestGroupsWithoutPreVoteOrWithLeaseReadsNeverQuiesce(t *testing.T) {
	for name, configure := range map[string]func(*Config){
		"no prevote":     func(cfg *Config) { cfg.CheckQuorum = true },
		"no checkquorum": func(cfg *Config) { cfg.PreVote = true },
		"lease reads": func(cfg *Config) {
			cfg.PreVote, cfg.CheckQuorum, cfg.ReadOnlyOption = true, true, ReadOnlyLeaseBased
		},
	} {
		c := newTestCluster(t, 3, configure)
		c.campaign(1)
		c.stabilize()
		require.Equal(t, uint64(1), c.leader(), name)
		assert.False(t, c.node(1).MayQuiesce(nil), name)
		st := c.node(1).BasicStatus()
		assert.False(t, c.node(2).MayQuiesceFollowing(1, st.Term, st.Commit), name)
	}
}

func TestWakeRestartsTheElectionClock(t *testing.T) {
	c := newQuiesceCluster(t)
	f := c.node(2)
	f.Quiesce()
	require.True(t, f.Quiesced())
	// An application that ticks a quiesced group by mistake, or a
	// deprecated TickQuiesced, must not leave a backlog past the wake.
	for i := 0; i < 100; i++ {
		f.TickQuiesced()
	}
	assert.True(t, f.Wake())
	assert.False(t, f.Quiesced())
	assert.False(t, f.Wake(), "a second wake does nothing")
	f.Tick()
	c.stabilize()
	assert.Equal(t, StateFollower, f.BasicStatus().RaftState, "the wake did not start an election")
}

func TestWokenLeaderIsNotDeposedByCheckQuorum(t *testing.T) {
	c := newQuiesceCluster(t)
	l := c.node(1)
	l.Quiesce()
	// While quiet nobody answers; mark the followers inactive as a
	// CheckQuorum round would have found them.
	l.raft.trk.Visit(func(id uint64, pr *progress.Progress) {
		if id != 1 {
			pr.RecentActive = false
		}
	})
	for i := 0; i < 100; i++ {
		l.TickQuiesced()
	}
	require.True(t, l.Wake())
	c.isolate(2)
	c.isolate(3)
	// One election timeout later the leader runs CheckQuorum once; it
	// must count the followers as active from the wake.
	for i := 0; i < 10; i++ {
		l.Tick()
	}
	assert.Equal(t, StateLeader, l.BasicStatus().RaftState)
}

func TestQuiesceDoesNotChangeRaftBehaviour(t *testing.T) {
	c := newQuiesceCluster(t)
	l := c.node(1)
	l.Quiesce()
	require.NoError(t, c.propose(1, "y"))
	c.stabilize()
	assert.Equal(t, []string{"x", "y"}, c.requireSameApplied(1, 2, 3))
	assert.True(t, l.Quiesced(), "only Wake clears the flag")
}

func TestLeaderMayNotQuiesceInAJointConfiguration(t *testing.T) {
	c := newQuiesceCluster(t)
	cc := pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointExplicit,
		Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: 3}}}
	require.NoError(t, c.proposeConfChange(1, cc))
	c.stabilize()
	require.NotEmpty(t, c.members(1).VotersOutgoing, "joint")
	assert.False(t, c.node(1).MayQuiesce(nil))
	require.NoError(t, c.proposeConfChange(1, pb.ConfChangeV2{}))
	c.stabilize()
	require.Empty(t, c.members(1).VotersOutgoing, "left the joint configuration")
	assert.True(t, c.node(1).MayQuiesce(nil))
}

// A heartbeat and the quiesce notice after it may reach a follower in one
// batch: the answer to the heartbeat, still queued, does not stop it from
// agreeing (a quiet leader takes such answers without waking).
func TestFollowerMayQuiesceWithAHeartbeatAnswerQueued(t *testing.T) {
	c := newQuiesceCluster(t)
	st := c.node(1).BasicStatus()
	f := c.node(2)
	require.NoError(t, f.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: st.Term, Commit: st.Commit}))
	require.True(t, f.HasReady())
	assert.True(t, f.MayQuiesceFollowing(1, st.Term, st.Commit))
	require.NoError(t, f.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: st.Term, Commit: st.Commit, Context: []byte("read")}))
	assert.False(t, f.MayQuiesceFollowing(1, st.Term, st.Commit), "an answer that acknowledges a read")
}

func TestStatusReportsQuiescence(t *testing.T) {
	c := newQuiesceCluster(t)
	rn := c.node(1)
	require.False(t, rn.Status().Quiesced)
	require.NotContains(t, rn.Status().String(), "quiesced", "the JSON of an awake node is etcd's")
	rn.Quiesce()
	assert.True(t, rn.Status().Quiesced)
	assert.Contains(t, rn.Status().String(), `"quiesced":true`)
	assert.True(t, rn.Wake())
	assert.False(t, rn.Status().Quiesced)
}
