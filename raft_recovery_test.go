package raft

import (
	"fmt"
	"testing"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withRecoveryMutation runs f with recoveryMutation set to mut.
func withRecoveryMutation(mut recoveryMut, f func()) {
	defer func(old recoveryMut) { recoveryMutation = old }(recoveryMutation)
	recoveryMutation = mut
	f()
}

// pump runs rounds rounds of processing every node's Ready and delivering
// what they sent, and returns the number of messages sent. Unlike
// stabilize, it stops after rounds even if messages keep flowing, so that
// a test can count a message storm instead of failing in it.
func (c *testCluster) pump(rounds int) int {
	n := 0
	for i := 0; i < rounds; i++ {
		for _, id := range c.ids {
			c.process(id)
		}
		n += len(c.inflight)
		c.deliver()
	}
	return n
}

// loseTail crashes node id and restarts it on a copy of its storage that
// keeps only the entries up to index last (the tail after it was lost: a
// lying fsync, a repaired WAL). The HardState keeps its term and vote; its
// commit index is clamped to last, so that the node starts.
func (c *testCluster) loseTail(id, last uint64) {
	hs, _, err := c.nodes[id].storage.InitialState()
	require.NoError(c.t, err)
	hs.Commit = min(hs.Commit, last)
	c.regress(id, last, hs)
}

// regress crashes node id and restarts it on a copy of its storage that
// keeps only the entries up to index last, with HardState hs.
func (c *testCluster) regress(id, last uint64, hs pb.HardState) {
	c.crash(id)
	old := c.nodes[id].storage
	s := NewMemoryStorage()
	snap, err := old.Snapshot()
	require.NoError(c.t, err)
	require.NoError(c.t, s.ApplySnapshot(snap))
	if first := snap.Metadata.Index + 1; last >= first {
		es, err := old.Entries(first, last+1, noLimit)
		require.NoError(c.t, err)
		require.NoError(c.t, s.Append(es))
	}
	require.NoError(c.t, s.SetHardState(hs))
	c.nodes[id].storage = s
	c.restart(id)
}

// lostTailRun is the outcome of lostTailScenario.
type lostTailRun struct {
	// maxPerTick is the largest number of messages sent in one tick.
	maxPerTick int
	// caughtUp is the first tick after which the follower held the
	// leader's whole log, or -1.
	caughtUp int
}

// lostTailScenario runs a 3-node cluster in which follower 3 loses the
// entries above index 5 while leader 1 recorded Match 12 for it, for ticks
// ticks; with proposals, the leader proposes every third tick. Each tick
// is followed by five rounds of message exchange.
func lostTailScenario(t *testing.T, ticks int, proposals bool) lostTailRun {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	for i := 0; i < 10; i++ {
		require.NoError(t, c.propose(1, fmt.Sprintf("v%d", i)))
	}
	require.Equal(t, uint64(12), c.node(1).raft.trk.Get(3).Match)
	c.loseTail(3, 5)
	require.Equal(t, uint64(5), c.node(3).raft.raftLog.lastIndex())

	run := lostTailRun{caughtUp: -1}
	for tick := 0; tick < ticks; tick++ {
		for _, id := range c.ids {
			c.nodes[id].rn.Tick()
		}
		if proposals && tick%3 == 0 {
			require.NoError(t, c.node(1).Propose([]byte(fmt.Sprintf("w%d", tick))))
		}
		run.maxPerTick = max(run.maxPerTick, c.pump(5))
		lead, f := c.node(1).raft.raftLog, c.node(3).raft.raftLog
		if run.caughtUp < 0 && f.lastEntryID() == lead.lastEntryID() && f.committed == lead.committed {
			run.caughtUp = tick
		}
	}
	return run
}

// TestLeaderProbesFollowerWhoseLogWentBackwards pins the fix of the
// message storm of issue 16: a follower whose log lost entries below the
// leader's Match for it rejects every append; the leader must lower its
// Match and probe from where the follower's log ends, so the follower
// catches up and the message count per tick stays that of a healthy
// cluster. Without the rule the leader probes at Match forever, one more
// probe with every heartbeat answer, and the count grows with each tick.
func TestLeaderProbesFollowerWhoseLogWentBackwards(t *testing.T) {
	run := lostTailScenario(t, 30, true)
	assert.LessOrEqual(t, run.maxPerTick, 20, "messages in one tick")
	assert.Equal(t, 0, run.caughtUp, "the follower catches up in the first tick")

	withRecoveryMutation(mutNoRegress, func() {
		run := lostTailScenario(t, 30, true)
		assert.Greater(t, run.maxPerTick, 100, "without the rule, the messages grow tick after tick")
		assert.Equal(t, -1, run.caughtUp, "without the rule, the follower never catches up")
	})
}

// TestLeaderProbesIdleFollowerThatLostEntries: with no proposals, the
// leader sends the follower nothing but heartbeats. Their commit index is
// beyond the follower's log; the follower rejects them with its last
// entry, and the leader probes it from there.
func TestLeaderProbesIdleFollowerThatLostEntries(t *testing.T) {
	run := lostTailScenario(t, 10, false)
	assert.LessOrEqual(t, run.maxPerTick, 20)
	assert.Equal(t, 0, run.caughtUp, "caught up after the first heartbeat")

	withRecoveryMutation(mutNoRegress, func() {
		run := lostTailScenario(t, 10, false)
		assert.Equal(t, -1, run.caughtUp, "without the rule, an idle follower never catches up")
	})
}

// TestFollowerRejectsHeartbeatCommitBeyondItsLog: the rejection carries
// the follower's last entry, and the commit index stays within the log.
func TestFollowerRejectsHeartbeatCommitBeyondItsLog(t *testing.T) {
	n := newTestNode(t, 2, voters(1, 2, 3), newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2)...))
	msgs := n.stepFlush(pb.Message{From: 1, To: 2, Term: 2, Type: pb.MsgHeartbeat, Commit: 7, Context: []byte("ctx")})
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.Message{From: 2, To: 1, Term: 2, Type: pb.MsgHeartbeatResp, Reject: true,
		RejectHint: 3, LogTerm: 2, Context: []byte("ctx")}, msgs[0])
	assert.Equal(t, uint64(0), n.r.raftLog.committed)

	msgs = n.stepFlush(pb.Message{From: 1, To: 2, Term: 2, Type: pb.MsgHeartbeat, Commit: 3})
	require.Len(t, msgs, 1)
	assert.False(t, msgs[0].Reject)
	assert.Equal(t, uint64(3), n.r.raftLog.committed)
}

// TestLeaderLowersMatchOnlyOnProof: a rejection lowers Match only when its
// hint leads below Match and it answers an index at or above Match; a
// rejection of an index below Match is stale (the leader never probes
// there once it knows Match) and changes nothing.
func TestLeaderLowersMatchOnlyOnProof(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resp     pb.Message
		regress  bool
		wantNext uint64
	}{
		{"hint below match", pb.Message{Type: pb.MsgAppResp, Reject: true, Index: 4, RejectHint: 2, LogTerm: 1}, true, 3},
		{"hint term diverges below match", pb.Message{Type: pb.MsgAppResp, Reject: true, Index: 4, RejectHint: 4, LogTerm: 1}, true, 3},
		{"stale, below match", pb.Message{Type: pb.MsgAppResp, Reject: true, Index: 3, RejectHint: 2, LogTerm: 1}, false, 5},
		{"hint at match", pb.Message{Type: pb.MsgAppResp, Reject: true, Index: 5, RejectHint: 4, LogTerm: 2}, false, 5},
		{"heartbeat, hint below match", pb.Message{Type: pb.MsgHeartbeatResp, Reject: true, RejectHint: 1, LogTerm: 1}, true, 2},
		{"heartbeat, hint at match", pb.Message{Type: pb.MsgHeartbeatResp, Reject: true, RejectHint: 4, LogTerm: 2}, false, 5},
		{"heartbeat, not rejected", pb.Message{Type: pb.MsgHeartbeatResp}, false, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Log: terms 1 1 2 2, then the leader's empty entry of term 3 at 5.
			n := newTestNode(t, 1, voters(1, 2, 3), newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2, 2)...))
			n.r.Term = 2
			n.becomeLeader(2, 3)
			require.NoError(t, n.step(pb.Message{From: 2, To: 1, Term: 3, Type: pb.MsgAppResp, Index: 4}))
			n.flush()
			pr := n.r.trk.Get(2)
			require.Equal(t, uint64(4), pr.Match)
			m := tc.resp
			m.From, m.To, m.Term = 2, 1, 3
			msgs := n.stepFlush(m)
			if tc.regress {
				assert.Equal(t, uint64(0), pr.Match)
				assert.Equal(t, progress.StateProbe, pr.State)
				apps := filterMsgs(msgs, pb.MsgApp)
				require.Len(t, apps, 1, "one probe, no more")
				assert.Equal(t, tc.wantNext-1, apps[0].Index)
			} else {
				assert.Equal(t, uint64(4), pr.Match)
				assert.LessOrEqual(t, len(filterMsgs(msgs, pb.MsgApp)), 1)
			}
		})
	}
}

// TestLeaderSnapshotsFollowerWhoseLostEntriesAreCompacted: when the
// entries the follower lost are no longer in the leader's log, the probe
// from where the follower's log ends turns into a snapshot.
func TestLeaderSnapshotsFollowerWhoseLostEntriesAreCompacted(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.campaign(1)
	for i := 0; i < 10; i++ {
		require.NoError(t, c.propose(1, fmt.Sprintf("v%d", i)))
	}
	c.compact(1)
	c.loseTail(3, 5)
	require.Greater(t, c.node(1).raft.raftLog.firstIndex(), uint64(6))
	for tick := 0; tick < 5; tick++ {
		c.tick(1)
	}
	assert.Equal(t, c.node(1).raft.raftLog.lastEntryID(), c.node(3).raft.raftLog.lastEntryID())
	assert.Equal(t, c.requireSameApplied(1, 2), c.nodes[3].applied[len(c.nodes[3].applied)-10:])
}
