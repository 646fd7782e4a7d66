package raftpb

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The expected texts below are what etcd raft's String methods print for
// the same values (compat/describe_diff_test.go compares against it on
// random values).

func TestStringLeavesZeroFieldsOutAndEndsInASpace(t *testing.T) {
	assert.Equal(t, "", (&Message{}).String())
	assert.Equal(t, "", (&Entry{}).String())
	assert.Equal(t, "type:MsgApp to:2 from:1 term:3 logTerm:2 index:4 commit:4 ",
		(&Message{Type: MsgApp, To: 2, From: 1, Term: 3, LogTerm: 2, Index: 4, Commit: 4}).String())
	// EntryNormal and MsgHup are the zero values of their enums.
	assert.Equal(t, "Term:1 Index:2 ", (&Entry{Term: 1, Index: 2, Type: EntryNormal}).String())
	assert.Equal(t, "to:1 ", (&Message{Type: MsgHup, To: 1}).String())
	assert.Equal(t, "term:2 commit:5 ", (&HardState{Term: 2, Commit: 5}).String())
}

func TestStringFollowsDeclarationOrderNotFieldNumbers(t *testing.T) {
	// Entry declares Term (2), Index (3), Type (1); Message declares vote
	// (13) after commit (8) and before snapshot (9); ConfChange declares
	// id (1) last.
	assert.Equal(t, "Term:1 Index:2 Type:EntryConfChange ", (&Entry{Type: EntryConfChange, Term: 1, Index: 2}).String())
	assert.Equal(t, "commit:1 vote:2 reject:true ", (&Message{Commit: 1, Vote: 2, Reject: true}).String())
	assert.Equal(t, `type:ConfChangeRemoveNode node_id:3 context:"c" id:7 `,
		(&ConfChange{ID: 7, Type: ConfChangeRemoveNode, NodeID: 3, Context: []byte("c")}).String())
}

func TestStringTellsNilFromEmpty(t *testing.T) {
	// A nil bytes field is absent, an empty one is shown.
	assert.Equal(t, "", (&Entry{Data: nil}).String())
	assert.Equal(t, `Data:"" `, (&Entry{Data: []byte{}}).String())
	// A struct-valued message field is shown as soon as any of its fields
	// is not the Go zero value, even an empty non-nil slice.
	assert.Equal(t, "", (&Snapshot{}).String())
	assert.Equal(t, "metadata:<conf_state:<> > ",
		(&Snapshot{Metadata: SnapshotMetadata{ConfState: ConfState{Voters: []uint64{}}}}).String())
	// A pointer field is shown when not nil, even when empty.
	assert.Equal(t, "snapshot:<> ", (&Message{Snapshot: &Snapshot{}}).String())
	// Empty repeated fields are absent.
	assert.Equal(t, "", (&Message{Entries: []Entry{}, Responses: []Message{}}).String())
}

func TestStringNestsAndRepeats(t *testing.T) {
	m := &Message{
		Type:    MsgStorageAppend,
		Entries: []Entry{{Term: 1, Index: 1}, {}},
		Snapshot: &Snapshot{Data: []byte("s"), Metadata: SnapshotMetadata{Index: 3, Term: 1,
			ConfState: ConfState{Voters: []uint64{1, 2}, LearnersNext: []uint64{3}, AutoLeave: true}}},
		Responses: []Message{{Type: MsgAppResp, To: 1}},
	}
	assert.Equal(t, "type:MsgStorageAppend entries:<Term:1 Index:1 > entries:<> "+
		`snapshot:<data:"s" metadata:<conf_state:<voters:1 voters:2 learners_next:3 auto_leave:true > index:3 term:1 > > `+
		"responses:<type:MsgAppResp to:1 > ", m.String())
	assert.Equal(t, "transition:ConfChangeTransitionJointExplicit changes:<node_id:2 > changes:<type:ConfChangeAddLearnerNode node_id:3 > ",
		(&ConfChangeV2{Transition: ConfChangeTransitionJointExplicit,
			Changes: []ConfChangeSingle{{NodeID: 2}, {Type: ConfChangeAddLearnerNode, NodeID: 3}}}).String())
}

func TestStringEscapesBytesAndNumbersUnknownEnums(t *testing.T) {
	assert.Equal(t, `Data:"a\"b\\c\n\r\t\000\177\303\251~" `,
		(&Entry{Data: []byte("a\"b\\c\n\r\t\x00\x7f\u00e9~")}).String())
	assert.Equal(t, "type:99 ", (&Message{Type: 99}).String())
	assert.Equal(t, "Type:-1 ", (&Entry{Type: -1}).String())
	assert.Equal(t, "type:7 node_id:1 ", (&ConfChangeSingle{Type: 7, NodeID: 1}).String())
}

func TestStringOfNilIsNilInAngleBrackets(t *testing.T) {
	assert.Equal(t, "<nil>", (*Message)(nil).String())
	assert.Equal(t, "<nil>", (*Entry)(nil).String())
	assert.Equal(t, "<nil>", (*ConfState)(nil).String())
	assert.Equal(t, "<nil>", (*ConfChangeV2)(nil).String())
}
