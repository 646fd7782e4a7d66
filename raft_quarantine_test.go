package raft

import (
	"errors"
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The quarantine of Config.RecoverLostState (docs/design/recovery.md): one
// test per rule, each run again under the recoveryMutation that disables
// the rule, where it must fail.

// recoverConfig turns RecoverLostState on; tail makes losses TailLosses.
func recoverConfig(tail bool) func(*Config) {
	return func(c *Config) {
		c.RecoverLostState = true
		c.HardStateIndependentlyDurable = tail
	}
}

// recoveryOf returns node id's quarantine.
func (c *testCluster) recoveryOf(id uint64) Recovery { return c.node(id).Status().Recovery }

// entryData returns the data of node id's entry at index, or "<none>".
func (c *testCluster) entryData(id, index uint64) string {
	es, err := c.node(id).raft.raftLog.slice(index, index+1, noLimit)
	if err != nil || len(es) != 1 {
		return "<none>"
	}
	return string(es[0].Data)
}

// leadersByTerm returns, for each term, the nodes (down or not) that are
// leaders of it.
func (c *testCluster) leadersByTerm() map[uint64][]uint64 {
	out := map[uint64][]uint64{}
	for _, id := range c.ids {
		if r := c.node(id).raft; r.state == StateLeader {
			out[r.Term] = append(out[r.Term], id)
		}
	}
	return out
}

func TestRestartWithCommitBeyondLogStartsQuarantined(t *testing.T) {
	newStorage := func() *MemoryStorage {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2, 2)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Vote: 2, Commit: 6}))
		return s
	}
	_, err := NewRawNode(newTestConfig(1, 10, 1, newStorage()))
	assert.ErrorContains(t, err, "out of range", "without the option, as before")

	for _, tc := range []struct {
		tail       bool
		applied    uint64
		kind       RegressionKind
		wantCommit uint64
	}{
		{tail: true, kind: TailLoss, wantCommit: 4},
		{tail: false, kind: StateLoss, wantCommit: 0},
		{tail: false, applied: 3, kind: StateLoss, wantCommit: 3},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			var seen []Recovery
			cfg := newTestConfig(1, 10, 1, newStorage())
			recoverConfig(tc.tail)(cfg)
			cfg.Applied = tc.applied
			cfg.OnRecovery = func(rec Recovery) { seen = append(seen, rec) }
			rn, err := NewRawNode(cfg)
			require.NoError(t, err)
			got := rn.Status().Recovery
			assert.NotZero(t, got.Nonce, "a nonce is drawn")
			want := Recovery{Quarantined: true, Kind: tc.kind, Cause: CauseRestart, LostFrom: 5, LostTo: 6, Term: 3, Nonce: got.Nonce}
			assert.Equal(t, want, got)
			assert.Equal(t, []Recovery{want}, seen, "the application is told")
			assert.Equal(t, tc.wantCommit, rn.raft.raftLog.committed, "the commit index stays within what is known committed")
			assert.Equal(t, uint64(3), rn.raft.Term)
			assert.NotEmpty(t, want.WaitingFor())
			assert.Contains(t, rn.Status().String(),
				fmt.Sprintf(`"recovery":{"kind":"%s","cause":"CauseRestart","lostFrom":5,"lostTo":6,"term":3,"nonce":"%x"}}`, tc.kind, got.Nonce))
		})
	}
}

// lostAckScenario is counterexample 1 of the research: entry e is
// committed on {1, 3} while 2 is cut off; 3 loses e (how depends on
// restart) and 1 crashes. 2 campaigns: with 3's vote it would lead
// without e. It returns whether a leader lacks e.
func lostAckScenario(t *testing.T, restart func(c *testCluster)) bool {
	c := newTestCluster(t, 3, recoverConfig(false))
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	c.isolate(2)
	require.NoError(t, c.propose(1, "e"))
	require.Equal(t, uint64(4), c.node(3).raft.raftLog.committed)
	require.Equal(t, "e", c.entryData(3, 4))
	restart(c)
	return leaderLacksAfterCampaign(c, 4, "e")
}

// TestQuarantinedNodeDoesNotHelpElectLeaderLackingCommittedEntry: rules
// D1 (restart with the commit index beyond the log) and Q1 (no votes).
func TestQuarantinedNodeDoesNotHelpElectLeaderLackingCommittedEntry(t *testing.T) {
	restart := func(c *testCluster) {
		c.regress(3, 3, pb.HardState{Term: 1, Vote: 1, Commit: 4})
		require.True(t, c.recoveryOf(3).Quarantined || recoveryMutation == mutNoRestartQuarantine)
	}
	assert.False(t, lostAckScenario(t, restart), "no leader lacks a committed entry")
	for _, mut := range []recoveryMut{mutNoRestartQuarantine, mutVotes} {
		withRecoveryMutation(mut, func() {
			assert.True(t, lostAckScenario(t, restart), "mutation %d: a leader lacks committed entry e", mut)
		})
	}
}

// TestHeartbeatBeyondLogQuarantines: rule D2. The restart shows nothing
// (the commit index was persisted within the surviving log), but the
// leader's next heartbeat commits beyond it; the leader then crashes
// before it could repair the node.
func TestHeartbeatBeyondLogQuarantines(t *testing.T) {
	restart := func(c *testCluster) {
		c.loseTail(3, 3)
		require.False(t, c.recoveryOf(3).Quarantined)
		// One heartbeat reaches 3; the repair that follows does not.
		c.node(1).Tick()
		c.pump(1)
		c.cut[[2]uint64{1, 3}] = true
		c.pump(1)
		require.True(t, c.recoveryOf(3).Quarantined || recoveryMutation == mutNoHeartbeatQuarantine)
		if recoveryMutation == mutRecoveryNone {
			assert.Equal(t, CauseHeartbeat, c.recoveryOf(3).Cause)
		}
	}
	assert.False(t, lostAckScenario(t, restart), "no leader lacks a committed entry")
	withRecoveryMutation(mutNoHeartbeatQuarantine, func() {
		assert.True(t, lostAckScenario(t, restart), "without D2, a leader lacks committed entry e")
	})
}

// doubleVoteScenario is counterexample 2: 3 leads term 1; 2 wins term 2
// with 3's vote while 1 is cut off; 3's disk goes back to term 1 (torn:
// commit index 4 beyond its last index 3) and 2 is cut off. Then
// campaigner campaigns; it returns the terms that had two leaders.
func doubleVoteScenario(t *testing.T, campaigner uint64) []uint64 {
	c := newTestCluster(t, 3, recoverConfig(false))
	c.campaign(3)
	require.NoError(t, c.propose(3, "x"))
	c.isolate(1)
	c.campaign(2)
	require.Equal(t, uint64(2), c.leader())
	require.Equal(t, uint64(2), c.node(2).raft.Term)
	require.NoError(t, c.propose(2, "y"))
	c.regress(3, 3, pb.HardState{Term: 1, Vote: 3, Commit: 4})
	c.heal()
	c.isolate(2)
	err := c.node(campaigner).Campaign()
	if campaigner == 3 && recoveryMutation == mutRecoveryNone {
		assert.True(t, errors.Is(err, ErrQuarantined), "Campaign on a quarantined node: %v", err)
	}
	c.stabilize()
	c.tick(30)
	var twice []uint64
	leaders := c.leadersByTerm()
	for term, ids := range leaders {
		if len(ids) > 1 {
			twice = append(twice, term)
		}
	}
	return twice
}

// TestQuarantinedNodeVotesAndCampaignsNotAfterStateLoss: rules Q1 (no
// votes) and Q2 (no campaigns) against the double vote.
func TestQuarantinedNodeVotesAndCampaignsNotAfterStateLoss(t *testing.T) {
	assert.Empty(t, doubleVoteScenario(t, 1), "1 campaigns: one leader per term")
	assert.Empty(t, doubleVoteScenario(t, 3), "3 campaigns: one leader per term")
	withRecoveryMutation(mutVotes, func() {
		assert.NotEmpty(t, doubleVoteScenario(t, 1), "without Q1, two leaders in one term")
	})
	withRecoveryMutation(mutCampaigns, func() {
		assert.NotEmpty(t, doubleVoteScenario(t, 3), "without Q2, two leaders in one term")
	})
}

// TestQuarantinedNodeNeverCampaigns: rule Q2, on the election timer and on
// MsgTimeoutNow.
func TestQuarantinedNodeNeverCampaigns(t *testing.T) {
	s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
	require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 3}))
	n := newTestNode(t, 1, voters(1, 2, 3), s, recoverConfig(true))
	require.True(t, n.Status().Recovery.Quarantined)
	for i := 0; i < 100; i++ {
		n.Tick()
	}
	msgs := n.flush()
	msgs = append(msgs, n.stepFlush(pb.Message{From: 2, To: 1, Term: 1, Type: pb.MsgTimeoutNow})...)
	assert.Empty(t, msgs)
	assert.Equal(t, StateFollower, n.r.state)
	assert.Equal(t, uint64(1), n.r.Term)
	assert.ErrorIs(t, n.Campaign(), ErrQuarantined)

	withRecoveryMutation(mutCampaigns, func() {
		for i := 0; i < 30; i++ {
			n.Tick()
		}
		assert.NotEqual(t, StateFollower, n.r.state, "without Q2 the timer campaigns")
	})
}

// TestQuarantinedNodeCommitsOnlyThroughAppends: rule Q3. After a
// StateLoss the log may be an older copy: here entries 3 and 4 are of
// term 2, while the leader of term 3 replaced them with its own, which
// this node had acknowledged (the leader's Match is 4).
func TestQuarantinedNodeCommitsOnlyThroughAppends(t *testing.T) {
	run := func() (committedStale bool) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 2, 2, 2)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Commit: 5}))
		n := newTestNode(t, 3, voters(1, 2, 3), s, recoverConfig(false))
		stale := func() bool { return n.r.raftLog.committed >= 3 && n.r.raftLog.lastEntryID().term == 2 }
		committedStale = stale()
		msgs := n.stepFlush(pb.Message{From: 1, To: 3, Term: 3, Type: pb.MsgHeartbeat, Commit: 4})
		committedStale = committedStale || stale()
		if recoveryMutation == mutRecoveryNone {
			require.Len(t, msgs, 1)
			assert.True(t, msgs[0].Reject, "the heartbeat is rejected")
			assert.Equal(t, n.r.raftLog.committed, msgs[0].RejectHint, "with the commit index as hint")
		}
		// The leader's append replaces the stale entries; now the commit
		// index may move.
		n.stepFlush(pb.Message{From: 1, To: 3, Term: 3, Type: pb.MsgApp, Index: 2, LogTerm: 2,
			Entries: []pb.Entry{{Index: 3, Term: 3}, {Index: 4, Term: 3}}, Commit: 4})
		if recoveryMutation == mutRecoveryNone {
			assert.Equal(t, uint64(4), n.r.raftLog.committed)
			assert.Equal(t, uint64(3), n.r.raftLog.lastEntryID().term)
		}
		return committedStale
	}
	assert.False(t, run(), "no stale entry is committed")
	withRecoveryMutation(mutTrustLog, func() {
		assert.True(t, run(), "without Q3, the stale entries are committed")
	})
}

// staleLeaderSetup builds the stale leader of counterexample 3: 1 leads
// term 1 and is cut off; 2 leads term 2 and commits y at index 5; 3, which
// had acknowledged it, restarts from a StateLoss back at term 1 with its
// log cut to index 3; then 2 is cut off and the stale 1 reaches 3.
// Each of prepare runs on the new cluster before anything happens.
func staleLeaderSetup(t *testing.T, prepare ...func(*testCluster)) *testCluster {
	c := newTestCluster(t, 3, recoverConfig(false))
	for _, p := range prepare {
		p(c)
	}
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	c.isolate(1)
	c.campaign(2)
	require.NoError(t, c.propose(2, "y"))
	require.Equal(t, uint64(5), c.node(2).raft.raftLog.committed)
	c.regress(3, 3, pb.HardState{Term: 1, Vote: 1, Commit: 4})
	c.heal()
	c.isolate(2)
	require.Equal(t, StateLeader, c.node(1).raft.state)
	return c
}

// staleLeaderScenario is counterexample 3: 1 leads term 1 and is cut off;
// 2 wins term 2 with 3 and commits entries 4 and 5 with it; 3's disk goes
// back to term 1 (torn: commit 4 beyond its last index 3) and 2 is cut
// off. The stale leader 1 proposes z at index 4. It returns whether 1
// committed z, where term 2's entry is committed.
func staleLeaderScenario(t *testing.T) bool {
	c := staleLeaderSetup(t)
	require.NoError(t, c.propose(1, "z"))
	c.tick(5)
	return c.node(1).raft.raftLog.committed >= 4
}

// TestStateLossAcknowledgementsDecideNoCommit: rule S1.
func TestStateLossAcknowledgementsDecideNoCommit(t *testing.T) {
	assert.False(t, staleLeaderScenario(t), "the stale leader commits nothing with the quarantined node's help")
	withRecoveryMutation(mutDecisiveAcks, func() {
		assert.True(t, staleLeaderScenario(t), "without S1, two entries are committed at index 4")
	})
}

// TestStateLossConfirmsNoRead: rule S2, against counterexample 3's stale
// leader: it answers a read at its commit index 3 although index 5 was
// committed by the leader of the next term, if the quarantined node
// confirms its leadership.
func TestStateLossConfirmsNoRead(t *testing.T) {
	staleRead := func() bool {
		c := staleLeaderSetup(t)
		c.node(1).ReadIndex([]byte("r"))
		c.stabilize()
		c.tick(3)
		return len(c.nodes[1].readStates) > 0
	}
	assert.False(t, staleRead(), "no read is confirmed by the quarantined node")
	withRecoveryMutation(mutReadAcks, func() {
		assert.True(t, staleRead(), "without S2, the stale leader answers the read")
	})
}

// TestStateLossEchoesNoReadRound: rule S2 on the wire. A StateLoss node
// answers heartbeats without their read round; a TailLoss node echoes it.
func TestStateLossEchoesNoReadRound(t *testing.T) {
	for _, tail := range []bool{false, true} {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 3}))
		n := newTestNode(t, 3, voters(1, 2, 3), s, recoverConfig(tail))
		require.True(t, n.Status().Recovery.Quarantined)
		msgs := n.stepFlush(pb.Message{From: 1, To: 3, Term: 1, Type: pb.MsgHeartbeat, Commit: 0, Context: []byte("round")})
		require.Len(t, msgs, 1)
		if tail {
			assert.Equal(t, []byte("round"), msgs[0].Context, "an etcd leader's read context is echoed")
		} else {
			sig, ok := decodeRecoverySignal(msgs[0].Context)
			require.True(t, ok, "the recovery signal only")
			assert.Empty(t, sig.round)
		}
	}
}

// earlyExitScenario: 3 acknowledged e2 at index 5, which 1 committed with
// it, but 3 persisted commit index 4 only; 3 loses indexes 4 and 5
// (TailLoss). Leader 1 repairs 3 one entry at a time; once 3's commit
// index reaches 4 (its lost range), 1 crashes, and 2 (which lacks e2)
// campaigns. It returns whether a leader lacks e2, and the cluster.
func earlyExitScenario(t *testing.T) (bool, *testCluster) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		recoverConfig(true)(cfg)
		cfg.MaxSizePerMsg = 0 // one entry per append
	})
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	require.NoError(t, c.propose(1, "e1"))
	c.isolate(2)
	require.NoError(t, c.node(1).Propose([]byte("e2")))
	for i := 0; c.node(1).raft.raftLog.committed < 5; i++ {
		require.Less(t, i, 10)
		c.pump(1)
	}
	c.cut[[2]uint64{1, 3}] = true
	c.inflight = nil
	require.Equal(t, uint64(4), c.node(3).raft.raftLog.committed)
	c.regress(3, 3, pb.HardState{Term: 1, Vote: 1, Commit: 4})
	require.Equal(t, TailLoss, c.recoveryOf(3).Kind)
	delete(c.cut, [2]uint64{1, 3})
	c.node(1).Tick() // a heartbeat: 3 rejects it, 1 probes 3 again
	for i := 0; c.node(3).raft.raftLog.committed < 4; i++ {
		require.Less(t, i, 10)
		c.pump(1)
	}
	require.Equal(t, "<none>", c.entryData(3, 5))
	return leaderLacksAfterCampaign(c, 5, "e2"), c
}

// TestTailLossQuarantineEndsAfterLeaderChange: rule E1. The quarantine
// outlives the repair of the lost range, and ends once an entry of a
// later term is committed; the node then votes again.
func TestTailLossQuarantineEndsAfterLeaderChange(t *testing.T) {
	lacks, c := earlyExitScenario(t)
	assert.False(t, lacks, "no leader lacks committed entry e2")
	assert.True(t, c.recoveryOf(3).Quarantined, "the repair alone does not end the quarantine")

	// 1 comes back and wins a later term with 2; its first entry of the
	// term, once committed, is the fence.
	c.restart(1)
	c.tick(50)
	require.Equal(t, uint64(1), c.leader())
	assert.False(t, c.recoveryOf(3).Quarantined, "fenced")
	assert.Equal(t, "e2", c.entryData(3, 5))
	// 3 votes again: it can even win.
	c.crash(1)
	require.NoError(t, c.node(3).Campaign())
	c.stabilize()
	assert.Equal(t, uint64(3), c.leader())

	withRecoveryMutation(mutEarlyExit, func() {
		lacks, _ := earlyExitScenario(t)
		assert.True(t, lacks, "leaving at the end of the lost range, a leader lacks e2")
	})
}

// TestQuarantineResumesFromWhatTheApplicationPersisted: rule P1. Once the
// node wrote a HardState in quarantine, its storage no longer shows the
// loss; the quarantine survives a restart only through Config.Recovery.
func TestQuarantineResumesFromWhatTheApplicationPersisted(t *testing.T) {
	var persisted *Recovery
	c := newTestCluster(t, 3, func(cfg *Config) {
		recoverConfig(false)(cfg)
		cfg.Recovery = persisted
		cfg.OnRecovery = func(rec Recovery) { persisted = &rec }
	})
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	c.regress(3, 2, pb.HardState{Term: 1, Vote: 1, Commit: 3})
	require.NotNil(t, persisted)
	want := *persisted
	c.isolate(2) // so that no fence commits without 3
	c.tick(5)    // repaired by 1, and writes a HardState
	hs, _, err := c.nodes[3].storage.InitialState()
	require.NoError(t, err)
	last, err := c.nodes[3].storage.LastIndex()
	require.NoError(t, err)
	require.LessOrEqual(t, hs.Commit, last, "the storage no longer shows the loss")

	c.crash(3)
	c.restart(3)
	assert.Equal(t, want, c.recoveryOf(3), "resumed")

	persisted = nil
	c.crash(3)
	c.restart(3)
	assert.False(t, c.recoveryOf(3).Quarantined, "an application that does not persist it loses it")
}

// TestStateLossAcknowledgesNoMoreThanTheLeaderCommitted: rule S1 on the
// answers that report the commit index (an append below it, a stale
// snapshot): a StateLoss node's commit index, clamped to what the
// application applied, may be ahead of a stale leader's, whose entries at
// those indexes differ.
func TestStateLossAcknowledgesNoMoreThanTheLeaderCommitted(t *testing.T) {
	run := func() (appAck, snapAck uint64) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1, 1)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 6}))
		n := newTestNode(t, 3, voters(1, 2, 3), s, recoverConfig(false), func(c *Config) { c.Applied = 4 })
		require.Equal(t, uint64(4), n.r.raftLog.committed)
		msgs := n.stepFlush(pb.Message{From: 2, To: 3, Term: 1, Type: pb.MsgApp, Index: 2, LogTerm: 1, Commit: 2})
		require.Len(t, msgs, 1)
		appAck = msgs[0].Index
		msgs = n.stepFlush(pb.Message{From: 2, To: 3, Term: 1, Type: pb.MsgSnap, Snapshot: &pb.Snapshot{
			Metadata: pb.SnapshotMetadata{Index: 3, Term: 1, ConfState: voters(1, 2, 3)}}})
		require.Len(t, msgs, 1)
		return appAck, msgs[0].Index
	}
	appAck, snapAck := run()
	assert.Equal(t, uint64(2), appAck, "an append below the commit index")
	assert.Equal(t, uint64(3), snapAck, "a stale snapshot")
	withRecoveryMutation(mutDecisiveAcks, func() {
		appAck, snapAck := run()
		assert.Equal(t, uint64(4), appAck)
		assert.Equal(t, uint64(4), snapAck)
	})
}

// leaderLacksAfterCampaign crashes node 1, heals the network, has node 2
// campaign and lets the cluster settle, then reports whether any live
// leader of any term lacks data at index.
func leaderLacksAfterCampaign(c *testCluster, index uint64, data string) bool {
	return leaderLacksAfterCrashAndCampaign(c, 1, index, data)
}

// leaderLacksAfterCrashAndCampaign is leaderLacksAfterCampaign with
// node crashed instead of node 1.
func leaderLacksAfterCrashAndCampaign(c *testCluster, crashed, index uint64, data string) bool {
	c.crash(crashed)
	c.heal()
	_ = c.node(2).Campaign()
	c.stabilize()
	c.tick(30)
	for _, ids := range c.leadersByTerm() {
		for _, id := range ids {
			if !c.down[id] && c.entryData(id, index) != data {
				return true
			}
		}
	}
	return false
}

// TestNodeThatCannotCampaignTellsALowerTermLeaderItsTerm: rule T1.
// Without CheckQuorum and PreVote a node ignores a lower-term leader in
// silence, and any node ignores a lower-term candidate's vote; if it can
// campaign, it makes its term known in time. With RecoverLostState a node
// that cannot campaign answers the leader's append or heartbeat, and
// rejects the candidate's vote, with its term instead: a quarantined node,
// whose term a StateLoss may have brought back above the cluster's
// (rafttest seed 13710), and a node that is not promotable, such as a new
// voter that has no configuration yet and took the term of a candidate
// that is gone since (seed 347271), or of one that cannot win and never
// asks the lower-term candidate's voters (seed 389513). Without the
// option, every node keeps etcd raft's silence.
func TestNodeThatCannotCampaignTellsALowerTermLeaderItsTerm(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cs          *pb.ConfState // nil: an empty storage, no configuration
		recover     bool
		quarantined bool
		mut         recoveryMut
		tells       bool
		// silentToVotes: it tells a leader but ignores a vote.
		silentToVotes bool
	}{
		{name: "quarantined voter", cs: &pb.ConfState{Voters: []uint64{1, 2, 3}}, recover: true, quarantined: true, tells: true},
		{name: "voter", cs: &pb.ConfState{Voters: []uint64{1, 2, 3}}, recover: true},
		{name: "no configuration", recover: true, tells: true},
		{name: "learner", cs: &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}, recover: true, tells: true},
		{name: "removed", cs: &pb.ConfState{Voters: []uint64{1, 2}}, recover: true, tells: true},
		{name: "no configuration, without the option", cs: nil},
		{name: "learner, without the option", cs: &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}},
		{name: "no configuration, mutSilentUnpromotable", recover: true, mut: mutSilentUnpromotable},
		{name: "quarantined voter, mutSilentUnpromotable", cs: &pb.ConfState{Voters: []uint64{1, 2, 3}},
			recover: true, quarantined: true, mut: mutSilentUnpromotable, tells: true},
		{name: "quarantined voter, mutSilentToCandidates", cs: &pb.ConfState{Voters: []uint64{1, 2, 3}},
			recover: true, quarantined: true, mut: mutSilentToCandidates, tells: true, silentToVotes: true},
		{name: "no configuration, mutSilentToCandidates", recover: true, mut: mutSilentToCandidates, tells: true, silentToVotes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withRecoveryMutation(tc.mut, func() {
				s := NewMemoryStorage()
				if tc.cs != nil {
					require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
						Index: 1, Term: 1, ConfState: *tc.cs}}))
					require.NoError(t, s.SetHardState(pb.HardState{Term: 11, Commit: 1}))
				} else {
					require.NoError(t, s.SetHardState(pb.HardState{Term: 11, Vote: 4}))
				}
				cfg := &Config{ID: 3, ElectionTick: 10, HeartbeatTick: 1, Storage: s, MaxInflightMsgs: 256,
					RecoverLostState: tc.recover, Logger: discardLogger}
				if tc.quarantined {
					cfg.Recovery = &Recovery{Quarantined: true, Kind: StateLoss, Cause: CauseDeclared}
				}
				rn, err := NewRawNode(cfg)
				require.NoError(t, err)
				require.Equal(t, tc.quarantined, rn.Status().Recovery.Quarantined)
				for _, m := range []pb.Message{
					{From: 2, To: 3, Type: pb.MsgHeartbeat, Term: 10},
					{From: 2, To: 3, Type: pb.MsgApp, Term: 10, Index: 1, LogTerm: 1},
					{From: 2, To: 3, Type: pb.MsgVote, Term: 10, Index: 5, LogTerm: 10},
				} {
					require.NoError(t, rn.Step(m))
					var answers []pb.Message
					if rn.HasReady() {
						rd := rn.Ready()
						answers = rd.Messages
						rn.Advance(rd)
					}
					if !tc.tells || (m.Type == pb.MsgVote && tc.silentToVotes) {
						assert.Empty(t, answers, "%s: etcd raft's behaviour, ignored in silence", m.Type)
						continue
					}
					require.Len(t, answers, 1, "%s", m.Type)
					want := pb.Message{From: 3, To: 2, Type: pb.MsgAppResp, Term: 11}
					if m.Type == pb.MsgVote {
						want = pb.Message{From: 3, To: 2, Type: pb.MsgVoteResp, Term: 11, Reject: true}
					}
					assert.Equal(t, want, answers[0], "%s: the sender learns the higher term, and nothing else", m.Type)
				}
				assert.Equal(t, uint64(11), rn.raft.Term)
				assert.Equal(t, StateFollower, rn.raft.state)
			})
		})
	}
}

// lostCandidateScenario is rafttest seed 347271 in four voters: node 4
// joins with an empty storage, and the leader 1's configuration change
// that makes it a voter commits while 4 hears only from 3. Cut off from 1
// and 2, 3 campaigns twice with 4's votes, which cannot win, and loses
// its state (a declared StateLoss, back to term 1). After the links heal,
// 4 holds term 3, which it cannot campaign with (it has no configuration),
// and the leader of term 1 needs its acknowledgement to commit 3's fence:
// {1, 2, 4} is the only quorum without 3. It returns the cluster after
// ticks ticks.
func lostCandidateScenario(t *testing.T, ticks int) *testCluster {
	var declare *Recovery
	c := newDeclaringCluster(t, 3, &declare)
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	c.addMember(4, NewMemoryStorage())
	for _, id := range []uint64{1, 2} {
		c.cut[[2]uint64{id, 4}], c.cut[[2]uint64{4, id}] = true, true
	}
	require.NoError(t, c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
	require.Equal(t, []uint64{1, 2, 3, 4}, c.members(3).Voters)
	require.Empty(t, c.members(4).Voters, "4 heard nothing from the leader")
	for _, id := range []uint64{1, 2} {
		// As etcd's server does, so that a snapshot names 4, which
		// refuses one that does not.
		c.compact(id)
	}
	for _, id := range []uint64{1, 2} {
		c.cut[[2]uint64{id, 3}], c.cut[[2]uint64{3, id}] = true, true
	}
	c.campaign(3)
	c.campaign(3)
	require.Equal(t, uint64(1), c.node(1).raft.Term)
	require.Equal(t, uint64(3), c.node(4).raft.Term)
	require.Equal(t, uint64(3), c.node(4).raft.Vote, "4 voted for 3 in term 3")
	require.Equal(t, StateCandidate, c.node(3).raft.state, "3 cannot win without 1 or 2")
	declare = &Recovery{Quarantined: true, Kind: StateLoss, Cause: CauseDeclared}
	c.regress(3, c.node(3).raft.raftLog.lastIndex(), pb.HardState{Term: 1, Vote: 1, Commit: c.node(1).raft.raftLog.committed})
	declare = nil
	require.True(t, c.recoveryOf(3).Quarantined)
	c.heal()
	c.tick(ticks)
	return c
}

// TestNodeWithoutConfigurationLetsAQuarantineEnd: rule T1 in a cluster
// (rafttest seed 347271). Without it, 4 ignores the leader of term 1 for
// ever: nothing commits, 3 is never fenced and 4 never gets its
// configuration. With it, 4's answer deposes that leader; the leader of
// the next term snapshots 4 and fences 3.
func TestNodeWithoutConfigurationLetsAQuarantineEnd(t *testing.T) {
	c := lostCandidateScenario(t, 60)
	lead := c.leader()
	require.NotZero(t, lead)
	assert.Equal(t, uint64(4), c.node(lead).raft.Term, "one election after the step-down, at 4's term plus one")
	assert.False(t, c.recoveryOf(3).Quarantined, "3 was fenced")
	assert.Equal(t, []uint64{1, 2, 3, 4}, c.members(4).Voters, "4 got its configuration")
	require.NoError(t, c.propose(lead, "y"))
	for _, id := range c.ids {
		assert.Equal(t, []string{"x", "y"}, c.nodes[id].applied, "node %d", id)
	}
	assert.Empty(t, func() (twice []uint64) {
		for term, ids := range c.leadersByTerm() {
			if len(ids) > 1 {
				twice = append(twice, term)
			}
		}
		return twice
	}(), "one leader per term")
	c.tick(100)
	for _, id := range c.ids {
		assert.Equal(t, uint64(4), c.node(id).raft.Term, "node %d: no election after term 4", id)
	}

	withRecoveryMutation(mutSilentUnpromotable, func() {
		c := lostCandidateScenario(t, 300)
		assert.Equal(t, uint64(1), c.leader(), "the leader of term 1 stays")
		assert.Equal(t, uint64(1), c.node(1).raft.Term)
		assert.Equal(t, uint64(3), c.node(4).raft.Term, "4 ignores it in silence")
		assert.True(t, c.recoveryOf(3).Quarantined, "without T1, 3 is never fenced")
		assert.Empty(t, c.members(4).Voters)
		commit := c.node(1).raft.raftLog.committed
		require.NoError(t, c.propose(1, "y"))
		c.tick(10)
		assert.Equal(t, commit, c.node(1).raft.raftLog.committed, "nothing commits")
	})
}

// rejectionsOfRepeatedProbe steps an append probing index 6 (beyond the
// log, which ends at 4) three times, ticks, and steps it once more; it
// returns the number of rejections answered before and after the tick.
func rejectionsOfRepeatedProbe(t *testing.T, quarantined bool) (before, after int) {
	s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2, 2)...)
	commit := uint64(4)
	var opts []func(*Config)
	if quarantined {
		commit = 6
		opts = append(opts, recoverConfig(true))
	}
	require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Vote: 2, Commit: commit}))
	n := newTestNode(t, 1, voters(1, 2, 3), s, opts...)
	require.Equal(t, quarantined, n.Status().Recovery.Quarantined)
	probe := pb.Message{From: 2, To: 1, Term: 3, Type: pb.MsgApp, Index: 6, LogTerm: 3, Commit: 6,
		Entries: []pb.Entry{{Term: 3, Index: 7}}}
	rejections := func(times int) (k int) {
		for i := 0; i < times; i++ {
			for _, m := range n.stepFlush(probe) {
				require.Equal(t, pb.MsgAppResp, m.Type)
				require.True(t, m.Reject)
				require.Equal(t, uint64(6), m.Index)
				assert.Equal(t, uint64(4), m.RejectHint)
				k++
			}
		}
		return k
	}
	before = rejections(3)
	n.Tick()
	n.flush()
	return before, rejections(1)
}

// TestQuarantinedFollowerRejectsARepeatedProbeOncePerTick: an etcd v3.6
// leader never probes below Match+1, so a quarantined follower whose log
// ends below that Match gets the same probe back for every answer; it
// answers it once a tick (rule L3), or the exchanges pile up without end
// (compat/mixed seed 50005). A node out of quarantine answers every probe,
// as etcd raft does.
func TestQuarantinedFollowerRejectsARepeatedProbeOncePerTick(t *testing.T) {
	before, after := rejectionsOfRepeatedProbe(t, true)
	assert.Equal(t, 1, before, "one rejection of the probe in a tick")
	assert.Equal(t, 1, after, "answered again after a tick")

	before, after = rejectionsOfRepeatedProbe(t, false)
	assert.Equal(t, 3, before, "out of quarantine, every probe is answered")
	assert.Equal(t, 1, after)

	withRecoveryMutation(mutRepeatRejections, func() {
		before, _ = rejectionsOfRepeatedProbe(t, true)
	})
	assert.Equal(t, 3, before, "the mutation answers every probe")
}
