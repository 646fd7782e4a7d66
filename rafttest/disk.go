package rafttest

import (
	"fmt"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// Disk is a node's stable storage: everything on it survives a crash, and
// nothing else does. It wraps a raft.MemoryStorage, which the node reads
// through raft.Storage, and the simulator writes to it what each Update
// asks to persist, in the order of the Ready contract.
//
// Bug-injection tests change a Disk on crash (see Options.OnCrash) to model
// storage that loses what it acknowledged.
type Disk struct {
	ms *raft.MemoryStorage
	// recovery is the quarantine the node persisted (see Recovery).
	recovery *raft.Recovery
	// lostTail is set when the disk lost the tail of its log
	// (Scenario.LoseTail) and the node has not left the quarantine since.
	lostTail bool
}

// Recovery returns the quarantine the node last persisted
// (raft.Config.OnRecovery), or nil if it never reported one.
func (d *Disk) Recovery() *raft.Recovery { return d.recovery }

// setRecovery persists the quarantine rec; it is raft.Config.OnRecovery.
func (d *Disk) setRecovery(rec raft.Recovery) {
	d.recovery = &rec
	if !rec.Quarantined {
		d.lostTail = false
	}
}

// loseTail drops the entries after last, keeping the HardState: the
// commit index is then beyond the log, as after a lying fsync.
func (d *Disk) loseTail(last uint64) {
	snap := d.Snapshot()
	hs := d.HardState()
	var keep []pb.Entry
	for _, e := range d.Entries() {
		if e.Index <= last {
			keep = append(keep, e)
		}
	}
	ms := raft.NewMemoryStorage()
	if snap.Metadata.Index > 0 {
		if err := ms.ApplySnapshot(snap); err != nil {
			panic(fmt.Sprintf("rafttest: lose tail: %v", err))
		}
	}
	if err := ms.Append(keep); err != nil {
		panic(fmt.Sprintf("rafttest: lose tail: %v", err))
	}
	_ = ms.SetHardState(hs)
	d.ms = ms
	d.lostTail = true
}

// NewDisk returns an empty disk, as a node that never ran has.
func NewDisk() *Disk {
	return &Disk{ms: raft.NewMemoryStorage()}
}

// Storage returns the raft.Storage view of the disk, for a NodeFactory.
func (d *Disk) Storage() *raft.MemoryStorage { return d.ms }

// HardState returns the persisted HardState.
func (d *Disk) HardState() pb.HardState {
	hs, _, _ := d.ms.InitialState()
	return hs
}

// Snapshot returns the persisted snapshot; its index is 0 when there is
// none.
func (d *Disk) Snapshot() pb.Snapshot {
	s, _ := d.ms.Snapshot()
	return s
}

// FirstIndex returns the index of the first entry on the disk: the
// snapshot's index plus one.
func (d *Disk) FirstIndex() uint64 {
	i, _ := d.ms.FirstIndex()
	return i
}

// LastIndex returns the index of the last entry on the disk, or the
// snapshot's index when no entry follows it.
func (d *Disk) LastIndex() uint64 {
	i, _ := d.ms.LastIndex()
	return i
}

// Term returns the term of the entry at i, and false when i is neither on
// the disk nor the snapshot's index.
func (d *Disk) Term(i uint64) (uint64, bool) {
	t, err := d.ms.Term(i)
	return t, err == nil
}

// Entries returns the entries on the disk after the snapshot, in order.
// The entries are shared with the disk and must not be modified.
func (d *Disk) Entries() []pb.Entry {
	first, last := d.FirstIndex(), d.LastIndex()
	if last < first {
		return nil
	}
	ents, err := d.ms.Entries(first, last+1, noLimit)
	if err != nil {
		panic(fmt.Sprintf("rafttest: disk cannot read its own entries [%d, %d]: %v", first, last, err))
	}
	return ents
}

// SetHardState persists hs.
func (d *Disk) SetHardState(hs pb.HardState) {
	_ = d.ms.SetHardState(hs)
}

// Append persists entries; any entry already at or after the first
// appended index is discarded, as the Ready contract asks.
func (d *Disk) Append(ents []pb.Entry) error {
	return d.ms.Append(ents)
}

// ApplySnapshot replaces the disk's log with snap.
func (d *Disk) ApplySnapshot(snap pb.Snapshot) error {
	return d.ms.ApplySnapshot(snap)
}

// Compact records a snapshot at index i with the given configuration and
// state machine data, and then discards the entries up to compactTo
// (compactTo <= i), keeping the rest for followers that are only a little
// behind.
func (d *Disk) Compact(i uint64, cs pb.ConfState, data []byte, compactTo uint64) error {
	if _, err := d.ms.CreateSnapshot(i, &cs, data); err != nil {
		return err
	}
	if compactTo > d.FirstIndex()-1 {
		return d.ms.Compact(compactTo)
	}
	return nil
}

// Truncate drops every entry after last and lowers the persisted commit
// index to last if it was beyond it. Bug-injection tests use it to model a
// disk that loses the tail it acknowledged; a correct simulation never
// calls it.
func (d *Disk) Truncate(last uint64) {
	if last >= d.LastIndex() {
		return
	}
	snap := d.Snapshot()
	if last < snap.Metadata.Index {
		last = snap.Metadata.Index
	}
	var keep []pb.Entry
	for _, e := range d.Entries() {
		if e.Index <= last {
			keep = append(keep, e)
		}
	}
	hs := d.HardState()
	if hs.Commit > last {
		hs.Commit = last
	}
	ms := raft.NewMemoryStorage()
	if snap.Metadata.Index > 0 {
		if err := ms.ApplySnapshot(snap); err != nil {
			panic(fmt.Sprintf("rafttest: truncate: %v", err))
		}
	}
	if err := ms.Append(keep); err != nil {
		panic(fmt.Sprintf("rafttest: truncate: %v", err))
	}
	_ = ms.SetHardState(hs)
	d.ms = ms
}

// noLimit asks storage for entries without a size limit.
const noLimit = ^uint64(0)
