package main

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// writableStorage is what both MemoryStorage and boltStorage offer beyond
// raft.Storage.
type writableStorage interface {
	raft.Storage
	Append([]pb.Entry) error
	SetHardState(pb.HardState) error
	ApplySnapshot(pb.Snapshot) error
	CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error)
	Compact(i uint64) error
}

var _ writableStorage = (*boltStorage)(nil)
var _ writableStorage = (*raft.MemoryStorage)(nil)

func newTestBolt(t *testing.T) *boltStorage {
	t.Helper()
	s, err := openBoltStorage(filepath.Join(t.TempDir(), "raft.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// errClass names the protocol meaning of a storage error, so that the two
// implementations can be compared without comparing messages.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, raft.ErrCompacted):
		return "ErrCompacted"
	case errors.Is(err, raft.ErrUnavailable):
		return "ErrUnavailable"
	case errors.Is(err, raft.ErrSnapOutOfDate):
		return "ErrSnapOutOfDate"
	default:
		return "other error"
	}
}

func ents(terms ...uint64) []pb.Entry {
	return entsFrom(1, terms...)
}

func entsFrom(first uint64, terms ...uint64) []pb.Entry {
	out := make([]pb.Entry, len(terms))
	for i, term := range terms {
		idx := first + uint64(i)
		out[i] = pb.Entry{Index: idx, Term: term, Data: []byte(fmt.Sprintf("e%d", idx))}
	}
	return out
}

func snapAt(index, term uint64) pb.Snapshot {
	return pb.Snapshot{
		Data:     []byte(fmt.Sprintf("state@%d", index)),
		Metadata: pb.SnapshotMetadata{Index: index, Term: term, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}},
	}
}

// TestBoltStorageBehavesLikeMemoryStorage runs the same writes against
// MemoryStorage and the bbolt storage and checks that every read (and the
// protocol meaning of every error) is the same.
func TestBoltStorageBehavesLikeMemoryStorage(t *testing.T) {
	type step func(s writableStorage) error
	appendE := func(e []pb.Entry) step { return func(s writableStorage) error { return s.Append(e) } }
	compact := func(i uint64) step { return func(s writableStorage) error { return s.Compact(i) } }
	create := func(i uint64) step {
		return func(s writableStorage) error {
			_, err := s.CreateSnapshot(i, &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{4}}, []byte(fmt.Sprintf("snap%d", i)))
			return err
		}
	}
	apply := func(index, term uint64) step {
		return func(s writableStorage) error { return s.ApplySnapshot(snapAt(index, term)) }
	}
	hard := func(term, vote, commit uint64) step {
		return func(s writableStorage) error {
			return s.SetHardState(pb.HardState{Term: term, Vote: vote, Commit: commit})
		}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh storage", nil},
		{"appended entries", []step{appendE(ents(1, 1, 2, 2, 3)), hard(3, 1, 4)}},
		{"append truncates a conflicting suffix", []step{appendE(ents(1, 1, 2, 2, 3)), appendE(entsFrom(3, 4, 4))}},
		{"append replaces the tail and extends", []step{appendE(ents(1, 1, 2)), appendE(entsFrom(2, 5, 5, 5, 5))}},
		{"append with a gap is refused", []step{appendE(ents(1, 1)), appendE(entsFrom(4, 2))}},
		{"append of non-consecutive entries is refused", []step{appendE([]pb.Entry{{Index: 1, Term: 1}, {Index: 3, Term: 1}})}},
		{"append below the compaction point is trimmed", []step{appendE(ents(1, 1, 1, 2, 2, 2)), compact(4), appendE(entsFrom(2, 1, 1, 2, 3, 3))}},
		{"snapshot then compaction", []step{appendE(ents(1, 1, 2, 2, 2, 3, 3, 3, 3, 3)), create(6), compact(4)}},
		{"compaction up to the last entry", []step{appendE(ents(1, 1, 2)), create(3), compact(3)}},
		{"out-of-date snapshot is refused", []step{appendE(ents(1, 1, 2, 2)), create(3), create(3), create(2)}},
		{"snapshot past the last index is refused", []step{appendE(ents(1, 1)), create(5)}},
		{"compaction errors", []step{appendE(ents(1, 1, 2)), compact(2), compact(2), compact(1), compact(9)}},
		{"applied snapshot replaces the log", []step{appendE(ents(1, 1, 2)), apply(8, 3), appendE(entsFrom(9, 3, 4)), hard(4, 2, 9)}},
		{"older applied snapshot is refused", []step{apply(8, 3), apply(5, 2), apply(8, 3)}},
		{"snapshot after an applied snapshot", []step{apply(8, 3), appendE(entsFrom(9, 3, 3, 4)), create(10), compact(10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := raft.NewMemoryStorage()
			bs := newTestBolt(t)
			for i, st := range tt.steps {
				assert.Equal(t, errClass(st(mem)), errClass(st(bs)), "step %d", i)
			}
			assertSameReads(t, mem, bs)
		})
	}
}

// assertSameReads compares every read of the Storage interface.
func assertSameReads(t *testing.T, want, got raft.Storage) {
	t.Helper()
	wf, err := want.FirstIndex()
	require.NoError(t, err)
	wl, err := want.LastIndex()
	require.NoError(t, err)
	gf, err := got.FirstIndex()
	require.NoError(t, err)
	gl, err := got.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, wf, gf, "FirstIndex")
	assert.Equal(t, wl, gl, "LastIndex")

	whs, wcs, err := want.InitialState()
	require.NoError(t, err)
	ghs, gcs, err := got.InitialState()
	require.NoError(t, err)
	assert.Equal(t, whs, ghs, "HardState")
	assert.Equal(t, wcs, gcs, "ConfState")

	ws, err := want.Snapshot()
	require.NoError(t, err)
	gs, err := got.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, ws.Metadata, gs.Metadata, "snapshot metadata")
	assert.Equal(t, string(ws.Data), string(gs.Data), "snapshot data")

	for i := uint64(0); i <= wl+2; i++ {
		wt, werr := want.Term(i)
		gt, gerr := got.Term(i)
		assert.Equal(t, errClass(werr), errClass(gerr), "Term(%d) error", i)
		assert.Equal(t, wt, gt, "Term(%d)", i)
	}
	// Only ranges MemoryStorage answers without panicking: hi <= last+1.
	for lo := uint64(0); lo <= wl+1; lo++ {
		for hi := lo; hi <= wl+1; hi++ {
			for _, max := range []uint64{0, 10, math.MaxUint64} {
				we, werr := want.Entries(lo, hi, max)
				ge, gerr := got.Entries(lo, hi, max)
				assert.Equal(t, errClass(werr), errClass(gerr), "Entries(%d, %d, %d) error", lo, hi, max)
				assert.Equal(t, len(we), len(ge), "Entries(%d, %d, %d) length", lo, hi, max)
				if len(we) == len(ge) {
					for k := range we {
						assert.Equal(t, we[k], ge[k], "Entries(%d, %d, %d)[%d]", lo, hi, max, k)
					}
				}
			}
		}
	}
	// Past the end: an error wrapping ErrUnavailable (MemoryStorage agrees).
	_, err = got.Entries(gf, gl+2, math.MaxUint64)
	assert.ErrorIs(t, err, raft.ErrUnavailable)
}

func TestBoltStorageEntriesReturnsAtLeastOneEntryAndRespectsMaxSize(t *testing.T) {
	s := newTestBolt(t)
	require.NoError(t, s.Append(ents(1, 1, 1, 1, 1)))
	one := uint64(ents(1)[0].Size())

	tests := []struct {
		max  uint64
		want int
	}{
		{0, 1},
		{one, 1},
		{2*one - 1, 1},
		{2 * one, 2},
		{5 * one, 5},
		{math.MaxUint64, 5},
	}
	for _, tt := range tests {
		got, err := s.Entries(1, 6, tt.max)
		require.NoError(t, err)
		assert.Len(t, got, tt.want, "maxSize %d", tt.max)
	}
}

func TestBoltStorageEntriesCannotBeAppendedIntoByTheCaller(t *testing.T) {
	s := newTestBolt(t)
	require.NoError(t, s.Append(ents(1, 1, 1)))
	got, err := s.Entries(1, 3, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, len(got), cap(got))
}

// TestBoltStorageSurvivesReopen checks that what each write method returned
// nil for is read back after closing and reopening the file, as after a
// crash: bbolt makes each transaction durable on commit.
func TestBoltStorageSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := openBoltStorage(path)
	require.NoError(t, err)
	assert.True(t, s.IsEmpty())

	mem := raft.NewMemoryStorage()
	for _, w := range []writableStorage{s, mem} {
		require.NoError(t, w.Append(ents(1, 1, 2, 2, 2, 3, 3, 3)))
		_, err := w.CreateSnapshot(5, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("kv@5"))
		require.NoError(t, err)
		require.NoError(t, w.Compact(4))
		require.NoError(t, w.Append(entsFrom(7, 4, 4, 4)))
		require.NoError(t, w.SetHardState(pb.HardState{Term: 4, Vote: 2, Commit: 8}))
	}
	require.NoError(t, s.Close())

	s, err = openBoltStorage(path)
	require.NoError(t, err)
	defer s.Close()
	assert.False(t, s.IsEmpty())
	assertSameReads(t, mem, s)
}

// TestBoltStorageSaveIsAtomic checks that a Ready's snapshot, entries and
// HardState are written together, in the Ready's order: the snapshot first,
// the entries after it.
func TestBoltStorageSaveWritesSnapshotEntriesAndHardStateTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := openBoltStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Append(ents(1, 1, 1)))

	hs := pb.HardState{Term: 3, Vote: 1, Commit: 11}
	require.NoError(t, s.Save(hs, entsFrom(11, 3, 3), snapAt(10, 2)))
	require.NoError(t, s.Close())

	s, err = openBoltStorage(path)
	require.NoError(t, err)
	defer s.Close()
	gotHS, cs, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, hs, gotHS)
	assert.Equal(t, []uint64{1, 2, 3}, cs.Voters)
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(11), first)
	assert.Equal(t, uint64(12), last)
	term, err := s.Term(10)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), term)
	_, err = s.Term(9)
	assert.ErrorIs(t, err, raft.ErrCompacted)
}

func TestBoltStorageRefusesAFileWithAHoleAfterTheCompactionPoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := openBoltStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Append(ents(1, 1, 1)))
	// Forge a lost prefix: the compaction point says 0, the log starts at 2.
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEntries).Delete(indexKey(1))
	}))
	require.NoError(t, s.Close())

	_, err = openBoltStorage(path)
	assert.ErrorContains(t, err, "first stored entry is 2, want 1")
}
