package multiraft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

func sampleMessages() []GroupMessage {
	return []GroupMessage{
		{Group: 1, Message: pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 3, Index: 10, Commit: 9,
			Entries: []pb.Entry{{Term: 3, Index: 11, Data: []byte("x")}, {Term: 3, Index: 12, Type: pb.EntryConfChange}}}},
		{Group: 1 << 40, Message: pb.Message{Type: pb.MsgVote, From: 2, To: 3, Term: 7, LogTerm: 6, Index: 100}},
		{Group: 5, Message: pb.Message{Type: pb.MsgAppResp, From: 3, To: 1, Term: 3, Index: 12, Reject: true, RejectHint: 4}},
		{Group: 6, Message: pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 3,
			Snapshot: &pb.Snapshot{Data: []byte("snap"), Metadata: pb.SnapshotMetadata{Index: 5, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}}},
		{Group: 7, Message: pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 4, Context: []byte{}}},
	}
}

func TestEnvelopeRoundTripKeepsRaftpbBytes(t *testing.T) {
	env := &Envelope{From: 1, To: 2, Lane: LaneData, Messages: sampleMessages(),
		Liveness:   []Liveness{{Kind: LivenessPing, Epoch: 3, Seq: 9}, {Kind: LivenessPong, Epoch: 4, PeerEpoch: 3, Seq: 8}},
		Heartbeats: []Heartbeat{{Group: 9, From: 1, To: 2, Term: 5, Commit: 6, Context: []byte("rctx")}, {Group: 10, Resp: true, From: 2, To: 1, Term: 5}}}
	b, err := env.Marshal()
	require.NoError(t, err)
	var got Envelope
	require.NoError(t, got.Unmarshal(b))
	assert.Equal(t, env.From, got.From)
	assert.Equal(t, env.To, got.To)
	assert.Equal(t, env.Lane, got.Lane)
	assert.Equal(t, env.Liveness, got.Liveness)
	assert.Equal(t, env.Heartbeats, got.Heartbeats)
	require.Len(t, got.Messages, len(env.Messages))
	for i := range env.Messages {
		assert.Equal(t, env.Messages[i].Group, got.Messages[i].Group)
		want, err := env.Messages[i].Message.Marshal()
		require.NoError(t, err)
		have, err := got.Messages[i].Message.Marshal()
		require.NoError(t, err)
		assert.Equal(t, want, have, "message %d bytes", i)
	}
}

func TestHeartbeatTupleRoundTripPreservesContext(t *testing.T) {
	for _, m := range []pb.Message{
		{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 7},
		{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 7, Context: []byte{}},
		{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 7, Context: []byte("read-42")},
		{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 3},
		{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 3, Context: []byte("read-42")},
	} {
		hb, ok := heartbeatTuple(4, &m)
		require.True(t, ok, "%v", m)
		env := &Envelope{From: 1, To: 2, Heartbeats: []Heartbeat{hb}}
		b, err := env.Marshal()
		require.NoError(t, err)
		var got Envelope
		require.NoError(t, got.Unmarshal(b))
		require.Len(t, got.Heartbeats, 1)
		assert.Equal(t, GroupID(4), got.Heartbeats[0].Group)
		back := got.Heartbeats[0].Message()
		want, _ := m.Marshal()
		have, _ := back.Marshal()
		assert.Equal(t, want, have, "%v", m)
		assert.Equal(t, m.Context == nil, back.Context == nil, "nil context stays nil")
	}
}

func TestHeartbeatWithOtherFieldsIsNotCoalesced(t *testing.T) {
	for _, m := range []pb.Message{
		{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Index: 1},
		{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Reject: true},
		{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 3, Commit: 1},
		{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3, Entries: []pb.Entry{}},
		{Type: pb.MsgApp, From: 1, To: 2, Term: 3},
	} {
		_, ok := heartbeatTuple(1, &m)
		assert.False(t, ok, "%v", m)
	}
}

func TestLanes(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgSnap, pb.MsgProp} {
		assert.Equal(t, LaneData, laneOf(typ), typ.String())
	}
	for _, typ := range []pb.MessageType{pb.MsgVote, pb.MsgVoteResp, pb.MsgPreVote, pb.MsgPreVoteResp,
		pb.MsgHeartbeat, pb.MsgHeartbeatResp, pb.MsgAppResp, pb.MsgReadIndex, pb.MsgReadIndexResp,
		pb.MsgTimeoutNow, pb.MsgTransferLeader} {
		assert.Equal(t, LaneControl, laneOf(typ), typ.String())
	}
}

func TestEnvelopeUnmarshalRefusesMalformedInput(t *testing.T) {
	env := &Envelope{From: 1, To: 2, Messages: sampleMessages(), Heartbeats: []Heartbeat{{Group: 1, Context: []byte("c")}}}
	b, err := env.Marshal()
	require.NoError(t, err)
	var got Envelope
	for i := 0; i < len(b); i++ {
		assert.ErrorIs(t, got.Unmarshal(b[:i]), ErrBadEnvelope, "truncated at %d", i)
	}
	assert.ErrorIs(t, got.Unmarshal(append(append([]byte{}, b...), 0)), ErrBadEnvelope, "trailing byte")
	bad := append([]byte{}, b...)
	bad[2] = 99
	assert.ErrorIs(t, got.Unmarshal(bad), ErrBadEnvelope, "version")
	// A huge count must not allocate: it is refused against the input size.
	assert.ErrorIs(t, got.Unmarshal([]byte{'M', 'R', Version, 0, 1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f}), ErrBadEnvelope)
}

func FuzzEnvelopeUnmarshal(f *testing.F) {
	env := &Envelope{From: 1, To: 2, Messages: sampleMessages(),
		Liveness: []Liveness{{Kind: LivenessPing, Epoch: 1, Seq: 1}},
		Heartbeats: []Heartbeat{{Group: 1, From: 1, To: 2, Term: 1, Context: []byte("c")},
			{Group: 2, From: 1, To: 2, Term: 1, Commit: 5, Quiesce: true}, {Group: 2, Resp: true, From: 2, To: 1, Term: 1, Wake: true}}}
	b, _ := env.Marshal()
	f.Add(b)
	f.Add([]byte{'M', 'R', Version, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Envelope
		if err := e.Unmarshal(b); err != nil {
			return
		}
		// What decodes re-encodes and decodes to the same envelope.
		b2, err := e.Marshal()
		require.NoError(t, err)
		var e2 Envelope
		require.NoError(t, e2.Unmarshal(b2))
		require.Equal(t, len(e.Messages), len(e2.Messages))
		require.Equal(t, e.Heartbeats, e2.Heartbeats)
	})
}

// The quiescence flags ride the tuple's flag byte: a notice only on a
// heartbeat, a poke only on a response; the rebuilt raft message is the
// plain heartbeat either way.
func TestHeartbeatTupleCarriesQuiescenceFlags(t *testing.T) {
	env := &Envelope{From: 1, To: 2, Heartbeats: []Heartbeat{
		{Group: 7, From: 1, To: 2, Term: 3, Commit: 9, Quiesce: true},
		{Group: 7, Resp: true, From: 2, To: 1, Term: 3, Wake: true},
		{Group: 8, From: 1, To: 2, Term: 3, Commit: 9},
	}}
	b, err := env.Marshal()
	require.NoError(t, err)
	var got Envelope
	require.NoError(t, got.Unmarshal(b))
	assert.Equal(t, env.Heartbeats, got.Heartbeats)
	plain := got.Heartbeats[2].Message()
	assert.Equal(t, plain.Type, got.Heartbeats[0].Message().Type)
	assert.Equal(t, plain.Commit, got.Heartbeats[0].Message().Commit)

	// A flag on the wrong kind of tuple is dropped, not obeyed.
	bad := &Envelope{From: 1, To: 2, Heartbeats: []Heartbeat{{Group: 1, Resp: true, From: 2, To: 1, Term: 1}}}
	bb, err := bad.Marshal()
	require.NoError(t, err)
	// magic (2), version, lane, from, to, no liveness, one heartbeat: the
	// flag byte is at 8.
	require.Equal(t, byte(hbResp), bb[8])
	bb[8] |= hbQuiesce
	require.NoError(t, got.Unmarshal(bb))
	assert.False(t, got.Heartbeats[0].Quiesce, "a response is never a notice")
}

func TestEnvelopeDecodedIntoReusedArraysLeavesNothingBehind(t *testing.T) {
	big := &Envelope{From: 1, To: 2, Messages: sampleMessages(),
		Heartbeats: []Heartbeat{{Group: 9, From: 1, To: 2, Term: 5, Commit: 6, Context: []byte("rctx")}, {Group: 10, Resp: true, From: 2, To: 1, Term: 5, Wake: true}}}
	small := &Envelope{From: 3, To: 2, Messages: sampleMessages()[1:2],
		Heartbeats: []Heartbeat{{Group: 11, From: 3, To: 2, Term: 1}}}
	var buf []byte
	var hbs []Heartbeat
	var msgs []GroupMessage
	for _, env := range []*Envelope{big, small, big} {
		want, err := env.Marshal()
		require.NoError(t, err)
		b, err := env.appendMarshal(buf)
		require.NoError(t, err)
		assert.Equal(t, want, b, "an encoding into a used buffer")
		var fresh, reused Envelope
		require.NoError(t, fresh.Unmarshal(b))
		require.NoError(t, reused.unmarshal(b, hbs, msgs))
		assert.Equal(t, fresh, reused, "a decoding into used arrays")
		buf, hbs, msgs = b[:0], reused.Heartbeats[:0], reused.Messages[:0]
	}
}

func TestReleasedEnvelopeComesBackEmpty(t *testing.T) {
	env := getEnvelope(1, 2, LaneControl)
	env.Messages = append(env.Messages, sampleMessages()...)
	env.Heartbeats = append(env.Heartbeats, Heartbeat{Group: 1, Context: []byte("x")})
	env.Liveness = append(env.Liveness, Liveness{Kind: LivenessPing, Seq: 1})
	msgs := env.Messages
	releaseEnvelope(env)
	for i := range msgs {
		assert.Zero(t, msgs[i], "a released array refers to no entry")
	}
	got := getEnvelope(3, 4, LaneControl)
	assert.Equal(t, HostID(3), got.From)
	assert.Equal(t, HostID(4), got.To)
	assert.Empty(t, got.Messages)
	assert.Empty(t, got.Heartbeats)
	assert.Empty(t, got.Liveness)
}
