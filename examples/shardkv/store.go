package main

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// boltStore is a multiraft.LogStore in one bbolt file: the logs,
// HardStates and snapshots of all the groups of a host. Each Save is one
// bbolt transaction, and bbolt fsyncs on commit, so a pass costs one
// fsync and what Save returned nil for survives kill -9.
//
// It is a small version of the module contrib/boltlogstore, which this
// example cannot import: that module is separate (it requires the root
// module), and the example lives in the root module so that
// `go run ./examples/shardkv` and `go test ./...` work from the root.
//
// Layout: a bucket per group named by the group ID (8 bytes, big endian),
// holding a bucket "e" of entries keyed by index and the keys "hs"
// (HardState) and "snap" (the latest snapshot). Reads come from a
// raft.MemoryStorage per group, loaded on first use and updated after the
// file on every Save.
type boltStore struct {
	db *bolt.DB

	mu     sync.Mutex
	groups map[multiraft.GroupID]*raft.MemoryStorage
}

var (
	bucketEntries = []byte("e")
	keyHardState  = []byte("hs")
	keySnapshot   = []byte("snap")
)

func openBoltStore(path string) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &boltStore{db: db, groups: make(map[multiraft.GroupID]*raft.MemoryStorage)}, nil
}

func (s *boltStore) Close() error { return s.db.Close() }

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// Storage implements multiraft.LogStore.
func (s *boltStore) Storage(g multiraft.GroupID) (raft.Storage, error) {
	return s.memory(g)
}

// memory returns group g's MemoryStorage, loading it from the file.
func (s *boltStore) memory(g multiraft.GroupID) (*raft.MemoryStorage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms := s.groups[g]; ms != nil {
		return ms, nil
	}
	ms := raft.NewMemoryStorage()
	err := s.db.View(func(tx *bolt.Tx) error {
		gb := tx.Bucket(u64(uint64(g)))
		if gb == nil {
			return nil
		}
		if v := gb.Get(keySnapshot); v != nil {
			var snap pb.Snapshot
			if err := snap.Unmarshal(v); err != nil {
				return err
			}
			if err := ms.ApplySnapshot(snap); err != nil {
				return err
			}
		}
		var ents []pb.Entry
		if eb := gb.Bucket(bucketEntries); eb != nil {
			if err := eb.ForEach(func(_, v []byte) error {
				var e pb.Entry
				if err := e.Unmarshal(v); err != nil {
					return err
				}
				ents = append(ents, e)
				return nil
			}); err != nil {
				return err
			}
		}
		if len(ents) > 0 {
			if err := ms.Append(ents); err != nil {
				return err
			}
		}
		if v := gb.Get(keyHardState); v != nil {
			var hs pb.HardState
			if err := hs.Unmarshal(v); err != nil {
				return err
			}
			return ms.SetHardState(hs)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("group %d: %w", g, err)
	}
	s.groups[g] = ms
	return ms, nil
}

// Save implements multiraft.LogStore: one transaction for all updates.
func (s *boltStore) Save(ups []multiraft.Update) error {
	if len(ups) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range ups {
			if err := writeUpdate(tx, &ups[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range ups {
		u := &ups[i]
		ms, err := s.memory(u.Group)
		if err != nil {
			return err
		}
		if !raft.IsEmptySnap(u.Snapshot) {
			if err := ms.ApplySnapshot(u.Snapshot); err != nil && err != raft.ErrSnapOutOfDate {
				return err
			}
		}
		if len(u.Entries) > 0 {
			if err := ms.Append(u.Entries); err != nil {
				return err
			}
		}
		if !raft.IsEmptyHardState(u.HardState) {
			if err := ms.SetHardState(u.HardState); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeUpdate(tx *bolt.Tx, u *multiraft.Update) error {
	gb, err := tx.CreateBucketIfNotExists(u64(uint64(u.Group)))
	if err != nil {
		return err
	}
	eb, err := gb.CreateBucketIfNotExists(bucketEntries)
	if err != nil {
		return err
	}
	if !raft.IsEmptySnap(u.Snapshot) {
		v, err := u.Snapshot.Marshal()
		if err != nil {
			return err
		}
		if err := gb.Put(keySnapshot, v); err != nil {
			return err
		}
		// The snapshot replaces the log up to its index.
		if err := deleteFrom(eb, 0, u.Snapshot.Metadata.Index+1); err != nil {
			return err
		}
	}
	if len(u.Entries) > 0 {
		// An entry at index i replaces every stored entry from i on.
		if err := deleteFrom(eb, u.Entries[0].Index, 0); err != nil {
			return err
		}
		for i := range u.Entries {
			v, err := u.Entries[i].Marshal()
			if err != nil {
				return err
			}
			if err := eb.Put(u64(u.Entries[i].Index), v); err != nil {
				return err
			}
		}
	}
	if !raft.IsEmptyHardState(u.HardState) {
		v, err := u.HardState.Marshal()
		if err != nil {
			return err
		}
		if err := gb.Put(keyHardState, v); err != nil {
			return err
		}
	}
	return nil
}

// deleteFrom deletes the entries with lo <= index < hi (hi 0: no bound).
func deleteFrom(eb *bolt.Bucket, lo, hi uint64) error {
	c := eb.Cursor()
	for k, _ := c.Seek(u64(lo)); k != nil; k, _ = c.Seek(u64(lo)) {
		if hi != 0 && binary.BigEndian.Uint64(k) >= hi {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements multiraft.LogStore.
func (s *boltStore) Remove(g multiraft.GroupID) error {
	s.mu.Lock()
	delete(s.groups, g)
	s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(u64(uint64(g))) == nil {
			return nil
		}
		return tx.DeleteBucket(u64(uint64(g)))
	})
}
