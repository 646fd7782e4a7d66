package compat

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	ourpb "github.com/raftkit/raft/raftpb"
)

// diffGen draws random Messages and Entries for the differential test of
// raftpb's hand-written encoder against etcd's generated one. Every field is
// sometimes absent or zero, sometimes small and sometimes at the edge of its
// range; bytes fields are nil, empty non-nil or filled; repeated fields are
// nil, empty non-nil (which the wire cannot tell from nil) or filled.
type diffGen struct{ r *rand.Rand }

func (g diffGen) u64() uint64 {
	switch g.r.IntN(5) {
	case 0:
		return 0
	case 1:
		return uint64(g.r.IntN(130))
	case 2:
		return uint64(1<<14 - 2 + g.r.IntN(4)) // around the 2/3-byte varint edge
	case 3:
		return math.MaxUint64 - uint64(g.r.IntN(3))
	default:
		return g.r.Uint64() >> g.r.IntN(64)
	}
}

func (g diffGen) i32() int32 {
	switch g.r.IntN(4) {
	case 0:
		return 0
	case 1:
		return int32(g.r.IntN(25))
	case 2:
		return -int32(g.r.IntN(3) + 1)
	default:
		return int32(g.r.Uint32())
	}
}

func (g diffGen) bytes() []byte {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return make([]byte, 120+g.r.IntN(20)) // length prefix of one or two bytes
	default:
		b := make([]byte, 1+g.r.IntN(300))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return b
	}
}

func (g diffGen) ids() []uint64 {
	n := g.r.IntN(4)
	if n == 0 {
		return nil
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = g.u64()
	}
	return ids
}

func (g diffGen) entry() ourpb.Entry {
	return ourpb.Entry{Term: g.u64(), Index: g.u64(), Type: ourpb.EntryType(g.i32()), Data: g.bytes()}
}

func (g diffGen) message(depth int) ourpb.Message {
	m := ourpb.Message{
		Type: ourpb.MessageType(g.i32()), To: g.u64(), From: g.u64(), Term: g.u64(), LogTerm: g.u64(),
		Index: g.u64(), Commit: g.u64(), Vote: g.u64(), Reject: g.r.IntN(2) == 0,
		RejectHint: g.u64(), Context: g.bytes(),
	}
	switch n := g.r.IntN(6); n {
	case 0:
	case 1:
		m.Entries = []ourpb.Entry{}
	default:
		for range n * n {
			m.Entries = append(m.Entries, g.entry())
		}
	}
	if g.r.IntN(3) == 0 {
		m.Snapshot = &ourpb.Snapshot{Data: g.bytes(), Metadata: ourpb.SnapshotMetadata{
			Index: g.u64(), Term: g.u64(),
			ConfState: ourpb.ConfState{Voters: g.ids(), Learners: g.ids(), VotersOutgoing: g.ids(),
				LearnersNext: g.ids(), AutoLeave: g.r.IntN(2) == 0},
		}}
	}
	if depth > 0 {
		switch n := g.r.IntN(4); n {
		case 0:
		case 1:
			m.Responses = []ourpb.Message{}
		default:
			for range n - 1 {
				m.Responses = append(m.Responses, g.message(depth-1))
			}
		}
	}
	return m
}

// toEtcdEntry and toEtcdMessage copy a value field by field, keeping nil
// and empty slices apart.
func toEtcdEntry(e ourpb.Entry) etcdpb.Entry {
	return etcdpb.Entry{Term: e.Term, Index: e.Index, Type: etcdpb.EntryType(e.Type), Data: e.Data}
}

func toEtcdMessage(m ourpb.Message) etcdpb.Message {
	out := etcdpb.Message{
		Type: etcdpb.MessageType(m.Type), To: m.To, From: m.From, Term: m.Term, LogTerm: m.LogTerm,
		Index: m.Index, Commit: m.Commit, Vote: m.Vote, Reject: m.Reject, RejectHint: m.RejectHint,
		Context: m.Context,
	}
	if m.Entries != nil {
		out.Entries = make([]etcdpb.Entry, len(m.Entries))
		for i, e := range m.Entries {
			out.Entries[i] = toEtcdEntry(e)
		}
	}
	if s := m.Snapshot; s != nil {
		cs := s.Metadata.ConfState
		out.Snapshot = &etcdpb.Snapshot{Data: s.Data, Metadata: etcdpb.SnapshotMetadata{
			Index: s.Metadata.Index, Term: s.Metadata.Term,
			ConfState: etcdpb.ConfState{Voters: cs.Voters, Learners: cs.Learners,
				VotersOutgoing: cs.VotersOutgoing, LearnersNext: cs.LearnersNext, AutoLeave: cs.AutoLeave},
		}}
	}
	if m.Responses != nil {
		out.Responses = make([]etcdpb.Message, len(m.Responses))
		for i, r := range m.Responses {
			out.Responses[i] = toEtcdMessage(r)
		}
	}
	return out
}

// ourEncodings returns m encoded by Marshal, by MarshalTo at the front of a
// larger buffer and by MarshalToSizedBuffer at the end of one.
func ourEncodings(t *testing.T, m interface {
	Marshal() ([]byte, error)
	MarshalTo([]byte) (int, error)
	MarshalToSizedBuffer([]byte) (int, error)
	Size() int
}) map[string][]byte {
	t.Helper()
	b, err := m.Marshal()
	require.NoError(t, err)
	require.Equal(t, len(b), m.Size())
	buf := make([]byte, len(b)+5)
	n, err := m.MarshalTo(buf)
	require.NoError(t, err)
	to := buf[:n]
	buf = make([]byte, len(b)+5)
	n, err = m.MarshalToSizedBuffer(buf)
	require.NoError(t, err)
	return map[string][]byte{"Marshal": b, "MarshalTo": to, "MarshalToSizedBuffer": buf[len(buf)-n:]}
}

func TestCodecDifferentialAgainstEtcd(t *testing.T) {
	g := diffGen{rand.New(rand.NewPCG(11, 12))}
	for i := 0; i < 3000; i++ {
		e := g.entry()
		ee := toEtcdEntry(e)
		want, err := ee.Marshal()
		require.NoError(t, err)
		for how, got := range ourEncodings(t, &e) {
			require.Equal(t, want, got, "Entry %s of %+v", how, e)
		}
		var ourE ourpb.Entry
		require.NoError(t, ourE.Unmarshal(want))
		var etcdE etcdpb.Entry
		require.NoError(t, etcdE.Unmarshal(want))
		require.Equal(t, toEtcdEntry(ourE), etcdE, "decodings of %x", want)

		m := g.message(2)
		em := toEtcdMessage(m)
		want, err = em.Marshal()
		require.NoError(t, err)
		require.Equal(t, em.Size(), m.Size())
		for how, got := range ourEncodings(t, &m) {
			require.Equal(t, want, got, "Message %s of %+v", how, m)
		}

		// Each library decodes the other's bytes (the same bytes, as just
		// checked) to the same value, which re-encodes to them.
		var ourM ourpb.Message
		require.NoError(t, ourM.Unmarshal(want))
		var etcdM etcdpb.Message
		require.NoError(t, etcdM.Unmarshal(want))
		require.Equal(t, toEtcdMessage(ourM), etcdM, "decodings of %x", want)
		again, err := ourM.Marshal()
		require.NoError(t, err)
		require.Equal(t, want, again)
	}
}

// mutate returns a copy of data with one to three random edits: a cut, a
// byte replaced by a random or a telling one (a key, a continuation byte,
// a group or fixed-size wire type), bytes inserted, deleted or appended.
func mutate(r *rand.Rand, data []byte) []byte {
	telling := []byte{0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x22, 0x3a, 0x4a, 0x62, 0x72,
		0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x78, 0x7a, 0x7b}
	b := append([]byte(nil), data...)
	for n := 1 + r.IntN(3); n > 0; n-- {
		pos := r.IntN(len(b) + 1)
		switch r.IntN(5) {
		case 0:
			b = b[:pos]
		case 1:
			if pos < len(b) {
				b[pos] = byte(r.Uint32())
			}
		case 2:
			if pos < len(b) {
				b[pos] = telling[r.IntN(len(telling))]
			}
		case 3:
			b = append(b[:pos], append([]byte{telling[r.IntN(len(telling))]}, b[pos:]...)...)
		default:
			b = append(b[:pos], b[min(len(b), pos+1+r.IntN(4)):]...)
		}
	}
	return b
}

// TestDecodeDifferentialAgainstEtcdOnMalformedInput feeds both libraries'
// decoders the same damaged encodings: they must fail on the same inputs,
// with the same error text, and otherwise decode the same values; after a
// failure they must have kept the same partial values too.
func TestDecodeDifferentialAgainstEtcdOnMalformedInput(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	g := diffGen{r}
	for i := 0; i < 4000; i++ {
		var data []byte
		var err error
		if i%2 == 0 {
			m := g.message(2)
			data, err = m.Marshal()
		} else {
			e := g.entry()
			data, err = e.Marshal()
		}
		require.NoError(t, err)
		data = mutate(r, data)

		var ourM ourpb.Message
		var etcdM etcdpb.Message
		ourErr, etcdErr := ourM.Unmarshal(data), etcdM.Unmarshal(data)
		if errors.Is(ourErr, ourpb.ErrDecodeLimit) {
			requireBeyondDecodeLimits(t, data, &etcdM, etcdErr)
			continue
		}
		require.Equal(t, etcdErr == nil, ourErr == nil, "Message from %x: etcd %v, ours %v", data, etcdErr, ourErr)
		if etcdErr != nil {
			require.Equal(t, etcdErr.Error(), ourErr.Error(), "Message from %x", data)
		}
		require.Equal(t, etcdM, toEtcdMessage(ourM), "Message from %x", data)

		var ourE ourpb.Entry
		var etcdE etcdpb.Entry
		ourErr, etcdErr = ourE.Unmarshal(data), etcdE.Unmarshal(data)
		require.Equal(t, etcdErr == nil, ourErr == nil, "Entry from %x: etcd %v, ours %v", data, etcdErr, ourErr)
		if etcdErr != nil {
			require.Equal(t, etcdErr.Error(), ourErr.Error(), "Entry from %x", data)
		}
		require.Equal(t, etcdE, toEtcdEntry(ourE), "Entry from %x", data)
	}
}

// decodeCost returns the bytes of Entry, Message and Snapshot structs that
// m's decoding allocated, which raftpb's decoder charges to its budget,
// and how deep m's Responses nest.
func decodeCost(m *etcdpb.Message) (cost, depth int) {
	const entrySize, messageSize, snapshotSize = 48, 160, 144 // pinned by raftpb's sizes_test.go
	cost = len(m.Entries)*entrySize + len(m.Responses)*messageSize
	if m.Snapshot != nil {
		cost += snapshotSize
	}
	for i := range m.Responses {
		c, d := decodeCost(&m.Responses[i])
		cost += c
		depth = max(depth, d+1)
	}
	return cost, depth
}

// requireBeyondDecodeLimits fails unless data, which raftpb refused with
// ErrDecodeLimit, is beyond those limits: etcd fails on it too, or the
// value it decodes costs more than raftpb.MaxDecodeBytesPerByte bytes per
// byte of input (plus 1 KiB) or nests deeper than raftpb.MaxResponsesDepth.
// README.md lists the limits as a difference on purpose.
func requireBeyondDecodeLimits(t *testing.T, data []byte, etcdM *etcdpb.Message, etcdErr error) {
	t.Helper()
	if etcdErr != nil {
		return
	}
	cost, depth := decodeCost(etcdM)
	require.True(t, cost > ourpb.MaxDecodeBytesPerByte*len(data)+1024 || depth > ourpb.MaxResponsesDepth,
		"raftpb refused %x, which costs %d bytes and nests %d deep", data, cost, depth)
}

// TestDecodeLimitsAreTheOnlyDecodingDifference pins down where raftpb's
// decoder parts from etcd's on purpose: inputs that cost far more memory
// than their size, or nest Responses deeper than MaxResponsesDepth, are
// refused; the costliest messages etcd's encoder writes are not.
func TestDecodeLimitsAreTheOnlyDecodingDifference(t *testing.T) {
	nested := func(depth int) []byte {
		var b []byte
		for range depth {
			b = append([]byte{0x72, byte(len(b))}, b...)
		}
		return b
	}
	for name, data := range map[string][]byte{
		"empty responses":       bytes.Repeat([]byte{0x72, 0x00}, 1<<14),
		"empty entries":         bytes.Repeat([]byte{0x3a, 0x00}, 1<<14),
		"responses nested deep": nested(ourpb.MaxResponsesDepth + 1),
	} {
		var ourM ourpb.Message
		var etcdM etcdpb.Message
		ourErr, etcdErr := ourM.Unmarshal(data), etcdM.Unmarshal(data)
		require.NoError(t, etcdErr, name)
		require.ErrorIs(t, ourErr, ourpb.ErrDecodeLimit, name)
		requireBeyondDecodeLimits(t, data, &etcdM, etcdErr)
	}

	// etcd's encoder writes every scalar of a Message and an Entry, so
	// that even empty ones stay within the limits.
	var costly etcdpb.Message
	costly.Entries = make([]etcdpb.Entry, 5000)
	costly.Responses = make([]etcdpb.Message, 5000)
	for i := range costly.Responses {
		costly.Responses[i].Snapshot = &etcdpb.Snapshot{}
		costly.Responses[i].Responses = []etcdpb.Message{{Entries: make([]etcdpb.Entry, 2)}}
	}
	data, err := costly.Marshal()
	require.NoError(t, err)
	var ourM ourpb.Message
	require.NoError(t, ourM.Unmarshal(data))
	require.Equal(t, costly, toEtcdMessage(ourM))
}
