package raft

import (
	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// Quiescence lets an application that runs many groups stop ticking the
// idle ones (see package multiraft). The RawNode only answers whether the
// group may go quiet and keeps a flag; the application stops calling Tick
// while the flag is set and calls Wake before it steps a message (or makes
// a proposal, a read, a campaign) that should wake the group. An
// application that never calls Quiesce sees no change of behaviour.
//
// A quiesced leader runs no CheckQuorum and sends no heartbeats, so the
// followers must not time out either: they are quiesced by the leader's
// notice (the application carries it) and do not tick. The rules below
// keep that safe:
//
//   - only a group with PreVote and CheckQuorum quiesces (a follower woken
//     by a stray pre-vote stays in its leader's lease and ignores it),
//   - never a ReadOnlyLeaseBased group (a quiet leader cannot know its
//     lease still holds),
//   - never in a joint configuration, or with a conf change, a leadership
//     transfer, a ReadIndex or anything else pending.

// MayQuiesce reports whether this leader may quiesce its group now: it is
// the leader, nothing is pending (no Ready, no leadership transfer, no
// unapplied conf change, no ReadIndex waiting), everything is applied and
// committed (applied = commit = last index), the configuration is not
// joint, and every replica is caught up (Match = last index, in
// StateReplicate) except those down reports as unreachable, which are left
// behind as lagging. The caught-up voters must form a quorum. down may be
// nil. It also needs PreVote and CheckQuorum, and ReadOnlySafe.
func (rn *RawNode) MayQuiesce(down func(id uint64) bool) bool {
	r := rn.raft
	if r.state != StateLeader || !r.preVote || !r.checkQuorum || r.leaseReads {
		return false
	}
	if r.leadTransferee != None || r.pendingConfIndex > r.raftLog.applied {
		return false
	}
	if r.readOnly != nil && (len(r.readOnly.waiting) > 0 || len(r.readOnly.pending) > 0) {
		return false
	}
	last := r.raftLog.lastIndex()
	if r.raftLog.applied != r.raftLog.committed || r.raftLog.committed != last {
		return false
	}
	if len(r.trk.Voters[1]) > 0 || rn.HasReady() {
		return false
	}
	ok := true
	votes := make(map[uint64]bool, r.trk.Len())
	r.trk.Visit(func(id uint64, pr *progress.Progress) {
		caughtUp := pr.Match == last && (id == r.id || pr.State == progress.StateReplicate)
		if !caughtUp && (id == r.id || down == nil || !down(id)) {
			ok = false
		}
		if !pr.IsLearner {
			votes[id] = caughtUp
		}
	})
	return ok && r.trk.Voters.VoteResult(votes) == quorum.VoteWon
}

// MayQuiesceFollowing reports whether this follower may quiesce on a
// notice from lead at term with commit index commit: it follows lead in
// that term, knows that commit, has all of its log committed
// (commit = last index), and has nothing to send but answers to heartbeats
// without a ReadIndex context (no forwarded proposal or ReadIndex in
// flight). Entries committed but not yet applied are allowed:
// they are in the Ready the application is about to handle.
func (rn *RawNode) MayQuiesceFollowing(lead, term, commit uint64) bool {
	r := rn.raft
	if r.state != StateFollower || !r.preVote || !r.checkQuorum || r.leaseReads {
		return false
	}
	if r.lead == None || r.lead != lead || r.Term != term {
		return false
	}
	if r.raftLog.committed != commit || r.raftLog.lastIndex() != commit {
		return false
	}
	if r.raftLog.hasNextUnstableSnapshot() || r.raftLog.hasNextUnstableEnts() {
		return false
	}
	if len(r.msgsAfterAppend) > 0 {
		return false
	}
	// Answers to the leader's last heartbeats may still be queued (they
	// came in with the notice); a quiet leader takes them without waking.
	for i := range r.msgs {
		if m := &r.msgs[i]; m.Type != pb.MsgHeartbeatResp || len(m.Context) > 0 {
			return false
		}
	}
	return true
}

// Quiesce marks the group quiesced: the application stops ticking it
// until Wake. It does not check MayQuiesce (the application does, on the
// leader, and MayQuiesceFollowing on a follower).
func (rn *RawNode) Quiesce() {
	rn.raft.rareSettings().quiesced = true
	rn.raft.syncRareOn()
	// No Tick comes to release them until Wake, and no heartbeat round
	// to reuse a loaned Messages array.
	rn.dropSpare()
	if r := rn.raft; len(r.msgs) == 0 {
		r.msgs = nil
	}
}

// Quiesced reports whether the group is quiesced (Quiesce called, Wake
// not since).
func (rn *RawNode) Quiesced() bool {
	return rn.raft.rareOn&rareQuiesced != 0
}

// Wake ends quiescence and reports whether the group was quiesced. The
// time spent quiet does not count towards any timeout: the election clock
// restarts at zero, so a wake never causes an election by itself, and a
// leader counts every replica as recently active, so that CheckQuorum does
// not depose it at its next check for silence it asked for.
func (rn *RawNode) Wake() bool {
	r := rn.raft
	if !rn.Quiesced() {
		return false
	}
	r.rare.quiesced = false
	r.syncRareOn()
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	if r.state == StateLeader {
		r.trk.Visit(func(id uint64, pr *progress.Progress) { pr.RecentActive = true })
	}
	return true
}
