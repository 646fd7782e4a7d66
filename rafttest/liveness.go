package rafttest

import (
	pb "github.com/raftkit/raft/raftpb"
)

// quarantineLivenessFactor is how many times Options.LivenessTicks the
// liveness check waits for a commit while a quarantined voter is in a
// configuration (see quarantineSlowsElections).
const quarantineLivenessFactor = 5

// quarantineSlowsElections reports whether the configuration of some node
// that is up counts a quarantined voter (raft.Config.RecoverLostState)
// and still has a quorum of voters that are up without it. Such a voter
// counts as a failed one, so the others must all agree, or all but a
// spare few; Raft elects and keeps a leader within a bounded time only
// if round trips are well below the election timeout ("broadcastTime ≪
// electionTimeout"), and the drawn delays (up to MaxDelay+Jitter ticks
// each way, against ElectionTick 10) meet that only on the fast links,
// which the quarantined voter may have held. Elections then succeed with
// a small probability per round: a leader that hears from its only
// counted follower later than its first CheckQuorum steps down (seed
// 31133), and without PreVote the voters that cannot win keep starting
// elections that the only one that can must beat by a one-way delay
// (seed 22933). The liveness check waits quarantineLivenessFactor times
// longer for those runs, and counts them (Faults.QuarantineSlow).
func (s *sim) quarantineSlowsElections() bool {
	for _, n := range s.nodes[1:] {
		if !n.up() {
			continue
		}
		for _, voters := range [][]uint64{n.cs.Voters, n.cs.VotersOutgoing} {
			for _, id := range voters {
				if rec := s.nodes[id].disk.Recovery(); rec != nil && rec.Quarantined && !s.quarantineBlocks(&n.cs) {
					return true
				}
			}
		}
	}
	return false
}

// quarantineBlocksQuorum reports whether the configuration of some node
// that is up has a quorum of voters that are up, but not without its
// quarantined ones (raft.Config.RecoverLostState): the node whose log is
// the most up to date may be one that has not applied the latest
// configuration, and need a quorum of an older one to win.
func (s *sim) quarantineBlocksQuorum() bool {
	for _, n := range s.nodes[1:] {
		if n.up() && s.quarantineBlocks(&n.cs) {
			return true
		}
	}
	return false
}

// quarantineBlocks reports whether cs has a quorum of voters that are up,
// but not without the quarantined ones.
func (s *sim) quarantineBlocks(cs *pb.ConfState) bool {
	quorum := func(voters []uint64, quarantinedToo bool) bool {
		if len(voters) == 0 {
			return true
		}
		avail := 0
		for _, id := range voters {
			n := s.nodes[id]
			rec := n.disk.Recovery()
			if n.up() && (quarantinedToo || rec == nil || !rec.Quarantined) {
				avail++
			}
		}
		return 2*avail > len(voters)
	}
	with := quorum(cs.Voters, true) && quorum(cs.VotersOutgoing, true)
	without := quorum(cs.Voters, false) && quorum(cs.VotersOutgoing, false)
	return with && !without
}
