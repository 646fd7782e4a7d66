package raft

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Config holds the parameters of a raft node.
type Config struct {
	// ID is the identity of the local node. It cannot be 0 (None) nor one of
	// the local storage thread IDs.
	ID uint64

	// ElectionTick is the number of Tick calls a follower waits without
	// hearing from a leader before it campaigns. It must be greater than
	// HeartbeatTick; ten times is a good choice. It is also the CheckQuorum
	// period, and the time for which a follower that heard from its leader
	// refuses to vote for another; the leader's own lease under
	// ReadOnlyLeaseBased is shorter (see LeaseDriftTicks).
	ElectionTick int
	// HeartbeatTick is the number of Tick calls between two heartbeats of a
	// leader.
	HeartbeatTick int

	// Storage is where the node reads its log and state at start and when
	// it needs entries that are no longer in memory. The application writes
	// to it what each Ready asks it to persist.
	Storage Storage
	// Applied is the index of the last entry the application has applied,
	// when it restarts. Raft will not hand out entries at or below it. It
	// must not be greater than the persisted commit index.
	Applied uint64

	// AsyncStorageWrites turns on the asynchronous storage mode: instead of
	// Ready fields and Advance, the node emits MsgStorageAppend and
	// MsgStorageApply messages addressed to LocalAppendThread and
	// LocalApplyThread, and learns of the work's completion through the
	// responses they carry. See RawNode.Ready.
	AsyncStorageWrites bool

	// MaxSizePerMsg limits the encoded size of the entries of one append
	// message. At least one entry is always sent. 0 means one entry per
	// message; math.MaxUint64 means no limit.
	MaxSizePerMsg uint64
	// MaxCommittedSizePerReady limits the encoded size of the committed
	// entries handed out for application and not yet applied. 0 means
	// MaxSizePerMsg.
	MaxCommittedSizePerReady uint64
	// MaxUncommittedEntriesSize limits the payload bytes of a leader's
	// uncommitted log tail; proposals beyond it are dropped with
	// ErrProposalDropped. An empty tail always admits one proposal. 0 means
	// no limit. Unlike etcd raft v3.6 the budget survives a change of term:
	// a new leader counts the uncommitted tail it inherited.
	MaxUncommittedEntriesSize uint64
	// MaxInflightMsgs limits the number of append messages in flight to one
	// follower while it is replicating. It must be greater than 0.
	MaxInflightMsgs int
	// MaxInflightBytes limits the payload bytes in flight to one follower. 0
	// means no limit; otherwise it must be at least MaxSizePerMsg.
	MaxInflightBytes uint64

	// CheckQuorum makes a leader step down when it has not heard from a
	// quorum within an election timeout, and makes nodes ignore vote
	// requests while they have recently heard from a leader (the lease).
	CheckQuorum bool
	// PreVote enables the pre-election of the Raft thesis (§9.6): a node
	// raises its term only when it would win, so a partitioned node that
	// rejoins does not disrupt the cluster.
	PreVote bool

	// ReadOnlyOption selects how ReadIndex requests are served.
	// ReadOnlyLeaseBased needs CheckQuorum, and serves reads under the
	// lease only with TickInterval set (docs/design/lease.md).
	ReadOnlyOption ReadOnlyOption

	// LeaseDriftTicks is the margin, in ticks, by which a leader's lease
	// under ReadOnlyLeaseBased is shorter than the ElectionTick-1 ticks for
	// which followers promise not to elect another leader: the lease lasts
	// ElectionTick-1-LeaseDriftTicks ticks. It absorbs the difference in
	// tick rate between leader and followers: a margin of ElectionTick/10
	// covers rates that differ by up to 10%. 0 means that default,
	// ElectionTick/10 rounded up; otherwise it must be positive and leave a
	// lease of at least one tick.
	LeaseDriftTicks int
	// TickInterval is the nominal time between two Tick calls. Under
	// ReadOnlyLeaseBased it bounds the lease in real time too, since ticks
	// the application drops or delays make the leader count time too
	// slowly: a read is served under the lease only while less than
	// (ElectionTick-1-LeaseDriftTicks) * TickInterval has passed on Clock
	// since the acknowledged heartbeat was sent. 0 (unset) turns lease
	// reads into safe reads (a heartbeat round each), and is logged once.
	TickInterval time.Duration
	// Clock reads the time for the lease of ReadOnlyLeaseBased; it must be
	// monotonic. nil means time.Now, whose readings are. Simulations supply
	// their own. It is read only in lease mode: by a leader at each
	// heartbeat it sends and at each read it serves under the lease, and by
	// a follower (with TickInterval set) at each message from its leader,
	// so that it keeps its promise not to elect another leader for
	// (ElectionTick-1) * TickInterval even if its ticks come in a bunch.
	Clock func() time.Time

	// Logger receives the node's log lines. nil means the package logger
	// (see SetLogger).
	Logger Logger

	// DisableProposalForwarding makes followers drop proposals (with
	// ErrProposalDropped) instead of forwarding them to the leader.
	DisableProposalForwarding bool

	// DisableConfChangeValidation turns off the leader's checks of a
	// proposed configuration change (one pending at a time, joint rules).
	// The change is then validated only when applied.
	DisableConfChangeValidation bool

	// StepDownOnRemoval makes a leader become a follower when it applies a
	// configuration that removes it or demotes it to learner. Otherwise it
	// keeps leading (without counting itself) until it hands over.
	StepDownOnRemoval bool

	// TraceLogger, if set, receives an event at every state change, message
	// sent or received, and configuration change, for checking runs against
	// a specification.
	TraceLogger TraceLogger

	// Rand, if set, is the source the node draws its randomized election
	// timeouts from, for deterministic tests and simulations: a seeded
	// source (rand.NewPCG, say) makes the node's elections replay, and a
	// simulator may share one source among the nodes of a run. The node
	// calls Rand.Uint64 once per reset of its election timer, within the
	// call that resets it (Tick, Step, Campaign and the like, and
	// NewRawNode), and with RecoverLostState once more whenever the node
	// enters its quarantine or finds a further loss in it (the quarantine's
	// nonce, see Recovery.Nonce), so a source shared by nodes that are
	// driven concurrently must be safe for concurrent use (math/rand/v2's
	// sources are not).
	// nil means crypto/rand.Reader, read at every draw, as in etcd raft,
	// which has no such field.
	Rand rand.Source

	// Metrics, if set, receives the node's counters and gauges (see
	// Metrics). nil, the default, counts nothing and costs nothing.
	Metrics *Metrics

	// ProposalTracer, if set, receives the life of proposals: proposed,
	// sent, appended, acknowledged by a quorum, committed, applied (see
	// ProposalEvent). It is independent of TraceLogger.
	ProposalTracer ProposalTracer

	// RecoverLostState lets a node whose storage lost state it had
	// persisted (a commit index beyond its last index at restart, or a
	// heartbeat committing beyond it) start and run in quarantine instead
	// of failing: it follows and catches up, but neither votes nor
	// campaigns until its log holds a fence, and its commit index never
	// leaves its log (docs/design/recovery.md). Off by default:
	// NewRawNode then returns an error for a commit index beyond the log,
	// as before, and the option costs nothing. etcd raft v3.6 panics.
	RecoverLostState bool
	// HardStateIndependentlyDurable asserts, with RecoverLostState, that
	// the HardState (term and vote) survives any loss of log entries: the
	// application writes it durably on its own, not in the same unsynced
	// stream as the entries. A regression is then a TailLoss, which ends
	// by itself once the node's commit index reaches an entry of a later
	// term than the one it had when the loss was found. Otherwise it is a
	// StateLoss (the vote may be lost too), which never ends by itself.
	// A false assertion reopens the double vote that the quarantine
	// prevents.
	HardStateIndependentlyDurable bool
	// Recovery is the quarantine the node was in when it stopped, as the
	// application last persisted it from OnRecovery; NewRawNode resumes
	// it. nil, or a value that is not Quarantined, means none. Only with
	// RecoverLostState. An application whose own markers show that the
	// storage regressed where the library cannot see it (a backup
	// restored, a directory wiped under the old ID, a torn HardState)
	// declares it here with Cause CauseDeclared and Nonce 0: the node then
	// draws a nonce, takes the HardState's term as Term if Term is 0, and
	// after a StateLoss keeps its commit index to the snapshot and Applied
	// (the log may be an older copy than the HardState); it reports the
	// result through OnRecovery. Kind is StateLoss unless it is TailLoss.
	Recovery *Recovery
	// OnRecovery, if set, is called whenever the node enters, changes or
	// leaves its quarantine, with the new state. A HardState does not
	// carry the quarantine, and once a HardState is written in quarantine
	// the commit index no longer shows the loss: the application must
	// persist the value durably no later than the HardState of the next
	// Ready, and pass the last one persisted back in Recovery at restart.
	// It is called from within the call that changed the state (Step,
	// Tick, NewRawNode), which must not be reentered.
	OnRecovery func(Recovery)

	// LendReadyMessages makes the Messages slice of each Ready a loan
	// rather than a gift, in synchronous storage mode: the application
	// may read it (send, marshal, copy the message values) until it calls
	// Advance, after which the node reuses the array for the Messages of a
	// later Ready. It saves the allocation of that array (one per Ready
	// that carries messages, or one per 8 such Readies in a busy group;
	// see Ready.Messages); an idle leader keeps an array of up to 8
	// messages from one heartbeat round to the next (not while
	// quiesced). The entries and contexts the messages refer
	// to stay valid as without it; only the array of Message values is
	// reused. A transport that keeps messages past Advance, or hands them
	// to another goroutine, must copy the values first. Off by default
	// (as in etcd raft, which has no such field: every Ready's Messages
	// are the application's for good); not allowed with
	// AsyncStorageWrites, which has no Advance.
	LendReadyMessages bool
}

// Validate checks the configuration and returns an error that names the
// first bad field and the rule it breaks. It does not modify c.
func (c *Config) Validate() error {
	invalid := func(field string, value interface{}, rule string) error {
		return fmt.Errorf("raft: invalid Config.%s (%v): %s", field, value, rule)
	}
	switch {
	case c.ID == None:
		return invalid("ID", c.ID, "cannot use none as id")
	case IsLocalMsgTarget(c.ID):
		return invalid("ID", c.ID, "cannot use local target as id")
	case c.HeartbeatTick <= 0:
		return invalid("HeartbeatTick", c.HeartbeatTick, "heartbeat tick must be greater than 0")
	case c.ElectionTick <= c.HeartbeatTick:
		return invalid("ElectionTick", c.ElectionTick, fmt.Sprintf("election tick must be greater than heartbeat tick (%d)", c.HeartbeatTick))
	case c.Storage == nil:
		return invalid("Storage", nil, "storage cannot be nil")
	case c.MaxInflightMsgs <= 0:
		return invalid("MaxInflightMsgs", c.MaxInflightMsgs, "max inflight messages must be greater than 0")
	case c.MaxInflightBytes != 0 && c.MaxInflightBytes < c.MaxSizePerMsg:
		return invalid("MaxInflightBytes", c.MaxInflightBytes, fmt.Sprintf("max inflight bytes must be >= max message size (%d)", c.MaxSizePerMsg))
	case c.ReadOnlyOption != ReadOnlySafe && c.ReadOnlyOption != ReadOnlyLeaseBased:
		return invalid("ReadOnlyOption", c.ReadOnlyOption, "must be ReadOnlySafe or ReadOnlyLeaseBased")
	case c.ReadOnlyOption == ReadOnlyLeaseBased && !c.CheckQuorum:
		return invalid("ReadOnlyOption", "ReadOnlyLeaseBased", "CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased")
	case c.LeaseDriftTicks < 0:
		return invalid("LeaseDriftTicks", c.LeaseDriftTicks, "lease drift margin cannot be negative")
	case c.LeaseDriftTicks > 0 && c.LeaseDriftTicks > c.ElectionTick-2:
		return invalid("LeaseDriftTicks", c.LeaseDriftTicks, fmt.Sprintf("lease drift margin must leave a lease of at least one tick: at most ElectionTick-2 (%d)", c.ElectionTick-2))
	case c.TickInterval < 0:
		return invalid("TickInterval", c.TickInterval, "tick interval cannot be negative")
	case c.LendReadyMessages && c.AsyncStorageWrites:
		return invalid("LendReadyMessages", true, "a loan ends with Advance, which AsyncStorageWrites does without")
	}
	return nil
}

// withDefaults returns a validated copy of c with the defaults filled in.
func (c *Config) withDefaults() (Config, error) {
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	d := *c
	if d.MaxUncommittedEntriesSize == 0 {
		d.MaxUncommittedEntriesSize = noLimit
	}
	if d.MaxCommittedSizePerReady == 0 {
		d.MaxCommittedSizePerReady = d.MaxSizePerMsg
	}
	if d.Logger == nil {
		d.Logger = getLogger()
	}
	return d, nil
}
