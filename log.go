package raft

import (
	"errors"
	"fmt"
	"math"

	pb "github.com/raftkit/raft/raftpb"
)

// entryID identifies a log entry by its term and index. Two logs that hold
// entries with the same ID hold identical prefixes up to that entry (the Log
// Matching Property, Raft §5.3).
type entryID struct {
	term  uint64
	index uint64
}

// raftLog is the log as raft sees it: the persisted part in Storage with the
// unstable (not yet persisted) part overlaid on it, plus the commit and apply
// cursors. Invariant: applied <= applying <= committed <= lastIndex(), and
// firstIndex()-1 <= committed.
//
// raftLog is not safe for concurrent use; raft drives it from one goroutine.
type raftLog struct {
	// storage holds the entries persisted since the last snapshot.
	storage Storage

	// unstable holds the entries and snapshot not yet persisted. Every
	// index >= unstable.offset is answered by unstable, never by storage.
	unstable unstable

	// committed is the highest index known to be stored on a quorum.
	committed uint64
	// applying is the highest index handed out for application. It may be
	// ahead of applied while the application works.
	applying uint64
	// applied is the highest index the application reports as applied.
	applied uint64

	// maxApplyingEntsSize limits the encoded size of the entries handed out
	// for application and not yet reported applied (math.MaxUint64 means no
	// limit). Each batch holds at least one entry regardless.
	maxApplyingEntsSize uint64
	// applyingEntsSize is the size of the entries handed out for
	// application and not yet reported applied.
	applyingEntsSize uint64
	// applyingEntsPaused is true when no more committed entries are handed
	// out until some are reported applied.
	applyingEntsPaused bool

	// termCache remembers the last term successfully read from storage. A
	// term read from storage stays true as long as the log is not truncated
	// at or below its index, which is when the cache is reset.
	termCache entryID
}

// newLog returns a raftLog over storage with no limit on the size of
// entries handed out for application.
func newLog(storage Storage, logger Logger) (*raftLog, error) {
	return newLogWithSize(storage, logger, math.MaxUint64)
}

// newLogWithSize returns a raftLog over storage, positioned at its end:
// everything in storage is stable, and committed and applied are set to the
// compaction point (raft raises them from the HardState and Config.Applied).
// maxApplyingEntsSize bounds the bytes of entries handed out for application
// and not yet applied; math.MaxUint64 means no limit, and 0 means one
// entry per batch (application resumes once nothing is outstanding). It
// returns the storage error if FirstIndex or LastIndex fails.
func newLogWithSize(storage Storage, logger Logger, maxApplyingEntsSize uint64) (*raftLog, error) {
	l := new(raftLog)
	if logger == nil {
		logger = getLogger()
	}
	if err := l.init(storage, &logger, maxApplyingEntsSize); err != nil {
		return nil, err
	}
	return l, nil
}

// init sets up l as newLogWithSize describes; it lets raft place the log in
// the same allocation as itself. The log logs through *logger, which must
// not be nil and must outlive it: raft passes its own logger field, so that
// a group holds its logger once.
func (l *raftLog) init(storage Storage, logger *Logger, maxApplyingEntsSize uint64) error {
	if storage == nil {
		return errors.New("raft: storage must not be nil")
	}
	first, err := storage.FirstIndex()
	if err != nil {
		return fmt.Errorf("raft: reading the first index from storage: %w", err)
	}
	last, err := storage.LastIndex()
	if err != nil {
		return fmt.Errorf("raft: reading the last index from storage: %w", err)
	}
	if first == 0 || last+1 < first {
		return fmt.Errorf("raft: storage reports an invalid range: first index %d, last index %d", first, last)
	}
	*l = raftLog{
		storage: storage,
		unstable: unstable{
			offset:           last + 1,
			offsetInProgress: last + 1,
			logger:           logger,
		},
		committed:           first - 1,
		applying:            first - 1,
		applied:             first - 1,
		maxApplyingEntsSize: maxApplyingEntsSize,
	}
	return nil
}

// String describes the cursors, for debugging.
func (l *raftLog) String() string {
	return fmt.Sprintf("committed=%d, applying=%d, applied=%d, unstable.offset=%d, unstable.offsetInProgress=%d, len(unstable.Entries)=%d",
		l.committed, l.applying, l.applied, l.unstable.offset, l.unstable.offsetInProgress, len(l.unstable.entries))
}

// firstIndex returns the index of the first entry available in the log.
func (l *raftLog) firstIndex() uint64 {
	if i, ok := l.unstable.maybeFirstIndex(); ok {
		return i
	}
	i, err := l.storage.FirstIndex()
	if err != nil {
		panic(fmt.Sprintf("storage.FirstIndex failed: %v", err))
	}
	return i
}

// lastIndex returns the index of the last entry in the log. It is small
// enough to be inlined (a follower's cycle asks it half a dozen times, a
// three-node group some 30 times per entry); lastIndexWithoutEntries is
// the rest.
func (l *raftLog) lastIndex() uint64 {
	if len(l.unstable.entries) == 0 {
		return l.lastIndexWithoutEntries()
	}
	return l.unstable.offset + uint64(len(l.unstable.entries)) - 1
}

// lastIndexWithoutEntries is lastIndex when the unstable log holds no
// entry: that of the unstable snapshot, or else the storage's; a storage
// error means the storage is broken and panics.
func (l *raftLog) lastIndexWithoutEntries() uint64 {
	if i, ok := l.unstable.maybeLastIndex(); ok {
		return i
	}
	i, err := l.storage.LastIndex()
	if err != nil {
		panic(fmt.Sprintf("storage.LastIndex failed: %v", err))
	}
	return i
}

// lastTerm returns the term of the last entry in the log.
func (l *raftLog) lastTerm() uint64 {
	return l.lastEntryID().term
}

// lastEntryID returns the ID of the last entry in the log.
func (l *raftLog) lastEntryID() entryID {
	if n := len(l.unstable.entries); n != 0 {
		// The last unstable entry, read directly: what lastIndex and term
		// answer for it, without their checks (the path of every Ready
		// that writes entries).
		return entryID{term: l.unstable.entries[n-1].Term, index: l.unstable.offset + uint64(n) - 1}
	}
	last := l.lastIndex()
	t, err := l.term(last)
	if err != nil {
		panic(fmt.Sprintf("the term of the last index %d is unavailable: %v", last, err))
	}
	return entryID{term: t, index: last}
}

// term returns the term of the entry at index i. The valid range is
// [firstIndex()-1, lastIndex()]: it returns ErrCompacted below it and
// ErrUnavailable above it. Any other storage error means the storage is
// broken and panics.
func (l *raftLog) term(i uint64) (uint64, error) {
	// The unstable log answers for its entries and its snapshot's index.
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	if i >= l.unstable.offset {
		// Every index from the offset on belongs to unstable.
		return 0, ErrUnavailable
	}
	if l.unstable.snapshot != nil {
		// Below an unstable snapshot, which supersedes the storage.
		return 0, ErrCompacted
	}
	if i == l.termCache.index && i != 0 {
		return l.termCache.term, nil
	}
	t, err := l.storage.Term(i)
	switch {
	case err == nil:
		l.termCache = entryID{term: t, index: i}
		return t, nil
	case errors.Is(err, ErrCompacted):
		return 0, ErrCompacted
	case errors.Is(err, ErrUnavailable):
		return 0, ErrUnavailable
	}
	panic(fmt.Sprintf("storage.Term(%d) failed: %v", i, err))
}

// zeroTermOnOutOfBounds returns t, or 0 if err says the index was out of
// the log's range. Any other error is a broken storage and panics.
func zeroTermOnOutOfBounds(t uint64, err error) uint64 {
	if err == nil {
		return t
	}
	if errors.Is(err, ErrCompacted) || errors.Is(err, ErrUnavailable) {
		return 0
	}
	panic(fmt.Sprintf("unexpected error: %v", err))
}

// matchTerm reports whether the entry at index i exists and has term t.
func (l *raftLog) matchTerm(i, t uint64) bool {
	term, err := l.term(i)
	return err == nil && term == t
}

// isUpToDate reports whether a log ending at id is at least as up to date
// as this one (Raft §5.4.1): the later last term wins, and with equal last
// terms the longer log wins.
func (l *raftLog) isUpToDate(id entryID) bool {
	last := l.lastEntryID()
	return id.term > last.term || (id.term == last.term && id.index >= last.index)
}

// findConflict returns the index of the first entry of ents that this log
// lacks or holds with a different term, or 0 if the log holds them all.
// ents must have consecutive indexes.
func (l *raftLog) findConflict(ents []pb.Entry) uint64 {
	// Past the last unstable entry, term answers ErrUnavailable for every
	// index from the unstable offset on: a new entry, not a conflict. A
	// follower's append usually starts there; deciding it here saves the
	// term lookup and the error comparison (an interface comparison is a
	// runtime call).
	end := l.unstable.offset + uint64(len(l.unstable.entries))
	for i := range ents {
		e := &ents[i]
		if e.Index >= end {
			return e.Index
		}
		t, err := l.term(e.Index)
		if err == nil && t == e.Term {
			continue
		}
		// ErrUnavailable is the index past the last one (term answers
		// it for every index from the unstable offset on, and the
		// storage holds every index below): a new entry, not a conflict.
		// An entry of another term, or a compacted one, is logged.
		// (The plain comparison first: errors.Is costs a call per append.)
		if err != ErrUnavailable && !errors.Is(err, ErrUnavailable) {
			l.unstable.logf("found conflict at index %d [existing term: %d, conflicting term: %d]",
				e.Index, zeroTermOnOutOfBounds(t, err), e.Term)
		}
		return e.Index
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term, together with that term. It is used to compute and use the hints
// of a rejected append so that a leader skips a whole term of mismatching
// entries per round trip instead of one entry.
//
// The walk stops at the first index whose term is unknown (compacted or
// beyond the last index) and returns that index with term 0: the entry
// there may match, so it is a safe place to probe.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	for ; index > 0; index-- {
		ourTerm, err := l.term(index)
		if err != nil {
			return index, 0
		}
		if ourTerm <= term {
			return index, ourTerm
		}
	}
	return 0, 0
}

// maybeAppend handles the entries of an append request from the leader.
// prev identifies the entry that precedes ents in the leader's log,
// committed is the leader's commit index, and ents must have consecutive
// indexes starting at prev.index+1.
//
// If the log does not hold prev, it returns ok == false and changes nothing
// (the caller rejects the request). Otherwise it appends ents, dropping the
// entries of this log from the first conflicting one on, commits up to
// min(committed, lastNew), and returns the index of the last new entry. An
// error means the request is invalid and nothing was changed: ents are not
// consecutive, or they conflict with a committed entry (which Raft
// guarantees cannot happen with a correct leader and intact storage).
//
// The entries are retained, not copied.
func (l *raftLog) maybeAppend(prev entryID, committed uint64, ents []pb.Entry) (lastNew uint64, ok bool, err error) {
	for i := range ents {
		if want := prev.index + 1 + uint64(i); ents[i].Index != want {
			return 0, false, fmt.Errorf("raft: appended entry %d has index %d, want %d (previous index %d)",
				i, ents[i].Index, want, prev.index)
		}
	}
	if !l.matchTerm(prev.index, prev.term) {
		return 0, false, nil
	}
	lastNew = prev.index + uint64(len(ents))
	if ci := l.findConflict(ents); ci != 0 {
		if ci <= l.committed {
			return 0, false, fmt.Errorf("raft: entry %d conflicts with committed entry [committed(%d)]",
				ci, l.committed)
		}
		l.append(ents[ci-prev.index-1:]...)
	}
	l.commitTo(min(committed, lastNew))
	return lastNew, true, nil
}

// append appends ents to the log, replacing any entries at or after
// ents[0].Index, and returns the new last index. ents must have consecutive
// indexes and start at most at lastIndex()+1. Replacing a committed entry is
// a bug in the caller and panics.
func (l *raftLog) append(ents ...pb.Entry) uint64 {
	if len(ents) == 0 {
		return l.lastIndex()
	}
	if after := ents[0].Index - 1; after < l.committed {
		panic(fmt.Sprintf("after(%d) is out of range [committed(%d)]", after, l.committed))
	}
	if last := l.lastIndex(); ents[0].Index > last+1 {
		panic(fmt.Sprintf("appending at index %d leaves a gap after last index %d", ents[0].Index, last))
	}
	l.unstable.truncateAndAppend(ents)
	if l.termCache.index >= l.unstable.offset {
		// Storage entries from the offset on were superseded.
		l.termCache = entryID{}
	}
	return l.lastIndex()
}

// nextUnstableEnts returns the unstable entries not yet handed out for
// persisting.
func (l *raftLog) nextUnstableEnts() []pb.Entry {
	return l.unstable.nextEntries()
}

// hasNextUnstableEnts reports whether there are unstable entries not yet
// handed out for persisting.
func (l *raftLog) hasNextUnstableEnts() bool {
	return len(l.nextUnstableEnts()) > 0
}

// hasNextOrInProgressUnstableEnts reports whether there are unstable entries,
// handed out for persisting or not.
func (l *raftLog) hasNextOrInProgressUnstableEnts() bool {
	return len(l.unstable.entries) > 0
}

// nextUnstableSnapshot returns the unstable snapshot if it has not been
// handed out for persisting yet, or nil.
func (l *raftLog) nextUnstableSnapshot() *pb.Snapshot {
	return l.unstable.nextSnapshot()
}

// hasNextUnstableSnapshot reports whether there is an unstable snapshot not
// yet handed out for persisting.
func (l *raftLog) hasNextUnstableSnapshot() bool {
	return l.unstable.nextSnapshot() != nil
}

// hasPendingSnapshot reports whether there is an unstable snapshot, handed
// out for persisting or not.
func (l *raftLog) hasPendingSnapshot() bool {
	return l.unstable.snapshot != nil
}

// acceptUnstable marks the unstable entries and snapshot returned by
// nextUnstableEnts and nextUnstableSnapshot as handed out for persisting.
func (l *raftLog) acceptUnstable() {
	l.unstable.acceptInProgress()
}

// maxAppliableIndex returns the highest index that may be handed out for
// application: the commit index, capped at the last stable index unless
// allowUnstable (committed entries may then be applied while they are still
// being persisted locally, which is safe because a quorum stores them).
func (l *raftLog) maxAppliableIndex(allowUnstable bool) uint64 {
	hi := l.committed
	if !allowUnstable {
		hi = min(hi, l.unstable.offset-1)
	}
	return hi
}

// nextCommittedEnts returns the committed entries that can be handed out for
// application: (applying, maxAppliableIndex(allowUnstable)], limited to the
// remaining apply budget but holding at least one entry. It returns nil
// when application is paused, when there is nothing to apply, or while a
// snapshot is pending (it must be applied first). The result may share
// memory with the unstable log; it must not be modified.
func (l *raftLog) nextCommittedEnts(allowUnstable bool) []pb.Entry {
	if l.applyingEntsPaused || l.hasPendingSnapshot() {
		return nil
	}
	lo, hi := l.applying+1, l.maxAppliableIndex(allowUnstable)+1
	if lo >= hi {
		return nil
	}
	budget := uint64(0)
	if l.applyingEntsSize < l.maxApplyingEntsSize {
		budget = l.maxApplyingEntsSize - l.applyingEntsSize
	}
	if off := l.unstable.offset; lo >= off && hi <= off+uint64(len(l.unstable.entries)) {
		// All in the unstable log, as in a busy follower's cycle (appended
		// and committed since the last Ready): what slice returns, without
		// the checks that cannot fail here, but for the storage's first
		// index, which it asks all the same (a storage that fails to
		// answer makes this panic, as in slice).
		if first := l.firstIndex(); lo >= first {
			return l.unstableSlice(lo, hi, budget)
		}
	}
	ents, err := l.slice(lo, hi, budget)
	if err != nil {
		panic(fmt.Sprintf("committed entries [%d, %d) are unavailable (applied %d): %v", lo, hi, l.applied, err))
	}
	return ents
}

// hasNextCommittedEnts reports whether nextCommittedEnts would return
// entries.
func (l *raftLog) hasNextCommittedEnts(allowUnstable bool) bool {
	if l.applyingEntsPaused || l.hasPendingSnapshot() {
		return false
	}
	return l.applying < l.maxAppliableIndex(allowUnstable)
}

// acceptApplying records that the entries up to index i, of total size
// size, were handed out for application. Application pauses when the
// budget is used up, or when the batch stopped short of the appliable
// entries because of the budget (so the next entry would exceed it).
func (l *raftLog) acceptApplying(i uint64, size uint64, allowUnstable bool) {
	hi := l.maxAppliableIndex(allowUnstable)
	if i > hi {
		panic(fmt.Sprintf("applying(%d) is out of range [prevApplying(%d), maxAppliable(%d)]", i, l.applying, hi))
	}
	l.applying = i
	l.applyingEntsSize += size
	l.applyingEntsPaused = l.applyingEntsSize >= l.maxApplyingEntsSize ||
		(i < hi && l.maxApplyingEntsSize != math.MaxUint64)
}

// appliedTo records that the application applied the entries up to index
// i, of total size size (entries applied through a snapshot count 0). It
// frees that much apply budget and resumes application if the budget allows.
func (l *raftLog) appliedTo(i uint64, size uint64) {
	if i > l.committed || i < l.applied {
		panic(fmt.Sprintf("applied(%d) is out of range [prevApplied(%d), committed(%d)]", i, l.applied, l.committed))
	}
	l.applied = i
	l.applying = max(l.applying, i)
	l.applyingEntsSize -= min(size, l.applyingEntsSize)
	if l.applyingEntsPaused && (l.applyingEntsSize < l.maxApplyingEntsSize || l.applyingEntsSize == 0) {
		// With nothing outstanding there is no reason to wait, even with a
		// zero budget (which then means one entry per batch).
		l.applyingEntsPaused = false
	}
}

// entriesOutForApply reports whether committed entries were handed out for
// application and not all reported applied yet.
func (l *raftLog) entriesOutForApply() bool {
	return l.applying > l.applied
}

// commitTo raises the commit index to tocommit; it never lowers it. The
// raft layer clamps peer input, so tocommit past the last index means the
// log this node had acknowledged is gone: a broken local invariant.
func (l *raftLog) commitTo(tocommit uint64) {
	if l.committed >= tocommit {
		return
	}
	if last := l.lastIndex(); tocommit > last {
		panic(fmt.Sprintf("tocommit(%d) is out of range [lastIndex(%d)]. Was the raft log corrupted, truncated, or lost?",
			tocommit, last))
	}
	l.committed = tocommit
}

// maybeCommit commits up to at.index if that raises the commit index and
// the entry there has term at.term. The leader passes its current term so
// that only entries of its own term are committed by counting replicas
// (Raft §5.4.2).
func (l *raftLog) maybeCommit(at entryID) bool {
	if at.index > l.committed && l.matchTerm(at.index, at.term) {
		l.commitTo(at.index)
		return true
	}
	return false
}

// stableTo records that the entries up to id were persisted.
func (l *raftLog) stableTo(id entryID) {
	if l.unstable.stableTo(id) {
		// Taken: the storage holds the entry at id.index, of term
		// id.term, which the next append (whose previous entry it is)
		// or the next MsgApp to a peer asks for.
		l.termCache = id
	}
}

// stableSnapTo records that the snapshot at index i was persisted.
func (l *raftLog) stableSnapTo(i uint64) {
	l.unstable.stableSnapTo(i)
}

// restore replaces the log with the snapshot s, which is committed by
// definition. applying and applied are left for the application to advance
// once it has applied the snapshot.
func (l *raftLog) restore(s pb.Snapshot) {
	l.unstable.logf("log [%s] starts to restore snapshot [index: %d, term: %d]", l, s.Metadata.Index, s.Metadata.Term)
	l.committed = s.Metadata.Index
	l.unstable.restore(s)
	l.termCache = entryID{}
}

// snapshot returns the unstable snapshot if there is one, or else the
// storage's snapshot.
func (l *raftLog) snapshot() (pb.Snapshot, error) {
	if l.unstable.snapshot != nil {
		return *l.unstable.snapshot, nil
	}
	return l.storage.Snapshot()
}

// checkBounds returns an error unless firstIndex() <= lo <= hi <=
// lastIndex()+1; ErrCompacted if lo is below the first index.
func (l *raftLog) checkBounds(lo, hi uint64) error {
	if lo > hi {
		return fmt.Errorf("raft: invalid slice %d > %d", lo, hi)
	}
	if first := l.firstIndex(); lo < first {
		return ErrCompacted
	}
	if last := l.lastIndex(); hi > last+1 {
		return fmt.Errorf("raft: slice[%d,%d) out of bound [%d,%d]", lo, hi, l.firstIndex(), last)
	}
	return nil
}

// unstableSlice returns the entries in [lo, hi), which the caller knows
// to be all in the unstable log, limited to maxSize as slice limits them
// (at least one entry), with a capacity equal to their length.
func (l *raftLog) unstableSlice(lo, hi, maxSize uint64) []pb.Entry {
	off := l.unstable.offset
	ents := l.unstable.entries[lo-off : hi-off : hi-off]
	if len(ents) > 1 {
		n := len(limitSize(ents, maxSize))
		ents = ents[:n:n]
	}
	return ents
}

// slice returns the entries in [lo, hi), read from storage below the
// unstable offset and from the unstable log above it. Their total encoded
// size is limited by maxSize, but at least one entry is returned when
// lo < hi. It returns ErrCompacted if lo is below firstIndex(), and an error
// if lo > hi or hi > lastIndex()+1. Other storage errors are returned as
// they are, except ErrUnavailable, which inside the log's range means the
// storage lost entries and panics.
//
// The result may share memory with the storage or the unstable log. Its
// capacity equals its length, so a caller may append to it, but nobody may
// modify the entries.
func (l *raftLog) slice(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	if err := l.checkBounds(lo, hi); err != nil {
		return nil, err
	}
	if lo == hi {
		return nil, nil
	}
	off := l.unstable.offset
	if lo >= off {
		// checkBounds put hi at most at lastIndex()+1, the unstable log's
		// end when lo >= off < hi: no second check (unstable.slice's).
		return l.unstableSlice(lo, hi, maxSize), nil
	}

	cut := min(hi, off)
	ents, err := l.storage.Entries(lo, cut, maxSize)
	switch {
	case err == nil:
	case errors.Is(err, ErrCompacted):
		return nil, ErrCompacted
	case errors.Is(err, ErrUnavailable):
		panic(fmt.Sprintf("entries[%d:%d) are unavailable from storage: %v", lo, cut, err))
	default:
		return nil, err
	}
	if hi <= off || uint64(len(ents)) < cut-lo {
		// Either all came from storage, or storage stopped at maxSize.
		return ents, nil
	}

	size := entsSize(ents)
	if size >= maxSize {
		return ents, nil
	}
	unst := limitSize(l.unstable.slice(off, hi), maxSize-size)
	if len(unst) == 1 && size+entsSize(unst) > maxSize {
		// limitSize returned its mandatory first entry, which does not fit.
		return ents, nil
	}
	// Copy into a new array: the one behind ents belongs to storage and
	// must not be written past its length.
	out := make([]pb.Entry, len(ents)+len(unst))
	copy(out, ents)
	copy(out[len(ents):], unst)
	return out, nil
}

// entries returns the entries from index i to the end of the log, limited
// in size like slice. It returns nil, nil if i is past the last index.
func (l *raftLog) entries(i, maxSize uint64) ([]pb.Entry, error) {
	last := l.lastIndex()
	if i > last {
		return nil, nil
	}
	return l.slice(i, last+1, maxSize)
}

// scan calls v with consecutive pages of the entries in [lo, hi), each page
// at most pageSize bytes (or a single entry larger than that), and stops at
// the first error, returned by v or by slice.
func (l *raftLog) scan(lo, hi, pageSize uint64, v func([]pb.Entry) error) error {
	for lo < hi {
		ents, err := l.slice(lo, hi, pageSize)
		if err != nil {
			return err
		}
		if len(ents) == 0 {
			return fmt.Errorf("raft: got no entries in [%d, %d)", lo, hi)
		}
		if err := v(ents); err != nil {
			return err
		}
		lo += uint64(len(ents))
	}
	return nil
}

// allEntries returns every entry in the log. It is meant for tests.
func (l *raftLog) allEntries() []pb.Entry {
	for {
		ents, err := l.entries(l.firstIndex(), math.MaxUint64)
		if err == nil {
			return ents
		}
		if !errors.Is(err, ErrCompacted) {
			panic(err)
		}
		// The storage was compacted concurrently; try again.
	}
}

// entsSize returns the total encoded size of ents.
func entsSize(ents []pb.Entry) uint64 {
	var size uint64
	for i := range ents {
		size += uint64(ents[i].Size())
	}
	return size
}

// payloadSize returns the size of the payload of e. It is the measure of
// the uncommitted log size limit, under which empty entries are always
// admitted.
func payloadSize(e pb.Entry) uint64 {
	return uint64(len(e.Data))
}

// payloadsSize returns the total payload size of ents.
func payloadsSize(ents []pb.Entry) uint64 {
	var size uint64
	for i := range ents {
		size += uint64(len(ents[i].Data))
	}
	return size
}

// limitSize returns the longest prefix of ents whose total encoded size is
// at most maxSize, but at least one entry when ents is not empty.
// math.MaxUint64 means no limit.
func limitSize(ents []pb.Entry, maxSize uint64) []pb.Entry {
	if len(ents) <= 1 || maxSize == math.MaxUint64 {
		return ents
	}
	size := uint64(ents[0].Size())
	for n := 1; n < len(ents); n++ {
		size += uint64(ents[n].Size())
		if size > maxSize {
			return ents[:n]
		}
	}
	return ents
}
