package raftpb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfChangeAsV1ReturnsItself(t *testing.T) {
	cc := ConfChange{ID: 3, Type: ConfChangeRemoveNode, NodeID: 7, Context: []byte("x")}
	v1, ok := cc.AsV1()
	assert.True(t, ok)
	assert.Equal(t, cc, v1)
}

func TestConfChangeAsV2IsSingleAutoChangeWithContext(t *testing.T) {
	cc := ConfChange{ID: 3, Type: ConfChangeAddLearnerNode, NodeID: 7, Context: []byte("ctx")}
	assert.Equal(t, ConfChangeV2{
		Transition: ConfChangeTransitionAuto,
		Changes:    []ConfChangeSingle{{Type: ConfChangeAddLearnerNode, NodeID: 7}},
		Context:    []byte("ctx"),
	}, cc.AsV2())
}

func TestConfChangeV2NeverConvertsToV1(t *testing.T) {
	cc := ConfChangeV2{Changes: []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}}}
	v1, ok := cc.AsV1()
	assert.False(t, ok)
	assert.Equal(t, ConfChange{}, v1)
	assert.Equal(t, cc, cc.AsV2())
}

func TestConfChangeV2EnterJoint(t *testing.T) {
	one := []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}}
	two := []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}, {Type: ConfChangeRemoveNode, NodeID: 2}}
	tests := []struct {
		name          string
		cc            ConfChangeV2
		wantAutoLeave bool
		wantOK        bool
	}{
		{"empty auto is not joint", ConfChangeV2{}, false, false},
		{"one change auto is simple", ConfChangeV2{Changes: one}, false, false},
		{"two changes auto enter joint and leave automatically", ConfChangeV2{Changes: two}, true, true},
		{"implicit with one change is joint, auto leave", ConfChangeV2{Transition: ConfChangeTransitionJointImplicit, Changes: one}, true, true},
		{"implicit with two changes is joint, auto leave", ConfChangeV2{Transition: ConfChangeTransitionJointImplicit, Changes: two}, true, true},
		{"explicit with one change is joint, no auto leave", ConfChangeV2{Transition: ConfChangeTransitionJointExplicit, Changes: one}, false, true},
		{"explicit with two changes is joint, no auto leave", ConfChangeV2{Transition: ConfChangeTransitionJointExplicit, Changes: two}, false, true},
		{"explicit with no change is joint, no auto leave", ConfChangeV2{Transition: ConfChangeTransitionJointExplicit}, false, true},
		{"unknown transition is joint, auto leave", ConfChangeV2{Transition: 9, Changes: one}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			autoLeave, ok := tt.cc.EnterJoint()
			assert.Equal(t, tt.wantOK, ok, "ok")
			assert.Equal(t, tt.wantAutoLeave, autoLeave, "autoLeave")
		})
	}
}

func TestConfChangeV2LeaveJointOnlyForEmptyChange(t *testing.T) {
	tests := []struct {
		name string
		cc   ConfChangeV2
		want bool
	}{
		{"zero value", ConfChangeV2{}, true},
		{"context is ignored", ConfChangeV2{Context: []byte("leave")}, true},
		{"empty non-nil changes", ConfChangeV2{Changes: []ConfChangeSingle{}}, true},
		{"a change", ConfChangeV2{Changes: []ConfChangeSingle{{NodeID: 1}}}, false},
		{"implicit transition", ConfChangeV2{Transition: ConfChangeTransitionJointImplicit}, false},
		{"explicit transition", ConfChangeV2{Transition: ConfChangeTransitionJointExplicit}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cc.LeaveJoint())
		})
	}
}

func TestMarshalConfChangePicksEntryTypeByVersion(t *testing.T) {
	v1 := ConfChange{ID: 1, Type: ConfChangeAddNode, NodeID: 2, Context: []byte("c")}
	typ, data, err := MarshalConfChange(v1)
	require.NoError(t, err)
	assert.Equal(t, EntryConfChange, typ)
	var got1 ConfChange
	require.NoError(t, got1.Unmarshal(data))
	assert.Equal(t, v1, got1)

	v2 := ConfChangeV2{
		Transition: ConfChangeTransitionJointExplicit,
		Changes:    []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 4}, {Type: ConfChangeRemoveNode, NodeID: 1}},
		Context:    []byte("joint"),
	}
	typ, data, err = MarshalConfChange(v2)
	require.NoError(t, err)
	assert.Equal(t, EntryConfChangeV2, typ)
	var got2 ConfChangeV2
	require.NoError(t, got2.Unmarshal(data))
	assert.Equal(t, v2, got2)
}

func TestMarshalConfChangeOfPointerUsesValueMethods(t *testing.T) {
	typ, _, err := MarshalConfChange(&ConfChange{NodeID: 1})
	require.NoError(t, err)
	assert.Equal(t, EntryConfChange, typ)
	typ, _, err = MarshalConfChange(&ConfChangeV2{})
	require.NoError(t, err)
	assert.Equal(t, EntryConfChangeV2, typ)
}

func TestMarshalConfChangeNilIsAnError(t *testing.T) {
	_, _, err := MarshalConfChange(nil)
	assert.Error(t, err)
}

func TestConfChangesFromStringParsesEveryKind(t *testing.T) {
	ccs, err := ConfChangesFromString("v1 v2 r3 l4 u5")
	require.NoError(t, err)
	assert.Equal(t, []ConfChangeSingle{
		{Type: ConfChangeAddNode, NodeID: 1},
		{Type: ConfChangeAddNode, NodeID: 2},
		{Type: ConfChangeRemoveNode, NodeID: 3},
		{Type: ConfChangeAddLearnerNode, NodeID: 4},
		{Type: ConfChangeUpdateNode, NodeID: 5},
	}, ccs)
}

func TestConfChangesFromStringToleratesExtraSpaceAndEmptyInput(t *testing.T) {
	ccs, err := ConfChangesFromString("  v18446744073709551615\t l0\n")
	require.NoError(t, err)
	assert.Equal(t, []ConfChangeSingle{
		{Type: ConfChangeAddNode, NodeID: 18446744073709551615},
		{Type: ConfChangeAddLearnerNode, NodeID: 0},
	}, ccs)

	for _, s := range []string{"", "   "} {
		ccs, err := ConfChangesFromString(s)
		require.NoError(t, err)
		assert.Empty(t, ccs)
	}
}

func TestConfChangesFromStringNamesTheBadToken(t *testing.T) {
	for _, bad := range []string{"x1", "v", "vx", "v-1", "v1.5", "V1", "v18446744073709551616", "1"} {
		t.Run(bad, func(t *testing.T) {
			ccs, err := ConfChangesFromString("v1 " + bad + " r2")
			require.Error(t, err)
			assert.Nil(t, ccs)
			assert.Contains(t, err.Error(), `"`+bad+`"`)
		})
	}
}

func TestConfChangesToStringRoundTrips(t *testing.T) {
	for _, s := range []string{"", "v1", "v1 v2 r3 l4 u5", "l18446744073709551615 r0"} {
		ccs, err := ConfChangesFromString(s)
		require.NoError(t, err)
		assert.Equal(t, s, ConfChangesToString(ccs))
	}
}

func TestConfChangesToStringMarksUnknownTypes(t *testing.T) {
	s := ConfChangesToString([]ConfChangeSingle{{Type: 9, NodeID: 3}, {Type: ConfChangeAddNode, NodeID: 1}})
	assert.Equal(t, "unknown3 v1", s)
	_, err := ConfChangesFromString(s)
	assert.ErrorContains(t, err, "unknown3")
}
