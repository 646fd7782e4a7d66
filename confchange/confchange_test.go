package confchange

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	"github.com/raftkit/raft/raftpb"
)

// changer returns a Changer whose tracker holds the configuration cs.
func changer(t *testing.T, cs raftpb.ConfState) Changer {
	t.Helper()
	chg := Changer{Tracker: progress.MakeTracker(10, 1000), LastIndex: 5}
	cfg, prs, err := Restore(chg, cs)
	require.NoError(t, err)
	chg.Tracker.Config = cfg
	chg.Tracker.Progress = prs
	return chg
}

func parse(t *testing.T, s string) []raftpb.ConfChangeSingle {
	t.Helper()
	ccs, err := raftpb.ConfChangesFromString(s)
	require.NoError(t, err)
	return ccs
}

// members returns the sorted IDs of everyone with a progress.
func members(prs progress.ProgressMap) []uint64 {
	var ids []uint64
	for id := range prs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

var (
	cs1     = raftpb.ConfState{Voters: []uint64{1}}
	cs12    = raftpb.ConfState{Voters: []uint64{1, 2}}
	cs123   = raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	cs12l3  = raftpb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
	csJoint = raftpb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3}}
)

func TestSimple(t *testing.T) {
	tests := []struct {
		name    string
		start   raftpb.ConfState
		ccs     string
		want    string // Config.String of the result
		members []uint64
	}{
		{"adding a voter", cs1, "v2", "voters=(1 2)", []uint64{1, 2}},
		{"removing a voter", cs123, "r3", "voters=(1 2)", []uint64{1, 2}},
		{"adding a learner", cs12, "l3", "voters=(1 2) learners=(3)", []uint64{1, 2, 3}},
		{"promoting a learner", cs12l3, "v3", "voters=(1 2 3)", []uint64{1, 2, 3}},
		{"demoting a voter", cs123, "l3", "voters=(1 2) learners=(3)", []uint64{1, 2, 3}},
		{"removing a learner", cs12l3, "r3", "voters=(1 2)", []uint64{1, 2}},
		{"adding learners along with one voter", cs12, "l4 l5 v6", "voters=(1 2 6) learners=(4 5)", []uint64{1, 2, 4, 5, 6}},
		{"voter then learner moves the node to learner", cs12, "v3 l3", "voters=(1 2) learners=(3)", []uint64{1, 2, 3}},
		{"learner then voter moves the node to voter", cs12, "l3 v3", "voters=(1 2 3)", []uint64{1, 2, 3}},
		{"re-adding a voter changes nothing", cs12, "v1", "voters=(1 2)", []uint64{1, 2}},
		{"re-adding a learner changes nothing", cs12l3, "l3", "voters=(1 2) learners=(3)", []uint64{1, 2, 3}},
		{"removing an unknown node changes nothing", cs12, "r9", "voters=(1 2)", []uint64{1, 2}},
		{"updating a node changes nothing", cs12, "u1 u2", "voters=(1 2)", []uint64{1, 2}},
		{"node ID 0 is ignored", cs12, "v0 r0 l0", "voters=(1 2)", []uint64{1, 2}},
		{"removing and re-adding a voter", cs12, "r2 v2", "voters=(1 2)", []uint64{1, 2}},
		{"first voter of an empty group", raftpb.ConfState{}, "v1", "voters=(1)", []uint64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, prs, err := changer(t, tt.start).Simple(parse(t, tt.ccs)...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.String())
			assert.Equal(t, tt.members, members(prs))
		})
	}
}

func TestChangeErrors(t *testing.T) {
	tests := []struct {
		name  string
		start raftpb.ConfState
		op    func(Changer) (progress.Config, progress.ProgressMap, error)
		want  error
	}{
		{"simple changing two voters", cs12, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "v3 v4")...)
		}, errTooManyChanges},
		{"simple replacing a voter", cs12, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "r2 v3")...)
		}, errTooManyChanges},
		{"simple removing the last voter", cs1, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "r1")...)
		}, errRemovedAllVoters},
		{"simple demoting the last voter", cs1, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "l1")...)
		}, errRemovedAllVoters},
		{"simple adding only a learner to an empty group", raftpb.ConfState{}, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "l1")...)
		}, errRemovedAllVoters},
		{"simple while joint", csJoint, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "l5")...)
		}, errJointSimple},
		{"entering joint while joint", csJoint, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.EnterJoint(false, parse(t, "v5")...)
		}, errAlreadyJoint},
		{"entering joint removing all voters", cs12, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.EnterJoint(false, parse(t, "r1 r2")...)
		}, errRemovedAllVoters},
		{"entering joint from an empty group", raftpb.ConfState{}, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.EnterJoint(false, parse(t, "v1")...)
		}, errRemovedAllVoters},
		{"leaving a non-joint config", cs12, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.LeaveJoint()
		}, errNotJoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, prs, err := tt.op(changer(t, tt.start))
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, prs)
		})
	}
}

func TestUnknownChangeTypeIsAnError(t *testing.T) {
	cc := raftpb.ConfChangeSingle{Type: raftpb.ConfChangeType(42), NodeID: 3}
	_, _, err := changer(t, cs12).Simple(cc)
	assert.ErrorContains(t, err, "unexpected conf change type 42 for node 3")
	_, _, err = changer(t, cs12).EnterJoint(false, cc)
	assert.Error(t, err)
}

func TestEnterAndLeaveJoint(t *testing.T) {
	tests := []struct {
		name         string
		start        raftpb.ConfState
		autoLeave    bool
		ccs          string
		wantJoint    string
		jointMembers []uint64
		wantLeft     string
		leftMembers  []uint64
	}{
		{
			name: "replacing a voter", start: cs123, ccs: "r3 v4",
			wantJoint: "voters=(1 2 4)&&(1 2 3)", jointMembers: []uint64{1, 2, 3, 4},
			wantLeft: "voters=(1 2 4)", leftMembers: []uint64{1, 2, 4},
		},
		{
			name: "auto leave is recorded", start: cs123, autoLeave: true, ccs: "v4 v5",
			wantJoint: "voters=(1 2 3 4 5)&&(1 2 3) autoleave", jointMembers: []uint64{1, 2, 3, 4, 5},
			wantLeft: "voters=(1 2 3 4 5)", leftMembers: []uint64{1, 2, 3, 4, 5},
		},
		{
			name: "demoting a voter goes through learners next", start: cs123, ccs: "l3",
			wantJoint: "voters=(1 2)&&(1 2 3) learners_next=(3)", jointMembers: []uint64{1, 2, 3},
			wantLeft: "voters=(1 2) learners=(3)", leftMembers: []uint64{1, 2, 3},
		},
		{
			name: "demoting then promoting again cancels out", start: cs123, ccs: "l3 v3",
			wantJoint: "voters=(1 2 3)&&(1 2 3)", jointMembers: []uint64{1, 2, 3},
			wantLeft: "voters=(1 2 3)", leftMembers: []uint64{1, 2, 3},
		},
		{
			name: "demoting then removing drops the node on leave", start: cs123, ccs: "l3 r3",
			wantJoint: "voters=(1 2)&&(1 2 3)", jointMembers: []uint64{1, 2, 3},
			wantLeft: "voters=(1 2)", leftMembers: []uint64{1, 2},
		},
		{
			name: "promoting a learner", start: cs12l3, ccs: "v3",
			wantJoint: "voters=(1 2 3)&&(1 2)", jointMembers: []uint64{1, 2, 3},
			wantLeft: "voters=(1 2 3)", leftMembers: []uint64{1, 2, 3},
		},
		{
			name: "removing a learner and adding a new one", start: cs12l3, ccs: "r3 l4",
			wantJoint: "voters=(1 2)&&(1 2) learners=(4)", jointMembers: []uint64{1, 2, 4},
			wantLeft: "voters=(1 2) learners=(4)", leftMembers: []uint64{1, 2, 4},
		},
		{
			name: "replacing every voter", start: cs12, ccs: "r1 r2 v3 v4 v5",
			wantJoint: "voters=(3 4 5)&&(1 2)", jointMembers: []uint64{1, 2, 3, 4, 5},
			wantLeft: "voters=(3 4 5)", leftMembers: []uint64{3, 4, 5},
		},
		{
			name: "no changes at all", start: cs12, ccs: "",
			wantJoint: "voters=(1 2)&&(1 2)", jointMembers: []uint64{1, 2},
			wantLeft: "voters=(1 2)", leftMembers: []uint64{1, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chg := changer(t, tt.start)
			cfg, prs, err := chg.EnterJoint(tt.autoLeave, parse(t, tt.ccs)...)
			require.NoError(t, err)
			assert.Equal(t, tt.wantJoint, cfg.String())
			assert.Equal(t, tt.jointMembers, members(prs))

			chg.Tracker.Config, chg.Tracker.Progress = cfg, prs
			cfg, prs, err = chg.LeaveJoint()
			require.NoError(t, err)
			assert.Equal(t, tt.wantLeft, cfg.String())
			assert.Equal(t, tt.leftMembers, members(prs))
			assert.False(t, cfg.AutoLeave)
			assert.Nil(t, cfg.Voters[1])
			assert.Nil(t, cfg.LearnersNext)
			for id, pr := range prs {
				_, learner := cfg.Learners[id]
				assert.Equal(t, learner, pr.IsLearner, "node %d", id)
			}
		})
	}
}

func TestRemovingAnOutgoingVoterKeepsItsProgressWhileJoint(t *testing.T) {
	chg := changer(t, cs123)
	old := chg.Tracker.Progress[3]
	_, prs, err := chg.EnterJoint(false, parse(t, "r3")...)
	require.NoError(t, err)
	assert.Same(t, old, prs[3], "the outgoing voter still needs its progress")
	assert.False(t, prs[3].IsLearner)
}

func TestNewProgressStartsProbingAtLastIndex(t *testing.T) {
	chg := changer(t, cs12)
	chg.LastIndex = 42
	cfg, prs, err := chg.Simple(parse(t, "v3 l4")...)
	require.NoError(t, err)
	require.Equal(t, "voters=(1 2 3) learners=(4)", cfg.String())
	for id, learner := range map[uint64]bool{3: false, 4: true} {
		pr := prs[id]
		assert.Equal(t, uint64(42), pr.Next)
		assert.Zero(t, pr.Match)
		assert.Equal(t, progress.StateProbe, pr.State)
		assert.True(t, pr.RecentActive)
		assert.Equal(t, learner, pr.IsLearner)
		require.NotNil(t, pr.Inflights)
		for i := 0; i < 9; i++ {
			pr.Inflights.Add(uint64(i+1), 1)
		}
		assert.False(t, pr.Inflights.Full())
		pr.Inflights.Add(10, 1)
		assert.True(t, pr.Inflights.Full(), "window of the tracker's MaxInflight (10)")
	}

	chg.LastIndex = 0
	_, prs, err = chg.Simple(parse(t, "v3")...)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), prs[3].Next, "Next stays above Match on an empty log")
}

// snapshot deep-copies what a tracker holds, for checking that it was not
// mutated.
func snapshot(tr progress.Tracker) (progress.Config, map[uint64]progress.Progress) {
	prs := map[uint64]progress.Progress{}
	for id, pr := range tr.Progress {
		prs[id] = *pr
	}
	return tr.Config.Clone(), prs
}

func TestChangesNeverMutateTheInputTracker(t *testing.T) {
	ops := []struct {
		start raftpb.ConfState
		op    func(Changer) (progress.Config, progress.ProgressMap, error)
	}{
		{cs123, func(c Changer) (progress.Config, progress.ProgressMap, error) { return c.Simple(parse(t, "l3 l4")...) }},
		{cs12l3, func(c Changer) (progress.Config, progress.ProgressMap, error) { return c.Simple(parse(t, "v3 r2")...) }},
		{cs12l3, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.Simple(parse(t, "r3 v5 r5")...)
		}},
		{cs123, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.EnterJoint(true, parse(t, "l3 r2 v4 l5")...)
		}},
		{cs12l3, func(c Changer) (progress.Config, progress.ProgressMap, error) {
			return c.EnterJoint(true, parse(t, "v3 r1 r2")...) // an error after changes were made
		}},
		{raftpb.ConfState{Voters: []uint64{1, 2}, VotersOutgoing: []uint64{1, 2, 3}, LearnersNext: []uint64{3}},
			func(c Changer) (progress.Config, progress.ProgressMap, error) { return c.LeaveJoint() }},
	}
	for i, o := range ops {
		chg := changer(t, o.start)
		cfgBefore, prsBefore := snapshot(chg.Tracker)
		progressMapBefore := chg.Tracker.Progress
		_, _, _ = o.op(chg)
		cfgAfter, prsAfter := snapshot(chg.Tracker)
		assert.Equal(t, cfgBefore, cfgAfter, "op %d", i)
		assert.Equal(t, prsBefore, prsAfter, "op %d", i)
		assert.Len(t, progressMapBefore, len(prsBefore), "op %d", i)
	}
}

func TestInvalidInputTrackerIsAnError(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(tr *progress.Tracker)
		want   string
	}{
		{"voter without progress", func(tr *progress.Tracker) { delete(tr.Progress, 2) }, "no progress for voter 2"},
		{"learner without progress", func(tr *progress.Tracker) { delete(tr.Progress, 3) }, "no progress for learner 3"},
		{"voter marked learner", func(tr *progress.Tracker) { tr.Progress[1].IsLearner = true }, "voter 1 is marked as a learner"},
		{"learner not marked", func(tr *progress.Tracker) { tr.Progress[3].IsLearner = false }, "learner 3 is not marked"},
		{"learner also voter", func(tr *progress.Tracker) {
			tr.Voters[0][3] = struct{}{}
		}, "3 is in Learners and incoming voters"},
		{"progress of a non-member", func(tr *progress.Tracker) {
			tr.Progress[9] = &progress.Progress{Next: 1}
		}, "progress for 9, which is not a member"},
		{"learners next when not joint", func(tr *progress.Tracker) {
			tr.LearnersNext = map[uint64]struct{}{1: {}}
		}, "1 is in LearnersNext but not an outgoing voter"},
		{"auto leave when not joint", func(tr *progress.Tracker) { tr.AutoLeave = true }, "AutoLeave must be false when not joint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chg := changer(t, cs12l3)
			tt.break_(&chg.Tracker)
			_, _, err := chg.Simple(parse(t, "v4")...)
			assert.ErrorContains(t, err, "invalid input configuration")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCheckInvariantsJointRules(t *testing.T) {
	pr := func(learner bool) *progress.Progress { return &progress.Progress{Next: 1, IsLearner: learner} }
	set := func(ids ...uint64) map[uint64]struct{} {
		m := map[uint64]struct{}{}
		for _, id := range ids {
			m[id] = struct{}{}
		}
		return m
	}
	tests := []struct {
		name string
		cfg  progress.Config
		prs  progress.ProgressMap
		want string
	}{
		{"learner in outgoing voters", progress.Config{
			Voters: quorum.JointConfig{set(1), set(1, 2)}, Learners: set(2),
		}, progress.ProgressMap{1: pr(false), 2: pr(true)}, "2 is in Learners and outgoing voters"},
		{"learner next also incoming voter", progress.Config{
			Voters: quorum.JointConfig{set(1, 2), set(1, 2)}, LearnersNext: set(2),
		}, progress.ProgressMap{1: pr(false), 2: pr(false)}, "2 is in LearnersNext and incoming voters"},
		{"learner in incoming voters", progress.Config{
			Voters: quorum.JointConfig{set(1, 2), nil}, Learners: set(2),
		}, progress.ProgressMap{1: pr(false), 2: pr(true)}, "2 is in Learners and incoming voters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorContains(t, checkInvariants(tt.cfg, tt.prs), tt.want)
		})
	}
}

func TestZeroTrackerAcceptsAFirstVoter(t *testing.T) {
	cfg, prs, err := Changer{}.Simple(parse(t, "v1")...)
	require.NoError(t, err)
	assert.Equal(t, "voters=(1)", cfg.String())
	assert.Equal(t, []uint64{1}, members(prs))
}

func TestDescribe(t *testing.T) {
	assert.Equal(t, "ConfChangeAddNode(1) ConfChangeRemoveNode(2) ConfChangeAddLearnerNode(3) ConfChangeUpdateNode(4)",
		Describe(parse(t, "v1 r2 l3 u4")...))
	assert.Equal(t, "9(5)", Describe(raftpb.ConfChangeSingle{Type: 9, NodeID: 5}))
	assert.Equal(t, "", Describe())
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{errAlreadyJoint, errNotJoint, errRemovedAllVoters, errTooManyChanges, errJointSimple}
	for i := range errs {
		for j := range errs {
			assert.Equal(t, i == j, errors.Is(errs[i], errs[j]))
		}
	}
}
