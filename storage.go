package raft

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	pb "github.com/raftkit/raft/raftpb"
)

// ErrCompacted is returned by Storage.Entries and Storage.Term when the
// requested index precedes the first index still available, because the log
// has been compacted up to (or past) it. Raft reacts by sending a snapshot.
var ErrCompacted = errors.New("requested index is unavailable due to compaction")

// ErrSnapOutOfDate is returned by MemoryStorage.CreateSnapshot and
// MemoryStorage.ApplySnapshot when the requested snapshot index is not newer
// than the snapshot the storage already holds.
var ErrSnapOutOfDate = errors.New("requested index is older than the existing snapshot")

// ErrUnavailable is returned by Storage.Entries and Storage.Term when the
// requested index lies beyond the last index in the storage.
var ErrUnavailable = errors.New("requested entry at index is unavailable")

// ErrSnapshotTemporarilyUnavailable is returned by Storage.Snapshot when the
// snapshot is being prepared and cannot be returned yet. Raft skips this
// attempt to send a snapshot and tries again later.
var ErrSnapshotTemporarilyUnavailable = errors.New("snapshot is temporarily unavailable")

// Storage is the interface through which raft reads the persisted log. The
// application implements it over its own disk (or uses MemoryStorage) and is
// responsible for writing to it: entries, HardState and snapshots handed out
// in a Ready must be persisted before the corresponding Advance.
//
// Raft keeps the entries it has not yet seen persisted in memory and only
// asks Storage about indexes below them, so a Storage may briefly hold
// entries that raft still considers unstable.
//
// Errors: ErrCompacted and ErrUnavailable from Entries and Term are part of
// the protocol (they mean "send a snapshot" and "not there" respectively).
// ErrSnapshotTemporarilyUnavailable from Snapshot makes raft retry later. Any
// other error means the storage is broken; raft cannot continue safely and
// panics.
//
// Methods may be called from the goroutine that drives raft while the
// application writes to the storage from another one; implementations must
// synchronize accordingly.
type Storage interface {
	// InitialState returns the persisted HardState and the ConfState raft
	// should start from: the configuration that results from applying every
	// configuration change at or below Config.Applied.
	InitialState() (pb.HardState, pb.ConfState, error)

	// Entries returns the consecutive log entries in [lo, hi). The total
	// size of the returned entries, as encoded by Entry.Size, is limited by
	// maxSize, but at least one entry is returned when lo < hi.
	//
	// Ownership: the returned slice belongs to the caller, who may keep it
	// and append to it; implementations must therefore return a slice whose
	// capacity does not reach into storage they will write later (for
	// example by returning s[:len(s):len(s)]). The entries themselves,
	// including their Data, are shared and must never be mutated by anyone.
	//
	// It returns ErrCompacted if lo precedes FirstIndex, and ErrUnavailable
	// if part of the range is not in the storage.
	Entries(lo, hi, maxSize uint64) ([]pb.Entry, error)

	// Term returns the term of the entry at index i, which must lie in
	// [FirstIndex()-1, LastIndex()]. The term of the entry just before
	// FirstIndex is retained (for matching) even though the entry itself
	// is not. It returns ErrCompacted below that range and ErrUnavailable
	// above it.
	Term(i uint64) (uint64, error)

	// LastIndex returns the index of the last entry in the log, or the
	// snapshot index if there are no entries after the snapshot.
	LastIndex() (uint64, error)

	// FirstIndex returns the index of the first entry that may be available
	// through Entries: the snapshot index plus one, so 1 for a fresh log.
	FirstIndex() (uint64, error)

	// Snapshot returns the most recent snapshot. If it is temporarily
	// unavailable it returns ErrSnapshotTemporarilyUnavailable, and raft
	// tries again later.
	Snapshot() (pb.Snapshot, error)
}

// MemoryStorage is a Storage backed by an in-memory slice. It is safe for
// concurrent use; the embedded mutex is exported so that an application can
// make several calls atomically, as the reference implementation allows.
type MemoryStorage struct {
	// Mutex guards every field below. All methods but LastIndex take it,
	// so a caller holding it must not call them; LastIndex reads an atomic
	// copy of the last index that is only written under it, so its answer
	// cannot change while the mutex is held.
	sync.Mutex

	hardState pb.HardState
	snapshot  pb.Snapshot
	// last is the index of the last entry, and offTerm the term of the
	// compaction point (the snapshot, or 0/0 for a fresh log), whose index
	// is last-len(live()) (offset); live() holds the entries after it.
	// Invariant: live()[i].Index == offset()+1+i.
	//
	// last is written under the lock and read without it by LastIndex,
	// which raft calls a dozen times per entry of a three-node group and
	// which otherwise costs a lock and an unlock (5 ns) for one load. It
	// stands in for the compaction point's index rather than beside it so
	// that the struct stays in its 224-byte size class.
	last    atomic.Uint64
	offTerm uint64
	// ents is the array from its start: ents[:dead] are compacted entries
	// still in it (Compact reslices rather than copies), ents[dead:] the
	// live ones. Once the dead outnumber the live ones, Compact moves the
	// live ones, so that the dead ones, and their payloads, can be freed.
	ents []pb.Entry
	dead int32
	// shared is set once Entries has handed out a slice of the array:
	// the array is then never written below len(ents) again. Until then
	// Compact moves the live entries to the start of the same array
	// instead of to a new one.
	shared bool
}

// NewMemoryStorage returns an empty MemoryStorage: FirstIndex is 1 and
// LastIndex is 0.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{}
}

// InitialState implements the Storage interface. It returns the HardState set
// by SetHardState and the ConfState of the current snapshot.
func (ms *MemoryStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	ms.Lock()
	defer ms.Unlock()
	return ms.hardState, ms.snapshot.Metadata.ConfState, nil
}

// SetHardState saves the current HardState, replacing the previous one.
func (ms *MemoryStorage) SetHardState(st pb.HardState) error {
	// The small accessors unlock without defer: they cannot panic, and a
	// follower calls several of them for every append.
	ms.Lock()
	ms.hardState = st
	ms.Unlock()
	return nil
}

// live returns the entries after the compaction point. Callers hold the
// lock.
func (ms *MemoryStorage) live() []pb.Entry { return ms.ents[ms.dead:] }

// offset returns the index of the compaction point. Callers hold the lock.
func (ms *MemoryStorage) offset() uint64 {
	return ms.last.Load() - uint64(len(ms.ents)-int(ms.dead))
}

// lastIndex returns the index of the last entry. Callers hold the lock.
func (ms *MemoryStorage) lastIndex() uint64 {
	return ms.last.Load()
}

// term returns the term of entry i, which must be in [offset, lastIndex].
// Callers hold the lock.
func (ms *MemoryStorage) term(i uint64) uint64 {
	off := ms.offset()
	if i == off {
		return ms.offTerm
	}
	return ms.ents[uint64(ms.dead)+i-off-1].Term
}

// Entries implements the Storage interface. The returned slice has capacity
// equal to its length, so appending to it never writes into the storage.
// Unlike the reference, a range that ends past LastIndex()+1 or with lo > hi
// is reported as an error instead of a panic.
func (ms *MemoryStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	ms.Lock()
	defer ms.Unlock()
	offset := ms.offset()
	if lo <= offset {
		return nil, ErrCompacted
	}
	if last := ms.lastIndex(); hi > last+1 {
		return nil, fmt.Errorf("raft: entries [%d, %d) out of bound: last index is %d: %w",
			lo, hi, last, ErrUnavailable)
	}
	if lo > hi {
		return nil, fmt.Errorf("raft: invalid entries range [%d, %d): lo > hi", lo, hi)
	}
	live := ms.live()
	if len(live) == 0 {
		// Nothing after the compaction point.
		return nil, ErrUnavailable
	}
	ents := limitSize(live[lo-offset-1:hi-offset-1], maxSize)
	if len(ents) > 0 {
		ms.shared = true
	}
	return ents[:len(ents):len(ents)], nil
}

// Term implements the Storage interface.
func (ms *MemoryStorage) Term(i uint64) (uint64, error) {
	ms.Lock()
	var t uint64
	var err error
	switch {
	case i < ms.offset():
		err = ErrCompacted
	case i > ms.lastIndex():
		err = ErrUnavailable
	default:
		t = ms.term(i)
	}
	ms.Unlock()
	return t, err
}

// LastIndex implements the Storage interface. It does not take the lock
// (the index is kept in an atomic that writers update under it), so it
// does not wait for a caller that holds the embedded Mutex; the answer is
// the same as under the lock: the last index after the latest write that
// completed.
func (ms *MemoryStorage) LastIndex() (uint64, error) {
	return ms.last.Load(), nil
}

// FirstIndex implements the Storage interface.
func (ms *MemoryStorage) FirstIndex() (uint64, error) {
	ms.Lock()
	i := ms.offset() + 1
	ms.Unlock()
	return i, nil
}

// Snapshot implements the Storage interface.
func (ms *MemoryStorage) Snapshot() (pb.Snapshot, error) {
	ms.Lock()
	defer ms.Unlock()
	return ms.snapshot, nil
}

// ApplySnapshot replaces the contents of the storage with the given snapshot:
// every entry is dropped and the snapshot's index and term become the new
// compaction point. It returns ErrSnapOutOfDate if the snapshot is not newer
// than the one already held (as in the reference v3.6, this also rejects an
// index-0 snapshot on a fresh storage).
func (ms *MemoryStorage) ApplySnapshot(snap pb.Snapshot) error {
	ms.Lock()
	defer ms.Unlock()
	if snap.Metadata.Index <= ms.snapshot.Metadata.Index {
		return ErrSnapOutOfDate
	}
	ms.snapshot = snap
	ms.offTerm = snap.Metadata.Term
	ms.ents, ms.dead, ms.shared = nil, 0, false
	ms.last.Store(snap.Metadata.Index)
	return nil
}

// CreateSnapshot records a snapshot at index i, which the application can
// later read with Snapshot, for example to send it to a lagging follower. cs,
// when not nil, becomes the snapshot's ConfState (the value is copied, the
// slices in it are shared); data is the serialized application state at i.
// It does not compact the log: call Compact for that.
//
// It returns ErrSnapOutOfDate if i is not newer than the current snapshot,
// ErrCompacted if the entry at i has been compacted away, and an error
// wrapping ErrUnavailable if i is past the last index.
func (ms *MemoryStorage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error) {
	ms.Lock()
	defer ms.Unlock()
	if i <= ms.snapshot.Metadata.Index {
		return pb.Snapshot{}, ErrSnapOutOfDate
	}
	offset := ms.offset()
	if i < offset {
		return pb.Snapshot{}, ErrCompacted
	}
	if last := ms.lastIndex(); i > last {
		return pb.Snapshot{}, fmt.Errorf("raft: snapshot index %d is out of bound: last index is %d: %w",
			i, last, ErrUnavailable)
	}
	ms.snapshot.Metadata.Index = i
	ms.snapshot.Metadata.Term = ms.term(i)
	if cs != nil {
		ms.snapshot.Metadata.ConfState = *cs
	}
	ms.snapshot.Data = data
	return ms.snapshot, nil
}

// Compact discards all entries before compactIndex. The entry at
// compactIndex becomes the new compaction point: its term stays available
// through Term, and FirstIndex becomes compactIndex+1. The application must
// not compact past the applied index.
//
// It returns ErrCompacted if compactIndex is not after the current
// compaction point, and an error wrapping ErrUnavailable if compactIndex is
// past the last index.
func (ms *MemoryStorage) Compact(compactIndex uint64) error {
	ms.Lock()
	defer ms.Unlock()
	offset := ms.offset()
	if compactIndex <= offset {
		return ErrCompacted
	}
	if last := ms.lastIndex(); compactIndex > last {
		return fmt.Errorf("raft: compact index %d is out of bound: last index is %d: %w",
			compactIndex, last, ErrUnavailable)
	}
	k := int(compactIndex - offset) // entries compacted away
	ms.offTerm = ms.live()[k-1].Term
	dead := int(ms.dead) + k // the last index stays: the offset moves to compactIndex
	live := ms.ents[dead:]
	if dead <= len(live) && dead <= math.MaxInt32 {
		ms.dead = int32(dead)
		return nil
	}
	// Move the live entries, so that the array no longer holds the dead
	// ones and their payloads. Moving only when the dead outnumber the
	// live costs at most one copy per compacted entry, however long the
	// uncompacted tail: a compaction far behind the last index does not
	// copy the tail each time.
	//
	// They move to an array with room for as many entries as this one saw
	// compacted, at most four times the live ones: a log that is
	// compacted at a steady pace (keep K entries every D appended) then
	// fills it up to its next compaction without growing through append's
	// steps, each of which copies every live entry, while a compaction
	// after a burst does not keep the burst's size.
	room := min(dead, 4*len(live))
	if !ms.shared && cap(ms.ents) <= 2*(len(live)+room) {
		// No slice of the array was handed out, and it is not much larger
		// than a new one would be (a log compacted at a steady pace
		// reuses its array at every compaction): the live entries move to
		// its start, and the entries behind them are cleared.
		n := copy(ms.ents, live)
		clear(ms.ents[n:])
		ms.ents, ms.dead = ms.ents[:n], 0
		return nil
	}
	// A new array: the old one is never written again, so that slices
	// returned earlier by Entries stay intact.
	moved := make([]pb.Entry, len(live), len(live)+room)
	copy(moved, live)
	ms.ents, ms.dead, ms.shared = moved, 0, false
	return nil
}

// Append adds entries to the storage. The entries must have consecutive
// indexes. Entries below FirstIndex are ignored (they are already covered by
// the compaction point); any stored entries at or after the first appended
// index are replaced. Slices returned earlier by Entries are never modified:
// a truncation copies the kept prefix.
//
// It returns an error, and changes nothing, if the entries do not have
// consecutive indexes, would leave a gap after LastIndex, or have terms
// that decrease: within the batch, or from the stored entry they follow.
// A Raft log's terms never decrease; a batch whose terms do is corrupt.
func (ms *MemoryStorage) Append(entries []pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	for i := 1; i < len(entries); i++ {
		// An index of MaxUint64 would be followed by 0.
		if entries[i].Index != entries[i-1].Index+1 || entries[i].Index == 0 {
			return fmt.Errorf("raft: appended entries are not consecutive: index %d follows %d",
				entries[i].Index, entries[i-1].Index)
		}
		if entries[i].Term < entries[i-1].Term {
			return fmt.Errorf("raft: appended entries' terms decrease: entry %d has term %d, below the term %d of entry %d",
				entries[i].Index, entries[i].Term, entries[i-1].Term, entries[i-1].Index)
		}
	}

	// Without defer, which costs as much as the rest of a one-entry
	// append: nothing below panics but a broken invariant of the storage.
	ms.Lock()
	err := ms.appendLocked(entries)
	ms.Unlock()
	return err
}

// appendLocked is Append once the entries are checked. Callers hold the
// lock.
func (ms *MemoryStorage) appendLocked(entries []pb.Entry) error {
	off := ms.offset()
	first := off + 1
	if last := entries[len(entries)-1].Index; last < first {
		return nil // everything is already compacted
	}
	if entries[0].Index < first {
		entries = entries[first-entries[0].Index:]
	}

	live := ms.live()
	at := entries[0].Index - off - 1
	if at <= uint64(len(live)) {
		if prev := ms.term(entries[0].Index - 1); entries[0].Term < prev {
			return fmt.Errorf("raft: appended entries' terms decrease: entry %d has term %d, below the term %d of entry %d",
				entries[0].Index, entries[0].Term, prev, entries[0].Index-1)
		}
	}
	switch n := uint64(len(live)); {
	case at < n:
		// Truncate the conflicting suffix. Copy the prefix so that the
		// array shared with earlier Entries results is left untouched.
		ents := make([]pb.Entry, at, at+uint64(len(entries)))
		copy(ents, live[:at])
		ms.ents, ms.dead, ms.shared = append(ents, entries...), 0, false
	case at == n:
		if len(ms.ents)+len(entries) > cap(ms.ents) {
			// append moves the live entries to a new array.
			ms.ents, ms.dead, ms.shared = appendEntries(live, entries), 0, false
		} else {
			ms.ents = appendEntries(ms.ents, entries)
		}
	default:
		return fmt.Errorf("raft: missing log entry [last: %d, append at: %d]",
			ms.lastIndex(), entries[0].Index)
	}
	ms.last.Store(off + uint64(len(ms.ents)-int(ms.dead)))
	return nil
}
