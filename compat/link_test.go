package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	ourpb "github.com/raftkit/raft/raftpb"
)

// Reaching any test at all proves the point of this package: both raftpb
// packages ran their init functions, registering their types and enums,
// without a "duplicate enum registered" panic.
func TestBothLibrariesLinkAndStart(t *testing.T) {
	assert.Equal(t, "MsgApp", ourpb.MsgApp.String())
	assert.Equal(t, "MsgApp", etcdpb.MsgApp.String())
	assert.Equal(t, int32(etcdpb.MsgForgetLeader), int32(ourpb.MsgForgetLeader))
}

// marshaler is what both libraries' generated types offer.
type marshaler interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// ourMessage is a Message that uses every field, with entries, a snapshot
// carrying a joint configuration, a context and a response.
func ourMessage() *ourpb.Message {
	return &ourpb.Message{
		Type: ourpb.MsgStorageAppend, To: 2, From: 1, Term: 7, LogTerm: 6, Index: 41, Commit: 40,
		Vote: 3, Reject: true, RejectHint: 39, Context: []byte("ctx"),
		Entries: []ourpb.Entry{
			{Term: 6, Index: 42, Type: ourpb.EntryNormal, Data: []byte("put x=1")},
			{Term: 7, Index: 43, Type: ourpb.EntryConfChangeV2, Data: []byte{}},
			{Term: 7, Index: 44},
		},
		Snapshot: &ourpb.Snapshot{
			Data: []byte("state"),
			Metadata: ourpb.SnapshotMetadata{Index: 30, Term: 5, ConfState: ourpb.ConfState{
				Voters: []uint64{1, 2, 3}, Learners: []uint64{4}, VotersOutgoing: []uint64{1, 2, 5},
				LearnersNext: []uint64{5}, AutoLeave: true,
			}},
		},
		Responses: []ourpb.Message{{Type: ourpb.MsgStorageAppendResp, To: 1, From: ^uint64(0), Index: 44, LogTerm: 7}},
	}
}

func etcdMessage() *etcdpb.Message {
	return &etcdpb.Message{
		Type: etcdpb.MsgStorageAppend, To: 2, From: 1, Term: 7, LogTerm: 6, Index: 41, Commit: 40,
		Vote: 3, Reject: true, RejectHint: 39, Context: []byte("ctx"),
		Entries: []etcdpb.Entry{
			{Term: 6, Index: 42, Type: etcdpb.EntryNormal, Data: []byte("put x=1")},
			{Term: 7, Index: 43, Type: etcdpb.EntryConfChangeV2, Data: []byte{}},
			{Term: 7, Index: 44},
		},
		Snapshot: &etcdpb.Snapshot{
			Data: []byte("state"),
			Metadata: etcdpb.SnapshotMetadata{Index: 30, Term: 5, ConfState: etcdpb.ConfState{
				Voters: []uint64{1, 2, 3}, Learners: []uint64{4}, VotersOutgoing: []uint64{1, 2, 5},
				LearnersNext: []uint64{5}, AutoLeave: true,
			}},
		},
		Responses: []etcdpb.Message{{Type: etcdpb.MsgStorageAppendResp, To: 1, From: ^uint64(0), Index: 44, LogTerm: 7}},
	}
}

func TestEncodingsAreByteIdentical(t *testing.T) {
	tests := []struct {
		name       string
		ours, etcd marshaler
		// fresh values to decode into
		ourDst, etcdDst marshaler
	}{
		{"Message with entries, snapshot and response", ourMessage(), etcdMessage(), &ourpb.Message{}, &etcdpb.Message{}},
		{"Message with empty non-nil snapshot and context",
			&ourpb.Message{Type: ourpb.MsgHeartbeat, Snapshot: &ourpb.Snapshot{}, Context: []byte{}},
			&etcdpb.Message{Type: etcdpb.MsgHeartbeat, Snapshot: &etcdpb.Snapshot{}, Context: []byte{}},
			&ourpb.Message{}, &etcdpb.Message{}},
		{"HardState", &ourpb.HardState{Term: 9, Vote: 2, Commit: 1 << 40}, &etcdpb.HardState{Term: 9, Vote: 2, Commit: 1 << 40},
			&ourpb.HardState{}, &etcdpb.HardState{}},
		{"ConfChange",
			&ourpb.ConfChange{ID: 5, Type: ourpb.ConfChangeAddLearnerNode, NodeID: 8, Context: []byte("c")},
			&etcdpb.ConfChange{ID: 5, Type: etcdpb.ConfChangeAddLearnerNode, NodeID: 8, Context: []byte("c")},
			&ourpb.ConfChange{}, &etcdpb.ConfChange{}},
		{"ConfChangeV2",
			&ourpb.ConfChangeV2{Transition: ourpb.ConfChangeTransitionJointExplicit, Context: []byte("j"),
				Changes: []ourpb.ConfChangeSingle{{Type: ourpb.ConfChangeAddNode, NodeID: 4}, {Type: ourpb.ConfChangeRemoveNode, NodeID: 1}}},
			&etcdpb.ConfChangeV2{Transition: etcdpb.ConfChangeTransitionJointExplicit, Context: []byte("j"),
				Changes: []etcdpb.ConfChangeSingle{{Type: etcdpb.ConfChangeAddNode, NodeID: 4}, {Type: etcdpb.ConfChangeRemoveNode, NodeID: 1}}},
			&ourpb.ConfChangeV2{}, &etcdpb.ConfChangeV2{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ourBytes, err := tt.ours.Marshal()
			require.NoError(t, err)
			etcdBytes, err := tt.etcd.Marshal()
			require.NoError(t, err)
			assert.Equal(t, etcdBytes, ourBytes, "encodings differ")

			// etcd decodes our bytes into its value, and we decode etcd's
			// bytes into ours; each then re-encodes to the same bytes.
			require.NoError(t, tt.etcdDst.Unmarshal(ourBytes))
			assert.Equal(t, tt.etcd, tt.etcdDst, "etcd's decoding of our bytes")
			require.NoError(t, tt.ourDst.Unmarshal(etcdBytes))
			assert.Equal(t, tt.ours, tt.ourDst, "our decoding of etcd's bytes")
			again, err := tt.ourDst.Marshal()
			require.NoError(t, err)
			assert.Equal(t, etcdBytes, again)
		})
	}
}

func TestConfChangeHelpersAgree(t *testing.T) {
	ccs, err := ourpb.ConfChangesFromString("v1 v2 r3 l4 u5")
	require.NoError(t, err)
	etcdCCs, err := etcdpb.ConfChangesFromString("v1 v2 r3 l4 u5")
	require.NoError(t, err)
	require.Len(t, ccs, len(etcdCCs))
	for i := range ccs {
		assert.Equal(t, int32(etcdCCs[i].Type), int32(ccs[i].Type))
		assert.Equal(t, etcdCCs[i].NodeID, ccs[i].NodeID)
	}
	assert.Equal(t, etcdpb.ConfChangesToString(etcdCCs), ourpb.ConfChangesToString(ccs))

	ourType, ourData, err := ourpb.MarshalConfChange(ourpb.ConfChange{ID: 1, NodeID: 2})
	require.NoError(t, err)
	etcdType, etcdData, err := etcdpb.MarshalConfChange(etcdpb.ConfChange{ID: 1, NodeID: 2})
	require.NoError(t, err)
	assert.Equal(t, int32(etcdType), int32(ourType))
	assert.Equal(t, etcdData, ourData)

	for _, tr := range []int32{0, 1, 2} {
		for _, n := range []int{0, 1, 2} {
			ours := ourpb.ConfChangeV2{Transition: ourpb.ConfChangeTransition(tr), Changes: make([]ourpb.ConfChangeSingle, n)}
			theirs := etcdpb.ConfChangeV2{Transition: etcdpb.ConfChangeTransition(tr), Changes: make([]etcdpb.ConfChangeSingle, n)}
			oa, ook := ours.EnterJoint()
			ea, eok := theirs.EnterJoint()
			assert.Equal(t, [2]bool{ea, eok}, [2]bool{oa, ook}, "EnterJoint transition=%d changes=%d", tr, n)
			assert.Equal(t, theirs.LeaveJoint(), ours.LeaveJoint(), "LeaveJoint transition=%d changes=%d", tr, n)
		}
	}
}
