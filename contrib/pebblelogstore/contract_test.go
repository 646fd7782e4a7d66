package pebblelogstore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	"github.com/raftkit/raft/multiraft/logstoretest"
	pb "github.com/raftkit/raft/raftpb"
)

// harness opens Stores for the contract tests of multiraft/logstoretest.
var harness = logstoretest.Harness{
	Open:  func(dir string) (multiraft.LogStore, error) { return Open(dir, nil) },
	Close: func(s multiraft.LogStore) error { return s.(*Store).Close() },
	Compact: func(s multiraft.LogStore, g multiraft.GroupID, i uint64, cs pb.ConfState, data []byte) error {
		if _, err := s.(*Store).CreateSnapshot(g, i, &cs, data); err != nil {
			return err
		}
		return s.(*Store).Compact(g, i)
	},
}

func TestStoreKeepsTheStorageContract(t *testing.T) {
	logstoretest.Run(t, harness)
}

// CreateSnapshot and Compact fail as raft.MemoryStorage's do, and a
// failed call changes nothing.
func TestCreateSnapshotAndCompactErrorsAreMemoryStorages(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	ms := raft.NewMemoryStorage()
	ents := logstoretest.Ents(1, 1, 10)
	require.NoError(t, s.Save([]multiraft.Update{{Group: 1, Entries: ents, MustSync: true}}))
	require.NoError(t, ms.Append(ents))
	cs := &pb.ConfState{Voters: []uint64{1}}
	same := func(what string, want, got error) {
		t.Helper()
		assert.Equal(t, want == nil, got == nil, "%s: %v / %v", what, want, got)
		for _, e := range []error{raft.ErrSnapOutOfDate, raft.ErrCompacted, raft.ErrUnavailable} {
			assert.Equal(t, errors.Is(want, e), errors.Is(got, e), "%s: %v / %v", what, want, got)
		}
	}
	for _, step := range []struct {
		snap    bool
		i       uint64
		comment string
	}{
		{true, 5, "snapshot at 5"}, {true, 5, "again: out of date"}, {true, 3, "older: out of date"},
		{true, 11, "past the last index"}, {false, 11, "compact past the last index"},
		{false, 4, "compact below the snapshot"}, {false, 7, "compact past the snapshot"},
		{false, 6, "compact below the compaction point"}, {true, 6, "snapshot below the compaction point"},
		{true, 7, "snapshot at the compaction point"}, {true, 10, "snapshot at the last index"},
	} {
		if step.snap {
			_, want := ms.CreateSnapshot(step.i, cs, []byte("d"))
			_, got := s.CreateSnapshot(1, step.i, cs, []byte("d"))
			same(step.comment, want, got)
		} else {
			same(step.comment, ms.Compact(step.i), s.Compact(1, step.i))
		}
		st, err := s.Storage(1)
		require.NoError(t, err)
		logstoretest.Compare(t, ms, st, step.comment)
	}
}
