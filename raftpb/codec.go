package raftpb

import (
	"math/bits"
	"slices"
)

// This file encodes Entry and Message by hand; raft.proto turns gogo's
// generated marshaler and sizer off for these two types. They are the hot
// types: every MsgApp a leader sends is a Message carrying Entries.
//
// The bytes are those the generated code wrote, which are those etcd raft
// writes: fields in field-number order; every non-nullable scalar always
// written, zero included; a bytes field written when it is non-nil (so an
// empty non-nil slice is written as a zero-length field and a nil one is
// not); repeated messages written once per element, nothing when empty;
// Snapshot written when the pointer is non-nil. Enums are written as
// sign-extended 64-bit varints, so a negative value takes ten bytes.
//
// The generated encoder wrote backwards, from the end of the buffer, so
// that a nested message's length was known once its body was written. Here
// the encoder writes forwards into a buffer of exactly Size() bytes, and
// the entries' payloads are copied with one memmove each into their final
// place. The length prefix of an Entry is three varint lengths and a slice
// length away: Marshal remembers those of the first 64 entries on the
// stack between its sizing and encoding passes; MarshalTo, which needs no
// sizing pass, computes each once as it goes.

// sov returns the number of bytes of v as a varint: one byte per started
// group of seven significant bits, and at least one. Values of one and two
// bytes (types, terms, lengths of small payloads and entries) take
// branches, which the processor predicts along a run of similar entries
// and which cost less than the bit count they skip.
func sov(v uint64) int {
	if v < 1<<7 {
		return 1
	}
	if v < 1<<14 {
		return 2
	}
	return (bits.Len64(v)*9 + 64) / 64
}

// putUvarint writes v as a varint at b[i:] and returns the index after it.
// One- and two-byte values (tags, enums, terms, lengths of payloads up to
// 16 KiB, indexes of young logs) take unrolled paths. The whole function
// stays within the inliner's budget: a call to an out-of-line slow path
// would not, and the per-call overhead was a sixth of MarshalTo.
func putUvarint(b []byte, i int, v uint64) int {
	if v < 1<<7 {
		b[i] = byte(v)
		return i + 1
	}
	if v < 1<<14 {
		b[i+1] = byte(v >> 7)
		b[i] = byte(v) | 0x80
		return i + 2
	}
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

// Size returns the length of the encoding of m; zero for a nil m.
func (m *Entry) Size() int {
	if m == nil {
		return 0
	}
	return m.size()
}

// size is Size for a non-nil m.
func (m *Entry) size() int {
	// Three one-byte tags and the three varints are always written.
	n := 3 + sov(uint64(m.Type)) + sov(m.Term) + sov(m.Index)
	if m.Data != nil {
		n += 1 + sov(uint64(len(m.Data))) + len(m.Data)
	}
	return n
}

// encode writes m at b[i:] and returns the index after it. The caller
// guarantees that b has room for m.size() bytes from i.
func (m *Entry) encode(b []byte, i int) int {
	if uint64(m.Type) < 1<<7 && m.Term < 1<<7 {
		// The common shape, one-byte type and term: the first five
		// bytes are written through one bounds check.
		h := b[i : i+5]
		h[0] = 0x08 // field 1 (Type), varint
		h[1] = byte(m.Type)
		h[2] = 0x10 // field 2 (Term), varint
		h[3] = byte(m.Term)
		h[4] = 0x18 // field 3 (Index), varint
		i += 5
	} else {
		b[i] = 0x08
		i = putUvarint(b, i+1, uint64(m.Type))
		b[i] = 0x10
		i = putUvarint(b, i+1, m.Term)
		b[i] = 0x18
		i++
	}
	i = putUvarint(b, i, m.Index)
	if m.Data != nil {
		b[i] = 0x22 // field 4 (Data), bytes
		i = putUvarint(b, i+1, uint64(len(m.Data)))
		i += copy(b[i:i+len(m.Data)], m.Data)
	}
	return i
}

// encodeField writes m as field 7 of a Message (tag, length, body) at b[i:]
// and returns the index after it. It is encode with the size computation
// fused in, for the per-entry loop of a MsgApp: the varint lengths it
// needs for the length prefix are the ones it then writes.
func (m *Entry) encodeField(b []byte, i int) int {
	n := 3 + sov(uint64(m.Type)) + sov(m.Term) + sov(m.Index)
	if m.Data != nil {
		n += 1 + sov(uint64(len(m.Data))) + len(m.Data)
	}
	b[i] = 0x3a // field 7 (Entries), bytes
	i = putUvarint(b, i+1, uint64(n))
	return m.encode(b, i)
}

// Marshal returns the encoding of m in a new slice of exactly Size() bytes.
// The error is always nil; it is there for the gogo/protobuf interface.
func (m *Entry) Marshal() ([]byte, error) {
	b := make([]byte, m.size())
	m.encode(b, 0)
	return b, nil
}

// MarshalTo writes the encoding of m at the front of dAtA and returns its
// length. Like the generated code it used to be, it panics when the
// capacity of dAtA is below Size().
func (m *Entry) MarshalTo(dAtA []byte) (int, error) {
	n := m.size()
	m.encode(dAtA[:n], 0)
	return n, nil
}

// MarshalToSizedBuffer writes the encoding of m at the end of dAtA and
// returns its length, the way gogo's generated code for the enclosing
// messages expects. It panics when dAtA is shorter than Size().
func (m *Entry) MarshalToSizedBuffer(dAtA []byte) (int, error) {
	n := m.size()
	m.encode(dAtA[len(dAtA)-n:], 0)
	return n, nil
}

// Size returns the length of the encoding of m; zero for a nil m.
func (m *Message) Size() int {
	if m == nil {
		return 0
	}
	return m.size()
}

// size is Size for a non-nil m.
func (m *Message) size() int { return m.sizeCaching(nil) }

// sizeCaching is size, which also stores the size of m.Entries[k] in
// sizes[k] for the k that sizes has room for, so that encode need not
// compute them again.
func (m *Message) sizeCaching(sizes []int) int {
	// Tags of the ten scalars always written, one byte each (vote's tag,
	// field 13, still fits in one), and the reject bool's one-byte value.
	n := 11 + sov(uint64(m.Type)) + sov(m.To) + sov(m.From) + sov(m.Term) +
		sov(m.LogTerm) + sov(m.Index) + sov(m.Commit) + sov(m.RejectHint) + sov(m.Vote)
	for k := range m.Entries {
		l := m.Entries[k].size()
		if k < len(sizes) {
			sizes[k] = l
		}
		n += 1 + sov(uint64(l)) + l
	}
	if m.Snapshot != nil {
		l := m.Snapshot.Size()
		n += 1 + sov(uint64(l)) + l
	}
	if m.Context != nil {
		n += 1 + sov(uint64(len(m.Context))) + len(m.Context)
	}
	for k := range m.Responses {
		l := m.Responses[k].size()
		n += 1 + sov(uint64(l)) + l
	}
	return n
}

// encode writes m at b[i:] and returns the index after it. It needs no
// total size: b only has to be long enough, and an index or slice
// expression panics when it is not. Payloads are copied into slices of
// their exact length for that reason, since copy alone would truncate.
// sizes[k], where present, is the size of m.Entries[k] (see sizeCaching);
// the others are computed.
func (m *Message) encode(b []byte, i int, sizes []int) int {
	b[i] = 0x08 // field 1 (Type), varint
	i = putUvarint(b, i+1, uint64(m.Type))
	b[i] = 0x10 // field 2 (To)
	i = putUvarint(b, i+1, m.To)
	b[i] = 0x18 // field 3 (From)
	i = putUvarint(b, i+1, m.From)
	b[i] = 0x20 // field 4 (Term)
	i = putUvarint(b, i+1, m.Term)
	b[i] = 0x28 // field 5 (LogTerm)
	i = putUvarint(b, i+1, m.LogTerm)
	b[i] = 0x30 // field 6 (Index)
	i = putUvarint(b, i+1, m.Index)
	for k := range m.Entries {
		e := &m.Entries[k]
		if k >= len(sizes) {
			i = e.encodeField(b, i)
			continue
		}
		b[i] = 0x3a // field 7 (Entries), bytes
		i = e.encode(b, putUvarint(b, i+1, uint64(sizes[k])))
	}
	b[i] = 0x40 // field 8 (Commit)
	i = putUvarint(b, i+1, m.Commit)
	if m.Snapshot != nil {
		l := m.Snapshot.Size()
		b[i] = 0x4a // field 9 (Snapshot), bytes
		i = putUvarint(b, i+1, uint64(l))
		// The generated Snapshot encoder writes backwards into exactly
		// l bytes, which is the same thing here.
		if _, err := m.Snapshot.MarshalToSizedBuffer(b[i : i+l]); err != nil {
			// It has no error path; a non-nil error would mean the
			// generated code changed under us.
			panic("raftpb: Snapshot.MarshalToSizedBuffer: " + err.Error())
		}
		i += l
	}
	b[i] = 0x50 // field 10 (Reject), varint
	b[i+1] = 0
	if m.Reject {
		b[i+1] = 1
	}
	b[i+2] = 0x58 // field 11 (RejectHint)
	i = putUvarint(b, i+3, m.RejectHint)
	if m.Context != nil {
		b[i] = 0x62 // field 12 (Context), bytes
		i = putUvarint(b, i+1, uint64(len(m.Context)))
		i += copy(b[i:i+len(m.Context)], m.Context)
	}
	b[i] = 0x68 // field 13 (Vote)
	i = putUvarint(b, i+1, m.Vote)
	for k := range m.Responses {
		r := &m.Responses[k]
		l := r.size()
		b[i] = 0x72 // field 14 (Responses), bytes
		i = putUvarint(b, i+1, uint64(l))
		i = r.encode(b, i, nil)
	}
	return i
}

// Marshal returns the encoding of m in a new slice of exactly Size() bytes:
// one sizing pass, one allocation, one encoding pass. The error is always
// nil; it is there for the gogo/protobuf interface.
func (m *Message) Marshal() ([]byte, error) {
	// The sizes of the first entries, remembered on the stack between
	// the two passes: computing each twice was a tenth of the time of a
	// MsgApp of 64 small entries.
	var sizes [marshalCachedSizes]int
	cached := sizes[:min(len(m.Entries), len(sizes))]
	b := make([]byte, m.sizeCaching(cached))
	m.encode(b, 0, cached)
	return b, nil
}

// marshalCachedSizes is how many entry sizes Message.Marshal remembers on
// the stack: those of a MsgApp of 64 entries, the size of a busy leader's
// batch, in 512 bytes of stack.
const marshalCachedSizes = 64

// MarshalTo writes the encoding of m at the front of dAtA and returns its
// length. Like the generated code it used to be, it panics when the
// capacity of dAtA is below Size(); unlike it, it does not compute Size()
// first, since the forward encoder needs only the sizes of the nested
// messages.
func (m *Message) MarshalTo(dAtA []byte) (int, error) {
	return m.encode(dAtA[:cap(dAtA)], 0, nil), nil
}

// MarshalToSizedBuffer writes the encoding of m at the end of dAtA and
// returns its length, the way gogo's generated code for the enclosing
// messages expects. It panics when dAtA is shorter than Size().
func (m *Message) MarshalToSizedBuffer(dAtA []byte) (int, error) {
	n := m.size()
	m.encode(dAtA[len(dAtA)-n:], 0, nil)
	return n, nil
}

// appendMarshal appends the encoding of m to b; the XXX_Marshal methods of
// Entry and Message, through which gogo's proto.Marshal reaches them, call
// it (scripts/genproto.sh points them here).
func appendMarshal(b []byte, m interface {
	Size() int
	MarshalTo([]byte) (int, error)
}) ([]byte, error) {
	n, size := len(b), m.Size()
	b = slices.Grow(b, size)
	k, err := m.MarshalTo(b[n : n+size])
	return b[:n+k], err
}
