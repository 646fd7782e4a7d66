package raft

import (
	"encoding/json"
	"testing"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusMarshalJSON(t *testing.T) {
	base := BasicStatus{
		ID:             1,
		HardState:      pb.HardState{Term: 3, Vote: 1, Commit: 10},
		SoftState:      SoftState{Lead: 1, RaftState: StateLeader},
		Applied:        9,
		LeadTransferee: 0xb,
	}
	for _, tc := range []struct {
		name string
		st   Status
		want string
	}{
		{
			name: "leader with progress, sorted by ID, IDs in hex",
			st: Status{BasicStatus: base, Progress: map[uint64]tracker.Progress{
				0x1b: {Match: 4, Next: 5, State: tracker.StateProbe},
				1:    {Match: 10, Next: 11, State: tracker.StateReplicate},
				2:    {Match: 0, Next: 1, State: tracker.StateSnapshot},
			}},
			want: `{"id":"1","term":3,"vote":"1","commit":10,"lead":"1","raftState":"StateLeader","applied":9,` +
				`"progress":{"1":{"match":10,"next":11,"state":"StateReplicate"},` +
				`"2":{"match":0,"next":1,"state":"StateSnapshot"},` +
				`"1b":{"match":4,"next":5,"state":"StateProbe"}},"leadtransferee":"b"}`,
		},
		{
			name: "follower without progress",
			st: Status{BasicStatus: BasicStatus{
				ID: 0x2a, HardState: pb.HardState{Term: 7, Commit: 3},
				SoftState: SoftState{Lead: 0x10, RaftState: StateFollower}, Applied: 3,
			}},
			want: `{"id":"2a","term":7,"vote":"0","commit":3,"lead":"10","raftState":"StateFollower","applied":3,"progress":{},"leadtransferee":"0"}`,
		},
		{
			name: "zero",
			want: `{"id":"0","term":0,"vote":"0","commit":0,"lead":"0","raftState":"StateFollower","applied":0,"progress":{},"leadtransferee":"0"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.st.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			assert.True(t, json.Valid(b))
			assert.Equal(t, tc.want, tc.st.String())

			// encoding/json uses the method too.
			b, err = json.Marshal(tc.st)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
		})
	}
}

func TestStateTypeMarshalJSON(t *testing.T) {
	for st, want := range map[StateType]string{
		StateFollower:     `"StateFollower"`,
		StateCandidate:    `"StateCandidate"`,
		StateLeader:       `"StateLeader"`,
		StatePreCandidate: `"StatePreCandidate"`,
		StateType(9):      `"StateType(9)"`,
	} {
		b, err := json.Marshal(st)
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
	}
}

// newStatusTestNode returns a RawNode of a 3-voter group that leads, with
// its bootstrap entries applied.
func newStatusTestNode(t *testing.T) *RawNode {
	s := NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}},
	}}))
	rn, err := NewRawNode(ndConfig(1, s))
	require.NoError(t, err)
	return rn
}

func makeLeader(t *testing.T, rn *RawNode) {
	require.NoError(t, rn.Campaign())
	for _, from := range []uint64{2, 3} {
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVoteResp, From: from, To: 1, Term: rn.raft.Term}))
	}
	rd := rn.Ready()
	rn.Advance(rd)
	require.Equal(t, StateLeader, rn.raft.state)
}

func TestStatusHasProgressOnlyOnTheLeader(t *testing.T) {
	rn := newStatusTestNode(t)
	st := rn.Status()
	assert.Equal(t, StateFollower, st.RaftState)
	assert.Nil(t, st.Progress)
	assert.Equal(t, "voters=(1 2 3)", st.Config.String())

	makeLeader(t, rn)
	st = rn.Status()
	assert.Equal(t, StateLeader, st.RaftState)
	assert.Equal(t, uint64(1), st.Lead)
	assert.Equal(t, uint64(1), st.Term)
	assert.Equal(t, uint64(1), st.Vote)
	require.Len(t, st.Progress, 3)
	assert.Equal(t, uint64(2), st.Progress[1].Match)
	assert.Equal(t, tracker.StateReplicate, st.Progress[1].State)
	assert.Equal(t, tracker.StateProbe, st.Progress[2].State)
}

func TestStatusIsACopy(t *testing.T) {
	rn := newStatusTestNode(t)
	makeLeader(t, rn)
	pr2 := rn.raft.trk.Get(2)
	pr2.BecomeReplicate()
	rn.raft.trk.EnsureInflights(pr2)
	pr2.SentEntries(1, 10)

	st := rn.Status()
	require.NotNil(t, st.Progress[2].Inflights)
	assert.NotSame(t, pr2.Inflights, st.Progress[2].Inflights, "the inflight window is cloned")
	assert.Equal(t, 1, st.Progress[2].Inflights.Count())

	// Changing the copy leaves the node alone, and the other way round.
	st.Config.Voters[0][9] = struct{}{}
	st.Progress[2].Inflights.Add(100, 1)
	assert.Equal(t, "voters=(1 2 3)", rn.raft.trk.Config.String())
	assert.Equal(t, 1, pr2.Inflights.Count())
	pr2.SentEntries(1, 10)
	assert.Equal(t, 2, st.Progress[2].Inflights.Count())
	assert.Equal(t, 2, pr2.Inflights.Count())
}

func TestStatusShowsAnEmptyWindowForAPeerHoldingNone(t *testing.T) {
	rn := newStatusTestNode(t)
	makeLeader(t, rn)
	pr2 := rn.raft.trk.Get(2)
	require.Nil(t, pr2.Inflights, "nothing in flight: no window held")

	st := rn.Status()
	in := st.Progress[2].Inflights
	require.NotNil(t, in, "Status shows a window, as etcd's does")
	assert.Zero(t, in.Count())
	for i := 0; i < rn.raft.trk.MaxInflight; i++ {
		require.False(t, in.Full())
		in.Add(uint64(i+1), 1)
	}
	assert.True(t, in.Full(), "with the configured limit")
	assert.Nil(t, pr2.Inflights, "and the node is left alone")
}

func TestBasicStatus(t *testing.T) {
	rn := newStatusTestNode(t)
	makeLeader(t, rn)
	rn.TransferLeader(3)
	bs := rn.BasicStatus()
	assert.Equal(t, BasicStatus{
		ID:             1,
		HardState:      pb.HardState{Term: 1, Vote: 1, Commit: 1},
		SoftState:      SoftState{Lead: 1, RaftState: StateLeader},
		Applied:        1,
		LeadTransferee: 3,
	}, bs)
	assert.Equal(t, bs, rn.Status().BasicStatus)
}

func TestBasicStatusDoesNotAllocate(t *testing.T) {
	rn := newStatusTestNode(t)
	makeLeader(t, rn)
	var bs BasicStatus
	allocs := testing.AllocsPerRun(100, func() { bs = rn.BasicStatus() })
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(1), bs.ID)
}

func TestStatusConfigOfAJointConfiguration(t *testing.T) {
	r := &raft{raftLog: raftLog{}}
	r.trk = progress.MakeTracker(1, 0)
	r.trk.Config = progress.Config{
		Voters:       quorum.JointConfig{{1: {}, 2: {}}, {1: {}, 3: {}}},
		Learners:     map[uint64]struct{}{4: {}},
		LearnersNext: map[uint64]struct{}{3: {}},
		AutoLeave:    true,
	}
	st := getStatus(r)
	assert.Equal(t, r.trk.Config, st.Config)
	st.Config.LearnersNext[5] = struct{}{}
	assert.NotContains(t, r.trk.Config.LearnersNext, uint64(5))
}
