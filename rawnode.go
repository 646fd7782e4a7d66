package raft

import (
	"errors"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// ErrStepLocalMsg is returned when a local-only message type (MsgHup,
// MsgBeat, ...) is stepped into a RawNode from outside.
var ErrStepLocalMsg = errors.New("raft: cannot step raft local message")

// ErrStepPeerNotFound is returned when a response message comes from a peer
// that the configuration does not contain.
var ErrStepPeerNotFound = errors.New("raft: cannot step as peer not found")

// Ready is everything a node has ready at one point: state to persist,
// messages to send, entries to apply. All fields are read-only for the
// application, and the slices are handed over: raft does not touch them
// again, and the application must not modify the entries (it may keep them).
//
// The contract, in synchronous mode (Config.AsyncStorageWrites off):
//
//  1. Persist HardState (if not empty), Entries and Snapshot (if not
//     empty). Writing entry i discards any stored entry at i or after it.
//     If MustSync, the writes must be durable (fsync) before step 3.
//  2. Send the leader's MsgApp and MsgSnap messages as early as you like;
//  3. send every other message of Messages only after step 1 is durable:
//     vote and append responses vouch for exactly that state. Sending all
//     of Messages after step 1 is always correct.
//  4. Apply CommittedEntries in order (they may include entries of this
//     same Ready's Entries; apply them after persisting). For each entry of
//     type EntryConfChange or EntryConfChangeV2, call ApplyConfChange.
//  5. Call Advance. The next Ready comes after it.
//
// In asynchronous mode the persistence and application fields are left for
// the storage messages in Messages; see Config.AsyncStorageWrites.
type Ready struct {
	// SoftState is non-nil when the leader or the role changed. It need not
	// be persisted.
	*SoftState

	// HardState is the state to persist before sending Messages; it is
	// empty when unchanged.
	pb.HardState

	// ReadStates answer ReadIndex requests: serve each read once the
	// applied index reaches its Index.
	ReadStates []ReadState

	// Entries are to be written to stable storage before Messages are sent.
	Entries []pb.Entry

	// Snapshot is to be written to stable storage (and installed) when not
	// empty. It comes only once every committed entry handed out before it
	// was reported applied (by Advance, or by a MsgStorageApplyResp in
	// asynchronous mode): a snapshot from the leader waits for them, so
	// that ApplyConfChange for those entries works on the configuration of
	// their index.
	Snapshot pb.Snapshot

	// CommittedEntries are to be applied to the state machine, in order.
	// They have already been committed to stable storage by a quorum.
	CommittedEntries []pb.Entry

	// Messages are to be sent after Entries, HardState and Snapshot are
	// persisted (see the contract above). MsgSnap messages must be
	// followed by a ReportSnapshot call.
	//
	// Ownership: the slice is the application's; the node never writes it
	// (nor the entries and contexts the messages refer to) once handed
	// out, so it may be kept, or sent by another goroutine, after Advance.
	// Its capacity is its length: in a busy group the slices of several
	// Readies are consecutive parts of one array of 8 messages (40 after
	// 16 Readies with messages within one tick), so a slice kept for long
	// keeps that array alive. Under
	// Config.LendReadyMessages the slice is on loan until Advance instead,
	// and reused afterwards (the entries and contexts are not).
	Messages []pb.Message

	// MustSync is true when HardState's term or vote, or Entries, must be
	// written durably (fsync) before Messages are sent. A change of the
	// commit index alone does not need it.
	MustSync bool
}

func isHardStateEqual(a, b pb.HardState) bool {
	return a.Term == b.Term && a.Vote == b.Vote && a.Commit == b.Commit
}

// RawNode is the synchronous, single-goroutine API of a raft node: the
// application calls Tick, Step and the proposal methods, and collects what
// is ready with Ready and Advance. It is not safe for concurrent use; Node
// wraps it in a goroutine.
type RawNode struct {
	raft *raft

	// What the previous Ready handed out, to tell what changed.
	prevSoftSt SoftState
	prevHardSt pb.HardState

	// adv is what Advance does, in synchronous mode: the self-addressed
	// outcomes of the Readies handed out since the last Advance, which take
	// effect once those Readies are persisted. nil while there is none
	// (Tick drops it once empty).
	adv *advance
}

// advance is what the next Advance does, in order: step the self-addressed
// messages of steps (a leader's acknowledgements of its own appends, and
// the storage responses of any Ready before the last one), then take the
// last Ready's storage responses, appended and applied.
//
// Those two are recorded rather than built as messages
// (MsgStorageAppendResp, MsgStorageApplyResp) and stepped: Advance takes
// them directly, the way Step would, when the checks Step makes pass, as
// they do unless the term changed since the Ready; otherwise it builds the
// messages and steps them, so that the outcome is always that of stepping
// them. A Ready with a snapshot has its responses built as messages.
type advance struct {
	steps []pb.Message

	// hasAppend is set when the last Ready wrote entries: those up to
	// appended, at term appendTerm.
	hasAppend  bool
	appendTerm uint64
	appended   entryID
	// applied holds the last Ready's committed entries, nil if none, and
	// appliedSize their encoded size (entsSize).
	applied     []pb.Entry
	appliedSize uint64

	// prop holds the entry of a proposal while a leader steps it
	// (Propose): see proposeAsLeader. It is empty otherwise.
	prop [1]pb.Entry
}

// pending reports whether the last Ready's storage responses are recorded.
func (a *advance) pending() bool { return a.hasAppend || a.applied != nil }

// flush turns the recorded storage responses into messages queued in
// steps, so that a second Ready before Advance records its own after them.
func (a *advance) flush(r *raft) {
	if a.hasAppend {
		a.steps = append(a.steps, a.appendRespMsg(r))
		a.hasAppend = false
	}
	if a.applied != nil {
		a.steps = append(a.steps, newStorageApplyRespMsg(r, a.applied))
		a.applied = nil
	}
}

// appendRespMsg is the MsgStorageAppendResp that the recorded append
// stands for, as newStorageAppendRespMsg built it at the Ready.
func (a *advance) appendRespMsg(r *raft) pb.Message {
	return pb.Message{
		Type:    pb.MsgStorageAppendResp,
		To:      r.id,
		From:    LocalAppendThread,
		Term:    a.appendTerm,
		Index:   a.appended.index,
		LogTerm: a.appended.term,
	}
}

// storageAppended is Step of the recorded MsgStorageAppendResp (without a
// snapshot): the entries up to a.appended are durable.
func (a *advance) storageAppended(r *raft) {
	if (a.appendTerm != r.Term && a.appendTerm != 0) || a.appendTerm > maxTerm ||
		a.appended.term > maxTerm || a.appended.index > maxIndex {
		// Step ignores the entries of a response from an older term (the
		// log may have been overwritten since), and logs it.
		_ = r.Step(a.appendRespMsg(r))
		return
	}
	if id := a.appended; id.index != 0 {
		r.raftLog.stableTo(id)
		traceProposal(r, ProposalAppended, 0, min(id.index, r.raftLog.unstable.offset-1), 0)
	}
}

// storageApplied is Step of the recorded MsgStorageApplyResp: ents, of
// encoded size size, were applied.
func (a *advance) storageApplied(r *raft, ents []pb.Entry, size uint64) {
	// Indexes and terms grow along the log: the last entry has the largest.
	last := &ents[len(ents)-1]
	if last.Index > r.raftLog.applying || last.Index > maxIndex || last.Term > maxTerm {
		// Step refuses it, and logs why.
		_ = r.Step(newStorageApplyRespMsg(r, ents))
		return
	}
	r.appliedTo(last.Index, size)
	if r.uncommittedSize > 0 {
		// With nothing counted (on a follower) there is nothing to reduce.
		r.reduceUncommittedSize(payloadsSize(ents))
	}
}

// NewRawNode creates a RawNode from the configuration, restoring its state
// from config.Storage. An invalid configuration, or storage that cannot be
// read or is inconsistent, makes it return an error that says what is
// wrong; config is not modified.
func NewRawNode(config *Config) (*RawNode, error) {
	// The RawNode and its raft (which holds the log) share one allocation.
	a := new(struct {
		rn RawNode
		r  raft
	})
	r := &a.r
	if err := r.init(config); err != nil {
		return nil, err
	}
	rn := &a.rn
	*rn = RawNode{raft: r}
	rn.prevSoftSt = r.softState()
	rn.prevHardSt = r.hardState()
	return rn, nil
}

// Tick advances the logical clock by one tick: election and heartbeat
// timeouts are counted in ticks.
func (rn *RawNode) Tick() {
	rn.dropSpare()
	rn.raft.tick()
	observeTick(rn.raft)
}

// dropSpare releases the buffers that the Ready cycles between two ticks
// reuse, when they are empty: an idle group, whose Readies append no entry
// and hold no acknowledgement, does not keep them.
func (rn *RawNode) dropSpare() {
	r := rn.raft
	if a := rn.adv; a != nil && len(a.steps) == 0 && !a.pending() {
		rn.adv = nil
	}
	if cap(r.msgs) > 0 && len(r.msgs) == 0 && (r.rareOn&rareLend == 0 || cap(r.msgs) > msgsChunk) {
		// The room left after the messages handed out last. A loaned
		// array (Config.LendReadyMessages) of a round's size is kept:
		// the next heartbeat round would allocate it again.
		r.msgs = nil
	}
	r.readiesSinceTick = 0
	if len(r.msgsAfterAppend) == 0 {
		r.msgsAfterAppend = nil
	}
	r.raftLog.unstable.dropSpare()
}

// TickQuiesced advances only the election clock, without the side effects
// of Tick (no heartbeats, no campaign). An application that stops ticking
// idle groups uses it to keep their clocks roughly in step; whether that is
// safe depends on the application.
//
// Deprecated: an application that quiesces should stop ticking and wake the
// group with a proposal or a Campaign.
func (rn *RawNode) TickQuiesced() {
	rn.raft.electionElapsed++
}

// Campaign makes this node start an election (or a pre-election, with
// PreVote). It returns nil even when the node cannot campaign; the reason
// is logged.
func (rn *RawNode) Campaign() error {
	return rn.raft.Step(pb.Message{Type: pb.MsgHup})
}

// DeclareRegression quarantines the node (Config.RecoverLostState) for a
// loss of persisted state that only the application's own markers show: a
// backup restored, a directory wiped or replaced under the old ID, a torn
// HardState its checksums found. kind is TailLoss when the term and vote
// surely survived, StateLoss otherwise. An existing quarantine widens (its
// kind becomes the worse one) and draws a new nonce. A leader or candidate
// steps down first. The quarantine's Cause is CauseDeclared, and
// Config.OnRecovery is called as for a loss the node found itself.
//
// Unlike a loss declared at restart (Config.Recovery), which keeps the
// commit index to what the snapshot and Config.Applied show after a
// StateLoss, a declaration at run time cannot lower the commit index:
// declare at restart when the markers are read then. It returns an error
// without Config.RecoverLostState, or for a kind other than TailLoss and
// StateLoss.
func (rn *RawNode) DeclareRegression(kind RegressionKind) error {
	return rn.raft.declareRegression(kind)
}

// FenceApplied ends the quarantine (Config.RecoverLostState) through a
// fence the application made: an entry of its own format that it proposed
// after the regression (through this node or any other), carrying the
// quarantine's Recovery.Nonce, and applies at index. It is meant for
// clusters whose leader cannot fence the node itself (an etcd raft leader
// does not take part in the handshake of raftkit leaders) and for
// applications that prefer to decide.
//
// It is safe because the entry is a fence: it was made after the
// regression (the nonce was drawn when the quarantine began, or last
// widened), and it is committed in this node's log, whose commit index
// only appends raise in quarantine, so this log holds every entry
// committed before it. After a StateLoss this node's acknowledgements
// never decide a commit (they stop at the leader's commit index), so the
// entry was committed by a quorum without this node; every election that
// counted a vote this node forgot then lost its chance: that quorum's
// members hold the entry and reject candidates whose logs lack it. After
// a TailLoss the vote survived, and the leader that committed the entry
// holds every entry committed before it.
//
// Demoting the node to a learner, letting it catch up and promoting it
// again is the same mechanism: the promotion, proposed after the
// regression with the nonce in its ConfChange's Context, is the fence;
// call FenceApplied with its index when applying it. The promotion alone,
// without the nonce, proves nothing: the log may replay a demotion and a
// promotion from before the regression.
//
// It returns nil if the node is not quarantined (the quarantine may have
// ended by another fence meanwhile), and an error, leaving the quarantine
// as it is, if nonce is not the quarantine's (the entry was made for an
// earlier quarantine: propose one with the current nonce) or index is not
// committed in this node's log.
func (rn *RawNode) FenceApplied(index, nonce uint64) error {
	return rn.raft.fenceApplied(index, nonce)
}

// Propose proposes data to be appended to the log. It returns
// ErrProposalDropped (or an error wrapping it) when the proposal cannot be
// taken now; see ErrProposalDropped.
func (rn *RawNode) Propose(data []byte) error {
	if r := rn.raft; rn.adv != nil && r.state == StateLeader && r.rareOn&rareSeesMessages == 0 {
		return rn.proposeAsLeader(data)
	}
	return rn.raft.stepMsg(&pb.Message{
		Type:    pb.MsgProp,
		From:    rn.raft.id,
		Entries: []pb.Entry{{Data: data}},
	})
}

// proposeAsLeader is Propose on a busy leader (one that has rn.adv)
// without the hooks that see messages (rareSeesMessages), stepping the
// proposal's entry from rn.adv.prop rather than from an array of its own:
// one allocation per proposal fewer. A leader keeps nothing of a
// proposal's Entries: appendEntry copies the entry into the unstable log
// (which copies whatever it appends at its end, where a leader appends),
// and the appends it sends are sliced from the log. A follower forwards
// the message, Entries included, so Propose takes this path only on a
// leader; and only without the hooks, which may keep what they see. The
// entry is cleared once stepped, so that the array holds no payload.
func (rn *RawNode) proposeAsLeader(data []byte) error {
	a := rn.adv
	a.prop[0] = pb.Entry{Data: data}
	err := rn.raft.stepMsg(&pb.Message{
		Type:    pb.MsgProp,
		From:    rn.raft.id,
		Entries: a.prop[:],
	})
	a.prop[0] = pb.Entry{}
	return err
}

// ProposeConfChange proposes a configuration change (ConfChange or
// ConfChangeV2). A leader refuses it with an error wrapping
// ErrProposalDropped when another change is pending, when it breaks the
// joint consensus rules, or when it would remove every voter (unless
// Config.DisableConfChangeValidation). Once committed, the application must
// call ApplyConfChange for it.
func (rn *RawNode) ProposeConfChange(cc pb.ConfChangeI) error {
	if cc == nil {
		return errors.New("raft: nil conf change")
	}
	m, err := confChangeToMsg(cc)
	if err != nil {
		return err
	}
	return rn.raft.Step(m)
}

// ApplyConfChange applies a committed conf change to the node and returns
// the resulting configuration, which the application persists with its
// snapshot metadata. Call it for every conf change entry in
// CommittedEntries, in order. A change that cannot be applied is logged and
// ignored; the unchanged configuration is returned.
func (rn *RawNode) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	if cc == nil {
		cs := rn.raft.trk.ConfState()
		return &cs
	}
	cs := rn.raft.applyConfChange(cc.AsV2())
	observeConfChange(rn.raft)
	return &cs
}

// Step advances the state machine with a message from a peer (or, in
// asynchronous storage mode, a response from a storage thread). Local
// message types return ErrStepLocalMsg; responses from peers not in the
// configuration return ErrStepPeerNotFound; malformed messages return a
// descriptive error and change nothing.
func (rn *RawNode) Step(m pb.Message) error {
	switch m.Type {
	case pb.MsgStorageAppendResp:
		if m.From != LocalAppendThread {
			return ErrStepLocalMsg
		}
		return rn.raft.Step(m)
	case pb.MsgStorageApplyResp:
		if m.From != LocalApplyThread {
			return ErrStepLocalMsg
		}
		return rn.raft.Step(m)
	}
	if IsLocalMsg(m.Type) {
		return ErrStepLocalMsg
	}
	if IsResponseMsg(m.Type) && rn.raft.trk.Get(m.From) == nil {
		return ErrStepPeerNotFound
	}
	return rn.raft.stepMsg(&m)
}

// Ready returns what is ready and marks it handed out: the next Ready will
// not contain it again. In synchronous mode, call Advance once the Ready is
// processed. Calling Ready again before Advance is allowed: the outcomes of
// both take effect on the next Advance, which must then follow the
// processing of both.
//
// Ready is small enough to be inlined: the caller's variable is filled in
// place (a Ready is some 300 bytes, and each copy of it costs as much as
// a small step of the cycle).
func (rn *RawNode) Ready() (rd Ready) {
	rn.fillReady(&rd)
	return rd
}

// fillReady fills rd, a zero Ready, and marks its content handed out.
func (rn *RawNode) fillReady(rd *Ready) {
	selfAcks := rn.readyWithoutAccept(rd)
	rn.acceptReady(rd, selfAcks)
	// The room after the messages takes the next ones (acceptMsgs): the
	// application's slice ends with them.
	rd.Messages = rd.Messages[:len(rd.Messages):len(rd.Messages)]
}

// readyWithoutAccept fills rd, a zero Ready, without marking anything
// handed out. In synchronous mode it returns how many of the responses
// waiting for durability (msgsAfterAppend) are addressed to this node, to
// be stepped on Advance (see recordAdvance).
func (rn *RawNode) readyWithoutAccept(rd *Ready) (selfAcks int) {
	r := rn.raft

	rd.Entries = r.raftLog.nextUnstableEnts()
	rd.CommittedEntries = r.raftLog.nextCommittedEnts(rn.applyUnstableEntries())
	// Empty but with room when the array is a returned loan
	// (Config.LendReadyMessages); nil below if nothing is added. Built in
	// a local slice and stored in rd once.
	msgs := r.msgs
	if softSt := r.softState(); !softSt.equal(&rn.prevSoftSt) {
		// Allocate only when it changed: the pointer escapes to the caller.
		escapingSoftSt := softSt
		rd.SoftState = &escapingSoftSt
	}
	if hardSt := r.hardState(); !isHardStateEqual(hardSt, rn.prevHardSt) {
		rd.HardState = hardSt
	}
	if r.raftLog.hasNextUnstableSnapshot() {
		rd.Snapshot = *r.raftLog.nextUnstableSnapshot()
	}
	if len(r.readStates) != 0 {
		rd.ReadStates = r.readStates
	}
	rd.MustSync = MustSync(r.hardState(), rn.prevHardSt, len(rd.Entries))

	if rn.raft.asyncStorageWrites {
		// Persistence and application become messages to the storage
		// threads, each carrying the responses to deliver when done.
		if needStorageAppendMsg(r, rd) {
			msgs = append(msgs, newStorageAppendMsg(r, rd))
		}
		if len(rd.CommittedEntries) > 0 {
			msgs = append(msgs, newStorageApplyMsg(r, rd.CommittedEntries))
		}
	} else if after := r.msgsAfterAppend; len(after) > 0 {
		// Responses that wait for durability go out with the Ready: the
		// contract makes the application persist before sending. Those
		// addressed to this node are stepped on Advance.
		if cap(msgs)-len(msgs) < len(after) {
			// growMsgs makes room for those to peers only; with room for
			// all of them (the common case) it would do nothing.
			n := 0
			for i := range after {
				if after[i].To != r.id {
					n++
				}
			}
			if n > 0 {
				r.growMsgs(n)
				msgs = r.msgs
			}
		}
		for i := range after {
			if m := &after[i]; m.To != r.id {
				msgs = append(msgs, *m)
			} else {
				selfAcks++
			}
		}
	}
	if len(msgs) > 0 {
		// A Ready without messages has nil Messages, as in etcd.
		rd.Messages = msgs
	}
	return selfAcks
}

// needStorageAppendMsg reports whether the append thread has work: state to
// persist, or responses waiting for durability.
func needStorageAppendMsg(r *raft, rd *Ready) bool {
	return !IsEmptyHardState(rd.HardState) || len(rd.Entries) > 0 ||
		!isEmptySnapAt(&rd.Snapshot) || len(r.msgsAfterAppend) > 0
}

// needStorageAppendRespMsg reports whether the local node must learn that an
// append finished: when entries or a snapshot are being written.
func needStorageAppendRespMsg(r *raft, rd *Ready) bool {
	return r.raftLog.hasNextOrInProgressUnstableEnts() || !isEmptySnapAt(&rd.Snapshot)
}

// newStorageAppendMsg builds the MsgStorageAppend of a Ready, in
// asynchronous mode.
func newStorageAppendMsg(r *raft, rd *Ready) pb.Message {
	m := pb.Message{
		Type:    pb.MsgStorageAppend,
		To:      LocalAppendThread,
		From:    r.id,
		Entries: rd.Entries,
	}
	if !IsEmptyHardState(rd.HardState) {
		// Term, Vote and Commit go together, so the worker can build a
		// HardState; all zero means no change.
		m.Term = rd.Term
		m.Vote = rd.Vote
		m.Commit = rd.Commit
	}
	if !isEmptySnapAt(&rd.Snapshot) {
		snap := rd.Snapshot
		m.Snapshot = &snap
	}
	// The worker delivers these once the write is durable: responses to
	// peers, the self-acknowledgements, and the append response to us.
	m.Responses = r.msgsAfterAppend
	if needStorageAppendRespMsg(r, rd) {
		m.Responses = append(m.Responses, newStorageAppendRespMsg(r, rd))
	}
	return m
}

// newStorageAppendRespMsg builds the response that tells raft its unstable
// log up to the current last entry, and the Ready's snapshot, are durable.
// It carries the current term: a response from an older term only counts
// for its snapshot, since the log may have been overwritten since.
func newStorageAppendRespMsg(r *raft, rd *Ready) pb.Message {
	m := pb.Message{
		Type: pb.MsgStorageAppendResp,
		To:   r.id,
		From: LocalAppendThread,
		Term: r.Term,
	}
	if r.raftLog.hasNextOrInProgressUnstableEnts() {
		// The (index, term) pair guards against an overwrite of the log
		// between the write and this response: stableTo only acts if the
		// entry there still has this term.
		last := r.raftLog.lastEntryID()
		m.Index = last.index
		m.LogTerm = last.term
	}
	if !isEmptySnapAt(&rd.Snapshot) {
		snap := rd.Snapshot
		m.Snapshot = &snap
	}
	return m
}

// newStorageApplyMsg builds the MsgStorageApply for committed entries, in
// asynchronous mode.
func newStorageApplyMsg(r *raft, ents []pb.Entry) pb.Message {
	return pb.Message{
		Type:      pb.MsgStorageApply,
		To:        LocalApplyThread,
		From:      r.id,
		Entries:   ents,
		Responses: []pb.Message{newStorageApplyRespMsg(r, ents)},
	}
}

// newStorageApplyRespMsg builds the response that tells raft the entries
// were applied.
func newStorageApplyRespMsg(r *raft, ents []pb.Entry) pb.Message {
	return pb.Message{
		Type:    pb.MsgStorageApplyResp,
		To:      r.id,
		From:    LocalApplyThread,
		Entries: ents,
	}
}

// acceptReady marks the content of rd handed out. selfAcks is what
// readyWithoutAccept returned for it.
func (rn *RawNode) acceptReady(rd *Ready, selfAcks int) {
	r := rn.raft
	// The encoded size of the committed entries, measured once for the
	// apply budget and for the apply response.
	var committedSize uint64
	if len(rd.CommittedEntries) > 0 {
		committedSize = entsSize(rd.CommittedEntries)
	}
	if rd.SoftState != nil {
		rn.prevSoftSt = *rd.SoftState
	}
	if !IsEmptyHardState(rd.HardState) {
		rn.prevHardSt = rd.HardState
	}
	if len(rd.ReadStates) != 0 {
		r.readStates = nil
	}
	if !rn.raft.asyncStorageWrites {
		rn.recordAdvance(rd, committedSize, selfAcks)
	}
	rn.acceptMsgs(rd.Messages)
	if rn.raft.asyncStorageWrites {
		// Handed out as the Responses of the MsgStorageAppend.
		r.msgsAfterAppend = nil
	} else {
		// Copied into the Ready's Messages and into stepsOnAdvance: the
		// array is reused (Tick drops it once empty).
		clearRefs(r.msgsAfterAppend)
		r.msgsAfterAppend = r.msgsAfterAppend[:0]
	}
	r.appSizes = r.appSizes[:0]
	r.raftLog.acceptUnstable()
	if n := len(rd.CommittedEntries); n > 0 {
		index := rd.CommittedEntries[n-1].Index
		r.raftLog.acceptApplying(index, committedSize, rn.applyUnstableEntries())
	}
	traceReady(r)
	observeReady(r, rd)
	traceCursors(r)
}

// recordAdvance records what Advance must do for rd, in synchronous mode:
// step the acknowledgements this node sent itself, selfAcks of
// msgsAfterAppend, and take the storage responses (see advance).
func (rn *RawNode) recordAdvance(rd *Ready, committedSize uint64, selfAcks int) {
	r := rn.raft
	a := rn.adv
	if a == nil {
		if len(r.msgsAfterAppend) == 0 && len(rd.CommittedEntries) == 0 &&
			!r.raftLog.hasNextOrInProgressUnstableEnts() && isEmptySnapAt(&rd.Snapshot) {
			return // nothing to do on Advance
		}
		a = new(advance)
		rn.adv = a
	}
	// A second Ready before Advance: the first one's responses come first.
	a.flush(r)
	if selfAcks > 0 {
		for i := range r.msgsAfterAppend {
			if m := &r.msgsAfterAppend[i]; m.To == r.id {
				a.steps = append(a.steps, *m)
			}
		}
	}
	if !isEmptySnapAt(&rd.Snapshot) {
		// Rare: built and stepped as messages.
		if needStorageAppendRespMsg(r, rd) {
			a.steps = append(a.steps, newStorageAppendRespMsg(r, rd))
		}
		if len(rd.CommittedEntries) > 0 {
			a.steps = append(a.steps, newStorageApplyRespMsg(r, rd.CommittedEntries))
		}
		return
	}
	if r.raftLog.hasNextOrInProgressUnstableEnts() {
		// What newStorageAppendRespMsg would carry.
		a.hasAppend, a.appendTerm, a.appended = true, r.Term, r.raftLog.lastEntryID()
	}
	if len(rd.CommittedEntries) > 0 {
		a.applied, a.appliedSize = rd.CommittedEntries, committedSize
	}
}

// clearRefs zeroes the messages of ms that refer to other memory
// (entries, a snapshot, a context, responses), so that an array kept for
// reuse holds nothing alive. The others, acknowledgements mostly, are left
// as they are: the next appends overwrite them, and zeroing them would
// cost as much as copying them (write barriers included) for nothing.
func clearRefs(ms []pb.Message) {
	for i := range ms {
		if m := &ms[i]; m.Entries != nil || m.Snapshot != nil || m.Context != nil || m.Responses != nil {
			*m = pb.Message{}
		}
	}
}

// acceptMsgs empties msgs once the Ready's Messages, handed, are handed
// out. By default they are the application's for good, and msgs starts
// afresh. Under Config.LendReadyMessages the array is on loan until
// Advance (returnMsgs), and msgs takes the array returned by the previous
// Advance. A second Ready before Advance hands out an array that is never
// reused: only the first loan is recorded.
func (rn *RawNode) acceptMsgs(handed []pb.Message) {
	r := rn.raft
	rare := r.rare
	if r.rareOn&rareLend == 0 {
		if len(handed) == 0 {
			// Nothing handed out: msgs keeps its room.
			r.msgs = r.msgs[:0]
			return
		}
		// The application's slice ends with its messages (Ready caps
		// it); the room after them, which it cannot reach, takes the next
		// messages. The array is never written below that room.
		if len(handed) < cap(handed) {
			r.msgs = handed[len(handed):]
		} else {
			r.msgs = nil // no room, and the array is the application's
		}
		if r.readiesSinceTick < 255 {
			r.readiesSinceTick++
		}
		return
	}
	if len(handed) == 0 {
		// Nothing handed out: msgs keeps its room.
		r.msgs = r.msgs[:0]
		return
	}
	if rare.lentMsgs == nil {
		rare.lentMsgs = handed
		r.syncRareOn()
	}
	r.msgs, rare.spareMsgs = rare.spareMsgs, nil
}

// returnMsgs ends the loan of the last Ready's Messages, on Advance: the
// messages of the array that refer to other memory are cleared (so that
// it holds no entries alive; see clearRefs) and the array is given to
// msgs, or kept as the spare if msgs has an array already.
func (rn *RawNode) returnMsgs() {
	if rn.raft.rareOn&rareLent == 0 {
		return
	}
	rare := rn.raft.rare
	lent := rare.lentMsgs[:cap(rare.lentMsgs)]
	// Not clear(lent): zeroing the whole array at every Advance cost
	// more than the allocation the loan saves.
	clearRefs(lent)
	rare.lentMsgs = nil
	rn.raft.syncRareOn()
	if r := rn.raft; cap(r.msgs) == 0 {
		r.msgs = lent[:0]
	} else {
		rare.spareMsgs = lent[:0]
	}
}

// applyUnstableEntries reports whether committed entries may be handed out
// for application before they are durable locally. In synchronous mode
// they may: the application persists a Ready before applying it.
func (rn *RawNode) applyUnstableEntries() bool {
	return !rn.raft.asyncStorageWrites
}

// HasReady reports whether Ready would return anything.
func (rn *RawNode) HasReady() bool {
	r := rn.raft
	// Messages first: the cheapest check, and the one that answers in a
	// busy group (an appending follower's answer, a leader's appends).
	if len(r.msgs) > 0 || len(r.msgsAfterAppend) > 0 {
		return true
	}
	if softSt := r.softState(); !softSt.equal(&rn.prevSoftSt) {
		return true
	}
	if hardSt := r.hardState(); !IsEmptyHardState(hardSt) && !isHardStateEqual(hardSt, rn.prevHardSt) {
		return true
	}
	if r.raftLog.hasNextUnstableSnapshot() {
		return true
	}
	if r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts(rn.applyUnstableEntries()) {
		return true
	}
	return len(r.readStates) != 0
}

// Advance tells the node that the application processed the last Ready
// (persisted, sent, applied): the self-acknowledgements it held back take
// effect. The argument is unused. In asynchronous mode there is nothing to
// advance; a call is logged and ignored.
//
// Advance is small enough to be inlined, so that the caller does not copy
// the Ready (some 300 bytes) only for it to be ignored.
func (rn *RawNode) Advance(_ Ready) {
	rn.advanceReady()
}

// advanceReady is Advance.
func (rn *RawNode) advanceReady() {
	if rn.raft.asyncStorageWrites {
		rn.raft.logger.Error("raft: Advance must not be called when using AsyncStorageWrites; ignored")
		return
	}
	// First, so that what the steps below send goes into the returned
	// array.
	rn.returnMsgs()
	if a := rn.adv; a != nil {
		r := rn.raft
		for i := range a.steps {
			_ = r.stepMsg(&a.steps[i])
		}
		clearRefs(a.steps)
		a.steps = a.steps[:0]
		if a.hasAppend {
			a.hasAppend = false
			a.storageAppended(r)
		}
		if ents := a.applied; ents != nil {
			a.applied = nil
			a.storageApplied(r, ents, a.appliedSize)
		}
	}
	observeState(rn.raft)
	traceCursors(rn.raft)
}

// Status returns the node's status, with a copy of the progress of every
// peer when it leads.
func (rn *RawNode) Status() Status {
	return getStatus(rn.raft)
}

// BasicStatus returns the node's status without progress and configuration.
// It does not allocate.
func (rn *RawNode) BasicStatus() BasicStatus {
	return getBasicStatus(rn.raft)
}

// ProgressType says whether a progress belongs to a voter or a learner.
type ProgressType byte

const (
	// ProgressTypePeer marks the progress of a voter.
	ProgressTypePeer ProgressType = iota
	// ProgressTypeLearner marks the progress of a learner.
	ProgressTypeLearner
)

// WithProgress calls visitor for the progress of every peer, in ascending
// ID order, without allocating. The Progress handed over has no Inflights.
func (rn *RawNode) WithProgress(visitor func(id uint64, typ ProgressType, pr progress.Progress)) {
	rn.raft.trk.Visit(func(id uint64, pr *progress.Progress) {
		typ := ProgressTypePeer
		if pr.IsLearner {
			typ = ProgressTypeLearner
		}
		p := *pr
		p.Inflights = nil
		visitor(id, typ, p)
	})
}

// ReportUnreachable tells a leader that the last message to id could not be
// delivered: a replicating follower goes back to probing.
func (rn *RawNode) ReportUnreachable(id uint64) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgUnreachable, From: id})
}

// ReportSnapshot tells a leader whether the snapshot it sent to id arrived.
func (rn *RawNode) ReportSnapshot(id uint64, status SnapshotStatus) {
	rej := status == SnapshotFailure
	_ = rn.raft.Step(pb.Message{Type: pb.MsgSnapStatus, From: id, Reject: rej})
}

// TransferLeader asks the leader (directly, or through this follower) to
// hand leadership to transferee.
func (rn *RawNode) TransferLeader(transferee uint64) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgTransferLeader, From: transferee})
}

// ForgetLeader makes a follower forget its leader, without changing its
// term or campaigning, so that with PreVote and CheckQuorum a new leader
// can be elected without waiting out the lease. It does nothing on a leader
// or under ReadOnlyLeaseBased.
func (rn *RawNode) ForgetLeader() error {
	return rn.raft.Step(pb.Message{Type: pb.MsgForgetLeader})
}

// ReadIndex requests a linearizable read. rctx identifies the request: the
// answer comes back as a ReadState with that RequestCtx in a later Ready.
// Contexts need not be unique; each request is confirmed on its own.
func (rn *RawNode) ReadIndex(rctx []byte) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgReadIndex, Entries: []pb.Entry{{Data: rctx}}})
}

// SnapshotStatus is the outcome of sending a snapshot, for ReportSnapshot.
type SnapshotStatus int

const (
	// SnapshotFinish means the snapshot arrived.
	SnapshotFinish SnapshotStatus = 1
	// SnapshotFailure means it did not.
	SnapshotFailure SnapshotStatus = 2
)

// Peer is a member of the initial cluster, for Bootstrap and StartNode.
type Peer struct {
	// ID is the member's node ID.
	ID uint64
	// Context travels in the Context of the member's ConfChangeAddNode
	// entry, for the application's use (etcd puts the member's URLs there).
	Context []byte
}

// Bootstrap initializes empty storage with a configuration of the given
// voters: it fabricates committed ConfChangeAddNode entries at term 1 and
// applies them. The application must persist them from the next Ready like
// any entries. Seeding the Storage with a snapshot that carries the
// ConfState is an alternative that needs no fabricated entries.
func (rn *RawNode) Bootstrap(peers []Peer) error {
	if len(peers) == 0 {
		return errors.New("must provide at least one peer to Bootstrap")
	}
	lastIndex, err := rn.raft.raftLog.storage.LastIndex()
	if err != nil {
		return err
	}
	if lastIndex != 0 {
		return errors.New("can't bootstrap a nonempty Storage")
	}

	// Make the HardState appear in the next Ready, even if unchanged from
	// what the storage returned.
	rn.prevHardSt = pb.HardState{}

	// The fabricated entries are at term 1, as if a leader of term 1 had
	// proposed them; a later election starts from there.
	rn.raft.becomeFollower(1, None)
	ents := make([]pb.Entry, len(peers))
	for i, peer := range peers {
		cc := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: peer.ID, Context: peer.Context}
		data, err := cc.Marshal()
		if err != nil {
			return err
		}
		ents[i] = pb.Entry{Type: pb.EntryConfChange, Term: 1, Index: uint64(i + 1), Data: data}
	}
	rn.raft.raftLog.append(ents...)

	// They are committed, and their configuration takes effect now. The
	// application still sees them in CommittedEntries and applies them
	// with ApplyConfChange like any conf change; adding a voter twice is a
	// no-op.
	rn.raft.raftLog.committed = uint64(len(ents))
	for _, peer := range peers {
		rn.raft.applyConfChange(pb.ConfChange{NodeID: peer.ID, Type: pb.ConfChangeAddNode}.AsV2())
	}
	return nil
}
