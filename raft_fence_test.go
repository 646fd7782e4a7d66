package raft

import (
	"fmt"
	"math/rand/v2"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The exits from a quarantine through a fence (docs/design/recovery.md,
// rules D3, E2, E3 and the nonce): one test per rule, each run again under
// the recoveryMutation that disables the rule, where it must fail.

// TestQuarantineNonceComesFromTheRandomSourceAndSurvivesRestarts: the
// nonce is drawn from Config.Rand (so a simulation replays it), never 0;
// the application persists it with the quarantine and a restart resumes
// it; a further loss found in quarantine draws a new one.
func TestQuarantineNonceComesFromTheRandomSourceAndSurvivesRestarts(t *testing.T) {
	start := func(rec *Recovery, seen *[]Recovery) *RawNode {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2, 2)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Vote: 2, Commit: 6}))
		cfg := newTestConfig(1, 10, 1, s)
		recoverConfig(false)(cfg)
		cfg.Rand = rand.NewPCG(7, 7)
		cfg.Recovery = rec
		cfg.OnRecovery = func(rec Recovery) { *seen = append(*seen, rec) }
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		return rn
	}
	var seen1, seen2 []Recovery
	a, b := start(nil, &seen1), start(nil, &seen2)
	nonce := a.Status().Recovery.Nonce
	assert.NotZero(t, nonce)
	assert.Equal(t, nonce, b.Status().Recovery.Nonce, "the same source draws the same nonce")
	require.Len(t, seen1, 1)
	assert.Equal(t, nonce, seen1[0].Nonce, "the application is told the nonce")

	// A restart resumes the persisted quarantine. Its storage still shows
	// the loss, so the restart finds it again: a new nonce.
	persisted := seen1[0]
	var seen3 []Recovery
	c := start(&persisted, &seen3)
	assert.NotEqual(t, nonce, c.Status().Recovery.Nonce, "a loss found again draws a new nonce")

	// Once a HardState within the log is written, a restart finds nothing
	// new and resumes the same nonce.
	s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2, 2)...)
	require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Commit: 4}))
	cfg := newTestConfig(1, 10, 1, s)
	recoverConfig(false)(cfg)
	cfg.Recovery = &persisted
	d, err := NewRawNode(cfg)
	require.NoError(t, err)
	assert.Equal(t, persisted, d.Status().Recovery)
}

// newDeclaringCluster returns a cluster of n nodes with RecoverLostState
// (StateLoss by default) in which node 3, at each start, passes *declare
// as its Config.Recovery: a test sets it before restarting node 3 to
// declare a loss the application saw.
func newDeclaringCluster(t *testing.T, n int, declare **Recovery) *testCluster {
	return newTestCluster(t, n, func(cfg *Config) {
		recoverConfig(false)(cfg)
		if cfg.ID == 3 {
			cfg.Recovery = *declare
		}
	})
}

// declaredScenario is counterexample 1 with a loss that the library cannot
// see: 3 is restored from an older copy of its disk, whose HardState and
// log agree (commit index 3, last index 3), after it acknowledged e at
// index 4; 1 crashes, 2 (which lacks e) campaigns. The application
// declares the loss at restart (Config.Recovery) or, when atRunTime, with
// DeclareRegression once the node runs. It returns whether a leader lacks e.
func declaredScenario(t *testing.T, atRunTime bool) bool {
	var declare *Recovery
	c := newDeclaringCluster(t, 3, &declare)
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	c.isolate(2)
	require.NoError(t, c.propose(1, "e"))
	require.Equal(t, "e", c.entryData(3, 4))
	if !atRunTime {
		declare = &Recovery{Quarantined: true, Kind: StateLoss, Cause: CauseDeclared}
	}
	c.regress(3, 3, pb.HardState{Term: 1, Vote: 1, Commit: 3})
	declare = nil
	if atRunTime {
		require.False(t, c.recoveryOf(3).Quarantined, "nothing shows the loss")
		require.NoError(t, c.node(3).DeclareRegression(StateLoss))
	}
	if recoveryMutation == mutRecoveryNone {
		rec := c.recoveryOf(3)
		assert.True(t, rec.Quarantined)
		assert.Equal(t, CauseDeclared, rec.Cause)
		assert.Equal(t, StateLoss, rec.Kind)
		assert.Equal(t, uint64(1), rec.Term, "the HardState's term")
		assert.NotZero(t, rec.Nonce)
	}
	return leaderLacksAfterCampaign(c, 4, "e")
}

// TestDeclaredRegressionQuarantines: rule D3, at restart and at run time.
func TestDeclaredRegressionQuarantines(t *testing.T) {
	for _, atRunTime := range []bool{false, true} {
		assert.False(t, declaredScenario(t, atRunTime), "run time %v: no leader lacks a committed entry", atRunTime)
		withRecoveryMutation(mutIgnoreDeclared, func() {
			assert.True(t, declaredScenario(t, atRunTime), "run time %v: without D3, a leader lacks committed entry e", atRunTime)
		})
	}
}

// TestDeclaredStateLossAtRestartKeepsTheCommitIndexToWhatIsKnown: the log
// may be an older copy than the HardState; only the snapshot and Applied
// are known committed.
func TestDeclaredStateLossAtRestartKeepsTheCommitIndexToWhatIsKnown(t *testing.T) {
	for _, tc := range []struct {
		kind       RegressionKind
		wantCommit uint64
	}{{StateLoss, 2}, {TailLoss, 4}} {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 2, 2)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Vote: 2, Commit: 4}))
		var seen []Recovery
		cfg := newTestConfig(1, 10, 1, s)
		recoverConfig(false)(cfg)
		cfg.Applied = 2
		cfg.Recovery = &Recovery{Quarantined: true, Kind: tc.kind, Cause: CauseDeclared, Term: 2}
		cfg.OnRecovery = func(rec Recovery) { seen = append(seen, rec) }
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		rec := rn.Status().Recovery
		assert.Equal(t, tc.wantCommit, rn.raft.raftLog.committed, "%s", tc.kind)
		assert.Equal(t, uint64(2), rec.Term, "a term given is kept")
		assert.Equal(t, tc.kind, rec.Kind)
		assert.Equal(t, []Recovery{rec}, seen, "the application is told, to persist the nonce")
	}
}

// TestDeclareRegressionAtRunTime: errors, a leader steps down, and a
// declaration widens an existing quarantine with a new nonce.
func TestDeclareRegressionAtRunTime(t *testing.T) {
	s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
	n := newTestNode(t, 1, voters(1, 2, 3), s)
	assert.ErrorContains(t, n.DeclareRegression(StateLoss), "RecoverLostState")

	s = newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
	var seen []Recovery
	n = newTestNode(t, 1, voters(1, 2, 3), s, recoverConfig(true), func(c *Config) {
		c.OnRecovery = func(rec Recovery) { seen = append(seen, rec) }
	})
	assert.Error(t, n.DeclareRegression(NoRegression))
	assert.Error(t, n.DeclareRegression(RegressionKind(9)))
	n.becomeLeader(2, 3)
	require.Equal(t, StateLeader, n.r.state)
	require.NoError(t, n.DeclareRegression(TailLoss))
	assert.Equal(t, StateFollower, n.r.state, "a leader steps down")
	rec := n.Status().Recovery
	assert.Equal(t, Recovery{Quarantined: true, Kind: TailLoss, Cause: CauseDeclared, Term: n.r.Term, Nonce: rec.Nonce}, rec)
	assert.ErrorIs(t, n.Campaign(), ErrQuarantined)

	require.NoError(t, n.DeclareRegression(StateLoss))
	wider := n.Status().Recovery
	assert.Equal(t, StateLoss, wider.Kind, "the worse kind")
	assert.NotEqual(t, rec.Nonce, wider.Nonce, "a new nonce")
	require.NoError(t, n.DeclareRegression(TailLoss))
	assert.Equal(t, StateLoss, n.Status().Recovery.Kind, "never back to the milder kind")
	assert.Len(t, seen, 3)
}

// handshakeScenario: 3 follows leader 1 of a 3-node cluster and loses the
// tail of its log (with its commit index beyond it: rule D1), of the kind
// tail says. The leader's heartbeats then carry 3's signal back. It
// returns the cluster after ticks ticks, and the Recovery 3 started with.
func handshakeScenario(t *testing.T, tail bool, ticks int) (*testCluster, Recovery) {
	c := newTestCluster(t, 3, recoverConfig(tail))
	c.campaign(1)
	for _, v := range []string{"x", "y", "z"} {
		require.NoError(t, c.propose(1, v))
	}
	term := c.node(1).raft.Term
	c.regress(3, 3, pb.HardState{Term: term, Vote: 1, Commit: 5})
	rec := c.recoveryOf(3)
	require.True(t, rec.Quarantined)
	c.tick(ticks)
	return c, rec
}

// TestHandshakeFencesAQuarantinedNode: rule E2 with a raftkit leader, for
// both kinds, in the leader's term: the leader appends an empty fence
// entry, shows the peer as recovering in its Progress while the
// handshake lasts, and the node leaves its quarantine once the fence is
// committed and in its log; it then votes again.
func TestHandshakeFencesAQuarantinedNode(t *testing.T) {
	for _, tail := range []bool{false, true} {
		c, rec := handshakeScenario(t, tail, 0)
		term := c.node(1).raft.Term
		// One heartbeat: the signal, the handshake's start.
		c.node(1).Tick()
		c.pump(2)
		pr := c.node(1).Status().Progress[3]
		assert.True(t, pr.Recovering, "tail %v: the leader shows the handshake", tail)
		assert.Contains(t, pr.String(), " recovering")
		assert.Contains(t, c.node(1).Status().String(), `,"state":"StateProbe","recovering":true}`)
		st := c.node(1).raft.peerRecovering(3)
		require.NotNil(t, st)
		assert.Equal(t, rec.Nonce, st.nonce)
		assert.Equal(t, rec.Kind, st.kind)
		fence := st.fence
		c.stabilize()
		assert.False(t, c.recoveryOf(3).Quarantined, "tail %v: fenced", tail)
		assert.Equal(t, term, c.node(1).raft.Term, "in the leader's term")
		es, err := c.node(3).raft.raftLog.slice(fence.index, fence.index+1, noLimit)
		require.NoError(t, err)
		assert.Equal(t, []pb.Entry{{Term: fence.term, Index: fence.index}}, es, "an empty fence entry")
		c.tick(1)
		assert.Nil(t, c.node(1).raft.peerRecovering(3), "the leader forgets the handshake")
		assert.False(t, c.node(1).Status().Progress[3].Recovering)
		// 3 votes again: it can even win.
		c.crash(1)
		require.NoError(t, c.node(3).Campaign())
		c.stabilize()
		assert.Equal(t, uint64(3), c.leader(), "tail %v", tail)
	}
}

// TestHandshakeStartsAfreshWithANewLeader: the leader crashes before the
// fence is confirmed; the node keeps signalling, and the next leader
// fences it with its own entry.
func TestHandshakeStartsAfreshWithANewLeader(t *testing.T) {
	c := newTestCluster(t, 5, recoverConfig(false))
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	term := c.node(1).raft.Term
	c.regress(3, 2, pb.HardState{Term: term, Vote: 1, Commit: 3})
	require.True(t, c.recoveryOf(3).Quarantined)
	c.node(1).Tick()
	c.pump(1) // 3 signals
	c.pump(1) // 1 starts the handshake, appends its fence
	require.NotNil(t, c.node(1).raft.peerRecovering(3))
	c.crash(1)
	c.inflight = nil
	require.NoError(t, c.node(2).Campaign())
	c.stabilize()
	require.Equal(t, uint64(2), c.leader())
	assert.True(t, c.recoveryOf(3).Quarantined)
	c.tick(3)
	assert.False(t, c.recoveryOf(3).Quarantined, "fenced by the new leader")
}

// counterexample4 is counterexample 4 of the research, with five nodes:
// X (5) campaigns for the next term T+1 and gets 3's vote; its request to
// 4 is held in the network, its requests to 1 and 2 are lost. 3 loses its
// HardState (back to term T, a StateLoss its application declares) and
// rejoins leader 1, which fences it. Then X's request reaches 4, and 2
// campaigns for T+1 as well (5 cut off). It returns the terms that had
// two leaders.
func counterexample4(t *testing.T) []uint64 {
	var declare *Recovery
	c := newDeclaringCluster(t, 5, &declare)
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	term := c.node(1).raft.Term
	hs := c.node(3).raft.hardState()

	// X's campaign: 1 and 2 never hear of it, nor does X hear from them.
	for _, o := range []uint64{1, 2} {
		c.cut[[2]uint64{5, o}] = true
		c.cut[[2]uint64{o, 5}] = true
	}
	require.NoError(t, c.node(5).Campaign())
	c.process(5)
	var held []pb.Message
	rest := c.inflight[:0]
	for _, m := range c.inflight {
		if m.Type == pb.MsgVote && m.To == 4 {
			held = append(held, m)
		} else {
			rest = append(rest, m)
		}
	}
	c.inflight = rest
	c.deliver()
	c.process(3) // 3 votes for X in T+1, and persists it
	c.deliver()
	c.process(5)
	require.Equal(t, uint64(term+1), c.node(3).raft.Term)
	require.Equal(t, uint64(5), c.node(3).raft.Vote)
	require.Len(t, held, 1)

	// 3's HardState goes back to term T: the vote for X is forgotten.
	declare = &Recovery{Quarantined: true, Kind: StateLoss, Cause: CauseDeclared}
	c.regress(3, c.node(3).raft.raftLog.lastIndex(), hs)
	declare = nil
	require.True(t, c.recoveryOf(3).Quarantined)
	require.Equal(t, term, c.node(3).raft.Term)
	for i := 0; i < 5 && c.recoveryOf(3).Quarantined; i++ {
		c.node(1).Tick()
		c.stabilize()
	}
	require.False(t, c.recoveryOf(3).Quarantined, "3 is fenced")

	// X's request reaches 4 at last; then 5 is cut off and 2 campaigns.
	c.inflight = append(c.inflight, held...)
	c.deliver()
	c.process(4)
	c.deliver()
	c.process(5)
	c.isolate(5)
	c.inflight = nil
	require.NoError(t, c.node(2).Campaign())
	c.stabilize()
	var twice []uint64
	for term, ids := range c.leadersByTerm() {
		if len(ids) > 1 {
			twice = append(twice, term)
		}
	}
	return twice
}

// TestFenceDefeatsACampaignThatPredatesIt: counterexample 4. X's
// campaign, which holds 3's forgotten vote, predates the fence: once the
// fence is committed by a quorum without 3, that quorum's members reject
// X, which cannot win, and 3 may vote in X's term again. Without a fence
// (the leader confirms 3 once it caught up), 4 grants X its third vote
// while 3, back at term T, votes for 2 in the same term.
func TestFenceDefeatsACampaignThatPredatesIt(t *testing.T) {
	assert.Empty(t, counterexample4(t), "one leader per term")
	withRecoveryMutation(mutNoFence, func() {
		assert.NotEmpty(t, counterexample4(t), "without a fence, two leaders in one term")
	})
}

// staleLeaderFenceScenario is counterexample 3 with the handshake: 1
// leads term 1 and is cut off; 2 wins term 2 with 3 and commits y at
// index 4; 3's disk goes back to term 1 and 2 is cut off. 3 signals to
// the stale leader 1, which starts a handshake and appends its fence at
// index 4. It returns whether 3 is still quarantined and whether 1
// committed index 4.
func staleLeaderFenceScenario(t *testing.T) (quarantined, committed bool) {
	c := staleLeaderSetup(t)
	c.tick(5)
	if recoveryMutation == mutRecoveryNone {
		require.NotNil(t, c.node(1).raft.peerRecovering(3), "the stale leader runs a handshake")
	}
	return c.recoveryOf(3).Quarantined, c.node(1).raft.raftLog.committed >= 4
}

// TestStaleLeaderCannotFence: a stale leader's fence never commits (the
// quorum that could commit it moved on to a later term), so the node
// stays quarantined. A node that left once its log held the fence,
// committed or not, would then acknowledge the stale leader's entries,
// which commit at an index where another entry was committed.
func TestStaleLeaderCannotFence(t *testing.T) {
	quarantined, committed := staleLeaderFenceScenario(t)
	assert.True(t, quarantined, "still quarantined")
	assert.False(t, committed, "the stale leader commits nothing")
	withRecoveryMutation(mutFenceUncommitted, func() {
		quarantined, committed := staleLeaderFenceScenario(t)
		assert.False(t, quarantined)
		assert.True(t, committed, "leaving on an uncommitted fence, two entries are committed at index 4")
	})
}

// TestLeaderCountsARecoveringPeerForNoQuorum: a peer in the handshake
// after a StateLoss counts for no commit, read, lease or CheckQuorum, and
// is no transfer target, even if its acknowledgements said otherwise (a
// stale leader it follows must not keep power through it).
func TestLeaderCountsARecoveringPeerForNoQuorum(t *testing.T) {
	run := func() (committed, read, leads, transfers bool) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
		n := newTestNode(t, 1, voters(1, 2, 3), s, func(c *Config) { c.CheckQuorum = true })
		n.becomeLeader(2)
		n.ackAll(2, 3)
		term := n.r.Term
		n.stepFlush(pb.Message{From: 3, To: 1, Term: term, Type: pb.MsgHeartbeatResp,
			RejectHint: 3, LogTerm: term, Context: encodeRecoverySignal(StateLoss, 42, nil)})
		st := n.r.peerRecovering(3)
		require.NotNil(t, st)
		fence := st.fence.index
		// 3 acknowledges the fence (it should not: S1); 2 is silent.
		n.stepFlush(pb.Message{From: 3, To: 1, Term: term, Type: pb.MsgAppResp, Index: fence})
		committed = n.r.raftLog.committed >= fence

		n.ReadIndex([]byte("r"))
		hbs := filterMsgs(n.flush(), pb.MsgHeartbeat)
		require.NotEmpty(t, hbs)
		n.stepFlush(pb.Message{From: 3, To: 1, Term: term, Type: pb.MsgHeartbeatResp,
			Context: encodeRecoverySignal(StateLoss, 42, hbs[0].Context)})
		read = len(n.reads) > 0

		n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgTransferLeader})
		transfers = n.r.leadTransferee == 3

		for i := 0; i < 20; i++ {
			n.Tick()
			n.flush()
			require.NoError(t, n.step(pb.Message{From: 3, To: 1, Term: term, Type: pb.MsgHeartbeatResp,
				Context: encodeRecoverySignal(StateLoss, 42, nil)}))
			n.flush()
		}
		leads = n.r.state == StateLeader
		return committed, read, leads, transfers
	}
	committed, read, leads, transfers := run()
	assert.False(t, committed, "no commit")
	assert.False(t, read, "no read")
	assert.False(t, leads, "CheckQuorum: only the recovering peer is active")
	assert.False(t, transfers, "no transfer")
	withRecoveryMutation(mutNoExclusion, func() {
		committed, read, leads, transfers := run()
		assert.True(t, committed)
		assert.True(t, read)
		assert.True(t, leads)
		assert.True(t, transfers)
	})
}

// TestFenceForAnotherNonceIsIgnored: a confirmation carries the nonce it
// was given for; after a further loss the node drew a new one, and a
// confirmation for the old one (in flight, or from a handshake of the
// quarantine as it was) must not end the quarantine: the node may have
// lost, since, entries it acknowledged after the fence.
func TestFenceForAnotherNonceIsIgnored(t *testing.T) {
	run := func() bool {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 3}))
		n := newTestNode(t, 3, voters(1, 2, 3), s, recoverConfig(true))
		require.NoError(t, n.DeclareRegression(TailLoss))
		nonce := n.Status().Recovery.Nonce
		msgs := n.stepFlush(pb.Message{From: 1, To: 3, Term: 1, Type: pb.MsgHeartbeat, Commit: 3,
			Context: encodeRecoveryOk(nonce + 1), Index: 3, LogTerm: 1})
		if recoveryMutation == mutRecoveryNone {
			assert.Empty(t, msgs, "a confirmation that does not end the quarantine is not answered")
		}
		return n.Status().Recovery.Quarantined
	}
	assert.True(t, run(), "still quarantined")
	withRecoveryMutation(mutStaleOk, func() {
		assert.False(t, run(), "taking any nonce, the node leaves")
	})
}

// TestRecoverySignalIsNoReadAcknowledgement: the signal is longer than
// any read context an etcd server uses (8 bytes) and than raftkit's read
// rounds, and a raftkit leader never takes it for a read round.
func TestRecoverySignalIsNoReadAcknowledgement(t *testing.T) {
	sig := encodeRecoverySignal(StateLoss, 1, nil)
	assert.Greater(t, len(sig), 8)
	_, ok := decodeReadRound(sig)
	assert.False(t, ok)
	_, ok = decodeReadRound(encodeRecoveryOk(1))
	assert.False(t, ok)
	got, ok := decodeRecoverySignal(encodeRecoverySignal(TailLoss, 7, encodeReadRound(3)))
	require.True(t, ok)
	assert.Equal(t, recoverySignal{kind: TailLoss, nonce: 7, round: encodeReadRound(3)}, got)
	for _, bad := range [][]byte{nil, []byte("rkrec/"), encodeRecoverySignal(NoRegression, 1, nil), encodeRecoverySignal(StateLoss, 0, nil)} {
		_, ok := decodeRecoverySignal(bad)
		assert.False(t, ok, "%q", bad)
	}
}

// appFenceScenario: 3 lost the tail of its log (a StateLoss) and follows
// leader 1, which cannot fence it (3's heartbeat responses never reach
// it, as with an etcd raft leader, which ignores them). The application
// proposes through 3 an entry carrying the nonce, and calls FenceApplied
// when 3 applies it. With stale, the leader is counterexample 3's stale
// leader instead, and the application calls FenceApplied as soon as 3's
// log holds the entry (which the stale leader can never commit). It
// returns whether 3 is still quarantined and whether the stale leader
// committed index 4.
func appFenceScenario(t *testing.T, stale bool) (quarantined, staleCommit bool) {
	dropSignals := func(c *testCluster) {
		c.drop = func(m pb.Message) bool { return m.From == 3 && m.Type == pb.MsgHeartbeatResp }
	}
	var c *testCluster
	if stale {
		c = staleLeaderSetup(t, dropSignals)
	} else {
		c = newTestCluster(t, 3, recoverConfig(false))
		dropSignals(c)
		c.campaign(1)
		require.NoError(t, c.propose(1, "x"))
		c.regress(3, 2, pb.HardState{Term: c.node(1).raft.Term, Vote: 1, Commit: 3})
	}
	rec := c.recoveryOf(3)
	require.True(t, rec.Quarantined)
	c.tick(2)
	fence := fmt.Sprintf("fence %x", rec.Nonce)
	require.NoError(t, c.node(3).Propose([]byte(fence)))
	c.stabilize()
	// The application looks for its entry among those it applied (or,
	// with stale, in its log).
	for i := uint64(1); i <= c.node(3).raft.raftLog.lastIndex(); i++ {
		if c.entryData(3, i) != fence {
			continue
		}
		err := c.node(3).FenceApplied(i, rec.Nonce)
		if !stale {
			require.LessOrEqual(t, i, c.nodes[3].appliedIndex, "applied")
			assert.NoError(t, err)
		} else if recoveryMutation == mutRecoveryNone {
			assert.ErrorContains(t, err, "not committed")
		}
	}
	if stale {
		require.NoError(t, c.node(1).Propose([]byte("z")))
	}
	c.tick(3)
	return c.recoveryOf(3).Quarantined, stale && c.node(1).raft.raftLog.committed >= 4
}

// TestApplicationFenceEndsTheQuarantine: rule E3. An entry the
// application proposed with the nonce, committed and applied, ends a
// StateLoss quarantine under a leader that cannot fence; the same entry
// under a stale leader is never committed and ends nothing. Taken before
// it is committed, the node would acknowledge the stale leader's entries,
// which commit at an index where another entry was committed.
func TestApplicationFenceEndsTheQuarantine(t *testing.T) {
	quarantined, _ := appFenceScenario(t, false)
	assert.False(t, quarantined, "fenced by the application's entry")
	quarantined, staleCommit := appFenceScenario(t, true)
	assert.True(t, quarantined, "the stale leader's entry is no fence")
	assert.False(t, staleCommit)
	withRecoveryMutation(mutAppFenceUncommitted, func() {
		_, staleCommit := appFenceScenario(t, true)
		assert.True(t, staleCommit, "leaving on an uncommitted entry, two entries are committed at index 4")
	})
}

// TestApplicationFenceNeedsTheCurrentNonce: an entry made for an earlier
// quarantine (before a further loss drew a new nonce) is refused.
func TestApplicationFenceNeedsTheCurrentNonce(t *testing.T) {
	run := func() (bool, error) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 3}))
		n := newTestNode(t, 3, voters(1, 2, 3), s, recoverConfig(false))
		require.NoError(t, n.DeclareRegression(StateLoss))
		old := n.Status().Recovery.Nonce
		require.NoError(t, n.DeclareRegression(StateLoss)) // a further loss
		err := n.FenceApplied(3, old)
		return n.Status().Recovery.Quarantined, err
	}
	quarantined, err := run()
	assert.True(t, quarantined)
	assert.ErrorContains(t, err, "earlier quarantine")
	withRecoveryMutation(mutAppFenceAnyNonce, func() {
		quarantined, _ := run()
		assert.False(t, quarantined, "taking any nonce, the node leaves")
	})

	n := newTestNode(t, 3, voters(1, 2, 3), nil, recoverConfig(false))
	assert.NoError(t, n.FenceApplied(1, 1), "not quarantined: nothing to do")
}
