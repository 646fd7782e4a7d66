package raftpb

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMessageTypesHaveTheReferenceNumbers(t *testing.T) {
	names := []string{
		"MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp", "MsgSnap",
		"MsgHeartbeat", "MsgHeartbeatResp", "MsgUnreachable", "MsgSnapStatus", "MsgCheckQuorum",
		"MsgTransferLeader", "MsgTimeoutNow", "MsgReadIndex", "MsgReadIndexResp", "MsgPreVote",
		"MsgPreVoteResp", "MsgStorageAppend", "MsgStorageAppendResp", "MsgStorageApply",
		"MsgStorageApplyResp", "MsgForgetLeader",
	}
	require.Len(t, MessageType_name, len(names))
	for i, name := range names {
		assert.Equal(t, name, MessageType(i).String())
		assert.Equal(t, int32(i), MessageType_value[name])
	}
	assert.Equal(t, MessageType(23), MsgForgetLeader)
}

func TestOtherEnumsHaveTheReferenceNumbers(t *testing.T) {
	assert.Equal(t, map[int32]string{0: "EntryNormal", 1: "EntryConfChange", 2: "EntryConfChangeV2"}, EntryType_name)
	assert.Equal(t, map[int32]string{
		0: "ConfChangeTransitionAuto", 1: "ConfChangeTransitionJointImplicit", 2: "ConfChangeTransitionJointExplicit",
	}, ConfChangeTransition_name)
	assert.Equal(t, map[int32]string{
		0: "ConfChangeAddNode", 1: "ConfChangeRemoveNode", 2: "ConfChangeUpdateNode", 3: "ConfChangeAddLearnerNode",
	}, ConfChangeType_name)
}

func TestUnknownEnumValuesPrintAsNumbers(t *testing.T) {
	assert.Equal(t, "99", MessageType(99).String())
	assert.Equal(t, "9", EntryType(9).String())
}

func TestEnumsUnmarshalJSONFromNameOrNumber(t *testing.T) {
	var mt MessageType
	require.NoError(t, json.Unmarshal([]byte(`"MsgSnap"`), &mt))
	assert.Equal(t, MsgSnap, mt)
	require.NoError(t, json.Unmarshal([]byte(`3`), &mt))
	assert.Equal(t, MsgApp, mt)
	assert.Error(t, json.Unmarshal([]byte(`"MsgNope"`), &mt))

	var cct ConfChangeType
	require.NoError(t, json.Unmarshal([]byte(`"ConfChangeAddLearnerNode"`), &cct))
	assert.Equal(t, ConfChangeAddLearnerNode, cct)
	var tr ConfChangeTransition
	require.NoError(t, json.Unmarshal([]byte(`2`), &tr))
	assert.Equal(t, ConfChangeTransitionJointExplicit, tr)
	var et EntryType
	require.NoError(t, json.Unmarshal([]byte(`"EntryConfChangeV2"`), &et))
	assert.Equal(t, EntryConfChangeV2, et)
	assert.Equal(t, EntryConfChange, *EntryConfChange.Enum())
}

func TestMessageStringIsCompactText(t *testing.T) {
	// gogo's text form prints every non-nullable field, zero or not; the
	// reference (golang/protobuf's text form) leaves zero values out, e.g.
	// "type:MsgApp to:2 from:1 term:3 entries:<Term:3 Index:11 Data:"a" > ".
	// Only the shape is pinned here; DescribeMessage is the stable format.
	m := Message{Type: MsgApp, To: 2, From: 1, Term: 3, Entries: []Entry{{Term: 3, Index: 11, Data: []byte("a")}}}
	s := m.String()
	assert.Contains(t, s, "type:MsgApp to:2 from:1 term:3 ")
	assert.Contains(t, s, `entries:<Term:3 Index:11 `)
	assert.Contains(t, s, `Data:"a" >`)
}
