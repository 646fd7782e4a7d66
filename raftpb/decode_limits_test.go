package raftpb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file pin down the decoder's limits (decode.go,
// ErrDecodeLimit): what one byte of input may cost, which inputs are
// refused, and that no message an encoder of this schema writes is.

// allocated returns the bytes f allocates, garbage included, as
// runtime.MemStats.TotalAlloc counts them.
func allocated(f func()) uint64 {
	// TotalAlloc counts every goroutine's allocations (the testing
	// package's, another test's): the least of a few runs of f, whose own
	// allocations are the same each time, is f's.
	least := uint64(math.MaxUint64)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// repeat returns pattern repeated to n bytes at most, whole patterns only.
func repeat(pattern []byte, n int) []byte {
	return bytes.Repeat(pattern, n/len(pattern))
}

// field returns the length-delimited field num holding payload.
func field(num uint64, payload []byte) []byte {
	b := appendUvarint(nil, num<<3|2)
	b = appendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// nestedResponses returns a Message whose Responses nest depth deep, each
// level an empty message but for the next one.
func nestedResponses(depth int) []byte {
	// lens[k] is the length of the k-th message from the innermost one.
	lens := make([]uint64, depth)
	for k := 1; k < depth; k++ {
		lens[k] = 1 + uint64(len(appendUvarint(nil, lens[k-1]))) + lens[k-1]
	}
	var b []byte
	for k := depth - 1; k >= 0; k-- {
		b = appendUvarint(append(b, 14<<3|2), lens[k])
	}
	return b
}

// costlyInputs returns inputs of about n bytes built to make a decoder
// allocate much per byte, valid and not, beyond the limits and within.
func costlyInputs(t *testing.T, n int) map[string][]byte {
	r := rand.New(rand.NewPCG(61, 62))
	in := map[string][]byte{
		"empty responses":                repeat([]byte{0x72, 0x00}, n),
		"empty entries":                  repeat([]byte{0x3a, 0x00}, n),
		"entries between scalars":        repeat([]byte{0x3a, 0x00, 0x08, 0x00}, n),
		"entries apart, 4 bytes":         repeat([]byte{0x3a, 0x02, 0x08, 0x01}, n),
		"entries of one data byte":       repeat([]byte{0x3a, 0x03, 0x22, 0x01, 0xaa}, n),
		"responses with a snapshot":      repeat([]byte{0x72, 0x02, 0x4a, 0x00}, n),
		"responses with an entry":        repeat([]byte{0x72, 0x02, 0x3a, 0x00}, n),
		"responses with a context byte":  repeat([]byte{0x72, 0x03, 0x62, 0x01, 0xaa}, n),
		"responses nested to the limit":  repeat(nestedResponses(MaxResponsesDepth), n),
		"responses nested past it":       nestedResponses(n / 3),
		"snapshots merged":               repeat([]byte{0x4a, 0x00}, n),
		"snapshot of unpacked voters":    field(9, field(2, field(1, repeat([]byte{0x08, 0x01}, n)))),
		"snapshot of packed voters":      field(9, field(2, field(1, field(1, repeat([]byte{0x01}, n))))),
		"snapshot of voters in metadata": field(9, repeat([]byte{0x12, 0x04, 0x0a, 0x02, 0x08, 0x01}, n)),
	}
	g := gen{r}
	var valid []byte
	for len(valid) < n {
		m := g.message(2)
		valid = append(valid, field(14, mustMarshal(t, &m))...)
	}
	in["random messages as responses"] = valid
	in["random messages mutated"] = mutate(r, valid)
	var entries []byte
	for len(entries) < n {
		e := g.entry()
		entries = append(entries, field(7, mustMarshal(t, &e))...)
	}
	in["random entries"] = entries
	return in
}

// The constants the tests below hold the decoders to: bytes allocated per
// input byte, plus a constant for the receiver and tiny inputs.
// Message.Unmarshal: at most 16 bytes of structs per byte (its budget), a
// few more for Data and Context copies rounded up to size classes, and
// what the generated Snapshot decoder allocates, which for unpacked
// ConfState ids is about 20 (an 8-byte id for 2 bytes, plus the garbage
// of the slice's growth). The generated decoders of the other types are
// measured as they are, the same code as etcd raft's.
const (
	maxAllocPerByte = 24
	allocSlack      = 4096
)

func TestDecodeAllocatesAtMostAConstantTimesTheInput(t *testing.T) {
	worst, worstName := 0.0, ""
	for _, n := range []int{100, 4 << 10, 256 << 10} {
		for name, data := range costlyInputs(t, n) {
			var err error
			got := allocated(func() { err = new(Message).Unmarshal(data) })
			if r := float64(got) / float64(len(data)); n > 4<<10 && r > worst {
				worst, worstName = r, name
			}
			assert.LessOrEqual(t, got, uint64(maxAllocPerByte*len(data)+allocSlack),
				"%s, %d bytes (%v): %.1f bytes allocated per byte", name, len(data), err, float64(got)/float64(len(data)))
			got = allocated(func() { err = new(Entry).Unmarshal(data) })
			assert.LessOrEqual(t, got, uint64(len(data)+allocSlack), "Entry from %s (%v)", name, err)
		}
	}
	t.Logf("the costliest input of 256 KiB: %s, %.1f bytes allocated per byte", worstName, worst)
}

// decodeFresh decodes into a new T at each call, so that every run of
// allocated decodes into an empty message.
func decodeFresh[T any, P interface {
	*T
	Unmarshal([]byte) error
}](data []byte) error {
	return P(new(T)).Unmarshal(data)
}

func TestGeneratedDecodersAllocateAtMostAConstantTimesTheInput(t *testing.T) {
	const n = 256 << 10
	tests := []struct {
		name    string
		perByte int
		data    []byte
		decode  func([]byte) error
	}{
		// An id of 8 bytes for 2 of input, and the growth of the slice.
		{"ConfState unpacked", 24, repeat([]byte{0x08, 0x01}, n), decodeFresh[ConfState]},
		{"ConfState packed", 9, field(1, repeat([]byte{0x01}, n)), decodeFresh[ConfState]},
		{"Snapshot", 24, field(2, field(1, repeat([]byte{0x08, 0x01}, n))), decodeFresh[Snapshot]},
		{"SnapshotMetadata merged", 24, repeat([]byte{0x0a, 0x02, 0x08, 0x01}, n), decodeFresh[SnapshotMetadata]},
		// A 16-byte ConfChangeSingle for 2 bytes of input, and the growth.
		{"ConfChangeV2 empty changes", 48, repeat([]byte{0x12, 0x00}, n), decodeFresh[ConfChangeV2]},
		{"ConfChange contexts", 2, repeat([]byte{0x22, 0x01, 0xaa}, n), decodeFresh[ConfChange]},
		{"HardState", 1, repeat([]byte{0x08, 0x01}, n), decodeFresh[HardState]},
	}
	for _, tt := range tests {
		var err error
		got := allocated(func() { err = tt.decode(tt.data) })
		require.NoError(t, err, tt.name)
		assert.LessOrEqual(t, got, uint64(tt.perByte*len(tt.data)+allocSlack),
			"%s: %.1f bytes allocated per byte", tt.name, float64(got)/float64(len(tt.data)))
	}
}

func TestDecodeRefusesInputsBeyondTheLimits(t *testing.T) {
	tests := map[string][]byte{
		"64 KiB of empty responses":    repeat([]byte{0x72, 0x00}, 64<<10),
		"64 KiB of empty entries":      repeat([]byte{0x3a, 0x00}, 64<<10),
		"responses one level too deep": nestedResponses(MaxResponsesDepth + 1),
		"responses 20000 deep":         nestedResponses(20000),
		"the limit hit in a response":  field(14, repeat([]byte{0x3a, 0x00}, 1<<16)),
	}
	for name, data := range tests {
		var m Message
		err := m.Unmarshal(data)
		assert.ErrorIs(t, err, ErrDecodeLimit, name)
		var ref Message
		assert.NoError(t, (*refMessage)(&ref).Unmarshal(data), "%s: the generated decoder accepts it", name)
	}
	// Just within the limits.
	var m Message
	require.NoError(t, m.Unmarshal(nestedResponses(MaxResponsesDepth)))
	require.NoError(t, m.Unmarshal(repeat([]byte{0x3a, 0x00}, 3*decodeSlack/entrySize)))
}

// The costliest messages an encoder of etcd raft or raftkit writes: every
// scalar written, every value as short as it can be.
func TestDecodeAcceptsTheCostliestMessagesEncodersWrite(t *testing.T) {
	const n = 20000
	var emptyEntries, emptyResponses, withSnapshots, withEntries Message
	emptyEntries.Entries = make([]Entry, n)
	emptyResponses.Responses = make([]Message, n)
	withSnapshots.Responses = make([]Message, n)
	withEntries.Responses = make([]Message, n)
	for i := range withSnapshots.Responses {
		withSnapshots.Responses[i].Snapshot = &Snapshot{}
		withEntries.Responses[i].Entries = make([]Entry, 3)
	}
	// MsgStorageAppend and MsgStorageApply carry their responses one
	// level deep; MaxResponsesDepth leaves room for a few more.
	deep := Message{Snapshot: &Snapshot{}, Entries: make([]Entry, 2)}
	for range MaxResponsesDepth {
		deep = Message{Responses: []Message{deep, deep}, Snapshot: &Snapshot{}}
	}
	for name, m := range map[string]*Message{
		"empty entries": &emptyEntries, "empty responses": &emptyResponses,
		"responses with empty snapshots": &withSnapshots, "responses with empty entries": &withEntries,
		"responses nested to the limit": &deep,
	} {
		data := mustMarshal(t, m)
		var got Message
		if assert.NoError(t, got.Unmarshal(data), name) {
			assert.Equal(t, *m, got, name)
		}
	}
}

func TestDecodeLimitErrorIsClear(t *testing.T) {
	var m Message
	err := m.Unmarshal(repeat([]byte{0x72, 0x00}, 1<<12))
	require.True(t, errors.Is(err, ErrDecodeLimit))
	assert.EqualError(t, err, "raftpb: message beyond the decoder's limits: it needs more than 16 bytes of memory per byte of input")
	err = m.Unmarshal(nestedResponses(MaxResponsesDepth + 1))
	assert.EqualError(t, err, "raftpb: message beyond the decoder's limits: Responses nested more than 4 deep")
}

func TestNoWireVectorIsBeyondTheLimits(t *testing.T) {
	for _, v := range loadWireVectors(t) {
		data, err := hex.DecodeString(v.Hex)
		require.NoError(t, err)
		// Vectors of every kind, read as a Message: plausible bytes all.
		var m Message
		assert.NotErrorIs(t, m.Unmarshal(data), ErrDecodeLimit, v.Name)
	}
}

// The decoder sizes Entries and Responses by repeatedFields: it must count
// at least what the generated decoder appends, before any error, and
// exactly that on valid input.
func TestRepeatedFieldsCountsWhatTheDecoderAppends(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	g := gen{r}
	for i := 0; i < 5000; i++ {
		m := g.message(2)
		data := mustMarshal(t, &m)
		if i%4 != 0 {
			data = mutate(r, data)
		}
		if i%7 == 0 {
			data = fields(r, 2)
		}
		var ref Message
		err := (*refMessage)(&ref).Unmarshal(data)
		entries, responses, payload := repeatedFields(data, 0)
		require.LessOrEqual(t, payload, len(data), "payload of %x", data)
		if err == nil {
			require.Equal(t, len(ref.Entries), entries, "Entries of %x", data)
			require.Equal(t, len(ref.Responses), responses, "Responses of %x", data)
			sum := len(ref.Context)
			for k := range ref.Entries {
				sum += len(ref.Entries[k].Data)
			}
			if i%4 == 0 && i%7 != 0 {
				require.Equal(t, sum, payload, "payload of the encoding of %v", m)
			} else {
				require.GreaterOrEqual(t, payload, sum, "payload of %x", data)
			}
		} else {
			require.GreaterOrEqual(t, entries, len(ref.Entries), "Entries of %x (%v)", data, err)
			require.GreaterOrEqual(t, responses, len(ref.Responses), "Responses of %x (%v)", data, err)
		}
	}
}
