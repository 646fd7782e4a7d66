package mixed

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcd "go.etcd.io/raft/v3"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// disk returns a disk holding a snapshot at 5 and entries 6..8.
func disk(t *testing.T) *rafttest.Disk {
	d := rafttest.NewDisk()
	require.NoError(t, d.ApplySnapshot(pb.Snapshot{Data: []byte("state"), Metadata: pb.SnapshotMetadata{
		Index: 5, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}}}))
	require.NoError(t, d.Append([]pb.Entry{
		{Index: 6, Term: 2, Data: []byte("a")},
		{Index: 7, Term: 3, Type: pb.EntryConfChangeV2},
		{Index: 8, Term: 3, Data: []byte("c")},
	}))
	d.SetHardState(pb.HardState{Term: 3, Vote: 1, Commit: 7})
	return d
}

func TestEtcdStorageReadsTheDisk(t *testing.T) {
	s := etcdStorage{disk(t)}
	hs, cs, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, etcdpb.HardState{Term: 3, Vote: 1, Commit: 7}, hs)
	assert.Equal(t, []uint64{1, 2}, cs.Voters)
	assert.Equal(t, []uint64{3}, cs.Learners)

	ents, err := s.Entries(6, 9, 1<<20)
	require.NoError(t, err)
	require.Len(t, ents, 3)
	assert.Equal(t, etcdpb.Entry{Index: 7, Term: 3, Type: etcdpb.EntryConfChangeV2}, ents[1])
	assert.Equal(t, []byte("c"), ents[2].Data)

	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, [2]uint64{6, 8}, [2]uint64{first, last})
	term, err := s.Term(5)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), term)
	snap, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), snap.Metadata.Index)
	assert.Equal(t, []byte("state"), snap.Data)
}

// TestEtcdStorageErrorsAreEtcds checks that the disk's errors reach etcd
// raft as its own values, which it compares by identity.
func TestEtcdStorageErrorsAreEtcds(t *testing.T) {
	s := etcdStorage{disk(t)}
	tests := []struct {
		name string
		err  func() error
		want error
	}{
		{"entries below the snapshot", func() error { _, err := s.Entries(3, 7, 100); return err }, etcd.ErrCompacted},
		{"term below the snapshot", func() error { _, err := s.Term(4); return err }, etcd.ErrCompacted},
		{"term past the last entry", func() error { _, err := s.Term(20); return err }, etcd.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err())
		})
	}
	assert.Nil(t, etcdErr(nil))
}

// TestEtcdNodeRestartsFromTheDisk builds an etcd node over a disk written
// through the raftkit types and checks what it reports.
func TestEtcdNodeRestartsFromTheDisk(t *testing.T) {
	for _, async := range []bool{false, true} {
		n, err := NewNode(Etcd, rafttest.NodeConfig{ID: 1, Disk: disk(t), Applied: 5, ElectionTick: 10, HeartbeatTick: 1,
			MaxInflightMsgs: 16, MaxSizePerMsg: 1 << 20, AsyncStorageWrites: async}, Extra{})
		require.NoError(t, err)
		st := n.Status()
		assert.Equal(t, rafttest.Status{ID: 1, Term: 3, Vote: 1, Commit: 7, Role: 0, Applied: 5}, st, "async %t", async)
		u, ok := n.Ready()
		require.True(t, ok)
		require.Len(t, u.CommittedEntries, 2, "entries 6 and 7 are committed and not applied")
		assert.Equal(t, pb.Entry{Index: 6, Term: 2, Data: []byte("a")}, u.CommittedEntries[0])
		n.Advance()
	}
}

func TestUnknownKindIsAnError(t *testing.T) {
	_, err := NewNode(Kind(7), rafttest.NodeConfig{ID: 1, Disk: disk(t)}, Extra{})
	assert.Error(t, err)
	assert.Equal(t, "Kind(7)", Kind(7).String())
	assert.Equal(t, "kek", Split{Etcd: 0b010}.String(3))
}
