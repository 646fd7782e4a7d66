// Package boltlogstore is a multiraft.LogStore in one bbolt file: the logs,
// HardStates and snapshots of all the groups of a host, written by one
// bbolt transaction, so one fsync, per pass.
//
// Layout: a top-level bucket per group, named by the group ID (8 bytes,
// big endian); in it a bucket "e" of entries keyed by index (8 bytes, big
// endian, so that the B+tree order is the log order) and the keys "hs"
// (HardState) and "snap" (the latest snapshot, whose index is the
// compaction point).
//
// Reads are served from memory: when a group is first opened its log is
// loaded into a raft.MemoryStorage, and every Save updates the file first
// and the memory after. The memory therefore holds each group's log since
// its snapshot; compact with Compact to bound it.
//
// What Save returned nil for survives a crash (kill -9, power loss), as
// bbolt fsyncs on commit; the crash test kills a writing process and
// checks it.
package boltlogstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

var (
	bucketEntries = []byte("e")
	keyHardState  = []byte("hs")
	keySnapshot   = []byte("snap")
)

// Store is a multiraft.LogStore over a bbolt file. It is safe for
// concurrent use; Save calls are serialized.
type Store struct {
	db *bolt.DB

	mu     sync.Mutex
	groups map[multiraft.GroupID]*raft.MemoryStorage
	saves  uint64
}

var _ multiraft.LogStore = (*Store)(nil)

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("boltlogstore: open %s: %w", path, err)
	}
	return &Store{db: db, groups: make(map[multiraft.GroupID]*raft.MemoryStorage)}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func key(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// Groups returns the groups the file holds.
func (s *Store) Groups() ([]multiraft.GroupID, error) {
	var gs []multiraft.GroupID
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if len(name) == 8 {
				gs = append(gs, multiraft.GroupID(binary.BigEndian.Uint64(name)))
			}
			return nil
		})
	})
	return gs, err
}

// Storage implements multiraft.LogStore: it loads group g from the file
// the first time.
func (s *Store) Storage(g multiraft.GroupID) (raft.Storage, error) {
	return s.memory(g)
}

func (s *Store) memory(g multiraft.GroupID) (*raft.MemoryStorage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms := s.groups[g]; ms != nil {
		return ms, nil
	}
	ms := raft.NewMemoryStorage()
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(key(uint64(g)))
		if b == nil {
			return nil
		}
		if v := b.Get(keySnapshot); v != nil {
			var snap pb.Snapshot
			if err := snap.Unmarshal(v); err != nil {
				return fmt.Errorf("group %d: snapshot: %w", g, err)
			}
			if err := ms.ApplySnapshot(snap); err != nil {
				return err
			}
		}
		if eb := b.Bucket(bucketEntries); eb != nil {
			var ents []pb.Entry
			err := eb.ForEach(func(k, v []byte) error {
				var e pb.Entry
				if err := e.Unmarshal(v); err != nil {
					return fmt.Errorf("group %d: entry %x: %w", g, k, err)
				}
				ents = append(ents, e)
				return nil
			})
			if err != nil {
				return err
			}
			if err := ms.Append(ents); err != nil {
				return fmt.Errorf("group %d: %w", g, err)
			}
		}
		if v := b.Get(keyHardState); v != nil {
			var hs pb.HardState
			if err := hs.Unmarshal(v); err != nil {
				return fmt.Errorf("group %d: hard state: %w", g, err)
			}
			return ms.SetHardState(hs)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltlogstore: %w", err)
	}
	s.groups[g] = ms
	return ms, nil
}

// Save implements multiraft.LogStore: one bbolt transaction (one fsync)
// for every update, then the memory.
func (s *Store) Save(updates []multiraft.Update) error {
	if len(updates) == 0 {
		return nil
	}
	mems := make([]*raft.MemoryStorage, len(updates))
	for i := range updates {
		ms, err := s.memory(updates[i].Group)
		if err != nil {
			return err
		}
		mems[i] = ms
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range updates {
			if err := s.write(tx, &updates[i], mems[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltlogstore: %w", err)
	}
	for i := range updates {
		u, ms := &updates[i], mems[i]
		if !raft.IsEmptySnap(u.Snapshot) {
			if err := ms.ApplySnapshot(u.Snapshot); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
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
	s.mu.Lock()
	s.saves++
	s.mu.Unlock()
	return nil
}

// write puts one update into the transaction. ms is the group's memory
// before the update: it tells which stored entries the update replaces.
func (s *Store) write(tx *bolt.Tx, u *multiraft.Update, ms *raft.MemoryStorage) error {
	b, err := tx.CreateBucketIfNotExists(key(uint64(u.Group)))
	if err != nil {
		return err
	}
	eb, err := b.CreateBucketIfNotExists(bucketEntries)
	if err != nil {
		return err
	}
	last, _ := ms.LastIndex()
	if !raft.IsEmptySnap(u.Snapshot) {
		v, err := u.Snapshot.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(keySnapshot, v); err != nil {
			return err
		}
		// Entries up to the snapshot are covered by it; a snapshot that
		// replaces the log drops all of them.
		if err := deleteRange(eb, 0, last); err != nil {
			return err
		}
		last = u.Snapshot.Metadata.Index
	}
	if len(u.Entries) > 0 {
		first := u.Entries[0].Index
		if first <= last {
			if err := deleteRange(eb, first, last); err != nil {
				return err
			}
		}
		for i := range u.Entries {
			v, err := u.Entries[i].Marshal()
			if err != nil {
				return err
			}
			if err := eb.Put(key(u.Entries[i].Index), v); err != nil {
				return err
			}
		}
	}
	if !raft.IsEmptyHardState(u.HardState) {
		v, err := u.HardState.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(keyHardState, v); err != nil {
			return err
		}
	}
	return nil
}

// deleteRange deletes the entries with index in [lo, hi].
func deleteRange(eb *bolt.Bucket, lo, hi uint64) error {
	c := eb.Cursor()
	for k, _ := c.Seek(key(lo)); k != nil && binary.BigEndian.Uint64(k) <= hi; k, _ = c.Next() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements multiraft.LogStore.
func (s *Store) Remove(g multiraft.GroupID) error {
	s.mu.Lock()
	delete(s.groups, g)
	s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(key(uint64(g))) == nil {
			return nil
		}
		return tx.DeleteBucket(key(uint64(g)))
	})
}

// Compact records snap (made by the application from its state machine at
// snap.Metadata.Index, an applied index) as group g's snapshot and drops
// the entries it covers, from the file and from memory.
func (s *Store) Compact(g multiraft.GroupID, snap pb.Snapshot) error {
	ms, err := s.memory(g)
	if err != nil {
		return err
	}
	i := snap.Metadata.Index
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(key(uint64(g)))
		if err != nil {
			return err
		}
		eb, err := b.CreateBucketIfNotExists(bucketEntries)
		if err != nil {
			return err
		}
		v, err := snap.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(keySnapshot, v); err != nil {
			return err
		}
		return deleteRange(eb, 0, i)
	})
	if err != nil {
		return fmt.Errorf("boltlogstore: %w", err)
	}
	if _, err := ms.CreateSnapshot(i, &snap.Metadata.ConfState, snap.Data); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
		return err
	}
	if err := ms.Compact(i); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return err
	}
	return nil
}

// Saves returns the number of Save calls that wrote something: each one
// bbolt transaction, so one fsync.
func (s *Store) Saves() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}
