package raftpb

import (
	"encoding/binary"
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
// place. What precedes a payload, an entry's header (its tag and length,
// its type, term and index, the payload's tag and length), is worked out
// once, as two words and their lengths (entryHead): by the sizing pass of
// Marshal for the first 64 entries, which keeps them on the stack for the
// encoding pass; by the encoding pass, 16 entries at a time, for the
// others and for MarshalTo. Writing a header is then two 8-byte stores.

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
func (m *Message) size() int {
	n := m.sizeWithoutEntries()
	if len(m.Entries) > 0 {
		n += entriesSize(m.Entries)
	}
	return n
}

// sizeWithoutEntries is the length of the encoding of m but its Entries.
func (m *Message) sizeWithoutEntries() int {
	// Tags of the ten scalars always written, one byte each (vote's tag,
	// field 13, still fits in one), and the reject bool's one-byte value.
	n := 11 + sov(uint64(m.Type)) + sov(m.To) + sov(m.From) + sov(m.Term) +
		sov(m.LogTerm) + sov(m.Index) + sov(m.Commit) + sov(m.RejectHint) + sov(m.Vote)
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

// entriesSize is the length of the encoding of ents as fields 7 of a
// Message.
func entriesSize(ents []Entry) int {
	n := 0
	for k := range ents {
		// Entry.size, written out: as a call it was half the cost of
		// this loop.
		e := &ents[k]
		l := 3 + sov(uint64(e.Type)) + sov(e.Term) + sov(e.Index)
		if e.Data != nil {
			l += 1 + sov(uint64(len(e.Data))) + len(e.Data)
		}
		n += 1 + sov(uint64(l)) + l
	}
	return n
}

// encode writes m at b[i:] and returns the index after it. It needs no
// total size: b only has to be long enough, and an index or slice
// expression panics when it is not. Payloads are copied into slices of
// their exact length for that reason, since copy alone would truncate.
// heads[k], where present, is the header of m.Entries[k] (see
// entryHeads); the others are computed.
func (m *Message) encode(b []byte, i int, heads []entryHead) int {
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
	if len(m.Entries) > 0 {
		i = writeEntries(b, i, m.Entries[:len(heads)], heads)
		if len(m.Entries) > len(heads) {
			i = encodeEntriesChunked(b, i, m.Entries[len(heads):])
		}
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
	// The sizing pass computes the headers of the first entries, which
	// the encoding pass then copies (see entryHeads). Their array lives
	// on the stack and is zeroed at every call: a small one for the
	// messages of few entries or none, most of them.
	switch n := len(m.Entries); {
	case n == 0:
		b := make([]byte, m.sizeWithoutEntries())
		m.encode(b, 0, nil)
		return b, nil
	case n <= 4:
		var heads [4]entryHead
		return m.marshal(heads[:n]), nil
	}
	var heads [marshalHeads]entryHead
	return m.marshal(heads[:min(len(m.Entries), len(heads))]), nil
}

// marshalHeads is how many entry headers Message.Marshal remembers on the
// stack: those of a MsgApp of 64 entries, the size of a busy leader's
// batch, in 1.5 KiB of stack.
const marshalHeads = 64

// marshal is Marshal, with room for the headers of the first len(heads)
// entries.
func (m *Message) marshal(heads []entryHead) []byte {
	b := make([]byte, m.sizeHeads(heads))
	m.encode(b, 0, heads)
	return b
}

// sizeHeads is size, which also computes the headers of the first
// len(heads) entries into heads for encode.
func (m *Message) sizeHeads(heads []entryHead) int {
	n := m.sizeWithoutEntries()
	if len(heads) > 0 {
		ents := m.Entries[:len(heads)]
		c, l := commonHeads(ents, heads)
		if c < len(ents) {
			l = entryHeads(ents, heads)
		}
		n += l
	}
	if len(m.Entries) > len(heads) {
		n += entriesSize(m.Entries[len(heads):])
	}
	return n
}

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

// entryHead is the header of an entry encoded as field 7 of a Message:
// the bytes before its payload. For an entry of the common shape (one-byte
// type and term, an index under 2^35, a payload that is not nil and is
// shorter than 16 KiB less 16 bytes) it is at most 16 bytes, which two 8-byte stores write: n0 bytes of w0, the tag
// 0x3a, the length and the fields of type and term with the tag of the
// index (08 type 10 term 18); then n1 bytes of w1, the index, the tag of
// the payload (0x22) and its length; first bytes lowest. For another
// entry, n0 is 0 and w0 is the entry's size.
type entryHead struct {
	w0, w1 uint64
	n0, n1 int32
}

// entryHeads computes the headers of ents into heads, which has the same
// length, and returns the length of the encoding of ents as fields 7 of a
// Message. It is the sizing pass of Message.Marshal: working out a
// header's bytes takes the same branches as its length.
func entryHeads(ents []Entry, heads []entryHead) int {
	heads = heads[:len(ents)]
	n := 0
	for k := 0; k < len(ents); k++ {
		c, l := commonHeads(ents[k:], heads[k:])
		n += l
		k += c
		if k == len(ents) {
			break
		}
		l = ents[k].size()
		heads[k] = entryHead{w0: uint64(l)}
		n += 1 + sov(uint64(l)) + l
	}
	return n
}

// commonHeads computes the headers of the entries at the front of ents
// that have the common shape into heads, which is as long as ents, and
// returns how many there are and the length of their encoding as fields 7
// of a Message. It calls nothing, so that its loop keeps everything in
// registers.
func commonHeads(ents []Entry, heads []entryHead) (int, int) {
	heads = heads[:len(ents)]
	n := 0
	for k := range ents {
		e := &ents[k]
		dl := uint64(len(e.Data))
		// The payload's bound keeps the entry's length below 2^14, two
		// bytes of varint.
		if uint64(e.Type)|e.Term >= 1<<7 || e.Data == nil || dl >= 1<<14-16 || e.Index >= 1<<35 {
			return k, n
		}
		// The index, 0x22 (field 4, Data, bytes) and the payload's
		// length.
		x, n1 := e.Index, uint64(1)
		if x >= 1<<7 {
			if x < 1<<14 {
				x, n1 = (x>>7)<<8|x&0x7f|0x80, 2
			} else {
				// Seven bits to a byte, and the continuation bit
				// of every byte but the last.
				n1 = uint64(bits.Len64(x)*9+64) / 64
				x = x&0x7f | (x<<1)&0x7f00 | (x<<2)&0x7f0000 | (x<<3)&0x7f000000 | (x<<4)&0x7f00000000 |
					varintCont[n1&7]
			}
		}
		// Placed after the index by a multiplication: a shift by a
		// variable count wants the CX register, which the loop needs.
		if dl < 1<<7 {
			x |= (dl<<8 | 0x22) * bytePow[n1&7]
			n1 += 2
		} else {
			x |= ((dl>>7)<<16 | (dl&0x7f|0x80)<<8 | 0x22) * bytePow[n1&7]
			n1 += 3
		}
		// 0x3a (field 7, Entries, bytes), the entry's length, then
		// 08 type 10 term 18.
		l := 5 + n1 + dl
		fixed := 0x18<<32 | e.Term<<24 | 0x10<<16 | uint64(e.Type)<<8 | 0x08
		if l < 1<<7 {
			heads[k] = entryHead{w0: fixed<<16 | l<<8 | 0x3a, w1: x, n0: 7, n1: int32(n1)}
			n += 2 + int(l)
		} else {
			heads[k] = entryHead{w0: fixed<<24 | (l>>7)<<16 | (l&0x7f|0x80)<<8 | 0x3a, w1: x, n0: 8, n1: int32(n1)}
			n += 3 + int(l)
		}
	}
	return len(ents), n
}

// encodeEntriesChunked writes ents as fields 7 of a Message at b[i:] and
// returns the index after them, computing their headers a few entries at
// a time into an array on the stack.
func encodeEntriesChunked(b []byte, i int, ents []Entry) int {
	var heads [16]entryHead
	for len(ents) > 0 {
		c := min(len(ents), len(heads))
		entryHeads(ents[:c], heads[:c])
		i = writeEntries(b, i, ents[:c], heads[:c])
		ents = ents[c:]
	}
	return i
}

// writeEntries writes ents, whose headers are heads, as fields 7 of a
// Message at b[i:] and returns the index after them.
//
// An entry of the common shape has its header written with two 8-byte
// stores, each of which may write past it: the bytes beyond are garbage
// that the stores and copies after it overwrite, since the encoding is
// written in order and leaves no byte out. The stores
// stay inside b, because a Message writes at least eight bytes after its
// last entry (the tags and values of Commit, Reject, RejectHint and Vote).
func writeEntries(b []byte, i int, ents []Entry, heads []entryHead) int {
	heads = heads[:len(ents)]
	for k := range ents {
		e, h := &ents[k], &heads[k]
		if h.n0 == 0 {
			b[i] = 0x3a // field 7 (Entries), bytes
			i = e.encode(b, putUvarint(b, i+1, h.w0))
			continue
		}
		put64(b, i, h.w0)
		i += int(h.n0)
		put64(b, i, h.w1)
		i += int(h.n1)
		i += copy(b[i:i+len(e.Data)], e.Data)
	}
	return i
}

// put64 writes v at b[i:i+8], least significant byte first.
func put64(b []byte, i int, v uint64) {
	binary.LittleEndian.PutUint64(b[i:i+8], v)
}

// varintCont[n] holds the continuation bits of a varint of n bytes, n from
// 2 to 5, in the low bytes of a word: 0x80 in each byte but the last.
var varintCont = [8]uint64{2: 0x80, 3: 0x8080, 4: 0x808080, 5: 0x80808080}

// bytePow[n] is 256^n: multiplying by it shifts left by n bytes.
var bytePow = [8]uint64{1, 1 << 8, 1 << 16, 1 << 24, 1 << 32, 1 << 40, 1 << 48, 1 << 56}
