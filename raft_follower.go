package raft

import (
	"github.com/raftkit/raft/confchange"
	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// stepCandidate is shared by candidates and pre-candidates.
func stepCandidate(r *raft, m *pb.Message) error {
	// Only the responses of the current phase count; the others are stale.
	myVoteRespType := pb.MsgVoteResp
	if r.state == StatePreCandidate {
		myVoteRespType = pb.MsgPreVoteResp
	}
	switch m.Type {
	case pb.MsgProp:
		r.logger.Infof("%x no leader at term %d; dropping proposal", r.id, r.Term)
		observeDrop(r, DropNoLeader)
		return ErrProposalDropped
	case pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap:
		// A leader exists at our term (Raft §5.2); Step made sure it is
		// the one this node knew of, if any (checkLeader).
		r.becomeFollower(m.Term, m.From)
		r.handleLeaderMessage(m)
	case myVoteRespType:
		gr, rj, res := r.poll(m.From, m.Type, !m.Reject)
		r.logger.Infof("%x has received %d %s votes and %d vote rejections", r.id, gr, m.Type, rj)
		switch res {
		case quorum.VoteWon:
			if r.state == StatePreCandidate {
				r.campaign(campaignElection)
			} else {
				r.becomeLeader()
				r.bcastAppend()
			}
		case quorum.VoteLost:
			// Pre-candidates and candidates alike go back to following,
			// at the term they have.
			r.becomeFollower(r.Term, None)
		}
	case pb.MsgTimeoutNow:
		r.logger.Debugf("%x [term %d state %v] ignored MsgTimeoutNow from %x", r.id, r.Term, r.state, m.From)
	default:
		// MsgBeat, MsgCheckQuorum, MsgAppResp, MsgHeartbeatResp,
		// MsgUnreachable, MsgSnapStatus, MsgTransferLeader, MsgReadIndex
		// and MsgReadIndexResp, MsgForgetLeader and stale vote responses
		// mean nothing to a candidate.
		r.logger.Debugf("%x [term %d state %v] ignored %s from %x", r.id, r.Term, r.state, m.Type, m.From)
	}
	return nil
}

func stepFollower(r *raft, m *pb.Message) error {
	switch m.Type {
	case pb.MsgProp:
		if r.lead == None {
			r.logger.Infof("%x no leader at term %d; dropping proposal", r.id, r.Term)
			observeDrop(r, DropNoLeader)
			return ErrProposalDropped
		} else if r.disableProposalForwarding {
			r.logger.Infof("%x not forwarding to leader %x at term %d; dropping proposal", r.id, r.lead, r.Term)
			observeDrop(r, DropForwardingDisabled)
			return ErrProposalDropped
		}
		m.To = r.lead
		m.From = r.id
		r.send(*m)
	case pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap:
		// Step made sure m.From is the leader of the term, or that the
		// term had none yet (checkLeader).
		r.electionElapsed = 0
		r.lead = m.From
		r.termLead = m.From
		r.handleLeaderMessage(m)
	case pb.MsgTransferLeader:
		if r.lead == None {
			r.logger.Infof("%x no leader at term %d; dropping leader transfer msg", r.id, r.Term)
			return nil
		}
		m.To = r.lead
		r.send(*m)
	case pb.MsgForgetLeader:
		if r.leaseReads {
			r.logger.Error("ignoring MsgForgetLeader due to ReadOnlyLeaseBased")
			return nil
		}
		if r.lead != None {
			r.logger.Infof("%x forgetting leader %x at term %d", r.id, r.lead, r.Term)
			r.lead = None
		}
	case pb.MsgTimeoutNow:
		if why := r.refuseTimeoutNow(m); why != "" {
			r.logger.Infof("%x [term %d] ignored MsgTimeoutNow from %x: %s", r.id, r.Term, m.From, why)
			return nil
		}
		r.logger.Infof("%x [term %d] received MsgTimeoutNow from %x and starts an election to get leadership", r.id, r.Term, m.From)
		// A transfer campaign skips the pre-vote: the leader asked for it,
		// and its vote requests bypass the lease.
		r.hup(campaignTransfer)
	case pb.MsgReadIndex:
		if r.lead == None {
			r.logger.Infof("%x no leader at term %d; dropping index reading msg", r.id, r.Term)
			return nil
		}
		m.To = r.lead
		m.From = r.id
		r.send(*m)
	case pb.MsgReadIndexResp:
		if len(m.Entries) != 1 {
			r.logger.Errorf("%x invalid format of MsgReadIndexResp from %x, entries count: %d", r.id, m.From, len(m.Entries))
			return nil
		}
		r.readStates = append(r.readStates, ReadState{Index: m.Index, RequestCtx: m.Entries[0].Data})
	default:
		// MsgBeat, MsgCheckQuorum, MsgUnreachable, MsgSnapStatus are leader
		// business; MsgAppResp, MsgHeartbeatResp and vote responses are
		// stale here.
		r.logger.Debugf("%x [term %d state %v] ignored %s from %x", r.id, r.Term, r.state, m.Type, m.From)
	}
	return nil
}

// handleLeaderMessage handles what a follower receives from the leader of
// its term: appends, heartbeats and snapshots.
func (r *raft) handleLeaderMessage(m *pb.Message) {
	r.leaseHeard()
	switch m.Type {
	case pb.MsgApp:
		r.handleAppendEntries(m)
	case pb.MsgHeartbeat:
		r.handleHeartbeat(m)
	case pb.MsgSnap:
		r.handleSnapshot(m)
	}
}

// handleAppendEntries is the follower side of AppendEntries (Raft §5.3).
func (r *raft) handleAppendEntries(m *pb.Message) {
	if m.Index < r.raftLog.committed {
		// Everything up to our commit index is known to match the leader's
		// log (Log Matching): say where we are (after a StateLoss, no
		// further than the leader's commit index: rule S1).
		r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: r.ackIndex(r.raftLog.committed, m.Commit)})
		return
	}
	lastNew, ok, err := r.raftLog.maybeAppend(entryID{term: m.LogTerm, index: m.Index}, m.Commit, m.Entries)
	if err != nil {
		r.logger.Errorf("%x dropped MsgApp from %x [logterm: %d, index: %d]: %v", r.id, m.From, m.LogTerm, m.Index, err)
		return
	}
	if ok {
		r.sendAppResp(m.From, r.ackIndex(lastNew, m.Commit))
		r.maybeLeaveQuarantine()
		return
	}
	// Reject, with a hint that lets the leader skip a whole term: our last
	// entry at or below the probed index whose term is at or below the
	// probed term. Every entry between it and the probed index has a
	// higher term than the leader's there, so none can match.
	if r.repeatedRejection(m.Index) {
		return
	}
	hintIndex := min(m.Index, r.raftLog.lastIndex())
	hintIndex, hintTerm := r.raftLog.findConflictByTerm(hintIndex, m.LogTerm)
	r.logger.Debugf("%x [logterm: %d, index: %d] rejected MsgApp [logterm: %d, index: %d] from %x",
		r.id, zeroTermOnOutOfBounds(r.raftLog.term(m.Index)), m.Index, m.LogTerm, m.Index, m.From)
	r.send(pb.Message{
		To:         m.From,
		Type:       pb.MsgAppResp,
		Index:      m.Index,
		Reject:     true,
		RejectHint: hintIndex,
		LogTerm:    hintTerm,
	})
}

func (r *raft) handleHeartbeat(m *pb.Message) {
	if r.recoveryState() != nil {
		if r.recoveryConfirmed(m) && r.quarantined() {
			// A confirmation that does not end the quarantine yet is not
			// answered: the answer would be a signal, which the leader
			// answers with the confirmation again. The next heartbeat's
			// answer asks for it.
			return
		}
		if r.quarantineHeartbeat(*m) {
			return
		}
	}
	if last := r.raftLog.lastEntryID(); m.Commit > last.index {
		// A correct leader never sends a commit index beyond what it knows
		// we have. Either our storage lost entries we had acknowledged, or
		// the sender is faulty. Committing what we have could commit
		// entries the leader does not have: refuse, loudly, and tell the
		// leader where our log ends, so that a raftkit leader probes us
		// from there (maybeRegress). etcd raft v3.6 panics here; its
		// leaders ignore Reject on a heartbeat response.
		r.logger.Errorf("%x ignored commit index %d from %x beyond the last index %d: was the raft log corrupted, truncated, or lost?",
			r.id, m.Commit, m.From, last.index)
		r.send(pb.Message{To: m.From, Type: pb.MsgHeartbeatResp, Context: r.heartbeatRespCtx(m),
			Reject: true, RejectHint: last.index, LogTerm: last.term})
		return
	}
	r.raftLog.commitTo(m.Commit)
	resp := pb.Message{To: m.From, Type: pb.MsgHeartbeatResp, Context: r.heartbeatRespCtx(m)}
	if r.quarantined() {
		// The recovery signal tells where the log ends, so that a raftkit
		// leader starting the handshake probes from there; an etcd
		// leader ignores these fields on a heartbeat response.
		last := r.raftLog.lastEntryID()
		resp.RejectHint, resp.LogTerm = last.index, last.term
	}
	r.send(resp)
}

func (r *raft) handleSnapshot(m *pb.Message) {
	s := *m.Snapshot
	sindex, sterm := s.Metadata.Index, s.Metadata.Term
	if r.raftLog.entriesOutForApply() && sindex > r.raftLog.committed && !r.raftLog.matchTerm(sindex, sterm) {
		// The snapshot would replace the log and switch the configuration
		// while committed entries before it are out with the application
		// (in a Ready not yet advanced, or a MsgStorageApply not yet
		// answered). The application would then apply them after the
		// switch: ApplyConfChange for a conf change among them would
		// change the snapshot's configuration instead of the one of its
		// index, and return a ConfState no other node has for that index;
		// an application with separate append and apply threads would
		// also install the snapshot under entries older than it.
		//
		// So the snapshot waits until those entries are reported applied
		// (appliedTo installs it then, and answers the leader). That needs
		// nothing but the application doing its job: while the leader is
		// sending us a snapshot it sends us no entries, so what can be
		// handed out is bounded by our last index, and the application
		// catches up. Meanwhile the leader waits in StateSnapshot, or, once
		// told the snapshot arrived (ReportSnapshot), probes at the next
		// heartbeat, finds our log short, and sends the snapshot again:
		// at most one snapshot per heartbeat interval, like any snapshot
		// that did not take. The newest snapshot is kept. etcd raft v3.6
		// installs the snapshot at once.
		rare := r.rareSettings()
		if w := rare.waitingSnap; w == nil || w.Term < m.Term || w.Snapshot.Metadata.Index <= sindex {
			// A copy: m is the caller's.
			kept := *m
			rare.waitingSnap = &kept
		}
		r.logger.Infof("%x [commit: %d, applying: %d, applied: %d] holds snapshot [index: %d, term: %d] until the entries out with the application are applied",
			r.id, r.raftLog.committed, r.raftLog.applying, r.raftLog.applied, sindex, sterm)
		return
	}
	if r.restore(s) {
		r.logger.Infof("%x [commit: %d] restored snapshot [index: %d, term: %d]",
			r.id, r.raftLog.committed, sindex, sterm)
		r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: r.raftLog.lastIndex()})
	} else {
		r.logger.Infof("%x [commit: %d] ignored snapshot [index: %d, term: %d]",
			r.id, r.raftLog.committed, sindex, sterm)
		// After a StateLoss, no further than what the leader knows is
		// committed, the snapshot (rule S1).
		r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: r.ackIndex(r.raftLog.committed, sindex)})
	}
	r.maybeLeaveQuarantine()
}

// restore installs a snapshot from the leader and returns whether it did.
// A snapshot at or below the commit index is stale; one whose last entry we
// already have only moves the commit index.
func (r *raft) restore(s pb.Snapshot) bool {
	if s.Metadata.Index <= r.raftLog.committed {
		return false
	}
	if r.state != StateFollower {
		// Only a follower installs snapshots; callers make sure of it.
		r.logger.Warningf("%x attempted to restore snapshot as leader; should never happen", r.id)
		r.becomeFollower(r.Term+1, None)
		return false
	}

	// The snapshot's configuration must contain us, or installing it would
	// leave us in a group we are not part of.
	cs := s.Metadata.ConfState
	found := false
	for _, set := range [][]uint64{cs.Voters, cs.Learners, cs.VotersOutgoing} {
		for _, id := range set {
			if id == r.id {
				found = true
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		r.logger.Warningf("%x attempted to restore snapshot but it is not in the ConfState %v; should never happen", r.id, cs)
		return false
	}

	id := entryID{term: s.Metadata.Term, index: s.Metadata.Index}
	if r.raftLog.matchTerm(id.index, id.term) {
		// We have the snapshot's last entry, hence (Log Matching) all
		// entries before it: only the commit index moves.
		last := r.raftLog.lastEntryID()
		r.logger.Infof("%x [commit: %d, lastindex: %d, lastterm: %d] fast-forwarded commit to snapshot [index: %d, term: %d]",
			r.id, r.raftLog.committed, last.index, last.term, id.index, id.term)
		r.raftLog.commitTo(id.index)
		return false
	}

	conf, prs, err := confchange.Restore(confchange.Changer{Tracker: r.trk, LastIndex: r.raftLog.lastIndex()}, cs)
	if err != nil {
		r.logger.Errorf("%x ignored snapshot [index: %d, term: %d] with an unusable configuration %s: %v",
			r.id, id.index, id.term, DescribeConfState(cs), err)
		return false
	}
	r.raftLog.restore(s)

	// Progress must be reset for the new configuration; as a follower it
	// is not used, but it must be well formed.
	r.trk = progress.MakeTracker(r.trk.MaxInflight, r.trk.MaxInflightBytes)
	if err := r.switchToConfig(conf, prs).Equivalent(cs); err != nil {
		r.logger.Errorf("%x restored configuration differs from the snapshot's: %v", r.id, err)
	}

	last := r.raftLog.lastEntryID()
	r.logger.Infof("%x [commit: %d, lastindex: %d, lastterm: %d] restored snapshot [index: %d, term: %d]",
		r.id, r.raftLog.committed, last.index, last.term, id.index, id.term)
	return true
}

// installWaitingSnapshot handles the snapshot that waited for the entries
// out with the application (see handleSnapshot), now that they are
// applied. It is dropped if this node is no longer a follower of the term
// it came in: a leader of a later term sends its own.
func (r *raft) installWaitingSnapshot() {
	m := *r.rare.waitingSnap
	r.rare.waitingSnap = nil
	if r.state != StateFollower || r.Term != m.Term {
		r.logger.Infof("%x [term: %d, state: %v] dropped the snapshot [index: %d, term: %d] of term %d that waited for the application",
			r.id, r.Term, r.state, m.Snapshot.Metadata.Index, m.Snapshot.Metadata.Term, m.Term)
		return
	}
	r.handleSnapshot(&m)
}
