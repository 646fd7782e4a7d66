package mixed

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcd "go.etcd.io/raft/v3"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	kit "github.com/raftkit/raft"
	kitpb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// etcdAppliedWith runs a single-voter etcd node through an election and
// three proposals and returns how many entries with data it handed out for
// application, or -1 if it panicked.
func etcdAppliedWith(maxMsg, maxCommitted uint64) (applied int) {
	defer func() {
		if recover() != nil {
			applied = -1
		}
	}()
	ms := etcd.NewMemoryStorage()
	_ = ms.ApplySnapshot(etcdpb.Snapshot{Metadata: etcdpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: etcdpb.ConfState{Voters: []uint64{1}}}})
	rn, err := etcd.NewRawNode(&etcd.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		MaxSizePerMsg: maxMsg, MaxCommittedSizePerReady: maxCommitted, MaxInflightMsgs: 16, Logger: rafttest.QuietLogger{}})
	if err != nil {
		panic(err)
	}
	drain := func() {
		for i := 0; i < 20 && rn.HasReady(); i++ {
			rd := rn.Ready()
			_ = ms.Append(rd.Entries)
			for _, e := range rd.CommittedEntries {
				if len(e.Data) > 0 {
					applied++
				}
			}
			rn.Advance(rd)
		}
	}
	_ = rn.Campaign()
	drain()
	for i := 0; i < 3; i++ {
		_ = rn.Propose([]byte("x"))
		drain()
	}
	return applied
}

// kitAppliedWith is etcdAppliedWith for a raftkit node.
func kitAppliedWith(maxMsg, maxCommitted uint64) int {
	ms := kit.NewMemoryStorage()
	_ = ms.ApplySnapshot(kitpb.Snapshot{Metadata: kitpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: kitpb.ConfState{Voters: []uint64{1}}}})
	rn, err := kit.NewRawNode(&kit.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		MaxSizePerMsg: maxMsg, MaxCommittedSizePerReady: maxCommitted, MaxInflightMsgs: 16, Logger: rafttest.QuietLogger{}})
	if err != nil {
		panic(err)
	}
	applied := 0
	drain := func() {
		for i := 0; i < 20 && rn.HasReady(); i++ {
			rd := rn.Ready()
			_ = ms.Append(rd.Entries)
			for _, e := range rd.CommittedEntries {
				if len(e.Data) > 0 {
					applied++
				}
			}
			rn.Advance(rd)
		}
	}
	_ = rn.Campaign()
	drain()
	for i := 0; i < 3; i++ {
		_ = rn.Propose([]byte("x"))
		drain()
	}
	return applied
}

// TestZeroCommittedSizePerReady pins a difference the mixed clusters ran
// into: with MaxSizePerMsg and MaxCommittedSizePerReady both 0, etcd raft
// v3.6.0 does not apply: in a cluster it commits entries but never hands
// any out, and a single voter panics ("applying entry size (0-0)=0 not
// positive") on Advance. raftkit hands them out one Ready at a time. The
// adapters therefore set MaxCommittedSizePerReady to 1 when MaxSizePerMsg
// is 0, which both libraries read as "one entry at a time".
func TestZeroCommittedSizePerReady(t *testing.T) {
	require.Equal(t, 3, etcdAppliedWith(0, 1), "etcd applies with a 1-byte budget")
	require.Equal(t, 3, kitAppliedWith(0, 1), "raftkit applies with a 1-byte budget")
	assert.NotEqual(t, 3, etcdAppliedWith(0, 0), "etcd v3.6.0 does not apply with a zero budget")
	assert.Equal(t, 3, kitAppliedWith(0, 0), "raftkit still applies one entry per Ready")
}
