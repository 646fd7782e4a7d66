package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// newIdleLeader returns a RawNode leading voters 1, 2, 3 (ElectionTick 10,
// HeartbeatTick 1), whose followers acknowledged its first entry, and its
// storage.
func newIdleLeader(t *testing.T) (*RawNode, *MemoryStorage) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}))
	rn, err := NewRawNode(newTestConfig(1, 10, 1, ms))
	require.NoError(t, err)
	handle := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			require.NoError(t, ms.Append(rd.Entries))
			if !IsEmptyHardState(rd.HardState) {
				require.NoError(t, ms.SetHardState(rd.HardState))
			}
			rn.Advance(rd)
		}
	}
	require.NoError(t, rn.Campaign())
	handle()
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: 1}))
	handle()
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2}))
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: 3, To: 1, Term: 1, Index: 2}))
	handle()
	require.Equal(t, StateLeader, rn.BasicStatus().RaftState)
	return rn, ms
}

func TestIdleLeaderTickAllocatesOnlyTheMessages(t *testing.T) {
	rn, _ := newIdleLeader(t)
	allocs := testing.AllocsPerRun(100, func() {
		rn.Tick()
		rd := rn.Ready()
		if len(rd.Messages) != 2 {
			t.Fatalf("want two heartbeats, got %v", rd.Messages)
		}
		rn.Advance(rd)
	})
	if !raceEnabled { // the race detector allocates on its own
		assert.Equal(t, 1.0, allocs, "one array for both heartbeats, handed over to the application")
	}
	assert.Nil(t, rn.raft.readOnly, "a leader that serves no reads holds no read state")
	assert.Nil(t, rn.raft.msgs, "nor a message buffer at rest")
}

func TestReadyMessagesStayIntactAfterAdvance(t *testing.T) {
	rn, _ := newIdleLeader(t)
	rn.Tick()
	rd1 := rn.Ready()
	require.Len(t, rd1.Messages, 2)
	want1 := append([]pb.Message(nil), rd1.Messages...)

	// A second Ready before Advance: the first one's messages are still
	// the application's.
	rn.ReadIndex([]byte("ctx"))
	rd2 := rn.Ready()
	require.Len(t, rd2.Messages, 2)
	assert.Equal(t, want1, rd1.Messages)
	want2 := append([]pb.Message(nil), rd2.Messages...)
	rn.Advance(rd2)

	// After Advance the slices are still the application's: a transport
	// may send them from another goroutine while the node goes on.
	rn.Tick()
	rd3 := rn.Ready()
	require.Len(t, rd3.Messages, 2)
	for i, m := range rd3.Messages {
		assert.Equal(t, pb.MsgHeartbeat, m.Type)
		assert.Equal(t, want2[i].Context, m.Context, "the pending read's round travels again")
	}
	rn.Advance(rd3)
	assert.Equal(t, want1, rd1.Messages)
	assert.Equal(t, want2, rd2.Messages)
	assert.Equal(t, uint64(2), want1[0].To)
	assert.Nil(t, want1[0].Context, "a heartbeat without reads carries no context")
}

func TestReadyWithoutMessagesHasNilMessages(t *testing.T) {
	rn, ms := newIdleLeader(t)
	rn.Tick()
	rn.Advance(rn.Ready())
	require.NoError(t, rn.Propose([]byte("x")))
	rd := rn.Ready()
	require.NoError(t, ms.Append(rd.Entries))
	require.Len(t, rd.Messages, 2, "appends to both followers")
	rn.Advance(rd)
	// The self-acknowledgement stepped on Advance sends nothing.
	assert.False(t, rn.HasReady())
	assert.Nil(t, rn.Ready().Messages)
}
