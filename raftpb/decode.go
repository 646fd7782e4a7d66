package raftpb

import (
	"fmt"
	"io"
	"slices"
)

// This file decodes Entry and Message by hand; raft.proto turns gogo's
// generated unmarshaler off for these two types. Every follower decodes
// every MsgApp its leader sends, so the decoder is on the hot path.
//
// The results are those of the generated code, for every input, valid or
// not (codec_ref_test.go keeps that code and the tests compare the two):
//
//   - Unmarshal merges into the receiver. A scalar present on the wire
//     overwrites the field; a repeated message (Entries, Responses) is
//     appended to what is there; Snapshot is merged into the existing one
//     or allocated; a bytes field (Data, Context) is copied over the bytes
//     already there, reusing their array.
//   - A bytes field present on the wire is non-nil, even when empty; one
//     absent is left as it was (nil in a fresh value). Bytes are always
//     copied: no result aliases the input, which callers reuse.
//   - Unknown fields, groups included, are skipped and not kept.
//   - Errors are the same values, or messages, at the same points, and the
//     receiver is left as the generated code left it: the fields decoded
//     before the error, and a varint cut short holds the bits read so far.
//   - Varints are read as the generated code read them: up to ten bytes,
//     bits past the 64th dropped, an eleventh byte an ErrIntOverflowRaft;
//     enums keep the low 32 bits; a length that is negative as an int is
//     ErrInvalidLengthRaft, one past the end io.ErrUnexpectedEOF.
//
// What it does differently is allocate less and branch less. The Entries
// slice is sized once: at the first entry, the run of entries that follows
// (encoders write them next to each other) is counted, and the slice grows
// to hold all of them, where appending one by one grew it about log2(n)
// times. Entries are decoded in place in the slice. Varints of one and two
// bytes, which are nearly all tags, lengths and enums, take an inlined
// path. Each entry's Data still gets its own array: one array shared by
// all the entries of a message would save allocations but keep the whole
// message alive as long as any one entry is.
//
// gogo's generic entry points (proto.Unmarshal, proto.UnmarshalMerge) call
// XXX_Unmarshal, which the generator, once told that these types decode
// themselves, points at gogo's reflection decoder rather than at
// Unmarshal; scripts/genproto.sh points it back
// (TestProtoUnmarshalUsesTheHandWrittenDecoder checks that it does).

// uvarint2 reads a varint of one or two bytes at b[i:] and returns its
// value and the index after it; ok is false for anything else (a longer
// varint, the end of b), which uvarintSlow then reads. Nearly all keys,
// lengths, enums and small integers take this path, and it is small
// enough to be inlined.
func uvarint2(b []byte, i int) (v uint64, next int, ok bool) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1, true
	}
	if i+1 < len(b) && b[i+1] < 0x80 {
		// b[i] >= 0x80, since i < len(b) and the first test failed.
		return uint64(b[i]&0x7f) | uint64(b[i+1])<<7, i + 2, true
	}
	return 0, i, false
}

// uvarintSlow reads the varint at b[i:] step for step as the generated
// decoder's loop did: at most ten bytes, the bits shifted past 64 dropped,
// ErrIntOverflowRaft where an eleventh byte would start and
// io.ErrUnexpectedEOF at the end of b. On an error it returns the bits
// read so far, which the generated code had left in the field it was
// decoding.
//
//go:noinline
func uvarintSlow(b []byte, i int) (v uint64, next int, err error) {
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return v, i, ErrIntOverflowRaft
		}
		if i >= len(b) {
			return v, i, io.ErrUnexpectedEOF
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, nil
		}
	}
}

// span reads the length prefix at b[i:] and returns the bounds of the
// bytes it announces.
func span(b []byte, i int) (start, end int, err error) {
	v, i, ok := uvarint2(b, i)
	if !ok {
		if v, i, err = uvarintSlow(b, i); err != nil {
			return 0, 0, err
		}
	}
	n := int(v)
	if n < 0 {
		return 0, 0, ErrInvalidLengthRaft
	}
	end = i + n
	if end < 0 {
		return 0, 0, ErrInvalidLengthRaft
	}
	if end > len(b) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return i, end, nil
}

// copyBytes returns src copied over dst: into a new array of its exact
// length when dst is nil (one allocation, not zeroed first), else into
// dst's array as far as it is large enough. The result is non-nil.
func copyBytes(dst, src []byte) []byte {
	if dst == nil {
		dst = make([]byte, len(src))
		copy(dst, src)
		return dst
	}
	return append(dst[:0], src...)
}

// skip passes over the unknown field whose key starts at b[i:], groups
// included, and returns the index after it.
func skip(b []byte, i int) (int, error) {
	n, err := skipRaft(b[i:])
	if err != nil {
		return 0, err
	}
	if n < 0 || i+n < 0 {
		return 0, ErrInvalidLengthRaft
	}
	if i+n > len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return i + n, nil
}

// entryRun returns the number of well-formed Entries fields (key 0x3a and
// a length that fits) in the run that starts at b[i:]. It is only a
// capacity hint: the decoder checks every field again.
func entryRun(b []byte, i int) int {
	n := 0
	for i < len(b) && b[i] == 0x3a {
		v, j, ok := uvarint2(b, i+1)
		if !ok {
			var err error
			if v, j, err = uvarintSlow(b, i+1); err != nil {
				break
			}
		}
		if v > uint64(len(b)-j) {
			break
		}
		i = j + int(v)
		n++
	}
	return n
}

// Errors of the generated code's wording; cold paths kept out of the
// decoding loops.

// fieldKey reads the key of the field at b[i:] (field number << 3 | wire
// type) if it is one byte long and legal: field numbers 1 to 15, any wire
// type but end-group. It returns the key and the index after it; ok is
// false for anything else, which fieldKeySlow reads (or reports).
func fieldKey(b []byte, i int) (key uint64, next int, ok bool) {
	w := b[i]
	return uint64(w), i + 1, w < 0x80 && w&7 != 4 && w >= 8
}

// fieldKeySlow reads the key at b[i:] when fieldKey cannot: a key of
// several bytes, or an end-group key or an illegal field number, which are
// errors.
func fieldKeySlow(b []byte, i int, msg string) (key uint64, next int, err error) {
	key, next, err = uvarintSlow(b, i)
	switch {
	case err != nil:
		return 0, 0, err
	case key&7 == 4:
		return 0, 0, errEndGroup(msg)
	case int32(key>>3) <= 0:
		return 0, 0, errIllegalTag(msg, int32(key>>3), key)
	}
	return key, next, nil
}

func errEndGroup(msg string) error {
	return fmt.Errorf("proto: %s: wiretype end group for non-group", msg)
}

func errIllegalTag(msg string, num int32, wire uint64) error {
	return fmt.Errorf("proto: %s: illegal tag %d (wire type %d)", msg, num, wire)
}

func errWireType(typ int, name string) error {
	return fmt.Errorf("proto: wrong wireType = %d for field %s", typ, name)
}

// Varint fields of Entry and Message, as bit sets of field numbers, and
// the names the generated code gave them in its errors.
const (
	entryVarints   = 1<<1 | 1<<2 | 1<<3
	messageVarints = 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<8 | 1<<10 | 1<<11 | 1<<13
)

var (
	entryNames   = [...]string{1: "Type", 2: "Term", 3: "Index", 4: "Data"}
	messageNames = [...]string{1: "Type", 2: "To", 3: "From", 4: "Term", 5: "LogTerm", 6: "Index",
		7: "Entries", 8: "Commit", 9: "Snapshot", 10: "Reject", 11: "RejectHint", 12: "Context",
		13: "Vote", 14: "Responses"}
)

// Unmarshal decodes dAtA into m, merging as described at the top of
// decode.go: fields present overwrite m's, Data is copied (never aliasing
// dAtA). On an error m holds what was decoded before it.
func (m *Entry) Unmarshal(dAtA []byte) error {
	b := dAtA
	for i := 0; i < len(b); {
		key, next, ok := fieldKey(b, i)
		var err error
		if !ok {
			if key, next, err = fieldKeySlow(b, i, "Entry"); err != nil {
				return err
			}
		}
		num, typ := int32(key>>3), int(key&7)
		if typ == 0 && num < 64 && entryVarints>>num&1 != 0 {
			v, n, ok := uvarint2(b, next)
			if !ok {
				v, n, err = uvarintSlow(b, next)
			}
			switch num {
			case 1:
				m.Type = EntryType(v)
			case 2:
				m.Term = v
			case 3:
				m.Index = v
			}
			if err != nil {
				return err
			}
			i = n
			continue
		}
		switch num {
		case 1, 2, 3:
			return errWireType(typ, entryNames[num])
		case 4:
			if typ != 2 {
				return errWireType(typ, entryNames[num])
			}
			var start int
			if start, next, err = span(b, next); err != nil {
				return err
			}
			m.Data = copyBytes(m.Data, b[start:next])
		default:
			if next, err = skip(b, i); err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}

// Unmarshal decodes dAtA into m, merging as described at the top of
// decode.go: scalars present overwrite m's, Entries and Responses are
// appended, Snapshot is merged, Data and Context are copied (never
// aliasing dAtA). On an error m holds what was decoded before it.
func (m *Message) Unmarshal(dAtA []byte) error {
	b := dAtA
	for i := 0; i < len(b); {
		key, next, ok := fieldKey(b, i)
		var err error
		if !ok {
			if key, next, err = fieldKeySlow(b, i, "Message"); err != nil {
				return err
			}
		}
		num, typ := int32(key>>3), int(key&7)
		if typ == 0 && num < 64 && messageVarints>>num&1 != 0 {
			v, n, ok := uvarint2(b, next)
			if !ok {
				v, n, err = uvarintSlow(b, next)
			}
			switch num {
			case 1:
				m.Type = MessageType(v)
			case 2:
				m.To = v
			case 3:
				m.From = v
			case 4:
				m.Term = v
			case 5:
				m.LogTerm = v
			case 6:
				m.Index = v
			case 8:
				m.Commit = v
			case 10:
				// The generated code set Reject only once the whole
				// varint was read.
				if err == nil {
					m.Reject = v != 0
				}
			case 11:
				m.RejectHint = v
			case 13:
				m.Vote = v
			}
			if err != nil {
				return err
			}
			i = n
			continue
		}
		switch num {
		case 1, 2, 3, 4, 5, 6, 8, 10, 11, 13:
			return errWireType(typ, messageNames[num])
		case 7, 9, 12, 14:
			if typ != 2 {
				return errWireType(typ, messageNames[num])
			}
			var start int
			if start, next, err = span(b, next); err != nil {
				return err
			}
			switch field := b[start:next]; num {
			case 7:
				if len(m.Entries) == cap(m.Entries) {
					m.Entries = slices.Grow(m.Entries, entryRun(b, i))
				}
				m.Entries = append(m.Entries, Entry{})
				err = m.Entries[len(m.Entries)-1].Unmarshal(field)
			case 9:
				if m.Snapshot == nil {
					m.Snapshot = &Snapshot{}
				}
				err = m.Snapshot.Unmarshal(field)
			case 12:
				m.Context = copyBytes(m.Context, field)
			case 14:
				m.Responses = append(m.Responses, Message{})
				err = m.Responses[len(m.Responses)-1].Unmarshal(field)
			}
		default:
			next, err = skip(b, i)
		}
		if err != nil {
			return err
		}
		i = next
	}
	return nil
}
