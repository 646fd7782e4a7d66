package raft

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// newTestLog returns a raftLog whose storage holds the snapshot snap (if
// its index is not 0) followed by stable, and whose unstable log holds
// unstableEnts.
func newTestLog(t testing.TB, snap pb.SnapshotMetadata, stable, unstableEnts []pb.Entry) *raftLog {
	t.Helper()
	ms := NewMemoryStorage()
	if snap.Index != 0 {
		require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: snap}))
	}
	require.NoError(t, ms.Append(stable))
	l, err := newLog(ms, discardLogger)
	require.NoError(t, err)
	l.append(unstableEnts...)
	return l
}

// faultyStorage is a MemoryStorage whose methods fail with the configured
// errors.
type faultyStorage struct {
	*MemoryStorage
	firstErr, lastErr, termErr, entriesErr error
}

func (s *faultyStorage) FirstIndex() (uint64, error) {
	if s.firstErr != nil {
		return 0, s.firstErr
	}
	return s.MemoryStorage.FirstIndex()
}

func (s *faultyStorage) LastIndex() (uint64, error) {
	if s.lastErr != nil {
		return 0, s.lastErr
	}
	return s.MemoryStorage.LastIndex()
}

func (s *faultyStorage) Term(i uint64) (uint64, error) {
	if s.termErr != nil {
		return 0, s.termErr
	}
	return s.MemoryStorage.Term(i)
}

func (s *faultyStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	if s.entriesErr != nil {
		return nil, s.entriesErr
	}
	return s.MemoryStorage.Entries(lo, hi, maxSize)
}

// fixedStorage reports a fixed first and last index.
type fixedStorage struct {
	*MemoryStorage
	first, last uint64
}

func (s *fixedStorage) FirstIndex() (uint64, error) { return s.first, nil }
func (s *fixedStorage) LastIndex() (uint64, error)  { return s.last, nil }

var errDisk = errors.New("disk on fire")

func TestNewLogStartsAtTheEndOfStorage(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2}}))
	require.NoError(t, ms.Append(entsAt(11, 2, 3)))
	l, err := newLogWithSize(ms, discardLogger, 1000)
	require.NoError(t, err)

	assert.Equal(t, uint64(13), l.unstable.offset)
	assert.Equal(t, uint64(13), l.unstable.offsetInProgress)
	assert.Equal(t, uint64(10), l.committed)
	assert.Equal(t, uint64(10), l.applying)
	assert.Equal(t, uint64(10), l.applied)
	assert.Equal(t, uint64(1000), l.maxApplyingEntsSize)
	assert.Equal(t, uint64(11), l.firstIndex())
	assert.Equal(t, uint64(12), l.lastIndex())
	assert.Equal(t, entryID{term: 3, index: 12}, l.lastEntryID())
	assert.Equal(t, uint64(3), l.lastTerm())

	fresh, err := newLog(NewMemoryStorage(), nil)
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), fresh.maxApplyingEntsSize)
	assert.NotNil(t, fresh.unstable.logger, "a nil logger falls back to the package default")
	assert.Equal(t, entryID{}, fresh.lastEntryID())
	assert.Equal(t, uint64(1), fresh.firstIndex())
}

func TestNewLogReportsStorageErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		storage Storage
		wantIs  error
		wantMsg string
	}{
		{"nil storage", nil, nil, "storage must not be nil"},
		{"first index", &faultyStorage{MemoryStorage: NewMemoryStorage(), firstErr: errDisk}, errDisk, "first index"},
		{"last index", &faultyStorage{MemoryStorage: NewMemoryStorage(), lastErr: errDisk}, errDisk, "last index"},
		{"zero first index", &fixedStorage{NewMemoryStorage(), 0, 0}, nil, "first index 0, last index 0"},
		{"last before first-1", &fixedStorage{NewMemoryStorage(), 5, 2}, nil, "first index 5, last index 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := newLog(tt.storage, discardLogger)
			require.Error(t, err)
			assert.Nil(t, l)
			assert.Contains(t, err.Error(), tt.wantMsg)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

func TestLogTermIsValidOnFirstIndexMinusOneToLastIndex(t *testing.T) {
	// Snapshot at 3, stable 4..5, unstable 6..7.
	l := newTestLog(t, pb.SnapshotMetadata{Index: 3, Term: 1}, entsAt(4, 2, 3), entsAt(6, 4, 5))
	for _, tt := range []struct {
		i       uint64
		want    uint64
		wantErr error
	}{
		{0, 0, ErrCompacted},
		{2, 0, ErrCompacted},
		{3, 1, nil},
		{4, 2, nil},
		{5, 3, nil},
		{6, 4, nil},
		{7, 5, nil},
		{8, 0, ErrUnavailable},
		{100, 0, ErrUnavailable},
	} {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			got, err := l.term(tt.i)
			assert.Equal(t, tt.wantErr, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, zeroTermOnOutOfBounds(l.term(tt.i)))
		})
	}
}

func TestLogTermWithUnstableSnapshot(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{Index: 3, Term: 1}, entsAt(4, 2, 3), nil)
	l.restore(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 8, Term: 4}})
	for _, tt := range []struct {
		i       uint64
		want    uint64
		wantErr error
	}{
		{4, 0, ErrCompacted}, // in storage, but superseded by the snapshot
		{7, 0, ErrCompacted},
		{8, 4, nil},
		{9, 0, ErrUnavailable},
	} {
		got, err := l.term(tt.i)
		assert.Equal(t, tt.wantErr, err, "index %d", tt.i)
		assert.Equal(t, tt.want, got, "index %d", tt.i)
	}
	assert.Equal(t, uint64(9), l.firstIndex())
	assert.Equal(t, uint64(8), l.lastIndex())
}

func TestLogTermPanicsOnBrokenStorage(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1)))
	fs := &faultyStorage{MemoryStorage: ms}
	l, err := newLog(fs, discardLogger)
	require.NoError(t, err)
	fs.termErr = errDisk
	assert.PanicsWithValue(t, "storage.Term(1) failed: disk on fire", func() { _, _ = l.term(1) })

	fs.termErr = fmt.Errorf("wrapped: %w", ErrCompacted)
	_, err = l.term(1)
	assert.Equal(t, ErrCompacted, err)
	fs.termErr = fmt.Errorf("wrapped: %w", ErrUnavailable)
	_, err = l.term(1)
	assert.Equal(t, ErrUnavailable, err)
}

func TestZeroTermOnOutOfBounds(t *testing.T) {
	assert.Equal(t, uint64(3), zeroTermOnOutOfBounds(3, nil))
	assert.Equal(t, uint64(0), zeroTermOnOutOfBounds(3, ErrCompacted))
	assert.Equal(t, uint64(0), zeroTermOnOutOfBounds(3, ErrUnavailable))
	assert.Panics(t, func() { zeroTermOnOutOfBounds(3, errDisk) })
}

func TestLogTermCacheIsDroppedWhenTheLogIsTruncated(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1, 1)))
	l, err := newLog(ms, discardLogger)
	require.NoError(t, err)
	require.True(t, l.matchTerm(3, 1)) // caches the storage term of index 3

	// A new leader overwrites 2..4 with term 2; the app persists them.
	l.append(entsAt(2, 2, 2, 2)...)
	ents := l.nextUnstableEnts()
	require.NoError(t, ms.Append(ents))
	l.acceptUnstable()
	l.stableTo(entryID{term: 2, index: 4})
	require.Equal(t, uint64(5), l.unstable.offset)

	got, err := l.term(3)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), got)
}

func TestLogTermCacheIsDroppedOnRestore(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1, 1)))
	l, err := newLog(ms, discardLogger)
	require.NoError(t, err)
	require.True(t, l.matchTerm(2, 1))

	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 5, Term: 3}}
	l.restore(snap)
	require.NoError(t, ms.ApplySnapshot(snap))
	l.stableSnapTo(5)
	_, err = l.term(2)
	assert.Equal(t, ErrCompacted, err)
}

func TestLogIsUpToDateComparesTermThenIndex(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), entsAt(3, 3))
	for _, tt := range []struct {
		name string
		id   entryID
		want bool
	}{
		{"higher term, shorter log", entryID{term: 4, index: 1}, true},
		{"higher term, same length", entryID{term: 4, index: 3}, true},
		{"same term, longer log", entryID{term: 3, index: 4}, true},
		{"same term, same length", entryID{term: 3, index: 3}, true},
		{"same term, shorter log", entryID{term: 3, index: 2}, false},
		{"lower term, longer log", entryID{term: 2, index: 10}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, l.isUpToDate(tt.id))
		})
	}
}

func TestLogFindConflict(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), entsAt(3, 3))
	for _, tt := range []struct {
		name string
		ents []pb.Entry
		want uint64
	}{
		{"no entries", nil, 0},
		{"all match", entsAt(1, 1, 2, 3), 0},
		{"matching suffix", entsAt(2, 2, 3), 0},
		{"matching single", entsAt(3, 3), 0},
		{"new entries after a match", entsAt(2, 2, 3, 4, 4), 4},
		{"only new entries", entsAt(4, 4, 4), 4},
		{"conflict at first", entsAt(1, 4, 4), 1},
		{"conflict in the middle", entsAt(2, 1, 4, 4), 2},
		{"conflict at the last", entsAt(3, 4, 4), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, l.findConflict(tt.ents))
		})
	}
}

func TestLogFindConflictByTerm(t *testing.T) {
	type want struct{ index, term uint64 }
	for _, tt := range []struct {
		name        string
		snap        pb.SnapshotMetadata
		stable      []pb.Entry
		index, term uint64
		want        want
	}{
		// Log: 1:1 2:2 3:2 4:5 5:5 6:5 (terms by index).
		{"term of the index itself", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 6, 5, want{6, 5}},
		{"higher term", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 6, 6, want{6, 5}},
		{"skips a term", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 6, 4, want{3, 2}},
		{"skips two terms", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 6, 1, want{1, 1}},
		{"reaches the start", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 6, 0, want{0, 0}},
		{"starts lower", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 2, 2, want{2, 2}},
		{"index zero", pb.SnapshotMetadata{}, entsAt(1, 1, 2, 2, 5, 5, 5), 0, 3, want{0, 0}},
		{"past the last index: unknown", pb.SnapshotMetadata{}, entsAt(1, 1, 2), 5, 2, want{5, 0}},
		// Snapshot at 10 (term 3), then 11:3 12:4 13:4.
		{"compacted: stops at the snapshot", pb.SnapshotMetadata{Index: 10, Term: 3}, entsAt(11, 3, 4, 4), 13, 3, want{11, 3}},
		{"compacted: the snapshot matches", pb.SnapshotMetadata{Index: 10, Term: 3}, entsAt(11, 4, 4, 4), 13, 3, want{10, 3}},
		{"compacted: below the snapshot is unknown", pb.SnapshotMetadata{Index: 10, Term: 3}, entsAt(11, 4, 4, 4), 13, 2, want{9, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, tt.snap, tt.stable, nil)
			index, term := l.findConflictByTerm(tt.index, tt.term)
			assert.Equal(t, tt.want, want{index, term})
		})
	}
}

func TestLogMaybeAppend(t *testing.T) {
	// Log 1:1 2:2 3:3, committed 1.
	prev := func(term, index uint64) entryID { return entryID{term: term, index: index} }
	for _, tt := range []struct {
		name      string
		prev      entryID
		committed uint64
		ents      []pb.Entry

		wantLastNew uint64
		wantOK      bool
		wantErr     string
		wantCommit  uint64
		wantLog     []pb.Entry
	}{
		{"prev term mismatch", prev(2, 3), 3, entsAt(4, 4), 0, false, "", 1, entsAt(1, 1, 2, 3)},
		{"prev past the end", prev(3, 4), 3, entsAt(5, 4), 0, false, "", 1, entsAt(1, 1, 2, 3)},
		{"heartbeat-like, no entries", prev(3, 3), 3, nil, 3, true, "", 3, entsAt(1, 1, 2, 3)},
		{"commit is capped at last new", prev(2, 2), 3, nil, 2, true, "", 2, entsAt(1, 1, 2, 3)},
		{"commit never lowered", prev(3, 3), 0, nil, 3, true, "", 1, entsAt(1, 1, 2, 3)},
		{"append one", prev(3, 3), 3, entsAt(4, 4), 4, true, "", 3, entsAt(1, 1, 2, 3, 4)},
		{"append and commit all", prev(3, 3), 5, entsAt(4, 4, 4), 5, true, "", 5, entsAt(1, 1, 2, 3, 4, 4)},
		{"commit capped by leader", prev(3, 3), 4, entsAt(4, 4, 4), 5, true, "", 4, entsAt(1, 1, 2, 3, 4, 4)},
		{"already present", prev(1, 1), 3, entsAt(2, 2), 2, true, "", 2, entsAt(1, 1, 2, 3)},
		{"conflict replaces the tail", prev(2, 2), 3, entsAt(3, 4), 3, true, "", 3, entsAt(1, 1, 2, 4)},
		{"conflict and extend", prev(1, 1), 2, entsAt(2, 4, 4), 3, true, "", 2, entsAt(1, 1, 4, 4)},
		{"conflict with a committed entry", prev(0, 0), 3, entsAt(1, 4), 0, false,
			"entry 1 conflicts with committed entry [committed(1)]", 1, entsAt(1, 1, 2, 3)},
		{"not starting after prev", prev(3, 3), 3, entsAt(5, 4), 0, false,
			"appended entry 0 has index 5, want 4 (previous index 3)", 1, entsAt(1, 1, 2, 3)},
		{"not consecutive", prev(3, 3), 3, []pb.Entry{{Index: 4, Term: 4}, {Index: 6, Term: 4}}, 0, false,
			"appended entry 1 has index 6, want 5", 1, entsAt(1, 1, 2, 3)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, pb.SnapshotMetadata{}, nil, entsAt(1, 1, 2, 3))
			l.commitTo(1)
			lastNew, ok, err := l.maybeAppend(tt.prev, tt.committed, tt.ents)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.wantLastNew, lastNew)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantCommit, l.committed)
			assert.Equal(t, tt.wantLog, l.allEntries())
		})
	}
}

func TestLogMaybeAppendRetainsEntriesWithoutCopying(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, nil, entsAt(1, 1))
	ents := []pb.Entry{{Index: 2, Term: 1, Data: []byte("payload")}}
	_, ok, err := l.maybeAppend(entryID{term: 1, index: 1}, 0, ents)
	require.NoError(t, err)
	require.True(t, ok)
	got := l.nextUnstableEnts()
	require.Len(t, got, 2)
	assert.Same(t, &ents[0].Data[0], &got[1].Data[0])
}

func TestLogAppend(t *testing.T) {
	for _, tt := range []struct {
		name         string
		ents         []pb.Entry
		wantLast     uint64
		wantLog      []pb.Entry
		wantUnstable uint64
	}{
		{"nothing", nil, 2, entsAt(1, 1, 2), 3},
		{"after the last", entsAt(3, 2), 3, entsAt(1, 1, 2, 2), 3},
		{"conflict at 1", entsAt(1, 2), 1, entsAt(1, 2), 1},
		{"conflict at 2", entsAt(2, 3, 3), 3, entsAt(1, 1, 3, 3), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), nil)
			assert.Equal(t, tt.wantLast, l.append(tt.ents...))
			assert.Equal(t, tt.wantLog, l.allEntries())
			assert.Equal(t, tt.wantUnstable, l.unstable.offset)
		})
	}
}

func TestLogAppendBelowCommittedPanics(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), nil)
	l.commitTo(2)
	assert.PanicsWithValue(t, "after(1) is out of range [committed(2)]", func() { l.append(entsAt(2, 3)...) })
	assert.PanicsWithValue(t, "appending at index 5 leaves a gap after last index 2", func() { l.append(entsAt(5, 3)...) })
}

func TestLogUnstableEntriesAreHandedOutOnce(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), nil)
	assert.False(t, l.hasNextUnstableEnts())
	assert.False(t, l.hasNextOrInProgressUnstableEnts())

	l.append(entsAt(3, 3, 3)...)
	assert.True(t, l.hasNextUnstableEnts())
	assert.True(t, l.hasNextOrInProgressUnstableEnts())
	assert.Equal(t, entsAt(3, 3, 3), l.nextUnstableEnts())

	l.acceptUnstable()
	assert.False(t, l.hasNextUnstableEnts())
	assert.True(t, l.hasNextOrInProgressUnstableEnts())
	assert.Nil(t, l.nextUnstableEnts())

	l.append(entsAt(5, 3)...)
	assert.Equal(t, entsAt(5, 3), l.nextUnstableEnts())

	l.stableTo(entryID{term: 3, index: 4})
	assert.Equal(t, uint64(5), l.unstable.offset)
	assert.Equal(t, entsAt(5, 3), l.nextUnstableEnts())
	l.acceptUnstable()
	l.stableTo(entryID{term: 3, index: 5})
	assert.False(t, l.hasNextOrInProgressUnstableEnts())
}

func TestLogUnstableSnapshotIsHandedOutOnce(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), nil)
	assert.False(t, l.hasNextUnstableSnapshot())
	assert.False(t, l.hasPendingSnapshot())
	assert.Nil(t, l.nextUnstableSnapshot())

	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 3}}
	l.restore(snap)
	assert.True(t, l.hasNextUnstableSnapshot())
	assert.True(t, l.hasPendingSnapshot())
	assert.Equal(t, &snap, l.nextUnstableSnapshot())

	l.acceptUnstable()
	assert.False(t, l.hasNextUnstableSnapshot())
	assert.True(t, l.hasPendingSnapshot())

	l.stableSnapTo(9)
	assert.True(t, l.hasPendingSnapshot(), "another snapshot's acknowledgement is ignored")
	l.stableSnapTo(10)
	assert.False(t, l.hasPendingSnapshot())
}

func TestLogRestore(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), entsAt(3, 2))
	l.commitTo(2)
	l.appliedTo(1, 0)
	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 3}}
	l.restore(snap)

	assert.Equal(t, uint64(10), l.committed)
	assert.Equal(t, uint64(1), l.applying)
	assert.Equal(t, uint64(1), l.applied)
	assert.Equal(t, uint64(11), l.unstable.offset)
	assert.Equal(t, uint64(11), l.firstIndex())
	assert.Equal(t, uint64(10), l.lastIndex())
	assert.Equal(t, entryID{term: 3, index: 10}, l.lastEntryID())
	assert.Empty(t, l.allEntries())
	got, err := l.snapshot()
	require.NoError(t, err)
	assert.Equal(t, snap, got)
	assert.False(t, l.hasNextCommittedEnts(true), "nothing applies before the snapshot")
}

func TestLogSnapshotFallsBackToStorage(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{Index: 5, Term: 2}, nil, nil)
	got, err := l.snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), got.Metadata.Index)
}

func TestLogCommitToOnlyRaises(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2, 3), nil)
	l.commitTo(2)
	assert.Equal(t, uint64(2), l.committed)
	l.commitTo(1)
	assert.Equal(t, uint64(2), l.committed)
	l.commitTo(3)
	assert.Equal(t, uint64(3), l.committed)
}

func TestLogCommitToPastLastIndexPanics(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2, 3), nil)
	assert.PanicsWithValue(t,
		"tocommit(4) is out of range [lastIndex(3)]. Was the raft log corrupted, truncated, or lost?",
		func() { l.commitTo(4) })
}

func TestLogMaybeCommitRequiresTheTerm(t *testing.T) {
	for _, tt := range []struct {
		name       string
		at         entryID
		want       bool
		wantCommit uint64
	}{
		{"matching term", entryID{term: 3, index: 3}, true, 3},
		{"older term", entryID{term: 2, index: 3}, false, 1},
		{"not above committed", entryID{term: 1, index: 1}, false, 1},
		{"past the last index", entryID{term: 3, index: 4}, false, 1},
		{"earlier entry of its term", entryID{term: 2, index: 2}, true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 2), entsAt(3, 3))
			l.commitTo(1)
			assert.Equal(t, tt.want, l.maybeCommit(tt.at))
			assert.Equal(t, tt.wantCommit, l.committed)
		})
	}
}

func TestLogNextCommittedEnts(t *testing.T) {
	// Snapshot at 3, stable 4..5, unstable 6.
	for _, tt := range []struct {
		name          string
		applied       uint64
		applying      uint64
		allowUnstable bool
		paused        bool
		snap          bool
		want          []pb.Entry
	}{
		{"stable only", 3, 3, false, false, false, entsAt(4, 1, 1)},
		{"with unstable", 3, 3, true, false, false, entsAt(4, 1, 1, 1)},
		{"after applying", 3, 4, false, false, false, entsAt(5, 1)},
		{"after applying, with unstable", 3, 4, true, false, false, entsAt(5, 1, 1)},
		{"all stable applying", 3, 5, false, false, false, nil},
		{"all stable applying, with unstable", 3, 5, true, false, false, entsAt(6, 1)},
		{"all applied", 6, 6, true, false, false, nil},
		{"paused", 3, 3, true, true, false, nil},
		{"snapshot pending", 3, 3, true, false, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, pb.SnapshotMetadata{Index: 3, Term: 1}, entsAt(4, 1, 1), entsAt(6, 1))
			l.commitTo(6)
			l.appliedTo(tt.applied, 0)
			if tt.applying > tt.applied {
				l.acceptApplying(tt.applying, 0, true)
			}
			l.applyingEntsPaused = tt.paused
			if tt.snap {
				l.unstable.snapshot = snapAt(3, 1)
			}
			got := l.nextCommittedEnts(tt.allowUnstable)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(tt.want) > 0, l.hasNextCommittedEnts(tt.allowUnstable))
		})
	}
}

func TestLogMaxAppliableIndexIsCappedAtTheLastStableIndex(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 1), entsAt(3, 1, 1))
	l.commitTo(3)
	assert.Equal(t, uint64(2), l.maxAppliableIndex(false))
	assert.Equal(t, uint64(3), l.maxAppliableIndex(true))
	l.commitTo(1)
	assert.Equal(t, uint64(2), l.maxAppliableIndex(false))
}

func TestLogApplyBudgetPausesAndResumes(t *testing.T) {
	// Entries of 100 bytes of payload each.
	ents := make([]pb.Entry, 10)
	for i := range ents {
		ents[i] = pb.Entry{Index: uint64(i + 1), Term: 1, Data: make([]byte, 100)}
	}
	entSize := uint64(ents[0].Size())

	for _, tt := range []struct {
		name   string
		budget uint64

		wantFirstBatch int
		wantPaused     bool
	}{
		{"unlimited", math.MaxUint64, 10, false},
		{"room for three", 3 * entSize, 3, true},
		{"room for three and a half", 3*entSize + entSize/2, 3, true},
		{"room for all", 10 * entSize, 10, true}, // budget exactly used up
		{"room for more", 11 * entSize, 10, false},
		{"smaller than one entry", entSize / 2, 1, true},
		{"zero", 0, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := NewMemoryStorage()
			require.NoError(t, ms.Append(ents))
			l, err := newLogWithSize(ms, discardLogger, tt.budget)
			require.NoError(t, err)
			l.commitTo(10)

			batch := l.nextCommittedEnts(false)
			require.Len(t, batch, tt.wantFirstBatch)
			last := batch[len(batch)-1].Index
			l.acceptApplying(last, entsSize(batch), false)
			assert.Equal(t, tt.wantPaused, l.applyingEntsPaused)
			assert.Equal(t, !tt.wantPaused && last < 10, l.hasNextCommittedEnts(false))

			// Applying everything handed out resumes application, and the
			// whole log eventually gets applied in batches.
			applied := 0
			for {
				l.appliedTo(last, entsSize(batch))
				applied += len(batch)
				assert.False(t, l.applyingEntsPaused)
				assert.Equal(t, uint64(0), l.applyingEntsSize)
				if last == 10 {
					break
				}
				batch = l.nextCommittedEnts(false)
				require.Len(t, batch, min(tt.wantFirstBatch, 10-applied))
				last = batch[len(batch)-1].Index
				l.acceptApplying(last, entsSize(batch), false)
			}
			assert.Equal(t, 10, applied)
			assert.Nil(t, l.nextCommittedEnts(false))
		})
	}
}

func TestLogAppliedToPartiallyFreesTheBudget(t *testing.T) {
	ents := make([]pb.Entry, 4)
	for i := range ents {
		ents[i] = pb.Entry{Index: uint64(i + 1), Term: 1, Data: make([]byte, 100)}
	}
	entSize := uint64(ents[0].Size())
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(ents))
	l, err := newLogWithSize(ms, discardLogger, 2*entSize)
	require.NoError(t, err)
	l.commitTo(4)

	batch := l.nextCommittedEnts(false)
	require.Len(t, batch, 2)
	l.acceptApplying(2, 2*entSize, false)
	require.True(t, l.applyingEntsPaused)
	assert.Nil(t, l.nextCommittedEnts(false))

	l.appliedTo(1, entSize)
	assert.False(t, l.applyingEntsPaused)
	assert.Equal(t, uint64(2), l.applying)
	assert.Equal(t, entSize, l.applyingEntsSize)
	// Only one entry's worth of budget is left.
	assert.Equal(t, ents[2:3], l.nextCommittedEnts(false))

	// Reporting more bytes than outstanding cannot underflow.
	l.appliedTo(2, 10*entSize)
	assert.Equal(t, uint64(0), l.applyingEntsSize)
}

func TestLogAcceptApplyingAndAppliedToOutOfRangePanic(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 1), entsAt(3, 1))
	l.commitTo(3)
	assert.PanicsWithValue(t, "applying(3) is out of range [prevApplying(0), maxAppliable(2)]",
		func() { l.acceptApplying(3, 0, false) })
	assert.PanicsWithValue(t, "applied(4) is out of range [prevApplied(0), committed(3)]",
		func() { l.appliedTo(4, 0) })
	l.appliedTo(2, 0)
	assert.Equal(t, uint64(2), l.applying, "applying follows applied")
	assert.PanicsWithValue(t, "applied(1) is out of range [prevApplied(2), committed(3)]",
		func() { l.appliedTo(1, 0) })
}

func TestLogSlice(t *testing.T) {
	// Snapshot at 10 (term 1), stable 11..15, unstable 16..20; terms = index.
	const first, offset, last = 11, 16, 20
	stable := make([]pb.Entry, 0, 5)
	unst := make([]pb.Entry, 0, 5)
	for i := uint64(first); i <= last; i++ {
		e := pb.Entry{Index: i, Term: i}
		if i < offset {
			stable = append(stable, e)
		} else {
			unst = append(unst, e)
		}
	}
	all := append(append([]pb.Entry(nil), stable...), unst...)
	at := func(lo, hi uint64) []pb.Entry { return all[lo-first : hi-first] }
	es := uint64(all[0].Size()) // every entry has the same encoded size

	for _, tt := range []struct {
		name    string
		lo, hi  uint64
		maxSize uint64
		want    []pb.Entry
		wantErr error
		errMsg  string
	}{
		{"below first", first - 1, first + 1, math.MaxUint64, nil, ErrCompacted, ""},
		{"empty at first", first, first, math.MaxUint64, nil, nil, ""},
		{"storage only", first, offset, math.MaxUint64, at(first, offset), nil, ""},
		{"storage only, limited", first, offset, 2 * es, at(first, first+2), nil, ""},
		{"unstable only", offset, last + 1, math.MaxUint64, at(offset, last+1), nil, ""},
		{"unstable only, limited", offset, last + 1, 2*es + 1, at(offset, offset+2), nil, ""},
		{"unstable only, zero size", offset, last + 1, 0, at(offset, offset+1), nil, ""},
		{"across", offset - 1, offset + 1, math.MaxUint64, at(offset-1, offset+1), nil, ""},
		{"everything", first, last + 1, math.MaxUint64, at(first, last+1), nil, ""},
		{"across, stops in storage", first, last + 1, 3 * es, at(first, first+3), nil, ""},
		{"across, storage exactly fills", first, last + 1, 5 * es, at(first, offset), nil, ""},
		{"across, first unstable does not fit", first, last + 1, 6*es - 1, at(first, offset), nil, ""},
		{"across, some unstable fit", first, last + 1, 7 * es, at(first, offset+2), nil, ""},
		{"across, zero size", offset - 1, last + 1, 0, at(offset-1, offset), nil, ""},
		{"past the end", first, last + 2, math.MaxUint64, nil, nil, "slice[11,22) out of bound [11,20]"},
		{"lo > hi", offset, offset - 1, math.MaxUint64, nil, nil, "invalid slice 16 > 15"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, pb.SnapshotMetadata{Index: first - 1, Term: 1}, stable, unst)
			require.Equal(t, uint64(offset), l.unstable.offset)
			got, err := l.slice(tt.lo, tt.hi, tt.maxSize)
			switch {
			case tt.wantErr != nil:
				assert.Equal(t, tt.wantErr, err)
			case tt.errMsg != "":
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errMsg)
			default:
				require.NoError(t, err)
			}
			if len(tt.want) == 0 {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, len(got), cap(got), "callers may append to the result")
		})
	}
}

// roomyStorage returns storage slices with spare capacity that holds
// sentinel entries, to check that raftLog never writes past their length.
type roomyStorage struct {
	*MemoryStorage
	buf []pb.Entry
}

var sentinel = pb.Entry{Term: 99, Index: 99}

func (s *roomyStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	ents, err := s.MemoryStorage.Entries(lo, hi, maxSize)
	if err != nil {
		return nil, err
	}
	for i := range s.buf {
		s.buf[i] = sentinel
	}
	n := copy(s.buf, ents)
	return s.buf[:n], nil
}

func TestLogSliceAcrossStorageAndUnstableNeverWritesIntoStorageSlices(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1, 1)))
	rs := &roomyStorage{MemoryStorage: ms, buf: make([]pb.Entry, 10)}
	l, err := newLog(rs, discardLogger)
	require.NoError(t, err)
	l.append(entsAt(4, 2, 2)...)

	got, err := l.slice(1, 6, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, entsAt(1, 1, 1, 1, 2, 2), got)
	for i := 3; i < len(rs.buf); i++ {
		assert.Equal(t, sentinel, rs.buf[i], "storage's spare capacity was written at %d", i)
	}
	assert.Equal(t, len(got), cap(got))
}

func TestLogSliceStorageErrors(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1)))
	fs := &faultyStorage{MemoryStorage: ms}
	l, err := newLog(fs, discardLogger)
	require.NoError(t, err)

	fs.entriesErr = errDisk
	_, err = l.slice(1, 3, math.MaxUint64)
	assert.Equal(t, errDisk, err, "other storage errors are returned")

	fs.entriesErr = fmt.Errorf("wrapped: %w", ErrCompacted)
	_, err = l.slice(1, 3, math.MaxUint64)
	assert.Equal(t, ErrCompacted, err)

	fs.entriesErr = ErrUnavailable
	assert.PanicsWithValue(t, "entries[1:3) are unavailable from storage: requested entry at index is unavailable",
		func() { _, _ = l.slice(1, 3, math.MaxUint64) })
}

func TestLogSliceAfterStorageCompaction(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.Append(entsAt(1, 1, 1, 1, 1, 1)))
	l, err := newLog(ms, discardLogger)
	require.NoError(t, err)
	l.commitTo(5)
	l.appliedTo(5, 0)
	require.NoError(t, ms.Compact(3))

	_, err = l.slice(2, 4, math.MaxUint64)
	assert.Equal(t, ErrCompacted, err)
	got, err := l.slice(4, 6, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, entsAt(4, 1, 1), got)
	assert.Equal(t, entsAt(4, 1, 1), l.allEntries())
	// The compaction point keeps its term; below it is gone.
	term, err := l.term(3)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), term)
}

func TestLogEntries(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 1), entsAt(3, 2))
	got, err := l.entries(2, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, entsAt(2, 1, 2), got)
	got, err = l.entries(4, math.MaxUint64)
	assert.NoError(t, err)
	assert.Nil(t, got)
	got, err = l.entries(1, 0)
	require.NoError(t, err)
	assert.Equal(t, entsAt(1, 1), got)
}

func TestLogScanPagesThroughTheRange(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 1, 1, 1, 1), entsAt(6, 2, 2, 2))
	es := uint64(entsAt(1, 1)[0].Size())
	for _, pageSize := range []uint64{0, es, 2 * es, 3*es - 1, math.MaxUint64} {
		t.Run(fmt.Sprint(pageSize), func(t *testing.T) {
			var got []pb.Entry
			pages := 0
			err := l.scan(2, 8, pageSize, func(ents []pb.Entry) error {
				assert.True(t, len(ents) == 1 || entsSize(ents) <= pageSize)
				got = append(got, ents...)
				pages++
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, entsAt(2, 1, 1, 1, 1, 2, 2), got)
			assert.Positive(t, pages)
		})
	}

	stop := errors.New("stop")
	calls := 0
	err := l.scan(1, 9, 0, func([]pb.Entry) error { calls++; return stop })
	assert.Equal(t, stop, err)
	assert.Equal(t, 1, calls)

	err = l.scan(1, 10, 0, func([]pb.Entry) error { return nil })
	assert.Error(t, err, "a range past the end is reported")
}

func TestLogString(t *testing.T) {
	l := newTestLog(t, pb.SnapshotMetadata{}, entsAt(1, 1, 1), entsAt(3, 2, 2))
	l.commitTo(2)
	l.appliedTo(1, 0)
	l.acceptUnstable()
	assert.Equal(t,
		"committed=2, applying=1, applied=1, unstable.offset=3, unstable.offsetInProgress=5, len(unstable.Entries)=2",
		l.String())
}

func TestLogFirstAndLastIndexPanicOnBrokenStorage(t *testing.T) {
	fs := &faultyStorage{MemoryStorage: NewMemoryStorage()}
	l, err := newLog(fs, discardLogger)
	require.NoError(t, err)
	fs.firstErr, fs.lastErr = errDisk, errDisk
	assert.PanicsWithValue(t, "storage.FirstIndex failed: disk on fire", func() { l.firstIndex() })
	assert.PanicsWithValue(t, "storage.LastIndex failed: disk on fire", func() { l.lastIndex() })
}

func TestSizeHelpers(t *testing.T) {
	ents := []pb.Entry{
		{Index: 1, Term: 1, Data: []byte("a")},
		{Index: 2, Term: 1, Data: []byte("bcd")},
		{Index: 3, Term: 1},
	}
	var enc uint64
	for i := range ents {
		b, err := ents[i].Marshal()
		require.NoError(t, err)
		enc += uint64(len(b))
	}
	assert.Equal(t, enc, entsSize(ents))
	assert.Equal(t, uint64(0), entsSize(nil))
	assert.Equal(t, uint64(3), payloadSize(ents[1]))
	assert.Equal(t, uint64(0), payloadSize(ents[2]))
	assert.Equal(t, uint64(4), payloadsSize(ents))

	s0, s1 := uint64(ents[0].Size()), uint64(ents[1].Size())
	for _, tt := range []struct {
		max  uint64
		want int
	}{
		{math.MaxUint64, 3},
		{0, 1},
		{s0, 1},
		{s0 + s1 - 1, 1},
		{s0 + s1, 2},
		{enc - 1, 2},
		{enc, 3},
	} {
		assert.Len(t, limitSize(ents, tt.max), tt.want, "maxSize %d", tt.max)
	}
	assert.Empty(t, limitSize(nil, 0))
}

func BenchmarkLogTermOfLastStableEntry(b *testing.B) {
	ms := NewMemoryStorage()
	require.NoError(b, ms.Append(entsAt(1, 1, 1, 1, 1)))
	l, err := newLog(ms, discardLogger)
	require.NoError(b, err)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = l.term(5)
	}
}

// randomTestLog returns a random log: a snapshot or not, stable entries or
// not, unstable entries (some overwriting stable ones) or not, some of
// them handed out and persisted; terms grow along the log, by 0 or 1.
func randomTestLog(t *testing.T, rnd *rand.Rand) *raftLog {
	var snap pb.SnapshotMetadata
	if rnd.IntN(2) == 0 {
		snap = pb.SnapshotMetadata{Index: uint64(rnd.IntN(5)), Term: uint64(1 + rnd.IntN(2))}
	}
	term := max(snap.Term, 1)
	next := snap.Index + 1
	var stable []pb.Entry
	for n := rnd.IntN(4); n > 0; n-- {
		term += uint64(rnd.IntN(2))
		stable = append(stable, pb.Entry{Index: next, Term: term})
		next++
	}
	// Unstable entries start anywhere after the snapshot up to the end of
	// the stable ones: some replace stable entries.
	from := snap.Index + 1 + uint64(rnd.IntN(int(next-snap.Index)))
	var unstableEnts []pb.Entry
	term++
	for n := rnd.IntN(4); n > 0; n-- {
		unstableEnts = append(unstableEnts, pb.Entry{Index: from, Term: term})
		term += uint64(rnd.IntN(2))
		from++
	}
	l := newTestLog(t, snap, stable, unstableEnts)
	if len(unstableEnts) > 0 && rnd.IntN(2) == 0 {
		// Hand them out and persist some of them.
		l.acceptUnstable()
		last := unstableEnts[rnd.IntN(len(unstableEnts))]
		require.NoError(t, l.storage.(*MemoryStorage).Append(unstableEnts))
		l.stableTo(entryID{term: last.Term, index: last.Index})
	}
	return l
}

// TestLogLastEntryIDReadsWhatLastIndexAndTermAnswer checks lastEntryID,
// which reads the last unstable entry directly when there is one, against
// the slow path it stands for (lastIndex, then term of that index), on
// random logs.
func TestLogLastEntryIDReadsWhatLastIndexAndTermAnswer(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20, 6))
	for i := 0; i < 2000; i++ {
		l := randomTestLog(t, rnd)
		last := l.lastIndex()
		lastTerm, err := l.term(last)
		require.NoError(t, err)
		require.Equal(t, entryID{term: lastTerm, index: last}, l.lastEntryID(), "log %s", l)
	}
}

// TestLogNextCommittedEntsAnswersAsSlice checks nextCommittedEnts, which
// slices the unstable log directly when the committed entries are all
// there, against slice, the path it stands for, on random logs, commit and
// applying indexes and apply budgets (the entries carry payloads so that a
// small budget cuts the batch).
func TestLogNextCommittedEntsAnswersAsSlice(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20, 7))
	fast := 0
	for i := 0; i < 5000; i++ {
		l := randomTestLog(t, rnd)
		for j := range l.unstable.entries {
			l.unstable.entries[j].Data = make([]byte, rnd.IntN(20))
		}
		first, last := l.firstIndex(), l.lastIndex()
		if last < first {
			continue
		}
		l.committed = first + uint64(rnd.IntN(int(last-first)+1))
		l.applying = first - 1 + uint64(rnd.IntN(int(l.committed-first)+1))
		l.applied = l.applying
		l.maxApplyingEntsSize = []uint64{0, 1, 20, 40, 1000, math.MaxUint64}[rnd.IntN(6)]
		l.applyingEntsSize = uint64(rnd.IntN(30))
		allowUnstable := rnd.IntN(4) != 0
		lo, hi := l.applying+1, l.maxAppliableIndex(allowUnstable)+1
		var want []pb.Entry
		if lo < hi {
			budget := uint64(0)
			if l.applyingEntsSize < l.maxApplyingEntsSize {
				budget = l.maxApplyingEntsSize - l.applyingEntsSize
			}
			var err error
			want, err = l.slice(lo, hi, budget)
			require.NoError(t, err)
			if lo >= l.unstable.offset {
				fast++
			}
		}
		got := l.nextCommittedEnts(allowUnstable)
		require.Equal(t, want, got, "log %s, applying %d, committed %d", l, l.applying, l.committed)
		require.Equal(t, len(got), cap(got), "the capacity ends with the entries")
	}
	require.Greater(t, fast, 500, "the unstable log's path was taken")
}

// TestLogFindConflictAnswersAsTheTermLookups checks findConflict, which
// takes an entry past the last one as new without looking its term up,
// against the lookups it stands for (the first entry whose term is
// unknown or different), on random logs and random runs of entries that
// match, conflict, start below the first index or run past the end.
func TestLogFindConflictAnswersAsTheTermLookups(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20, 6))
	for i := 0; i < 5000; i++ {
		l := randomTestLog(t, rnd)
		first, last := l.firstIndex(), l.lastIndex()
		from := max(1, first-1+uint64(rnd.IntN(int(last-first)+4))-1)
		var ents []pb.Entry
		for n := rnd.IntN(5); n > 0; n-- {
			index := from + uint64(len(ents))
			t, err := l.term(index)
			if err != nil || rnd.IntN(4) == 0 {
				t = uint64(1 + rnd.IntN(5))
			}
			ents = append(ents, pb.Entry{Index: index, Term: t})
		}
		want := uint64(0)
		for _, e := range ents {
			if t, err := l.term(e.Index); err != nil || t != e.Term {
				want = e.Index
				break
			}
		}
		require.Equal(t, want, l.findConflict(ents), "log %s, entries %v", l, ents)
	}
}
