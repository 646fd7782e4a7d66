package rafttest

import (
	"strconv"
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

// quarantineOutcome is what TestSeedsEndOnTheirExcuses reads of a run:
// the wiped disks, the quarantines that ended and did not, and which
// liveness excuse, or longer wait, applied.
type quarantineOutcome struct {
	wiped, left, still         int
	blocked, unelectable, slow int
}

// TestSeedsEndOnTheirExcuses runs the seeds that shaped the liveness
// excuses, with their fault flags, and requires that each ends through
// the excuse it found and no other:
//   - 330196 found the election excuse: the wiped node stays quarantined
//     and no node can win without its vote;
//   - 389513 narrowed the quorum excuse to the nodes that can win: with
//     rule T1 for votes, node 4 learns node 2's term from the quarantined
//     node 3, wins and fences node 3, so no excuse applies;
//   - 1204746 keeps the quorum excuse where no node can win at all, with
//     or without the quarantined voter's vote (its log is the longest,
//     and the outgoing half of the joint configuration has no quorum
//     without it).
func TestSeedsEndOnTheirExcuses(t *testing.T) {
	for _, tc := range []struct {
		seed int64
		pin  func(*Scenario)
		want quarantineOutcome
	}{
		{330196, allSixDiskFaults, quarantineOutcome{wiped: 1, still: 1, unelectable: 1}},
		{389513, allSixDiskFaults, quarantineOutcome{wiped: 1, left: 1}},
		{1204746, leaseAndAllSixDiskFaults, quarantineOutcome{wiped: 1, left: 2, still: 1, blocked: 1}},
	} {
		t.Run(strconv.FormatInt(tc.seed, 10), func(t *testing.T) {
			res := Run(Options{Seed: tc.seed, OutDir: outDir(t), Scenario: tc.pin})
			require.Nil(t, res.Violation)
			f := res.Faults
			assert.Equal(t, tc.want, quarantineOutcome{wiped: f.WipedDisks, left: f.LeftQuarantine,
				still: f.StillQuarantined, blocked: f.QuarantineBlocked, unelectable: f.QuarantineUnelectable,
				slow: f.QuarantineSlow})
		})
	}
}
