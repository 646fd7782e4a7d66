package raft

import (
	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// Recovery of a node whose storage lost entries it had acknowledged
// (docs/design/recovery.md).
//
// This file holds the leader's side, which is always on: a follower that
// proves its log went backwards below what the leader recorded of it (its
// Match) is probed again from where its log ends, instead of being probed
// at Match forever.

// recoveryMutation, when not zero, breaks one rule of the recovery on
// purpose: the tests that pin each rule set it to show that they fail
// without the rule. Always zero outside those tests.
var recoveryMutation recoveryMut

// recoveryMut names a rule that recoveryMutation breaks.
type recoveryMut int

const (
	mutRecoveryNone recoveryMut = iota
	// mutNoRegress makes the leader ignore a follower's proof that its log
	// lost entries at or below Match: it keeps probing at Match (etcd raft
	// v3.6's behaviour, the message storm of issue 16).
	mutNoRegress
)

// maybeRegress lowers the progress pr of peer from when a rejection proves
// that the peer's log lacks the entry at pr.Match. rejected is the index
// the rejection answers (an append's Index; for a heartbeat, the Match it
// carried no more than), and probe the index at which the leader's and the
// peer's logs may still agree, as derived from the peer's hint. It returns
// whether it lowered the progress; the caller then sends a probe.
//
// A rejection at or above Match whose hint leads below Match says the peer
// lacked, when it answered, an entry it had acknowledged. A rejection that
// is older than the acknowledgement (reordered by the network) says so
// too; lowering Match on it costs one more probe, never safety: the commit
// index never decreases, and a lower Match only makes quorums harder.
// Every lowering needs a rejection, and every rejection answers a message
// the leader sent, so the leader never sends more than it receives.
func (r *raft) maybeRegress(from uint64, pr *progress.Progress, rejected, probe uint64) bool {
	if recoveryMutation == mutNoRegress || from == r.id || pr.State == progress.StateSnapshot ||
		pr.Match == 0 || rejected < pr.Match || probe >= pr.Match {
		return false
	}
	r.logger.Warningf("%x: %x lacks entry %d that it acknowledged (its log agrees at most up to %d): was its raft log truncated or lost? Probing it again [%s]",
		r.id, from, pr.Match, probe, pr)
	pr.Regress(probe + 1)
	return true
}

// regressHint returns the index up to which the leader's log may agree
// with a peer whose rejection hints (index, term): the peer's last entry at
// or below the rejected index has that term.
func (r *raft) regressHint(m *pb.Message) uint64 {
	if m.LogTerm == 0 {
		return m.RejectHint
	}
	probe, _ := r.raftLog.findConflictByTerm(m.RejectHint, m.LogTerm)
	return probe
}
