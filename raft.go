package raft

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/raftkit/raft/confchange"
	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// None is a placeholder node ID used when there is no leader or no vote.
const None uint64 = 0

// LocalAppendThread is the target of MsgStorageAppend messages in
// asynchronous storage mode: the application's log-writing worker.
const LocalAppendThread uint64 = math.MaxUint64

// LocalApplyThread is the target of MsgStorageApply messages in asynchronous
// storage mode: the application's state-machine worker.
const LocalApplyThread uint64 = math.MaxUint64 - 1

// noLimit stands for "unlimited" in the size settings.
const noLimit = math.MaxUint64

// maxTerm and maxIndex are the largest term and index a message may carry.
// math.MaxUint64 is never valid: an entry there would have no successor
// index (a follower's next index would overflow to 0), and a term there
// would leave no term for the next election. A message that carries it is
// refused as malformed (checkMessage). A node at maxTerm, reachable only
// through a message at that term, keeps following but cannot campaign.
const (
	maxTerm  = math.MaxUint64 - 1
	maxIndex = math.MaxUint64 - 1
)

// StateType is the role of a node: follower, candidate, leader or
// pre-candidate.
type StateType uint64

// The roles a node can take.
const (
	StateFollower StateType = iota
	StateCandidate
	StateLeader
	StatePreCandidate
	numStates
)

var stateNames = [numStates]string{
	"StateFollower",
	"StateCandidate",
	"StateLeader",
	"StatePreCandidate",
}

// String returns the name of the role, such as "StateLeader".
func (st StateType) String() string {
	if st < numStates {
		return stateNames[st]
	}
	return fmt.Sprintf("StateType(%d)", uint64(st))
}

// ReadOnlyOption selects how ReadIndex requests are served.
type ReadOnlyOption int

const (
	// ReadOnlySafe confirms leadership with a heartbeat round to a quorum
	// before answering a read: linearizable whatever the clocks do.
	ReadOnlySafe ReadOnlyOption = iota
	// ReadOnlyLeaseBased answers at once while the leader holds a lease: a
	// quorum acknowledged a heartbeat it sent less than
	// ElectionTick-1-LeaseDriftTicks ticks, and as many TickIntervals, ago,
	// and it has not asked another node to take over this term. Otherwise
	// the read takes the safe round of ReadOnlySafe. It needs CheckQuorum;
	// without Config.TickInterval every read takes the safe round. Unlike
	// etcd raft's, the lease never serves a stale read as long as tick rates
	// differ by less than the drift margin (docs/design/lease.md).
	ReadOnlyLeaseBased
)

// CampaignType names the kind of election a node runs. It also travels in
// the Context of vote requests of a leadership transfer.
type CampaignType string

const (
	// campaignPreElection is the first phase of an election when PreVote is
	// on: it asks for votes without raising the term.
	campaignPreElection CampaignType = "CampaignPreElection"
	// campaignElection is a normal election (or the second PreVote phase).
	campaignElection CampaignType = "CampaignElection"
	// campaignTransfer is an election forced by a leadership transfer; its
	// votes are granted even inside a leader lease.
	campaignTransfer CampaignType = "CampaignTransfer"
)

// ErrProposalDropped is returned when a proposal is ignored: there is no
// leader to forward it to, forwarding is disabled, a leadership transfer is
// in progress, the node is not in its own configuration, or the
// uncommitted-size limit is reached. Errors that refuse a proposal for a more
// specific reason wrap it, so errors.Is(err, ErrProposalDropped) holds.
var ErrProposalDropped = errors.New("raft proposal dropped")

// errBadMessage wraps every error that Step returns for a malformed message.
var errBadMessage = errors.New("raft: malformed message")

func badMessage(format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s", errBadMessage, fmt.Sprintf(format, args...))
}

// SoftState is the volatile part of a node's state: who leads and which role
// this node has. It need not be persisted.
type SoftState struct {
	// Lead is the leader this node knows of, or None.
	Lead uint64
	// RaftState is this node's role.
	RaftState StateType
}

func (a *SoftState) equal(b *SoftState) bool {
	return a.Lead == b.Lead && a.RaftState == b.RaftState
}

// ReadState answers a ReadIndex request: once the application has applied
// Index, reading its state machine is linearizable for the request that
// carried RequestCtx.
type ReadState struct {
	// Index is the commit index at which the read was confirmed.
	Index uint64
	// RequestCtx is the context the read was requested with.
	RequestCtx []byte
}

// randIntn returns a number in [0, n) drawn from crypto/rand.Reader, read at
// call time, so that a program that substitutes the reader gets reproducible
// elections. It is the draw of a raft whose Config.Rand is nil.
func randIntn(n int) int {
	var b [8]byte
	if _, err := io.ReadFull(crand.Reader, b[:]); err != nil {
		panic(fmt.Sprintf("raft: crypto/rand failed: %v", err))
	}
	return int(binary.LittleEndian.Uint64(b[:]) % uint64(n))
}

// sourceIntn returns the draw of a raft whose Config.Rand is src: a number
// in [0, n) made of the source's next Uint64 exactly as randIntn makes it
// of the next eight bytes of crypto/rand.Reader, so that a source that
// yields those bytes (little-endian) reproduces the elections of a run
// that substituted the reader.
func sourceIntn(src rand.Source) func(n int) int {
	return func(n int) int { return int(src.Uint64() % uint64(n)) }
}

// raft is the state machine of one node. It does no I/O: it consumes
// messages and ticks, and collects what must be persisted, sent and applied
// for RawNode to hand out.
//
// Fields are ordered so that the struct packs tightly (an idle group is
// mostly this struct); the state of rarer activities (reads) hangs off
// pointers that stay nil while unused.
type raft struct {
	id uint64

	Term uint64
	Vote uint64

	raftLog raftLog

	maxMsgSize uint64
	trk        progress.Tracker

	state StateType

	lead uint64
	// termLead is the leader of the current term, once this node knows it.
	// Unlike lead, it outlives becoming a pre-candidate and MsgForgetLeader:
	// they forget the leader, but cannot make another node leader of the
	// same term. Raft elects at most one leader per term, so appends,
	// heartbeats, snapshots and read index answers of this term from any
	// other node are forged or corrupt, and checkLeader drops them. None
	// until known; cleared when the term changes.
	termLead uint64
	// leadTransferee is the target of a leadership transfer in progress.
	leadTransferee uint64
	// pendingConfIndex is the index of the latest conf change that might be
	// in the log and unapplied; a new one is refused until applied reaches
	// it. A new leader sets it to its last index.
	pendingConfIndex uint64
	// uncommittedSize counts the payload bytes of the uncommitted tail, for
	// MaxUncommittedEntriesSize.
	uncommittedSize uint64

	// msgs are the messages to send at once (no durability needed).
	msgs []pb.Message
	// msgsAfterAppend are the messages that may only leave once the
	// unstable state of the current Ready is durable: vote and append
	// responses, including those addressed to this node itself.
	msgsAfterAppend []pb.Message
	// appSizes remembers the encoded size of the entries of appends still
	// queued in msgs, so that merging into them (mergeAppend) does not
	// measure their entries again. Emptied when msgs are handed out.
	appSizes []appendSize

	readStates []ReadState

	// readOnly holds a leader's pending ReadIndex requests and heartbeat
	// rounds. It is nil until the first read of the term.
	readOnly *readOnly

	// electionElapsed counts ticks since the last election timeout reset
	// (as leader or candidate: since the term began; as follower: since the
	// leader was last heard from).
	electionElapsed  int
	heartbeatElapsed int

	heartbeatTimeout int
	electionTimeout  int
	// randomizedElectionTimeout is in [electionTimeout, 2*electionTimeout)
	// and drawn again whenever the node becomes a follower or candidate.
	randomizedElectionTimeout int

	// leaseReads is Config.ReadOnlyOption == ReadOnlyLeaseBased (the
	// configuration admits only that and ReadOnlySafe).
	leaseReads bool

	// isLearner is true when the local node is a learner.
	isLearner bool

	checkQuorum bool
	preVote     bool
	// rareOn tells which of rare's hooks and states are set (the rare*
	// bits; syncRareOn keeps it): the paths of an idle group's ticks and
	// heartbeats read this byte, beside the clocks they touch anyway,
	// instead of rare, a second allocation and so a second cache miss.
	rareOn uint8

	disableProposalForwarding   bool
	disableConfChangeValidation bool
	stepDownOnRemoval           bool
	// asyncStorageWrites is Config.AsyncStorageWrites; RawNode reads it.
	asyncStorageWrites bool

	// readiesSinceTick counts the Readies that handed out messages since
	// the last Tick (saturating): from the second one on, the group is busy
	// and msgs grows by msgsChunk at a time, from msgsBusyReadies on by
	// msgsChunkBusy (growMsgs).
	readiesSinceTick uint8

	// logger receives the node's log lines; the log's unstable part logs
	// through a pointer to this field.
	logger Logger

	// rare holds the settings that almost every group leaves at their
	// defaults, and state that is rarely needed; nil while unused.
	rare *raftRare
}

// raftRare holds the rarely set settings of a raft, and its rarely needed
// state (see raft.rare).
type raftRare struct {
	// waitingSnap is a MsgSnap from the leader that arrived while
	// committed entries were out with the application; it is installed
	// once they are reported applied (see handleSnapshot).
	waitingSnap *pb.Message

	// traceLogger receives the state trace (Config.TraceLogger).
	traceLogger TraceLogger
	// randIntn, if set, draws the randomized election timeout instead of
	// the package's randIntn: sourceIntn(Config.Rand), or a test's own.
	randIntn func(n int) int
	// maxUncommittedSize is Config.MaxUncommittedEntriesSize when it sets a
	// limit; zero stands for noLimit.
	maxUncommittedSize uint64
	// lease is the leader lease of a node in ReadOnlyLeaseBased
	// (raft_lease.go); nil in ReadOnlySafe.
	lease *leaderLease

	// metrics is Config.Metrics; election, ticks and lead are its
	// bookkeeping: the kind of the election in progress, the ticks since
	// start, and the last leader counted in LeaderChanges.
	metrics  *Metrics
	election ElectionKind
	ticks    uint64
	lead     uint64

	// proposalTracer is Config.ProposalTracer; tracedCommit and
	// tracedApplied the cursors it was last told of.
	proposalTracer              ProposalTracer
	tracedCommit, tracedApplied uint64

	// quiesced is set by RawNode.Quiesce and cleared by RawNode.Wake (see
	// rawnode_quiesce.go).
	quiesced bool

	// recovery is the state of Config.RecoverLostState (raft_recovery.go);
	// nil without it.
	recovery *recovery
	// recovering holds a leader's fence handshakes with quarantined
	// peers, by peer (raft_fence.go); nil when there is none. It lives
	// for the leader's term.
	recovering map[uint64]*peerRecovery

	// lendMsgs is Config.LendReadyMessages. lentMsgs is the Messages array
	// of the Ready handed out last, on loan until Advance (nil if none);
	// spareMsgs an array returned by Advance, cleared, for msgs to take
	// at the next Ready (see RawNode.acceptMsgs and returnMsgs).
	lendMsgs            bool
	lentMsgs, spareMsgs []pb.Message
}

// maxUncommittedSize returns the limit on the payload bytes of a leader's
// uncommitted tail: Config.MaxUncommittedEntriesSize, noLimit by default.
func (r *raft) maxUncommittedSize() uint64 {
	if r.rare == nil || r.rare.maxUncommittedSize == 0 {
		return noLimit
	}
	return r.rare.maxUncommittedSize
}

// tracer returns the trace logger, or nil if there is none.
func (r *raft) tracer() TraceLogger {
	if r.rareOn&rareTracer == 0 {
		return nil
	}
	return r.rare.traceLogger
}

// setTraceLogger sets the trace logger; nil removes it.
func (r *raft) setTraceLogger(tl TraceLogger) {
	if tl == nil && r.rare == nil {
		return
	}
	r.rareSettings().traceLogger = tl
	r.syncRareOn()
}

// setRandIntn replaces the source of the randomized election timeout.
func (r *raft) setRandIntn(f func(n int) int) {
	r.rareSettings().randIntn = f
}

// The bits of raft.rareOn. The metrics and trace hooks on the step and
// Ready paths (observeSend, traceReady, ...) are each a check of their bit,
// small enough to inline, around an out-of-line body (observeSendOn,
// traceReadyOn, ...): they run on every step and Ready and are off in most
// nodes.
const (
	rareLease          = 1 << iota // rare.lease
	rareMetrics                    // rare.metrics
	rareTracer                     // rare.traceLogger
	rareProposalTracer             // rare.proposalTracer
	rareLend                       // rare.lendMsgs
	rareLent                       // rare.lentMsgs: a loaned array is out
	rareRecovery                   // rare.recovery or rare.recovering
	rareQuiesced                   // rare.quiesced
)

// rareSeesMessages are the hooks that see the messages stepped and their
// entries, and may keep them (RawNode.proposeAsLeader).
const rareSeesMessages = rareMetrics | rareTracer | rareProposalTracer

// syncRareOn sets rareOn from rare; every write of a field that rareOn
// reflects is followed by a call. The root package's test clusters check
// after every step that rareOn is rareOnOf(rare).
func (r *raft) syncRareOn() {
	r.rareOn = rareOnOf(r.rare)
}

// rareOnOf returns the rare* bits of the fields of rr that are set.
func rareOnOf(rr *raftRare) uint8 {
	if rr == nil {
		return 0
	}
	var on uint8
	if rr.lease != nil {
		on |= rareLease
	}
	if rr.metrics != nil {
		on |= rareMetrics
	}
	if rr.traceLogger != nil {
		on |= rareTracer
	}
	if rr.proposalTracer != nil {
		on |= rareProposalTracer
	}
	if rr.lendMsgs {
		on |= rareLend
	}
	if rr.lentMsgs != nil {
		on |= rareLent
	}
	if rr.recovery != nil || rr.recovering != nil {
		on |= rareRecovery
	}
	if rr.quiesced {
		on |= rareQuiesced
	}
	return on
}

// rareSettings returns r.rare, allocating it if needed.
func (r *raft) rareSettings() *raftRare {
	if r.rare == nil {
		r.rare = new(raftRare)
	}
	return r.rare
}

// tick advances the role's clock: the leader's heartbeat clock, or the
// election clock of the others. Dispatching on the role, rather than
// through a method value stored at each transition, costs no allocation.
func (r *raft) tick() {
	if l := r.lease(); l != nil {
		l.tick()
	}
	if r.state == StateLeader {
		r.tickHeartbeat()
	} else {
		r.tickElection()
	}
}

// step hands a message to the current role's step function.
func (r *raft) step(m *pb.Message) error {
	switch r.state {
	case StateLeader:
		return stepLeader(r, m)
	case StateCandidate, StatePreCandidate:
		return stepCandidate(r, m)
	default:
		return stepFollower(r, m)
	}
}

// reads returns the read-only state, allocating it on the first read of
// the term.
func (r *raft) reads() *readOnly {
	if r.readOnly == nil {
		r.readOnly = &readOnly{}
	}
	return r.readOnly
}

// init sets up the zero raft r from the configuration and the storage, as
// etcd's newRaft does; NewRawNode calls it on the raft it embeds. The log
// is part of r, so that a group's state costs one size-class rounding and
// sits together in memory, which matters when many groups tick in turn.
func (r *raft) init(c *Config) error {
	cfg, err := c.withDefaults()
	if err != nil {
		return err
	}
	cfg.Logger = bindLogger(cfg.Logger, r) // a slog logger adds the node's state
	r.logger = cfg.Logger
	if cfg.Metrics != nil {
		r.rareSettings().metrics = cfg.Metrics
	}
	if cfg.ProposalTracer != nil {
		r.rareSettings().proposalTracer = cfg.ProposalTracer
	}
	if cfg.MaxUncommittedEntriesSize != noLimit {
		r.rareSettings().maxUncommittedSize = cfg.MaxUncommittedEntriesSize
	}
	if cfg.LendReadyMessages {
		r.rareSettings().lendMsgs = true
	}
	r.syncRareOn()
	if cfg.Rand != nil {
		// Set before the first draw, which becomeFollower below makes.
		r.setRandIntn(sourceIntn(cfg.Rand))
	}
	if err := r.raftLog.init(cfg.Storage, &r.logger, cfg.MaxCommittedSizePerReady); err != nil {
		return fmt.Errorf("raft: cannot read storage: %w", err)
	}
	hs, cs, err := cfg.Storage.InitialState()
	if err != nil {
		return fmt.Errorf("raft: cannot read initial state from storage: %w", err)
	}

	*r = raft{
		id:                          cfg.ID,
		lead:                        None,
		isLearner:                   false,
		raftLog:                     r.raftLog,
		rare:                        r.rare,
		maxMsgSize:                  cfg.MaxSizePerMsg,
		trk:                         progress.MakeTracker(cfg.MaxInflightMsgs, cfg.MaxInflightBytes),
		electionTimeout:             cfg.ElectionTick,
		heartbeatTimeout:            cfg.HeartbeatTick,
		logger:                      cfg.Logger,
		checkQuorum:                 cfg.CheckQuorum,
		preVote:                     cfg.PreVote,
		leaseReads:                  cfg.ReadOnlyOption == ReadOnlyLeaseBased,
		disableProposalForwarding:   cfg.DisableProposalForwarding,
		disableConfChangeValidation: cfg.DisableConfChangeValidation,
		stepDownOnRemoval:           cfg.StepDownOnRemoval,
		asyncStorageWrites:          cfg.AsyncStorageWrites,
	}

	lastID := r.raftLog.lastEntryID()
	conf, prs, err := confchange.Restore(confchange.Changer{
		Tracker:   r.trk,
		LastIndex: lastID.index,
	}, cs)
	if err != nil {
		return fmt.Errorf("raft: cannot restore the configuration %s from storage: %w", DescribeConfState(cs), err)
	}
	if err := r.switchToConfig(conf, prs).Equivalent(cs); err != nil {
		return fmt.Errorf("raft: restored configuration differs from the stored one: %w", err)
	}

	if cfg.RecoverLostState {
		r.initRecovery(&cfg)
	}
	if !IsEmptyHardState(hs) {
		if err := r.loadState(hs, cfg.Applied); err != nil {
			return err
		}
	}
	if cfg.RecoverLostState {
		r.finishRecoveryInit(cfg.Applied)
	}
	if cfg.ReadOnlyOption == ReadOnlyLeaseBased {
		r.initLease(&cfg)
	}
	if cfg.Applied > 0 {
		if cfg.Applied > r.raftLog.committed {
			return fmt.Errorf("raft: invalid Config.Applied (%d): greater than the committed index %d", cfg.Applied, r.raftLog.committed)
		}
		if cfg.Applied > r.raftLog.applied {
			r.raftLog.appliedTo(cfg.Applied, 0 /* size */)
		}
	}
	r.becomeFollower(r.Term, None)
	// Tracing starts from the restored state: the steps that rebuilt it
	// are not events of the run.
	r.setTraceLogger(cfg.TraceLogger)
	traceInitState(r)

	var nodesStrs []string
	for _, n := range r.trk.VoterNodes() {
		nodesStrs = append(nodesStrs, fmt.Sprintf("%x", n))
	}
	r.logger.Infof("newRaft %x [peers: [%s], term: %d, commit: %d, applied: %d, lastindex: %d, lastterm: %d]",
		r.id, strings.Join(nodesStrs, ","), r.Term, r.raftLog.committed, r.raftLog.applied, lastID.index, lastID.term)
	return nil
}

func (r *raft) softState() SoftState { return SoftState{Lead: r.lead, RaftState: r.state} }

func (r *raft) hardState() pb.HardState {
	return pb.HardState{
		Term:   r.Term,
		Vote:   r.Vote,
		Commit: r.raftLog.committed,
	}
}

// send queues a message. It stamps From and, except for proposals and read
// requests forwarded to the leader, the current term. Vote requests and
// responses carry the term they were cast in.
func (r *raft) send(m pb.Message) {
	if m.From == None {
		m.From = r.id
	}
	switch m.Type {
	case pb.MsgVote, pb.MsgVoteResp, pb.MsgPreVote, pb.MsgPreVoteResp:
		// The caller set the term: for a pre-vote it is the future term,
		// for a granted response the request's term.
	case pb.MsgProp, pb.MsgReadIndex:
		// Forwarded requests travel without a term: they are not bound to
		// the term in which they were made.
	default:
		m.Term = r.Term
	}
	if m.Type == pb.MsgAppResp || m.Type == pb.MsgVoteResp || m.Type == pb.MsgPreVoteResp {
		// These vouch for the state this node is about to persist: they may
		// only leave once the Ready they belong to is durable.
		if n := len(r.msgsAfterAppend); n > 0 && supersedesSelfAck(&r.msgsAfterAppend[n-1], &m, r.id) {
			// A leader acknowledges each of its appends to itself. Within
			// one Ready they become durable together, and the latest
			// acknowledgement says all the earlier ones say: keep one,
			// so a batch of proposals costs one self-step on Advance.
			r.msgsAfterAppend[n-1] = m
		} else {
			r.msgsAfterAppend = append(r.msgsAfterAppend, m)
		}
		traceSendMessage(r, &m)
		observeSend(r, &m)
		return
	}
	if len(r.msgs) == cap(r.msgs) {
		r.growMsgs(1)
	}
	r.msgs = append(r.msgs, m)
	traceSendMessage(r, &m)
	observeSend(r, &m)
	traceSentEntries(r, &m)
}

// sendAppResp is send(pb.Message{To: to, Type: pb.MsgAppResp, Index:
// index}), a follower's acceptance of an append, built in place in
// msgsAfterAppend rather than built and copied there: it is a follower's
// one message per append. An acknowledgement to this node itself may
// supersede the one before it, and goes through send.
func (r *raft) sendAppResp(to, index uint64) {
	if to == r.id || to == None {
		r.send(pb.Message{To: to, Type: pb.MsgAppResp, Index: index})
		return
	}
	n := len(r.msgsAfterAppend)
	r.msgsAfterAppend = append(r.msgsAfterAppend, pb.Message{})
	m := &r.msgsAfterAppend[n]
	m.Type, m.To, m.From, m.Term, m.Index = pb.MsgAppResp, to, r.id, r.Term, index
	traceSendMessage(r, m)
	observeSend(r, m)
}

// msgsChunk is how many messages the array of msgs holds when it is
// allocated for a busy group (growMsgs): the Readies of the next rounds
// take their messages from it, one part each, so that a Ready costs an
// eighth of an allocation rather than one. 8 messages are 1280 bytes,
// which with the 8-byte header of an array with pointers over 512 bytes
// take the 1408-byte size class.
//
// msgsChunkBusy is the size of the arrays that follow once a group has
// made msgsBusyReadies Readies with messages since the last tick: 40
// messages are 6400 bytes, and with the header take the 6528-byte class,
// 163 bytes a message against 176 in arrays of 8, in one allocation per
// 40 messages. Both are even, and multiples of 4, so that the Readies of
// a leader of 3 or 5 voters, 2 or 4 messages each, end where an array
// ends rather than leaving its last message alone in it.
const (
	msgsChunk       = 8
	msgsChunkBusy   = 40
	msgsBusyReadies = 16
)

// growMsgs makes room in msgs for n more messages. A Ready hands out the
// messages it holds and leaves the room after them for the next ones
// (RawNode.acceptMsgs). When msgs is empty and out of room in a busy group
// (two Readies with messages since the last tick), the new array holds
// msgsChunk messages, or msgsChunkBusy in a very busy one; otherwise it
// grows as append grows it, so that an idle group, whose heartbeats make
// one Ready per tick, keeps allocating exactly what it sends and holds no
// room between ticks (Tick drops it).
func (r *raft) growMsgs(n int) {
	if cap(r.msgs)-len(r.msgs) >= n {
		return
	}
	if len(r.msgs) == 0 && r.readiesSinceTick >= 2 {
		chunk := msgsChunk
		if r.readiesSinceTick >= msgsBusyReadies {
			chunk = msgsChunkBusy
		}
		r.msgs = make([]pb.Message, 0, max(n, chunk))
		return
	}
	r.msgs = slices.Grow(r.msgs, n)
}

// supersedesSelfAck reports whether m, an acknowledgement that node id
// sends itself, makes prev, queued before it, redundant: both accept
// appends in the same term and m covers at least as much of the log.
func supersedesSelfAck(prev, m *pb.Message, id uint64) bool {
	return m.Type == pb.MsgAppResp && prev.Type == pb.MsgAppResp &&
		m.To == id && prev.To == id && !m.Reject && !prev.Reject &&
		m.Term == prev.Term && m.Index >= prev.Index
}

// appliedTo records that the application applied the entries up to index,
// whose encoded size is size. It releases the apply budget and, on a leader
// in an auto-leave joint configuration, proposes leaving it.
func (r *raft) appliedTo(index uint64, size uint64) {
	oldApplied := r.raftLog.applied
	newApplied := max(index, oldApplied)
	r.raftLog.appliedTo(newApplied, size)
	if r.rare != nil && r.rare.waitingSnap != nil && !r.raftLog.entriesOutForApply() {
		r.installWaitingSnapshot()
	}

	if r.trk.Config.AutoLeave && newApplied >= r.pendingConfIndex && r.state == StateLeader {
		// The joint configuration is applied, so the leader may propose the
		// leave entry. Proposing it through Step would be refused by the
		// validation (a change is pending until applied), hence the direct
		// append. pendingConfIndex then guards against proposing it twice.
		m, err := confChangeToMsg(nil)
		if err != nil {
			panic(err) // an empty ConfChangeV2 always encodes
		}
		if !r.appendEntry(m.Entries...) {
			r.logger.Warningf("%x cannot propose leaving the joint configuration now (uncommitted size limit); will retry", r.id)
			return
		}
		r.pendingConfIndex = r.raftLog.lastIndex()
		r.logger.Infof("initiating automatic transition out of joint configuration %s", r.trk.Config)
		r.bcastAppend()
	}
}

func (r *raft) appliedSnap(snap *pb.Snapshot) {
	index := snap.Metadata.Index
	r.raftLog.stableSnapTo(index)
	r.appliedTo(index, 0 /* size */)
}

func (r *raft) reset(term uint64) {
	if r.Term != term {
		r.Term = term
		r.Vote = None
		r.termLead = None
	}
	r.lead = None

	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.resetRandomizedElectionTimeout()

	r.abortLeaderTransfer()

	r.trk.ResetVotes()
	last := r.raftLog.lastIndex()
	r.trk.Visit(func(id uint64, pr *progress.Progress) {
		// The inflight window is given at the first send.
		*pr = progress.Progress{
			Match:     0,
			Next:      last + 1,
			IsLearner: pr.IsLearner,
		}
		if id == r.id {
			pr.Match = last
		}
	})

	if r.rare != nil {
		r.rare.recovering = nil
		r.syncRareOn()
	}

	r.pendingConfIndex = 0
	r.uncommittedSize = 0
	// Read rounds are numbered per term: a new term starts afresh.
	r.readOnly = nil
	r.resetLease()
}

// tickElection is the tick of followers and candidates.
func (r *raft) tickElection() {
	r.electionElapsed++
	if rc := r.recoveryState(); rc != nil {
		rc.rejected = entryID{}
	}
	// The clock first: promotable reads the progress tracker, memory of
	// its own that an idle follower's tick need not touch.
	if r.pastElectionTimeout() && r.promotable() {
		r.electionElapsed = 0
		if err := r.Step(pb.Message{From: r.id, Type: pb.MsgHup}); err != nil {
			r.logger.Debugf("error occurred during election: %v", err)
		}
	}
}

func (r *raft) becomeFollower(term uint64, lead uint64) {
	observeBecome(r, StateFollower)
	r.reset(term)
	r.lead = lead
	if lead != None {
		r.termLead = lead
	}
	r.state = StateFollower
	r.logger.Infof("%x became follower at term %d", r.id, r.Term)
	traceBecomeFollower(r)
}

func (r *raft) becomeCandidate() {
	if r.state == StateLeader {
		panic("raft: invalid transition [leader -> candidate]")
	}
	r.reset(r.Term + 1)
	r.Vote = r.id
	r.state = StateCandidate
	r.logger.Infof("%x became candidate at term %d", r.id, r.Term)
	traceBecomeCandidate(r)
}

func (r *raft) becomePreCandidate() {
	if r.state == StateLeader {
		panic("raft: invalid transition [leader -> pre-candidate]")
	}
	// A pre-candidate changes neither its term nor its vote.
	r.trk.ResetVotes()
	r.lead = None
	r.state = StatePreCandidate
	r.logger.Infof("%x became pre-candidate at term %d", r.id, r.Term)
}

func (r *raft) hup(t CampaignType) {
	if r.state == StateLeader {
		r.logger.Debugf("%x ignoring MsgHup because already leader", r.id)
		return
	}
	if !r.promotable() {
		r.logger.Warningf("%x is unpromotable and can not campaign", r.id)
		return
	}
	if r.Term >= maxTerm {
		// The election would need a term of maxTerm+1 or more, which peers
		// refuse (checkMessage): the term space is exhausted.
		r.logger.Errorf("%x cannot campaign at term %d: no higher term is left", r.id, r.Term)
		return
	}
	if r.hasUnappliedConfChanges() {
		r.logger.Warningf("%x cannot campaign at term %d since there are still pending configuration changes to apply", r.id, r.Term)
		return
	}
	r.logger.Infof("%x is starting a new election at term %d", r.id, r.Term)
	r.campaign(t)
}

// hasUnappliedConfChanges reports whether a conf change is committed but not
// yet applied: such a node must not campaign, since it does not know the
// configuration it would lead.
func (r *raft) hasUnappliedConfChanges() bool {
	if r.raftLog.applied >= r.raftLog.committed {
		return false
	}
	found := false
	// Page through the committed, unapplied entries, so that a long backlog
	// is not loaded into memory at once.
	lo, hi := r.raftLog.applied+1, r.raftLog.committed+1
	pageSize := r.raftLog.maxApplyingEntsSize
	if err := r.raftLog.scan(lo, hi, pageSize, func(ents []pb.Entry) error {
		for i := range ents {
			if ents[i].Type == pb.EntryConfChange || ents[i].Type == pb.EntryConfChangeV2 {
				found = true
				return errBreak
			}
		}
		return nil
	}); err != nil && err != errBreak {
		r.logger.Panicf("error scanning unapplied entries [%d, %d): %v", lo, hi, err)
	}
	return found
}

var errBreak = errors.New("break")

// campaign starts an election of the given type. The self vote is queued
// like any vote response and counts once the vote is durable.
func (r *raft) campaign(t CampaignType) {
	if !r.promotable() {
		r.logger.Warningf("%x is unpromotable; campaign() should have been called", r.id)
		return
	}
	observeCampaign(r, t)
	var term uint64
	var voteMsg pb.MessageType
	if t == campaignPreElection {
		r.becomePreCandidate()
		voteMsg = pb.MsgPreVote
		// Pre-votes are requested for the term this node would run in.
		term = r.Term + 1
	} else {
		r.becomeCandidate()
		voteMsg = pb.MsgVote
		term = r.Term
	}
	var ctx []byte
	if t == campaignTransfer {
		ctx = []byte(t)
	}
	last := r.raftLog.lastEntryID()
	for _, id := range r.trk.VoterNodes() {
		if id == r.id {
			r.send(pb.Message{To: id, Term: term, Type: voteRespMsgType(voteMsg)})
			continue
		}
		r.logger.Infof("%x [logterm: %d, index: %d] sent %s request to %x at term %d",
			r.id, last.term, last.index, voteMsg, id, r.Term)
		r.send(pb.Message{To: id, Term: term, Type: voteMsg, Index: last.index, LogTerm: last.term, Context: ctx})
	}
}

func (r *raft) poll(id uint64, t pb.MessageType, v bool) (granted int, rejected int, result quorum.VoteResult) {
	if v {
		r.logger.Infof("%x received %s from %x at term %d", r.id, t, id, r.Term)
	} else {
		r.logger.Infof("%x received %s rejection from %x at term %d", r.id, t, id, r.Term)
	}
	r.trk.RecordVote(id, v)
	return r.trk.TallyVotes()
}

// Step is the single entry point of the state machine: every message, local
// or from a peer, goes through it. It first checks the message's shape, then
// applies the term rules (Raft §5.1), then the steps every role shares, then
// hands the message to the current role.
func (r *raft) Step(m pb.Message) error { return r.stepMsg(&m) }

// stepMsg is Step of *m, which it may modify. The message goes down the
// role's functions by pointer: a Message is copied once, into Step's
// argument, rather than at every call.
func (r *raft) stepMsg(m *pb.Message) error {
	if err := r.checkMessage(m); err != nil {
		r.logger.Warningf("%x dropped %s from %x: %v", r.id, m.Type, m.From, err)
		return err
	}
	traceReceiveMessage(r, m)
	observeReceive(r, m)

	switch {
	case m.Term == 0:
		// Local message, or a proposal or read forwarded without a term.
	case m.Term > r.Term:
		if (m.Type == pb.MsgVote || m.Type == pb.MsgPreVote) && !isTransferVote(m) {
			if r.checkQuorum && r.lead != None && r.electionElapsed < r.electionTimeout {
				// Within the lease of a leader we heard from, a vote
				// request is most likely from a node that was cut
				// off; it must not disrupt the cluster (thesis
				// §4.2.3).
				last := r.raftLog.lastEntryID()
				r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] ignored %s from %x [logterm: %d, index: %d] at term %d: lease is not expired (remaining ticks: %d)",
					r.id, last.term, last.index, r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term, r.electionTimeout-r.electionElapsed)
				return nil
			}
			// In lease mode, also after a restart, and whatever the
			// term and leader are now (rules 8, 10 and 11).
			if why := r.leaseRefusesVote(); why != "" {
				r.logger.Infof("%x [term: %d] ignored %s from %x at term %d: %s",
					r.id, r.Term, m.Type, m.From, m.Term, why)
				return nil
			}
		}
		switch {
		case m.Type == pb.MsgPreVote:
			// A pre-vote request never changes the receiver's term.
		case m.Type == pb.MsgPreVoteResp && !m.Reject:
			// A granted pre-vote carries the future term; the term changes
			// only when the pre-candidate wins and campaigns for real. A
			// rejection at a higher term does make it a follower.
		default:
			r.logger.Infof("%x [term: %d] received a %s message with higher term from %x [term: %d]",
				r.id, r.Term, m.Type, m.From, m.Term)
			if m.Type == pb.MsgApp || m.Type == pb.MsgHeartbeat || m.Type == pb.MsgSnap {
				r.becomeFollower(m.Term, m.From)
			} else {
				r.becomeFollower(m.Term, None)
			}
		}

	case m.Term < r.Term:
		switch {
		case (r.checkQuorum || r.preVote || r.tellsLowerTerm()) && (m.Type == pb.MsgHeartbeat || m.Type == pb.MsgApp):
			// A leader cut off by a partition keeps its old term. Tell it
			// ours so it steps down; otherwise, with CheckQuorum or
			// PreVote, this node would never hear from it again and it
			// would never learn that it was deposed. With
			// RecoverLostState a node that cannot campaign tells it too
			// (rule T1 of the recovery).
			r.send(pb.Message{To: m.From, Type: pb.MsgAppResp})
		case m.Type == pb.MsgPreVote || (m.Type == pb.MsgVote && r.tellsLowerTerm() && recoveryMutation != mutSilentToCandidates):
			// Reject explicitly, so the pre-candidate learns the newer term
			// and does not wait for a timeout. With RecoverLostState a node
			// that cannot campaign rejects a lower-term vote the same way,
			// as the Raft paper's answer always carries the term (rule T1
			// of the recovery): the candidate may have no other way to
			// learn it.
			last := r.raftLog.lastEntryID()
			r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] rejected %s from %x [logterm: %d, index: %d] at term %d",
				r.id, last.term, last.index, r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term)
			r.send(pb.Message{To: m.From, Term: r.Term, Type: voteRespMsgType(m.Type), Reject: true})
		case m.Type == pb.MsgStorageAppendResp:
			// The log may have changed since the write was handed out at an
			// older term: only the snapshot part still holds.
			if m.Index != 0 {
				r.logger.Infof("%x [term: %d] ignored entry appends from a %s message with lower term [term: %d]",
					r.id, r.Term, m.Type, m.Term)
			}
			if m.Snapshot != nil {
				r.appliedSnap(m.Snapshot)
			}
		default:
			r.logger.Infof("%x [term: %d] ignored a %s message with lower term from %x [term: %d]",
				r.id, r.Term, m.Type, m.From, m.Term)
		}
		return nil
	}

	switch m.Type {
	case pb.MsgHup:
		// The election timer steps MsgHup from this node, the application
		// (Campaign) without a sender.
		if r.quarantined() && recoveryMutation != mutCampaigns {
			r.logger.Infof("%x [term %d] refused to campaign: it is quarantined after a loss of persisted state", r.id, r.Term)
			if m.From == None {
				return ErrQuarantined
			}
			return nil
		}
		if why := r.leaseRefusesCampaign(m.From == r.id); why != "" {
			r.logger.Infof("%x [term %d] refused to campaign: %s", r.id, r.Term, why)
			return nil
		}
		if r.preVote {
			r.hup(campaignPreElection)
		} else {
			r.hup(campaignElection)
		}

	case pb.MsgStorageAppendResp:
		if m.Index != 0 {
			r.raftLog.stableTo(entryID{term: m.LogTerm, index: m.Index})
			traceProposal(r, ProposalAppended, 0, min(m.Index, r.raftLog.unstable.offset-1), 0)
		}
		if m.Snapshot != nil {
			r.appliedSnap(m.Snapshot)
		}

	case pb.MsgStorageApplyResp:
		if len(m.Entries) > 0 {
			index := m.Entries[len(m.Entries)-1].Index
			r.appliedTo(index, entsSize(m.Entries))
			r.reduceUncommittedSize(payloadsSize(m.Entries))
		}

	case pb.MsgVote, pb.MsgPreVote:
		r.handleVote(*m)

	case pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap, pb.MsgReadIndexResp:
		if err := r.checkLeader(m); err != nil {
			r.logger.Warningf("%x dropped %s from %x: %v", r.id, m.Type, m.From, err)
			return err
		}
		return r.step(m)

	default:
		return r.step(m)
	}
	return nil
}

// checkLeader refuses an append, heartbeat, snapshot or read index answer
// of the current term from a node other than the leader this node knows for
// the term. Raft
// elects at most one leader per term (§5.2), so such a message is forged or
// corrupt; accepting it would let its sender overwrite entries the real
// leader replicated, commit entries the real leader never had, or answer a
// read with an index the real leader never confirmed. A node
// that knows no leader for the term yet (it restarted, it is joining and
// not yet in its own configuration, or the sender was added by a conf
// change it has not applied) accepts the sender as the leader.
func (r *raft) checkLeader(m *pb.Message) error {
	if r.termLead == None || m.From == r.termLead {
		return nil
	}
	return badMessage("%s at term %d from %x, but %x leads term %d: at most one leader per term",
		m.Type, m.Term, m.From, r.termLead, r.Term)
}

// isTransferVote reports whether m, a vote or pre-vote request, is from
// the election a leadership transfer forced, which no lease holds back.
func isTransferVote(m *pb.Message) bool {
	return bytes.Equal(m.Context, []byte(campaignTransfer))
}

// refusesVote returns why this node must reject m, a vote or pre-vote
// request of its term, whatever the candidate's log, or "".
func (r *raft) refusesVote(m *pb.Message) string {
	if r.quarantined() && recoveryMutation != mutVotes {
		// Rule Q1: the log may lack entries this node acknowledged, and
		// (StateLoss) it may have voted in this term already.
		return "quarantined after a loss of persisted state"
	}
	if r.Vote != m.From && !isTransferVote(m) {
		// In lease mode, a request of our own term is refused inside the
		// promise too: a message of a later term that no leader sent may
		// have brought us to this term, with no leader and no vote, while
		// the leader we last heard from still counts on us (rule 11).
		return r.leaseRefusesVote()
	}
	return ""
}

// handleVote decides a vote or pre-vote request; every role decides the
// same way (Raft §5.2, §5.4.1; thesis §9.6 for pre-votes).
func (r *raft) handleVote(m pb.Message) {
	if why := r.refusesVote(&m); why != "" {
		r.logger.Infof("%x [term: %d] rejected %s from %x at term %d: %s",
			r.id, r.Term, m.Type, m.From, m.Term, why)
		r.send(pb.Message{To: m.From, Term: r.Term, Type: voteRespMsgType(m.Type), Reject: true})
		return
	}
	// We can vote for the candidate we already voted for (a repeated
	// request), or for anyone if we have not voted and know no leader in
	// this term; a pre-vote for a later term may be granted regardless,
	// since it binds nothing.
	canVote := r.Vote == m.From ||
		(r.Vote == None && r.lead == None) ||
		(m.Type == pb.MsgPreVote && m.Term > r.Term)
	last := r.raftLog.lastEntryID()
	if canVote && r.raftLog.isUpToDate(entryID{term: m.LogTerm, index: m.Index}) {
		r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] cast %s for %x [logterm: %d, index: %d] at term %d",
			r.id, last.term, last.index, r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term)
		// A granted response carries the request's term, so that a
		// pre-candidate can tell it from a stale one; for a real vote the
		// terms are equal since the request already raised ours.
		r.send(pb.Message{To: m.From, Term: m.Term, Type: voteRespMsgType(m.Type)})
		if m.Type == pb.MsgVote {
			r.electionElapsed = 0
			r.Vote = m.From
		}
		return
	}
	r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] rejected %s from %x [logterm: %d, index: %d] at term %d",
		r.id, last.term, last.index, r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term)
	r.send(pb.Message{To: m.From, Term: r.Term, Type: voteRespMsgType(m.Type), Reject: true})
}

// checkMessage rejects messages whose shape no correct sender produces,
// before they can touch any state. It fills in From for requests the local
// application stepped without one.
func (r *raft) checkMessage(m *pb.Message) error {
	if m.Type < 0 || m.Type > pb.MsgForgetLeader {
		return badMessage("unknown message type %d", int32(m.Type))
	}
	if err := checkIndexesAndTerms(m); err != nil {
		return err
	}
	switch m.Type {
	case pb.MsgHup, pb.MsgBeat, pb.MsgCheckQuorum, pb.MsgUnreachable, pb.MsgSnapStatus,
		pb.MsgStorageAppend, pb.MsgStorageApply, pb.MsgForgetLeader:
		// Local messages: no term, no sender to check.
		if m.Term != 0 {
			return badMessage("local message %s carries term %d", m.Type, m.Term)
		}
		return nil
	case pb.MsgStorageAppendResp:
		// The snapshot it reports was installed (committed) when handed out;
		// one beyond the commit index was never handed out.
		if m.Snapshot != nil && m.Snapshot.Metadata.Index > r.raftLog.committed {
			return badMessage("storage append response for snapshot %d beyond the commit index %d",
				m.Snapshot.Metadata.Index, r.raftLog.committed)
		}
		return nil
	case pb.MsgStorageApplyResp:
		// Applied entries belong to no term; the response is made with none
		// (in etcd too), and one with a term could depose a leader.
		if m.Term != 0 {
			return badMessage("storage apply response carries term %d", m.Term)
		}
		// Only entries handed out for application can have been applied.
		if n := len(m.Entries); n > 0 && m.Entries[n-1].Index > r.raftLog.applying {
			return badMessage("storage apply response for entry %d beyond the entries handed out (%d)",
				m.Entries[n-1].Index, r.raftLog.applying)
		}
		return nil
	case pb.MsgProp:
		if m.Term != 0 {
			return badMessage("proposal carries term %d", m.Term)
		}
		if len(m.Entries) == 0 {
			return badMessage("proposal without entries")
		}
		if m.From == None {
			m.From = r.id
		}
		return nil
	case pb.MsgReadIndex:
		if m.Term != 0 {
			return badMessage("read request carries term %d", m.Term)
		}
		if len(m.Entries) != 1 {
			return badMessage("read request with %d entries, want 1", len(m.Entries))
		}
		if m.From == None {
			m.From = r.id
		}
		return nil
	case pb.MsgTransferLeader:
		if m.From == None {
			return badMessage("leadership transfer to node 0")
		}
		return nil
	}
	// Messages between peers.
	if m.From == None {
		return badMessage("%s from node 0", m.Type)
	}
	if IsLocalMsgTarget(m.From) {
		return badMessage("%s claims to come from local storage thread %x", m.Type, m.From)
	}
	if m.Term == 0 {
		return badMessage("%s without a term", m.Type)
	}
	switch m.Type {
	case pb.MsgApp:
		return checkAppendEntries(m)
	case pb.MsgSnap:
		if m.Snapshot == nil || IsEmptySnap(*m.Snapshot) {
			return badMessage("snapshot message without snapshot metadata")
		}
		if m.Snapshot.Metadata.Term == 0 {
			return badMessage("snapshot at index %d has term 0", m.Snapshot.Metadata.Index)
		}
		if m.Snapshot.Metadata.Term > m.Term {
			return badMessage("snapshot at term %d sent at older term %d", m.Snapshot.Metadata.Term, m.Term)
		}
	}
	return nil
}

// checkIndexesAndTerms refuses a message with an index or term beyond
// maxIndex or maxTerm in any field, whatever its type: the message's own,
// its entries' (the entries of an append are checked with the append) and
// its snapshot's.
func checkIndexesAndTerms(m *pb.Message) error {
	switch {
	case m.Term > maxTerm:
		return badMessage("term %d beyond the largest term %d", m.Term, uint64(maxTerm))
	case m.LogTerm > maxTerm:
		return badMessage("log term %d beyond the largest term %d", m.LogTerm, uint64(maxTerm))
	case m.Index > maxIndex:
		return badMessage("index %d beyond the largest index %d", m.Index, uint64(maxIndex))
	case m.Commit > maxIndex:
		return badMessage("commit index %d beyond the largest index %d", m.Commit, uint64(maxIndex))
	case m.RejectHint > maxIndex:
		return badMessage("reject hint %d beyond the largest index %d", m.RejectHint, uint64(maxIndex))
	}
	if m.Snapshot != nil {
		if md := &m.Snapshot.Metadata; md.Index > maxIndex || md.Term > maxTerm {
			return badMessage("snapshot at index %d, term %d beyond the largest index or term %d",
				md.Index, md.Term, uint64(maxIndex))
		}
	}
	if m.Type != pb.MsgApp {
		for i := range m.Entries {
			if e := &m.Entries[i]; e.Index > maxIndex || e.Term > maxTerm {
				return badMessage("entry at index %d, term %d beyond the largest index or term %d",
					e.Index, e.Term, uint64(maxIndex))
			}
		}
	}
	return nil
}

// checkAppendEntries checks that the entries of an append follow its Index,
// are contiguous, and have non-decreasing terms no newer than the message.
func checkAppendEntries(m *pb.Message) error {
	if m.LogTerm > m.Term {
		return badMessage("append at term %d claims previous entry of term %d", m.Term, m.LogTerm)
	}
	prevTerm := m.LogTerm
	for i := range m.Entries {
		e := &m.Entries[i]
		if want := m.Index + 1 + uint64(i); e.Index != want {
			return badMessage("append entry %d has index %d, want %d", i, e.Index, want)
		}
		if e.Index > maxIndex {
			// m.Index+1+i is then maxIndex+1, or wrapped around to 0.
			return badMessage("append entry %d beyond the largest index %d", e.Index, uint64(maxIndex))
		}
		if e.Term == 0 {
			// Every entry is written in some term; index 0 alone has term 0.
			return badMessage("append entry %d has term 0", e.Index)
		}
		if e.Term < prevTerm {
			return badMessage("append entry %d has term %d, below the preceding term %d", e.Index, e.Term, prevTerm)
		}
		if e.Term > m.Term {
			return badMessage("append entry %d has term %d, above the message term %d", e.Index, e.Term, m.Term)
		}
		prevTerm = e.Term
	}
	return nil
}

// promotable reports whether this node may campaign: it is a voter, and it
// is not in the middle of installing a snapshot.
func (r *raft) promotable() bool {
	pr := r.trk.Get(r.id)
	return pr != nil && !pr.IsLearner && !r.raftLog.hasPendingSnapshot() &&
		!(r.quarantined() && recoveryMutation != mutCampaigns)
}

// loadState loads the HardState at restart; applied is Config.Applied.
func (r *raft) loadState(state pb.HardState, applied uint64) error {
	if state.Commit > r.raftLog.lastIndex() && state.Commit >= r.raftLog.committed && r.recoveryState() != nil {
		r.loadCommitBeyondLog(state, applied)
		return nil
	}
	if state.Commit < r.raftLog.committed || state.Commit > r.raftLog.lastIndex() {
		return fmt.Errorf("raft: %x state.commit %d is out of range [%d, %d]: was the raft log corrupted, truncated, or lost?",
			r.id, state.Commit, r.raftLog.committed, r.raftLog.lastIndex())
	}
	r.raftLog.committed = state.Commit
	r.Term = state.Term
	r.Vote = state.Vote
	return nil
}

// pastElectionTimeout reports whether electionElapsed reached the
// randomized election timeout.
func (r *raft) pastElectionTimeout() bool {
	return r.electionElapsed >= r.randomizedElectionTimeout
}

func (r *raft) resetRandomizedElectionTimeout() {
	draw := randIntn
	if r.rare != nil && r.rare.randIntn != nil {
		draw = r.rare.randIntn
	}
	r.randomizedElectionTimeout = r.electionTimeout + draw(r.electionTimeout)
}

func voteRespMsgType(msgt pb.MessageType) pb.MessageType {
	switch msgt {
	case pb.MsgVote:
		return pb.MsgVoteResp
	case pb.MsgPreVote:
		return pb.MsgPreVoteResp
	default:
		panic(fmt.Sprintf("not a vote message: %s", msgt))
	}
}
