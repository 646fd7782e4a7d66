package raftpb

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gogo/protobuf/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSovIsTheVarintLength(t *testing.T) {
	vs := []uint64{0, 1, math.MaxUint64}
	for b := 1; b < 64; b++ {
		vs = append(vs, 1<<b-1, 1<<b, 1<<b+1)
	}
	for _, v := range vs {
		assert.Equal(t, len(binary.AppendUvarint(nil, v)), sov(v), "v=%#x", v)
	}
}

func TestPutUvarintWritesTheVarintAndReturnsTheIndexAfterIt(t *testing.T) {
	vs := []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<21 - 1, 1 << 21, math.MaxUint64}
	for b := 0; b < 64; b++ {
		vs = append(vs, 1<<b, 1<<b-1)
	}
	for _, v := range vs {
		want := binary.AppendUvarint([]byte{0xee}, v)
		buf := make([]byte, 1+binary.MaxVarintLen64)
		buf[0] = 0xee
		end := putUvarint(buf, 1, v)
		assert.Equal(t, want, buf[:end], "v=%#x", v)
	}
}

// encodingsOf returns every way m can be encoded: Marshal, MarshalTo at the
// front of a larger buffer, MarshalToSizedBuffer at the end of a larger
// buffer and gogo's proto.Marshal.
func encodingsOf(t *testing.T, m interface {
	proto.Message
	wireMessage
	MarshalTo([]byte) (int, error)
	MarshalToSizedBuffer([]byte) (int, error)
}) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	b, err := m.Marshal()
	require.NoError(t, err)
	out["Marshal"] = b

	buf := make([]byte, len(b)+7)
	for i := range buf {
		buf[i] = 0xa5
	}
	n, err := m.MarshalTo(buf)
	require.NoError(t, err)
	out["MarshalTo"] = buf[:n]
	assert.Equal(t, byte(0xa5), buf[n], "MarshalTo wrote past its length")

	buf = make([]byte, len(b)+7)
	n, err = m.MarshalToSizedBuffer(buf)
	require.NoError(t, err)
	out["MarshalToSizedBuffer"] = buf[len(buf)-n:]

	b, err = proto.Marshal(m)
	require.NoError(t, err)
	out["proto.Marshal"] = b
	return out
}

func TestCodecMatchesTheGeneratedEncoder(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	for i := 0; i < 2000; i++ {
		e := g.entry()
		want, err := (*refEntry)(&e).Marshal()
		require.NoError(t, err)
		require.Equal(t, len(want), e.Size())
		for how, got := range encodingsOf(t, &e) {
			require.Equal(t, want, got, "%s of %+v", how, e)
		}

		m := g.message(2)
		want, err = (*refMessage)(&m).Marshal()
		require.NoError(t, err)
		require.Equal(t, len(want), m.Size())
		require.Equal(t, len(want), proto.Size(&m))
		for how, got := range encodingsOf(t, &m) {
			require.Equal(t, want, got, "%s of %+v", how, m)
		}
	}
}

func TestCodecEdgeValues(t *testing.T) {
	max := uint64(math.MaxUint64)
	big := make([]byte, 1<<14) // a two-byte and a three-byte length prefix
	entries := []Entry{
		{},
		{Data: []byte{}},
		{Type: -1, Term: max, Index: max, Data: big[:127]},
		{Type: math.MaxInt32, Term: 1 << 63, Index: 1<<14 - 1, Data: big},
		{Type: EntryConfChangeV2, Term: 1 << 7, Index: 1 << 14, Data: big[:128]},
	}
	msgs := []Message{
		{},
		{Entries: []Entry{}},
		{Context: []byte{}},
		{Snapshot: &Snapshot{}},
		{Snapshot: &Snapshot{Data: []byte{}}},
		{Responses: []Message{{}}},
		{Type: -5, To: max, From: max, Term: max, LogTerm: max, Index: max, Commit: max,
			Vote: max, Reject: true, RejectHint: max, Context: big, Entries: entries,
			Snapshot: &Snapshot{Data: big, Metadata: SnapshotMetadata{
				ConfState: ConfState{Voters: []uint64{1, max}, AutoLeave: true}, Index: max, Term: 1}},
			Responses: []Message{{Type: MsgAppResp, Entries: entries}, {Responses: []Message{{Context: []byte{}}}}},
		},
	}
	for _, e := range entries {
		want, err := (*refEntry)(&e).Marshal()
		require.NoError(t, err)
		assert.Equal(t, len(want), e.Size())
		for how, got := range encodingsOf(t, &e) {
			assert.Equal(t, want, got, "%s of entry %d/%d", how, e.Term, e.Index)
		}
	}
	for k, m := range msgs {
		want, err := (*refMessage)(&m).Marshal()
		require.NoError(t, err)
		assert.Equal(t, len(want), m.Size())
		for how, got := range encodingsOf(t, &m) {
			assert.Equal(t, want, got, "%s of message %d", how, k)
		}
	}
}

func TestCodecSizeOfNilIsZero(t *testing.T) {
	assert.Zero(t, (*Entry)(nil).Size())
	assert.Zero(t, (*Message)(nil).Size())
}

// MarshalTo and MarshalToSizedBuffer keep the generated code's contract:
// a buffer too small is a caller bug and panics rather than truncating.
func TestCodecPanicsOnShortBuffer(t *testing.T) {
	m := benchMsgApp()
	short := make([]byte, m.Size()-1)
	assert.Panics(t, func() { _, _ = m.MarshalTo(short) })
	assert.Panics(t, func() { _, _ = m.MarshalToSizedBuffer(short) })
	e := &m.Entries[0]
	short = make([]byte, e.Size()-1)
	assert.Panics(t, func() { _, _ = e.MarshalTo(short) })
	assert.Panics(t, func() { _, _ = e.MarshalToSizedBuffer(short) })
}

// assertAllocs checks an allocation count, except under the race
// detector, whose instrumentation allocates on its own.
func assertAllocs(t *testing.T, want, got float64, msgAndArgs ...any) {
	t.Helper()
	if !raceEnabled {
		assert.Equal(t, want, got, msgAndArgs...)
	}
}

func TestCodecMarshalAllocatesOnceAndExactly(t *testing.T) {
	m := benchMsgApp()
	b, err := m.Marshal()
	require.NoError(t, err)
	assert.Equal(t, len(b), cap(b))
	assertAllocs(t, 1, testing.AllocsPerRun(20, func() { _, _ = m.Marshal() }))
	buf := make([]byte, m.Size())
	assertAllocs(t, 0, testing.AllocsPerRun(20, func() { _, _ = m.MarshalTo(buf) }))
}

// FuzzCodecMessage decodes the fuzzer's bytes and checks that codec.go encodes the
// result exactly as the generated encoder did, through every entry point; the
// same bytes are tried as an Entry.
func FuzzCodecMessage(f *testing.F) {
	for _, v := range loadWireVectors(f) {
		if v.Kind == "Message" || v.Kind == "Entry" {
			data, err := hex.DecodeString(v.Hex)
			require.NoError(f, err)
			f.Add(data)
		}
	}
	f.Add(mustMarshal(f, benchMsgApp()))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		if m.Unmarshal(data) == nil {
			want, err := (*refMessage)(&m).Marshal()
			require.NoError(t, err)
			for how, got := range encodingsOf(t, &m) {
				require.Equal(t, want, got, how)
			}
		}
		var e Entry
		if e.Unmarshal(data) == nil {
			want, err := (*refEntry)(&e).Marshal()
			require.NoError(t, err)
			for how, got := range encodingsOf(t, &e) {
				require.Equal(t, want, got, how)
			}
		}
	})
}
