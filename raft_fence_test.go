package raft

import (
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

// declaredScenario is counterexample 1 with a loss that the library cannot
// see: 3 is restored from an older copy of its disk, whose HardState and
// log agree (commit index 3, last index 3), after it acknowledged e at
// index 4; 1 crashes, 2 (which lacks e) campaigns. The application
// declares the loss at restart (Config.Recovery) or, when atRunTime, with
// DeclareRegression once the node runs. It returns whether a leader lacks e.
func declaredScenario(t *testing.T, atRunTime bool) bool {
	var declare *Recovery
	c := newTestCluster(t, 3, func(cfg *Config) {
		recoverConfig(false)(cfg)
		if cfg.ID == 3 {
			cfg.Recovery = declare
		}
	})
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
