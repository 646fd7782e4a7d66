package raftpb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfStateEquivalentIgnoresOrderAndNilVersusEmpty(t *testing.T) {
	a := ConfState{
		Voters:         []uint64{3, 1, 2},
		Learners:       []uint64{5, 4},
		VotersOutgoing: []uint64{2, 1},
		LearnersNext:   nil,
		AutoLeave:      true,
	}
	b := ConfState{
		Voters:         []uint64{1, 2, 3},
		Learners:       []uint64{4, 5},
		VotersOutgoing: []uint64{1, 2},
		LearnersNext:   []uint64{},
		AutoLeave:      true,
	}
	assert.NoError(t, a.Equivalent(b))
	assert.NoError(t, b.Equivalent(a))
	assert.NoError(t, ConfState{}.Equivalent(ConfState{}))
}

func TestConfStateEquivalentDoesNotReorderInputs(t *testing.T) {
	a := ConfState{Voters: []uint64{3, 1, 2}}
	b := ConfState{Voters: []uint64{2, 3, 1}}
	require.NoError(t, a.Equivalent(b))
	assert.Equal(t, []uint64{3, 1, 2}, a.Voters)
	assert.Equal(t, []uint64{2, 3, 1}, b.Voters)
}

func TestConfStateEquivalentNamesEachDifferingField(t *testing.T) {
	tests := []struct {
		name    string
		a, b    ConfState
		want    []string
		notWant []string
	}{
		{
			name:    "voters",
			a:       ConfState{Voters: []uint64{2, 1}},
			b:       ConfState{Voters: []uint64{1, 3}},
			want:    []string{"Voters [1 2] != [1 3]"},
			notWant: []string{"Learners", "VotersOutgoing", "LearnersNext", "AutoLeave"},
		},
		{
			name:    "learners",
			a:       ConfState{Learners: []uint64{4}},
			b:       ConfState{},
			want:    []string{"Learners [4] != []"},
			notWant: []string{"Voters", "AutoLeave"},
		},
		{
			name: "duplicates count",
			a:    ConfState{Voters: []uint64{1, 1}},
			b:    ConfState{Voters: []uint64{1}},
			want: []string{"Voters [1 1] != [1]"},
		},
		{
			name: "joint fields and auto leave",
			a:    ConfState{VotersOutgoing: []uint64{1}, LearnersNext: []uint64{2}, AutoLeave: true},
			b:    ConfState{},
			want: []string{"VotersOutgoing [1] != []", "LearnersNext [2] != []", "AutoLeave true != false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Equivalent(tt.b)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, nw := range tt.notWant {
				assert.NotContains(t, err.Error(), nw+" ")
			}
		})
	}
}
