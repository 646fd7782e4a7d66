package boltlogstore

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// batches saves batches 1..n, one transaction each, of entry i and a
// HardState committing it in groups 1..20, and closes the store.
func batches(t *testing.T, path string, from, n uint64) {
	s, err := Open(path)
	require.NoError(t, err)
	for i := from; i <= n; i++ {
		var ups []multiraft.Update
		for g := multiraft.GroupID(1); g <= 20; g++ {
			ups = append(ups, multiraft.Update{Group: g, Entries: ents(1, i, i), HardState: pb.HardState{Term: 1, Commit: i}, MustSync: true})
		}
		require.NoError(t, s.Save(ups))
	}
	require.NoError(t, s.Close())
}

// found checks that the store at path holds whole batches 1..k of
// batches, and returns k.
func found(t *testing.T, s *Store) uint64 {
	var k uint64
	for g := multiraft.GroupID(1); g <= 20; g++ {
		st, err := s.Storage(g)
		require.NoError(t, err)
		hs, es, _ := readAll(t, st)
		if g == 1 {
			k = uint64(len(es))
		}
		require.Equal(t, k, uint64(len(es)), "group %d: batches are whole", g)
		assert.Equal(t, k, hs.Commit, "group %d", g)
		assert.Equal(t, ents(1, 1, k), es, "group %d", g)
	}
	return k
}

// A bbolt file has two meta pages, 0 and 1; a commit writes its pages,
// fsyncs, then writes the meta page the previous commit did not use and
// fsyncs again. metaPages returns the page size and the byte offsets of
// the meta pages' txid, the newer first.
func metaPages(t *testing.T, b []byte) (pageSize int, newer, older int) {
	// Page header: id 8, flags 2, count 2, overflow 4. Meta: magic 4,
	// version 4, page size 4, flags 4, root 16, freelist 8, pgid 8,
	// txid 8, checksum 8.
	pageSize = int(binary.LittleEndian.Uint32(b[16+8:]))
	require.Contains(t, []int{4096, 8192, 16384, 65536}, pageSize)
	tx0 := binary.LittleEndian.Uint64(b[64:])
	tx1 := binary.LittleEndian.Uint64(b[pageSize+64:])
	if tx0 > tx1 {
		return pageSize, 64, pageSize + 64
	}
	return pageSize, pageSize + 64, 64
}

// The torn last record of bbolt: the meta page of the last commit, which
// is its last write, is garbled, as a crash while it was written leaves
// it. bbolt checks the meta's checksum and opens at the previous commit:
// every batch but the last, whole, and the store goes on from there.
func TestTornLastMetaPageOpensAtThePreviousCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	const n = 12
	batches(t, path, 1, n)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, newer, _ := metaPages(t, b)
	b[newer] ^= 0x01 // the txid: the checksum no longer matches
	require.NoError(t, os.WriteFile(path, b, 0o600))

	s, err := Open(path)
	require.NoError(t, err)
	assert.Equal(t, uint64(n-1), found(t, s), "the last commit is gone, the ones before are whole")
	require.NoError(t, s.Close())
	batches(t, path, n, n+3)
	s, err = Open(path)
	require.NoError(t, err)
	assert.Equal(t, uint64(n+3), found(t, s))
	require.NoError(t, s.Close())
}

// Both meta pages garbled is not a torn write (one commit writes one
// meta page): Open fails with an error, it does not panic.
func TestBothMetaPagesDamagedFailsToOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	batches(t, path, 1, 5)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, newer, older := metaPages(t, b)
	b[newer] ^= 0x01
	b[older] ^= 0x01
	require.NoError(t, os.WriteFile(path, b, 0o600))
	_, err = Open(path)
	require.Error(t, err)
	t.Logf("open fails: %v", err)
}

// A file cut below the pages its meta page counts is no crash's outcome
// (bbolt grows the file, and syncs that, before it writes pages into the
// new space), but a copy cut short; bbolt would read the missing pages
// through its mmap and die of SIGBUS. Open returns an error instead.
func TestFileCutBelowItsPagesFailsToOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	batches(t, path, 1, 50)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ps, newer, _ := metaPages(t, b)
	pgid := binary.LittleEndian.Uint64(b[newer-8:]) // the high water mark
	require.NoError(t, os.Truncate(path, int64(pgid-1)*int64(ps)))
	_, err = Open(path)
	require.Error(t, err)
	t.Logf("open fails: %v", err)
}
