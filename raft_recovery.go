package raft

import (
	"errors"
	"fmt"
	"math"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// Recovery of a node whose storage lost entries it had acknowledged
// (docs/design/recovery.md).
//
// The leader's side is always on: a follower that proves its log went
// backwards below what the leader recorded of it (its Match) is probed
// again from where its log ends, instead of being probed at Match forever.
//
// The follower's side, with Config.RecoverLostState, is a quarantine: a
// node that finds its storage regressed neither votes nor campaigns, keeps
// its commit index within its log and raises it only through appends, and
// (when its vote may be lost) acknowledges nothing that could decide a
// commit or a read, until its log holds a fence.

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
	// mutNoRestartQuarantine makes a node that restarts with its commit
	// index beyond its log clamp it and carry on as a voter (the naive
	// fix of etcd-io/raft#25 and #53).
	mutNoRestartQuarantine
	// mutNoHeartbeatQuarantine makes a heartbeat committing beyond the log
	// leave the node out of quarantine.
	mutNoHeartbeatQuarantine
	// mutVotes lets a quarantined node vote.
	mutVotes
	// mutCampaigns lets a quarantined node campaign.
	mutCampaigns
	// mutTrustLog lets a quarantined node trust its log: the commit index
	// is clamped to the last index at restart, and heartbeats raise it.
	mutTrustLog
	// mutDecisiveAcks lets a StateLoss node acknowledge all it appended.
	mutDecisiveAcks
	// mutEarlyExit ends a TailLoss quarantine once the commit index covers
	// the lost range, without waiting for an entry of a later term.
	mutEarlyExit
	// mutReadAcks lets a StateLoss node echo the read rounds of heartbeats.
	mutReadAcks
	// mutIgnoreDeclared ignores the regressions the application declares,
	// at restart (Config.Recovery without a nonce) and at run time
	// (RawNode.DeclareRegression).
	mutIgnoreDeclared
	// mutNoFence makes the handshake leader confirm a peer once it caught
	// up with the target (what it had acknowledged, and what was
	// committed), without a fence entry: "learn the current state" alone.
	mutNoFence
	// mutFenceUncommitted makes the handshake leader confirm the fence as
	// soon as it appended it, and the node leave once its log holds it,
	// committed or not.
	mutFenceUncommitted
	// mutNoExclusion makes the handshake leader count a peer recovering
	// from a StateLoss in its quorums (commit, read, lease, CheckQuorum)
	// and transfer leadership to it.
	mutNoExclusion
	// mutStaleOk lets a node take a fence confirmed for another nonce.
	mutStaleOk
	// mutAppFenceUncommitted lets RawNode.FenceApplied end the quarantine
	// with an entry the node holds but has not committed.
	mutAppFenceUncommitted
	// mutAppFenceAnyNonce lets RawNode.FenceApplied end the quarantine
	// with an entry carrying another nonce.
	mutAppFenceAnyNonce
	// mutRepeatRejections lets a quarantined node answer every append it
	// rejects, however many times a tick the leader probes the same index.
	mutRepeatRejections
	// mutSilentUnpromotable makes a node that cannot campaign, and is not
	// quarantined, ignore a lower-term leader in silence, as etcd raft
	// does without CheckQuorum and PreVote.
	mutSilentUnpromotable
	// mutSilentToCandidates makes a node that cannot campaign ignore a
	// lower-term vote in silence, as etcd raft does.
	mutSilentToCandidates
)

// ErrQuarantined is returned by Campaign while the node is quarantined
// after a loss of persisted state (Config.RecoverLostState): it must not
// lead, nor vote, until its log holds a fence.
var ErrQuarantined = errors.New("raft: quarantined after a loss of persisted state")

// RegressionKind tells what a node whose storage regressed may have lost.
type RegressionKind uint8

const (
	// NoRegression is the kind of a node that is not quarantined.
	NoRegression RegressionKind = iota
	// TailLoss: entries at the end of the log were lost; term and vote
	// survived (Config.HardStateIndependentlyDurable). The quarantine ends
	// by itself after a leader change.
	TailLoss
	// StateLoss: entries were lost, and the term and vote may have been
	// lost with them (the default). The node may have voted in a term it
	// no longer knows, so the quarantine does not end by itself: replace
	// the member (remove it, add it back under a new ID).
	StateLoss
)

// String returns the kind's name, such as "StateLoss".
func (k RegressionKind) String() string {
	switch k {
	case NoRegression:
		return "NoRegression"
	case TailLoss:
		return "TailLoss"
	case StateLoss:
		return "StateLoss"
	}
	return fmt.Sprintf("RegressionKind(%d)", uint8(k))
}

// RegressionCause tells how a node found that its storage regressed.
type RegressionCause uint8

const (
	// CauseNone is the cause of a node that is not quarantined.
	CauseNone RegressionCause = iota
	// CauseRestart: at restart, the HardState's commit index was beyond
	// the last index of the log.
	CauseRestart
	// CauseHeartbeat: the leader sent a heartbeat committing beyond the
	// last index; it recorded this node as holding entries it has lost.
	CauseHeartbeat
	// CauseDeclared: the application declared the regression (a backup
	// restored, a new disk under an old ID, a torn HardState its own
	// checksums found), either at restart through Config.Recovery or at
	// run time. Only the application's own markers can tell these.
	CauseDeclared
)

// String returns the cause's name, such as "CauseRestart".
func (c RegressionCause) String() string {
	switch c {
	case CauseNone:
		return "CauseNone"
	case CauseRestart:
		return "CauseRestart"
	case CauseHeartbeat:
		return "CauseHeartbeat"
	case CauseDeclared:
		return "CauseDeclared"
	}
	return fmt.Sprintf("RegressionCause(%d)", uint8(c))
}

// Recovery is the quarantine of a node whose storage lost state it had
// persisted (Config.RecoverLostState). Status reports it; Config.OnRecovery
// hands it to the application, which persists it and passes it back in
// Config.Recovery at restart.
type Recovery struct {
	// Quarantined is set while the node is quarantined: it neither votes
	// nor campaigns, and its commit index rises only through appends.
	Quarantined bool
	// Kind is what the node may have lost.
	Kind RegressionKind
	// Cause is how the loss was found.
	Cause RegressionCause
	// LostFrom and LostTo bound the indexes found lost: from the first
	// index past the log to the commit index that was beyond it. The node
	// may have acknowledged entries beyond LostTo too.
	LostFrom, LostTo uint64
	// Term is the node's term when the loss was found. A TailLoss
	// quarantine ends once the commit index reaches an entry of a later
	// term.
	Term uint64
	// Nonce is a random number, never 0, drawn (from Config.Rand, or
	// crypto/rand) whenever the node enters its quarantine or finds a
	// further loss in it. A fence counts only if it carries the nonce of
	// the current quarantine: the leader's handshake confirms it, and an
	// entry the application proposes for RawNode.FenceApplied carries it.
	// An application that declares a regression at restart
	// (Config.Recovery) leaves it 0 to have one drawn.
	Nonce uint64
}

// WaitingFor describes what ends the quarantine, or "" if there is none.
// It names what each kind of leader can do: a raftkit leader fences the
// node by itself (its handshake); an etcd raft leader cannot, and then
// only a leader change or a snapshot of a later term (after a TailLoss)
// or an entry the application proposed with the nonce (RawNode.FenceApplied)
// ends it.
func (rec Recovery) WaitingFor() string {
	switch {
	case !rec.Quarantined:
		return ""
	case rec.Kind == TailLoss:
		return fmt.Sprintf("a fence: with a raftkit leader, the fence entry of its handshake (nonce %x); "+
			"with any leader, an entry of a term above %d committed (a leader change, or a snapshot of a later term; "+
			"TransferLeader on the leader hastens it), or an entry carrying the nonce that the application proposed "+
			"and applied (RawNode.FenceApplied)", rec.Nonce, rec.Term)
	}
	return fmt.Sprintf("a fence committed without this node, whose vote may be lost: with a raftkit leader, "+
		"the fence entry of its handshake (nonce %x); with an etcd raft leader, only an entry carrying the nonce that "+
		"the application proposed and applied (RawNode.FenceApplied; a promotion whose ConfChange Context carries it "+
		"will do); otherwise replace the member (remove it, add it back under a new ID)", rec.Nonce)
}

// recovery is the state of Config.RecoverLostState, hung off raft.rare;
// nil without the option.
type recovery struct {
	// tailOnly is Config.HardStateIndependentlyDurable.
	tailOnly bool
	// notify is Config.OnRecovery.
	notify func(Recovery)
	// rec is the quarantine, if Quarantined.
	rec Recovery
	// fence is the fence a raftkit leader confirmed for the nonce (rule
	// E2): the quarantine ends once the commit index reaches it. Zero
	// until confirmed; not persisted (the leader confirms it again).
	fence entryID
	// rejected is the probe (term and index) of the append this node last
	// rejected while quarantined, cleared at each tick: rule L3 answers
	// one rejection of it per tick.
	rejected entryID
	// declared is set from initRecovery to finishRecoveryInit when the
	// application declared the quarantine at restart (Config.Recovery
	// without a nonce).
	declared bool
}

// initRecovery sets up Config.RecoverLostState, resuming the quarantine
// the application persisted. It runs in init before the HardState is
// loaded; finishRecoveryInit completes it after.
func (r *raft) initRecovery(cfg *Config) {
	rc := &recovery{tailOnly: cfg.HardStateIndependentlyDurable, notify: cfg.OnRecovery}
	if cfg.Recovery != nil && cfg.Recovery.Quarantined &&
		!(recoveryMutation == mutIgnoreDeclared && cfg.Recovery.Nonce == 0) {
		rc.rec = *cfg.Recovery
		rc.declared = rc.rec.Nonce == 0
		if rc.rec.Kind != TailLoss {
			rc.rec.Kind = StateLoss
		}
		if rc.rec.Cause == CauseNone {
			rc.rec.Cause = CauseDeclared
		}
		r.logger.Warningf("%x resumes its quarantine after a loss of persisted state [%s]", r.id, describeRecovery(rc.rec))
	}
	r.rareSettings().recovery = rc
	r.syncRareOn()
}

// finishRecoveryInit completes, once the HardState is loaded, a quarantine
// the application declared at restart (a Config.Recovery without a
// nonce): the node draws its nonce, takes the HardState's term as the one
// the loss was found in if none was given, and after a StateLoss keeps its
// commit index to what is known committed without the log (the snapshot
// and Config.Applied), as at a restart with the commit index beyond the
// log: the log may be an older copy than the HardState. The application is
// told the result, to persist it.
func (r *raft) finishRecoveryInit(applied uint64) {
	rc := r.recoveryState()
	if !rc.declared {
		return
	}
	rc.declared = false
	if !rc.rec.Quarantined {
		return // a detection at load replaced the declared quarantine
	}
	if rc.rec.Term == 0 {
		rc.rec.Term = r.Term
	}
	if rc.rec.Nonce == 0 {
		rc.rec.Nonce = r.drawNonce()
	}
	if rc.rec.Kind == StateLoss && recoveryMutation != mutTrustLog {
		l := &r.raftLog
		l.committed = max(l.firstIndex()-1, min(l.committed, applied))
	}
	r.logger.Warningf("%x is quarantined: the application declared a loss of persisted state [%s]; it will neither vote nor campaign until %s",
		r.id, describeRecovery(rc.rec), rc.rec.WaitingFor())
	if rc.notify != nil {
		rc.notify(rc.rec)
	}
}

// drawNonce draws a quarantine's nonce, never 0, from the source of the
// randomized election timeout (Config.Rand, or crypto/rand).
func (r *raft) drawNonce() uint64 {
	draw := randIntn
	if r.rare != nil && r.rare.randIntn != nil {
		draw = r.rare.randIntn
	}
	return uint64(draw(math.MaxInt64)) + 1
}

// recoveryState returns the state of Config.RecoverLostState, or nil.
func (r *raft) recoveryState() *recovery {
	if r.rareOn&rareRecovery == 0 {
		return nil
	}
	return r.rare.recovery
}

// repeatedRejection reports whether a quarantined node already rejected,
// since its last tick, an append probing the same index in this term, and
// then leaves this one unanswered (rule L3). An etcd v3.6 leader never
// probes below Match+1: its Match may predate the loss, so every answer
// brings the same probe back at once, and every heartbeat answer and
// duplicated message starts one more such exchange that never ends (the
// storm of compat/mixed seed 50005). Answering once a tick bounds what the
// leader sends to the number of ticks and heartbeats; a raftkit leader
// lowers Match on the first rejection (L1) and probes another index.
func (r *raft) repeatedRejection(index uint64) bool {
	rc := r.recoveryState()
	if rc == nil || !rc.rec.Quarantined || recoveryMutation == mutRepeatRejections {
		return false
	}
	probe := entryID{term: r.Term, index: index}
	if rc.rejected == probe {
		r.logger.Debugf("%x left a repeated probe at index %d unanswered: rejected once this tick", r.id, index)
		return true
	}
	rc.rejected = probe
	return false
}

// quarantined reports whether the node is quarantined.
func (r *raft) quarantined() bool {
	rc := r.recoveryState()
	return rc != nil && rc.rec.Quarantined
}

// tellsLowerTerm reports whether the node, with RecoverLostState, answers
// an append, heartbeat or vote of a lower term with its own term although
// etcd raft would not (rule T1): without CheckQuorum and PreVote etcd raft
// ignores a lower-term append or heartbeat, and it always ignores a
// lower-term vote. The node cannot campaign, quarantined or not promotable
// (a voter of the leader's configuration that has not applied it yet, a
// learner, a removed node), so a term of its above the sender's would
// otherwise never reach the cluster. A quarantined node may hold one from
// a HardState a StateLoss brought back (rafttest seed 13710); any such
// node may hold one from a vote for a candidate that is gone since: wiped,
// removed or cut off (seed 347271), or that campaigns in a configuration
// the lower-term candidate is not part of and cannot win (seed 389513).
// While it ignores a leader, its own acknowledgements are missing from the
// leader's quorums, and it gets nothing it needs (a snapshot of its
// configuration, a fence); while it ignores a candidate, that candidate
// may never reach the term of the voters it needs. The answer carries only
// a term and a rejection, which is always safe to send: the sender becomes
// a follower and a leader of a later term, which the node follows, is
// elected. As the node never raises its term by itself, every step-down it
// causes relays a term another node's campaign or leadership gave it.
func (r *raft) tellsLowerTerm() bool {
	if r.recoveryState() == nil {
		return false
	}
	return r.quarantined() || (!r.promotable() && recoveryMutation != mutSilentUnpromotable)
}

// stateLoss reports whether the node is quarantined after a StateLoss.
func (r *raft) stateLoss() bool {
	rc := r.recoveryState()
	return rc != nil && rc.rec.Quarantined && rc.rec.Kind == StateLoss
}

// recoveryStatus returns the quarantine for Status.
func (r *raft) recoveryStatus() Recovery {
	if rc := r.recoveryState(); rc != nil {
		return rc.rec
	}
	return Recovery{}
}

func describeRecovery(rec Recovery) string {
	return fmt.Sprintf("kind: %s, cause: %s, lost: [%d, %d], term: %d, nonce: %x", rec.Kind, rec.Cause, rec.LostFrom, rec.LostTo, rec.Term, rec.Nonce)
}

// enterQuarantine quarantines the node after it found, for cause, that
// the entries [lostFrom, lostTo] are lost (0, 0 when it cannot tell which:
// a declared loss). kind is what it may have lost; NoRegression stands for
// the configured kind (Config.HardStateIndependentlyDurable). An existing
// quarantine widens: its lost range grows, its kind becomes the worse of
// the two and its term the current one, and the cause is the latest.
// Either way the node draws a new nonce, so that a fence confirmed for the
// quarantine as it was (a handshake under way, an application entry
// proposed) cannot end it: the node may have lost, since, entries it
// acknowledged.
func (r *raft) enterQuarantine(cause RegressionCause, kind RegressionKind, lostFrom, lostTo uint64) {
	rc := r.recoveryState()
	if kind == NoRegression {
		kind = StateLoss
		if rc.tailOnly {
			kind = TailLoss
		}
	}
	if rc.rec.Quarantined {
		if lostTo != 0 {
			if rc.rec.LostTo == 0 {
				rc.rec.LostFrom, rc.rec.LostTo = lostFrom, lostTo
			} else {
				rc.rec.LostFrom = min(rc.rec.LostFrom, lostFrom)
				rc.rec.LostTo = max(rc.rec.LostTo, lostTo)
			}
		}
		rc.rec.Kind = max(rc.rec.Kind, kind)
		rc.rec.Cause = cause
		rc.rec.Term = max(rc.rec.Term, r.Term)
	} else {
		rc.rec = Recovery{Quarantined: true, Kind: kind, Cause: cause, LostFrom: lostFrom, LostTo: lostTo, Term: r.Term}
	}
	old := rc.rec.Nonce
	rc.fence = entryID{}
	rc.rec.Nonce = r.drawNonce()
	if rc.rec.Nonce == old {
		// A source seeded alike at each restart draws the same numbers.
		rc.rec.Nonce = max(old+1, 1)
	}
	rc.declared = false
	r.logger.Warningf("%x is quarantined: its storage lost persisted state [%s]; it will neither vote nor campaign until %s",
		r.id, describeRecovery(rc.rec), rc.rec.WaitingFor())
	if rc.notify != nil {
		rc.notify(rc.rec)
	}
}

// declareRegression quarantines the node, or widens its quarantine, for
// a loss of kind the application declared (RawNode.DeclareRegression). A
// leader or candidate steps down first: a quarantined node must not lead.
func (r *raft) declareRegression(kind RegressionKind) error {
	if r.recoveryState() == nil {
		return errors.New("raft: DeclareRegression needs Config.RecoverLostState")
	}
	if kind != TailLoss && kind != StateLoss {
		return fmt.Errorf("raft: DeclareRegression(%s): the kind must be TailLoss or StateLoss", kind)
	}
	if recoveryMutation == mutIgnoreDeclared {
		return nil
	}
	if r.state != StateFollower {
		r.logger.Warningf("%x [term %d] steps down from %s: the application declared a loss of persisted state", r.id, r.Term, r.state)
		r.becomeFollower(r.Term, None)
	}
	r.enterQuarantine(CauseDeclared, kind, 0, 0)
	return nil
}

// maybeLeaveQuarantine ends the quarantine once the log holds a fence.
//
// E1, TailLoss: the commit index (raised only by appends and snapshots in
// quarantine) reaches an entry of a term above the one the loss was found
// in. That entry was written by a leader elected without this node's
// vote, which holds every committed entry; by Log Matching this log now
// holds them too, and the vote survived, so voting is safe again.
//
// E2, either kind: the commit index reaches, with its term, the fence a
// raftkit leader confirmed for this quarantine's nonce (raft_fence.go).
func (r *raft) maybeLeaveQuarantine() {
	rc := r.recoveryState()
	if rc == nil || !rc.rec.Quarantined {
		return
	}
	l := &r.raftLog
	var why string
	switch {
	case rc.fence.index != 0 && recoveryMutation == mutFenceUncommitted && l.matchTerm(rc.fence.index, rc.fence.term):
		why = "its log holds the fence"
	case rc.fence.index != 0 && l.committed >= rc.fence.index && (l.matchTerm(rc.fence.index, rc.fence.term) || rc.fence.index < l.firstIndex()):
		// A fence below the first index was compacted into a snapshot
		// that holds it: the fence was appended after the loss, so above
		// every index committed before it, and a snapshot beyond it
		// (received since, of committed entries only) includes it.
		why = fmt.Sprintf("the leader's fence %d (term %d) is committed", rc.fence.index, rc.fence.term)
	case rc.rec.Kind != TailLoss:
		return
	case recoveryMutation == mutEarlyExit:
		if l.committed < rc.rec.LostTo {
			return
		}
		why = "its commit index covers the lost range"
	case zeroTermOnOutOfBounds(l.term(l.committed)) <= rc.rec.Term:
		return
	default:
		why = fmt.Sprintf("committed entry %d is of a term above %d", l.committed, rc.rec.Term)
	}
	r.leaveQuarantine(why)
}

// fenceApplied ends the quarantine when the application applied, at
// index, the entry it proposed with the quarantine's nonce (rule E3; see
// RawNode.FenceApplied).
func (r *raft) fenceApplied(index, nonce uint64) error {
	rc := r.recoveryState()
	if rc == nil || !rc.rec.Quarantined {
		return nil
	}
	if nonce != rc.rec.Nonce && recoveryMutation != mutAppFenceAnyNonce {
		return fmt.Errorf("raft: FenceApplied(%d, %x): the quarantine's nonce is %x: the entry was made for an earlier quarantine; propose one with the current nonce", index, nonce, rc.rec.Nonce)
	}
	l := &r.raftLog
	if recoveryMutation == mutAppFenceUncommitted {
		if index == 0 || index > l.lastIndex() {
			return fmt.Errorf("raft: FenceApplied(%d, %x): beyond the log", index, nonce)
		}
	} else if index == 0 || index > l.committed {
		return fmt.Errorf("raft: FenceApplied(%d, %x): entry %d is not committed in this node's log (commit index %d)", index, nonce, index, l.committed)
	}
	r.leaveQuarantine(fmt.Sprintf("the application applied its fence entry %d, which carries the nonce", index))
	return nil
}

// leaveQuarantine ends the quarantine, for the reason why.
func (r *raft) leaveQuarantine(why string) {
	rc := r.recoveryState()
	r.logger.Warningf("%x leaves its quarantine: %s [%s]", r.id, why, describeRecovery(rc.rec))
	rc.rec = Recovery{}
	rc.fence = entryID{}
	if rc.notify != nil {
		rc.notify(rc.rec)
	}
}

// loadCommitBeyondLog handles a HardState whose commit index is beyond
// the last index at restart, with Config.RecoverLostState (rule D1): the
// node starts quarantined. Its commit index is clamped to the log: to the
// last index after a TailLoss, whose surviving log is a prefix of the one
// it had; after a StateLoss the log may be an older copy holding entries
// since replaced, so only what is known committed without it counts: the
// snapshot and the entries the application applied (Config.Applied).
func (r *raft) loadCommitBeyondLog(state pb.HardState, applied uint64) {
	last := r.raftLog.lastIndex()
	r.Term = state.Term
	r.Vote = state.Vote
	if recoveryMutation == mutNoRestartQuarantine {
		r.raftLog.committed = last
		return
	}
	r.enterQuarantine(CauseRestart, NoRegression, last+1, state.Commit)
	if r.recoveryState().rec.Kind == TailLoss || recoveryMutation == mutTrustLog {
		r.raftLog.committed = last
	} else {
		r.raftLog.committed = max(r.raftLog.committed, min(applied, last))
	}
}

// quarantineHeartbeat handles a heartbeat with Config.RecoverLostState. A
// commit beyond the log quarantines the node (rule D2). In quarantine a
// heartbeat never raises the commit index (rule Q3): the leader's Match
// for this node may predate the loss and describe entries this log holds
// in another version. The heartbeat is then rejected with the commit index
// as hint, so that a raftkit leader probes from there and its append
// carries the commit index. It returns whether it handled the heartbeat.
func (r *raft) quarantineHeartbeat(m pb.Message) bool {
	last := r.raftLog.lastEntryID()
	if m.Commit > last.index && !r.quarantined() && recoveryMutation != mutNoHeartbeatQuarantine {
		r.enterQuarantine(CauseHeartbeat, NoRegression, last.index+1, m.Commit)
	}
	if !r.quarantined() || m.Commit <= r.raftLog.committed {
		return false
	}
	if recoveryMutation == mutTrustLog {
		r.raftLog.commitTo(min(m.Commit, last.index))
		return false
	}
	resp := pb.Message{To: m.From, Type: pb.MsgHeartbeatResp, Reject: true, RejectHint: last.index, LogTerm: last.term}
	if m.Commit <= last.index {
		resp.RejectHint = r.raftLog.committed
		resp.LogTerm = zeroTermOnOutOfBounds(r.raftLog.term(r.raftLog.committed))
	}
	resp.Context = r.heartbeatRespCtx(&m)
	r.send(resp)
	return true
}

// ackIndex returns the index a follower acknowledges after appending up
// to lastNew from an append committing up to commit. A StateLoss node may
// follow a stale leader of a term it forgot: it acknowledges only entries
// the leader already counts as committed, so that its acknowledgement
// never decides a commit (rule S1).
func (r *raft) ackIndex(lastNew, commit uint64) uint64 {
	if r.stateLoss() && recoveryMutation != mutDecisiveAcks {
		return min(lastNew, commit)
	}
	return lastNew
}

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
