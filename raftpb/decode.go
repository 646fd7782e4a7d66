package raftpb

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unsafe"
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
// What it does differently is allocate less and branch less, and refuse
// inputs that would cost far more memory than their size (see
// ErrDecodeLimit). The Entries and Responses slices are sized once: at the
// first of either field, the message's remaining fields are counted, and
// the slices grow to hold all of them, where appending one by one grew
// them about log2(n) times. Elements are decoded in place in the slice.
// Varints of one and two bytes, which are nearly all tags, lengths and
// enums, take an inlined path.
//
// The payloads of the new entries (their Data) and the message's Context
// share one array, sized by the same count: the sum of their lengths,
// which is at most the input's length, since they are disjoint parts of
// it. So a MsgApp costs two allocations (entries, payloads) whatever its
// number of entries, where it cost one per entry. Each payload is capped
// at its own length (a full slice expression), so that an application
// appending to one entry's Data reallocates it rather than overwriting the
// next entry's. The price: the array lives as long as any one of the
// payloads does, so an application that keeps one entry of a message
// keeps the payloads of all of them.
//
// gogo's generic entry points (proto.Unmarshal, proto.UnmarshalMerge) call
// XXX_Unmarshal, which the generator, once told that these types decode
// themselves, points at gogo's reflection decoder rather than at
// Unmarshal; scripts/genproto.sh points it back
// (TestProtoUnmarshalUsesTheHandWrittenDecoder checks that it does).

// Limits of the Message decoder. Protobuf lets a few bytes of input stand
// for much more memory: an empty Responses element is two bytes on the
// wire and a 160-byte Message in memory, an empty entry two bytes and a
// 48-byte Entry, and each nested Message is a level of recursion. Decoded
// as the generated code did, a megabyte of empty Responses cost 454 MB of
// allocations (the slice's growth included), and a deep enough nesting
// would exhaust the goroutine's stack, which is fatal. A peer, or a
// corrupt frame, must not be able to do that.
//
// The decoder therefore counts the Entries and Responses of each message
// before allocating them, sizes both slices exactly, and keeps a budget:
// the Entry, Message and Snapshot structs that one input allocates may
// take at most MaxDecodeBytesPerByte bytes per byte of input, plus
// decodeSlack bytes so that tiny hand-made inputs such as an empty
// Snapshot field still decode. Every other allocation of the decoder is
// a copy of input bytes (Data, Context) or made by the generated decoder
// of Snapshot, which the same bytes cannot feed twice.
//
// No message that etcd raft or raftkit encodes comes near the limits.
// Their encoders write all ten scalar fields of every Message, 20 bytes at
// least, and the three scalars of every Entry, 6 bytes at least, so a
// nested Message costs at most 160 bytes for 22 bytes of input (7.3 per
// byte), 304 for 34 with an empty Snapshot (8.9 per byte), and an Entry
// 48 for 8 (6 per byte). Responses appear only in the local storage
// messages (MsgStorageAppend, MsgStorageApply), whose responses carry none
// of their own: one level.
const (
	// MaxDecodeBytesPerByte is how many bytes of Entry, Message and
	// Snapshot structs Message.Unmarshal allocates at most per byte of its
	// input (plus a constant 1 KiB); an input that needs more is refused
	// with an error wrapping ErrDecodeLimit.
	MaxDecodeBytesPerByte = 16
	// MaxResponsesDepth is how deep Message.Unmarshal lets Responses nest:
	// the messages in a Message's Responses may carry Responses of their
	// own down to this depth. etcd raft and raftkit use one level.
	MaxResponsesDepth = 4

	decodeSlack  = 1024
	entrySize    = int(unsafe.Sizeof(Entry{}))
	messageSize  = int(unsafe.Sizeof(Message{}))
	snapshotSize = int(unsafe.Sizeof(Snapshot{}))
)

// ErrDecodeLimit is wrapped by the error Message.Unmarshal returns for an
// input beyond its limits (MaxDecodeBytesPerByte, MaxResponsesDepth),
// which the generated decoder of etcd raft accepted. Such an input is
// hostile or corrupt: no encoder of this schema that writes every scalar
// field, as those of etcd raft and raftkit do, produces one.
var ErrDecodeLimit = errors.New("raftpb: message beyond the decoder's limits")

// decoder is the state one call of Message.Unmarshal shares with the
// messages nested in its input.
type decoder struct {
	// budget is how many bytes of structs the decoder may still allocate.
	budget int
}

// decodeBudget returns the budget of an input of n bytes.
func decodeBudget(n int) int {
	if n > (math.MaxInt-decodeSlack)/MaxDecodeBytesPerByte {
		return math.MaxInt
	}
	return n*MaxDecodeBytesPerByte + decodeSlack
}

// charge takes cost bytes from d's budget, or fails if it has not that
// many left.
func (d *decoder) charge(cost int) error {
	if cost > d.budget {
		return fmt.Errorf("%w: it needs more than %d bytes of memory per byte of input",
			ErrDecodeLimit, MaxDecodeBytesPerByte)
	}
	d.budget -= cost
	return nil
}

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

// repeatedFields counts the Entries and Responses fields of the message
// whose remaining fields start at b[i:], up to the first field the decoder
// would refuse (a malformed key, length or varint, or a known field of the
// wrong wire type). The decoder sizes Entries and Responses with it and
// charges them to its budget before it allocates them; for the fields it
// then decodes the counts are exact. It also sums the lengths of the
// entries' Data and of Context (payload), which size the array the decoder
// copies them into; payload is at most len(b)-i, since it counts disjoint
// parts of b[i:].
func repeatedFields(b []byte, i int) (entries, responses, payload int) {
	for i < len(b) {
		key, next, ok := fieldKey(b, i)
		if !ok {
			var err error
			if key, next, err = uvarintSlow(b, i); err != nil || key&7 == 4 || int32(key>>3) <= 0 {
				return
			}
		}
		num, typ := key>>3, key&7
		switch {
		case typ == 2:
			if num < 64 && messageVarints>>num&1 != 0 {
				return
			}
			start, end, err := span(b, next)
			if err != nil {
				return
			}
			switch num {
			case 7:
				entries++
				payload += entryPayload(b[start:end])
			case 12:
				payload += end - start
			case 14:
				responses++
			}
			next = end
		case num == 7 || num == 9 || num == 12 || num == 14:
			return
		case typ == 0:
			_, n, ok := uvarint2(b, next)
			if !ok {
				var err error
				if _, n, err = uvarintSlow(b, next); err != nil {
					return
				}
			}
			next = n
		default:
			if num < 64 && messageVarints>>num&1 != 0 {
				return
			}
			var err error
			if next, err = skip(b, i); err != nil {
				return
			}
		}
		i = next
	}
	return
}

// entryPayload returns the sum of the lengths of the Data fields of the
// encoded Entry b, or len(b) when b holds a field it does not expect (a
// key of several bytes, a wire type other than varint and bytes, a length
// past the end): any result is at most len(b), and it is exact for what
// an encoder writes.
func entryPayload(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		key := b[i]
		i++
		switch {
		case key >= 0x80:
			return len(b)
		case key&7 == 0:
			for i < len(b) && b[i] >= 0x80 {
				i++
			}
			i++
		case key&7 == 2:
			start, end, err := span(b, i)
			if err != nil {
				return len(b)
			}
			if key>>3 == 4 {
				n += end - start
			}
			i = end
		default:
			return len(b)
		}
	}
	return n
}

// fromArena returns src copied into the front of arena, capped at its
// length, and the rest of arena; when arena is too short, or src empty, it
// returns copyBytes(nil, src) and arena unchanged. The result is non-nil.
func fromArena(arena, src []byte) (dst, rest []byte) {
	n := len(src)
	if n == 0 || n > len(arena) {
		return copyBytes(nil, src), arena
	}
	dst = arena[:n:n]
	copy(dst, src)
	return dst, arena[n:]
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
	_, err := m.unmarshal(dAtA, nil)
	return err
}

// unmarshal is Unmarshal, copying a Data that m does not have yet into the
// front of arena when it fits. It returns the rest of arena.
func (m *Entry) unmarshal(b, arena []byte) ([]byte, error) {
	for i := 0; i < len(b); {
		key, next, ok := fieldKey(b, i)
		var err error
		if !ok {
			if key, next, err = fieldKeySlow(b, i, "Entry"); err != nil {
				return arena, err
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
				return arena, err
			}
			i = n
			continue
		}
		switch num {
		case 1, 2, 3:
			return arena, errWireType(typ, entryNames[num])
		case 4:
			if typ != 2 {
				return arena, errWireType(typ, entryNames[num])
			}
			var start int
			if start, next, err = span(b, next); err != nil {
				return arena, err
			}
			if m.Data == nil {
				m.Data, arena = fromArena(arena, b[start:next])
			} else {
				m.Data = copyBytes(m.Data, b[start:next])
			}
		default:
			if next, err = skip(b, i); err != nil {
				return arena, err
			}
		}
		i = next
	}
	return arena, nil
}

// Unmarshal decodes dAtA into m, merging as described at the top of
// decode.go: scalars present overwrite m's, Entries and Responses are
// appended, Snapshot is merged, Data and Context are copied (never
// aliasing dAtA). On an error m holds what was decoded before it.
//
// Unlike the generated decoder, it refuses, with an error wrapping
// ErrDecodeLimit, an input that would cost more memory than
// MaxDecodeBytesPerByte bytes per input byte, or whose Responses nest
// deeper than MaxResponsesDepth; no message etcd raft or raftkit encodes
// comes near either limit (see ErrDecodeLimit).
func (m *Message) Unmarshal(dAtA []byte) error {
	d := decoder{budget: decodeBudget(len(dAtA))}
	return m.unmarshal(dAtA, &d, 0)
}

// unmarshal is Unmarshal for a message nested depth Responses deep, whose
// allocations are charged to d.
func (m *Message) unmarshal(b []byte, d *decoder, depth int) error {
	// entries and responses are, once counted, the number of Entries and
	// Responses fields still to come; counted is false until the first.
	entries, responses, counted := 0, 0, false
	// arena holds, once counted, the room left for the payloads still to
	// come (see the top of this file).
	var arena []byte
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
			if (num == 7 || num == 14) && !counted {
				// Count both repeated fields at the first of them, and
				// charge them before allocating anything.
				counted = true
				var payload int
				entries, responses, payload = repeatedFields(b, i)
				if err = d.charge(entries*entrySize + responses*messageSize); err != nil {
					return err
				}
				if payload > 0 {
					arena = make([]byte, payload)
				}
			}
			switch field := b[start:next]; num {
			case 7:
				if entries == 0 {
					// Past the count, which should not happen: charged
					// alone, so that a miscount costs speed, not safety.
					if err = d.charge(entrySize); err != nil {
						return err
					}
					entries = 1
				}
				if len(m.Entries) == cap(m.Entries) {
					m.Entries = slices.Grow(m.Entries, entries)
				}
				entries--
				m.Entries = append(m.Entries, Entry{})
				arena, err = m.Entries[len(m.Entries)-1].unmarshal(field, arena)
			case 9:
				if m.Snapshot == nil {
					if err = d.charge(snapshotSize); err != nil {
						return err
					}
					m.Snapshot = &Snapshot{}
				}
				err = m.Snapshot.Unmarshal(field)
			case 12:
				if m.Context == nil {
					m.Context, arena = fromArena(arena, field)
				} else {
					m.Context = copyBytes(m.Context, field)
				}
			case 14:
				if depth >= MaxResponsesDepth {
					return fmt.Errorf("%w: Responses nested more than %d deep", ErrDecodeLimit, MaxResponsesDepth)
				}
				if responses == 0 {
					if err = d.charge(messageSize); err != nil {
						return err
					}
					responses = 1
				}
				if len(m.Responses) == cap(m.Responses) {
					m.Responses = slices.Grow(m.Responses, responses)
				}
				responses--
				m.Responses = append(m.Responses, Message{})
				err = m.Responses[len(m.Responses)-1].unmarshal(field, d, depth+1)
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
