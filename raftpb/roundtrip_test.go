package raftpb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// gen draws random raftpb values. Every optional field is sometimes zero,
// sometimes small and sometimes at the edge of its range; bytes fields are
// nil, empty non-nil or filled, so that the nil/empty distinction the wire
// keeps is exercised. Repeated fields that the wire cannot tell apart from
// absent are nil when empty.
type gen struct{ r *rand.Rand }

func (g gen) u64() uint64 {
	switch g.r.IntN(4) {
	case 0:
		return 0
	case 1:
		return uint64(g.r.IntN(300))
	case 2:
		return math.MaxUint64 - uint64(g.r.IntN(3))
	default:
		return g.r.Uint64() >> g.r.IntN(64)
	}
}

func (g gen) i32() int32 {
	switch g.r.IntN(4) {
	case 0:
		return 0
	case 1:
		return int32(g.r.IntN(25))
	case 2:
		return -int32(g.r.IntN(3) + 1) // negative enums take 10 bytes on the wire
	default:
		return int32(g.r.Uint32())
	}
}

func (g gen) bytes() []byte {
	switch g.r.IntN(3) {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		b := make([]byte, 1+g.r.IntN(200))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return b
	}
}

func (g gen) ids() []uint64 {
	n := g.r.IntN(5)
	if n == 0 {
		return nil
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = g.u64()
	}
	return ids
}

func (g gen) entry() Entry {
	return Entry{Term: g.u64(), Index: g.u64(), Type: EntryType(g.i32()), Data: g.bytes()}
}

func (g gen) confState() ConfState {
	return ConfState{Voters: g.ids(), Learners: g.ids(), VotersOutgoing: g.ids(), LearnersNext: g.ids(), AutoLeave: g.r.IntN(2) == 0}
}

func (g gen) snapshotMetadata() SnapshotMetadata {
	return SnapshotMetadata{ConfState: g.confState(), Index: g.u64(), Term: g.u64()}
}

func (g gen) snapshot() Snapshot {
	return Snapshot{Data: g.bytes(), Metadata: g.snapshotMetadata()}
}

func (g gen) message(depth int) Message {
	m := Message{
		Type: MessageType(g.i32()), To: g.u64(), From: g.u64(), Term: g.u64(), LogTerm: g.u64(),
		Index: g.u64(), Commit: g.u64(), Vote: g.u64(), Reject: g.r.IntN(2) == 0,
		RejectHint: g.u64(), Context: g.bytes(),
	}
	for range g.r.IntN(4) {
		m.Entries = append(m.Entries, g.entry())
	}
	if g.r.IntN(3) == 0 {
		s := g.snapshot()
		m.Snapshot = &s
	}
	if depth > 0 {
		for range g.r.IntN(3) {
			m.Responses = append(m.Responses, g.message(depth-1))
		}
	}
	return m
}

func (g gen) hardState() HardState {
	return HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()}
}

func (g gen) confChange() ConfChange {
	return ConfChange{ID: g.u64(), Type: ConfChangeType(g.i32()), NodeID: g.u64(), Context: g.bytes()}
}

func (g gen) confChangeSingle() ConfChangeSingle {
	return ConfChangeSingle{Type: ConfChangeType(g.i32()), NodeID: g.u64()}
}

func (g gen) confChangeV2() ConfChangeV2 {
	cc := ConfChangeV2{Transition: ConfChangeTransition(g.i32()), Context: g.bytes()}
	for range g.r.IntN(4) {
		cc.Changes = append(cc.Changes, g.confChangeSingle())
	}
	return cc
}

func TestRandomValuesRoundTripAndSizeMatchesEncoding(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	types := []struct {
		name string
		make func() (value, empty wireMessage)
	}{
		{"Entry", func() (wireMessage, wireMessage) { v := g.entry(); return &v, &Entry{} }},
		{"SnapshotMetadata", func() (wireMessage, wireMessage) { v := g.snapshotMetadata(); return &v, &SnapshotMetadata{} }},
		{"Snapshot", func() (wireMessage, wireMessage) { v := g.snapshot(); return &v, &Snapshot{} }},
		{"Message", func() (wireMessage, wireMessage) { v := g.message(2); return &v, &Message{} }},
		{"HardState", func() (wireMessage, wireMessage) { v := g.hardState(); return &v, &HardState{} }},
		{"ConfState", func() (wireMessage, wireMessage) { v := g.confState(); return &v, &ConfState{} }},
		{"ConfChange", func() (wireMessage, wireMessage) { v := g.confChange(); return &v, &ConfChange{} }},
		{"ConfChangeSingle", func() (wireMessage, wireMessage) { v := g.confChangeSingle(); return &v, &ConfChangeSingle{} }},
		{"ConfChangeV2", func() (wireMessage, wireMessage) { v := g.confChangeV2(); return &v, &ConfChangeV2{} }},
	}
	for _, tt := range types {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 500; i++ {
				v, got := tt.make()
				data, err := v.Marshal()
				require.NoError(t, err)
				require.Equal(t, len(data), v.Size(), "Size of %+v", v)
				require.NoError(t, got.Unmarshal(data))
				require.Equal(t, v, got)

				// MarshalTo into a larger buffer writes at the front, the
				// way a caller packs several messages into one buffer.
				buf := make([]byte, len(data)+8)
				n, err := v.(interface{ MarshalTo([]byte) (int, error) }).MarshalTo(buf)
				require.NoError(t, err)
				require.Equal(t, data, buf[:n])
			}
		})
	}
}
