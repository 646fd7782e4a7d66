package raft

import (
	"sync/atomic"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// Metrics counts and measures what a raft group does, for operators' graphs:
// elections, leader changes, indexes, proposals, messages, follower states,
// snapshots, reads and Readies. Set it in Config.Metrics; with none set, the
// library counts nothing and pays one nil check per event.
//
// The raft updates a Metrics on the goroutine that drives it (atomic stores,
// no locks, no allocation); Snapshot may be called from any goroutine at
// any time, for example by a metrics endpoint. The zero value is ready to
// use. Docs/design/observability.md lists every metric, where it is counted
// and the names the Prometheus adapter (contrib/prometheus) gives them.
//
// Give each group its own Metrics: counters of several groups can be summed
// afterwards (MetricsSnapshot.Add), but the gauges (term, indexes, state,
// followers) describe one group and would be overwritten by each.
type Metrics struct {
	electionsStarted [numElectionKinds]atomic.Uint64
	electionsWon     [numElectionKinds]atomic.Uint64
	electionsLost    [numElectionKinds]atomic.Uint64
	leaderChanges    atomic.Uint64

	term      atomic.Uint64
	state     atomic.Uint64
	lead      atomic.Uint64
	commit    atomic.Uint64
	applied   atomic.Uint64
	persisted atomic.Uint64
	last      atomic.Uint64

	proposalsAccepted atomic.Uint64
	proposalsDropped  [numDropReasons]atomic.Uint64

	sent                    [numMessageTypes]atomic.Uint64
	received                [numMessageTypes]atomic.Uint64
	appendsRejectedSent     atomic.Uint64
	appendsRejectedReceived atomic.Uint64

	followers       [numFollowerStates]atomic.Uint64
	followersPaused atomic.Uint64

	snapshotsSent     atomic.Uint64
	snapshotsReceived atomic.Uint64
	snapshotsFailed   atomic.Uint64

	readsServed    atomic.Uint64
	readLatency    [len(ReadIndexLatencyBuckets) + 1]atomic.Uint64
	readLatencySum atomic.Uint64

	readies               atomic.Uint64
	readyEntries          atomic.Uint64
	readyEntryBytes       atomic.Uint64
	readyCommittedEntries atomic.Uint64
	readyMessages         atomic.Uint64

	confChangesApplied atomic.Uint64
}

// numMessageTypes bounds the message types counted: MsgHup .. MsgForgetLeader.
const numMessageTypes = int(pb.MsgForgetLeader) + 1

// ElectionKind is the kind of an election a node runs.
type ElectionKind uint8

// The kinds of election.
const (
	// ElectionPreVote is the pre-election phase (Config.PreVote): it wins
	// when a quorum would vote, and leads to an ElectionVote.
	ElectionPreVote ElectionKind = iota
	// ElectionVote is a real election, which raises the term.
	ElectionVote
	// ElectionTransfer is a real election forced by a leadership transfer.
	ElectionTransfer
	numElectionKinds
)

var electionKindNames = [numElectionKinds]string{"pre_vote", "vote", "transfer"}

// String returns the kind's label: "pre_vote", "vote" or "transfer".
func (k ElectionKind) String() string {
	if k < numElectionKinds {
		return electionKindNames[k]
	}
	return "unknown"
}

func electionKindOf(t CampaignType) ElectionKind {
	switch t {
	case campaignPreElection:
		return ElectionPreVote
	case campaignTransfer:
		return ElectionTransfer
	default:
		return ElectionVote
	}
}

// DropReason says why a proposal was dropped with ErrProposalDropped.
type DropReason uint8

// The reasons a proposal is dropped.
const (
	// DropNoLeader: a follower or candidate knows no leader to forward to.
	DropNoLeader DropReason = iota
	// DropTransferPending: the leader is handing over leadership.
	DropTransferPending
	// DropUncommittedLimit: Config.MaxUncommittedEntriesSize is reached.
	DropUncommittedLimit
	// DropConfChangeRefused: a conf change in the proposal failed the
	// leader's validation (or could not be decoded).
	DropConfChangeRefused
	// DropForwardingDisabled: Config.DisableProposalForwarding is set and
	// this node is not the leader.
	DropForwardingDisabled
	// DropNotMember: the leader was removed from its own configuration.
	DropNotMember
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"no_leader", "transfer_pending", "uncommitted_limit", "conf_change_refused",
	"forwarding_disabled", "not_member",
}

// String returns the reason's label, such as "no_leader".
func (d DropReason) String() string {
	if d < numDropReasons {
		return dropReasonNames[d]
	}
	return "unknown"
}

// numFollowerStates is the number of progress states: probe, replicate,
// snapshot.
const numFollowerStates = 3

// ReadIndexLatencyBuckets are the upper bounds, in ticks, of the buckets of
// the ReadIndex latency histogram; a last bucket holds the rest.
var ReadIndexLatencyBuckets = [...]uint64{0, 1, 2, 5, 10, 20, 50}

// MetricsSnapshot is a copy of the values of a Metrics at one moment.
// Arrays are indexed by ElectionKind, DropReason, pb.MessageType and
// progress.StateType.
type MetricsSnapshot struct {
	// ElectionsStarted, ElectionsWon and ElectionsLost count the elections
	// this node ran, by kind. An election is lost when the node leaves it
	// other than by winning: a quorum refused, it heard from a leader or a
	// higher term, or it timed out and started another. Started = won +
	// lost + at most one in progress.
	ElectionsStarted, ElectionsWon, ElectionsLost [numElectionKinds]uint64
	// LeaderChanges counts the times this node learned of a new leader
	// (including itself), sampled at each Ready.
	LeaderChanges uint64

	// Term, State and Lead are the node's term, role and known leader;
	// CommitIndex, AppliedIndex, PersistedIndex and LastIndex its log
	// cursors (PersistedIndex: the last entry known durable). Gauges, as of
	// the last Ready or Advance.
	Term           uint64
	State          StateType
	Lead           uint64
	CommitIndex    uint64
	AppliedIndex   uint64
	PersistedIndex uint64
	LastIndex      uint64

	// ProposalsAccepted counts the proposals a leader appended to its log
	// (its own and those forwarded to it). ProposalsDropped counts those
	// dropped with ErrProposalDropped, by reason, on the node that dropped
	// them.
	ProposalsAccepted uint64
	ProposalsDropped  [numDropReasons]uint64

	// MessagesSent and MessagesReceived count the messages exchanged with
	// peers, by type (local messages and those to or from this node itself
	// are not counted). AppendsRejectedSent counts the appends this node
	// refused as a follower; AppendsRejectedReceived the refusals it got as
	// leader.
	MessagesSent            [numMessageTypes]uint64
	MessagesReceived        [numMessageTypes]uint64
	AppendsRejectedSent     uint64
	AppendsRejectedReceived uint64

	// Followers counts, on a leader, the other members of the
	// configuration by progress state (probe, replicate, snapshot), and
	// FollowersPaused those to which sending is paused. Zero on others.
	// Updated at each tick.
	Followers       [numFollowerStates]uint64
	FollowersPaused uint64

	// SnapshotsSent counts the snapshots sent to followers,
	// SnapshotsReceived those received from a leader, SnapshotsFailed the
	// failures reported by the application (ReportSnapshot).
	SnapshotsSent     uint64
	SnapshotsReceived uint64
	SnapshotsFailed   uint64

	// ReadsServed counts the ReadIndex requests a leader answered.
	// ReadLatency counts them by latency in ticks, from the start of the
	// request's heartbeat round to its answer, in the buckets of
	// ReadIndexLatencyBuckets (not cumulative; the last one is the rest);
	// ReadLatencySum is the sum of the latencies.
	ReadsServed    uint64
	ReadLatency    [len(ReadIndexLatencyBuckets) + 1]uint64
	ReadLatencySum uint64

	// Readies counts the Readies handed out; ReadyEntries,
	// ReadyEntryBytes (payload bytes), ReadyCommittedEntries and
	// ReadyMessages sum what they carried.
	Readies               uint64
	ReadyEntries          uint64
	ReadyEntryBytes       uint64
	ReadyCommittedEntries uint64
	ReadyMessages         uint64

	// ConfChangesApplied counts the calls of ApplyConfChange with a change.
	ConfChangesApplied uint64
}

// Snapshot returns the current values. It is safe to call concurrently with
// the raft that updates m; values are read one by one, not atomically as a
// whole.
func (m *Metrics) Snapshot() MetricsSnapshot {
	var s MetricsSnapshot
	for k := range s.ElectionsStarted {
		s.ElectionsStarted[k] = m.electionsStarted[k].Load()
		s.ElectionsWon[k] = m.electionsWon[k].Load()
		s.ElectionsLost[k] = m.electionsLost[k].Load()
	}
	s.LeaderChanges = m.leaderChanges.Load()
	s.Term = m.term.Load()
	s.State = StateType(m.state.Load())
	s.Lead = m.lead.Load()
	s.CommitIndex = m.commit.Load()
	s.AppliedIndex = m.applied.Load()
	s.PersistedIndex = m.persisted.Load()
	s.LastIndex = m.last.Load()
	s.ProposalsAccepted = m.proposalsAccepted.Load()
	for d := range s.ProposalsDropped {
		s.ProposalsDropped[d] = m.proposalsDropped[d].Load()
	}
	for t := range s.MessagesSent {
		s.MessagesSent[t] = m.sent[t].Load()
		s.MessagesReceived[t] = m.received[t].Load()
	}
	s.AppendsRejectedSent = m.appendsRejectedSent.Load()
	s.AppendsRejectedReceived = m.appendsRejectedReceived.Load()
	for st := range s.Followers {
		s.Followers[st] = m.followers[st].Load()
	}
	s.FollowersPaused = m.followersPaused.Load()
	s.SnapshotsSent = m.snapshotsSent.Load()
	s.SnapshotsReceived = m.snapshotsReceived.Load()
	s.SnapshotsFailed = m.snapshotsFailed.Load()
	s.ReadsServed = m.readsServed.Load()
	for b := range s.ReadLatency {
		s.ReadLatency[b] = m.readLatency[b].Load()
	}
	s.ReadLatencySum = m.readLatencySum.Load()
	s.Readies = m.readies.Load()
	s.ReadyEntries = m.readyEntries.Load()
	s.ReadyEntryBytes = m.readyEntryBytes.Load()
	s.ReadyCommittedEntries = m.readyCommittedEntries.Load()
	s.ReadyMessages = m.readyMessages.Load()
	s.ConfChangesApplied = m.confChangesApplied.Load()
	return s
}

// Add adds the counters of o to s, for a total over several groups. The
// gauges that describe one group (Term, State, Lead and the indexes) are
// left as they are; Followers and FollowersPaused are summed.
func (s *MetricsSnapshot) Add(o *MetricsSnapshot) {
	for k := range s.ElectionsStarted {
		s.ElectionsStarted[k] += o.ElectionsStarted[k]
		s.ElectionsWon[k] += o.ElectionsWon[k]
		s.ElectionsLost[k] += o.ElectionsLost[k]
	}
	s.LeaderChanges += o.LeaderChanges
	s.ProposalsAccepted += o.ProposalsAccepted
	for d := range s.ProposalsDropped {
		s.ProposalsDropped[d] += o.ProposalsDropped[d]
	}
	for t := range s.MessagesSent {
		s.MessagesSent[t] += o.MessagesSent[t]
		s.MessagesReceived[t] += o.MessagesReceived[t]
	}
	s.AppendsRejectedSent += o.AppendsRejectedSent
	s.AppendsRejectedReceived += o.AppendsRejectedReceived
	for st := range s.Followers {
		s.Followers[st] += o.Followers[st]
	}
	s.FollowersPaused += o.FollowersPaused
	s.SnapshotsSent += o.SnapshotsSent
	s.SnapshotsReceived += o.SnapshotsReceived
	s.SnapshotsFailed += o.SnapshotsFailed
	s.ReadsServed += o.ReadsServed
	for b := range s.ReadLatency {
		s.ReadLatency[b] += o.ReadLatency[b]
	}
	s.ReadLatencySum += o.ReadLatencySum
	s.Readies += o.Readies
	s.ReadyEntries += o.ReadyEntries
	s.ReadyEntryBytes += o.ReadyEntryBytes
	s.ReadyCommittedEntries += o.ReadyCommittedEntries
	s.ReadyMessages += o.ReadyMessages
	s.ConfChangesApplied += o.ConfChangesApplied
}

// The hooks below are what the state machine calls. Each is a nil check
// that inlines; the counting itself lives in the Metrics methods, out of
// line, so that a raft without metrics pays one load and one branch.

// metrics returns the configured Metrics, or nil.
func (r *raft) metrics() *Metrics {
	if r.rareOn&rareMetrics == 0 {
		return nil
	}
	return r.rare.metrics
}

// observeCampaign records the start of an election of type t, and the
// outcome of the election it replaces, if any.
func observeCampaign(r *raft, t CampaignType) {
	if mx := r.metrics(); mx != nil {
		mx.campaign(r, t)
	}
}

func (m *Metrics) campaign(r *raft, t CampaignType) {
	switch {
	case r.state == StatePreCandidate && t == campaignElection:
		m.electionsWon[ElectionPreVote].Add(1)
	case r.state == StatePreCandidate:
		m.electionsLost[ElectionPreVote].Add(1)
	case r.state == StateCandidate:
		m.electionsLost[r.rare.election].Add(1)
	}
	k := electionKindOf(t)
	r.rare.election = k
	m.electionsStarted[k].Add(1)
}

// observeBecome records a change of role to st, before it happens: the end
// of an election.
func observeBecome(r *raft, st StateType) {
	if mx := r.metrics(); mx != nil {
		mx.become(r, st)
	}
}

func (m *Metrics) become(r *raft, st StateType) {
	switch {
	case st == StateLeader && r.state == StateCandidate:
		m.electionsWon[r.rare.election].Add(1)
	case st == StateFollower && r.state == StatePreCandidate:
		m.electionsLost[ElectionPreVote].Add(1)
	case st == StateFollower && r.state == StateCandidate:
		m.electionsLost[r.rare.election].Add(1)
	}
}

// observeSend records a message queued for a peer.
func observeSend(r *raft, msg *pb.Message) {
	if r.rareOn&rareMetrics != 0 {
		observeSendOn(r, msg)
	}
}

// observeSendOn is observeSend when it is on.
func observeSendOn(r *raft, msg *pb.Message) {
	if mx := r.metrics(); mx != nil && msg.To != r.id {
		mx.send(msg)
	}
}

func (m *Metrics) send(msg *pb.Message) {
	if int(msg.Type) < numMessageTypes {
		m.sent[msg.Type].Add(1)
	}
	switch {
	case msg.Type == pb.MsgSnap:
		m.snapshotsSent.Add(1)
	case msg.Type == pb.MsgAppResp && msg.Reject:
		m.appendsRejectedSent.Add(1)
	}
}

// observeReceive records a message about to be stepped.
func observeReceive(r *raft, msg *pb.Message) {
	if r.rareOn&rareMetrics != 0 {
		observeReceiveOn(r, msg)
	}
}

// observeReceiveOn is observeReceive when it is on.
func observeReceiveOn(r *raft, msg *pb.Message) {
	if mx := r.metrics(); mx != nil && msg.From != r.id {
		mx.receive(msg)
	}
}

func (m *Metrics) receive(msg *pb.Message) {
	switch msg.Type {
	case pb.MsgSnapStatus:
		// Local: the application's report on a snapshot it sent.
		if msg.Reject {
			m.snapshotsFailed.Add(1)
		}
		return
	case pb.MsgSnap:
		m.snapshotsReceived.Add(1)
	case pb.MsgAppResp:
		if msg.Reject {
			m.appendsRejectedReceived.Add(1)
		}
	}
	if !IsLocalMsg(msg.Type) && int(msg.Type) < numMessageTypes {
		m.received[msg.Type].Add(1)
	}
}

// observeDrop records a proposal dropped for reason d.
func observeDrop(r *raft, d DropReason) {
	if mx := r.metrics(); mx != nil {
		mx.proposalsDropped[d].Add(1)
	}
}

// observePropose records a proposal a leader appended.
func observePropose(r *raft) {
	if mx := r.metrics(); mx != nil {
		mx.proposalsAccepted.Add(1)
	}
}

// observeTick advances the metrics clock and, on a leader, recounts the
// followers by state.
func observeTick(r *raft) {
	if mx := r.metrics(); mx != nil {
		mx.tick(r)
	}
}

func (m *Metrics) tick(r *raft) {
	r.rare.ticks++
	var n [numFollowerStates]uint64
	var paused uint64
	if r.state == StateLeader {
		r.trk.Visit(func(id uint64, pr *progress.Progress) {
			if id == r.id {
				return
			}
			if int(pr.State) < numFollowerStates {
				n[pr.State]++
			}
			if pr.IsPaused() {
				paused++
			}
		})
	}
	for st := range n {
		m.followers[st].Store(n[st])
	}
	m.followersPaused.Store(paused)
}

// observeReadStart stamps the latest pending read with the metrics clock.
func observeReadStart(r *raft, ro *readOnly) {
	if r.metrics() != nil && len(ro.pending) > 0 {
		ro.pending[len(ro.pending)-1].tick = r.rare.ticks
	}
}

// observeReadServed records a read answered after a heartbeat round that
// started at tick start (the current tick for a read answered at once).
func observeReadServed(r *raft, start uint64) {
	if mx := r.metrics(); mx != nil {
		mx.readServed(r.rare.ticks - min(start, r.rare.ticks))
	}
}

// observeReadNow records a read answered at once.
func observeReadNow(r *raft) {
	if mx := r.metrics(); mx != nil {
		mx.readServed(0)
	}
}

func (m *Metrics) readServed(ticks uint64) {
	m.readsServed.Add(1)
	m.readLatencySum.Add(ticks)
	b := len(ReadIndexLatencyBuckets)
	for i, le := range ReadIndexLatencyBuckets {
		if ticks <= le {
			b = i
			break
		}
	}
	m.readLatency[b].Add(1)
}

// observeReady records a Ready handed out, and the state it reflects.
func observeReady(r *raft, rd *Ready) {
	if r.rareOn&rareMetrics != 0 {
		observeReadyOn(r, rd)
	}
}

// observeReadyOn is observeReady when it is on.
func observeReadyOn(r *raft, rd *Ready) {
	if mx := r.metrics(); mx != nil {
		mx.ready(r, rd)
	}
}

func (m *Metrics) ready(r *raft, rd *Ready) {
	m.readies.Add(1)
	m.readyEntries.Add(uint64(len(rd.Entries)))
	m.readyEntryBytes.Add(payloadsSize(rd.Entries))
	m.readyCommittedEntries.Add(uint64(len(rd.CommittedEntries)))
	m.readyMessages.Add(uint64(len(rd.Messages)))
	m.gauges(r)
}

// observeState records the gauges of r: term, role, leader, indexes.
func observeState(r *raft) {
	if r.rareOn&rareMetrics != 0 {
		observeStateOn(r)
	}
}

// observeStateOn is observeState when it is on.
func observeStateOn(r *raft) {
	if mx := r.metrics(); mx != nil {
		mx.gauges(r)
	}
}

func (m *Metrics) gauges(r *raft) {
	if r.lead != None && r.lead != r.rare.lead {
		r.rare.lead = r.lead
		m.leaderChanges.Add(1)
	}
	m.term.Store(r.Term)
	m.state.Store(uint64(r.state))
	m.lead.Store(r.lead)
	m.commit.Store(r.raftLog.committed)
	m.applied.Store(r.raftLog.applied)
	m.persisted.Store(min(r.raftLog.unstable.offset-1, r.raftLog.lastIndex()))
	m.last.Store(r.raftLog.lastIndex())
}

// observeConfChange records a conf change applied.
func observeConfChange(r *raft) {
	if mx := r.metrics(); mx != nil {
		mx.confChangesApplied.Add(1)
	}
}
