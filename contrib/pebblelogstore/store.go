package pebblelogstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// Key kinds, the byte after the group ID. A group's keys are contiguous,
// and so are its entries, in log order.
const (
	kindHardState byte = 'h' // pb.HardState
	kindSnapshot  byte = 's' // pb.Snapshot, data included
	kindTruncated byte = 't' // compaction point: index, term (16 bytes)
	kindEntry     byte = 'e' // followed by the index; pb.Entry
	kindEnd       byte = 0xff
)

func groupKey(g multiraft.GroupID, kind byte) []byte {
	k := make([]byte, 9)
	binary.BigEndian.PutUint64(k, uint64(g))
	k[8] = kind
	return k
}

func entryKey(g multiraft.GroupID, i uint64) []byte {
	k := make([]byte, 17)
	binary.BigEndian.PutUint64(k, uint64(g))
	k[8] = kindEntry
	binary.BigEndian.PutUint64(k[9:], i)
	return k
}

// entryRangeEnd is the key after every entry of group g.
func entryRangeEnd(g multiraft.GroupID) []byte { return groupKey(g, kindEntry+1) }

// Store is a multiraft.LogStore over a pebble database. It is safe for
// concurrent use; Save, Compact, CreateSnapshot and Remove are serialized.
type Store struct {
	db   *pebble.DB
	sync *pebble.WriteOptions

	// wmu serializes the writers (Save, Compact, CreateSnapshot, Remove).
	wmu sync.Mutex

	mu     sync.Mutex // guards groups and the counters
	groups map[multiraft.GroupID]*group
	saves  uint64
	syncs  uint64
}

var _ multiraft.LogStore = (*Store)(nil)

// Open opens or creates the store in directory dir. opts may be nil for
// pebble's defaults with a logger that keeps errors and drops
// informational lines. A Store writes with pebble.Sync when an update asks
// for it, so opts must not disable the WAL. A FormatMajorVersion left at
// FormatDefault becomes pebble.FormatNewest, whose WAL chunks record how
// far the log was synced: that is what lets pebble tell a torn tail (an
// unsynced write cut by a crash, dropped) from damage to synced records
// followed by more of them (an error, pebble.ErrCorruption), when the
// damage and the later records are in different 32 KiB WAL blocks. A new
// store (or one raised to that format) is flushed once at Open, so that
// its WAL is written at the new format from the first Save.
func Open(dir string, opts *pebble.Options) (*Store, error) {
	if opts != nil && opts.DisableWAL {
		return nil, errors.New("pebblelogstore: the WAL cannot be disabled")
	}
	if opts == nil {
		opts = &pebble.Options{Logger: errorsOnly{}}
	}
	if opts.FormatMajorVersion == pebble.FormatDefault {
		opts.FormatMajorVersion = pebble.FormatNewest
	}
	// pebble writes the first WAL of a new store, or of one it upgrades,
	// before it raises the format: that WAL would have no sync offsets.
	fsys := opts.FS
	if fsys == nil {
		fsys = vfs.Default
	}
	rotate := opts.FormatMajorVersion >= pebble.FormatWALSyncChunks
	if desc, err := pebble.Peek(dir, fsys); err == nil && desc.Exists && desc.FormatMajorVersion >= pebble.FormatWALSyncChunks {
		rotate = false
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("pebblelogstore: open %s: %w", dir, err)
	}
	if rotate {
		// A flush starts a new WAL, written at the new format.
		if err := db.Flush(); err != nil {
			db.Close()
			return nil, fmt.Errorf("pebblelogstore: open %s: flush: %w", dir, err)
		}
	}
	return &Store{db: db, sync: pebble.Sync, groups: make(map[multiraft.GroupID]*group)}, nil
}

// errorsOnly is a pebble.Logger that drops informational lines.
type errorsOnly struct{}

func (errorsOnly) Infof(string, ...interface{}) {}
func (errorsOnly) Errorf(format string, args ...interface{}) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (errorsOnly) Fatalf(format string, args ...interface{}) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

// Close closes the database. The Storages handed out must not be used
// after.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying pebble database, for metrics. Writing to it
// directly bypasses the Store's view of the groups.
func (s *Store) DB() *pebble.DB { return s.db }

// meta is what a Store keeps in memory of a group: the compaction point,
// the last index and term, the HardState and the snapshot's metadata. The
// entries and the snapshot's data are read from the database.
type meta struct {
	off, offTerm   uint64 // compaction point: FirstIndex is off+1
	last, lastTerm uint64 // last entry (off, offTerm without entries)
	hs             pb.HardState
	snap           pb.SnapshotMetadata
}

// group is one group's raft.Storage. Its meta changes only with the
// database, under mu held for writing across the commit, so a reader,
// holding mu for reading, sees the meta and the data of the same state.
type group struct {
	s  *Store
	id multiraft.GroupID

	mu sync.RWMutex
	m  meta
}

// Storage implements multiraft.LogStore: the first call for a group reads
// its compaction point, last index, HardState and snapshot metadata.
func (s *Store) Storage(g multiraft.GroupID) (raft.Storage, error) {
	return s.group(g)
}

func (s *Store) group(g multiraft.GroupID) (*group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gr := s.groups[g]; gr != nil {
		return gr, nil
	}
	m, err := s.load(g)
	if err != nil {
		return nil, err
	}
	gr := &group{s: s, id: g, m: m}
	s.groups[g] = gr
	return gr, nil
}

func (s *Store) get(key []byte, f func([]byte) error) (bool, error) {
	return getFrom(s.db, key, f)
}

// load reads group g's meta from the database.
func (s *Store) load(g multiraft.GroupID) (meta, error) {
	var m meta
	fail := func(what string, err error) (meta, error) {
		return meta{}, fmt.Errorf("pebblelogstore: group %d: %s: %w", g, what, err)
	}
	if _, err := s.get(groupKey(g, kindHardState), m.hs.Unmarshal); err != nil {
		return fail("hard state", err)
	}
	if _, err := s.get(groupKey(g, kindSnapshot), func(v []byte) error {
		var snap pb.Snapshot
		err := snap.Unmarshal(v)
		m.snap = snap.Metadata
		return err
	}); err != nil {
		return fail("snapshot", err)
	}
	if _, err := s.get(groupKey(g, kindTruncated), func(v []byte) error {
		if len(v) != 16 {
			return fmt.Errorf("%d bytes, want 16", len(v))
		}
		m.off, m.offTerm = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		return nil
	}); err != nil {
		return fail("compaction point", err)
	}
	m.last, m.lastTerm = m.off, m.offTerm
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(g, 0), UpperBound: entryRangeEnd(g)})
	if err != nil {
		return fail("entries", err)
	}
	defer it.Close()
	var first uint64
	if it.First() {
		first = binary.BigEndian.Uint64(it.Key()[9:])
		if !it.Last() {
			return fail("entries", errors.New("last entry vanished"))
		}
		var e pb.Entry
		if err := e.Unmarshal(it.Value()); err != nil {
			return fail("last entry", err)
		}
		m.last, m.lastTerm = e.Index, e.Term
		if first != m.off+1 || binary.BigEndian.Uint64(it.Key()[9:]) != e.Index {
			return fail("entries", fmt.Errorf("log [%d, %d] does not follow the compaction point %d", first, e.Index, m.off))
		}
	}
	if err := it.Error(); err != nil {
		return fail("entries", err)
	}
	return m, nil
}

// Groups returns the groups the database holds, in order.
func (s *Store) Groups() ([]multiraft.GroupID, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var gs []multiraft.GroupID
	for ok := it.First(); ok; {
		if len(it.Key()) < 8 {
			return nil, fmt.Errorf("pebblelogstore: stray key %x", it.Key())
		}
		g := multiraft.GroupID(binary.BigEndian.Uint64(it.Key()))
		gs = append(gs, g)
		if g == math.MaxUint64 {
			break
		}
		ok = it.SeekGE(groupKey(g+1, 0)[:8])
	}
	return gs, it.Error()
}

// pending is a group's state while a Save builds its batch.
type pending struct {
	g       *group
	m       meta // the meta after the updates written so far
	changed bool // the batch writes something of the group
}

// Save implements multiraft.LogStore: one pebble batch for every update,
// committed with pebble.Sync (one WAL fsync) if any update has MustSync.
// Within an update the snapshot applies first (with
// raft.MemoryStorage.ApplySnapshot's semantics: one not newer than the
// stored snapshot is ignored), then the entries (replacing the stored ones
// from the first of them on), then the HardState. The batch is validated
// whole before it is committed: if Save returns an error, nothing of it
// was written.
func (s *Store) Save(updates []multiraft.Update) error {
	if len(updates) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()

	// The groups, each once, with their meta as of now.
	pend := make(map[multiraft.GroupID]*pending, len(updates))
	order := make([]*pending, 0, len(updates))
	again := false
	for i := range updates {
		id := updates[i].Group
		if p := pend[id]; p != nil {
			again = true
			continue
		}
		g, err := s.group(id)
		if err != nil {
			return err
		}
		g.mu.RLock()
		p := &pending{g: g, m: g.m}
		g.mu.RUnlock()
		pend[id] = p
		order = append(order, p)
	}
	// A group saved twice in one batch may need a term its first update
	// wrote: read through an indexed batch then.
	var b *pebble.Batch
	var r pebble.Reader = s.db
	if again {
		b = s.db.NewIndexedBatch()
		r = b
	} else {
		// Sized for the whole pass, so that a large one is not copied as
		// the batch grows.
		size := 0
		for i := range updates {
			u := &updates[i]
			size += 32 + u.HardState.Size()
			for j := range u.Entries {
				size += 24 + u.Entries[j].Size()
			}
		}
		b = s.db.NewBatchWithSize(size)
	}
	defer b.Close()
	sync := false
	for i := range updates {
		u := &updates[i]
		if err := s.write(b, r, u, pend[u.Group]); err != nil {
			return err
		}
		sync = sync || u.MustSync
	}
	if b.Empty() {
		return nil
	}
	opts := pebble.NoSync
	if sync {
		opts = s.sync
	}
	for _, p := range order {
		if p.changed {
			p.g.mu.Lock()
		}
	}
	err := b.Commit(opts)
	for _, p := range order {
		if p.changed {
			if err == nil {
				p.g.m = p.m
			}
			p.g.mu.Unlock()
		}
	}
	if err != nil {
		return fmt.Errorf("pebblelogstore: commit: %w", err)
	}
	s.mu.Lock()
	s.saves++
	if sync {
		s.syncs++
	}
	s.mu.Unlock()
	return nil
}

// write adds update u to batch b and moves p's meta to the state after it.
// r reads what the batch does not change, or through it.
func (s *Store) write(b *pebble.Batch, r pebble.Reader, u *multiraft.Update, p *pending) error {
	g := u.Group
	m := &p.m
	if !raft.IsEmptySnap(u.Snapshot) && u.Snapshot.Metadata.Index > m.snap.Index {
		v, err := u.Snapshot.Marshal()
		if err != nil {
			return err
		}
		md := u.Snapshot.Metadata
		if err := b.Set(groupKey(g, kindSnapshot), v, nil); err != nil {
			return err
		}
		if err := b.Set(groupKey(g, kindTruncated), truncated(md.Index, md.Term), nil); err != nil {
			return err
		}
		// A snapshot replaces the whole log.
		if err := b.DeleteRange(entryKey(g, 0), entryRangeEnd(g), nil); err != nil {
			return err
		}
		m.snap = md
		m.off, m.offTerm, m.last, m.lastTerm = md.Index, md.Term, md.Index, md.Term
		p.changed = true
	}
	if ents := u.Entries; len(ents) > 0 {
		for i := 1; i < len(ents); i++ {
			if ents[i].Index != ents[i-1].Index+1 || ents[i].Index == 0 {
				return fmt.Errorf("pebblelogstore: group %d: appended entries are not consecutive: index %d follows %d",
					g, ents[i].Index, ents[i-1].Index)
			}
			if ents[i].Term < ents[i-1].Term {
				return fmt.Errorf("pebblelogstore: group %d: appended entries' terms decrease: entry %d has term %d, below the term %d of entry %d",
					g, ents[i].Index, ents[i].Term, ents[i-1].Term, ents[i-1].Index)
			}
		}
		first := m.off + 1
		if ents[len(ents)-1].Index < first {
			ents = nil // all compacted
		} else if ents[0].Index < first {
			ents = ents[first-ents[0].Index:]
		}
		if len(ents) > 0 {
			at := ents[0].Index
			if at > m.last+1 {
				return fmt.Errorf("pebblelogstore: group %d: missing log entry [last: %d, append at: %d]", g, m.last, at)
			}
			prev, err := s.term(r, g, m, at-1)
			if err != nil {
				return err
			}
			if ents[0].Term < prev {
				return fmt.Errorf("pebblelogstore: group %d: appended entries' terms decrease: entry %d has term %d, below the term %d of entry %d",
					g, at, ents[0].Term, prev, at-1)
			}
			if at <= m.last {
				if err := b.DeleteRange(entryKey(g, at), entryRangeEnd(g), nil); err != nil {
					return err
				}
			}
			for i := range ents {
				e := &ents[i]
				op := b.SetDeferred(17, e.Size())
				binary.BigEndian.PutUint64(op.Key, uint64(g))
				op.Key[8] = kindEntry
				binary.BigEndian.PutUint64(op.Key[9:], e.Index)
				if _, err := e.MarshalToSizedBuffer(op.Value); err != nil {
					return err
				}
				if err := op.Finish(); err != nil {
					return err
				}
			}
			last := &ents[len(ents)-1]
			m.last, m.lastTerm = last.Index, last.Term
			p.changed = true
		}
	}
	if !raft.IsEmptyHardState(u.HardState) {
		v, err := u.HardState.Marshal()
		if err != nil {
			return err
		}
		if err := b.Set(groupKey(g, kindHardState), v, nil); err != nil {
			return err
		}
		m.hs = u.HardState
		p.changed = true
	}
	return nil
}

func truncated(index, term uint64) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, index)
	binary.BigEndian.PutUint64(v[8:], term)
	return v
}

// term returns the term of entry i of group g, in [m.off, m.last], read
// from r when it is neither end.
func (s *Store) term(r pebble.Reader, g multiraft.GroupID, m *meta, i uint64) (uint64, error) {
	switch {
	case i == m.off:
		return m.offTerm, nil
	case i == m.last:
		return m.lastTerm, nil
	}
	var e pb.Entry
	found, err := getFrom(r, entryKey(g, i), e.Unmarshal)
	if err == nil && !found {
		err = errors.New("missing")
	}
	if err != nil {
		return 0, fmt.Errorf("pebblelogstore: group %d: entry %d: %w", g, i, err)
	}
	return e.Term, nil
}

func getFrom(r pebble.Reader, key []byte, f func([]byte) error) (bool, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	return true, f(v)
}

// Remove implements multiraft.LogStore: one range deletion of all of
// group g's keys, synced. A Storage returned for g before reads as an
// empty log after.
func (s *Store) Remove(g multiraft.GroupID) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// Storage(g) waits until the keys are gone, so that it does not load
	// them again; the old group's readers wait for its empty meta.
	s.mu.Lock()
	defer s.mu.Unlock()
	if gr := s.groups[g]; gr != nil {
		gr.mu.Lock()
		defer gr.mu.Unlock()
		gr.m = meta{}
		delete(s.groups, g)
	}
	if err := s.db.DeleteRange(groupKey(g, 0)[:8], groupKey(g, kindEnd), s.sync); err != nil {
		return fmt.Errorf("pebblelogstore: remove group %d: %w", g, err)
	}
	return nil
}

// CreateSnapshot records a snapshot of group g at index i, with
// raft.MemoryStorage.CreateSnapshot's semantics: cs, when not nil, becomes
// its ConfState (else the previous snapshot's is kept), data is the
// application's state at i, and the log is left alone (see Compact). It
// returns raft.ErrSnapOutOfDate if i is not newer than the current
// snapshot, raft.ErrCompacted if i is below the compaction point and an
// error wrapping raft.ErrUnavailable past the last index. The write is
// synced.
func (s *Store) CreateSnapshot(g multiraft.GroupID, i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	gr, err := s.group(g)
	if err != nil {
		return pb.Snapshot{}, err
	}
	gr.mu.RLock()
	m := gr.m
	gr.mu.RUnlock()
	if i <= m.snap.Index {
		return pb.Snapshot{}, raft.ErrSnapOutOfDate
	}
	if i < m.off {
		return pb.Snapshot{}, raft.ErrCompacted
	}
	if i > m.last {
		return pb.Snapshot{}, fmt.Errorf("pebblelogstore: group %d: snapshot index %d is out of bound: last index is %d: %w",
			g, i, m.last, raft.ErrUnavailable)
	}
	t, err := s.term(s.db, g, &m, i)
	if err != nil {
		return pb.Snapshot{}, err
	}
	snap := pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: i, Term: t, ConfState: m.snap.ConfState}}
	if cs != nil {
		snap.Metadata.ConfState = *cs
	}
	v, err := snap.Marshal()
	if err != nil {
		return pb.Snapshot{}, err
	}
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if err := s.db.Set(groupKey(g, kindSnapshot), v, s.sync); err != nil {
		return pb.Snapshot{}, fmt.Errorf("pebblelogstore: group %d: snapshot: %w", g, err)
	}
	gr.m.snap = snap.Metadata
	return snap, nil
}

// Compact discards group g's entries up to and including i, with
// raft.MemoryStorage.Compact's semantics: the entry at i becomes the
// compaction point (its term stays available through Term) and FirstIndex
// becomes i+1. The application must not compact past its applied index,
// and should have recorded a snapshot at or after the entries it drops
// (CreateSnapshot). It returns raft.ErrCompacted if i is not after the
// compaction point and an error wrapping raft.ErrUnavailable past the last
// index. The entries go in one range deletion, synced.
func (s *Store) Compact(g multiraft.GroupID, i uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	gr, err := s.group(g)
	if err != nil {
		return err
	}
	gr.mu.RLock()
	m := gr.m
	gr.mu.RUnlock()
	if i <= m.off {
		return raft.ErrCompacted
	}
	if i > m.last {
		return fmt.Errorf("pebblelogstore: group %d: compact index %d is out of bound: last index is %d: %w",
			g, i, m.last, raft.ErrUnavailable)
	}
	t, err := s.term(s.db, g, &m, i)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(groupKey(g, kindTruncated), truncated(i, t), nil); err != nil {
		return err
	}
	if err := b.DeleteRange(entryKey(g, 0), entryKey(g, i+1), nil); err != nil {
		return err
	}
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if err := b.Commit(s.sync); err != nil {
		return fmt.Errorf("pebblelogstore: group %d: compact: %w", g, err)
	}
	gr.m.off, gr.m.offTerm = i, t
	return nil
}

// Stats counts a Store's Save calls since Open.
type Stats struct {
	Saves uint64 // Save calls that wrote something: one pebble batch each
	Syncs uint64 // of those, the ones committed with a WAL fsync
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Saves: s.saves, Syncs: s.syncs}
}

// InitialState implements raft.Storage: the HardState and the snapshot's
// ConfState.
func (gr *group) InitialState() (pb.HardState, pb.ConfState, error) {
	gr.mu.RLock()
	defer gr.mu.RUnlock()
	return gr.m.hs, gr.m.snap.ConfState, nil
}

// Entries implements raft.Storage, with raft.MemoryStorage's errors.
func (gr *group) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	gr.mu.RLock()
	defer gr.mu.RUnlock()
	m := &gr.m
	if lo <= m.off {
		return nil, raft.ErrCompacted
	}
	if hi > m.last+1 {
		return nil, fmt.Errorf("pebblelogstore: group %d: entries [%d, %d) out of bound: last index is %d: %w",
			gr.id, lo, hi, m.last, raft.ErrUnavailable)
	}
	if lo > hi {
		return nil, fmt.Errorf("pebblelogstore: group %d: invalid entries range [%d, %d): lo > hi", gr.id, lo, hi)
	}
	if m.last == m.off {
		return nil, raft.ErrUnavailable
	}
	if lo == hi {
		return []pb.Entry{}, nil
	}
	it, err := gr.s.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(gr.id, lo), UpperBound: entryKey(gr.id, hi)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	n := hi - lo
	if n > 64 && maxSize != math.MaxUint64 {
		n = 64
	}
	ents := make([]pb.Entry, 0, n)
	var size uint64
	next, full := lo, false
	for ok := it.First(); ok; ok = it.Next() {
		if i := binary.BigEndian.Uint64(it.Key()[9:]); i != next {
			return nil, fmt.Errorf("pebblelogstore: group %d: entry %d missing (found %d)", gr.id, next, i)
		}
		v := it.Value()
		size += uint64(len(v)) // len(v) is the entry's Size
		if len(ents) > 0 && size > maxSize {
			full = true
			break
		}
		ents = append(ents, pb.Entry{})
		if err := ents[len(ents)-1].Unmarshal(v); err != nil {
			return nil, fmt.Errorf("pebblelogstore: group %d: entry %d: %w", gr.id, next, err)
		}
		next++
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebblelogstore: group %d: %w", gr.id, err)
	}
	if next < hi && !full {
		return nil, fmt.Errorf("pebblelogstore: group %d: entry %d missing", gr.id, next)
	}
	return ents[:len(ents):len(ents)], nil
}

// Term implements raft.Storage.
func (gr *group) Term(i uint64) (uint64, error) {
	gr.mu.RLock()
	defer gr.mu.RUnlock()
	if i < gr.m.off {
		return 0, raft.ErrCompacted
	}
	if i > gr.m.last {
		return 0, raft.ErrUnavailable
	}
	return gr.s.term(gr.s.db, gr.id, &gr.m, i)
}

// LastIndex implements raft.Storage.
func (gr *group) LastIndex() (uint64, error) {
	gr.mu.RLock()
	defer gr.mu.RUnlock()
	return gr.m.last, nil
}

// FirstIndex implements raft.Storage.
func (gr *group) FirstIndex() (uint64, error) {
	gr.mu.RLock()
	defer gr.mu.RUnlock()
	return gr.m.off + 1, nil
}

// Snapshot implements raft.Storage: the snapshot is read from the
// database.
func (gr *group) Snapshot() (pb.Snapshot, error) {
	gr.mu.RLock()
	defer gr.mu.RUnlock()
	var snap pb.Snapshot
	if _, err := gr.s.get(groupKey(gr.id, kindSnapshot), snap.Unmarshal); err != nil {
		return pb.Snapshot{}, fmt.Errorf("pebblelogstore: group %d: snapshot: %w", gr.id, err)
	}
	return snap, nil
}
