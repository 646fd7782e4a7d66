package raft

import (
	"time"

	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// The leader lease of ReadOnlyLeaseBased (docs/design/lease.md).
//
// A follower that heard from its leader refuses the votes of a higher term
// for at least ElectionTick-1 of its ticks (the in-lease rule in Step). So
// once a quorum acknowledged a heartbeat that the leader sent at time s, no
// other leader can exist before s + (ElectionTick-1) follower ticks. The
// lease is the part of that window the leader can vouch for with its own
// clocks: L = ElectionTick-1-LeaseDriftTicks of its ticks, and L *
// TickInterval of real time, both counted from the send. A read is answered
// at once only inside both; otherwise it takes the safe heartbeat round, so
// a lease read is never stale, only sometimes slower.
//
// Heartbeats are matched to their sends through the read rounds of
// read_only.go: a lease leader puts a fresh round in every heartbeat it
// sends and remembers when it sent it; followers (etcd raft's too) echo the
// round in their responses.

// leaseMutation, when not zero, breaks one rule of the lease on purpose:
// the simulation's mutation checks (lease_sim_test.go) set it to show that
// they catch the stale reads that follow. Always zero outside those tests.
var leaseMutation leaseMut

// leaseMut names a rule that leaseMutation breaks.
type leaseMut int

const (
	mutNone leaseMut = iota
	// mutNoMargin makes the lease ElectionTick long: no drift margin, and
	// the tick of phase between follower and leader ignored.
	mutNoMargin
	// mutRearmOnAbort serves lease reads again once a transfer is
	// abandoned, although its MsgTimeoutNow was sent.
	mutRearmOnAbort
	// mutReceiptTime measures the lease from the arrival of the
	// acknowledgements instead of the send of the heartbeat.
	mutReceiptTime
	// mutNoConfReset keeps the lease across an applied conf change.
	mutNoConfReset
	// mutNoQuarantine lets a restarted node vote and campaign at once.
	mutNoQuarantine
	// mutTicksOnly bounds the lease by ticks only, not by the clock.
	mutTicksOnly
	// mutEtcd is etcd raft v3.6's implicit lease: any leader that
	// committed in its term answers at once.
	mutEtcd
	// mutFollowerTicksOnly bounds a follower's promise by its ticks only,
	// not by its clock: ticks held back and delivered in a bunch after a
	// heartbeat then end the promise early.
	mutFollowerTicksOnly
	// mutRecentActive counts any append or heartbeat response from a
	// peer as its acknowledgement of the newest round sent, as etcd's
	// RecentActive does: a response sent before that round reached the
	// peer (a late append response, a heartbeat response echoing an older
	// round) then dates the lease later than any promise the peer made.
	mutRecentActive
	// mutPromisePerTerm ends a follower's promise at every change of its
	// term or role, as etcd's in-lease check does by looking at the
	// current leader: a message of a later term that no leader sent (a
	// late rejection of the node's own pre-vote) then frees it to vote at
	// once.
	mutPromisePerTerm
)

// maxLeaseRounds bounds the sent rounds a lease leader remembers while
// waiting for their acknowledgement. When it is full the oldest is
// forgotten; an acknowledgement of a forgotten round is then credited to the
// send of an earlier remembered one, or not at all: the lease only gets
// shorter.
const maxLeaseRounds = 64

// leaseRound is a heartbeat round a lease leader sent: its read round
// number, and the leader's tick count and clock reading at the send.
type leaseRound struct {
	seq  uint64
	tick int64
	at   time.Time
}

// leaderLease is the lease state of a node configured ReadOnlyLeaseBased,
// hung off raft.rare: nodes in ReadOnlySafe have none and pay nothing. The
// settings are fixed at start; the leader's state is cleared at every
// change of role or term (reset). Only the raft's goroutine touches it.
type leaderLease struct {
	// length is L, the lease length in ticks; zero or less disables lease
	// reads (every read takes the safe round).
	length int
	// span is L * TickInterval, the lease length in real time; zero
	// disables lease reads.
	span time.Duration
	// clock reads the time (Config.Clock, time.Now by default).
	clock func() time.Time
	// electionTimeout is the node's ElectionTick: the length of the
	// restart quarantine.
	electionTimeout int
	// quarantined is set at a restart (a non-empty HardState) and cleared
	// once ticks reaches electionTimeout: until then the node neither votes
	// (except in a transfer) nor campaigns (rule 10).
	quarantined bool

	// ticks counts every tick of this node since it started, in any role.
	ticks int64

	// The follower's state: the promise it keeps to the leader it last
	// heard from. Unlike the leader's state it outlives changes of term
	// and role (rule 11): a message of a later term that no leader sent
	// (a late rejection of the node's own pre-vote, say) leaves the node
	// with no leader, but the leader it heard from may still hold a lease
	// on its acknowledgement.

	// promise is (ElectionTick-1) * TickInterval: how long after hearing
	// from its leader, on its clock, a follower refuses to help elect
	// another (rule 8); zero without TickInterval, which leaves only the
	// ticks to bound it.
	promise time.Duration
	// heard is the clock reading when this node last heard from a leader
	// (with promise set); heardTick is ticks then; heardAny tells
	// whether it ever heard from one since it started.
	heard     time.Time
	heardTick int64
	heardAny  bool

	// The leader's state, for the current term.

	// rounds are the heartbeat rounds sent and not yet superseded by an
	// acknowledged one, in ascending order.
	rounds []leaseRound
	// minSeq is the first round that counts: rounds sent before the last
	// configuration change was applied do not.
	minSeq uint64
	// start is the send of the highest round a quorum acknowledged; its
	// seq is 0 while there is none.
	start leaseRound
	// transferred is set when this leader sent MsgTimeoutNow: no lease
	// read for the rest of the term, since the transferee may win at any
	// later time, even after the transfer was abandoned (rule 5).
	transferred bool
	// active holds, per peer, the newest round sent when a response of
	// the peer last arrived; used only by the mutation mutRecentActive.
	active map[uint64]uint64
}

// initLease sets up the lease of a node configured ReadOnlyLeaseBased. It
// runs at the end of init, once the stored state is loaded.
func (r *raft) initLease(cfg *Config) {
	drift := cfg.LeaseDriftTicks
	if drift == 0 {
		drift = (cfg.ElectionTick + 9) / 10
	}
	l := &leaderLease{
		length:          cfg.ElectionTick - 1 - drift,
		clock:           cfg.Clock,
		electionTimeout: cfg.ElectionTick,
		quarantined:     r.Term > 0 && leaseMutation != mutNoQuarantine,
	}
	if leaseMutation == mutNoMargin {
		l.length = cfg.ElectionTick
	}
	if l.clock == nil {
		l.clock = time.Now
	}
	if cfg.TickInterval > 0 && leaseMutation != mutFollowerTicksOnly {
		l.promise = time.Duration(cfg.ElectionTick-1) * cfg.TickInterval
	}
	switch {
	case cfg.TickInterval <= 0:
		r.logger.Warningf("%x: ReadOnlyLeaseBased without Config.TickInterval: the lease cannot be bounded in real time, every read takes the safe heartbeat round", r.id)
	case l.length <= 0:
		r.logger.Warningf("%x: ElectionTick %d leaves no lease after the drift margin of %d ticks: every read takes the safe heartbeat round", r.id, cfg.ElectionTick, drift)
	case cfg.DisableConfChangeValidation:
		r.logger.Warningf("%x: ReadOnlyLeaseBased with DisableConfChangeValidation: configurations may change more than one voter at a time, every read takes the safe heartbeat round", r.id)
	default:
		l.span = time.Duration(l.length) * cfg.TickInterval
	}
	r.rareSettings().lease = l
	r.syncRareOn()
}

// lease returns the node's lease state, or nil in ReadOnlySafe.
func (r *raft) lease() *leaderLease {
	if r.rareOn&rareLease == 0 {
		return nil
	}
	return r.rare.lease
}

// tickLease advances the lease's tick count; it ends the restart
// quarantine after an election timeout.
func (l *leaderLease) tick() {
	l.ticks++
	if l.quarantined && l.ticks >= int64(l.electionTimeout) {
		l.quarantined = false
	}
}

// resetLease clears the leader's lease state: at every change of role or
// term, so that a lease never outlives the leadership it was earned by.
func (r *raft) resetLease() {
	l := r.lease()
	if l == nil {
		return
	}
	l.rounds = l.rounds[:0]
	l.minSeq = 0
	l.start = leaseRound{}
	l.transferred = false
	clear(l.active)
	if leaseMutation == mutPromisePerTerm {
		l.heard, l.heardAny = time.Time{}, false
	}
}

// leaseHeard records, on a node in lease mode, that it just heard from the
// leader of its term: its promise to that leader starts again, on its
// ticks as on its clock.
func (r *raft) leaseHeard() {
	if l := r.lease(); l != nil {
		l.heardTick, l.heardAny = l.ticks, true
		if l.promise > 0 {
			l.heard = l.clock()
		}
	}
}

// promised returns why this node, in lease mode, is still inside the
// promise it made when it last heard from a leader, or "" once it is
// over: an election timeout of its ticks, and (ElectionTick-1) *
// TickInterval on its clock, must have passed since. The ticks alone do
// not bound the promise: ticks held back (a stalled tick loop, a full tick
// channel) and delivered in a bunch after a heartbeat would end it at
// once, while the leader's lease, earned by that heartbeat, still runs
// (rule 8). Neither does the node's current term, role or leader, which a
// message of a later term changes without ending that lease (rule 11).
func (l *leaderLease) promised() string {
	switch {
	case l == nil || !l.heardAny:
		return ""
	case l.ticks-l.heardTick < int64(l.electionTimeout):
		return "it heard from a leader less than an election timeout of its ticks ago"
	case l.promise > 0 && l.clock().Sub(l.heard) < l.promise:
		return "its clock says it is inside the lease of the leader it last heard from"
	}
	return ""
}

// resetLeaseOnConfChange drops the lease when a configuration is applied:
// only rounds sent from now on, acknowledged by a quorum of the new
// configuration, can earn it again.
func (r *raft) resetLeaseOnConfChange() {
	l := r.lease()
	if l == nil || leaseMutation == mutNoConfReset {
		return
	}
	l.rounds = l.rounds[:0]
	l.start = leaseRound{}
	l.minSeq = 1
	if r.readOnly != nil {
		l.minSeq = r.readOnly.seq + 1
	}
}

// leaseOn reports whether this node earns leases at all: it is configured
// ReadOnlyLeaseBased and its configuration admits a lease (TickInterval
// set, a positive length).
func (l *leaderLease) on() bool { return l != nil && l.span > 0 }

// heartbeatCtx returns the Context of a heartbeat broadcast: on a lease
// leader a fresh read round, recorded with its send tick and time (a
// pending safe read is confirmed by it as well, being older); otherwise the
// newest pending safe-read round, if any.
func (r *raft) heartbeatCtx() []byte {
	if l := r.lease(); l.on() {
		ro := r.reads()
		ro.seq++
		ro.recvAck(r.id, ro.seq)
		r.leaseSent(ro.seq)
		return encodeReadRound(ro.seq)
	}
	return r.readOnly.lastPendingCtx()
}

// leaseSent records that round seq is being sent now.
func (r *raft) leaseSent(seq uint64) {
	l := r.lease()
	if !l.on() || r.state != StateLeader {
		return
	}
	if len(l.rounds) == maxLeaseRounds {
		n := copy(l.rounds, l.rounds[1:])
		l.rounds = l.rounds[:n]
	}
	l.rounds = append(l.rounds, leaseRound{seq: seq, tick: l.ticks, at: l.clock()})
}

// leaseAcked extends the lease to the send of round confirmed, which a
// quorum of the current configuration acknowledged.
func (r *raft) leaseAcked(confirmed uint64) {
	l := r.lease()
	if !l.on() || confirmed < l.minSeq || confirmed <= l.start.seq {
		return
	}
	// The latest remembered round at or before confirmed: its send is no
	// later than confirmed's.
	i := len(l.rounds)
	for i > 0 && l.rounds[i-1].seq > confirmed {
		i--
	}
	if i == 0 {
		return
	}
	l.start = l.rounds[i-1]
	if leaseMutation == mutReceiptTime {
		l.start.tick, l.start.at = l.ticks, l.clock()
	}
	n := copy(l.rounds, l.rounds[i:])
	l.rounds = l.rounds[:n]
}

// leaseRecentActive is the mutation mutRecentActive: a response from peer
// id, whatever it answers, is taken as its acknowledgement of the newest
// round this leader sent, and the lease extended to that round's send if a
// quorum is then covered. The real rule counts only the round echoed in a
// heartbeat response (handleHeartbeatResponse).
func (r *raft) leaseRecentActive(id uint64) {
	l, ro := r.lease(), r.readOnly
	if !l.on() || r.state != StateLeader || ro == nil || ro.seq == 0 {
		return
	}
	if l.active == nil {
		l.active = make(map[uint64]uint64)
	}
	l.active[id] = max(l.active[id], ro.seq)
	r.leaseAcked(uint64(r.trk.Voters.CommittedIndex(activeAcks{ro, l.active})))
}

// activeAcks is the quorum.AckedIndexer of mutRecentActive: per peer, the
// higher of the round it echoed and the round credited to its activity.
type activeAcks struct {
	ro     *readOnly
	active map[uint64]uint64
}

// AckedIndex implements quorum.AckedIndexer.
func (a activeAcks) AckedIndex(id uint64) (quorum.Index, bool) {
	echoed, ok := a.ro.acks[id]
	credited, ok2 := a.active[id]
	return quorum.Index(max(echoed, credited)), ok || ok2
}

// leaseValid reports whether this node may answer a read at once under its
// lease: it is a leader that committed in its term, a voter of its
// configuration, sent no MsgTimeoutNow this term, and a quorum acknowledged
// a round it sent less than L ticks and L*TickInterval ago. The clock is
// read only when every other condition holds.
func (r *raft) leaseValid() bool {
	l := r.lease()
	if leaseMutation == mutEtcd {
		return r.state == StateLeader && r.committedEntryInCurrentTerm()
	}
	transferred := l != nil && l.transferred
	if leaseMutation == mutRearmOnAbort && r.leadTransferee == None {
		transferred = false
	}
	if !l.on() || r.state != StateLeader || transferred || l.start.seq == 0 ||
		l.ticks-l.start.tick >= int64(l.length) ||
		!r.isVoter(r.id) || !r.committedEntryInCurrentTerm() {
		return false
	}
	return leaseMutation == mutTicksOnly || l.clock().Sub(l.start.at) < l.span
}

// leaseTimeoutNow is called as this leader sends MsgTimeoutNow: it ends
// lease reads for the term and fills the message's Index and LogTerm with
// the last entry, so that a raftkit transferee can refuse it once the log
// moved on (etcd raft leaves them zero and ignores them).
func (r *raft) leaseTimeoutNow(m *pb.Message) {
	l := r.lease()
	if l == nil {
		return
	}
	l.transferred = true
	last := r.raftLog.lastEntryID()
	m.Index, m.LogTerm = last.index, last.term
}

// refuseTimeoutNow returns why a node in lease mode refuses m, a
// MsgTimeoutNow, or "" to accept it. Only the leader of the term may ask
// for a transfer, and only while the receiver's log ends where the
// leader's did when it asked: a late one, from a transfer the leader
// abandoned, must not depose it (tikv/raft-rs#234).
func (r *raft) refuseTimeoutNow(m *pb.Message) string {
	if r.lease() == nil {
		return ""
	}
	if m.From != r.lead {
		return "not from the leader"
	}
	if m.Index != 0 {
		if last := r.raftLog.lastEntryID(); last.index != m.Index || last.term != m.LogTerm {
			return "the log moved on since it was sent"
		}
	}
	return ""
}

// leaseRefusesVote returns why this node, in lease mode, must refuse a
// (pre-)vote that is not a transfer's beyond etcd raft's in-lease rule,
// or "": during the restart quarantine, when it cannot know whose lease it
// granted, and inside the promise it made when it last heard from a
// leader, whatever its term and leader are now.
func (r *raft) leaseRefusesVote() string {
	l := r.lease()
	switch {
	case l == nil:
		return ""
	case l.quarantined:
		return "it restarted less than an election timeout ago"
	}
	return l.promised()
}

// leaseRefusesCampaign returns why a node in lease mode must not start an
// election on MsgHup, or "": inside the lease it grants its leader, by its
// ticks or its clock, or during the restart quarantine. The election timer
// (byTimer) fires only at or after ElectionTick ticks since the node last
// heard from a leader, and has reset electionElapsed already; but ticks
// delivered in a bunch may make it fire before the clock says the promise
// is over, and then it is refused too. A transfer starts its election from
// MsgTimeoutNow, not MsgHup.
func (r *raft) leaseRefusesCampaign(byTimer bool) string {
	l := r.lease()
	switch {
	case l == nil:
		return ""
	case l.quarantined:
		return "it restarted less than an election timeout ago"
	case !byTimer && r.state == StateFollower && r.lead != None && r.electionElapsed < r.electionTimeout:
		return "it is inside the lease of its leader"
	}
	return l.promised()
}
