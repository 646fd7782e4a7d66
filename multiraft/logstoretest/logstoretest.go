// Package logstoretest holds the contract tests of a multiraft.LogStore,
// written once for every implementation: the MemoryLogStore of multiraft
// and the durable stores under contrib/ run them.
//
// The tests drive the store through Save (and, with a Harness.Compact,
// compaction) and, next to it, a raft.MemoryStorage per group through the
// same operations. After every step each group's raft.Storage must answer
// exactly as the MemoryStorage does: FirstIndex, LastIndex, InitialState,
// Snapshot, Term of every index around the log, and Entries over every
// range around the log with several size limits, errors included (the
// ErrCompacted and ErrUnavailable that raft relies on, and an error where
// MemoryStorage has one). The stores are closed and opened again between
// steps, so the answers must also survive a restart. Last, three
// multiraft Hosts run a group over stores of the harness, and one restarts
// from its store.
package logstoretest

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// Harness tells the contract tests how to open, close and compact the
// store under test.
type Harness struct {
	// Open opens the store kept in directory dir, empty the first time.
	Open func(dir string) (multiraft.LogStore, error)
	// Close closes a store returned by Open; opening the same directory
	// again must give back everything saved.
	Close func(s multiraft.LogStore) error
	// Compact records a snapshot of group g at index i
	// (an index with an entry, after the compaction point and the
	// snapshot), with ConfState cs and the data, and discards the entries
	// up to i: what CreateSnapshot(i, &cs, data) then Compact(i) do to a
	// raft.MemoryStorage.
	Compact func(s multiraft.LogStore, g multiraft.GroupID, i uint64, cs pb.ConfState, data []byte) error
}

// Run runs the contract tests as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Run("FreshGroupIsEmpty", func(t *testing.T) { newRig(t, h).check() })
	t.Run("AppendTruncateAndHardState", func(t *testing.T) { appendTruncate(newRig(t, h)) })
	t.Run("SnapshotReplacesTheLog", func(t *testing.T) { snapshotSave(newRig(t, h)) })
	t.Run("Compaction", func(t *testing.T) { compaction(newRig(t, h)) })
	t.Run("InvalidAppendChangesNothing", func(t *testing.T) { invalidAppend(newRig(t, h)) })
	t.Run("OneGroupTwiceInABatch", func(t *testing.T) { twiceInABatch(newRig(t, h)) })
	t.Run("RemoveDropsOneGroup", func(t *testing.T) { remove(newRig(t, h)) })
	t.Run("HostRestartReplaysTheLog", func(t *testing.T) { hostRestart(t, h) })
	t.Run("RandomOperations", func(t *testing.T) {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { random(newRig(t, h), seed) })
		}
	})
}

// rig is a store under test and its model: one MemoryStorage per group.
type rig struct {
	t     *testing.T
	h     Harness
	dir   string
	s     multiraft.LogStore
	model map[multiraft.GroupID]*raft.MemoryStorage
}

func newRig(t *testing.T, h Harness) *rig {
	r := &rig{t: t, h: h, dir: t.TempDir(), model: map[multiraft.GroupID]*raft.MemoryStorage{}}
	var err error
	r.s, err = h.Open(r.dir)
	require.NoError(t, err)
	t.Cleanup(func() {
		if r.s != nil {
			assert.NoError(t, h.Close(r.s))
		}
	})
	r.ref(1)
	return r
}

func (r *rig) ref(g multiraft.GroupID) *raft.MemoryStorage {
	if r.model[g] == nil {
		r.model[g] = raft.NewMemoryStorage()
	}
	return r.model[g]
}

// save saves ups in one batch, and applies them to the model as
// MemoryLogStore does.
func (r *rig) save(ups ...multiraft.Update) {
	r.t.Helper()
	require.NoError(r.t, r.s.Save(ups))
	for _, u := range ups {
		ms := r.ref(u.Group)
		if !raft.IsEmptySnap(u.Snapshot) {
			if err := ms.ApplySnapshot(u.Snapshot); err != nil {
				require.ErrorIs(r.t, err, raft.ErrSnapOutOfDate)
			}
		}
		require.NoError(r.t, ms.Append(u.Entries))
		if !raft.IsEmptyHardState(u.HardState) {
			require.NoError(r.t, ms.SetHardState(u.HardState))
		}
	}
}

func (r *rig) compact(g multiraft.GroupID, i uint64, cs pb.ConfState, data []byte) {
	r.t.Helper()
	require.NoError(r.t, r.h.Compact(r.s, g, i, cs, data))
	ms := r.ref(g)
	_, err := ms.CreateSnapshot(i, &cs, data)
	require.NoError(r.t, err)
	require.NoError(r.t, ms.Compact(i))
}

// reopen closes the store and opens it again.
func (r *rig) reopen() {
	r.t.Helper()
	require.NoError(r.t, r.h.Close(r.s))
	r.s = nil
	var err error
	r.s, err = r.h.Open(r.dir)
	require.NoError(r.t, err)
}

// check compares every group's storage with its model, then does it again
// after a reopen.
func (r *rig) check() {
	r.t.Helper()
	for pass := 0; pass < 2; pass++ {
		for g, ms := range r.model {
			st, err := r.s.Storage(g)
			require.NoError(r.t, err)
			Compare(r.t, ms, st, fmt.Sprintf("group %d (reopened: %v)", g, pass == 1))
		}
		if pass == 0 {
			r.reopen()
		}
	}
}

// errClass names the class of an error raft tells apart.
func errClass(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, raft.ErrCompacted):
		return "ErrCompacted"
	case errors.Is(err, raft.ErrUnavailable):
		return "ErrUnavailable"
	case errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable):
		return "ErrSnapshotTemporarilyUnavailable"
	}
	return "other error"
}

// Compare checks that st answers every raft.Storage call around its log as
// want does: same values, and errors of the same class. Entries is asked
// for every range of up to 6 entries in and around the log, with limits of
// 0, 1, none, and every prefix size of the range ±1.
func Compare(t testing.TB, want *raft.MemoryStorage, st raft.Storage, name string) {
	compare(t, want, st, name, true)
}

// compare is Compare; when not full, Entries is asked only near the ends
// of the log.
func compare(t testing.TB, want *raft.MemoryStorage, st raft.Storage, name string, full bool) {
	t.Helper()
	wf, _ := want.FirstIndex()
	wl, _ := want.LastIndex()
	first, err := st.FirstIndex()
	require.NoError(t, err, name)
	last, err := st.LastIndex()
	require.NoError(t, err, name)
	require.Equal(t, wf, first, "%s: FirstIndex", name)
	require.Equal(t, wl, last, "%s: LastIndex", name)

	whs, wcs, _ := want.InitialState()
	hs, cs, err := st.InitialState()
	require.NoError(t, err, name)
	assert.Equal(t, whs, hs, "%s: HardState", name)
	assert.Equal(t, wcs, cs, "%s: ConfState", name)
	wsnap, _ := want.Snapshot()
	snap, err := st.Snapshot()
	require.NoError(t, err, name)
	assert.Equal(t, wsnap.Metadata, snap.Metadata, "%s: snapshot metadata", name)
	assert.Equal(t, len(wsnap.Data) == 0, len(snap.Data) == 0, "%s: snapshot data", name)
	if len(wsnap.Data) > 0 {
		assert.Equal(t, wsnap.Data, snap.Data, "%s: snapshot data", name)
	}

	lo := uint64(0)
	if wf >= 2 {
		lo = wf - 2
	}
	for i := lo; i <= wl+2; i++ {
		wt, werr := want.Term(i)
		tm, err := st.Term(i)
		require.Equal(t, errClass(werr), errClass(err), "%s: Term(%d): %v", name, i, err)
		assert.Equal(t, wt, tm, "%s: Term(%d)", name, i)
	}

	for a := lo; a <= wl+2; a++ {
		if !full && a > lo+4 && a+6 < wl {
			a = wl - 6 // the middle of a long log is like its ends
		}
		for b := a; b <= wl+2 && b <= a+6; b++ {
			// The limits: none, 0, 1, and each prefix sum of [a, b) ±1.
			sizes := []uint64{0, 1, math.MaxUint64}
			if all, err := want.Entries(a, b, math.MaxUint64); err == nil {
				var sum uint64
				for _, e := range all {
					sum += uint64(e.Size())
					sizes = append(sizes, sum-1, sum, sum+1)
				}
			}
			for _, max := range sizes {
				// lo > hi too: MemoryStorage gives an error for it.
				for _, pair := range [][2]uint64{{a, b}, {b, a}} {
					wents, werr := want.Entries(pair[0], pair[1], max)
					ents, err := st.Entries(pair[0], pair[1], max)
					require.Equal(t, errClass(werr), errClass(err), "%s: Entries(%d, %d, %d): %v", name, pair[0], pair[1], max, err)
					require.Equal(t, len(wents), len(ents), "%s: Entries(%d, %d, %d)", name, pair[0], pair[1], max)
					for k := range wents {
						require.Equal(t, wents[k], ents[k], "%s: Entries(%d, %d, %d)[%d]", name, pair[0], pair[1], max, k)
					}
					assert.Equal(t, len(ents), cap(ents), "%s: Entries(%d, %d, %d): capacity reaches past the result", name, pair[0], pair[1], max)
				}
			}
		}
	}
}

// Ents returns entries lo..hi of the given term, with payloads of
// varying sizes that name them.
func Ents(term, lo, hi uint64) []pb.Entry {
	var es []pb.Entry
	for i := lo; i <= hi; i++ {
		data := []byte(fmt.Sprintf("t%d-i%d-", term, i))
		for j := uint64(0); j < (i*7+term)%13; j++ {
			data = append(data, byte('a'+j))
		}
		es = append(es, pb.Entry{Term: term, Index: i, Data: data})
	}
	return es
}

func appendTruncate(r *rig) {
	r.save(multiraft.Update{Group: 1, Entries: Ents(1, 1, 8), HardState: pb.HardState{Term: 1, Vote: 1, Commit: 3}, MustSync: true})
	r.check()
	// A new leader's entries replace the tail from 5: 6..8 disappear.
	r.save(multiraft.Update{Group: 1, Entries: Ents(2, 5, 5), HardState: pb.HardState{Term: 2, Vote: 2, Commit: 4}, MustSync: true})
	r.check()
	// An append that ends before the last index, at the same terms, also
	// replaces the tail (as MemoryStorage.Append does).
	r.save(multiraft.Update{Group: 1, Entries: Ents(2, 6, 9), MustSync: true})
	r.save(multiraft.Update{Group: 1, Entries: Ents(3, 7, 7), MustSync: true})
	r.check()
	// A plain append, and a HardState alone.
	r.save(multiraft.Update{Group: 1, Entries: Ents(3, 8, 12)})
	r.save(multiraft.Update{Group: 1, HardState: pb.HardState{Term: 3, Commit: 10}, MustSync: true})
	r.check()
}

func snapshotSave(r *rig) {
	r.save(multiraft.Update{Group: 1, Entries: Ents(1, 1, 5), HardState: pb.HardState{Term: 1, Commit: 5}, MustSync: true})
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	snap := pb.Snapshot{Data: []byte("state at 10"), Metadata: pb.SnapshotMetadata{Index: 10, Term: 4, ConfState: cs}}
	// The order within an update: snapshot, entries, HardState.
	r.save(multiraft.Update{Group: 1, Snapshot: snap, Entries: Ents(4, 11, 13), HardState: pb.HardState{Term: 4, Commit: 12}, MustSync: true})
	r.check()
	// A snapshot not newer than the stored one is ignored; the entries
	// with it are not.
	old := pb.Snapshot{Data: []byte("old"), Metadata: pb.SnapshotMetadata{Index: 8, Term: 3, ConfState: pb.ConfState{Voters: []uint64{1}}}}
	r.save(multiraft.Update{Group: 1, Snapshot: old, Entries: Ents(4, 14, 14), MustSync: true})
	r.check()
	// A snapshot inside the log replaces all of it, entries after it too.
	r.save(multiraft.Update{Group: 1, Snapshot: pb.Snapshot{Data: []byte("at 12"), Metadata: pb.SnapshotMetadata{Index: 12, Term: 4, ConfState: cs}}, MustSync: true})
	r.check()
	// A fresh group that starts from a snapshot alone.
	r.ref(2)
	r.save(multiraft.Update{Group: 2, Snapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 7, Term: 2, ConfState: cs}}, HardState: pb.HardState{Term: 2, Commit: 7}, MustSync: true})
	r.check()
}

func compaction(r *rig) {
	r.save(multiraft.Update{Group: 1, Entries: Ents(1, 1, 10), HardState: pb.HardState{Term: 1, Commit: 10}, MustSync: true})
	cs := pb.ConfState{Voters: []uint64{1, 2}}
	r.compact(1, 4, cs, []byte("at 4"))
	r.check()
	// Entries at or below the compaction point are ignored by an append;
	// the rest replace the tail.
	r.save(multiraft.Update{Group: 1, Entries: Ents(2, 3, 6), MustSync: true})
	r.check()
	// Everything compacted: FirstIndex is LastIndex+1.
	r.compact(1, 6, pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("at 6"))
	r.check()
	r.save(multiraft.Update{Group: 1, Entries: Ents(2, 7, 9), MustSync: true})
	r.compact(1, 8, cs, nil)
	r.check()
	// An append entirely below the compaction point changes nothing.
	r.save(multiraft.Update{Group: 1, Entries: Ents(2, 5, 7), MustSync: true})
	r.check()
}

func invalidAppend(r *rig) {
	r.save(multiraft.Update{Group: 1, Entries: Ents(2, 1, 5), HardState: pb.HardState{Term: 2, Commit: 2}, MustSync: true})
	for _, ents := range [][]pb.Entry{
		Ents(2, 7, 8),                           // a gap after the last index
		append(Ents(2, 6, 6), Ents(2, 8, 8)...), // not consecutive
		append(Ents(3, 6, 6), Ents(2, 7, 7)...), // terms decrease within
		Ents(1, 4, 6),                           // below the term of entry 3
	} {
		err := r.s.Save([]multiraft.Update{{Group: 1, Entries: ents, HardState: pb.HardState{Term: 9}, MustSync: true}})
		assert.Error(r.t, err, "entries %v", ents)
		assert.Error(r.t, r.ref(1).Append(ents), "the model agrees")
	}
	r.check()
}

func twiceInABatch(r *rig) {
	r.ref(2)
	r.save(
		multiraft.Update{Group: 1, Entries: Ents(1, 1, 6), HardState: pb.HardState{Term: 1, Commit: 1}},
		multiraft.Update{Group: 2, Entries: Ents(1, 1, 2)},
		multiraft.Update{Group: 1, Entries: Ents(2, 4, 7), HardState: pb.HardState{Term: 2, Commit: 3}, MustSync: true},
		multiraft.Update{Group: 1, Entries: Ents(2, 8, 9)},
	)
	r.check()
}

func remove(r *rig) {
	cs := pb.ConfState{Voters: []uint64{1}}
	for g := multiraft.GroupID(1); g <= 3; g++ {
		r.ref(g)
		r.save(multiraft.Update{Group: g, Snapshot: pb.Snapshot{Data: []byte("s"), Metadata: pb.SnapshotMetadata{Index: 2, Term: 1, ConfState: cs}},
			Entries: Ents(1, 3, 5), HardState: pb.HardState{Term: 1, Commit: 4}, MustSync: true})
	}
	require.NoError(r.t, r.s.Remove(2))
	r.model[2] = raft.NewMemoryStorage()
	r.check()
	// The removed group starts over.
	r.save(multiraft.Update{Group: 2, Entries: Ents(1, 1, 1), MustSync: true})
	r.check()
}

// random runs seeded random operations on three groups, and compares with
// the model after each and across reopens.
func random(r *rig, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	groups := []multiraft.GroupID{1, 2, 3}
	for _, g := range groups {
		r.ref(g)
	}
	term := map[multiraft.GroupID]uint64{1: 1, 2: 1, 3: 1}
	steps := 120
	if testing.Short() {
		steps = 40
	}
	for step := 0; step < steps; step++ {
		var ups []multiraft.Update
		for _, g := range groups {
			if rng.Intn(2) == 0 {
				continue
			}
			ms := r.ref(g)
			first, _ := ms.FirstIndex()
			last, _ := ms.LastIndex()
			u := multiraft.Update{Group: g, MustSync: rng.Intn(3) > 0}
			switch op := rng.Intn(10); {
			case op == 0 && last >= first:
				snap, _ := ms.Snapshot()
				i := first + uint64(rng.Int63n(int64(last-first+1)))
				if i > snap.Metadata.Index {
					r.compact(g, i, pb.ConfState{Voters: []uint64{uint64(rng.Intn(5) + 1)}}, []byte(fmt.Sprint("snap", i)))
				}
				continue
			case op == 1:
				snap, _ := ms.Snapshot()
				i := snap.Metadata.Index + uint64(rng.Intn(int(last-snap.Metadata.Index)+4))
				term[g]++
				u.Snapshot = pb.Snapshot{Data: []byte(fmt.Sprint("s", i)), Metadata: pb.SnapshotMetadata{Index: i, Term: term[g], ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}
			default:
				// Append at a random point from a little below the first
				// index to just after the last one.
				at := last + 1
				if rng.Intn(3) == 0 && last+2 > first {
					back := uint64(rng.Intn(int(last + 3 - first)))
					if back < at {
						at -= back
					}
				}
				if at == 0 {
					at = 1
				}
				if t, err := ms.Term(at - 1); err == nil && t > term[g] {
					term[g] = t
				}
				if rng.Intn(4) == 0 {
					term[g]++
				}
				u.Entries = Ents(term[g], at, at+uint64(rng.Intn(5)))
			}
			if rng.Intn(2) == 0 {
				u.HardState = pb.HardState{Term: term[g], Vote: uint64(rng.Intn(3)), Commit: uint64(rng.Intn(10))}
			}
			ups = append(ups, u)
		}
		if len(ups) > 0 {
			r.save(ups...)
		}
		if step%30 == 29 {
			r.check()
		} else {
			for _, g := range groups {
				st, err := r.s.Storage(g)
				require.NoError(r.t, err)
				compare(r.t, r.model[g], st, fmt.Sprintf("seed %d step %d group %d", seed, step, g), false)
			}
		}
	}
	r.check()
}

// hostRestart runs three hosts over stores of the harness: a group
// commits, a host restarts from its store and still has every entry.
func hostRestart(t *testing.T, hr Harness) {
	dir := t.TempDir()
	net := multiraft.NewMemNetwork()
	stores := map[multiraft.HostID]multiraft.LogStore{}
	hosts := map[multiraft.HostID]*multiraft.Host{}
	applied := map[multiraft.HostID][]string{}
	start := func(id multiraft.HostID, epoch uint64) {
		hdir := filepath.Join(dir, fmt.Sprintf("host%d", id))
		require.NoError(t, os.MkdirAll(hdir, 0o755))
		s, err := hr.Open(hdir)
		require.NoError(t, err)
		stores[id] = s
		applied[id] = nil
		h, err := multiraft.NewHost(multiraft.HostConfig{ID: id, Epoch: epoch, Transport: net.Transport(id), LogStore: s, Seed: int64(id),
			Apply: func(g multiraft.GroupID, es []pb.Entry) {
				for _, e := range es {
					if e.Type == pb.EntryNormal && len(e.Data) > 0 {
						applied[id] = append(applied[id], string(e.Data))
					}
				}
			}})
		require.NoError(t, err)
		require.NoError(t, h.AddGroup(multiraft.GroupConfig{ID: 1,
			Raft:     raft.Config{ID: uint64(id), ElectionTick: 10, HeartbeatTick: 1, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, CheckQuorum: true, PreVote: true, Logger: quiet{}},
			Replicas: map[uint64]multiraft.HostID{1: 1, 2: 2, 3: 3}, Bootstrap: []uint64{1, 2, 3}}))
		hosts[id] = h
	}
	settle := func(ticks int) {
		for i := 0; i < ticks; i++ {
			for _, h := range hosts {
				h.Tick()
			}
			for r := 0; r < 50; r++ {
				did := false
				for _, h := range hosts {
					ok, err := h.Pass()
					require.NoError(t, err)
					did = did || ok
				}
				if !did {
					break
				}
			}
		}
	}
	for id := multiraft.HostID(1); id <= 3; id++ {
		start(id, 1)
	}
	settle(2)
	require.NoError(t, hosts[1].Campaign(1))
	settle(3)
	for i := 0; i < 10; i++ {
		require.NoError(t, hosts[1].Propose(1, []byte(fmt.Sprint(i))))
	}
	settle(3)
	require.Len(t, applied[3], 10)
	hosts[3].Stop()
	require.NoError(t, hr.Close(stores[3]))
	delete(hosts, 3)
	start(3, 2)
	settle(5)
	assert.Len(t, applied[3], 10, "host 3 replays its log from the store")
	require.NoError(t, hosts[1].Propose(1, []byte("after")))
	settle(3)
	assert.Equal(t, "after", applied[3][len(applied[3])-1])
	for id, h := range hosts {
		h.Stop()
		require.NoError(t, hr.Close(stores[id]))
	}
}

// quiet is a raft.Logger that drops everything but panics.
type quiet struct{}

func (quiet) Debug(...interface{})              {}
func (quiet) Debugf(string, ...interface{})     {}
func (quiet) Info(...interface{})               {}
func (quiet) Infof(string, ...interface{})      {}
func (quiet) Warning(...interface{})            {}
func (quiet) Warningf(string, ...interface{})   {}
func (quiet) Error(...interface{})              {}
func (quiet) Errorf(string, ...interface{})     {}
func (quiet) Fatal(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (quiet) Fatalf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
func (quiet) Panic(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (quiet) Panicf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
