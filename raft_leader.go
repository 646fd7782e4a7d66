package raft

import (
	"errors"
	"fmt"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// sendAppend sends an append (possibly empty) to the given peer.
func (r *raft) sendAppend(to uint64) {
	r.maybeSendAppend(to, true)
}

// maybeSendAppend sends an append with new entries to the given peer, if
// flow control allows. With sendIfEmpty it also sends one without entries,
// which serves to probe or to advance the follower's commit index. It
// returns whether a message was sent.
func (r *raft) maybeSendAppend(to uint64, sendIfEmpty bool) bool {
	pr := r.trk.Get(to)
	if pr == nil || pr.IsPaused() {
		return false
	}

	prevIndex := pr.Next - 1
	prevTerm, err := r.raftLog.term(prevIndex)
	if err != nil {
		return r.sendAppendFailed(to, pr, prevIndex, err)
	}

	var ents []pb.Entry
	// In replicate state with a full window, only an empty append may go.
	if pr.State != progress.StateReplicate || !pr.Inflights.Full() {
		ents, err = r.raftLog.entries(pr.Next, r.maxMsgSize)
	}
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	if err != nil {
		return r.sendAppendFailed(to, pr, pr.Next, err)
	}

	commit := r.raftLog.committed
	if len(ents) > 0 && r.mergeAppend(to, pr, prevIndex, commit, ents) {
		return true
	}
	r.send(pb.Message{
		To:      to,
		Type:    pb.MsgApp,
		Index:   prevIndex,
		LogTerm: prevTerm,
		Entries: ents,
		Commit:  commit,
	})
	if len(ents) > 0 {
		r.trk.EnsureInflights(pr)
	}
	pr.SentEntries(len(ents), payloadsSize(ents))
	pr.SentCommit(commit)
	return true
}

// mergeScan bounds how far back mergeAppend looks for the last message to a
// peer.
const mergeScan = 16

// appendSize is the encoded size of the entries of a queued append to a
// peer: the one of term term whose entries are [first, first+count).
// Within a term a leader's log only grows, so the same term and range
// always mean the same entries.
type appendSize struct {
	to, term, first uint64
	count           int
	size            uint64
}

// mergeAppend adds ents, which follow prevIndex, to the last message
// queued for peer to, when that is an append of this term, not handed out
// yet, that ends at prevIndex. Proposals stepped one at a time between two
// Readies then leave as one append per follower, answered by one
// acknowledgement, instead of one of each per proposal. The merged message
// obeys MaxSizePerMsg like a new one; what does not fit is sent in a new
// message by the caller. It returns whether it merged anything.
func (r *raft) mergeAppend(to uint64, pr *progress.Progress, prevIndex, commit uint64, ents []pb.Entry) bool {
	if r.tracer() != nil {
		// The trace records each message as it is sent.
		return false
	}
	var m *pb.Message
	for i, n := len(r.msgs)-1, 0; i >= 0 && n < mergeScan; i, n = i-1, n+1 {
		if r.msgs[i].To == to {
			m = &r.msgs[i]
			break
		}
	}
	if m == nil || m.Type != pb.MsgApp || m.Term != r.Term || m.Snapshot != nil ||
		m.Index+uint64(len(m.Entries)) != prevIndex {
		return false
	}
	add := len(ents)
	var rec *appendSize
	var size uint64
	if r.maxMsgSize != noLimit {
		// The size of what the message holds: remembered from the last
		// merge into it, or measured once.
		for i := range r.appSizes {
			if a := &r.appSizes[i]; a.to == to {
				rec = a
				break
			}
		}
		if rec == nil {
			r.appSizes = append(r.appSizes, appendSize{to: to})
			rec = &r.appSizes[len(r.appSizes)-1]
		}
		if rec.term != r.Term || rec.first != m.Index+1 || rec.count != len(m.Entries) {
			*rec = appendSize{to: to, term: r.Term, first: m.Index + 1, count: len(m.Entries), size: entsSize(m.Entries)}
		}
		size = rec.size
		for add = 0; add < len(ents); add++ {
			es := uint64(ents[add].Size())
			if size+es > r.maxMsgSize && (add > 0 || len(m.Entries) > 0) {
				break
			}
			size += es
		}
		if add == 0 {
			return false
		}
	}
	added := ents[:add]
	// The merged entries come from the log again, which slices its unstable
	// part without copying: appending to m.Entries could write into an
	// array that the log or an earlier Ready shares.
	merged, err := r.raftLog.slice(m.Index+1, prevIndex+uint64(add)+1, noLimit)
	if err != nil || len(merged) != len(m.Entries)+add {
		return false
	}
	if rec != nil {
		rec.count += add
		rec.size = size
	}
	hadEntries := len(m.Entries) > 0
	m.Entries = merged
	m.Commit = commit
	r.trk.EnsureInflights(pr)
	if hadEntries {
		pr.SentMoreEntries(add, payloadsSize(added))
	} else {
		pr.SentEntries(add, payloadsSize(added))
	}
	pr.SentCommit(commit)
	return true
}

// sendAppendFailed handles a failure to read the entries of an append: if
// they are compacted, only a snapshot can help the follower.
func (r *raft) sendAppendFailed(to uint64, pr *progress.Progress, index uint64, err error) bool {
	if errors.Is(err, ErrCompacted) {
		return r.maybeSendSnapshot(to, pr)
	}
	r.logger.Errorf("%x cannot send entries from index %d to %x [%s]: %v", r.id, index, to, pr, err)
	return false
}

// maybeSendSnapshot sends the storage's snapshot to a follower that needs
// entries the log no longer has. It returns whether it did.
func (r *raft) maybeSendSnapshot(to uint64, pr *progress.Progress) bool {
	if !pr.RecentActive {
		r.logger.Debugf("ignore sending snapshot to %x since it is not recently active", to)
		return false
	}
	snapshot, err := r.raftLog.snapshot()
	if err != nil {
		if errors.Is(err, ErrSnapshotTemporarilyUnavailable) {
			r.logger.Debugf("%x failed to send snapshot to %x because snapshot is temporarily unavailable", r.id, to)
		} else {
			r.logger.Errorf("%x cannot send a snapshot to %x: storage.Snapshot failed: %v", r.id, to, err)
		}
		return false
	}
	if IsEmptySnap(snapshot) {
		r.logger.Errorf("%x needs to send a snapshot to %x but storage returned an empty one (first index %d)", r.id, to, r.raftLog.firstIndex())
		return false
	}
	sindex, sterm := snapshot.Metadata.Index, snapshot.Metadata.Term
	r.logger.Debugf("%x [firstindex: %d, commit: %d] sent snapshot[index: %d, term: %d] to %x [%s]",
		r.id, r.raftLog.firstIndex(), r.raftLog.committed, sindex, sterm, to, pr)
	pr.BecomeSnapshot(sindex)
	r.logger.Debugf("%x paused sending replication messages to %x [%s]", r.id, to, pr)

	r.send(pb.Message{To: to, Type: pb.MsgSnap, Snapshot: &snapshot})
	return true
}

// sendHeartbeat sends a heartbeat to the given peer, whose progress is pr.
// The commit index it carries never exceeds what the follower is known to
// have, so that the follower never commits an entry it may not hold.
func (r *raft) sendHeartbeat(to uint64, pr *progress.Progress, ctx []byte) {
	commit := min(pr.Match, r.raftLog.committed)
	r.send(pb.Message{
		To:      to,
		Type:    pb.MsgHeartbeat,
		Commit:  commit,
		Context: ctx,
	})
	pr.SentCommit(commit)
}

// bcastAppend sends appends to every peer but this node.
func (r *raft) bcastAppend() {
	if len(r.msgs) == 0 {
		// One allocation for the appends of a round rather than one per
		// growth of msgs. Only when nothing is queued: appends merged into
		// queued ones take no room.
		r.growMsgs(max(r.trk.Len()-1, 0))
	}
	r.trk.Visit(func(id uint64, _ *progress.Progress) {
		if id != r.id {
			r.sendAppend(id)
		}
	})
}

// bcastHeartbeat sends heartbeats to every peer, carrying the newest
// pending safe-read round, if any.
func (r *raft) bcastHeartbeat() {
	r.bcastHeartbeatWithCtx(r.heartbeatCtx())
}

func (r *raft) bcastHeartbeatWithCtx(ctx []byte) {
	// One allocation for all the heartbeats of a tick.
	r.growMsgs(max(r.trk.Len()-1, 0))
	r.trk.Visit(func(id uint64, pr *progress.Progress) {
		if id != r.id {
			r.sendHeartbeat(id, pr, ctx)
			// An inflight window that stays empty from one heartbeat to
			// the next is dropped: an idle group holds none.
			pr.TrimInflights()
		}
	})
}

// maybeCommit advances the commit index to what a quorum has acknowledged,
// but only through an entry of the current term (Raft §5.4.2: entries of
// earlier terms are committed indirectly). It returns whether it advanced.
func (r *raft) maybeCommit() bool {
	return r.raftLog.maybeCommit(entryID{term: r.Term, index: r.committedByQuorum()})
}

// appendEntry appends entries to a leader's log, stamping term and index.
// It returns false, appending nothing, when the uncommitted-size limit does
// not admit them. The leader's own acknowledgement is queued to take effect
// once the entries are durable.
func (r *raft) appendEntry(es ...pb.Entry) bool {
	li := r.raftLog.lastIndex()
	for i := range es {
		es[i].Term = r.Term
		es[i].Index = li + 1 + uint64(i)
	}
	if !r.increaseUncommittedSize(es) {
		r.logger.Warningf("%x appending new entries to log would exceed uncommitted entry size limit; dropping proposal", r.id)
		return false
	}
	li = r.raftLog.append(es...)
	r.send(pb.Message{To: r.id, Type: pb.MsgAppResp, Index: li})
	return true
}

// tickHeartbeat is the tick of leaders.
func (r *raft) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++

	if r.electionElapsed >= r.electionTimeout {
		r.electionElapsed = 0
		if r.checkQuorum {
			if err := r.Step(pb.Message{From: r.id, Type: pb.MsgCheckQuorum}); err != nil {
				r.logger.Debugf("error occurred during checking sending heartbeat: %v", err)
			}
		}
		// A transfer that did not finish within an election timeout is
		// abandoned, so proposals are accepted again.
		if r.state == StateLeader && r.leadTransferee != None {
			r.abortLeaderTransfer()
		}
	}

	if r.state != StateLeader {
		return
	}

	if r.heartbeatElapsed >= r.heartbeatTimeout {
		r.heartbeatElapsed = 0
		if err := r.Step(pb.Message{From: r.id, Type: pb.MsgBeat}); err != nil {
			r.logger.Debugf("error occurred during checking sending heartbeat: %v", err)
		}
	}
}

func (r *raft) becomeLeader() {
	if r.state == StateFollower {
		panic("raft: invalid transition [follower -> leader]")
	}
	observeBecome(r, StateLeader)
	r.reset(r.Term)
	r.lead = r.id
	r.termLead = r.id
	r.state = StateLeader
	// The leader replicates to itself: its progress is always replicating,
	// and it is always active for CheckQuorum.
	pr := r.trk.Get(r.id)
	pr.BecomeReplicate()
	pr.RecentActive = true

	// Any entry past the commit index may be a conf change; be
	// conservative and treat the whole tail as pending.
	r.pendingConfIndex = r.raftLog.lastIndex()
	// The inherited uncommitted tail counts against the proposal budget, so
	// a leader that changes often cannot grow the log without bound.
	r.uncommittedSize = r.inheritedUncommittedSize()

	traceBecomeLeader(r)
	if !r.appendEntry(pb.Entry{Data: nil}) {
		// An empty entry is always admitted.
		panic("raft: empty entry was dropped")
	}
	r.logger.Infof("%x became leader at term %d", r.id, r.Term)
}

// inheritedUncommittedSize returns the payload bytes of the entries after
// the applied index: what a new leader's uncommitted budget already holds.
func (r *raft) inheritedUncommittedSize() uint64 {
	if r.maxUncommittedSize() == noLimit {
		return 0
	}
	var size uint64
	lo, hi := r.raftLog.applied+1, r.raftLog.lastIndex()+1
	if lo < r.raftLog.firstIndex() {
		lo = r.raftLog.firstIndex()
	}
	if lo >= hi {
		return 0
	}
	if err := r.raftLog.scan(lo, hi, r.raftLog.maxApplyingEntsSize, func(ents []pb.Entry) error {
		size += payloadsSize(ents)
		return nil
	}); err != nil {
		r.logger.Warningf("%x cannot size the uncommitted tail [%d, %d): %v", r.id, lo, hi, err)
	}
	return size
}

func stepLeader(r *raft, m *pb.Message) error {
	// Messages that do not need a sender's progress.
	switch m.Type {
	case pb.MsgBeat:
		r.bcastHeartbeat()
		return nil
	case pb.MsgCheckQuorum:
		if r.excludesPeers() {
			// A peer recovering from a StateLoss may follow a stale
			// leader of a term it forgot: it keeps no leader in power.
			r.trk.Visit(func(id uint64, pr *progress.Progress) {
				if r.excluded(id) {
					pr.RecentActive = false
				}
			})
		}
		if !r.trk.QuorumActive() {
			r.logger.Warningf("%x stepped down to follower since quorum is not active", r.id)
			r.becomeFollower(r.Term, None)
		}
		// Start the next period: every peer must prove itself active again.
		r.trk.Visit(func(id uint64, pr *progress.Progress) {
			if id != r.id {
				pr.RecentActive = false
			}
		})
		return nil
	case pb.MsgProp:
		return r.propose(m)
	case pb.MsgReadIndex:
		// Until this leader has committed an entry of its term, its commit
		// index may lag the true one (thesis §6.4): postpone the read. This
		// holds for a single voter too, whose commit index may have been
		// lost in a restart (it is persisted without sync).
		if !r.committedEntryInCurrentTerm() {
			ro := r.reads()
			ro.waiting = append(ro.waiting, *m)
			return nil
		}
		sendMsgReadIndexResponse(r, *m)
		return nil
	case pb.MsgForgetLeader:
		return nil // a leader has no leader to forget
	}

	pr := r.trk.Get(m.From)
	if pr == nil {
		r.logger.Debugf("%x no progress available for %x", r.id, m.From)
		return nil
	}
	if leaseMutation == mutRecentActive && (m.Type == pb.MsgAppResp || m.Type == pb.MsgHeartbeatResp) {
		r.leaseRecentActive(m.From)
	}
	switch m.Type {
	case pb.MsgAppResp:
		r.handleAppendResponse(m, pr)
	case pb.MsgHeartbeatResp:
		r.handleHeartbeatResponse(m, pr)
	case pb.MsgSnapStatus:
		if pr.State != progress.StateSnapshot {
			return nil
		}
		if !m.Reject {
			pr.BecomeProbe()
			r.logger.Debugf("%x snapshot succeeded, resumed sending replication messages to %x [%s]", r.id, m.From, pr)
		} else {
			// The snapshot did not arrive: forget it so probing starts from
			// the follower's match again.
			pr.PendingSnapshot = 0
			pr.BecomeProbe()
			r.logger.Debugf("%x snapshot failed, resumed sending replication messages to %x [%s]", r.id, m.From, pr)
		}
		// Wait for the follower's next response (after a success) or for a
		// heartbeat round (after a failure) before sending more.
		pr.MsgAppFlowPaused = true
	case pb.MsgUnreachable:
		// The follower probably lost what was in flight: probe again.
		if pr.State == progress.StateReplicate {
			pr.BecomeProbe()
		}
		r.logger.Debugf("%x failed to send message to %x because it is unreachable [%s]", r.id, m.From, pr)
	case pb.MsgTransferLeader:
		r.handleTransferLeader(*m, pr)
	default:
		// MsgApp, MsgHeartbeat, MsgSnap at our own term from another node
		// were refused by Step (checkLeader); vote responses are stale; MsgTimeoutNow is for
		// followers; MsgReadIndexResp goes to followers.
		r.logger.Debugf("%x [term: %d, state: %s] ignored %s from %x", r.id, r.Term, r.state, m.Type, m.From)
	}
	return nil
}

// propose appends a client proposal, after the conf change checks.
func (r *raft) propose(m *pb.Message) error {
	if r.trk.Get(r.id) == nil {
		// This node was removed from the configuration while leading.
		observeDrop(r, DropNotMember)
		return ErrProposalDropped
	}
	if r.leadTransferee != None {
		r.logger.Debugf("%x [term %d] transfer leadership to %x is in progress; dropping proposal", r.id, r.Term, r.leadTransferee)
		observeDrop(r, DropTransferPending)
		return ErrProposalDropped
	}
	if err := r.checkConfChanges(m.Entries); err != nil {
		r.logger.Warningf("%x refused a proposal: %v", r.id, err)
		observeDrop(r, DropConfChangeRefused)
		return err
	}
	if !r.appendEntry(m.Entries...) {
		observeDrop(r, DropUncommittedLimit)
		return ErrProposalDropped
	}
	observePropose(r)
	traceProposed(r, m.Entries)
	r.bcastAppend()
	return nil
}

// checkConfChanges validates the conf changes among proposed entries and
// records the pending one. A change that cannot be decoded, that would leave
// no voter, or that breaks the one-at-a-time and joint rules is refused
// with an error wrapping ErrProposalDropped (etcd raft v3.6 instead turns it
// into an empty entry and reports nothing).
func (r *raft) checkConfChanges(ents []pb.Entry) error {
	lastIndex := r.raftLog.lastIndex()
	pending := r.pendingConfIndex
	for i := range ents {
		e := &ents[i]
		if e.Type != pb.EntryConfChange && e.Type != pb.EntryConfChangeV2 {
			continue
		}
		cc, err := decodeConfChange(*e)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProposalDropped, err)
		}
		if !r.disableConfChangeValidation {
			if err := r.validateConfChange(cc, pending); err != nil {
				return fmt.Errorf("%w: conf change %s refused: %v", ErrProposalDropped, describeConfChange(cc), err)
			}
		}
		pending = lastIndex + uint64(i) + 1
	}
	r.pendingConfIndex = pending
	return nil
}

func (r *raft) validateConfChange(cc pb.ConfChangeV2, pending uint64) error {
	alreadyJoint := len(r.trk.Config.Voters[1]) > 0
	wantsLeaveJoint := len(cc.Changes) == 0
	switch {
	case pending > r.raftLog.applied:
		return fmt.Errorf("possible unapplied conf change at index %d (applied to %d)", pending, r.raftLog.applied)
	case alreadyJoint && !wantsLeaveJoint:
		return errors.New("must transition out of joint config first")
	case !alreadyJoint && wantsLeaveJoint:
		return errors.New("not in joint state; refusing empty conf change")
	}
	// Dry-run the change on the current configuration, which is the one it
	// will apply to since no other change is pending.
	_, _, err := r.changer().apply(cc)
	return err
}

func (r *raft) handleAppendResponse(m *pb.Message, pr *progress.Progress) {
	pr.RecentActive = true

	if m.Reject {
		r.logger.Debugf("%x received MsgAppResp(rejected, hint: (index %d, term %d)) from %x for index %d",
			r.id, m.RejectHint, m.LogTerm, m.From, m.Index)
		// The follower's hint (index, term) is its last entry at or below
		// the probed index with a term at or below the probed term. Skip
		// our own entries past the hint whose terms are above the follower's
		// hint term: none of them can match. This finds the matching point
		// in one round trip per term rather than per entry.
		nextProbeIdx := r.regressHint(m)
		if r.maybeRegress(m.From, pr, m.Index, nextProbeIdx) {
			// The follower's log went backwards below Match: MaybeDecrTo
			// would never probe below Match+1 and the follower would
			// reject forever.
			r.sendAppend(m.From)
			return
		}
		if pr.MaybeDecrTo(m.Index, nextProbeIdx) {
			r.logger.Debugf("%x decreased progress of %x to [%s]", r.id, m.From, pr)
			if pr.State == progress.StateReplicate {
				pr.BecomeProbe()
			}
			r.sendAppend(m.From)
		}
		return
	}

	if m.Index > r.raftLog.lastIndex() {
		r.logger.Warningf("%x ignored MsgAppResp from %x acknowledging index %d beyond the last index %d",
			r.id, m.From, m.Index, r.raftLog.lastIndex())
		return
	}

	// A probe acknowledged at the current match still ends probing: the
	// follower has what we thought it has.
	if !pr.MaybeUpdate(m.Index) && !(pr.Match == m.Index && pr.State == progress.StateProbe) {
		return
	}
	switch {
	case pr.State == progress.StateProbe:
		pr.BecomeReplicate()
	case pr.State == progress.StateSnapshot && pr.Match+1 >= r.raftLog.firstIndex():
		// The follower reconnected to our log (through the snapshot or
		// otherwise): replicate from its match.
		r.logger.Debugf("%x recovered from needing snapshot, resumed sending replication messages to %x [%s]", r.id, m.From, pr)
		pr.BecomeProbe()
		pr.BecomeReplicate()
	case pr.State == progress.StateReplicate:
		pr.Inflights.FreeLE(m.Index)
	}

	if r.maybeCommit() {
		traceProposal(r, ProposalAcknowledged, 0, r.raftLog.committed, 0)
		// Reads waiting for a commit in this term can go now, and the new
		// commit index travels to everybody.
		releasePendingReadIndexMessages(r)
		r.bcastAppend()
	} else if r.id != m.From && pr.CanBumpCommit(r.raftLog.committed) {
		// The follower does not know the current commit index: tell it,
		// even without entries.
		r.sendAppend(m.From)
	}
	// Send as many further appends as flow control allows. The leader does
	// not send to itself.
	if r.id != m.From {
		for r.maybeSendAppend(m.From, false /* sendIfEmpty */) {
		}
	}
	if st := r.peerRecovering(m.From); st != nil {
		r.maybeConfirmRecovery(m.From, pr, st, false)
	}
	// A transferee that caught up can take over now.
	if m.From == r.leadTransferee && pr.Match == r.raftLog.lastIndex() {
		r.logger.Infof("%x sent MsgTimeoutNow to %x after received MsgAppResp", r.id, m.From)
		r.sendTimeoutNow(m.From)
	}
}

func (r *raft) handleHeartbeatResponse(m *pb.Message, pr *progress.Progress) {
	pr.RecentActive = true
	pr.MsgAppFlowPaused = false
	if m.Reject {
		// A raftkit follower rejects a heartbeat whose commit index is
		// beyond its log (handleHeartbeat): its log lost entries up to
		// Match. The append below then probes it from where its log ends.
		r.maybeRegress(m.From, pr, pr.Match, r.regressHint(m))
	}

	// A follower behind, or being probed, gets an append now: this is how
	// a follower whose window was lost, or that was reported unreachable,
	// resumes.
	if pr.Match < r.raftLog.lastIndex() || pr.State == progress.StateProbe {
		r.sendAppend(m.From)
	}

	ctx := m.Context
	if sig, ok := decodeRecoverySignal(ctx); ok {
		// A quarantined raftkit peer (raft_fence.go): never a read or
		// lease acknowledgement by itself.
		r.handleRecoverySignal(m, pr, sig)
		ctx = sig.round
	} else if r.rare != nil && r.rare.recovering != nil {
		r.endRecovery(m.From, pr)
	}

	if len(ctx) == 0 || r.readOnly == nil || r.excluded(m.From) {
		return
	}
	seq, ok := decodeReadRound(ctx)
	if !ok {
		return
	}
	r.readOnly.recvAck(m.From, seq)
	confirmed := uint64(r.trk.Voters.CommittedIndex(r.readOnly))
	r.leaseAcked(confirmed)
	for _, rs := range r.readOnly.advance(confirmed) {
		observeReadServed(r, rs.tick)
		if resp := r.responseToReadIndexReq(rs.req, rs.index); resp.To != None {
			r.send(resp)
		}
	}
}

func (r *raft) handleTransferLeader(m pb.Message, pr *progress.Progress) {
	if pr.IsLearner {
		r.logger.Debugf("%x is learner. Ignored transferring leadership", r.id)
		return
	}
	if pr.Recovering && recoveryMutation != mutNoExclusion {
		// It is quarantined: it would ignore MsgTimeoutNow, and the
		// transfer would only hold proposals back for an election timeout.
		r.logger.Infof("%x [term %d] refused to transfer leadership to %x: it is quarantined after a loss of persisted state [%s]",
			r.id, r.Term, m.From, pr)
		return
	}
	leadTransferee := m.From
	if last := r.leadTransferee; last != None {
		if last == leadTransferee {
			r.logger.Infof("%x [term %d] transfer leadership to %x is in progress, ignores request to same node %x",
				r.id, r.Term, leadTransferee, leadTransferee)
			return
		}
		r.abortLeaderTransfer()
		r.logger.Infof("%x [term %d] abort previous transferring leadership to %x", r.id, r.Term, last)
	}
	if leadTransferee == r.id {
		r.logger.Debugf("%x is already leader. Ignored transferring leadership to self", r.id)
		return
	}
	r.logger.Infof("%x [term %d] starts to transfer leadership to %x", r.id, r.Term, leadTransferee)
	// The transfer must finish within one election timeout.
	r.electionElapsed = 0
	r.leadTransferee = leadTransferee
	if pr.Match == r.raftLog.lastIndex() {
		r.sendTimeoutNow(leadTransferee)
		r.logger.Infof("%x sends MsgTimeoutNow to %x immediately as %x already has up-to-date log", r.id, leadTransferee, leadTransferee)
	} else {
		r.sendAppend(leadTransferee)
	}
}

func (r *raft) sendTimeoutNow(to uint64) {
	m := pb.Message{To: to, Type: pb.MsgTimeoutNow}
	r.leaseTimeoutNow(&m)
	r.send(m)
}

func (r *raft) abortLeaderTransfer() {
	r.leadTransferee = None
}

// committedEntryInCurrentTerm reports whether this leader has committed an
// entry of its own term; before that, its commit index may be stale.
func (r *raft) committedEntryInCurrentTerm() bool {
	return zeroTermOnOutOfBounds(r.raftLog.term(r.raftLog.committed)) == r.Term
}

// responseToReadIndexReq answers a read request at readIndex: a local one
// becomes a ReadState; a remote one a message to send (To == None
// otherwise).
func (r *raft) responseToReadIndexReq(req pb.Message, readIndex uint64) pb.Message {
	if req.From == None || req.From == r.id {
		r.readStates = append(r.readStates, ReadState{
			Index:      readIndex,
			RequestCtx: req.Entries[0].Data,
		})
		return pb.Message{}
	}
	return pb.Message{
		Type:    pb.MsgReadIndexResp,
		To:      req.From,
		Index:   readIndex,
		Entries: req.Entries,
	}
}

// increaseUncommittedSize admits entries into the uncommitted budget, or
// refuses them all. Empty entries are always admitted, and so is any
// proposal into an empty tail, so a single large proposal cannot get stuck.
func (r *raft) increaseUncommittedSize(ents []pb.Entry) bool {
	s := payloadsSize(ents)
	if r.uncommittedSize > 0 && s > 0 && r.uncommittedSize+s > r.maxUncommittedSize() {
		return false
	}
	r.uncommittedSize += s
	return true
}

// reduceUncommittedSize releases the budget of applied entries.
func (r *raft) reduceUncommittedSize(s uint64) {
	if s > r.uncommittedSize {
		// Applied entries may have been appended before this node became
		// leader and counted only partly.
		r.uncommittedSize = 0
	} else {
		r.uncommittedSize -= s
	}
}

func releasePendingReadIndexMessages(r *raft) {
	if r.readOnly == nil || len(r.readOnly.waiting) == 0 {
		return
	}
	if !r.committedEntryInCurrentTerm() {
		r.logger.Error("pending MsgReadIndex should be released only after first commit in current term")
		return
	}
	msgs := r.readOnly.waiting
	r.readOnly.waiting = nil
	for _, m := range msgs {
		sendMsgReadIndexResponse(r, m)
	}
}

func sendMsgReadIndexResponse(r *raft, m pb.Message) {
	if r.trk.IsSingleton() {
		// A single voter is its own quorum: answer at once.
		observeReadNow(r)
		if resp := r.responseToReadIndexReq(m, r.raftLog.committed); resp.To != None {
			r.send(resp)
		}
		return
	}
	if r.leaseReads && r.leaseValid() {
		// ReadOnlyLeaseBased: the lease vouches for the leadership. Without
		// a valid lease the read takes the safe round below.
		observeReadNow(r)
		if resp := r.responseToReadIndexReq(m, r.raftLog.committed); resp.To != None {
			r.send(resp)
		}
		return
	}
	// ReadOnlySafe: confirm leadership with a heartbeat round of its own:
	// the read is answered once a quorum acknowledged this round or a
	// later one.
	ro := r.reads()
	seq := ro.addRequest(r.raftLog.committed, m)
	observeReadStart(r, ro)
	ro.recvAck(r.id, seq)
	r.leaseSent(seq)
	r.bcastHeartbeatWithCtx(encodeReadRound(seq))
}
