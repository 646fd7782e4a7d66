package raft

import (
	"fmt"

	pb "github.com/raftkit/raft/raftpb"
)

// unstable holds the part of the log that raft knows about but that has not
// been persisted to Storage yet: the entries from offset on, and possibly an
// incoming snapshot that precedes them.
//
// The entries flow through three stages: new (appended, not yet handed out),
// in progress (handed out in a Ready or a storage append message, being
// written), and stable (the write was acknowledged; they are dropped from
// here and read from Storage from then on). offsetInProgress separates the
// first two stages: entries[:offsetInProgress-offset] are in progress.
//
// Slices handed out (nextEntries, slice) share the backing array with
// entries. To keep them valid, the entries they cover are never written
// again: truncation copies the kept prefix into a new array, and appending
// only writes past the end of every slice handed out so far. Once every
// entry is stable, entries keeps the room left after them (an empty slice
// with capacity), so that a node that appends a few entries per Ready
// allocates an array once per unstableChunk entries rather than once per
// Ready; dropSpare releases that room when the node goes idle.
type unstable struct {
	// snapshot is the incoming snapshot not yet persisted, if any. When
	// set, offset == snapshot.Metadata.Index+1.
	snapshot *pb.Snapshot
	// entries holds the unstable entries; entries[i].Index == offset+i.
	entries []pb.Entry
	// offset is the index of entries[0] (or where it would be).
	offset uint64

	// snapshotInProgress is true once the snapshot was handed out for
	// persisting.
	snapshotInProgress bool
	// offsetInProgress is the index of the first entry not yet handed out
	// for persisting. offset <= offsetInProgress <= offset+len(entries).
	offsetInProgress uint64

	// logger points to the logger to log through (raft's own); nil for
	// no logging.
	logger *Logger
}

// logf logs through the logger at info level, if there is one.
func (u *unstable) logf(format string, args ...interface{}) {
	if u.logger != nil {
		(*u.logger).Infof(format, args...)
	}
}

// maybeFirstIndex returns the index of the first possible entry in the log,
// which is known here only when an unstable snapshot exists.
func (u *unstable) maybeFirstIndex() (uint64, bool) {
	if u.snapshot != nil {
		return u.snapshot.Metadata.Index + 1, true
	}
	return 0, false
}

// maybeLastIndex returns the last index known here: that of the last
// unstable entry, or else that of the unstable snapshot.
func (u *unstable) maybeLastIndex() (uint64, bool) {
	if n := len(u.entries); n != 0 {
		return u.offset + uint64(n) - 1, true
	}
	if u.snapshot != nil {
		return u.snapshot.Metadata.Index, true
	}
	return 0, false
}

// maybeTerm returns the term of the entry at index i if it is known here:
// an unstable entry, or the index of the unstable snapshot.
func (u *unstable) maybeTerm(i uint64) (uint64, bool) {
	if i < u.offset {
		if u.snapshot != nil && u.snapshot.Metadata.Index == i {
			return u.snapshot.Metadata.Term, true
		}
		return 0, false
	}
	if i-u.offset >= uint64(len(u.entries)) {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// nextEntries returns the unstable entries not yet handed out for
// persisting, or nil.
func (u *unstable) nextEntries() []pb.Entry {
	inProgress := u.offsetInProgress - u.offset
	if inProgress == uint64(len(u.entries)) {
		return nil
	}
	return u.entries[inProgress:]
}

// nextSnapshot returns the unstable snapshot if it has not been handed out
// for persisting yet, or nil.
func (u *unstable) nextSnapshot() *pb.Snapshot {
	if u.snapshot == nil || u.snapshotInProgress {
		return nil
	}
	return u.snapshot
}

// acceptInProgress marks every current unstable entry and the unstable
// snapshot as handed out for persisting, so that nextEntries and
// nextSnapshot no longer return them.
func (u *unstable) acceptInProgress() {
	if n := len(u.entries); n != 0 {
		u.offsetInProgress = u.entries[n-1].Index + 1
	}
	if u.snapshot != nil {
		u.snapshotInProgress = true
	}
}

// stableTo records that the entries up to and including id.index were
// persisted, and drops them. The write is only credited if the unstable
// entry at id.index still has term id.term: otherwise the log was
// overwritten after the entries were handed out (a newer leader replaced
// them), and the entries now here have not been persisted yet. It reports
// whether the write was credited.
func (u *unstable) stableTo(id entryID) bool {
	t, ok := u.maybeTerm(id.index)
	if !ok || id.index < u.offset {
		// Not an unstable entry (the index may be that of the snapshot,
		// which is acknowledged through stableSnapTo). This happens when a
		// snapshot replaced the entries after they were handed out.
		u.logf("entry at index %d missing from unstable log; ignoring", id.index)
		return false
	}
	if t != id.term {
		// The entry was overwritten by a newer leader since the write was
		// handed out; the acknowledged write is not the current content.
		u.logf("entry at (index,term)=(%d,%d) mismatched with entry at (%d,%d) in unstable log; ignoring",
			id.index, id.term, id.index, t)
		return false
	}
	n := id.index + 1 - u.offset
	u.entries = u.entries[n:]
	u.offset = id.index + 1
	u.offsetInProgress = max(u.offsetInProgress, u.offset)
	u.shrinkEntriesArray()
	return true
}

// shrinkEntriesArray releases the backing array when most of it is no
// longer used by entries. Dropping stable entries by reslicing keeps the
// array alive, and appends keep extending it, so without this the array
// would only ever grow. When no entry is left, the room after them is kept
// for the next appends (it was never handed out); an array without room
// left is released.
func (u *unstable) shrinkEntriesArray() {
	const lenMultiple = 2
	switch {
	case len(u.entries) == 0:
		if cap(u.entries) == 0 {
			u.entries = nil
		}
	case len(u.entries)*lenMultiple < cap(u.entries):
		ents := make([]pb.Entry, len(u.entries))
		copy(ents, u.entries)
		u.entries = ents
	}
}

// stableSnapTo records that the unstable snapshot at index i was persisted,
// and drops it. An acknowledgement for another snapshot is ignored.
func (u *unstable) stableSnapTo(i uint64) {
	if u.snapshot != nil && u.snapshot.Metadata.Index == i {
		u.snapshot = nil
		u.snapshotInProgress = false
	}
}

// restore replaces the unstable log with the snapshot s: every unstable
// entry is dropped and the snapshot awaits persisting.
func (u *unstable) restore(s pb.Snapshot) {
	u.offset = s.Metadata.Index + 1
	u.offsetInProgress = u.offset
	u.entries = nil
	u.snapshot = &s
	u.snapshotInProgress = false
}

// truncateAndAppend appends ents, which must have consecutive indexes, to
// the unstable log, first dropping any unstable entries at or after
// ents[0].Index. The caller guarantees that ents[0].Index is at most
// lastIndex+1 of the whole log; if ents start at or before offset, they
// replace the unstable log entirely (the caller makes sure Storage entries
// at those indexes are superseded). The unstable log takes ownership of ents
// but never writes into its spare capacity.
func (u *unstable) truncateAndAppend(ents []pb.Entry) {
	if len(ents) == 0 {
		return
	}
	from := ents[0].Index
	switch end := u.offset + uint64(len(u.entries)); {
	case from == end:
		// Contiguous: append directly. Starting afresh, make room for
		// the next appends too (see the type's comment).
		if len(u.entries) == 0 && cap(u.entries) < len(ents) {
			u.entries = make([]pb.Entry, 0, max(len(ents), unstableChunk))
		}
		u.entries = appendEntries(u.entries, ents)
	case from <= u.offset:
		// Replace everything. Cap the slice so a later append cannot write
		// into the caller's spare capacity.
		u.logf("replace the unstable entries from index %d", from)
		u.entries = ents[:len(ents):len(ents)]
		u.offset = from
		u.offsetInProgress = from
	case from < end:
		// Keep [offset, from) and append. The kept prefix is copied into a
		// new array so that slices handed out earlier stay valid.
		u.logf("truncate the unstable entries before index %d", from)
		keep := from - u.offset
		kept := make([]pb.Entry, keep, keep+uint64(len(ents)))
		copy(kept, u.entries[:keep])
		u.entries = append(kept, ents...)
		u.offsetInProgress = min(u.offsetInProgress, from)
	default:
		panic(fmt.Sprintf("appending entries from index %d would leave a gap after last unstable index %d",
			from, end-1))
	}
}

// unstableChunk is the number of entries an empty unstable log makes room
// for when it starts an array: 21 entries are 1008 bytes, which with the
// 8-byte header of an array with pointers over 512 bytes fill the
// 1024-byte size class (16 entries, 768 bytes, took the 896-byte class).
// The array is held only while the node is busy (dropSpare releases it).
const unstableChunk = 21

// dropSpare releases the room kept after the stable entries when no
// unstable entry is left, so that an idle group holds no array.
func (u *unstable) dropSpare() {
	if len(u.entries) == 0 {
		u.entries = nil
	}
}

// slice returns the unstable entries in [lo, hi), which must lie within
// [offset, offset+len(entries)]. The result shares the backing array.
func (u *unstable) slice(lo, hi uint64) []pb.Entry {
	u.mustCheckOutOfBounds(lo, hi)
	return u.entries[lo-u.offset : hi-u.offset]
}

// mustCheckOutOfBounds panics unless offset <= lo <= hi <= offset+len(entries).
// Callers (raftLog) check their arguments first, so a violation is a bug.
func (u *unstable) mustCheckOutOfBounds(lo, hi uint64) {
	if lo > hi {
		panic(fmt.Sprintf("invalid unstable.slice %d > %d", lo, hi))
	}
	upper := u.offset + uint64(len(u.entries))
	if lo < u.offset || hi > upper {
		panic(fmt.Sprintf("unstable.slice[%d,%d) out of bound [%d,%d]", lo, hi, u.offset, upper))
	}
}
