package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
	bolt "go.etcd.io/bbolt"
)

// Layout of the bbolt file. One bucket holds the log entries keyed by their
// index (8 bytes, big endian, so that the B+tree order is the log order);
// the other holds the few single values.
var (
	bucketEntries = []byte("entries")
	bucketMeta    = []byte("meta")

	keyHardState = []byte("hardstate")
	keySnapshot  = []byte("snapshot")
	// keyCompacted holds the index and term of the compaction point: the
	// entry just before the first stored one (0/0 for a fresh log).
	keyCompacted = []byte("compacted")
	// keyRecovery holds the quarantine raft reported through
	// Config.OnRecovery (JSON), absent when there never was one.
	keyRecovery = []byte("recovery")
)

// boltStorage is a raft.Storage kept in a bbolt file. Every write is one
// bbolt transaction, and bbolt fsyncs on commit, so what a write method
// returns nil for survives a crash (kill -9, power loss).
//
// Reads are served from a small in-memory summary (the compaction point,
// the last index, the HardState and the snapshot) plus read transactions for
// entries. The RWMutex orders the raft goroutine's reads after the
// application goroutine's writes.
type boltStorage struct {
	db *bolt.DB

	mu         sync.RWMutex
	hardState  pb.HardState
	snapshot   pb.Snapshot
	compactIdx uint64
	compactTrm uint64
	lastIdx    uint64
}

var _ raft.Storage = (*boltStorage)(nil)

// openBoltStorage opens (or creates) the bbolt file at path and loads the
// summary of what it holds.
func openBoltStorage(path string) (*boltStorage, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &boltStorage{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		ents, err := tx.CreateBucketIfNotExists(bucketEntries)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keyHardState); v != nil {
			if err := s.hardState.Unmarshal(v); err != nil {
				return fmt.Errorf("decode hard state: %w", err)
			}
		}
		if v := meta.Get(keySnapshot); v != nil {
			if err := s.snapshot.Unmarshal(v); err != nil {
				return fmt.Errorf("decode snapshot: %w", err)
			}
		}
		if v := meta.Get(keyCompacted); v != nil {
			if len(v) != 16 {
				return fmt.Errorf("compaction point has %d bytes, want 16", len(v))
			}
			s.compactIdx = binary.BigEndian.Uint64(v[:8])
			s.compactTrm = binary.BigEndian.Uint64(v[8:])
		}
		s.lastIdx = s.compactIdx
		if k, _ := ents.Cursor().Last(); k != nil {
			s.lastIdx = binary.BigEndian.Uint64(k)
		}
		if first, _ := ents.Cursor().First(); first != nil {
			if i := binary.BigEndian.Uint64(first); i != s.compactIdx+1 {
				return fmt.Errorf("first stored entry is %d, want %d (compaction point + 1)", i, s.compactIdx+1)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return s, nil
}

// Recovery returns the quarantine last saved by SaveRecovery, or nil.
func (s *boltStorage) Recovery() (*raft.Recovery, error) {
	var rec *raft.Recovery
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyRecovery)
		if v == nil {
			return nil
		}
		rec = new(raft.Recovery)
		return json.Unmarshal(v, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("load recovery: %w", err)
	}
	return rec, nil
}

// SaveRecovery persists rec durably (bbolt fsyncs on commit). raft calls
// it through Config.OnRecovery before the HardState of the next Ready is
// saved, as that contract asks, because it writes at once.
func (s *boltStorage) SaveRecovery(rec raft.Recovery) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyRecovery, v) })
}

// Close closes the bbolt file.
func (s *boltStorage) Close() error { return s.db.Close() }

func indexKey(i uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], i)
	return k[:]
}

// InitialState implements raft.Storage.
func (s *boltStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hardState, s.snapshot.Metadata.ConfState, nil
}

// IsEmpty reports whether the storage holds nothing at all: a node that
// finds it empty bootstraps (or joins), otherwise it restarts.
func (s *boltStorage) IsEmpty() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return raft.IsEmptyHardState(s.hardState) && s.lastIdx == 0 && raft.IsEmptySnap(s.snapshot)
}

// Entries implements raft.Storage.
func (s *boltStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if lo <= s.compactIdx {
		return nil, raft.ErrCompacted
	}
	if hi > s.lastIdx+1 {
		return nil, fmt.Errorf("entries [%d, %d) out of bound: last index is %d: %w", lo, hi, s.lastIdx, raft.ErrUnavailable)
	}
	if lo > hi {
		return nil, fmt.Errorf("invalid entries range [%d, %d): lo > hi", lo, hi)
	}
	if s.lastIdx == s.compactIdx {
		return nil, raft.ErrUnavailable // no entries at all, as MemoryStorage says
	}
	if lo == hi {
		return []pb.Entry{}, nil
	}
	ents := make([]pb.Entry, 0, min(hi-lo, 64))
	var size uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		want := lo
		for k, v := c.Seek(indexKey(lo)); k != nil && want < hi; k, v = c.Next() {
			if i := binary.BigEndian.Uint64(k); i != want {
				// A hole inside [compaction point, last index] means the file
				// lost data we wrote: a broken local invariant.
				panic(fmt.Sprintf("kvstore: storage has entry %d where %d was expected (range [%d, %d))", i, want, lo, hi))
			}
			var e pb.Entry
			if err := e.Unmarshal(v); err != nil { // Unmarshal copies Data out of the mmap
				return fmt.Errorf("decode entry %d: %w", want, err)
			}
			size += uint64(e.Size())
			if len(ents) > 0 && size > maxSize {
				break
			}
			ents = append(ents, e)
			want++
		}
		if len(ents) == 0 {
			panic(fmt.Sprintf("kvstore: storage lost entries [%d, %d) (compaction point %d, last index %d)", lo, hi, s.compactIdx, s.lastIdx))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ents[:len(ents):len(ents)], nil
}

// Term implements raft.Storage.
func (s *boltStorage) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case i < s.compactIdx:
		return 0, raft.ErrCompacted
	case i == s.compactIdx:
		return s.compactTrm, nil
	case i > s.lastIdx:
		return 0, raft.ErrUnavailable
	}
	var term uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get(indexKey(i))
		if v == nil {
			panic(fmt.Sprintf("kvstore: storage lost entry %d (compaction point %d, last index %d)", i, s.compactIdx, s.lastIdx))
		}
		var e pb.Entry
		if err := e.Unmarshal(v); err != nil {
			return fmt.Errorf("decode entry %d: %w", i, err)
		}
		term = e.Term
		return nil
	})
	return term, err
}

// LastIndex implements raft.Storage.
func (s *boltStorage) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastIdx, nil
}

// FirstIndex implements raft.Storage.
func (s *boltStorage) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.compactIdx + 1, nil
}

// Snapshot implements raft.Storage.
func (s *boltStorage) Snapshot() (pb.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snapshot, nil
}

// summary is the in-memory part of the storage, changed inside a write
// transaction and published only once the transaction has committed.
type summary struct {
	hardState  pb.HardState
	snapshot   pb.Snapshot
	compactIdx uint64
	compactTrm uint64
	lastIdx    uint64
}

func (s *boltStorage) summary() summary {
	return summary{s.hardState, s.snapshot, s.compactIdx, s.compactTrm, s.lastIdx}
}

func (s *boltStorage) publish(sum summary) {
	s.hardState, s.snapshot = sum.hardState, sum.snapshot
	s.compactIdx, s.compactTrm, s.lastIdx = sum.compactIdx, sum.compactTrm, sum.lastIdx
}

// update runs fn in one write transaction on a copy of the summary, and
// publishes the copy if the transaction commits (durably: bbolt fsyncs).
func (s *boltStorage) update(fn func(tx *bolt.Tx, sum *summary) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.summary()
	err := s.db.Update(func(tx *bolt.Tx) error { return fn(tx, &sum) })
	if err != nil {
		return err
	}
	s.publish(sum)
	return nil
}

// Save persists what a Ready asks for, in the order of the Ready contract
// (snapshot, then entries, then HardState), as one transaction: either all
// of it is on disk when Save returns nil, or none of it.
func (s *boltStorage) Save(hs pb.HardState, ents []pb.Entry, snap pb.Snapshot) error {
	if raft.IsEmptyHardState(hs) && len(ents) == 0 && raft.IsEmptySnap(snap) {
		return nil
	}
	return s.update(func(tx *bolt.Tx, sum *summary) error {
		if !raft.IsEmptySnap(snap) {
			if err := applySnapshotTx(tx, sum, snap); err != nil {
				return err
			}
		}
		if err := appendTx(tx, sum, ents); err != nil {
			return err
		}
		if !raft.IsEmptyHardState(hs) {
			v, err := hs.Marshal()
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketMeta).Put(keyHardState, v); err != nil {
				return err
			}
			sum.hardState = hs
		}
		return nil
	})
}

// SetHardState persists hs.
func (s *boltStorage) SetHardState(hs pb.HardState) error {
	return s.Save(hs, nil, pb.Snapshot{})
}

// Append persists entries, which must have consecutive indexes. Entries at
// or below the compaction point are ignored; stored entries at or after the
// first appended index are replaced. A gap after LastIndex is an error.
func (s *boltStorage) Append(ents []pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx, sum *summary) error { return appendTx(tx, sum, ents) })
}

func appendTx(tx *bolt.Tx, sum *summary, ents []pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	for i := 1; i < len(ents); i++ {
		if ents[i].Index != ents[i-1].Index+1 {
			return fmt.Errorf("appended entries are not consecutive: index %d follows %d", ents[i].Index, ents[i-1].Index)
		}
	}
	first := sum.compactIdx + 1
	if ents[len(ents)-1].Index < first {
		return nil
	}
	if ents[0].Index < first {
		ents = ents[first-ents[0].Index:]
	}
	if ents[0].Index > sum.lastIdx+1 {
		return fmt.Errorf("missing log entry [last: %d, append at: %d]", sum.lastIdx, ents[0].Index)
	}
	b := tx.Bucket(bucketEntries)
	// Drop the conflicting suffix that the new entries do not overwrite.
	if err := deleteRange(b, ents[len(ents)-1].Index+1, sum.lastIdx); err != nil {
		return err
	}
	for i := range ents {
		v, err := ents[i].Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(indexKey(ents[i].Index), v); err != nil {
			return err
		}
	}
	sum.lastIdx = ents[len(ents)-1].Index
	return nil
}

// deleteRange deletes the entries with index in [lo, hi].
func deleteRange(b *bolt.Bucket, lo, hi uint64) error {
	c := b.Cursor()
	for k, _ := c.Seek(indexKey(lo)); k != nil && binary.BigEndian.Uint64(k) <= hi; k, _ = c.Seek(indexKey(lo)) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func putCompacted(tx *bolt.Tx, sum *summary, index, term uint64) error {
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], index)
	binary.BigEndian.PutUint64(v[8:], term)
	sum.compactIdx, sum.compactTrm = index, term
	return tx.Bucket(bucketMeta).Put(keyCompacted, v[:])
}

func putSnapshot(tx *bolt.Tx, sum *summary, snap pb.Snapshot) error {
	v, err := snap.Marshal()
	if err != nil {
		return err
	}
	sum.snapshot = snap
	return tx.Bucket(bucketMeta).Put(keySnapshot, v)
}

// ApplySnapshot replaces the storage's contents with snap: every entry is
// dropped and the snapshot becomes the compaction point. It returns
// raft.ErrSnapOutOfDate if snap is not newer than the stored snapshot.
func (s *boltStorage) ApplySnapshot(snap pb.Snapshot) error {
	return s.update(func(tx *bolt.Tx, sum *summary) error { return applySnapshotTx(tx, sum, snap) })
}

func applySnapshotTx(tx *bolt.Tx, sum *summary, snap pb.Snapshot) error {
	if snap.Metadata.Index <= sum.snapshot.Metadata.Index {
		return raft.ErrSnapOutOfDate
	}
	if err := deleteRange(tx.Bucket(bucketEntries), 0, sum.lastIdx); err != nil {
		return err
	}
	if err := putSnapshot(tx, sum, snap); err != nil {
		return err
	}
	sum.lastIdx = snap.Metadata.Index
	return putCompacted(tx, sum, snap.Metadata.Index, snap.Metadata.Term)
}

// CreateSnapshot records a snapshot of the application state at index i,
// with configuration cs and data. It does not compact the log. It returns
// raft.ErrSnapOutOfDate if i is not newer than the current snapshot,
// raft.ErrCompacted if i is below the compaction point, and an error
// wrapping raft.ErrUnavailable if i is past the last index.
func (s *boltStorage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error) {
	var snap pb.Snapshot
	err := s.update(func(tx *bolt.Tx, sum *summary) error {
		if i <= sum.snapshot.Metadata.Index {
			return raft.ErrSnapOutOfDate
		}
		if i < sum.compactIdx {
			return raft.ErrCompacted
		}
		if i > sum.lastIdx {
			return fmt.Errorf("snapshot index %d is out of bound: last index is %d: %w", i, sum.lastIdx, raft.ErrUnavailable)
		}
		term, err := termTx(tx, sum, i)
		if err != nil {
			return err
		}
		snap = pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: i, Term: term}}
		if cs != nil {
			snap.Metadata.ConfState = *cs
		} else {
			snap.Metadata.ConfState = sum.snapshot.Metadata.ConfState
		}
		return putSnapshot(tx, sum, snap)
	})
	if err != nil {
		return pb.Snapshot{}, err
	}
	return snap, nil
}

func termTx(tx *bolt.Tx, sum *summary, i uint64) (uint64, error) {
	if i == sum.compactIdx {
		return sum.compactTrm, nil
	}
	v := tx.Bucket(bucketEntries).Get(indexKey(i))
	if v == nil {
		return 0, fmt.Errorf("entry %d missing: %w", i, raft.ErrUnavailable)
	}
	var e pb.Entry
	if err := e.Unmarshal(v); err != nil {
		return 0, err
	}
	return e.Term, nil
}

// Compact discards the entries up to and including compactIndex, which
// becomes the new compaction point. It returns raft.ErrCompacted if
// compactIndex is not after the current compaction point, and an error
// wrapping raft.ErrUnavailable if it is past the last index.
func (s *boltStorage) Compact(compactIndex uint64) error {
	return s.update(func(tx *bolt.Tx, sum *summary) error {
		if compactIndex <= sum.compactIdx {
			return raft.ErrCompacted
		}
		if compactIndex > sum.lastIdx {
			return fmt.Errorf("compact index %d is out of bound: last index is %d: %w", compactIndex, sum.lastIdx, raft.ErrUnavailable)
		}
		term, err := termTx(tx, sum, compactIndex)
		if err != nil {
			return err
		}
		if err := deleteRange(tx.Bucket(bucketEntries), 0, compactIndex); err != nil {
			return err
		}
		return putCompacted(tx, sum, compactIndex, term)
	})
}
