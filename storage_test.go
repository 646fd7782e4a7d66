package raft

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// entsAt returns entries at indexes i, i+1, ... with the given terms.
func entsAt(i uint64, terms ...uint64) []pb.Entry {
	ents := make([]pb.Entry, 0, len(terms))
	for n, t := range terms {
		ents = append(ents, pb.Entry{Index: i + uint64(n), Term: t})
	}
	return ents
}

// newStorageWith returns a MemoryStorage whose compaction point has the
// index and term of ents[0] and whose entries are ents[1:].
func newStorageWith(ents []pb.Entry) *MemoryStorage {
	ms := NewMemoryStorage()
	ms.offTerm = ents[0].Term
	ms.ents = append([]pb.Entry(nil), ents[1:]...)
	ms.last.Store(ents[0].Index + uint64(len(ms.ents)))
	return ms
}

// withPoint returns the entries of ms after an entry standing for its
// compaction point, the form newStorageWith takes.
func withPoint(ms *MemoryStorage) []pb.Entry {
	return append([]pb.Entry{{Index: ms.offset(), Term: ms.offTerm}}, ms.live()...)
}

func TestMemoryStorageFreshIsEmpty(t *testing.T) {
	ms := NewMemoryStorage()
	first, err := ms.FirstIndex()
	require.NoError(t, err)
	last, err := ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), first)
	assert.Equal(t, uint64(0), last)

	term, err := ms.Term(0)
	assert.NoError(t, err)
	assert.Equal(t, uint64(0), term)
	_, err = ms.Term(1)
	assert.Equal(t, ErrUnavailable, err)

	_, err = ms.Entries(1, 1, math.MaxUint64)
	assert.Equal(t, ErrUnavailable, err)

	hs, cs, err := ms.InitialState()
	assert.NoError(t, err)
	assert.Equal(t, pb.HardState{}, hs)
	assert.Equal(t, pb.ConfState{}, cs)

	snap, err := ms.Snapshot()
	assert.NoError(t, err)
	assert.Equal(t, pb.Snapshot{}, snap)
}

func TestMemoryStorageErrorTexts(t *testing.T) {
	for err, want := range map[error]string{
		ErrCompacted:                      "requested index is unavailable due to compaction",
		ErrSnapOutOfDate:                  "requested index is older than the existing snapshot",
		ErrUnavailable:                    "requested entry at index is unavailable",
		ErrSnapshotTemporarilyUnavailable: "snapshot is temporarily unavailable",
	} {
		assert.Equal(t, want, err.Error())
	}
}

func TestMemoryStorageTermValidOnFirstIndexMinusOneToLastIndex(t *testing.T) {
	ents := entsAt(3, 3, 4, 5)
	for _, tt := range []struct {
		i       uint64
		wantErr error
		want    uint64
	}{
		{2, ErrCompacted, 0},
		{3, nil, 3},
		{4, nil, 4},
		{5, nil, 5},
		{6, ErrUnavailable, 0},
	} {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			ms := newStorageWith(ents)
			term, err := ms.Term(tt.i)
			assert.Equal(t, tt.wantErr, err)
			assert.Equal(t, tt.want, term)
		})
	}
}

func TestMemoryStorageEntries(t *testing.T) {
	ents := entsAt(3, 3, 4, 5, 6)
	size := func(n int) uint64 { return entsSize(ents[1 : 1+n]) }
	for _, tt := range []struct {
		name        string
		lo, hi, max uint64
		wantErr     error
		want        []pb.Entry
	}{
		{"at the dummy entry", 2, 6, math.MaxUint64, ErrCompacted, nil},
		{"at the compaction point", 3, 4, math.MaxUint64, ErrCompacted, nil},
		{"single", 4, 5, math.MaxUint64, nil, ents[1:2]},
		{"all", 4, 7, math.MaxUint64, nil, ents[1:4]},
		{"empty range", 5, 5, math.MaxUint64, nil, []pb.Entry{}},
		{"zero size returns one entry", 4, 7, 0, nil, ents[1:2]},
		{"size of one entry", 4, 7, size(1), nil, ents[1:2]},
		{"size between one and two entries", 4, 7, size(2) - 1, nil, ents[1:2]},
		{"size of two entries", 4, 7, size(2), nil, ents[1:3]},
		{"size between two and three entries", 4, 7, size(3) - 1, nil, ents[1:3]},
		{"size of three entries", 4, 7, size(3), nil, ents[1:4]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := newStorageWith(ents)
			got, err := ms.Entries(tt.lo, tt.hi, tt.max)
			assert.Equal(t, tt.wantErr, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(got), cap(got), "capacity must equal length")
		})
	}
}

func TestMemoryStorageEntriesOutOfRangeIsAnError(t *testing.T) {
	ms := newStorageWith(entsAt(3, 3, 4, 5, 6))
	for _, tt := range []struct {
		name   string
		lo, hi uint64
		wantIs error
		inMsg  string
	}{
		{"hi past last+1", 4, 8, ErrUnavailable, "[4, 8)"},
		{"lo > hi", 6, 5, nil, "lo > hi"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ms.Entries(tt.lo, tt.hi, math.MaxUint64)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tt.inMsg)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

func TestMemoryStorageEntriesOnlyDummyIsUnavailable(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 5, Term: 2}}))
	_, err := ms.Entries(6, 6, math.MaxUint64)
	assert.Equal(t, ErrUnavailable, err)
}

func TestMemoryStorageAppendingToEntriesResultLeavesStorageIntact(t *testing.T) {
	ms := newStorageWith(entsAt(3, 3, 4, 5, 6))
	got, err := ms.Entries(4, 6, math.MaxUint64)
	require.NoError(t, err)
	_ = append(got, pb.Entry{Index: 6, Term: 99})
	term, err := ms.Term(6)
	require.NoError(t, err)
	assert.Equal(t, uint64(6), term)
}

func TestMemoryStorageLastAndFirstIndex(t *testing.T) {
	ms := newStorageWith(entsAt(3, 3, 4, 5))
	last, err := ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), last)
	first, err := ms.FirstIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), first)

	require.NoError(t, ms.Append(entsAt(6, 5)))
	last, err = ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(6), last)

	require.NoError(t, ms.Compact(4))
	first, err = ms.FirstIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), first)
}

func TestMemoryStorageCompact(t *testing.T) {
	ents := entsAt(3, 3, 4, 5)
	for _, tt := range []struct {
		i        uint64
		wantErr  error
		wantMsg  string
		wantDumm pb.Entry
		wantLen  int
	}{
		{2, ErrCompacted, "", pb.Entry{Index: 3, Term: 3}, 3},
		{3, ErrCompacted, "", pb.Entry{Index: 3, Term: 3}, 3},
		{4, nil, "", pb.Entry{Index: 4, Term: 4}, 2},
		{5, nil, "", pb.Entry{Index: 5, Term: 5}, 1},
		{6, ErrUnavailable, "compact index 6 is out of bound: last index is 5", pb.Entry{Index: 3, Term: 3}, 3},
	} {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			ms := newStorageWith(ents)
			err := ms.Compact(tt.i)
			assert.ErrorIs(t, err, tt.wantErr)
			if tt.wantMsg != "" {
				assert.Contains(t, err.Error(), tt.wantMsg)
			}
			assert.Equal(t, tt.wantDumm, withPoint(ms)[0])
			assert.Len(t, withPoint(ms), tt.wantLen)
		})
	}
}

func TestMemoryStorageCompactKeepsEarlierEntriesResults(t *testing.T) {
	ms := newStorageWith(entsAt(3, 3, 4, 5, 6))
	got, err := ms.Entries(4, 7, math.MaxUint64)
	require.NoError(t, err)
	want := append([]pb.Entry(nil), got...)
	require.NoError(t, ms.Compact(5))
	require.NoError(t, ms.Append(entsAt(6, 9, 9)))
	assert.Equal(t, want, got)
}

func TestMemoryStorageCompactFarBehindDoesNotCopyTheTail(t *testing.T) {
	terms := make([]uint64, 1001)
	for i := range terms {
		terms[i] = 1
	}
	ms := newStorageWith(entsAt(0, terms...)) // entries 1..1000
	next := uint64(1)
	allocs := testing.AllocsPerRun(100, func() {
		require.NoError(t, ms.Compact(next))
		next++
	})
	assert.Zero(t, allocs, "compacting one entry of a long log copies nothing")
	first, _ := ms.FirstIndex()
	assert.Equal(t, next, first)
	term, err := ms.Term(next - 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), term, "the compaction point keeps its term")
}

func TestMemoryStorageCompactReleasesTheCompactedEntries(t *testing.T) {
	terms := make([]uint64, 101)
	for i := range terms {
		terms[i] = 1
	}
	ms := newStorageWith(entsAt(0, terms...)) // entries 1..100
	array := &ms.ents[0]
	require.NoError(t, ms.Compact(30))
	assert.Equal(t, int32(30), ms.dead, "fewer dead than live: resliced")
	require.NoError(t, ms.Compact(60))
	assert.Zero(t, ms.dead, "more dead than live: the live ones moved")
	assert.Len(t, ms.ents, 40)
	assert.Same(t, array, &ms.ents[0], "to the start of their array, which no Entries result shares")
	assert.Equal(t, make([]pb.Entry, 60), ms.ents[40:100], "the entries behind them cleared")
	got, err := ms.Entries(61, 101, math.MaxUint64)
	require.NoError(t, err)
	assert.Len(t, got, 40)
	assert.Equal(t, uint64(61), got[0].Index)
}

func TestMemoryStorageCompactedAtASteadyPaceAppendsWithoutGrowing(t *testing.T) {
	ms := NewMemoryStorage()
	for i := uint64(1); i <= 80; i++ {
		require.NoError(t, ms.Append([]pb.Entry{{Index: i, Term: 1}}))
	}
	// Keep 20 of 80, as an application that compacts every 60 entries.
	require.NoError(t, ms.Compact(60))
	require.Zero(t, ms.dead, "the live entries moved")
	array := &ms.ents[:cap(ms.ents)][cap(ms.ents)-1]
	for i := uint64(81); i <= 140; i++ {
		require.NoError(t, ms.Append([]pb.Entry{{Index: i, Term: 1}}))
	}
	assert.Len(t, ms.live(), 80)
	assert.Same(t, array, &ms.ents[:cap(ms.ents)][cap(ms.ents)-1], "the next 60 entries fit in the array the compaction left")
}

// A log compacted at a steady pace whose entries nobody read through
// Entries (a follower's, whose committed entries come from raft's unstable
// log) moves its live entries to the start of its own array: compacting
// allocates nothing. Once Entries has handed out a slice of the array, the
// next move is to a new array.
func TestMemoryStorageCompactReusesAnArrayNeverHandedOut(t *testing.T) {
	ms := NewMemoryStorage()
	data := []byte("x")
	next := uint64(1)
	appendN := func(n int) {
		for ; n > 0; n-- {
			require.NoError(t, ms.Append([]pb.Entry{{Index: next, Term: 1, Data: data}}))
			next++
		}
	}
	appendN(80)
	cycle := func() {
		appendN(60)
		require.NoError(t, ms.Compact(next-21)) // keep 20
	}
	cycle()
	assert.Zero(t, testing.AllocsPerRun(20, cycle), "appends and compactions at a steady pace")

	array := &ms.ents[0]
	got, err := ms.Entries(next-5, next, math.MaxUint64)
	require.NoError(t, err)
	want := append([]pb.Entry(nil), got...)
	cycle()
	assert.NotSame(t, array, &ms.ents[0], "a new array once a slice was handed out")
	assert.Equal(t, want, got, "the slice handed out is intact")
	array = &ms.ents[0]
	assert.Zero(t, testing.AllocsPerRun(20, cycle), "then the new array is reused")
	assert.Same(t, array, &ms.ents[0])
}

// TestMemoryStorageMovesKeepHandedOutSlicesIntact runs random appends
// (some overwriting), compactions, snapshots and reads through Entries,
// and checks after each one that every slice Entries returned still holds
// what it held, that the live entries are those of a model, and that no
// slot behind the last entry refers to a payload.
func TestMemoryStorageMovesKeepHandedOutSlicesIntact(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 20))
	type handed struct{ got, want []pb.Entry }
	for run := 0; run < 300; run++ {
		ms := NewMemoryStorage()
		var off uint64
		var model []pb.Entry // the entries after the compaction point
		var term uint64
		var kept []handed
		last := func() uint64 { return off + uint64(len(model)) }
		for step := 0; step < 80; step++ {
			switch op := rnd.IntN(20); {
			case op < 12: // append, mostly at the end, sometimes overwriting
				from := last() + 1
				if rnd.IntN(4) == 0 {
					from = max(1, off+uint64(rnd.IntN(int(last()-off)+3))-1)
					from = min(from, last()+1)
				}
				var ents []pb.Entry
				for n := 1 + rnd.IntN(6); n > 0; n-- {
					term += uint64(rnd.IntN(2))
					i := from + uint64(len(ents))
					ents = append(ents, pb.Entry{Index: i, Term: max(term, 1), Data: []byte(fmt.Sprint(run, step, i))})
				}
				require.NoError(t, ms.Append(ents))
				for _, e := range ents {
					if e.Index > off {
						model = append(model[:e.Index-off-1], e)
					}
				}
			case op < 16: // compact
				if last() == off {
					continue
				}
				i := off + 1 + uint64(rnd.IntN(int(last()-off)))
				require.NoError(t, ms.Compact(i))
				model = append([]pb.Entry(nil), model[i-off:]...)
				off = i
			case op < 17: // apply a snapshot
				i := last() + uint64(rnd.IntN(3))
				if i <= off {
					continue
				}
				term++
				require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: term}}))
				off, model = i, nil
			default: // read
				if last() == off {
					continue
				}
				lo := off + 1 + uint64(rnd.IntN(int(last()-off)))
				hi := lo + 1 + uint64(rnd.IntN(int(last()-lo)+1))
				got, err := ms.Entries(lo, hi, math.MaxUint64)
				require.NoError(t, err)
				kept = append(kept, handed{got, append([]pb.Entry(nil), got...)})
			}
			for k, h := range kept {
				require.Equal(t, h.want, h.got, "run %d step %d: slice %d handed out", run, step, k)
			}
			require.Equal(t, len(model), len(ms.live()), "run %d step %d", run, step)
			if len(model) > 0 {
				require.Equal(t, model, ms.live(), "run %d step %d", run, step)
			}
			for k, e := range ms.ents[len(ms.ents):cap(ms.ents)] {
				require.Zero(t, e, "run %d step %d: slot %d behind the last entry", run, step, k)
			}
		}
	}
}

func TestMemoryStorageCompactAfterABurstKeepsLittleRoom(t *testing.T) {
	terms := make([]uint64, 1001)
	for i := range terms {
		terms[i] = 1
	}
	ms := newStorageWith(entsAt(0, terms...)) // entries 1..1000
	require.NoError(t, ms.Compact(990))
	assert.Len(t, ms.live(), 10)
	assert.Equal(t, 50, cap(ms.ents), "room for four times the live entries, not for the 990 compacted")
}

// TestMemoryStorageFitsItsSizeClass pins down the size of a MemoryStorage:
// IdleGroupsThreeNodes counts three per group, and the next size class is
// 240 bytes.
func TestMemoryStorageFitsItsSizeClass(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(MemoryStorage{}), uintptr(224))
}

func TestMemoryStorageCreateSnapshot(t *testing.T) {
	ents := entsAt(3, 3, 4, 5)
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	data := []byte("data")
	for _, tt := range []struct {
		name    string
		i       uint64
		wantErr error
		want    pb.Snapshot
	}{
		{"at 4", 4, nil, pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: 4, Term: 4, ConfState: *cs}}},
		{"at last", 5, nil, pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: 5, Term: 5, ConfState: *cs}}},
		{"past last", 6, ErrUnavailable, pb.Snapshot{}},
		{"compacted", 2, ErrCompacted, pb.Snapshot{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := newStorageWith(ents)
			snap, err := ms.CreateSnapshot(tt.i, cs, data)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, snap)
			if err == nil {
				got, err := ms.Snapshot()
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestMemoryStorageCreateSnapshotAtOrBelowCurrentIsOutOfDate(t *testing.T) {
	ms := newStorageWith(entsAt(3, 3, 4, 5, 6))
	_, err := ms.CreateSnapshot(5, nil, nil)
	require.NoError(t, err)
	for _, i := range []uint64{4, 5} {
		_, err := ms.CreateSnapshot(i, nil, nil)
		assert.Equal(t, ErrSnapOutOfDate, err)
	}
}

func TestMemoryStorageCreateSnapshotWithoutConfStateKeepsIt(t *testing.T) {
	ms := newStorageWith(entsAt(3, 3, 4, 5, 6))
	cs := pb.ConfState{Voters: []uint64{1}}
	_, err := ms.CreateSnapshot(4, &cs, nil)
	require.NoError(t, err)
	snap, err := ms.CreateSnapshot(5, nil, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, cs, snap.Metadata.ConfState)
	_, got, err := ms.InitialState()
	require.NoError(t, err)
	assert.Equal(t, cs, got)
}

func TestMemoryStorageApplySnapshot(t *testing.T) {
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
	snap := func(i, term uint64) pb.Snapshot {
		return pb.Snapshot{Data: []byte("data"), Metadata: pb.SnapshotMetadata{Index: i, Term: term, ConfState: cs}}
	}
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1, 2)))

	require.NoError(t, ms.ApplySnapshot(snap(4, 4)))
	assert.Equal(t, []pb.Entry{{Index: 4, Term: 4}}, withPoint(ms))
	got, err := ms.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, snap(4, 4), got)
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	assert.Equal(t, uint64(5), first)
	assert.Equal(t, uint64(4), last)
	_, gotCS, _ := ms.InitialState()
	assert.Equal(t, cs, gotCS)

	assert.Equal(t, ErrSnapOutOfDate, ms.ApplySnapshot(snap(3, 3)))
	assert.Equal(t, ErrSnapOutOfDate, ms.ApplySnapshot(snap(4, 4)))
	require.NoError(t, ms.ApplySnapshot(snap(10, 5)))
	assert.Equal(t, []pb.Entry{{Index: 10, Term: 5}}, withPoint(ms))
}

func TestMemoryStorageApplyIndexZeroSnapshotOnFreshStorageIsOutOfDate(t *testing.T) {
	// Reference v3.6 behaviour, kept for compatibility.
	ms := NewMemoryStorage()
	err := ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{ConfState: pb.ConfState{Voters: []uint64{1}}}})
	assert.Equal(t, ErrSnapOutOfDate, err)
}

func TestMemoryStorageSetHardState(t *testing.T) {
	ms := NewMemoryStorage()
	hs := pb.HardState{Term: 3, Vote: 2, Commit: 5}
	require.NoError(t, ms.SetHardState(hs))
	got, _, err := ms.InitialState()
	require.NoError(t, err)
	assert.Equal(t, hs, got)
}

// TestMemoryStorageAppend: a batch is appended after the compaction point,
// replacing any conflicting tail; one that is not consecutive, leaves a gap,
// or whose terms decrease (within the batch or from the entry it follows)
// is refused with an error and changes nothing.
func TestMemoryStorageAppend(t *testing.T) {
	ents := entsAt(3, 3, 4, 5)
	for _, tt := range []struct {
		name    string
		app     []pb.Entry
		wantErr string
		want    []pb.Entry
	}{
		{"nothing", nil, "", entsAt(3, 3, 4, 5)},
		{"same entries", entsAt(3, 3, 4, 5), "", entsAt(3, 3, 4, 5)},
		{"replace the tail", entsAt(3, 3, 6, 6), "", entsAt(3, 3, 6, 6)},
		{"extend", entsAt(3, 3, 4, 5, 5), "", entsAt(3, 3, 4, 5, 5)},
		{"all below first index are ignored", entsAt(1, 1, 1), "", entsAt(3, 3, 4, 5)},
		{"prefix below first index is ignored", entsAt(2, 3, 3, 6, 6), "", entsAt(3, 3, 6, 6)},
		{"truncate at first index", entsAt(4, 5), "", entsAt(3, 3, 5)},
		{"contiguous", entsAt(6, 5), "", entsAt(3, 3, 4, 5, 5)},
		{"gap", entsAt(7, 5), "missing log entry [last: 5, append at: 7]", entsAt(3, 3, 4, 5)},
		{"not consecutive", []pb.Entry{{Index: 6, Term: 5}, {Index: 8, Term: 5}},
			"not consecutive: index 8 follows 6", entsAt(3, 3, 4, 5)},
		{"not consecutive past MaxUint64", []pb.Entry{{Index: math.MaxUint64, Term: 5}, {Index: 0, Term: 5}},
			"not consecutive: index 0 follows 18446744073709551615", entsAt(3, 3, 4, 5)},
		{"terms decrease in the batch", entsAt(5, 5, 6, 4),
			"terms decrease: entry 7 has term 4, below the term 6 of entry 6", entsAt(3, 3, 4, 5)},
		{"terms decrease in the batch, below the first index", entsAt(2, 4, 3, 4, 5),
			"terms decrease: entry 3 has term 3, below the term 4 of entry 2", entsAt(3, 3, 4, 5)},
		{"terms decrease from the preceding entry", entsAt(5, 3, 5),
			"terms decrease: entry 5 has term 3, below the term 4 of entry 4", entsAt(3, 3, 4, 5)},
		{"terms decrease from the compaction point", entsAt(4, 2),
			"terms decrease: entry 4 has term 2, below the term 3 of entry 3", entsAt(3, 3, 4, 5)},
		{"equal terms", entsAt(6, 5, 5, 5), "", entsAt(3, 3, 4, 5, 5, 5, 5)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := newStorageWith(ents)
			err := ms.Append(tt.app)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.want, withPoint(ms))
		})
	}
}

func TestMemoryStorageAppendTruncationKeepsEarlierEntriesResults(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1, 1, 1)))
	got, err := ms.Entries(1, 5, math.MaxUint64)
	require.NoError(t, err)
	want := append([]pb.Entry(nil), got...)

	require.NoError(t, ms.Append(entsAt(3, 2, 2, 2)))
	assert.Equal(t, want, got, "a truncating append must not write into returned slices")
	now, err := ms.Entries(1, 6, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, entsAt(1, 1, 1, 2, 2, 2), now)
}

func TestMemoryStorageConcurrentUse(t *testing.T) {
	ms := NewMemoryStorage()
	const n = 200
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= n; i++ {
			assert.NoError(t, ms.Append([]pb.Entry{{Index: i, Term: 1}}))
			assert.NoError(t, ms.SetHardState(pb.HardState{Term: 1, Commit: i}))
			if i%50 == 0 {
				_, err := ms.CreateSnapshot(i-10, nil, nil)
				assert.NoError(t, err)
				assert.NoError(t, ms.Compact(i-10))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			first, err := ms.FirstIndex()
			assert.NoError(t, err)
			last, err := ms.LastIndex()
			assert.NoError(t, err)
			if last >= first {
				ents, err := ms.Entries(first, last+1, math.MaxUint64)
				if !errors.Is(err, ErrCompacted) {
					assert.NoError(t, err)
					assert.NotEmpty(t, ents)
				}
			}
			_, err = ms.Term(last)
			if !errors.Is(err, ErrCompacted) {
				assert.NoError(t, err)
			}
			_, _, err = ms.InitialState()
			assert.NoError(t, err)
			_, err = ms.Snapshot()
			assert.NoError(t, err)
		}
	}()
	wg.Wait()
	last, err := ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(n), last)
}

// TestMemoryStorageLastIndexFollowsEveryWrite checks LastIndex, which
// reads an atomic copy of the last index without the lock, and the
// compaction point derived from it (FirstIndex, Term), against a model of
// the log after each of a random sequence of appends (some overwriting,
// some partly compacted), compactions, snapshots applied and created.
func TestMemoryStorageLastIndexFollowsEveryWrite(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20, 6))
	for run := 0; run < 200; run++ {
		ms := NewMemoryStorage()
		// The model: the compaction point and the terms of the entries
		// after it.
		var off, offTerm, snapIndex, term uint64
		var terms []uint64
		last := func() uint64 { return off + uint64(len(terms)) }
		for step := 0; step < 50; step++ {
			switch op := rnd.IntN(10); {
			case op < 6: // append, from up to two before the first index to the end
				from := max(1, off+uint64(rnd.IntN(int(last()-off)+3))-1)
				from = min(from, last()+1)
				var ents []pb.Entry
				for n := 1 + rnd.IntN(4); n > 0; n-- {
					term += uint64(rnd.IntN(2))
					ents = append(ents, pb.Entry{Index: from + uint64(len(ents)), Term: max(term, 1)})
				}
				require.NoError(t, ms.Append(ents))
				for _, e := range ents {
					if e.Index <= off {
						continue // compacted
					}
					terms = append(terms[:e.Index-off-1], e.Term)
				}
			case op < 8: // compact
				if last() == off {
					continue
				}
				i := off + 1 + uint64(rnd.IntN(int(last()-off)))
				require.NoError(t, ms.Compact(i))
				offTerm, terms = terms[i-off-1], terms[i-off:]
				off = i
			case op < 9: // apply a snapshot past the current one
				i := snapIndex + 1 + uint64(rnd.IntN(max(0, int(last())-int(snapIndex))+2))
				term++
				require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: term}}))
				snapIndex, off, offTerm, terms = i, i, term, nil
			default: // create a snapshot: the log stays
				if last() <= snapIndex || last() == off {
					continue
				}
				i := max(snapIndex+1, off) + uint64(rnd.IntN(int(last()-max(snapIndex+1, off))+1))
				_, err := ms.CreateSnapshot(i, nil, nil)
				require.NoError(t, err)
				snapIndex = i
			}
			li, err := ms.LastIndex()
			require.NoError(t, err)
			require.Equal(t, last(), li, "run %d step %d", run, step)
			fi, err := ms.FirstIndex()
			require.NoError(t, err)
			require.Equal(t, off+1, fi, "run %d step %d", run, step)
			for i := off; i <= last(); i++ {
				want := offTerm
				if i > off {
					want = terms[i-off-1]
				}
				got, err := ms.Term(i)
				require.NoError(t, err)
				require.Equal(t, want, got, "run %d step %d: term of %d", run, step, i)
			}
		}
	}
}
