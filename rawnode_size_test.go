package raft

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// TestRawNodeAllocationFitsItsSizeClass pins down the size of a group's main
// block, a RawNode and its raft (which holds the log) in one allocation.
// An idle group is mostly this block. An object with pointers larger than
// 512 bytes carries an 8-byte type header in the Go heap, so at 568 bytes
// the block takes the 576 B size class rather than the 640 B one. A field
// added here must pay for itself elsewhere, or be put behind raft.rare.
func TestRawNodeAllocationFitsItsSizeClass(t *testing.T) {
	type block struct {
		_ RawNode
		_ raft
	}
	assert.LessOrEqual(t, unsafe.Sizeof(block{}), uintptr(576-8))
}

// The rarely set settings live behind raft.rare, which stays nil while all
// of them are at their defaults and is allocated by the first one set.
func TestRareSettingsAreAllocatedOnlyWhenSet(t *testing.T) {
	newRawNode := func(set func(c *Config)) *RawNode {
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}},
		}}))
		c := ndConfig(1, s)
		set(c)
		rn, err := NewRawNode(c)
		require.NoError(t, err)
		return rn
	}

	r := newRawNode(func(*Config) {}).raft
	assert.Nil(t, r.rare)
	assert.Nil(t, r.tracer())
	assert.Equal(t, uint64(noLimit), r.maxUncommittedSize())

	r = newRawNode(func(c *Config) { c.MaxUncommittedEntriesSize = 100 }).raft
	require.NotNil(t, r.rare)
	assert.Equal(t, uint64(100), r.maxUncommittedSize())
	assert.Nil(t, r.tracer())

	rec := &traceRecorder{}
	r = newRawNode(func(c *Config) { c.TraceLogger = rec }).raft
	assert.Same(t, rec, r.tracer())
	assert.Equal(t, uint64(noLimit), r.maxUncommittedSize())

	r.setRandIntn(func(int) int { return 3 })
	r.resetRandomizedElectionTimeout()
	assert.Equal(t, r.electionTimeout+3, r.randomizedElectionTimeout)
	assert.Same(t, rec, r.tracer(), "setting one rare setting keeps the others")
}
