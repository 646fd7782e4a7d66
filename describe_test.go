package raft

import (
	"strings"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustConfChangeEntry(t *testing.T, term, index uint64, cc pb.ConfChangeI) pb.Entry {
	typ, data, err := pb.MarshalConfChange(cc)
	require.NoError(t, err)
	return pb.Entry{Term: term, Index: index, Type: typ, Data: data}
}

func TestDescribeStates(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{DescribeHardState(pb.HardState{Term: 1, Vote: 2, Commit: 3}), "Term:1 Vote:2 Commit:3"},
		{DescribeHardState(pb.HardState{Term: 5, Commit: 4}), "Term:5 Commit:4"},
		{DescribeHardState(pb.HardState{}), "Term:0 Commit:0"},
		{DescribeSoftState(SoftState{Lead: 1, RaftState: StateLeader}), "Lead:1 State:StateLeader"},
		{DescribeSoftState(SoftState{RaftState: StatePreCandidate}), "Lead:0 State:StatePreCandidate"},
		{
			DescribeConfState(pb.ConfState{Voters: []uint64{1, 2, 3}}),
			"Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false",
		},
		{
			DescribeConfState(pb.ConfState{Voters: []uint64{1, 2}, VotersOutgoing: []uint64{1, 3}, Learners: []uint64{4}, LearnersNext: []uint64{3}, AutoLeave: true}),
			"Voters:[1 2] VotersOutgoing:[1 3] Learners:[4] LearnersNext:[3] AutoLeave:true",
		},
		{
			DescribeSnapshot(pb.Snapshot{Data: []byte("ignored"), Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1}}}}),
			"Index:10 Term:2 ConfState:Voters:[1] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false",
		},
	} {
		assert.Equal(t, tc.want, tc.got)
	}
}

func TestDescribeEntry(t *testing.T) {
	upper := func(b []byte) string { return strings.ToUpper(string(b)) }
	for _, tc := range []struct {
		name string
		e    pb.Entry
		f    EntryFormatter
		want string
	}{
		{"normal quoted", pb.Entry{Term: 3, Index: 11, Data: []byte("data")}, nil, `3/11 EntryNormal "data"`},
		{"normal empty", pb.Entry{Term: 3, Index: 12}, nil, `3/12 EntryNormal ""`},
		{"normal binary", pb.Entry{Term: 1, Index: 2, Data: []byte{0, 0xff}}, nil, `1/2 EntryNormal "\x00\xff"`},
		{"normal formatted", pb.Entry{Term: 3, Index: 11, Data: []byte("data")}, upper, `3/11 EntryNormal DATA`},
		{
			"conf change v1",
			mustConfChangeEntry(t, 1, 3, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}),
			upper, `1/3 EntryConfChange v2`,
		},
		{
			"conf change v1 remove",
			mustConfChangeEntry(t, 1, 3, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 7}),
			nil, `1/3 EntryConfChange r7`,
		},
		{
			"conf change v2",
			mustConfChangeEntry(t, 2, 5, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{
				{Type: pb.ConfChangeAddNode, NodeID: 2}, {Type: pb.ConfChangeRemoveNode, NodeID: 3},
			}}),
			nil, `2/5 EntryConfChangeV2 v2 r3`,
		},
		{
			"conf change v2 transition and context not shown",
			mustConfChangeEntry(t, 2, 5, pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointExplicit, Context: []byte("c"),
				Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}}}),
			nil, `2/5 EntryConfChangeV2 l4`,
		},
		{"unknown change type", mustConfChangeEntry(t, 2, 5, pb.ConfChange{Type: 9, NodeID: 4}), nil, `2/5 EntryConfChange unknown4`},
		{"leave joint has no payload and no trailing space", mustConfChangeEntry(t, 2, 6, pb.ConfChangeV2{}), nil, `2/6 EntryConfChangeV2`},
		{
			"undecodable conf change shows the decoding error",
			pb.Entry{Term: 1, Index: 1, Type: pb.EntryConfChange, Data: []byte{0xff}},
			nil, `1/1 EntryConfChange unexpected EOF`,
		},
		{"unknown entry type shows no payload", pb.Entry{Term: 1, Index: 1, Type: 7, Data: []byte("x")}, nil, `1/1 7`},
		{"formatter rendering nothing", pb.Entry{Term: 1, Index: 1, Data: []byte("x")}, func([]byte) string { return "" }, `1/1 EntryNormal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DescribeEntry(tc.e, tc.f))
		})
	}
}

func TestDescribeEntries(t *testing.T) {
	ents := []pb.Entry{{Term: 1, Index: 1, Data: []byte("a")}, {Term: 1, Index: 2, Data: []byte("b")}}
	assert.Equal(t, "1/1 EntryNormal \"a\"\n1/2 EntryNormal \"b\"\n", DescribeEntries(ents, nil))
	assert.Equal(t, "", DescribeEntries(nil, nil))
}

func TestDescribeMessageLaysOutLikeEtcd(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    pb.Message
		want string
	}{
		{
			"append",
			pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 2, Index: 10, Commit: 9,
				Entries: []pb.Entry{{Term: 3, Index: 11, Data: []byte("data")}}},
			`1->2 MsgApp Term:3 Log:2/10 Commit:9 Entries:[3/11 EntryNormal "data"]`,
		},
		{
			"several entries one per line",
			pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 3, Index: 10,
				Entries: []pb.Entry{{Term: 3, Index: 11, Data: []byte("a")}, {Term: 3, Index: 12, Data: []byte("b")}}},
			"1->2 MsgApp Term:3 Log:3/10 Entries:[\n  3/11 EntryNormal \"a\"\n  3/12 EntryNormal \"b\"\n]",
		},
		{
			"rejection with hint, IDs in hex",
			pb.Message{Type: pb.MsgAppResp, From: 0xa, To: 1, Term: 3, Index: 10, Reject: true, RejectHint: 7, LogTerm: 2},
			`a->1 MsgAppResp Term:3 Log:2/10 Rejected (Hint: 7)`,
		},
		{
			"context not shown",
			pb.Message{Type: pb.MsgVote, From: 2, To: 3, Term: 4, LogTerm: 3, Index: 12, Context: []byte("CampaignTransfer")},
			`2->3 MsgVote Term:4 Log:3/12`,
		},
		{
			"no node is None, vote in decimal",
			pb.Message{Type: pb.MsgHup, Vote: 0x1f},
			`None->None MsgHup Term:0 Log:0/0 Vote:31`,
		},
		{
			"vote field",
			pb.Message{Type: pb.MsgStorageAppend, From: 1, To: LocalAppendThread, Term: 4, Vote: 1, Commit: 3},
			`1->AppendThread MsgStorageAppend Term:4 Log:0/0 Commit:3 Vote:1`,
		},
		{
			"snapshot",
			pb.Message{Type: pb.MsgSnap, From: 1, To: 3, Term: 5, Snapshot: &pb.Snapshot{Metadata: pb.SnapshotMetadata{
				Index: 20, Term: 4, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}},
			"1->3 MsgSnap Term:5 Log:0/0\n" +
				"  Snapshot: Index:20 Term:4 ConfState:Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false",
		},
		{
			"empty snapshot pointer is not shown",
			pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 3, Term: 5, Snapshot: &pb.Snapshot{}},
			`1->3 MsgHeartbeat Term:5 Log:0/0`,
		},
		{
			"storage append with nested responses",
			pb.Message{Type: pb.MsgStorageAppend, From: 1, To: LocalAppendThread, Term: 2, Vote: 1, Commit: 1,
				Entries: []pb.Entry{{Term: 2, Index: 2}},
				Responses: []pb.Message{
					{Type: pb.MsgAppResp, From: 1, To: 1, Term: 2, Index: 2},
					{Type: pb.MsgStorageAppendResp, From: LocalAppendThread, To: 1, Term: 2, LogTerm: 2, Index: 2},
				}},
			"1->AppendThread MsgStorageAppend Term:2 Log:0/0 Commit:1 Vote:1 Entries:[2/2 EntryNormal \"\"] Responses:[\n" +
				"  1->1 MsgAppResp Term:2 Log:0/2\n" +
				"  AppendThread->1 MsgStorageAppendResp Term:2 Log:2/2\n" +
				"]",
		},
		{
			"storage apply",
			pb.Message{Type: pb.MsgStorageApply, From: 1, To: LocalApplyThread,
				Entries:   []pb.Entry{{Term: 2, Index: 2, Data: []byte("x")}},
				Responses: []pb.Message{{Type: pb.MsgStorageApplyResp, From: LocalApplyThread, To: 1, Entries: []pb.Entry{{Term: 2, Index: 2, Data: []byte("x")}}}}},
			"1->ApplyThread MsgStorageApply Term:0 Log:0/0 Entries:[2/2 EntryNormal \"x\"] Responses:[\n" +
				"  ApplyThread->1 MsgStorageApplyResp Term:0 Log:0/0 Entries:[2/2 EntryNormal \"x\"]\n" +
				"]",
		},
		{
			"nested responses indent their entries and snapshot",
			pb.Message{Type: pb.MsgStorageAppend, From: 1, To: LocalAppendThread,
				Responses: []pb.Message{{Type: pb.MsgStorageAppendResp, From: LocalAppendThread, To: 1,
					Entries:  []pb.Entry{{Term: 2, Index: 2}, {Term: 2, Index: 3}},
					Snapshot: &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1}}}}},
			"1->AppendThread MsgStorageAppend Term:0 Log:0/0 Responses:[\n" +
				"  AppendThread->1 MsgStorageAppendResp Term:0 Log:0/0 Entries:[\n" +
				"    2/2 EntryNormal \"\"\n" +
				"    2/3 EntryNormal \"\"\n" +
				"  ]\n" +
				"    Snapshot: Index:1 Term:1 ConfState:Voters:[] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false\n" +
				"]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DescribeMessage(tc.m, nil))
		})
	}
}

func TestDescribeReadyHasAHeaderAndUnindentedParts(t *testing.T) {
	assert.Equal(t, "<empty Ready>", DescribeReady(Ready{}, nil))

	rd := Ready{
		SoftState:        &SoftState{Lead: 1, RaftState: StateLeader},
		HardState:        pb.HardState{Term: 2, Vote: 1, Commit: 4},
		ReadStates:       []ReadState{{Index: 4, RequestCtx: []byte("r1")}},
		Entries:          []pb.Entry{{Term: 2, Index: 5, Data: []byte("foo")}},
		Snapshot:         pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 3, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1}}}},
		CommittedEntries: []pb.Entry{{Term: 2, Index: 4}},
		Messages: []pb.Message{{Type: pb.MsgApp, From: 1, To: 2, Term: 2, LogTerm: 2, Index: 4, Commit: 4,
			Entries: []pb.Entry{{Term: 2, Index: 5, Data: []byte("foo")}}}},
		MustSync: true,
	}
	want := `Ready MustSync=true:
Lead:1 State:StateLeader
HardState Term:2 Vote:1 Commit:4
ReadStates [{4 [114 49]}]
Entries:
2/5 EntryNormal "foo"
Snapshot Index:3 Term:1 ConfState:Voters:[1] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false
CommittedEntries:
2/4 EntryNormal ""
Messages:
1->2 MsgApp Term:2 Log:2/4 Commit:4 Entries:[2/5 EntryNormal "foo"]
`
	assert.Equal(t, want, DescribeReady(rd, nil))

	// Only the parts that are set appear; f formats the payloads.
	rd = Ready{CommittedEntries: []pb.Entry{{Term: 2, Index: 4, Data: []byte("x")}}}
	assert.Equal(t, "Ready MustSync=false:\nCommittedEntries:\n2/4 EntryNormal <x>\n",
		DescribeReady(rd, func(b []byte) string { return "<" + string(b) + ">" }))

	// MustSync alone does not make a Ready worth describing.
	assert.Equal(t, "<empty Ready>", DescribeReady(Ready{MustSync: true}, nil))
}
