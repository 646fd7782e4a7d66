package raft

import (
	"fmt"
)

// Config holds the parameters of a raft node.
type Config struct {
	// ID is the identity of the local node. It cannot be 0 (None) nor one of
	// the local storage thread IDs.
	ID uint64

	// ElectionTick is the number of Tick calls a follower waits without
	// hearing from a leader before it campaigns. It must be greater than
	// HeartbeatTick; ten times is a good choice. It is also the CheckQuorum
	// period and the length of the leader lease.
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
	// ReadOnlyLeaseBased needs CheckQuorum.
	ReadOnlyOption ReadOnlyOption

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

	// Metrics, if set, receives the node's counters and gauges (see
	// Metrics). nil, the default, counts nothing and costs nothing.
	Metrics *Metrics

	// ProposalTracer, if set, receives the life of proposals: proposed,
	// sent, appended, acknowledged by a quorum, committed, applied (see
	// ProposalEvent). It is independent of TraceLogger.
	ProposalTracer ProposalTracer
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
