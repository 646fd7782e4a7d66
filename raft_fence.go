package raft

import (
	"encoding/binary"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// The fence handshake between a quarantined node and a raftkit leader
// (docs/design/recovery.md, rule E2; research item 8).
//
// While quarantined, the node marks its heartbeat responses with a
// recovery signal in their Context: a reserved prefix, its kind and its
// nonce. An etcd raft v3.6 leader looks the Context up among the contexts
// of its pending ReadIndex requests (recvAck), which an etcd server makes
// 8 bytes long; a signal is 15 bytes or more and never matches, so the
// etcd leader ignores it. A raftkit leader's own read rounds are 12 bytes
// ("rkri" and the round), so neither can be taken for the other.
//
// A raftkit leader that receives a signal with a nonce it has not seen
// from that peer starts a handshake: it records the target max(Match,
// committed), forgets the peer's Match and probes it from where its log
// ends (L1), appends an empty EntryNormal entry, the fence (a no-op for
// every application: etcd's own leaders append one at each election), and,
// after a StateLoss, counts the peer for no quorum: commit, ReadIndex,
// lease, CheckQuorum. Transfers to the peer are refused. Once the peer's
// Match reaches max(target, fence) and the fence is committed, the leader
// sends the peer a heartbeat whose Context confirms the nonce ("rkrec-ok/"
// and the nonce), with the fence's index and term in its Index and
// LogTerm, which etcd raft ignores on a heartbeat; it goes only to the
// peer, a raftkit node. The node leaves its quarantine when the nonce is
// its own and its commit index, raised by appends only (Q3), has reached
// the fence with the fence's term.
//
// The fence was appended after the regression (after the signal), and
// committed by a quorum: after a StateLoss one without the node (its
// acknowledgements never decide a commit, S1, and the leader does not
// count them), which is what the fence principle asks; after a TailLoss
// the node's acknowledgements may count, since its vote survived, and the
// leader that committed the fence holds every committed entry before it.
// A leader of a later term starts afresh (the state lives in the leader's
// term); a node whose nonce changed (a further loss) is handshaken again.

var (
	// recoverySignalPrefix starts the Context of the heartbeat responses
	// of a quarantined node; the kind (one byte) and the nonce (8 bytes,
	// big-endian) follow, and, after a TailLoss, the raftkit read round
	// the heartbeat carried, echoed.
	recoverySignalPrefix = []byte("rkrec/")
	// recoveryOkPrefix starts the Context of the heartbeat with which a
	// raftkit leader confirms a fence; the nonce follows.
	recoveryOkPrefix = []byte("rkrec-ok/")
)

const (
	recoverySignalLen = 6 + 1 + 8
	recoveryOkLen     = 9 + 8
)

// recoverySignal is what a quarantined node's heartbeat response says.
type recoverySignal struct {
	kind  RegressionKind
	nonce uint64
	// round is the raftkit read round echoed after a TailLoss, or nil.
	round []byte
}

func encodeRecoverySignal(kind RegressionKind, nonce uint64, round []byte) []byte {
	b := make([]byte, recoverySignalLen, recoverySignalLen+len(round))
	copy(b, recoverySignalPrefix)
	b[len(recoverySignalPrefix)] = byte(kind)
	binary.BigEndian.PutUint64(b[len(recoverySignalPrefix)+1:], nonce)
	return append(b, round...)
}

func decodeRecoverySignal(ctx []byte) (recoverySignal, bool) {
	if len(ctx) < recoverySignalLen || string(ctx[:len(recoverySignalPrefix)]) != string(recoverySignalPrefix) {
		return recoverySignal{}, false
	}
	sig := recoverySignal{
		kind:  RegressionKind(ctx[len(recoverySignalPrefix)]),
		nonce: binary.BigEndian.Uint64(ctx[len(recoverySignalPrefix)+1:]),
	}
	if sig.kind != TailLoss && sig.kind != StateLoss || sig.nonce == 0 {
		return recoverySignal{}, false
	}
	if len(ctx) > recoverySignalLen {
		sig.round = ctx[recoverySignalLen:]
	}
	return sig, true
}

func encodeRecoveryOk(nonce uint64) []byte {
	b := make([]byte, recoveryOkLen)
	copy(b, recoveryOkPrefix)
	binary.BigEndian.PutUint64(b[len(recoveryOkPrefix):], nonce)
	return b
}

func decodeRecoveryOk(ctx []byte) (uint64, bool) {
	if len(ctx) != recoveryOkLen || string(ctx[:len(recoveryOkPrefix)]) != string(recoveryOkPrefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(ctx[len(recoveryOkPrefix):]), true
}

// heartbeatRespCtx returns the Context of this node's answer to heartbeat
// m. Out of quarantine it echoes the heartbeat's. In quarantine it is a
// recovery signal; after a TailLoss, whose node may confirm reads, the
// signal carries a raftkit leader's read round, and an other leader's
// read context (an etcd leader's, which cannot take part in the
// handshake) is echoed as it is. After a StateLoss no read is confirmed
// (S2). A fence confirmation is never echoed.
func (r *raft) heartbeatRespCtx(m *pb.Message) []byte {
	if _, ok := decodeRecoveryOk(m.Context); ok {
		return nil
	}
	rc := r.recoveryState()
	if rc == nil || !rc.rec.Quarantined {
		return m.Context
	}
	if rc.rec.Kind == StateLoss && recoveryMutation == mutReadAcks {
		return m.Context
	}
	var round []byte
	if rc.rec.Kind == TailLoss && len(m.Context) > 0 {
		if _, ok := decodeReadRound(m.Context); !ok {
			return m.Context
		}
		round = m.Context
	}
	return encodeRecoverySignal(rc.rec.Kind, rc.rec.Nonce, round)
}

// recoveryConfirmed handles a leader's heartbeat that may confirm a fence
// (rule E2): with this quarantine's nonce, the fence is recorded, and the
// quarantine ends once the commit index reaches it (maybeLeaveQuarantine).
// A confirmation for another nonce, of a quarantine since widened, is
// ignored. It returns whether m is a confirmation.
func (r *raft) recoveryConfirmed(m *pb.Message) bool {
	nonce, ok := decodeRecoveryOk(m.Context)
	if !ok {
		return false
	}
	rc := r.recoveryState()
	if !rc.rec.Quarantined || m.Index == 0 {
		return true
	}
	if nonce != rc.rec.Nonce && recoveryMutation != mutStaleOk {
		r.logger.Infof("%x ignored the fence [index: %d, term: %d] %x confirmed for nonce %x: its nonce is %x",
			r.id, m.Index, m.LogTerm, m.From, nonce, rc.rec.Nonce)
		return true
	}
	rc.fence = entryID{index: m.Index, term: m.LogTerm}
	r.maybeLeaveQuarantine()
	return true
}

// peerRecovery is a leader's handshake with a quarantined peer.
type peerRecovery struct {
	kind  RegressionKind
	nonce uint64
	// target is max(Match, committed) when the handshake started: what
	// the peer had acknowledged, and what was committed.
	target uint64
	// fence is the empty entry appended for the peer.
	fence entryID
	// confirmed is set once the confirmation was sent on an append
	// response; heartbeat responses send it again.
	confirmed bool
}

// peerRecovering returns the leader's handshake with peer id, or nil.
func (r *raft) peerRecovering(id uint64) *peerRecovery {
	if r.rareOn&rareRecovery == 0 {
		return nil
	}
	return r.rare.recovering[id]
}

// excludesPeers reports whether this leader counts some peer for no
// quorum: a peer in a handshake after a StateLoss.
func (r *raft) excludesPeers() bool {
	if r.rareOn&rareRecovery == 0 || recoveryMutation == mutNoExclusion {
		return false
	}
	for _, st := range r.rare.recovering {
		if st.kind == StateLoss {
			return true
		}
	}
	return false
}

// excluded reports whether this leader counts peer id for no quorum.
func (r *raft) excluded(id uint64) bool {
	st := r.peerRecovering(id)
	return st != nil && st.kind == StateLoss && recoveryMutation != mutNoExclusion
}

// recoveryAckIndexer reads the voters' Match indexes as their
// acknowledgements, but a peer in a handshake after a StateLoss
// acknowledges nothing.
type recoveryAckIndexer raft

// AckedIndex implements quorum.AckedIndexer.
func (l *recoveryAckIndexer) AckedIndex(id uint64) (quorum.Index, bool) {
	r := (*raft)(l)
	pr := r.trk.Get(id)
	if pr == nil {
		return 0, false
	}
	if r.excluded(id) {
		return 0, true
	}
	return quorum.Index(pr.Match), true
}

// committedByQuorum returns the largest index a quorum of the voters has
// in its log, counting no peer in a handshake after a StateLoss.
func (r *raft) committedByQuorum() uint64 {
	if !r.excludesPeers() {
		return r.trk.Committed()
	}
	return uint64(r.trk.Voters.CommittedIndex((*recoveryAckIndexer)(r)))
}

// handleRecoverySignal handles the recovery signal sig of a heartbeat
// response m from a quarantined peer, whose progress is pr: it starts a
// handshake for a nonce it has not seen from the peer, and confirms the
// fence once it may.
func (r *raft) handleRecoverySignal(m *pb.Message, pr *progress.Progress, sig recoverySignal) {
	if st := r.peerRecovering(m.From); st != nil && st.nonce == sig.nonce {
		pr.Recovering = true
		r.maybeConfirmRecovery(m.From, pr, st, true)
		return
	}
	rare := r.rareSettings()
	if rare.recovering == nil {
		rare.recovering = map[uint64]*peerRecovery{}
		r.syncRareOn()
	}
	st := &peerRecovery{kind: sig.kind, nonce: sig.nonce, target: max(pr.Match, r.raftLog.committed)}
	rare.recovering[m.From] = st
	pr.Recovering = true
	if pr.State != progress.StateSnapshot {
		// What the peer acknowledged before may be lost: probe it again
		// from where its log ends (its signal carries its last entry).
		pr.Regress(r.regressHint(m) + 1)
	}
	if st.kind == StateLoss && r.readOnly != nil {
		delete(r.readOnly.acks, m.From)
	}
	if recoveryMutation == mutNoFence {
		st.fence = entryID{index: st.target, term: zeroTermOnOutOfBounds(r.raftLog.term(st.target))}
	} else {
		r.appendEntry(pb.Entry{}) // an empty entry is always admitted
		st.fence = r.raftLog.lastEntryID()
	}
	r.logger.Warningf("%x: %x is quarantined after a %s (nonce %x): fencing it with entry %d (term %d), target %d [%s]",
		r.id, m.From, sig.kind, sig.nonce, st.fence.index, st.fence.term, st.target, pr)
	if recoveryMutation != mutNoFence {
		r.bcastAppend()
	}
	if recoveryMutation == mutFenceUncommitted {
		r.sendRecoveryOk(m.From, pr, st)
	}
}

// endRecovery forgets the handshake with peer id, whose heartbeat
// response carried no recovery signal: it left its quarantine (or was
// never in one).
func (r *raft) endRecovery(id uint64, pr *progress.Progress) {
	if r.peerRecovering(id) == nil {
		return
	}
	delete(r.rare.recovering, id)
	if len(r.rare.recovering) == 0 {
		r.rare.recovering = nil
		r.syncRareOn()
	}
	pr.Recovering = false
	r.logger.Infof("%x: %x left its quarantine [%s]", r.id, id, pr)
}

// maybeConfirmRecovery sends peer id the confirmation of its fence once
// its Match reaches max(target, fence) and the fence is committed: on
// every heartbeat response (resend), and on the first append response
// that allows it.
func (r *raft) maybeConfirmRecovery(id uint64, pr *progress.Progress, st *peerRecovery, resend bool) {
	if pr.Match < max(st.target, st.fence.index) || r.raftLog.committed < st.fence.index {
		return
	}
	if st.confirmed && !resend {
		return
	}
	st.confirmed = true
	r.sendRecoveryOk(id, pr, st)
}

// sendRecoveryOk sends peer id the heartbeat that confirms its fence.
func (r *raft) sendRecoveryOk(id uint64, pr *progress.Progress, st *peerRecovery) {
	commit := min(pr.Match, r.raftLog.committed)
	r.send(pb.Message{To: id, Type: pb.MsgHeartbeat, Commit: commit,
		Context: encodeRecoveryOk(st.nonce), Index: st.fence.index, LogTerm: st.fence.term})
	pr.SentCommit(commit)
}
