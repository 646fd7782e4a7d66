package multiraft

import (
	"sort"
	"sync"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// Update is what one group's Ready asks to persist.
type Update struct {
	Group     GroupID      // the group to write to
	HardState pb.HardState // empty when unchanged
	Entries   []pb.Entry   // entries to append, replacing any at or after the first
	Snapshot  pb.Snapshot  // empty when none
	// MustSync is the Ready's MustSync: the update must be durable before
	// the group's acknowledgements leave.
	MustSync bool
}

// LogStore holds the raft logs of all the groups of a host.
//
// Storage returns the read side a group's RawNode uses; the host writes only
// through Save. Save persists every update of a pass in one batch: when it
// returns nil, all of them are durable if any had MustSync (one fsync for
// the batch), and Storage(g) reflects them. Within an update the order is:
// snapshot, entries (an entry at index i replaces any stored entry at i or
// after), HardState. Save is called by one goroutine at a time; Storage and
// Remove may be called concurrently with it.
type LogStore interface {
	// Storage returns the storage of group g, creating an empty one if the
	// store holds nothing for g.
	Storage(g GroupID) (raft.Storage, error)
	// Save persists the updates of one pass as one batch.
	Save(updates []Update) error
	// Remove deletes everything stored for group g.
	Remove(g GroupID) error
}

// MemoryLogStore is a LogStore over raft.MemoryStorage, for tests and
// simulation. It counts batches and syncs, and outlives the Host that uses
// it: a new Host over the same store sees everything saved, as after a
// restart with a durable disk.
type MemoryLogStore struct {
	mu     sync.Mutex
	groups map[GroupID]*raft.MemoryStorage
	saves  uint64
	syncs  uint64
	ups    uint64
}

// NewMemoryLogStore returns an empty MemoryLogStore.
func NewMemoryLogStore() *MemoryLogStore {
	return &MemoryLogStore{groups: make(map[GroupID]*raft.MemoryStorage)}
}

// Storage implements LogStore.
func (s *MemoryLogStore) Storage(g GroupID) (raft.Storage, error) {
	return s.memory(g), nil
}

func (s *MemoryLogStore) memory(g GroupID) *raft.MemoryStorage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.groups[g]
	if ms == nil {
		ms = raft.NewMemoryStorage()
		s.groups[g] = ms
	}
	return ms
}

// Memory returns the MemoryStorage of group g (creating it), for tests
// that inspect or compact a log.
func (s *MemoryLogStore) Memory(g GroupID) *raft.MemoryStorage { return s.memory(g) }

// Save implements LogStore. It counts one save, and one sync if any update
// has MustSync.
func (s *MemoryLogStore) Save(updates []Update) error {
	if len(updates) == 0 {
		return nil
	}
	sync := false
	for i := range updates {
		u := &updates[i]
		ms := s.memory(u.Group)
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
		sync = sync || u.MustSync
	}
	s.mu.Lock()
	s.saves++
	s.ups += uint64(len(updates))
	if sync {
		s.syncs++
	}
	s.mu.Unlock()
	return nil
}

// Remove implements LogStore.
func (s *MemoryLogStore) Remove(g GroupID) error {
	s.mu.Lock()
	delete(s.groups, g)
	s.mu.Unlock()
	return nil
}

// Groups returns the groups the store holds, in order.
func (s *MemoryLogStore) Groups() []GroupID {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs := make([]GroupID, 0, len(s.groups))
	for g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i] < gs[j] })
	return gs
}

// MemoryLogStoreStats counts what a MemoryLogStore was asked to do.
type MemoryLogStoreStats struct {
	Saves   uint64 // Save calls with at least one update
	Syncs   uint64 // of those, the ones that had to be durable
	Updates uint64 // updates saved
}

// Stats returns the counters.
func (s *MemoryLogStore) Stats() MemoryLogStoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return MemoryLogStoreStats{Saves: s.saves, Syncs: s.syncs, Updates: s.ups}
}
