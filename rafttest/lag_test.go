package rafttest

import (
	"fmt"
	"math"
	"testing"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lagHarness drives one NewRawNode node as the simulator does: persist,
// send nowhere, apply, Advance.
type lagHarness struct {
	t       *testing.T
	d       *Disk
	n       Node
	applied []uint64
}

func newLagHarness(t *testing.T, async bool, lag int) *lagHarness {
	d := NewDisk()
	require.NoError(t, d.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1}}}}))
	d.SetHardState(pb.HardState{Term: 1, Commit: 1})
	n, err := NewRawNode(NodeConfig{ID: 1, Disk: d, Applied: 1, ElectionTick: 10, HeartbeatTick: 1,
		MaxSizePerMsg: math.MaxUint64, MaxInflightMsgs: 256, AsyncStorageWrites: async, ApplyLag: lag})
	require.NoError(t, err)
	return &lagHarness{t: t, d: d, n: n}
}

// process handles every Update the node has.
func (h *lagHarness) process() {
	for i := 0; ; i++ {
		require.Less(h.t, i, 100)
		u, ok := h.n.Ready()
		if !ok {
			return
		}
		require.NoError(h.t, h.d.Append(u.Entries))
		if !raft.IsEmptyHardState(u.HardState) {
			h.d.SetHardState(u.HardState)
		}
		for _, e := range u.CommittedEntries {
			h.applied = append(h.applied, e.Index)
		}
		h.n.Advance()
	}
}

// With ApplyLag, committed entries reach the application only after that
// many ticks, in order, and raft learns they are applied only then. In
// asynchronous mode the node goes on meanwhile; in synchronous mode its
// next Ready waits for the Advance of the lagging one.
func TestApplyLagHoldsCommittedEntriesForTicks(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%t", async), func(t *testing.T) {
			h := newLagHarness(t, async, 2)
			require.NoError(t, h.n.Campaign())
			h.process()
			require.Equal(t, raft.StateLeader, h.n.Status().Role)
			require.NoError(t, h.n.Propose([]byte("x")))
			h.process()
			assert.Empty(t, h.applied, "nothing applied before the lag")
			assert.Equal(t, uint64(1), h.n.Status().Applied)

			h.n.Tick()
			h.process()
			assert.Empty(t, h.applied, "one tick is not enough")
			h.n.Tick()
			h.process()
			if async {
				assert.Equal(t, []uint64{2, 3}, h.applied, "the proposal was committed and handed out meanwhile")
				assert.Equal(t, uint64(3), h.n.Status().Applied)
				return
			}
			assert.Equal(t, []uint64{2}, h.applied, "the proposal waits for the next Ready")
			assert.Equal(t, uint64(2), h.n.Status().Applied)
			h.n.Tick()
			h.n.Tick()
			h.process()
			assert.Equal(t, []uint64{2, 3}, h.applied)
			assert.Equal(t, uint64(3), h.n.Status().Applied)
		})
	}
}
