package rafttest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// seed330196 is the cluster of seed 330196 once its elections stalled:
// node 1, the former leader, demoted itself to a learner (entry 28,
// committed) and keeps uncommitted entries up to 32; node 2 applied the
// demotion, its log ends at 29; node 3 was wiped and is quarantined;
// node 4's log ends at 30, but it never learned that entry 28 was
// committed and campaigns in the configuration before it; node 5 never
// joined.
func seed330196() []electionView {
	demoted := pb.ConfState{Voters: []uint64{2, 3, 4}, Learners: []uint64{1}}
	return []electionView{
		{id: 1, up: true, cs: demoted, lastTerm: 3, lastIndex: 32},
		{id: 2, up: true, cs: demoted, lastTerm: 3, lastIndex: 29},
		{id: 3, up: true, quarantined: true},
		{id: 4, up: true, cs: pb.ConfState{Voters: []uint64{1, 2, 3, 4}}, lastTerm: 3, lastIndex: 30},
		{id: 5, up: true},
	}
}

// TestElectionExcuseNeedsTheQuarantinedVotes pins the liveness check's
// excuse for a stall without a leader (quarantineBlocksElection): it
// holds only when no node can win while the quarantined voters reject
// every vote, and one could with their votes. Every case where a node can
// win without them must still be flagged as a stall.
func TestElectionExcuseNeedsTheQuarantinedVotes(t *testing.T) {
	tests := []struct {
		name    string
		change  func(nodes []electionView)
		excused bool
	}{
		{"seed 330196: each candidate needs the quarantined voter", func([]electionView) {}, true},
		{"node 4 applied the demotion: node 2 elects it without node 3", func(nodes []electionView) {
			nodes[3].cs = nodes[1].cs
		}, false},
		{"node 3 is not quarantined: it votes", func(nodes []electionView) {
			nodes[2].quarantined = false
		}, false},
		{"node 1's log ends where node 4's does: it votes for node 4", func(nodes []electionView) {
			nodes[0].lastIndex = 30
		}, false},
		{"node 2 holds node 4's entry 30: node 4 votes for node 2", func(nodes []electionView) {
			nodes[1].lastIndex = 30
		}, false},
		{"node 4's last entry has a later term: node 1 votes for it", func(nodes []electionView) {
			nodes[3].lastTerm = 4
		}, false},
		{"node 2 is down: no node wins even with node 3's vote", func(nodes []electionView) {
			nodes[1].up = false
		}, false},
		{"node 4 is down and node 2 campaigns in the old configuration: node 1 refuses, so even node 3's vote cannot elect it", func(nodes []electionView) {
			nodes[3].up = false
			nodes[1].cs = pb.ConfState{Voters: []uint64{1, 2, 3, 4}}
		}, false},
		{"node 1 is a voter of its own configuration: it wins without node 3", func(nodes []electionView) {
			nodes[0].cs = nodes[3].cs
		}, false},
		{"a joint configuration: node 4 needs the quarantined voter in its outgoing half", func(nodes []electionView) {
			nodes[3].cs = pb.ConfState{Voters: []uint64{2, 4, 5}, VotersOutgoing: []uint64{1, 2, 3, 4}}
		}, true},
		{"a joint configuration whose halves both have a majority without node 3", func(nodes []electionView) {
			nodes[3].cs = pb.ConfState{Voters: []uint64{2, 4, 5}, VotersOutgoing: []uint64{2, 3, 4}}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := seed330196()
			tt.change(nodes)
			without, with := electable(nodes, false), electable(nodes, true)
			assert.Equal(t, tt.excused, !without && with, "electable without the quarantined votes %t, with them %t", without, with)
		})
	}
}

// TestSeed330196EndsOnTheElectionExcuse runs the seed that found the
// excuse, with its fault flags, and requires that it passes through that
// excuse and no other: the wiped node stays quarantined, no node can
// win, and no quorum excuse or longer wait applied.
func TestSeed330196EndsOnTheElectionExcuse(t *testing.T) {
	res := Run(Options{Seed: 330196, OutDir: outDir(t), Scenario: allSixDiskFaults})
	require.Nil(t, res.Violation)
	assert.Equal(t, 1, res.Faults.WipedDisks, "wiped disks")
	assert.Equal(t, 1, res.Faults.StillQuarantined, "nodes quarantined at the end")
	assert.Equal(t, 1, res.Faults.QuarantineUnelectable, "runs ended by the election excuse")
	assert.Zero(t, res.Faults.QuarantineBlocked, "runs ended by the quorum excuse")
	assert.Zero(t, res.Faults.QuarantineSlow, "runs the check waited longer for")
}

// TestSeed389513LeavesQuarantine runs the seed that narrowed the quorum
// excuse to the nodes that can win: with rule T1 for votes, node 4 learns
// the term of node 2 from the quarantined node 3, wins, and fences node 3,
// so no excuse applies.
func TestSeed389513LeavesQuarantine(t *testing.T) {
	res := Run(Options{Seed: 389513, OutDir: outDir(t), Scenario: allSixDiskFaults})
	require.Nil(t, res.Violation)
	assert.Equal(t, 1, res.Faults.WipedDisks, "wiped disks")
	assert.Equal(t, 1, res.Faults.LeftQuarantine, "node 3 was fenced")
	assert.Zero(t, res.Faults.StillQuarantined, "nodes quarantined at the end")
	assert.Zero(t, res.Faults.QuarantineBlocked, "runs ended by the quorum excuse")
	assert.Zero(t, res.Faults.QuarantineUnelectable, "runs ended by the election excuse")
}

// TestSeed1204746EndsOnTheQuorumExcuse runs the seed in which no node can
// win an election, with or without the quarantined voter's vote (its log
// is the longest, and the outgoing half of the joint configuration has
// no quorum without it): the quorum excuse must still apply when there is
// no node that can win to ask.
func TestSeed1204746EndsOnTheQuorumExcuse(t *testing.T) {
	res := Run(Options{Seed: 1204746, OutDir: outDir(t), Scenario: leaseAndAllSixDiskFaults})
	require.Nil(t, res.Violation)
	assert.Equal(t, 1, res.Faults.QuarantineBlocked, "runs ended by the quorum excuse")
	assert.Zero(t, res.Faults.QuarantineUnelectable, "runs ended by the election excuse")
}
