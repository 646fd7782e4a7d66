package raft

import (
	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// StepHeartbeat steps m, a heartbeat of an idle group, without queuing
// anything for a Ready, when it changes nothing that a Ready hands out. It
// is for hosts of many groups (package multiraft), where most of the
// traffic is the heartbeat rounds of idle groups and a full Step, Ready
// and Advance per heartbeat and response is most of their cost. It
// reports whether it stepped m; when it did not, the node is untouched and
// the caller steps m with Step as usual. Nothing changes for an
// application that does not call it.
//
// It takes two kinds of message, in their plain form (Type, From, To, Term
// and Commit set; a nil Context, no other field):
//
//   - a MsgHeartbeat to a follower from the leader it knows for the
//     message's term (its current term), with a commit index it already
//     has. It restarts the election clock as Step would, and returns the
//     MsgHeartbeatResp that Step would have put in the next Ready. The
//     caller sends it; like a heartbeat response in etcd raft's
//     asynchronous storage mode, it vouches for no state that waits to be
//     persisted, so it need not wait for the Readies handed out before.
//   - a MsgHeartbeatResp to a leader, of its term, from a follower that is
//     caught up (Match at the last index, StateReplicate). It marks the
//     follower recently active and resumes its append flow, as Step would;
//     there is no answer (resp.To is None).
//
// Anything else makes it report false: another type or field, a Context
// (a ReadIndex round), another term, leader or role, a commit index that
// would advance, a follower that is behind or probed (Step would send it
// an append), an unknown sender, a node that is quarantined
// (Config.RecoverLostState), a leader with a fence handshake in progress,
// or the explicit lease (ReadOnlyLeaseBased). The state trace and
// Config.Metrics hear of the message and of the response as they do
// through Step; Metrics counts no Ready for them, as there is none.
func (rn *RawNode) StepHeartbeat(m pb.Message) (resp pb.Message, ok bool) {
	r := rn.raft
	if !plainHeartbeat(&m) || m.Term != r.Term || m.Term == 0 || m.Term > maxTerm ||
		m.From == None || m.From == r.id || IsLocalMsgTarget(m.From) || m.Commit > maxIndex {
		return pb.Message{}, false
	}
	if r.rareOn&(rareRecovery|rareLease) != 0 {
		return pb.Message{}, false
	}
	switch m.Type {
	case pb.MsgHeartbeat:
		// stepFollower after checkLeader: m.From leads the term, so the
		// leader fields keep their values; handleHeartbeat's commitTo is
		// a no-op below the commit index, which is within the log.
		if r.state != StateFollower || r.lead != m.From || r.termLead != m.From ||
			m.Commit > r.raftLog.committed {
			return pb.Message{}, false
		}
		traceReceiveMessage(r, &m)
		observeReceive(r, &m)
		r.electionElapsed = 0
		resp = pb.Message{Type: pb.MsgHeartbeatResp, From: r.id, To: m.From, Term: r.Term}
		traceSendMessage(r, &resp)
		observeSend(r, &resp)
		return resp, true
	case pb.MsgHeartbeatResp:
		if r.state != StateLeader || leaseMutation == mutRecentActive {
			return pb.Message{}, false
		}
		pr := r.trk.Get(m.From)
		if pr == nil || pr.State != progress.StateReplicate || pr.Match < r.raftLog.lastIndex() {
			return pb.Message{}, false
		}
		traceReceiveMessage(r, &m)
		observeReceive(r, &m)
		// handleHeartbeatResponse, with nothing to send and no read round.
		pr.RecentActive = true
		pr.MsgAppFlowPaused = false
		return pb.Message{}, true
	}
	return pb.Message{}, false
}

// plainHeartbeat reports whether m is a MsgHeartbeat or MsgHeartbeatResp
// with no field set but Type, From, To, Term and, for a heartbeat, Commit.
func plainHeartbeat(m *pb.Message) bool {
	if m.Type != pb.MsgHeartbeat && m.Type != pb.MsgHeartbeatResp {
		return false
	}
	if m.Type == pb.MsgHeartbeatResp && m.Commit != 0 {
		return false
	}
	return m.LogTerm == 0 && m.Index == 0 && m.Entries == nil && m.Vote == 0 && m.Snapshot == nil &&
		!m.Reject && m.RejectHint == 0 && m.Context == nil && m.Responses == nil
}

// TickHeartbeat ticks the node as Tick does and, when the node is an idle
// leader whose tick makes nothing but plain heartbeats, takes them out of
// the node at once: it appends them to buf, leaves nothing for a Ready,
// and reports true. It is StepHeartbeat's counterpart for the leader's
// side of an idle group's heartbeat round: a host of many groups (package
// multiraft) sends the heartbeats without a Ready and an Advance per
// leader and tick. Nothing changes for an application that does not call
// it.
//
// It reports false, and has ticked exactly as Tick, leaving what the tick
// made to the next Ready as usual, unless, before the tick, the node is a
// leader with nothing for a Ready (HasReady is false) and no Ready
// outstanding (every Ready handed out was advanced), its tick cannot
// reach the election timeout (no CheckQuorum step, no transfer to
// abandon), no ReadIndex round is pending (its heartbeats would carry
// it), and it keeps no explicit lease (ReadOnlyLeaseBased), no restart
// quarantine or fence handshake (Config.RecoverLostState) and does not
// write asynchronously (AsyncStorageWrites). The heartbeats it returns
// are those Ready would have handed out, in the same order; like a
// messages-only Ready, they vouch only for state already persisted. The
// state trace and Config.Metrics hear of the tick and of the heartbeats as
// through Tick; Metrics counts no Ready for them, as there is none.
func (rn *RawNode) TickHeartbeat(buf []pb.Message) ([]pb.Message, bool) {
	if !rn.plainLeaderTick() {
		rn.Tick()
		return buf, false
	}
	rn.Tick()
	r := rn.raft
	n := len(r.msgs)
	if n == 0 {
		return buf, true
	}
	for i := range r.msgs {
		if m := &r.msgs[i]; m.Type != pb.MsgHeartbeat || m.Context != nil {
			// Not reached given plainLeaderTick; the Ready hands it out.
			return buf, false
		}
	}
	buf = append(buf, r.msgs...)
	// What Ready and Advance do to a Ready of messages only: the array is
	// emptied for the next ones (a loaned one is returned), and a busy
	// group's count of Readies moves as Ready's would.
	clear(r.msgs)
	r.msgs = r.msgs[:0]
	if r.rareOn&rareLend == 0 && r.readiesSinceTick < 255 {
		r.readiesSinceTick++
	}
	observeState(r)
	traceCursors(r)
	return buf, true
}

// plainLeaderTick reports whether the next tick of the node can make
// nothing but plain heartbeats, with nothing else for a Ready: see
// TickHeartbeat.
func (rn *RawNode) plainLeaderTick() bool {
	r := rn.raft
	if r.state != StateLeader || r.electionElapsed+1 >= r.electionTimeout || r.leadTransferee != None ||
		r.asyncStorageWrites || len(r.msgs) != 0 || len(r.msgsAfterAppend) != 0 {
		return false
	}
	if ro := r.readOnly; ro != nil && len(ro.pending) != 0 {
		return false
	}
	if r.rareOn&(rareRecovery|rareLease|rareLent|rareQuiesced) != 0 {
		return false
	}
	if a := rn.adv; a != nil && (len(a.steps) != 0 || a.pending()) {
		return false
	}
	return !rn.HasReady()
}
