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

// The entries of a Message are written through headers computed ahead
// (entryHeads) with 8-byte stores for the common shape; every boundary of
// that shape (varint lengths of the index, the payload and the entry; a
// type or term of two bytes; no payload) is written as the generated
// encoder writes it, alone, in runs that cross the header arrays' sizes (4
// and 64 for Marshal, 16 for MarshalTo), and mixed with other shapes.
func TestCodecEntryShapesMatchTheGeneratedEncoder(t *testing.T) {
	payload := make([]byte, 1<<14+1)
	for i := range payload {
		payload[i] = byte(i*7 + 1)
	}
	var indexes []uint64
	for _, b := range []int{0, 7, 14, 21, 28, 35, 42, 63} {
		indexes = append(indexes, 1<<b-1, 1<<b)
	}
	indexes = append(indexes, math.MaxUint64)
	var shapes []Entry
	for _, index := range indexes {
		for _, n := range []int{0, 1, 115, 116, 117, 127, 128, 1<<14 - 17, 1<<14 - 16, 1<<14 - 13, 1 << 14} {
			shapes = append(shapes, Entry{Term: 5, Index: index, Data: payload[:n]})
		}
		shapes = append(shapes,
			Entry{Term: 5, Index: index},
			Entry{Term: 127, Type: 127, Index: index, Data: payload[:3]},
			Entry{Term: 128, Index: index, Data: payload[:3]},
			Entry{Term: 1, Type: 128, Index: index, Data: payload[:3]},
			Entry{Term: 1, Type: -1, Index: index, Data: payload[:3]})
	}
	check := func(m *Message) {
		t.Helper()
		want, err := (*refMessage)(m).Marshal()
		require.NoError(t, err)
		require.Equal(t, len(want), m.Size())
		for how, got := range encodingsOf(t, m) {
			require.Equal(t, want, got, "%s of %d entries from index %d", how, len(m.Entries), m.Entries[0].Index)
		}
		// Nothing is written past the end, even by 8-byte stores.
		buf := make([]byte, len(want)+16)
		for i := range buf {
			buf[i] = 0xa5
		}
		n, err := m.MarshalTo(buf)
		require.NoError(t, err)
		require.Equal(t, len(want), n)
		for i := n; i < len(buf); i++ {
			require.Equal(t, byte(0xa5), buf[i], "MarshalTo wrote byte %d past its length %d", i-n, n)
		}
	}
	for _, e := range shapes {
		check(&Message{Type: MsgApp, Entries: []Entry{e}})
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{2, 4, 5, 15, 16, 17, 63, 64, 65, 80, 130} {
		for rep := 0; rep < 20; rep++ {
			m := &Message{Type: MsgApp, To: 2, From: 1, Term: 5, Commit: 9, Entries: make([]Entry, n)}
			for k := range m.Entries {
				m.Entries[k] = shapes[r.IntN(len(shapes))]
			}
			check(m)
		}
	}
}
