package rafttest

import (
	"slices"

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
				if s.nodes[id].disk.quarantined() && !s.quarantineBlocks(&n.cs) {
					return true
				}
			}
		}
	}
	return false
}

// quarantineBlocksQuorum reports whether no leader can commit while the
// quarantined voters count for no quorum (raft.Config.RecoverLostState,
// rule S1 of docs/design/recovery.md). With a leader: its configuration
// has a quorum of voters that are up, but not without its quarantined
// ones. Without one: the configuration of some node that is up is so
// blocked, and no node that could win an election while the quarantined
// voters refuse it (see winners) has a configuration that is not. The
// node whose log is the most up to date may be one that has not applied
// the latest configuration, and need a quorum of an older one to win and
// commit; it may also be the quarantined one, which no other voter's log
// can outvote (seed 1204746). A run in which some node could win in a
// configuration that commits without the quarantined voters is not
// excused (seed 389513, where another node's older configuration once
// satisfied the check).
func (s *sim) quarantineBlocksQuorum() bool {
	if l := s.leader(); l != nil {
		return s.quarantineBlocks(&l.cs)
	}
	for _, w := range winners(s.electionViews(), false) {
		if !s.quarantineBlocks(&w.cs) {
			return false
		}
	}
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
			if n := s.nodes[id]; n.up() && (quarantinedToo || !n.disk.quarantined()) {
				avail++
			}
		}
		return 2*avail > len(voters)
	}
	with := quorum(cs.Voters, true) && quorum(cs.VotersOutgoing, true)
	without := quorum(cs.Voters, false) && quorum(cs.VotersOutgoing, false)
	return with && !without
}

// quarantineBlocksElection reports whether no node can win an election
// while the quarantined voters reject every vote (rule Q1 of
// docs/design/recovery.md), but one could if they voted as any other node
// does, on its log alone; it requires that no node leads. The quorums of
// quarantineBlocks count every voter that is up, but a voter that is up
// still refuses a candidate whose log is behind its own, and a node
// campaigns only in the configuration it has applied (etcd raft's rule),
// which may name voters a later one removed or demoted (seed 330196: the
// leader demoted itself while a voter was quarantined; the voter with the
// longest log had not learned that the demotion was committed and
// campaigned in the configuration before it, whose other voters were the
// demoted leader, whose uncommitted tail was longer still, the
// quarantined one, and one that granted its vote). Without a leader no log moves, so the stall lasts
// until the quarantine ends, which needs a leader: the voter counts as a
// failed one, as in etcd raft with that voter down.
func (s *sim) quarantineBlocksElection() bool {
	if s.leader() != nil {
		return false
	}
	views := s.electionViews()
	return !electable(views, false) && electable(views, true)
}

// electionViews returns what the liveness check reads of each node to tell
// whether an election can be won.
func (s *sim) electionViews() []electionView {
	views := make([]electionView, 0, len(s.nodes)-1)
	for _, n := range s.nodes[1:] {
		v := electionView{id: n.id, up: n.up(), quarantined: n.disk.quarantined(), cs: n.cs,
			lastIndex: n.disk.LastIndex()}
		v.lastTerm, _ = n.disk.Term(v.lastIndex)
		views = append(views, v)
	}
	return views
}

// electionView is what the liveness check reads of a node to tell
// whether an election can be won: whether it is up and quarantined, the
// configuration it applied, and its last entry.
type electionView struct {
	id                  uint64
	up, quarantined     bool
	cs                  pb.ConfState
	lastTerm, lastIndex uint64
}

// electable reports whether some node of nodes can win an election (see
// winners).
func electable(nodes []electionView, quarantinedVote bool) bool {
	return len(winners(nodes, quarantinedVote)) > 0
}

// winners returns the nodes of nodes that can win an election: each is
// up, not quarantined, a voter of the configuration it applied (a learner
// or a node outside it never campaigns), and a majority of each half of
// that configuration would grant it their vote. A voter grants it if it
// is up and the candidate's log is at least as up to date as its own
// (§5.4.1); a quarantined voter rejects every vote unless quarantinedVote
// is set. Terms, votes already cast in a term and timeouts are left out:
// a candidate's next campaign is at a term no node has voted in.
func winners(nodes []electionView, quarantinedVote bool) []*electionView {
	byID := make(map[uint64]*electionView, len(nodes))
	for i := range nodes {
		byID[nodes[i].id] = &nodes[i]
	}
	grants := func(c *electionView, voters []uint64) bool {
		if len(voters) == 0 {
			return true
		}
		votes := 0
		for _, id := range voters {
			v := byID[id]
			switch {
			case id == c.id:
				votes++
			case v == nil || !v.up || (v.quarantined && !quarantinedVote):
			case c.lastTerm > v.lastTerm || (c.lastTerm == v.lastTerm && c.lastIndex >= v.lastIndex):
				votes++
			}
		}
		return 2*votes > len(voters)
	}
	var ws []*electionView
	for i := range nodes {
		c := &nodes[i]
		if !c.up || c.quarantined || !(slices.Contains(c.cs.Voters, c.id) || slices.Contains(c.cs.VotersOutgoing, c.id)) {
			continue
		}
		if grants(c, c.cs.Voters) && grants(c, c.cs.VotersOutgoing) {
			ws = append(ws, c)
		}
	}
	return ws
}
