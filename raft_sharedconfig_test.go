package raft

import (
	"reflect"
	"sync"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sameMap reports whether a and b are one map, not merely equal ones.
func sameMap[M ~map[uint64]struct{}](a, b M) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// Groups with the same members share their voter set, so a conf change must
// build a new set rather than change the shared one: the other groups keep
// theirs.
func TestConfChangeLeavesGroupsSharingTheVoterSetAlone(t *testing.T) {
	a := newTestNode(t, 1, voters(1, 2, 3), nil)
	b := newTestNode(t, 1, voters(1, 2, 3), nil)
	require.True(t, sameMap(a.r.trk.Voters[0], b.r.trk.Voters[0]), "equal voter sets are shared")

	a.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}.AsV2())
	a.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5}.AsV2())
	assert.Equal(t, "voters=(1 2 3 4) learners=(5)", a.r.trk.Config.String())
	assert.Equal(t, "voters=(1 2 3)", b.r.trk.Config.String(), "the other group is untouched")

	a.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 4}.AsV2())
	assert.True(t, sameMap(a.r.trk.Voters[0], b.r.trk.Voters[0]), "back to the same members: shared again")

	// Joint consensus: the outgoing half is the shared set, unchanged.
	cc := pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{
		{Type: pb.ConfChangeRemoveNode, NodeID: 3},
		{Type: pb.ConfChangeAddNode, NodeID: 6},
	}}
	a.ApplyConfChange(cc)
	assert.Equal(t, "voters=(1 2 6)&&(1 2 3) learners=(5) autoleave", a.r.trk.Config.String())
	assert.True(t, sameMap(a.r.trk.Voters[1], b.r.trk.Voters[0]))
	a.ApplyConfChange(pb.ConfChangeV2{})
	assert.Equal(t, "voters=(1 2 6) learners=(5)", a.r.trk.Config.String())
	assert.Equal(t, "voters=(1 2 3)", b.r.trk.Config.String())
}

// Status hands out a copy of the configuration: changing it changes neither
// the node nor the groups that share its sets.
func TestStatusConfigIsNotTheSharedSet(t *testing.T) {
	a := newTestNode(t, 1, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, nil)
	b := newTestNode(t, 2, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, nil)
	require.True(t, sameMap(a.r.trk.Learners, b.r.trk.Learners))

	st := a.Status()
	assert.False(t, sameMap(st.Config.Voters[0], a.r.trk.Voters[0]))
	st.Config.Voters[0][9] = struct{}{}
	delete(st.Config.Voters[0], 1)
	st.Config.Learners[8] = struct{}{}
	want := "voters=(1 2 3) learners=(4)"
	assert.Equal(t, want, a.r.trk.Config.String())
	assert.Equal(t, want, b.r.trk.Config.String())
	assert.Equal(t, want, b.Status().Config.String())
}

// Run with -race: groups created, reconfigured and inspected on many
// goroutines at once share voter sets without a data race.
func TestGroupsOnManyGoroutinesShareVoterSets(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := uint64(1 + (g+i)%3)
				n := newTestNode(t, id, voters(1, 2, 3), nil)
				n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: uint64(4 + i%3)}.AsV2())
				n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}.AsV2())
				st := n.Status()
				st.Config.Voters[0][99] = struct{}{}
				if got := n.r.trk.Config.String(); got != "voters=(1 3 "+string(rune('4'+i%3))+")" {
					t.Errorf("group %d/%d: %s", g, i, got)
				}
				_ = n.r.trk.Committed()
			}
		}()
	}
	wg.Wait()
}
