package progress

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft/quorum"
	"github.com/raftkit/raft/raftpb"
)

func set(ids ...uint64) map[uint64]struct{} {
	m := map[uint64]struct{}{}
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// newTracker builds a tracker with the given voters (incoming, outgoing)
// and learners, each with a fresh progress.
func newTracker(in, out, learners []uint64) *Tracker {
	tr := MakeTracker(4, 0)
	tr.Voters = quorum.JointConfig{set(in...), nil}
	if len(out) > 0 {
		tr.Voters[1] = set(out...)
	}
	if len(learners) > 0 {
		tr.Learners = set(learners...)
	}
	for _, ids := range [][]uint64{in, out} {
		for _, id := range ids {
			tr.Progress[id] = &Progress{Next: 1, Inflights: NewInflights(4, 0)}
		}
	}
	for _, id := range learners {
		tr.Progress[id] = &Progress{Next: 1, Inflights: NewInflights(4, 0), IsLearner: true}
	}
	return &tr
}

func TestMakeTrackerIsEmpty(t *testing.T) {
	tr := MakeTracker(7, 100)
	assert.Equal(t, 7, tr.MaxInflight)
	assert.Equal(t, uint64(100), tr.MaxInflightBytes)
	assert.NotNil(t, tr.Voters[0])
	assert.Empty(t, tr.Progress)
	assert.NotNil(t, tr.Votes)
	assert.Equal(t, raftpb.ConfState{}, tr.ConfState())
	assert.False(t, tr.IsSingleton())
	assert.Equal(t, uint64(math.MaxUint64), tr.Committed())
	assert.Equal(t, "voters=()", tr.String())
}

func TestConfStateIsSorted(t *testing.T) {
	tr := newTracker([]uint64{3, 1, 2}, []uint64{2, 1, 4}, []uint64{9, 7})
	tr.LearnersNext = set(4)
	tr.AutoLeave = true
	assert.Equal(t, raftpb.ConfState{
		Voters:         []uint64{1, 2, 3},
		VotersOutgoing: []uint64{1, 2, 4},
		Learners:       []uint64{7, 9},
		LearnersNext:   []uint64{4},
		AutoLeave:      true,
	}, tr.ConfState())
}

func TestIsSingleton(t *testing.T) {
	assert.True(t, newTracker([]uint64{1}, nil, []uint64{2}).IsSingleton(), "learners do not count")
	assert.False(t, newTracker([]uint64{1, 2}, nil, nil).IsSingleton())
	assert.False(t, newTracker([]uint64{1}, []uint64{1, 2}, nil).IsSingleton(), "joint is not a singleton")
}

func TestCommittedUsesVotersMatchOnly(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3}, nil, []uint64{4, 5})
	for id, m := range map[uint64]uint64{1: 10, 2: 7, 3: 3, 4: 100, 5: 100} {
		tr.Progress[id].Match = m
	}
	assert.Equal(t, uint64(7), tr.Committed())

	// Joint: the incoming half (1 2 3) has committed 7, the outgoing half
	// (3 4 5) only 5; the joint config commits the smaller.
	tr = newTracker([]uint64{1, 2, 3}, []uint64{3, 4, 5}, nil)
	for id, m := range map[uint64]uint64{1: 10, 2: 7, 3: 3, 4: 5, 5: 100} {
		tr.Progress[id].Match = m
	}
	assert.Equal(t, uint64(5), tr.Committed(), "min(7, 5)")
}

func TestCommittedOfAPackedTrackerIsTheVotersQuorumIndex(t *testing.T) {
	// The packed tracker reads the voters' Match from its array; the
	// answer must be the quorum package's over the voter map, for every
	// mix of voters, learners and indexes, joint or not.
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var in, out, learners []uint64
		for id := uint64(1); id <= 9; id++ {
			switch rnd.IntN(4) {
			case 0:
				in = append(in, id)
			case 1:
				learners = append(learners, id)
			case 2:
				if rnd.IntN(4) == 0 {
					out = append(out, id)
				}
			}
		}
		tr := newTracker(in, out, learners)
		for _, pr := range tr.Progress {
			pr.Match = uint64(rnd.IntN(20))
		}
		want := uint64(tr.Voters.CommittedIndex((*matchAckIndexer)(tr)))
		tr.Pack()
		require.Nil(t, tr.Progress)
		assert.Equal(t, want, tr.Committed(), "voters %v, outgoing %v, learners %v", in, out, learners)
	}
}

func TestCommittedOfAPackedTrackerDoesNotAllocate(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3}, nil, []uint64{4})
	tr.Pack()
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = tr.Committed() }))
}

func TestVisitIsOrderedAndDoesNotAllocate(t *testing.T) {
	tr := newTracker([]uint64{5, 3, 1}, nil, []uint64{4, 2})
	var ids []uint64
	tr.Visit(func(id uint64, pr *Progress) {
		ids = append(ids, id)
		assert.Same(t, tr.Progress[id], pr)
	})
	assert.Equal(t, []uint64{1, 2, 3, 4, 5}, ids)

	var n uint64
	allocs := testing.AllocsPerRun(100, func() {
		tr.Visit(func(id uint64, pr *Progress) { n += id })
	})
	assert.Zero(t, allocs)

	big := newTracker([]uint64{9, 8, 7, 6, 5, 4, 3, 2, 1}, nil, nil)
	ids = nil
	big.Visit(func(id uint64, _ *Progress) { ids = append(ids, id) })
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, ids)
}

func TestQuorumActiveCountsVotersOnly(t *testing.T) {
	tests := []struct {
		name   string
		tr     *Tracker
		active []uint64
		want   bool
	}{
		{"majority active", newTracker([]uint64{1, 2, 3}, nil, nil), []uint64{1, 2}, true},
		{"minority active", newTracker([]uint64{1, 2, 3}, nil, nil), []uint64{1}, false},
		{"learners do not help", newTracker([]uint64{1, 2, 3}, nil, []uint64{4, 5}), []uint64{1, 4, 5}, false},
		{"joint needs both halves", newTracker([]uint64{1, 2, 3}, []uint64{3, 4, 5}, nil), []uint64{1, 2, 3}, false},
		{"joint with both halves", newTracker([]uint64{1, 2, 3}, []uint64{3, 4, 5}, nil), []uint64{1, 3, 4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range tt.active {
				tt.tr.Progress[id].RecentActive = true
			}
			assert.Equal(t, tt.want, tt.tr.QuorumActive())
		})
	}
}

func TestVoterAndLearnerNodesAreSorted(t *testing.T) {
	tr := newTracker([]uint64{3, 1}, []uint64{1, 5}, []uint64{9, 4})
	assert.Equal(t, []uint64{1, 3, 5}, tr.VoterNodes())
	assert.Equal(t, []uint64{4, 9}, tr.LearnerNodes())
	assert.Nil(t, newTracker([]uint64{1}, nil, nil).LearnerNodes())
}

func TestRecordVoteKeepsTheFirstVote(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3}, nil, nil)
	tr.RecordVote(1, true)
	tr.RecordVote(1, false)
	tr.RecordVote(2, false)
	tr.RecordVote(2, true)
	assert.Equal(t, map[uint64]bool{1: true, 2: false}, tr.Votes)
	tr.ResetVotes()
	assert.Empty(t, tr.Votes)

	var zero Tracker
	zero.RecordVote(1, true)
	assert.Equal(t, map[uint64]bool{1: true}, zero.Votes)
}

func TestTallyVotes(t *testing.T) {
	tests := []struct {
		name         string
		tr           *Tracker
		votes        map[uint64]bool
		granted, rej int
		want         quorum.VoteResult
	}{
		{"no votes", newTracker([]uint64{1, 2, 3}, nil, nil), nil, 0, 0, quorum.VotePending},
		{"won", newTracker([]uint64{1, 2, 3}, nil, nil), map[uint64]bool{1: true, 2: true}, 2, 0, quorum.VoteWon},
		{"lost", newTracker([]uint64{1, 2, 3}, nil, nil), map[uint64]bool{1: true, 2: false, 3: false}, 1, 2, quorum.VoteLost},
		{"non-voters ignored", newTracker([]uint64{1, 2, 3}, nil, []uint64{4}), map[uint64]bool{1: true, 4: true, 9: true}, 1, 0, quorum.VotePending},
		{"joint counts each voter once", newTracker([]uint64{1, 2, 3}, []uint64{3, 4, 5}, nil), map[uint64]bool{1: true, 3: true, 4: true}, 3, 0, quorum.VoteWon},
		{"joint lost in outgoing", newTracker([]uint64{1, 2, 3}, []uint64{3, 4, 5}, nil), map[uint64]bool{1: true, 2: true, 4: false, 5: false}, 2, 2, quorum.VoteLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.tr.ResetVotes()
			for id, v := range tt.votes {
				tt.tr.RecordVote(id, v)
			}
			granted, rejected, res := tt.tr.TallyVotes()
			assert.Equal(t, tt.granted, granted)
			assert.Equal(t, tt.rej, rejected)
			assert.Equal(t, tt.want, res)
		})
	}
}

func TestConfigString(t *testing.T) {
	c := Config{
		Voters:       quorum.JointConfig{set(1, 2, 3), set(1, 2)},
		Learners:     set(4),
		LearnersNext: set(5),
		AutoLeave:    true,
	}
	assert.Equal(t, "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(5) autoleave", c.String())
	assert.Equal(t, "voters=(1)", Config{Voters: quorum.JointConfig{set(1)}}.String())
	// As in etcd, a learner set is shown when it is not nil, even empty.
	assert.Equal(t, "voters=() learners=() learners_next=()",
		Config{Learners: map[uint64]struct{}{}, LearnersNext: map[uint64]struct{}{}}.String())
}

func TestConfigCloneIsIndependent(t *testing.T) {
	c := Config{
		Voters:       quorum.JointConfig{set(1, 2, 3), set(1, 2)},
		Learners:     set(4),
		LearnersNext: set(5),
		AutoLeave:    true,
	}
	cl := c.Clone()
	require.Equal(t, c, cl)
	cl.Voters[0][9] = struct{}{}
	cl.Voters[1][9] = struct{}{}
	cl.Learners[9] = struct{}{}
	cl.LearnersNext[9] = struct{}{}
	assert.Equal(t, "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(5) autoleave", c.String())

	empty := Config{Voters: quorum.JointConfig{set(1)}}
	ecl := empty.Clone()
	assert.Nil(t, ecl.Voters[1])
	assert.Nil(t, ecl.Learners)
	assert.Nil(t, ecl.LearnersNext)
}

func TestTrackerPromotesConfigMethods(t *testing.T) {
	tr := newTracker([]uint64{1, 2}, nil, []uint64{3})
	assert.Equal(t, "voters=(1 2) learners=(3)", tr.String())
	cl := tr.Clone()
	assert.Equal(t, tr.Config, cl)
}

func TestPackVisitsTheMovedProgressInIDOrder(t *testing.T) {
	tr := newTracker([]uint64{5, 1, 3}, nil, []uint64{4})
	prs := tr.Progress
	prs[3].Match = 7
	prs[3].Inflights.Add(9, 2)
	oldInflights := prs[3].Inflights
	tr.Pack()
	require.Nil(t, tr.Progress, "a packed tracker holds no map")

	var ids []uint64
	tr.Visit(func(id uint64, pr *Progress) {
		ids = append(ids, id)
		assert.Same(t, tr.Get(id), pr, "Visit hands out the progress Get finds")
		assert.Same(t, prs[id], pr, "the map passed in points at the moved progress")
	})
	assert.Equal(t, []uint64{1, 3, 4, 5}, ids)
	pr := tr.Get(3)
	assert.Equal(t, uint64(7), pr.Match, "the progress keeps its values when moved")
	assert.Equal(t, 1, pr.Inflights.Count(), "and its inflight window")
	assert.Same(t, oldInflights, pr.Inflights, "a window in use moves with its progress")
	assert.Nil(t, tr.Get(1).Inflights, "an empty window is dropped")
	assert.True(t, tr.Get(4).IsLearner)
}

func TestTrackerReadsANewMapUntilPacked(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3}, nil, nil)
	tr.Pack()
	// A new map, as confchange returns, with another member.
	prs := tr.ProgressMap()
	prs[9] = &Progress{Next: 1, Inflights: NewInflights(4, 0)}
	prs[0] = &Progress{Next: 1, Inflights: NewInflights(4, 0)}
	delete(prs, 2)
	tr.Progress = prs
	var ids []uint64
	tr.Visit(func(id uint64, pr *Progress) {
		ids = append(ids, id)
		assert.Same(t, prs[id], pr)
	})
	assert.Equal(t, []uint64{0, 1, 3, 9}, ids, "Visit walks the new map until Pack")
	assert.Nil(t, tr.Get(2))
	assert.Equal(t, 4, tr.Len())

	tr.Pack()
	ids = ids[:0]
	tr.Visit(func(id uint64, _ *Progress) { ids = append(ids, id) })
	assert.Equal(t, []uint64{0, 1, 3, 9}, ids)
}

func TestVisitOfAPackedTrackerDoesNotAllocate(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, nil, nil)
	tr.Pack()
	n := 0
	allocs := testing.AllocsPerRun(10, func() {
		tr.Visit(func(uint64, *Progress) { n++ })
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 90+9, n)
}

func TestTrackerEnsureInflightsGivesAWindowWithTheTrackersLimits(t *testing.T) {
	tr := newTracker([]uint64{1, 2}, nil, nil)
	tr.MaxInflight, tr.MaxInflightBytes = 8, 100
	tr.Pack()
	pr := tr.Get(2)
	require.Nil(t, pr.Inflights)

	tr.EnsureInflights(pr)
	assert.Nil(t, pr.Inflights, "no window outside StateReplicate")

	pr.BecomeReplicate()
	tr.EnsureInflights(pr)
	in := pr.Inflights
	require.NotNil(t, in)
	for i := uint64(0); i < 8; i++ {
		require.False(t, in.Full())
		in.Add(i, 1)
	}
	assert.True(t, in.Full(), "with the tracker's limits")

	tr.EnsureInflights(pr)
	assert.Same(t, in, pr.Inflights, "a window is kept")
}

func TestPackedTrackerKeepsOnlyTheArray(t *testing.T) {
	ids := []uint64{12, 2, 7, 30, 5, 1, 9, 40, 3, 22, 17}
	for _, n := range []int{1, 3, 8, 9, len(ids)} {
		tr := newTracker(ids[:n], nil, nil)
		want := map[uint64]uint64{}
		for i, id := range ids[:n] {
			tr.Progress[id].Match = uint64(100 + i)
			want[id] = uint64(100 + i)
		}
		committed := tr.Committed()
		tr.Pack()

		require.Nil(t, tr.Progress, "n=%d", n)
		assert.Equal(t, n, tr.Len(), "n=%d", n)
		for id, match := range want {
			pr := tr.Get(id)
			require.NotNil(t, pr, "n=%d id=%d", n, id)
			assert.Equal(t, match, pr.Match, "n=%d id=%d", n, id)
		}
		for _, id := range []uint64{0, 4, 6, 41, 1000} {
			assert.Nil(t, tr.Get(id), "n=%d: %d is not a member", n, id)
		}
		assert.Equal(t, committed, tr.Committed(), "n=%d", n)

		var visited []uint64
		tr.Visit(func(id uint64, pr *Progress) {
			visited = append(visited, id)
			assert.Same(t, tr.Get(id), pr)
		})
		assert.True(t, slices.IsSorted(visited), "n=%d", n)
		assert.Len(t, visited, n)

		prs := tr.ProgressMap()
		assert.Len(t, prs, n)
		for id, pr := range prs {
			assert.Same(t, tr.Get(id), pr, "the map holds the tracker's own progresses")
		}
	}
}

func TestPackedTrackerTakesANewMapAsTheMembership(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3}, nil, nil)
	tr.Pack()
	prs := tr.ProgressMap()
	delete(prs, 2)
	prs[4] = &Progress{Next: 1, Inflights: NewInflights(4, 0)}
	tr.Progress = prs
	assert.Nil(t, tr.Get(2), "a new map is read until the tracker is packed again")
	assert.NotNil(t, tr.Get(4))
	assert.Equal(t, 3, tr.Len())

	tr.Pack()
	var ids []uint64
	tr.Visit(func(id uint64, _ *Progress) { ids = append(ids, id) })
	assert.Equal(t, []uint64{1, 3, 4}, ids)
	assert.Nil(t, tr.Progress)
}

func TestGetOfAPackedTrackerDoesNotAllocate(t *testing.T) {
	tr := newTracker([]uint64{1, 2, 3}, nil, nil)
	tr.Pack()
	allocs := testing.AllocsPerRun(10, func() {
		_ = tr.Get(3)
		_ = tr.Committed()
	})
	assert.Zero(t, allocs)
}
