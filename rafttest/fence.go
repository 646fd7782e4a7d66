package rafttest

import (
	"fmt"
	"slices"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// The quarantine's end (docs/design/recovery.md, rules E1 and E2): once
// the faults healed, a quarantine the library ends by itself must end
// within fenceTicks of its cue, and the simulator hands leadership to
// another voter to give the cue to a node that waits for one.

// stateLossFenced tells whether the library ends a StateLoss quarantine by
// itself: it does, through the raftkit leader's fence handshake (rule
// E2), so every StateLoss quarantine must end within fenceTicks of its
// cue too. (Set it false to check a library without the handshake.)
const stateLossFenced = true

// fenceTicks bounds the ticks, once the faults healed, from the cue of a
// quarantine (fenceCue) to its end, or to the next progress on the way
// there (the node's commit index, or any node's last index, rising): with
// one entry per message and one message in flight, catching up takes a
// round trip per entry, however long. The longest stall measured over the
// soaks of docs/design/recovery.md is far below it.
const fenceTicks = 100

// fenceTotalTicks bounds the whole wait from a quarantine's cue to its
// end, however its log moves on the way: a quarantine that a moving log
// never ends would otherwise keep the run going for ever.
const fenceTotalTicks = 3000

// fenceWindow is how long, after the liveness probe committed, a run with
// disk faults goes on so that the quarantines the library ends get their
// cue (a leader change, which the simulator asks for).
const fenceWindow = 300

// fenceable reports whether the library ends a quarantine of kind by
// itself, so that the simulator requires it to.
func fenceable(kind raft.RegressionKind) bool {
	switch kind {
	case raft.TailLoss:
		return true
	case raft.StateLoss:
		return stateLossFenced
	}
	return false
}

// fenceCue reports whether the cluster now gives n's quarantine rec what
// ends it: a leader that committed an entry of its own term and has n in
// its configuration; for a TailLoss, of a term above the one the loss was
// found in (rule E1: a leader change, or a snapshot of a later term); for
// a StateLoss, one that runs the handshake (Options.Fencers, rule E2).
func (s *sim) fenceCue(n *simNode, rec raft.Recovery) bool {
	ld := s.leader()
	if ld == nil || ld == n || !inConf(ld.cs, n.id) {
		return false
	}
	st := ld.node.Status()
	if t, ok := ld.disk.Term(st.Commit); !ok || t != st.Term {
		return false
	}
	if rec.Kind == raft.TailLoss {
		return st.Term > rec.Term
	}
	return s.opts.Fencers == nil || s.opts.Fencers(ld.id)
}

// inConf reports whether id is in cs, as a voter or a learner.
func inConf(cs pb.ConfState, id uint64) bool {
	for _, ids := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		if slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

// watchQuarantines counts the quarantines that ended, and once the faults
// healed, starts the clock of each fenceable quarantine at its cue and
// fails the run when one outlives fenceTicks.
func (s *sim) watchQuarantines() {
	for _, n := range s.nodes[1:] {
		q := n.disk.quarantined()
		if n.quarantined && !q {
			s.res.Faults.LeftQuarantine++
			s.event(n.id, "leave-quarantine", 0, 0, "")
			if n.quarantineKind == raft.StateLoss {
				s.chk.forgetLostVotes(n.id, n.disk.HardState().Term)
			}
			if n.fenceCue > 0 {
				s.res.Faults.FenceTicks = max(s.res.Faults.FenceTicks, s.tick-n.fenceCue)
				s.res.Faults.FenceStall = max(s.res.Faults.FenceStall, s.tick-n.fenceStall)
			}
		}
		n.quarantined = q
		if q {
			n.quarantineKind = n.disk.recovery.Kind
		}
		if !q {
			n.fenceCue = 0
			continue
		}
		if s.faulty || !n.up() || !fenceable(n.disk.recovery.Kind) {
			continue
		}
		st := n.node.Status()
		if n.fenceCue == 0 {
			if s.fenceCue(n, *n.disk.recovery) {
				n.fenceCue, n.fenceStall = s.tick, s.tick
				n.fenceLast, n.fenceCommit = s.logsLength(), st.Commit
				s.res.Faults.FencesDue++
				s.event(n.id, "fence-cue", 0, 0, "")
			}
			continue
		}
		if !s.fenceCue(n, *n.disk.recovery) {
			// The cue went away (a leader that runs no handshake took
			// over, or there is no leader): wait for the next one.
			n.fenceCue = 0
			continue
		}
		if s.tick-n.fenceCue > fenceTotalTicks {
			s.fail("quarantine ends within a bound", "node %d is still quarantined [%s] %d ticks after its cue, though its log kept moving (%s)",
				n.id, describeRecovery(*n.disk.recovery), s.tick-n.fenceCue, s.describeNodes())
			continue
		}
		if last := s.logsLength(); last > n.fenceLast || st.Commit > n.fenceCommit {
			n.fenceStall, n.fenceLast, n.fenceCommit = s.tick, max(last, n.fenceLast), max(st.Commit, n.fenceCommit)
			s.res.Faults.FenceStall = max(s.res.Faults.FenceStall, s.tick-n.fenceStall)
			continue
		}
		if s.tick-n.fenceStall > fenceTicks {
			s.fail("quarantine ends within a bound", "node %d is still quarantined [%s] %d ticks after its cue, its log unchanged for %d (%s)",
				n.id, describeRecovery(*n.disk.recovery), s.tick-n.fenceCue, s.tick-n.fenceStall, s.describeNodes())
		}
	}
}

// logsLength sums the last indexes of every disk: it grows while any node
// catches up. A fence may wait for another follower to catch up (its
// commit needs a quorum without the quarantined node), so the bound on a
// quarantine's stall counts the progress of every log, not only its own
// (seed 23493: one entry per round trip to the other follower).
func (s *sim) logsLength() uint64 {
	var sum uint64
	for _, n := range s.nodes[1:] {
		sum += n.disk.LastIndex()
	}
	return sum
}

// fencesSettled reports whether a run with disk faults may end once its
// liveness probe committed: no up node waits in a fenceable quarantine,
// or none got its cue and the fence window is over.
func (s *sim) fencesSettled() bool {
	waiting := false
	for _, n := range s.nodes[1:] {
		if !n.up() || !n.disk.quarantined() || !fenceable(n.disk.recovery.Kind) {
			continue
		}
		if n.fenceCue > 0 {
			return false
		}
		waiting = true
	}
	return !waiting || s.tick > s.probeDoneAt+fenceWindow
}

// driveFences gives the cue to a node waiting in a fenceable quarantine:
// every other election timeout, the leader is asked to hand leadership to
// another voter of its configuration that is up and not quarantined.
func (s *sim) driveFences() {
	if s.tick%(2*s.sc.ElectionTick) != 0 {
		return
	}
	waiting := false
	for _, n := range s.nodes[1:] {
		if n.up() && n.disk.quarantined() && fenceable(n.disk.recovery.Kind) && n.fenceCue == 0 {
			waiting = true
		}
	}
	ld := s.leader()
	if !waiting || ld == nil {
		return
	}
	for _, id := range ld.cs.Voters {
		to := s.nodes[id]
		if id != ld.id && to.up() && !to.disk.quarantined() {
			s.cur = ld.id
			ld.node.TransferLeader(id)
			s.res.Faults.Transfers++
			s.event(ld.id, "transfer", id, 0, "fence")
			return
		}
	}
}

// describeRecovery renders a quarantine for a violation report.
func describeRecovery(rec raft.Recovery) string {
	return fmt.Sprintf("%s %s lost [%d, %d] term %d", rec.Kind, rec.Cause, rec.LostFrom, rec.LostTo, rec.Term)
}
