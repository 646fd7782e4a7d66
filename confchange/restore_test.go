package confchange

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/raftpb"
)

// randomConfState returns a valid ConfState over the IDs 1..n, joint or not.
func randomConfState(rng *rand.Rand, n int) raftpb.ConfState {
	var cs raftpb.ConfState
	pick := func() []uint64 {
		var ids []uint64
		for id := uint64(1); id <= uint64(n); id++ {
			if rng.Intn(2) == 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			ids = append(ids, uint64(1+rng.Intn(n)))
		}
		return ids
	}
	cs.Voters = pick()
	voter := map[uint64]bool{}
	for _, id := range cs.Voters {
		voter[id] = true
	}
	if rng.Intn(2) == 0 {
		cs.VotersOutgoing = pick()
		cs.AutoLeave = rng.Intn(2) == 0
		for _, id := range cs.VotersOutgoing {
			if !voter[id] && rng.Intn(2) == 0 {
				cs.LearnersNext = append(cs.LearnersNext, id)
			}
			voter[id] = true
		}
	}
	for id := uint64(1); id <= uint64(n); id++ {
		if !voter[id] && rng.Intn(2) == 0 {
			cs.Learners = append(cs.Learners, id)
		}
	}
	return cs
}

func TestRestoreRoundTripsRandomConfStates(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		cs := randomConfState(rng, 1+rng.Intn(7))
		chg := Changer{Tracker: progress.MakeTracker(5, 0), LastIndex: 10}
		cfg, prs, err := Restore(chg, cs)
		require.NoError(t, err, "%s", cs.String())
		tr := progress.Tracker{Config: cfg, Progress: prs}
		require.NoError(t, cs.Equivalent(tr.ConfState()), "%s", cs.String())
		require.NoError(t, checkInvariants(cfg, prs))
		for _, pr := range prs {
			assert.Equal(t, uint64(10), pr.Next)
		}
	}
}

func TestRestoreIgnoresTheTrackersCurrentConfig(t *testing.T) {
	chg := changer(t, raftpb.ConfState{Voters: []uint64{7, 8, 9}, Learners: []uint64{6}})
	cfg, prs, err := Restore(chg, cs12l3)
	require.NoError(t, err)
	assert.Equal(t, "voters=(1 2) learners=(3)", cfg.String())
	assert.Equal(t, []uint64{1, 2, 3}, members(prs))
}

func TestRestoreEmptyConfState(t *testing.T) {
	cfg, prs, err := Restore(Changer{Tracker: progress.MakeTracker(1, 0)}, raftpb.ConfState{})
	require.NoError(t, err)
	assert.Equal(t, "voters=()", cfg.String())
	assert.Empty(t, prs)
}

func TestRestoreRejectsInvalidConfStates(t *testing.T) {
	tests := []struct {
		name string
		cs   raftpb.ConfState
		want string
	}{
		{"voter and learner", raftpb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{2}}, "2 is both voter and learner"},
		{"outgoing voter and learner", raftpb.ConfState{Voters: []uint64{1}, VotersOutgoing: []uint64{1, 2}, Learners: []uint64{2}}, "2 is both outgoing voter and learner"},
		{"learner next not outgoing", raftpb.ConfState{Voters: []uint64{1}, VotersOutgoing: []uint64{1}, LearnersNext: []uint64{3}}, "learner-next 3 is not an outgoing voter"},
		{"learner next also incoming", raftpb.ConfState{Voters: []uint64{1}, VotersOutgoing: []uint64{1}, LearnersNext: []uint64{1}}, "learner-next 1 is also an incoming voter"},
		{"learner next when not joint", raftpb.ConfState{Voters: []uint64{1}, LearnersNext: []uint64{2}}, "learner-next 2 is not an outgoing voter"},
		{"auto leave when not joint", raftpb.ConfState{Voters: []uint64{1}, AutoLeave: true}, "AutoLeave set on a non-joint config"},
		{"node ID 0", raftpb.ConfState{Voters: []uint64{0, 1}}, "node ID 0"},
		{"learners without voters", raftpb.ConfState{Learners: []uint64{1}}, "restoring learner 1: removed all voters"},
		{"joint without incoming voters", raftpb.ConfState{VotersOutgoing: []uint64{1}}, "restoring joint config: removed all voters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, prs, err := Restore(Changer{Tracker: progress.MakeTracker(1, 0)}, tt.cs)
			assert.ErrorContains(t, err, tt.want)
			assert.Nil(t, prs)
		})
	}
}

func TestRestoreJointDemotion(t *testing.T) {
	cs := raftpb.ConfState{
		Voters: []uint64{1, 2}, VotersOutgoing: []uint64{1, 2, 3},
		LearnersNext: []uint64{3}, Learners: []uint64{4}, AutoLeave: true,
	}
	chg := Changer{Tracker: progress.MakeTracker(1, 0)}
	cfg, prs, err := Restore(chg, cs)
	require.NoError(t, err)
	assert.Equal(t, "voters=(1 2)&&(1 2 3) learners=(4) learners_next=(3) autoleave", cfg.String())
	assert.False(t, prs[3].IsLearner, "a learner-next still votes in the outgoing config")
	assert.True(t, prs[4].IsLearner)

	chg.Tracker.Config, chg.Tracker.Progress = cfg, prs
	cfg, prs, err = chg.LeaveJoint()
	require.NoError(t, err)
	assert.Equal(t, "voters=(1 2) learners=(3 4)", cfg.String())
	assert.True(t, prs[3].IsLearner)
}
