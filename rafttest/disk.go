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
	// recovery is the quarantine the node persisted (see Recovery). It
	// stands for a marker the application keeps outside its data
	// directory: the disk faults that wipe or replace the directory leave
	// it, and declare a regression in it (Scenario.WipeDisk and others).
	recovery *raft.Recovery
	// regressed is set when the disk lost state on purpose (one of the
	// Scenario's disk faults) and the node has not left the quarantine
	// since; fresh while the node has not restarted since the fault.
	regressed, fresh bool
	// history holds the last HardStates written, oldest first, with what
	// the log was then, so that a fault can revert the disk to a
	// HardState it really had (Scenario.LoseState, Scenario.TornHardState).
	history []hsRecord
	// backup is an older copy of the disk, taken at a crash, that
	// Scenario.RestoreBackup puts back; nil until one is taken.
	backup *Disk
}

// hsRecord is a HardState the disk once held, with the log of the time.
type hsRecord struct {
	hs pb.HardState
	// last is the last index of the log when hs was written, and intact
	// the index up to which the log has not been rewritten since (by an
	// append replacing entries, or a snapshot replacing the log): the log
	// of the time, cut at min(last, intact), is a prefix of today's.
	last, intact uint64
}

// historySize is how many HardStates a Disk remembers.
const historySize = 32

// Recovery returns the quarantine the node last persisted
// (raft.Config.OnRecovery), or the regression the simulated application
// declared, or nil.
func (d *Disk) Recovery() *raft.Recovery { return d.recovery }

// quarantined reports whether the node's last persisted recovery state is
// a quarantine.
func (d *Disk) quarantined() bool { return d.recovery != nil && d.recovery.Quarantined }

// setRecovery persists the quarantine rec; it is raft.Config.OnRecovery.
func (d *Disk) setRecovery(rec raft.Recovery) {
	d.recovery = &rec
	if !rec.Quarantined {
		d.regressed = false
	}
}

// declare records, as the application's marker, that the disk regressed:
// the node restarts quarantined (raft.Config.Recovery with Cause
// raft.CauseDeclared).
func (d *Disk) declare(kind raft.RegressionKind, lostFrom, lostTo uint64) {
	d.recovery = &raft.Recovery{
		Quarantined: true,
		Kind:        kind,
		Cause:       raft.CauseDeclared,
		LostFrom:    lostFrom,
		LostTo:      lostTo,
		Term:        d.HardState().Term,
	}
}

// loseTail drops the entries after last, keeping the HardState: the
// commit index is then beyond the log, as after a lying fsync.
func (d *Disk) loseTail(last uint64) {
	d.rebuild(last, d.HardState())
}

// rebuild replaces the disk's contents with its snapshot, its entries up
// to last and the HardState hs, and marks it regressed.
func (d *Disk) rebuild(last uint64, hs pb.HardState) {
	snap := d.Snapshot()
	var keep []pb.Entry
	for _, e := range d.Entries() {
		if e.Index <= last {
			keep = append(keep, e)
		}
	}
	ms := raft.NewMemoryStorage()
	if snap.Metadata.Index > 0 {
		if err := ms.ApplySnapshot(snap); err != nil {
			panic(fmt.Sprintf("rafttest: rebuild disk: %v", err))
		}
	}
	if err := ms.Append(keep); err != nil {
		panic(fmt.Sprintf("rafttest: rebuild disk: %v", err))
	}
	_ = ms.SetHardState(hs)
	d.ms = ms
	for i := range d.history {
		d.history[i].intact = min(d.history[i].intact, last)
	}
	d.regressed, d.fresh = true, true
}

// revert puts the disk back to the HardState of history[k], the log cut
// at last (at most min(last, intact) of the record), as a disk that lost
// every write after it, or (with last the current last index) only the
// HardStates written after it.
func (d *Disk) revert(k int, last uint64) {
	rec := d.history[k]
	d.history = d.history[:k+1]
	d.rebuild(last, rec.hs)
}

// wipe empties the disk, as a data directory deleted or replaced by an
// empty one; the application's marker (recovery) stays.
func (d *Disk) wipe() {
	d.ms = raft.NewMemoryStorage()
	d.history = nil
	d.regressed, d.fresh = true, true
}

// copyDisk returns a copy of the disk's contents and history (not its
// backup nor its recovery marker, which are not in the data directory).
func (d *Disk) copyDisk() *Disk {
	c := &Disk{ms: raft.NewMemoryStorage(), history: append([]hsRecord(nil), d.history...)}
	if snap := d.Snapshot(); snap.Metadata.Index > 0 {
		if err := c.ms.ApplySnapshot(snap); err != nil {
			panic(fmt.Sprintf("rafttest: copy disk: %v", err))
		}
	}
	if err := c.ms.Append(append([]pb.Entry(nil), d.Entries()...)); err != nil {
		panic(fmt.Sprintf("rafttest: copy disk: %v", err))
	}
	_ = c.ms.SetHardState(d.HardState())
	return c
}

// restoreBackup puts the backup's contents in place of the disk's.
func (d *Disk) restoreBackup() {
	b := d.backup
	d.ms = b.ms
	d.history = b.history
	d.backup = b.copyDisk() // the backup stays, as a file does
	d.regressed, d.fresh = true, true
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
	last := d.LastIndex()
	if len(d.history) == historySize {
		copy(d.history, d.history[1:])
		d.history = d.history[:historySize-1]
	}
	d.history = append(d.history, hsRecord{hs: hs, last: last, intact: last})
}

// rewritten notes that the log was rewritten from index i on.
func (d *Disk) rewritten(i uint64) {
	for k := range d.history {
		if d.history[k].intact >= i {
			d.history[k].intact = i - 1
		}
	}
}

// Append persists entries; any entry already at or after the first
// appended index is discarded, as the Ready contract asks.
func (d *Disk) Append(ents []pb.Entry) error {
	if len(ents) > 0 && ents[0].Index <= d.LastIndex() {
		d.rewritten(max(ents[0].Index, 1))
	}
	return d.ms.Append(ents)
}

// ApplySnapshot replaces the disk's log with snap.
func (d *Disk) ApplySnapshot(snap pb.Snapshot) error {
	d.rewritten(snap.Metadata.Index + 1)
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
