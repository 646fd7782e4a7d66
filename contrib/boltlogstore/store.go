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
	"hash/fnv"
	"io/fs"
	"os"
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

// Open opens or creates the store at path. A file shorter than its meta
// page says (cut by a copy, not by a crash: bbolt grows a file before it
// writes into it) is an error; bbolt itself would die of SIGBUS reading
// it.
func Open(path string) (*Store, error) {
	if err := checkLength(path); err != nil {
		return nil, fmt.Errorf("boltlogstore: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("boltlogstore: open %s: %w", path, err)
	}
	return &Store{db: db, groups: make(map[multiraft.GroupID]*raft.MemoryStorage)}, nil
}

// checkLength returns an error if the bbolt file at path is shorter than
// the pages its newest valid meta page counts. It leaves the rest of the
// checks (and a missing or new file) to bbolt.
func checkLength(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// A meta page: the page header (16 bytes), then magic, version, page
	// size, flags (4 bytes each), root bucket (16), freelist, high water
	// mark (pgid), txid and checksum (8 each); the checksum is FNV-64a of
	// the 56 bytes before it. Page 1 is at the page size.
	meta := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		var b [16 + 64]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, 0, 0, false
		}
		m := b[16:]
		h := fnv.New64a()
		h.Write(m[:56])
		if binary.LittleEndian.Uint32(m) != 0xED0CDAED || binary.LittleEndian.Uint32(m[4:]) != 2 ||
			binary.LittleEndian.Uint64(m[56:]) != h.Sum64() {
			return 0, 0, 0, false
		}
		return uint64(binary.LittleEndian.Uint32(m[8:])), binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:]), true
	}
	ps0, pgid0, tx0, ok0 := meta(0)
	ps, pgid := ps0, pgid0
	if !ok0 {
		ps = uint64(os.Getpagesize())
	}
	if ps1, pgid1, tx1, ok1 := meta(int64(ps)); ok1 && (!ok0 || tx1 > tx0) {
		ps, pgid = ps1, pgid1
	} else if !ok0 {
		return nil // bbolt reports it
	}
	if need := pgid * ps; uint64(fi.Size()) < need {
		return fmt.Errorf("the file is %d bytes, shorter than the %d pages of %d bytes its meta page counts", fi.Size(), pgid, ps)
	}
	return nil
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
	// Each group's state as the transaction changes it: validated before
	// anything is written, so that the file and the memory never part.
	views := make(map[multiraft.GroupID]*view, len(updates))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range updates {
			v := views[updates[i].Group]
			if v == nil {
				v = newView(mems[i])
				views[updates[i].Group] = v
			}
			if err := s.write(tx, &updates[i], v); err != nil {
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

// view is a group's log as a Save's transaction changes it: the snapshot
// index, the compaction point and the last entry, and the terms of the
// entries written so far (a group may have several updates in a Save).
type view struct {
	ms             *raft.MemoryStorage // the group before the Save
	snap           uint64
	off, offTerm   uint64
	last, lastTerm uint64
	written        map[uint64]uint64 // index -> term, entries of this Save
}

func newView(ms *raft.MemoryStorage) *view {
	v := &view{ms: ms}
	snap, _ := ms.Snapshot()
	v.snap = snap.Metadata.Index
	first, _ := ms.FirstIndex()
	v.off = first - 1
	v.offTerm, _ = ms.Term(v.off)
	v.last, _ = ms.LastIndex()
	v.lastTerm, _ = ms.Term(v.last)
	return v
}

// term returns the term of the entry at i, in [v.off, v.last].
func (v *view) term(i uint64) (uint64, error) {
	switch {
	case i == v.off:
		return v.offTerm, nil
	case i == v.last:
		return v.lastTerm, nil
	}
	if t, ok := v.written[i]; ok {
		return t, nil
	}
	return v.ms.Term(i)
}

// write puts one update into the transaction, with the semantics of
// raft.MemoryStorage (a snapshot not newer than the stored one is
// ignored; entries at or below the compaction point are ignored; an
// append that leaves a gap or lowers a term is an error, and the
// transaction is rolled back), and moves v on.
func (s *Store) write(tx *bolt.Tx, u *multiraft.Update, v *view) error {
	b, err := tx.CreateBucketIfNotExists(key(uint64(u.Group)))
	if err != nil {
		return err
	}
	eb, err := b.CreateBucketIfNotExists(bucketEntries)
	if err != nil {
		return err
	}
	if !raft.IsEmptySnap(u.Snapshot) && u.Snapshot.Metadata.Index > v.snap {
		data, err := u.Snapshot.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(keySnapshot, data); err != nil {
			return err
		}
		// A snapshot replaces the whole log.
		if err := deleteRange(eb, 0, ^uint64(0)); err != nil {
			return err
		}
		md := u.Snapshot.Metadata
		v.snap, v.off, v.offTerm, v.last, v.lastTerm, v.written = md.Index, md.Index, md.Term, md.Index, md.Term, nil
	}
	if ents := u.Entries; len(ents) > 0 {
		for i := 1; i < len(ents); i++ {
			if ents[i].Index != ents[i-1].Index+1 || ents[i].Term < ents[i-1].Term {
				return fmt.Errorf("group %d: appended entries are not consecutive with non-decreasing terms: entry %d (term %d) follows %d (term %d)",
					u.Group, ents[i].Index, ents[i].Term, ents[i-1].Index, ents[i-1].Term)
			}
		}
		if first := v.off + 1; ents[len(ents)-1].Index < first {
			ents = nil
		} else if ents[0].Index < first {
			ents = ents[first-ents[0].Index:]
		}
		if len(ents) > 0 {
			at := ents[0].Index
			if at > v.last+1 {
				return fmt.Errorf("group %d: missing log entry [last: %d, append at: %d]", u.Group, v.last, at)
			}
			prev, err := v.term(at - 1)
			if err != nil {
				return fmt.Errorf("group %d: %w", u.Group, err)
			}
			if ents[0].Term < prev {
				return fmt.Errorf("group %d: appended entries' terms decrease: entry %d has term %d, below the term %d of entry %d",
					u.Group, at, ents[0].Term, prev, at-1)
			}
			if at <= v.last {
				if err := deleteRange(eb, at, v.last); err != nil {
					return err
				}
			}
			if v.written == nil {
				v.written = make(map[uint64]uint64)
			}
			for i := range ents {
				data, err := ents[i].Marshal()
				if err != nil {
					return err
				}
				if err := eb.Put(key(ents[i].Index), data); err != nil {
					return err
				}
				v.written[ents[i].Index] = ents[i].Term
			}
			v.last, v.lastTerm = ents[len(ents)-1].Index, ents[len(ents)-1].Term
		}
	}
	if !raft.IsEmptyHardState(u.HardState) {
		data, err := u.HardState.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(keyHardState, data); err != nil {
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
// the entries it covers, from the file and from memory. A snapshot not
// newer than the stored one changes nothing; one past the last index is
// an error wrapping raft.ErrUnavailable. The snapshot's term is the log's
// at its index, whatever snap says.
func (s *Store) Compact(g multiraft.GroupID, snap pb.Snapshot) error {
	ms, err := s.memory(g)
	if err != nil {
		return err
	}
	i := snap.Metadata.Index
	// Nothing to do for a snapshot not newer than the stored one; the
	// term is the log's.
	if cur, _ := ms.Snapshot(); i <= cur.Metadata.Index {
		return nil
	}
	if last, _ := ms.LastIndex(); i > last {
		return fmt.Errorf("boltlogstore: group %d: compact index %d is out of bound: last index is %d: %w", g, i, last, raft.ErrUnavailable)
	}
	t, err := ms.Term(i)
	if err != nil {
		return fmt.Errorf("boltlogstore: group %d: %w", g, err)
	}
	snap.Metadata.Term = t
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
