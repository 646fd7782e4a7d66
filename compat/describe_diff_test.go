package compat

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcdraft "go.etcd.io/raft/v3"
	etcdcc "go.etcd.io/raft/v3/confchange"
	etcdquorum "go.etcd.io/raft/v3/quorum"
	etcdpb "go.etcd.io/raft/v3/raftpb"
	etcdtracker "go.etcd.io/raft/v3/tracker"

	ourraft "github.com/raftkit/raft"
	ourcc "github.com/raftkit/raft/confchange"
	ourprogress "github.com/raftkit/raft/progress"
	ourquorum "github.com/raftkit/raft/quorum"
	ourpb "github.com/raftkit/raft/raftpb"
	ourtracker "github.com/raftkit/raft/tracker"
)

// This file checks that every Describe, String and Format function renders
// the same value as the same text, byte for byte, in raftkit and in etcd
// raft: applications keep golden files of this text (etcd's datadriven
// interaction tests, log assertions), which must hold after switching.
// Values are built once on our side and copied field by field to etcd's
// types, keeping nil and empty slices apart (the protobuf text format tells
// them apart).

// describeGen extends diffGen with the values the Describe functions see:
// node IDs that name the local storage threads, every message and entry
// type, conf change payloads that decode and ones that do not.
type describeGen struct{ diffGen }

func newDescribeGen(seed uint64) describeGen {
	return describeGen{diffGen{rand.New(rand.NewPCG(seed, seed+1))}}
}

// id returns a node ID, often one with a name in DescribeMessage.
func (g describeGen) id() uint64 {
	switch g.r.IntN(8) {
	case 0:
		return 0
	case 1:
		return ourraft.LocalAppendThread
	case 2:
		return ourraft.LocalApplyThread
	case 3:
		return math.MaxUint64 - 2
	case 4:
		return 0xabc
	default:
		return uint64(1 + g.r.IntN(5))
	}
}

// ids returns nil, an empty non-nil slice or a few IDs.
func (g describeGen) ids() []uint64 {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []uint64{}
	default:
		return g.diffGen.ids()
	}
}

func (g describeGen) confState() ourpb.ConfState {
	return ourpb.ConfState{Voters: g.ids(), Learners: g.ids(), VotersOutgoing: g.ids(),
		LearnersNext: g.ids(), AutoLeave: g.r.IntN(3) == 0}
}

func (g describeGen) snapshot() ourpb.Snapshot {
	s := ourpb.Snapshot{Data: g.bytes()}
	if g.r.IntN(4) > 0 {
		s.Metadata = ourpb.SnapshotMetadata{Index: g.u64(), Term: g.u64(), ConfState: g.confState()}
	}
	return s
}

func (g describeGen) confChangeType() ourpb.ConfChangeType {
	if g.r.IntN(6) == 0 {
		return ourpb.ConfChangeType(g.i32())
	}
	return ourpb.ConfChangeType(g.r.IntN(4))
}

func (g describeGen) changes() []ourpb.ConfChangeSingle {
	n := g.r.IntN(4)
	if n == 0 {
		return nil
	}
	ccs := make([]ourpb.ConfChangeSingle, n)
	for i := range ccs {
		ccs[i] = ourpb.ConfChangeSingle{Type: g.confChangeType(), NodeID: g.u64()}
	}
	return ccs
}

// entry returns an entry of any type: normal entries with any payload,
// conf changes V1 and V2 with payloads that decode, are cut short or are
// noise, and entries of types that do not exist.
func (g describeGen) entry() ourpb.Entry {
	e := ourpb.Entry{Term: g.u64(), Index: g.u64()}
	switch g.r.IntN(6) {
	case 0, 1:
		e.Type, e.Data = ourpb.EntryNormal, g.bytes()
	case 2:
		cc := ourpb.ConfChange{ID: g.u64(), Type: g.confChangeType(), NodeID: g.u64(), Context: g.bytes()}
		e.Type, e.Data = ourpb.EntryConfChange, g.payload(&cc)
	case 3:
		cc := ourpb.ConfChangeV2{Transition: ourpb.ConfChangeTransition(g.r.IntN(4)), Changes: g.changes(), Context: g.bytes()}
		e.Type, e.Data = ourpb.EntryConfChangeV2, g.payload(&cc)
	case 4:
		e.Type, e.Data = ourpb.EntryType(g.r.IntN(3)), g.bytes()
	default:
		e.Type, e.Data = ourpb.EntryType(g.i32()), g.bytes()
	}
	return e
}

// payload encodes m, sometimes damaged so that it no longer decodes.
func (g describeGen) payload(m interface{ Marshal() ([]byte, error) }) []byte {
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	if g.r.IntN(4) == 0 {
		b = mutate(g.r, b)
	}
	return b
}

func (g describeGen) entries() []ourpb.Entry {
	switch n := g.r.IntN(6); n {
	case 0:
		return nil
	case 1:
		return []ourpb.Entry{}
	default:
		ents := make([]ourpb.Entry, n-1)
		for i := range ents {
			ents[i] = g.entry()
		}
		return ents
	}
}

// message returns a message of any type, with responses nested up to depth
// levels, the way MsgStorageAppend and MsgStorageApply carry them.
func (g describeGen) message(depth int) ourpb.Message {
	m := ourpb.Message{
		Type: ourpb.MessageType(g.r.IntN(25)), From: g.id(), To: g.id(), Term: g.u64(),
		LogTerm: g.u64(), Index: g.u64(), Commit: g.u64(), Vote: g.id(),
		Reject: g.r.IntN(3) == 0, RejectHint: g.u64(), Context: g.bytes(), Entries: g.entries(),
	}
	if g.r.IntN(8) == 0 {
		m.Type = ourpb.MessageType(g.i32())
	}
	if g.r.IntN(3) == 0 {
		s := g.snapshot()
		m.Snapshot = &s
	}
	if depth > 0 && g.r.IntN(2) == 0 {
		m.Responses = []ourpb.Message{}
		for n := g.r.IntN(4); n > 0; n-- {
			m.Responses = append(m.Responses, g.message(depth-1))
		}
	}
	return m
}

func (g describeGen) ready() (ourraft.Ready, etcdraft.Ready) {
	var ours ourraft.Ready
	var theirs etcdraft.Ready
	if g.r.IntN(2) == 0 {
		ss := ourraft.SoftState{Lead: g.id(), RaftState: ourraft.StateType(g.r.IntN(4))}
		ours.SoftState = &ss
		theirs.SoftState = &etcdraft.SoftState{Lead: ss.Lead, RaftState: etcdraft.StateType(ss.RaftState)}
	}
	if g.r.IntN(2) == 0 {
		ours.HardState = ourpb.HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()}
		theirs.HardState = toEtcdHardState(ours.HardState)
	}
	for n := g.r.IntN(3); n > 0; n-- {
		rs := ourraft.ReadState{Index: g.u64(), RequestCtx: g.bytes()}
		ours.ReadStates = append(ours.ReadStates, rs)
		theirs.ReadStates = append(theirs.ReadStates, etcdraft.ReadState{Index: rs.Index, RequestCtx: rs.RequestCtx})
	}
	ours.Entries = g.entries()
	theirs.Entries = toEtcdEntries(ours.Entries)
	if g.r.IntN(3) == 0 {
		ours.Snapshot = g.snapshot()
		theirs.Snapshot = toEtcdSnapshot(ours.Snapshot)
	}
	ours.CommittedEntries = g.entries()
	theirs.CommittedEntries = toEtcdEntries(ours.CommittedEntries)
	for n := g.r.IntN(4); n > 0; n-- {
		m := g.message(2)
		ours.Messages = append(ours.Messages, m)
		theirs.Messages = append(theirs.Messages, toEtcdMessage(m))
	}
	ours.MustSync = g.r.IntN(2) == 0
	theirs.MustSync = ours.MustSync
	return ours, theirs
}

func toEtcdHardState(hs ourpb.HardState) etcdpb.HardState {
	return etcdpb.HardState{Term: hs.Term, Vote: hs.Vote, Commit: hs.Commit}
}

func toEtcdConfState(cs ourpb.ConfState) etcdpb.ConfState {
	return etcdpb.ConfState{Voters: cs.Voters, Learners: cs.Learners, VotersOutgoing: cs.VotersOutgoing,
		LearnersNext: cs.LearnersNext, AutoLeave: cs.AutoLeave}
}

func toEtcdSnapshot(s ourpb.Snapshot) etcdpb.Snapshot {
	return etcdpb.Snapshot{Data: s.Data, Metadata: etcdpb.SnapshotMetadata{
		Index: s.Metadata.Index, Term: s.Metadata.Term, ConfState: toEtcdConfState(s.Metadata.ConfState)}}
}

func toEtcdEntries(ents []ourpb.Entry) []etcdpb.Entry {
	if ents == nil {
		return nil
	}
	out := make([]etcdpb.Entry, len(ents))
	for i, e := range ents {
		out[i] = toEtcdEntry(e)
	}
	return out
}

func toEtcdChanges(ccs []ourpb.ConfChangeSingle) []etcdpb.ConfChangeSingle {
	if ccs == nil {
		return nil
	}
	out := make([]etcdpb.ConfChangeSingle, len(ccs))
	for i, cc := range ccs {
		out[i] = etcdpb.ConfChangeSingle{Type: etcdpb.ConfChangeType(cc.Type), NodeID: cc.NodeID}
	}
	return out
}

// formatters are the EntryFormatters both libraries are called with: none,
// one that rewrites the payload, and one that renders it as nothing.
var formatters = []struct {
	name  string
	ours  ourraft.EntryFormatter
	etcd  etcdraft.EntryFormatter
	apply func([]byte) string
}{
	{name: "nil"},
	{name: "upper", apply: func(b []byte) string { return "<" + strings.ToUpper(string(b)) + ">" }},
	{name: "empty", apply: func([]byte) string { return "" }},
}

func init() {
	for i := range formatters {
		if f := formatters[i].apply; f != nil {
			formatters[i].ours, formatters[i].etcd = f, f
		}
	}
}

// edgeMessages are messages a golden file is likely to hold: every message
// type, the storage messages with the responses raft puts in them, and
// snapshots.
func edgeMessages() []ourpb.Message {
	cs := ourpb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1, 2}, Learners: []uint64{4}, AutoLeave: true}
	snap := ourpb.Snapshot{Data: []byte("snap"), Metadata: ourpb.SnapshotMetadata{Index: 11, Term: 3, ConfState: cs}}
	ents := []ourpb.Entry{{Term: 2, Index: 5, Data: []byte("a")}, {Term: 3, Index: 6}, {Term: 3, Index: 7, Type: ourpb.EntryConfChangeV2}}
	msgs := []ourpb.Message{
		{},
		{Type: ourpb.MsgHup},
		{Type: ourpb.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 2, Index: 4, Commit: 4, Entries: ents[:1]},
		{Type: ourpb.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 2, Index: 4, Commit: 4, Entries: ents},
		{Type: ourpb.MsgAppResp, From: 2, To: 1, Term: 3, Index: 4, Reject: true, RejectHint: 3, LogTerm: 2},
		{Type: ourpb.MsgVote, From: 2, To: 1, Term: 3, Context: []byte("CampaignTransfer")},
		{Type: ourpb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &snap},
		{Type: ourpb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &ourpb.Snapshot{}},
		{Type: ourpb.MsgHeartbeat, From: math.MaxUint64 - 2, To: math.MaxUint64, Term: math.MaxUint64, Commit: math.MaxUint64},
		{
			Type: ourpb.MsgStorageAppend, From: 1, To: ourraft.LocalAppendThread, Term: 3, Vote: 1, Commit: 4,
			Entries: ents, Snapshot: &snap,
			Responses: []ourpb.Message{
				{Type: ourpb.MsgAppResp, From: 1, To: 2, Term: 3, Index: 7},
				{Type: ourpb.MsgStorageAppendResp, From: ourraft.LocalAppendThread, To: 1, Term: 3, LogTerm: 3, Index: 7, Snapshot: &snap},
			},
		},
		{
			Type: ourpb.MsgStorageApply, From: 1, To: ourraft.LocalApplyThread, Term: 3, Entries: ents,
			Responses: []ourpb.Message{{
				Type: ourpb.MsgStorageApplyResp, From: ourraft.LocalApplyThread, To: 1, Term: 3, Entries: ents,
				Responses: []ourpb.Message{{Type: ourpb.MsgStorageAppend, Entries: ents[:1], Responses: []ourpb.Message{{}}}},
			}},
		},
		{Type: ourpb.MsgStorageAppend, Responses: []ourpb.Message{}},
		{Type: ourpb.MessageType(-1)},
		{Type: ourpb.MessageType(math.MaxInt32), From: 7, To: 8},
	}
	for typ := int32(0); typ <= 24; typ++ {
		msgs = append(msgs, ourpb.Message{Type: ourpb.MessageType(typ), From: 1, To: 2, Term: 1})
	}
	return msgs
}

// edgeEntries are entries of every type, including conf changes that do
// not decode.
func edgeEntries(t *testing.T) []ourpb.Entry {
	ents := []ourpb.Entry{
		{},
		{Term: 1, Index: 2, Data: []byte{}},
		{Term: 1, Index: 2, Data: []byte("a\"b\\c\n\x00\xff\u00e9")},
		{Term: math.MaxUint64, Index: math.MaxUint64, Type: ourpb.EntryType(3), Data: []byte("x")},
		{Type: ourpb.EntryType(-7)},
		{Type: ourpb.EntryConfChange},
		{Type: ourpb.EntryConfChangeV2},
		{Type: ourpb.EntryConfChange, Data: []byte{0xff}},
		{Type: ourpb.EntryConfChangeV2, Data: []byte{0x0a, 0x05, 0x01}},
		{Type: ourpb.EntryConfChangeV2, Data: []byte{0x08, 0x80}},
		{Type: ourpb.EntryConfChange, Data: []byte{0x0c}},
	}
	for _, cc := range []ourpb.ConfChangeI{
		ourpb.ConfChange{Type: ourpb.ConfChangeAddNode, NodeID: 2},
		ourpb.ConfChange{Type: ourpb.ConfChangeRemoveNode, NodeID: 7, ID: 3, Context: []byte("ctx")},
		ourpb.ConfChange{Type: ourpb.ConfChangeType(9), NodeID: 7},
		ourpb.ConfChangeV2{},
		ourpb.ConfChangeV2{Transition: ourpb.ConfChangeTransitionJointExplicit},
		ourpb.ConfChangeV2{Changes: []ourpb.ConfChangeSingle{{Type: ourpb.ConfChangeAddNode, NodeID: 2}, {Type: ourpb.ConfChangeRemoveNode, NodeID: 3}}},
		ourpb.ConfChangeV2{Transition: ourpb.ConfChangeTransitionJointImplicit, Context: []byte("c"),
			Changes: []ourpb.ConfChangeSingle{{Type: ourpb.ConfChangeAddLearnerNode, NodeID: 4}, {Type: ourpb.ConfChangeUpdateNode, NodeID: 5}, {Type: -1, NodeID: 6}}},
	} {
		typ, data, err := ourpb.MarshalConfChange(cc)
		require.NoError(t, err)
		ents = append(ents, ourpb.Entry{Term: 4, Index: 9, Type: typ, Data: data})
	}
	return ents
}

func TestDescribeEntryMatchesEtcd(t *testing.T) {
	g := newDescribeGen(21)
	ents := edgeEntries(t)
	for range 5000 {
		ents = append(ents, g.entry())
	}
	for _, e := range ents {
		ee := toEtcdEntry(e)
		for _, f := range formatters {
			require.Equal(t, etcdraft.DescribeEntry(ee, f.etcd), ourraft.DescribeEntry(e, f.ours), "formatter %s, entry %+v", f.name, e)
		}
		require.Equal(t, ee.String(), e.String(), "Entry.String of %+v", e)
	}
	for _, f := range formatters {
		assert.Equal(t, etcdraft.DescribeEntries(toEtcdEntries(ents), f.etcd), ourraft.DescribeEntries(ents, f.ours), "formatter %s", f.name)
	}
	assert.Equal(t, etcdraft.DescribeEntries(nil, nil), ourraft.DescribeEntries(nil, nil))
}

func TestDescribeMessageMatchesEtcd(t *testing.T) {
	g := newDescribeGen(22)
	msgs := edgeMessages()
	for range 5000 {
		msgs = append(msgs, g.message(3))
	}
	for _, m := range msgs {
		em := toEtcdMessage(m)
		for _, f := range formatters {
			require.Equal(t, etcdraft.DescribeMessage(em, f.etcd), ourraft.DescribeMessage(m, f.ours), "formatter %s, message %+v", f.name, m)
		}
		require.Equal(t, em.String(), m.String(), "Message.String of %+v", m)
	}
}

func TestDescribeReadyMatchesEtcd(t *testing.T) {
	assert.Equal(t, etcdraft.DescribeReady(etcdraft.Ready{}, nil), ourraft.DescribeReady(ourraft.Ready{}, nil))
	assert.Equal(t, etcdraft.DescribeReady(etcdraft.Ready{MustSync: true}, nil), ourraft.DescribeReady(ourraft.Ready{MustSync: true}, nil))

	g := newDescribeGen(23)
	for range 3000 {
		ours, theirs := g.ready()
		for _, f := range formatters {
			require.Equal(t, etcdraft.DescribeReady(theirs, f.etcd), ourraft.DescribeReady(ours, f.ours), "formatter %s", f.name)
		}
	}
}

func TestDescribeStatesMatchEtcd(t *testing.T) {
	g := newDescribeGen(24)
	for i := range 3000 {
		hs := ourpb.HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()}
		ehs := toEtcdHardState(hs)
		require.Equal(t, etcdraft.DescribeHardState(ehs), ourraft.DescribeHardState(hs))
		require.Equal(t, ehs.String(), hs.String())

		ss := ourraft.SoftState{Lead: g.u64(), RaftState: ourraft.StateType(i % 4)}
		require.Equal(t, etcdraft.DescribeSoftState(etcdraft.SoftState{Lead: ss.Lead, RaftState: etcdraft.StateType(ss.RaftState)}),
			ourraft.DescribeSoftState(ss))

		cs := g.confState()
		ecs := toEtcdConfState(cs)
		require.Equal(t, etcdraft.DescribeConfState(ecs), ourraft.DescribeConfState(cs))
		require.Equal(t, ecs.String(), cs.String())

		s := g.snapshot()
		es := toEtcdSnapshot(s)
		require.Equal(t, etcdraft.DescribeSnapshot(es), ourraft.DescribeSnapshot(s))
		require.Equal(t, es.String(), s.String())
		require.Equal(t, es.Metadata.String(), s.Metadata.String())
	}
	for st := range 4 {
		assert.Equal(t, etcdraft.StateType(st).String(), ourraft.StateType(st).String())
	}
}

func TestWireTypeStringsMatchEtcd(t *testing.T) {
	// Nil pointers.
	assert.Equal(t, (*etcdpb.Message)(nil).String(), (*ourpb.Message)(nil).String())
	assert.Equal(t, (*etcdpb.Entry)(nil).String(), (*ourpb.Entry)(nil).String())
	assert.Equal(t, (*etcdpb.Snapshot)(nil).String(), (*ourpb.Snapshot)(nil).String())
	assert.Equal(t, (*etcdpb.SnapshotMetadata)(nil).String(), (*ourpb.SnapshotMetadata)(nil).String())
	assert.Equal(t, (*etcdpb.HardState)(nil).String(), (*ourpb.HardState)(nil).String())
	assert.Equal(t, (*etcdpb.ConfState)(nil).String(), (*ourpb.ConfState)(nil).String())
	assert.Equal(t, (*etcdpb.ConfChange)(nil).String(), (*ourpb.ConfChange)(nil).String())
	assert.Equal(t, (*etcdpb.ConfChangeSingle)(nil).String(), (*ourpb.ConfChangeSingle)(nil).String())
	assert.Equal(t, (*etcdpb.ConfChangeV2)(nil).String(), (*ourpb.ConfChangeV2)(nil).String())

	// Enums, named and not.
	values := []int32{math.MinInt32, -1, math.MaxInt32}
	for v := int32(0); v <= 30; v++ {
		values = append(values, v)
	}
	for _, v := range values {
		assert.Equal(t, etcdpb.MessageType(v).String(), ourpb.MessageType(v).String())
		assert.Equal(t, etcdpb.EntryType(v).String(), ourpb.EntryType(v).String())
		assert.Equal(t, etcdpb.ConfChangeType(v).String(), ourpb.ConfChangeType(v).String())
		assert.Equal(t, etcdpb.ConfChangeTransition(v).String(), ourpb.ConfChangeTransition(v).String())
	}

	// Conf changes.
	g := newDescribeGen(25)
	for range 3000 {
		cc := ourpb.ConfChange{ID: g.u64(), Type: g.confChangeType(), NodeID: g.u64(), Context: g.bytes()}
		ecc := etcdpb.ConfChange{ID: cc.ID, Type: etcdpb.ConfChangeType(cc.Type), NodeID: cc.NodeID, Context: cc.Context}
		require.Equal(t, ecc.String(), cc.String())

		v2 := ourpb.ConfChangeV2{Transition: ourpb.ConfChangeTransition(g.i32()), Changes: g.changes(), Context: g.bytes()}
		if g.r.IntN(5) == 0 {
			v2.Changes = []ourpb.ConfChangeSingle{}
		}
		ev2 := etcdpb.ConfChangeV2{Transition: etcdpb.ConfChangeTransition(v2.Transition), Changes: toEtcdChanges(v2.Changes), Context: v2.Context}
		require.Equal(t, ev2.String(), v2.String())
		for i := range v2.Changes {
			require.Equal(t, ev2.Changes[i].String(), v2.Changes[i].String())
		}
		require.Equal(t, etcdpb.ConfChangesToString(ev2.Changes), ourpb.ConfChangesToString(v2.Changes))
		require.Equal(t, etcdcc.Describe(ev2.Changes...), ourcc.Describe(v2.Changes...))
	}
	assert.Equal(t, etcdcc.Describe(), ourcc.Describe())
}

// ackedIndexes implements both libraries' AckedIndexer over one map.
type ackedIndexes map[uint64]uint64

type etcdAcked ackedIndexes

func (m etcdAcked) AckedIndex(id uint64) (etcdquorum.Index, bool) {
	idx, ok := m[id]
	return etcdquorum.Index(idx), ok
}

type ourAcked ackedIndexes

func (m ourAcked) AckedIndex(id uint64) (ourquorum.Index, bool) {
	idx, ok := m[id]
	return ourquorum.Index(idx), ok
}

// idSet returns a set of a few small IDs, nil or empty sometimes.
func (g describeGen) idSet() map[uint64]struct{} {
	switch g.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return map[uint64]struct{}{}
	}
	m := map[uint64]struct{}{}
	for n := 1 + g.r.IntN(7); n > 0; n-- {
		m[uint64(1+g.r.IntN(9))] = struct{}{}
	}
	return m
}

func TestQuorumStringsMatchEtcd(t *testing.T) {
	g := newDescribeGen(26)
	for range 3000 {
		in, out := g.idSet(), g.idSet()
		acked := ackedIndexes{}
		for id := uint64(1); id <= 9; id++ {
			switch g.r.IntN(4) {
			case 0: // unknown
			case 1:
				acked[id] = uint64(g.r.IntN(4)) // many equal indexes
			default:
				acked[id] = g.u64()
			}
		}
		em, om := etcdquorum.MajorityConfig(in), ourquorum.MajorityConfig(in)
		require.Equal(t, em.String(), om.String())
		require.Equal(t, em.Describe(etcdAcked(acked)), om.Describe(ourAcked(acked)), "%v acked %v", in, acked)

		ej := etcdquorum.JointConfig{in, out}
		oj := ourquorum.JointConfig{in, out}
		require.Equal(t, ej.String(), oj.String())
		require.Equal(t, ej.Describe(etcdAcked(acked)), oj.Describe(ourAcked(acked)), "%v && %v acked %v", in, out, acked)

		idx := g.u64()
		require.Equal(t, etcdquorum.Index(idx).String(), ourquorum.Index(idx).String())
	}
	assert.Equal(t, etcdquorum.Index(math.MaxUint64).String(), ourquorum.Index(math.MaxUint64).String())
	for v := range 256 {
		assert.Equal(t, etcdquorum.VoteResult(v).String(), ourquorum.VoteResult(v).String())
	}
}

// progressPair builds the same progress in both libraries, with an
// inflight window holding inflight messages (stopping when it is full).
func (g describeGen) progressPair() (*ourprogress.Progress, *etcdtracker.Progress) {
	size, maxBytes := 1+g.r.IntN(4), uint64(g.r.IntN(3)*100)
	ours := &ourprogress.Progress{
		Match: g.u64(), Next: g.u64(), State: ourprogress.StateType(g.r.IntN(3)),
		PendingSnapshot: g.u64(), RecentActive: g.r.IntN(2) == 0,
		MsgAppFlowPaused: g.r.IntN(2) == 0, IsLearner: g.r.IntN(3) == 0,
		Inflights: ourprogress.NewInflights(size, maxBytes),
	}
	theirs := &etcdtracker.Progress{
		Match: ours.Match, Next: ours.Next, State: etcdtracker.StateType(ours.State),
		PendingSnapshot: ours.PendingSnapshot, RecentActive: ours.RecentActive,
		MsgAppFlowPaused: ours.MsgAppFlowPaused, IsLearner: ours.IsLearner,
		Inflights: etcdtracker.NewInflights(size, maxBytes),
	}
	for i := g.r.IntN(6); i > 0 && !theirs.Inflights.Full(); i-- {
		idx, bytes := uint64(10+i), uint64(g.r.IntN(120))
		ours.Inflights.Add(idx, bytes)
		theirs.Inflights.Add(idx, bytes)
	}
	return ours, theirs
}

func TestProgressStringsMatchEtcd(t *testing.T) {
	g := newDescribeGen(27)
	for range 3000 {
		ours, theirs := g.progressPair()
		require.Equal(t, theirs.Inflights.Full(), ours.Inflights.Full())
		require.Equal(t, theirs.String(), ours.String())

		om, em := ourprogress.ProgressMap{}, etcdtracker.ProgressMap{}
		for n := g.r.IntN(4); n > 0; n-- {
			id := g.u64()
			om[id], em[id] = g.progressPair()
		}
		require.Equal(t, em.String(), om.String())
		// tracker.ProgressMap is our alias of the same type.
		require.Equal(t, em.String(), ourtracker.ProgressMap(om).String())

		cfg := ourprogress.Config{
			Voters:    ourquorum.JointConfig{g.idSet(), g.idSet()},
			AutoLeave: g.r.IntN(2) == 0, Learners: g.idSet(), LearnersNext: g.idSet(),
		}
		ecfg := etcdtracker.Config{
			Voters:    etcdquorum.JointConfig{etcdquorum.MajorityConfig(cfg.Voters[0]), etcdquorum.MajorityConfig(cfg.Voters[1])},
			AutoLeave: cfg.AutoLeave, Learners: cfg.Learners, LearnersNext: cfg.LearnersNext,
		}
		require.Equal(t, ecfg.String(), cfg.String())
	}
	for st := range 3 {
		assert.Equal(t, etcdtracker.StateType(st).String(), ourprogress.StateType(st).String())
	}
}

// TestStatusStringMatchesEtcd compares Status.String. etcd ranges over the
// progress map without sorting it, so with several peers its text is one
// of several orderings, changing from call to call; ours sorts the peers by
// ID, which is one of them. With at most one peer the texts are identical;
// with more, they are the same JSON.
func TestStatusStringMatchesEtcd(t *testing.T) {
	g := newDescribeGen(28)
	for i := range 2000 {
		bs := ourraft.BasicStatus{
			ID: g.u64(), HardState: ourpb.HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()},
			SoftState: ourraft.SoftState{Lead: g.u64(), RaftState: ourraft.StateType(g.r.IntN(4))},
			Applied:   g.u64(), LeadTransferee: g.u64(),
		}
		ours := ourraft.Status{BasicStatus: bs}
		theirs := etcdraft.Status{BasicStatus: etcdraft.BasicStatus{
			ID: bs.ID, HardState: toEtcdHardState(bs.HardState),
			SoftState: etcdraft.SoftState{Lead: bs.Lead, RaftState: etcdraft.StateType(bs.RaftState)},
			Applied:   bs.Applied, LeadTransferee: bs.LeadTransferee,
		}}
		peers := i % 4
		if peers > 0 || g.r.IntN(2) == 0 {
			ours.Progress, theirs.Progress = map[uint64]ourtracker.Progress{}, map[uint64]etcdtracker.Progress{}
		}
		for n := peers; n > 0; n-- {
			id := g.u64()
			o, e := g.progressPair()
			ours.Progress[id], theirs.Progress[id] = *o, *e
		}
		if peers <= 1 {
			require.Equal(t, theirs.String(), ours.String())
			continue
		}
		var want, got any
		require.NoError(t, json.Unmarshal([]byte(theirs.String()), &want))
		require.NoError(t, json.Unmarshal([]byte(ours.String()), &got))
		require.Equal(t, want, got)
	}
}

// TestFmtVerbsMatchEtcd covers values printed with fmt's %v and %+v
// rather than a function of ours: fmt calls the String methods of nested
// pointers (a message's snapshot) and of pointer receivers (a
// *BasicStatus prints through its embedded HardState), and prints the
// rest field by field, so the struct layouts must agree too.
func TestFmtVerbsMatchEtcd(t *testing.T) {
	g := newDescribeGen(30)
	for i := range 2000 {
		m := g.message(2)
		em := toEtcdMessage(m)
		for _, verb := range []string{"%v", "%+v"} {
			require.Equal(t, fmt.Sprintf(verb, em), fmt.Sprintf(verb, m))
			require.Equal(t, fmt.Sprintf(verb, &em), fmt.Sprintf(verb, &m))
		}

		hs := ourpb.HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()}
		bs := ourraft.BasicStatus{ID: g.u64(), HardState: hs, Applied: g.u64(), LeadTransferee: g.u64(),
			SoftState: ourraft.SoftState{Lead: g.u64(), RaftState: ourraft.StateType(i % 4)}}
		ebs := etcdraft.BasicStatus{ID: bs.ID, HardState: toEtcdHardState(hs), Applied: bs.Applied, LeadTransferee: bs.LeadTransferee,
			SoftState: etcdraft.SoftState{Lead: bs.Lead, RaftState: etcdraft.StateType(bs.RaftState)}}
		for _, verb := range []string{"%v", "%+v"} {
			require.Equal(t, fmt.Sprintf(verb, ebs), fmt.Sprintf(verb, bs))
			require.Equal(t, fmt.Sprintf(verb, &ebs), fmt.Sprintf(verb, &bs))
			require.Equal(t, fmt.Sprintf(verb, ebs.SoftState), fmt.Sprintf(verb, bs.SoftState))
		}

		pr, epr := g.progressPair()
		require.Equal(t, fmt.Sprintf("%v", epr), fmt.Sprintf("%v", pr))
		require.Equal(t, fmt.Sprintf("%v", epr.State), fmt.Sprintf("%v", pr.State))
	}
}

// FuzzDescribeMessage decodes the fuzz input as a Message with both
// libraries and requires the same text from every function that renders
// one: DescribeMessage (with and without a formatter), Message.String, and
// DescribeEntries of its entries. The input is also tried as an Entry.
func FuzzDescribeMessage(f *testing.F) {
	for _, m := range edgeMessages() {
		b, err := m.Marshal()
		require.NoError(f, err)
		f.Add(b)
	}
	g := newDescribeGen(29)
	for range 20 {
		m := g.message(2)
		b, err := m.Marshal()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ours ourpb.Message
		var theirs etcdpb.Message
		ourErr, etcdErr := ours.Unmarshal(data), theirs.Unmarshal(data)
		require.Equal(t, etcdErr == nil, ourErr == nil, "etcd %v, ours %v", etcdErr, ourErr)
		if etcdErr == nil {
			for _, f := range formatters {
				require.Equal(t, etcdraft.DescribeMessage(theirs, f.etcd), ourraft.DescribeMessage(ours, f.ours), "formatter %s", f.name)
				require.Equal(t, etcdraft.DescribeEntries(theirs.Entries, f.etcd), ourraft.DescribeEntries(ours.Entries, f.ours), "formatter %s", f.name)
			}
			require.Equal(t, theirs.String(), ours.String())
		}

		var ourE ourpb.Entry
		var etcdE etcdpb.Entry
		ourErr, etcdErr = ourE.Unmarshal(data), etcdE.Unmarshal(data)
		require.Equal(t, etcdErr == nil, ourErr == nil, "etcd %v, ours %v", etcdErr, ourErr)
		if etcdErr == nil {
			for _, f := range formatters {
				require.Equal(t, etcdraft.DescribeEntry(etcdE, f.etcd), ourraft.DescribeEntry(ourE, f.ours), "formatter %s", f.name)
			}
			require.Equal(t, etcdE.String(), ourE.String())
		}
	})
}
