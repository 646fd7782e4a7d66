package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

func snapAt(i, term uint64) *pb.Snapshot {
	return &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: term}}
}

// newUnstable returns an unstable log holding ents and snap (which may be
// nil); with no entries the offset comes from snap, or else is offset.
func newUnstable(snap *pb.Snapshot, ents []pb.Entry, offset uint64) unstable {
	u := unstable{snapshot: snap, entries: ents, offset: offset, logger: &discardLogger}
	if len(ents) > 0 {
		u.offset = ents[0].Index
	} else if snap != nil {
		u.offset = snap.Metadata.Index + 1
	}
	u.offsetInProgress = u.offset
	return u
}

func TestUnstableMaybeFirstIndexComesFromTheSnapshot(t *testing.T) {
	for _, tt := range []struct {
		name   string
		u      unstable
		wantOK bool
		want   uint64
	}{
		{"entries only", newUnstable(nil, entsAt(5, 1), 0), false, 0},
		{"empty", newUnstable(nil, nil, 0), false, 0},
		{"snapshot and entries", newUnstable(snapAt(4, 1), entsAt(5, 1), 0), true, 5},
		{"snapshot only", newUnstable(snapAt(4, 1), nil, 0), true, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.u.maybeFirstIndex()
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnstableMaybeLastIndex(t *testing.T) {
	for _, tt := range []struct {
		name   string
		u      unstable
		wantOK bool
		want   uint64
	}{
		{"entries", newUnstable(nil, entsAt(5, 1), 0), true, 5},
		{"snapshot and entries", newUnstable(snapAt(4, 1), entsAt(5, 1, 1), 0), true, 6},
		{"snapshot only", newUnstable(snapAt(4, 1), nil, 0), true, 4},
		{"empty", newUnstable(nil, nil, 0), false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.u.maybeLastIndex()
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnstableMaybeTerm(t *testing.T) {
	for _, tt := range []struct {
		name   string
		u      unstable
		i      uint64
		wantOK bool
		want   uint64
	}{
		{"entry", newUnstable(nil, entsAt(5, 1), 0), 5, true, 1},
		{"past the entries", newUnstable(nil, entsAt(5, 1), 0), 6, false, 0},
		{"before the entries", newUnstable(nil, entsAt(5, 1), 0), 4, false, 0},
		{"entry after snapshot", newUnstable(snapAt(4, 1), entsAt(5, 2), 0), 5, true, 2},
		{"past entries after snapshot", newUnstable(snapAt(4, 1), entsAt(5, 2), 0), 6, false, 0},
		{"snapshot index", newUnstable(snapAt(4, 1), entsAt(5, 2), 0), 4, true, 1},
		{"below snapshot", newUnstable(snapAt(4, 1), entsAt(5, 2), 0), 3, false, 0},
		{"snapshot only: its index", newUnstable(snapAt(4, 1), nil, 0), 4, true, 1},
		{"snapshot only: past it", newUnstable(snapAt(4, 1), nil, 0), 5, false, 0},
		{"snapshot only: below it", newUnstable(snapAt(4, 1), nil, 0), 3, false, 0},
		{"empty", newUnstable(nil, nil, 5), 5, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.u.maybeTerm(tt.i)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnstableRestoreReplacesEverything(t *testing.T) {
	u := newUnstable(snapAt(4, 1), entsAt(5, 1), 0)
	u.acceptInProgress()
	s := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 6, Term: 2}}
	u.restore(s)

	assert.Equal(t, uint64(7), u.offset)
	assert.Equal(t, uint64(7), u.offsetInProgress)
	assert.Empty(t, u.entries)
	assert.Equal(t, &s, u.snapshot)
	assert.False(t, u.snapshotInProgress)
	assert.Equal(t, &s, u.nextSnapshot())
}

func TestUnstableNextEntriesSkipsInProgress(t *testing.T) {
	for _, tt := range []struct {
		name       string
		ents       []pb.Entry
		inProgress uint64
		want       []pb.Entry
	}{
		{"none in progress", entsAt(5, 1, 1), 5, entsAt(5, 1, 1)},
		{"some in progress", entsAt(5, 1, 1), 6, entsAt(6, 1)},
		{"all in progress", entsAt(5, 1, 1), 7, nil},
		{"no entries", nil, 5, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(nil, tt.ents, 5)
			u.offsetInProgress = tt.inProgress
			assert.Equal(t, tt.want, u.nextEntries())
		})
	}
}

func TestUnstableNextSnapshotSkipsInProgress(t *testing.T) {
	u := newUnstable(nil, nil, 5)
	assert.Nil(t, u.nextSnapshot())

	u = newUnstable(snapAt(4, 1), nil, 0)
	assert.Equal(t, snapAt(4, 1), u.nextSnapshot())
	u.snapshotInProgress = true
	assert.Nil(t, u.nextSnapshot())
}

func TestUnstableAcceptInProgress(t *testing.T) {
	for _, tt := range []struct {
		name           string
		snap           *pb.Snapshot
		ents           []pb.Entry
		inProgress     uint64
		snapInProgress bool
		wantInProgress uint64
		wantSnapInProg bool
	}{
		{"empty", nil, nil, 5, false, 5, false},
		{"entries", nil, entsAt(5, 1, 1), 5, false, 7, false},
		{"some entries already", nil, entsAt(5, 1, 1), 6, false, 7, false},
		{"all entries already", nil, entsAt(5, 1, 1), 7, false, 7, false},
		{"snapshot", snapAt(4, 1), nil, 5, false, 5, true},
		{"snapshot and entries", snapAt(4, 1), entsAt(5, 1, 1), 5, false, 7, true},
		{"snapshot already", snapAt(4, 1), entsAt(5, 1, 1), 6, true, 7, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(tt.snap, tt.ents, 5)
			u.offsetInProgress = tt.inProgress
			u.snapshotInProgress = tt.snapInProgress
			u.acceptInProgress()
			assert.Equal(t, tt.wantInProgress, u.offsetInProgress)
			assert.Equal(t, tt.wantSnapInProg, u.snapshotInProgress)
			assert.Nil(t, u.nextEntries())
			assert.Nil(t, u.nextSnapshot())
		})
	}
}

func TestUnstableStableToChecksTheTerm(t *testing.T) {
	for _, tt := range []struct {
		name       string
		snap       *pb.Snapshot
		ents       []pb.Entry
		inProgress uint64
		id         entryID

		wantOffset     uint64
		wantInProgress uint64
		wantLen        int
	}{
		{"empty", nil, nil, 0, entryID{term: 1, index: 5}, 0, 0, 0},
		{"whole log", nil, entsAt(5, 1), 6, entryID{term: 1, index: 5}, 6, 6, 0},
		{"prefix, all in progress", nil, entsAt(5, 1, 1), 7, entryID{term: 1, index: 5}, 6, 7, 1},
		{"prefix, not in progress", nil, entsAt(5, 1, 1), 5, entryID{term: 1, index: 5}, 6, 6, 1},
		{"term mismatch: overwritten since", nil, entsAt(6, 2), 7, entryID{term: 1, index: 6}, 6, 7, 1},
		{"index before the entries", nil, entsAt(5, 1), 6, entryID{term: 1, index: 4}, 5, 6, 1},
		{"index past the entries", nil, entsAt(5, 1), 6, entryID{term: 1, index: 6}, 5, 6, 1},
		{"with snapshot: whole log", snapAt(4, 1), entsAt(5, 1), 6, entryID{term: 1, index: 5}, 6, 6, 0},
		{"with snapshot: prefix", snapAt(4, 1), entsAt(5, 1, 1), 7, entryID{term: 1, index: 5}, 6, 7, 1},
		{"with snapshot: term mismatch", snapAt(5, 1), entsAt(6, 2), 7, entryID{term: 1, index: 6}, 6, 7, 1},
		{"with snapshot: the snapshot index", snapAt(4, 1), entsAt(5, 1), 6, entryID{term: 1, index: 4}, 5, 6, 1},
		{"with snapshot: past", snapAt(4, 2), entsAt(5, 2), 6, entryID{term: 2, index: 6}, 5, 6, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(tt.snap, tt.ents, 0)
			u.offsetInProgress = max(u.offset, tt.inProgress)
			before := len(u.entries)
			taken := u.stableTo(tt.id)
			assert.Equal(t, len(u.entries) < before, taken, "reports whether the write was credited")
			assert.Equal(t, tt.wantOffset, u.offset)
			assert.Equal(t, max(tt.wantOffset, tt.wantInProgress), u.offsetInProgress)
			assert.Len(t, u.entries, tt.wantLen)
			if tt.wantLen > 0 {
				assert.Equal(t, u.offset, u.entries[0].Index)
			}
		})
	}
}

func TestUnstableStableToReleasesTheBackingArray(t *testing.T) {
	u := newUnstable(nil, nil, 1)
	for i := uint64(1); i <= 64; i++ {
		u.truncateAndAppend(entsAt(i, 1))
	}
	require.GreaterOrEqual(t, cap(u.entries), 64)
	u.stableTo(entryID{term: 1, index: 60})
	assert.Len(t, u.entries, 4)
	assert.Less(t, cap(u.entries), 8, "a mostly empty backing array must be replaced")
	assert.Equal(t, entsAt(61, 1, 1, 1, 1), u.entries)

	u.stableTo(entryID{term: 1, index: 64})
	assert.Nil(t, u.entries)
	assert.Equal(t, uint64(65), u.offset)
}

func TestUnstableStableSnapTo(t *testing.T) {
	for _, tt := range []struct {
		name     string
		snap     *pb.Snapshot
		i        uint64
		wantSnap bool
	}{
		{"no snapshot", nil, 4, false},
		{"matching", snapAt(4, 1), 4, false},
		{"other index", snapAt(4, 1), 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(tt.snap, nil, 5)
			u.snapshotInProgress = tt.snap != nil
			u.stableSnapTo(tt.i)
			assert.Equal(t, tt.wantSnap, u.snapshot != nil)
			assert.Equal(t, tt.wantSnap, u.snapshotInProgress)
		})
	}
}

func TestUnstableTruncateAndAppend(t *testing.T) {
	for _, tt := range []struct {
		name       string
		ents       []pb.Entry
		inProgress uint64
		app        []pb.Entry

		wantOffset     uint64
		wantInProgress uint64
		want           []pb.Entry
	}{
		{"nothing", entsAt(5, 1), 5, nil, 5, 5, entsAt(5, 1)},
		{"contiguous", entsAt(5, 1), 5, entsAt(6, 1, 1), 5, 5, entsAt(5, 1, 1, 1)},
		{"contiguous, in progress kept", entsAt(5, 1), 6, entsAt(6, 1, 1), 5, 6, entsAt(5, 1, 1, 1)},
		{"replace at offset", entsAt(5, 1), 5, entsAt(5, 2, 2), 5, 5, entsAt(5, 2, 2)},
		{"replace before offset", entsAt(5, 1), 5, entsAt(4, 2, 2, 2), 4, 4, entsAt(4, 2, 2, 2)},
		{"replace, in progress reset", entsAt(5, 1), 6, entsAt(5, 2, 2), 5, 5, entsAt(5, 2, 2)},
		{"truncate", entsAt(5, 1, 1, 1), 5, entsAt(6, 2), 5, 5, entsAt(5, 1, 2)},
		{"truncate and extend", entsAt(5, 1, 1, 1), 5, entsAt(7, 2, 2), 5, 5, entsAt(5, 1, 1, 2, 2)},
		{"truncate below in progress", entsAt(5, 1, 1, 1), 8, entsAt(6, 2), 5, 6, entsAt(5, 1, 2)},
		{"truncate above in progress", entsAt(5, 1, 1, 1), 6, entsAt(7, 2), 5, 6, entsAt(5, 1, 1, 2)},
		{"truncate at in progress", entsAt(5, 1, 1, 1), 7, entsAt(7, 2), 5, 7, entsAt(5, 1, 1, 2)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(nil, tt.ents, 0)
			u.offsetInProgress = tt.inProgress
			u.truncateAndAppend(tt.app)
			assert.Equal(t, tt.wantOffset, u.offset)
			assert.Equal(t, tt.wantInProgress, u.offsetInProgress)
			assert.Equal(t, tt.want, u.entries)
		})
	}
}

func TestUnstableTruncateKeepsHandedOutSlicesValid(t *testing.T) {
	u := newUnstable(nil, nil, 5)
	u.truncateAndAppend(entsAt(5, 1, 1, 1, 1))
	handed := u.nextEntries()
	want := append([]pb.Entry(nil), handed...)
	u.acceptInProgress()

	u.truncateAndAppend(entsAt(7, 2, 2, 2))
	assert.Equal(t, want, handed)
	assert.Equal(t, entsAt(5, 1, 1, 2, 2, 2), u.entries)
	assert.Equal(t, entsAt(7, 2, 2, 2), u.nextEntries())
}

func TestUnstableReplaceDoesNotWriteIntoCallersSpareCapacity(t *testing.T) {
	u := newUnstable(nil, entsAt(5, 1), 0)
	buf := make([]pb.Entry, 0, 8)
	buf = append(buf, entsAt(5, 2, 2)...)
	u.truncateAndAppend(buf)
	u.truncateAndAppend(entsAt(7, 3))
	assert.Equal(t, pb.Entry{}, buf[:3][2], "spare capacity of the caller's slice was written")
	assert.Equal(t, entsAt(5, 2, 2, 3), u.entries)
}

func TestUnstableTruncateAndAppendWithGapPanics(t *testing.T) {
	u := newUnstable(nil, entsAt(5, 1), 0)
	assert.PanicsWithValue(t, "appending entries from index 7 would leave a gap after last unstable index 5", func() {
		u.truncateAndAppend(entsAt(7, 1))
	})
}

func TestUnstableSlice(t *testing.T) {
	u := newUnstable(nil, entsAt(5, 1, 2, 3), 0)
	for _, tt := range []struct {
		lo, hi uint64
		want   []pb.Entry
		panic  string
	}{
		{5, 8, entsAt(5, 1, 2, 3), ""},
		{6, 7, entsAt(6, 2), ""},
		{8, 8, []pb.Entry{}, ""},
		{4, 6, nil, "unstable.slice[4,6) out of bound [5,8]"},
		{5, 9, nil, "unstable.slice[5,9) out of bound [5,8]"},
		{7, 6, nil, "invalid unstable.slice 7 > 6"},
	} {
		t.Run(fmt.Sprintf("%d-%d", tt.lo, tt.hi), func(t *testing.T) {
			if tt.panic != "" {
				assert.PanicsWithValue(t, tt.panic, func() { u.slice(tt.lo, tt.hi) })
				return
			}
			assert.Equal(t, tt.want, u.slice(tt.lo, tt.hi))
		})
	}
}

func TestUnstableWithoutLoggerDoesNotCrash(t *testing.T) {
	u := unstable{offset: 5, offsetInProgress: 5}
	u.truncateAndAppend(entsAt(5, 1, 1))
	u.truncateAndAppend(entsAt(6, 2))
	u.truncateAndAppend(entsAt(5, 3))
	u.stableTo(entryID{term: 9, index: 5})
	u.stableTo(entryID{term: 3, index: 9})
	assert.Equal(t, entsAt(5, 3), u.entries)
}

func TestUnstableAppendsIntoTheRoomLeftAfterStableEntries(t *testing.T) {
	u := newUnstable(nil, nil, 1)
	u.truncateAndAppend(entsAt(1, 1))
	handedOut := u.nextEntries()
	want := append([]pb.Entry(nil), handedOut...)
	u.acceptInProgress()
	u.stableTo(entryID{term: 1, index: 1})
	require.Empty(t, u.entries)
	require.Equal(t, unstableChunk-1, cap(u.entries), "the room after the stable entry is kept")

	u.truncateAndAppend(entsAt(2, 1))
	assert.Same(t, &handedOut[:2][1], &u.entries[0], "an append goes into the room")
	assert.Equal(t, want, handedOut, "and does not write over entries handed out")

	u.dropSpare()
	assert.Len(t, u.entries, 1, "dropSpare never drops unstable entries")
	u.stableTo(entryID{term: 1, index: 2})
	u.dropSpare()
	assert.Nil(t, u.entries, "but releases the room once they are stable")
}
