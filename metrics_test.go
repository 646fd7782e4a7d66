package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// newMetricsCluster starts a cluster of n voters, each with its own Metrics.
func newMetricsCluster(t *testing.T, n int, configure func(*Config)) (*testCluster, map[uint64]*Metrics) {
	mx := make(map[uint64]*Metrics)
	c := newTestCluster(t, n, func(cfg *Config) {
		if mx[cfg.ID] == nil {
			mx[cfg.ID] = new(Metrics)
		}
		cfg.Metrics = mx[cfg.ID]
		if configure != nil {
			configure(cfg)
		}
	})
	return c, mx
}

func snap(mx map[uint64]*Metrics, id uint64) MetricsSnapshot { return mx[id].Snapshot() }

func TestMetricsCountElectionWonByKind(t *testing.T) {
	for _, prevote := range []bool{false, true} {
		c, mx := newMetricsCluster(t, 3, func(cfg *Config) { cfg.PreVote = prevote })
		c.campaign(1)
		s := snap(mx, 1)
		want := [numElectionKinds]uint64{ElectionVote: 1}
		if prevote {
			want[ElectionPreVote] = 1
		}
		assert.Equal(t, want, s.ElectionsStarted, "prevote=%v", prevote)
		assert.Equal(t, want, s.ElectionsWon, "prevote=%v", prevote)
		assert.Zero(t, s.ElectionsLost, "prevote=%v", prevote)
		assert.Equal(t, StateLeader, s.State)
		assert.Equal(t, uint64(1), s.Term, "the first election, from term 0")
		for _, id := range c.ids {
			s := snap(mx, id)
			assert.Equal(t, uint64(1), s.LeaderChanges, "node %d", id)
			assert.Equal(t, uint64(1), s.Lead, "node %d", id)
			if id != 1 {
				assert.Zero(t, s.ElectionsStarted, "node %d ran no election", id)
			}
		}
	}
}

func TestMetricsCountElectionLostWhenQuorumRefuses(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	c.crash(3)
	require.NoError(t, c.propose(1, "a"))
	c.restart(3)
	// Node 3 misses "a": the others refuse it their vote.
	c.campaign(3)
	s := snap(mx, 3)
	assert.Equal(t, uint64(1), s.ElectionsStarted[ElectionVote])
	assert.Equal(t, uint64(1), s.ElectionsLost[ElectionVote])
	assert.Zero(t, s.ElectionsWon)
}

func TestMetricsCountTransferElection(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	c.node(1).TransferLeader(3)
	c.stabilize()
	require.Equal(t, uint64(3), c.leader())
	s := snap(mx, 3)
	assert.Equal(t, uint64(1), s.ElectionsStarted[ElectionTransfer])
	assert.Equal(t, uint64(1), s.ElectionsWon[ElectionTransfer])
	assert.Zero(t, s.ElectionsStarted[ElectionVote])
	for _, id := range c.ids {
		assert.Equal(t, uint64(2), snap(mx, id).LeaderChanges, "node %d", id)
	}
}

func TestMetricsCountDroppedProposalsByReason(t *testing.T) {
	tests := []struct {
		reason    DropReason
		configure func(*Config)
		// drop sets up the cluster and makes one proposal that is dropped;
		// it returns the node that dropped it.
		drop func(t *testing.T, c *testCluster) (uint64, error)
	}{
		{DropNoLeader, nil, func(t *testing.T, c *testCluster) (uint64, error) {
			return 2, c.propose(2, "x")
		}},
		{DropForwardingDisabled, func(cfg *Config) { cfg.DisableProposalForwarding = true },
			func(t *testing.T, c *testCluster) (uint64, error) {
				c.campaign(1)
				return 2, c.propose(2, "x")
			}},
		{DropTransferPending, nil, func(t *testing.T, c *testCluster) (uint64, error) {
			c.campaign(1)
			c.crash(3)
			require.NoError(t, c.propose(1, "a"))
			c.node(1).TransferLeader(3) // 3 is down: the transfer stays pending
			c.stabilize()
			return 1, c.propose(1, "x")
		}},
		{DropUncommittedLimit, func(cfg *Config) { cfg.MaxUncommittedEntriesSize = 4 },
			func(t *testing.T, c *testCluster) (uint64, error) {
				c.campaign(1)
				c.isolate(1)
				require.NoError(t, c.propose(1, "aaaa"))
				return 1, c.propose(1, "bbbb")
			}},
		{DropConfChangeRefused, nil, func(t *testing.T, c *testCluster) (uint64, error) {
			c.campaign(1)
			// Leaving a joint configuration that is not joint.
			return 1, c.proposeConfChange(1, pb.ConfChangeV2{})
		}},
		{DropNotMember, nil, func(t *testing.T, c *testCluster) (uint64, error) {
			c.campaign(1)
			require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1}))
			return 1, c.propose(1, "x")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.reason.String(), func(t *testing.T) {
			c, mx := newMetricsCluster(t, 3, tt.configure)
			id, err := tt.drop(t, c)
			require.ErrorIs(t, err, ErrProposalDropped)
			for _, n := range c.ids {
				var want [numDropReasons]uint64
				if n == id {
					want[tt.reason] = 1
				}
				assert.Equal(t, want, snap(mx, n).ProposalsDropped, "node %d", n)
			}
		})
	}
}

func TestMetricsCountAcceptedProposalsOnLeader(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	require.NoError(t, c.propose(2, "b")) // forwarded
	assert.Equal(t, uint64(2), snap(mx, 1).ProposalsAccepted)
	assert.Zero(t, snap(mx, 2).ProposalsAccepted)
	assert.Equal(t, uint64(1), snap(mx, 2).MessagesSent[pb.MsgProp])
	assert.Equal(t, uint64(1), snap(mx, 1).MessagesReceived[pb.MsgProp])
	for _, id := range c.ids {
		s := snap(mx, id)
		assert.Zero(t, s.ProposalsDropped, "node %d", id)
		assert.Equal(t, s.LastIndex, s.CommitIndex, "node %d", id)
		assert.Equal(t, s.CommitIndex, s.AppliedIndex, "node %d", id)
		assert.Equal(t, s.LastIndex, s.PersistedIndex, "node %d", id)
		assert.Equal(t, uint64(4), s.CommitIndex, "node %d: snapshot 1, empty entry 2, a 3, b 4", id)
	}
}

func TestMetricsCountMessagesSentAndReceivedAlike(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	c.tick(3)
	var sent, recv [numMessageTypes]uint64
	for _, id := range c.ids {
		s := snap(mx, id)
		for typ := range sent {
			sent[typ] += s.MessagesSent[typ]
			recv[typ] += s.MessagesReceived[typ]
		}
	}
	// Nothing was lost on the way: every message sent was received.
	assert.Equal(t, sent, recv)
	assert.NotZero(t, sent[pb.MsgApp])
	assert.NotZero(t, sent[pb.MsgHeartbeat])
	assert.Equal(t, uint64(2), sent[pb.MsgVote])
	assert.Zero(t, sent[pb.MsgHup], "local messages are not counted")
}

func TestMetricsCountRejectedAppends(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	for _, id := range c.ids {
		assert.Zero(t, snap(mx, id).AppendsRejectedSent, "node %d before", id)
		assert.Zero(t, snap(mx, id).AppendsRejectedReceived, "node %d before", id)
	}
	c.crash(3)
	require.NoError(t, c.propose(1, "b"))
	c.restart(3)
	require.NoError(t, c.propose(1, "c")) // appended after "b", which 3 lacks
	assert.NotZero(t, snap(mx, 3).AppendsRejectedSent)
	assert.Equal(t, snap(mx, 3).AppendsRejectedSent, snap(mx, 1).AppendsRejectedReceived)
	assert.Zero(t, snap(mx, 2).AppendsRejectedSent)
}

func TestMetricsCountSnapshots(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	c.crash(3)
	for i := 0; i < 5; i++ {
		require.NoError(t, c.propose(1, "x"))
	}
	c.compact(1)
	for _, id := range c.ids {
		s := snap(mx, id)
		assert.Zero(t, s.SnapshotsSent+s.SnapshotsReceived+s.SnapshotsFailed, "node %d before", id)
	}
	c.restart(3)
	c.tick(3)
	require.NoError(t, c.propose(1, "z"))
	assert.Equal(t, uint64(1), snap(mx, 1).SnapshotsSent)
	assert.Equal(t, uint64(1), snap(mx, 3).SnapshotsReceived)
	assert.Zero(t, snap(mx, 1).SnapshotsFailed)
	assert.Zero(t, snap(mx, 2).SnapshotsSent+snap(mx, 2).SnapshotsReceived)

	// A snapshot that did not arrive, reported by the application.
	c.node(1).ReportSnapshot(3, SnapshotFailure)
	c.stabilize()
	assert.Equal(t, uint64(1), snap(mx, 1).SnapshotsFailed)
	assert.Equal(t, uint64(1), snap(mx, 1).SnapshotsSent)
	assert.Equal(t, uint64(1), snap(mx, 3).SnapshotsReceived)
}

func TestMetricsCountFollowersByState(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	c.tick(1)
	s := snap(mx, 1)
	assert.Equal(t, [numFollowerStates]uint64{0, 2, 0}, s.Followers, "probe, replicate, snapshot")
	assert.Zero(t, s.FollowersPaused)
	assert.Zero(t, snap(mx, 2).Followers, "a follower has no followers")
}

func TestMetricsCountReadIndex(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	require.Zero(t, snap(mx, 1).ReadsServed)
	c.node(1).ReadIndex([]byte("r1"))
	c.stabilize()
	c.node(2).ReadIndex([]byte("r2"))
	c.stabilize()
	s := snap(mx, 1)
	assert.Equal(t, uint64(2), s.ReadsServed)
	assert.Equal(t, uint64(2), s.ReadLatency[0], "answered within the tick")
	assert.Zero(t, snap(mx, 2).ReadsServed, "the leader serves")

	// A heartbeat round that takes two ticks.
	c.cut[[2]uint64{1, 2}] = true
	c.cut[[2]uint64{1, 3}] = true
	c.node(1).ReadIndex([]byte("r3"))
	c.stabilize()
	c.tick(2)
	c.heal()
	c.tick(1)
	s = snap(mx, 1)
	assert.Equal(t, uint64(3), s.ReadsServed)
	assert.Equal(t, uint64(3), s.ReadLatencySum)
}

func TestMetricsCountReadiesAndConfChanges(t *testing.T) {
	c, mx := newMetricsCluster(t, 3, nil)
	c.campaign(1)
	before := snap(mx, 1)
	require.NoError(t, c.propose(1, "abc"))
	s := snap(mx, 1)
	assert.Equal(t, uint64(1), s.ReadyEntries-before.ReadyEntries)
	assert.Equal(t, uint64(3), s.ReadyEntryBytes-before.ReadyEntryBytes)
	assert.Equal(t, uint64(1), s.ReadyCommittedEntries-before.ReadyCommittedEntries)
	assert.Greater(t, s.Readies, before.Readies)
	assert.Zero(t, s.ConfChangesApplied)

	c.join(4)
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}))
	for _, id := range []uint64{1, 2, 3} {
		assert.Equal(t, uint64(1), snap(mx, id).ConfChangesApplied, "node %d", id)
	}
}

func TestMetricsOffAllocatesNoSettings(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	// setRandIntn of the test cluster allocates the rare settings; a node
	// built without it keeps none.
	rn, err := NewRawNode(newTestConfig(1, 10, 1, newTestStorage(t, voters(1))))
	require.NoError(t, err)
	assert.Nil(t, rn.raft.rare)
	assert.Nil(t, rn.raft.metrics())
}
