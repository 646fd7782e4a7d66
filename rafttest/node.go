package rafttest

import (
	"fmt"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// Node is a raft node as the simulator drives it. The interface speaks only
// raftpb types and marshaled messages, so that a node built on another
// implementation (an adapter over etcd raft, say) can join a simulated
// cluster next to the RawNode-based nodes that NewRawNode makes.
//
// A Node holds only volatile state. What it persisted lives on the Disk it
// was created over: the simulator writes to that Disk what each Update asks
// for, and a crash is modelled by dropping the Node and calling the
// NodeFactory again over the same Disk.
type Node interface {
	// Tick advances the node's logical clock by one tick.
	Tick()
	// Step hands the node a marshaled raftpb.Message from a peer. An error
	// means the message was refused; the simulator records it and goes on.
	Step(msg []byte) error
	// Ready returns the work the node has ready, and false when it has
	// none. The simulator persists, sends and applies the Update, in the
	// order of the Ready contract, and then calls Advance.
	Ready() (Update, bool)
	// Advance tells the node that the last Update was processed.
	Advance()

	// Propose proposes data for the log.
	Propose(data []byte) error
	// ProposeConfChange proposes a membership change, as a ConfChange or a
	// ConfChangeV2.
	ProposeConfChange(cc pb.ConfChangeI) error
	// ApplyConfChange applies a committed membership change, read from an
	// EntryConfChange or EntryConfChangeV2 entry, and returns the
	// resulting configuration.
	ApplyConfChange(cc pb.ConfChangeV2) pb.ConfState
	// ReadIndex asks for a linearizable read identified by rctx; the answer
	// comes back in a later Update's ReadStates.
	ReadIndex(rctx []byte)
	// TransferLeader asks the leader to hand leadership to transferee.
	TransferLeader(transferee uint64)
	// Campaign makes the node start an election.
	Campaign() error
	// ReportSnapshot tells a leader whether the snapshot it sent to id
	// arrived.
	ReportSnapshot(id uint64, ok bool)
	// ReportUnreachable tells a leader that a message to id was lost.
	ReportUnreachable(id uint64)
	// Status returns the node's identity, term, leader, role and indexes.
	Status() Status
}

// Update is what a node has ready: the implementation-neutral form of
// raft.Ready.
type Update struct {
	// HardState is the state to persist; empty when unchanged.
	HardState pb.HardState
	// Entries are to be persisted before the messages are sent.
	Entries []pb.Entry
	// Snapshot is to be persisted and installed when not empty.
	Snapshot pb.Snapshot
	// CommittedEntries are to be applied to the state machine, in order.
	CommittedEntries []pb.Entry
	// Messages are to be sent once the above is persisted.
	Messages []pb.Message
	// ReadStates answer ReadIndex requests.
	ReadStates []raft.ReadState
	// MustSync tells whether the writes must be durable before sending.
	MustSync bool
}

// Status is a node's identity and progress, as the checks and the workload
// read them.
type Status struct {
	// ID is the node's ID.
	ID uint64
	// Term, Vote and Commit are the node's current (volatile) HardState.
	Term, Vote, Commit uint64
	// Lead is the leader the node knows, or 0.
	Lead uint64
	// Role is the node's role.
	Role raft.StateType
	// Applied is the index of the last entry handed out for application.
	Applied uint64
}

// NodeConfig is what a NodeFactory gets to build a node: the node's ID,
// its disk, the index it has applied (the index of the snapshot on the
// disk) and the protocol options the seed chose.
type NodeConfig struct {
	// ID is the node's ID.
	ID uint64
	// Disk holds what the node persisted; the node reads it at start and
	// whenever it needs entries it does not hold in memory.
	Disk *Disk
	// Applied is the index up to which the state machine was restored.
	Applied uint64
	// ElectionTick and HeartbeatTick are the timeouts, in ticks.
	ElectionTick, HeartbeatTick int
	// PreVote and CheckQuorum turn on those protocol extensions.
	PreVote, CheckQuorum bool
	// ReadOnlyOption selects how ReadIndex requests are served.
	ReadOnlyOption raft.ReadOnlyOption
	// MaxSizePerMsg and MaxInflightMsgs are the flow-control limits.
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	// StepDownOnRemoval makes a removed leader step down.
	StepDownOnRemoval bool
	// AsyncStorageWrites runs the node in raft's asynchronous storage
	// mode; NewRawNode then plays the append and apply threads itself.
	AsyncStorageWrites bool
	// TickInterval and Clock bound the leader lease of ReadOnlyLeaseBased
	// in time: the nominal time between ticks, and the node's clock in
	// simulated time. Zero and nil without the clock model.
	TickInterval time.Duration
	Clock        func() time.Time
}

// NodeFactory builds a Node over the persisted state in cfg.Disk. The
// simulator calls it at start and at every restart after a crash.
type NodeFactory func(cfg NodeConfig) (Node, error)

// NewRawNode is the NodeFactory for this library's raft.RawNode.
func NewRawNode(cfg NodeConfig) (Node, error) {
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                 cfg.ID,
		ElectionTick:       cfg.ElectionTick,
		HeartbeatTick:      cfg.HeartbeatTick,
		Storage:            cfg.Disk.Storage(),
		Applied:            cfg.Applied,
		MaxSizePerMsg:      cfg.MaxSizePerMsg,
		MaxInflightMsgs:    cfg.MaxInflightMsgs,
		CheckQuorum:        cfg.CheckQuorum,
		PreVote:            cfg.PreVote,
		ReadOnlyOption:     cfg.ReadOnlyOption,
		StepDownOnRemoval:  cfg.StepDownOnRemoval,
		AsyncStorageWrites: cfg.AsyncStorageWrites,
		TickInterval:       cfg.TickInterval,
		Clock:              cfg.Clock,
		Logger:             quietLogger{},
	})
	if err != nil {
		return nil, err
	}
	return &rawNode{id: cfg.ID, rn: rn, async: cfg.AsyncStorageWrites}, nil
}

// rawNode adapts raft.RawNode to Node.
type rawNode struct {
	id    uint64
	rn    *raft.RawNode
	async bool
	// local holds, in asynchronous mode, the responses of the storage
	// threads to step into the node on Advance.
	local []pb.Message
}

func (n *rawNode) Tick() { n.rn.Tick() }

func (n *rawNode) Step(msg []byte) error {
	var m pb.Message
	if err := m.Unmarshal(msg); err != nil {
		return err
	}
	return n.rn.Step(m)
}

func (n *rawNode) Ready() (Update, bool) {
	if !n.rn.HasReady() {
		return Update{}, false
	}
	rd := n.rn.Ready()
	if n.async {
		return n.asyncUpdate(rd), true
	}
	return Update{
		HardState:        rd.HardState,
		Entries:          rd.Entries,
		Snapshot:         rd.Snapshot,
		CommittedEntries: rd.CommittedEntries,
		Messages:         rd.Messages,
		ReadStates:       rd.ReadStates,
		MustSync:         rd.MustSync,
	}, true
}

// asyncUpdate turns an asynchronous-mode Ready into an Update: the
// simulator then does the storage threads' work, persisting what
// MsgStorageAppend carries and applying what MsgStorageApply carries, and
// the threads' responses go out once that is done: those to peers as
// messages, those to the node itself on Advance.
func (n *rawNode) asyncUpdate(rd raft.Ready) Update {
	u := Update{ReadStates: rd.ReadStates}
	for _, m := range rd.Messages {
		switch m.To {
		case raft.LocalAppendThread:
			if m.Term != 0 || m.Vote != 0 || m.Commit != 0 {
				u.HardState = pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
			}
			u.Entries = m.Entries
			if m.Snapshot != nil {
				u.Snapshot = *m.Snapshot
			}
			u.MustSync = true
			n.route(&u, m.Responses)
		case raft.LocalApplyThread:
			u.CommittedEntries = m.Entries
			n.route(&u, m.Responses)
		default:
			u.Messages = append(u.Messages, m)
		}
	}
	return u
}

// route sends a storage thread's responses to peers out with the Update
// and keeps those to this node for Advance.
func (n *rawNode) route(u *Update, resps []pb.Message) {
	for _, r := range resps {
		if r.To == n.id {
			n.local = append(n.local, r)
		} else {
			u.Messages = append(u.Messages, r)
		}
	}
}

func (n *rawNode) Advance() {
	if !n.async {
		n.rn.Advance(raft.Ready{})
		return
	}
	local := n.local
	n.local = nil
	for _, m := range local {
		_ = n.rn.Step(m)
	}
}

func (n *rawNode) Propose(data []byte) error   { return n.rn.Propose(data) }
func (n *rawNode) ReadIndex(rctx []byte)       { n.rn.ReadIndex(rctx) }
func (n *rawNode) TransferLeader(to uint64)    { n.rn.TransferLeader(to) }
func (n *rawNode) Campaign() error             { return n.rn.Campaign() }
func (n *rawNode) ReportUnreachable(id uint64) { n.rn.ReportUnreachable(id) }

func (n *rawNode) ProposeConfChange(cc pb.ConfChangeI) error {
	return n.rn.ProposeConfChange(cc)
}

func (n *rawNode) ApplyConfChange(cc pb.ConfChangeV2) pb.ConfState {
	return *n.rn.ApplyConfChange(cc)
}

func (n *rawNode) ReportSnapshot(id uint64, ok bool) {
	st := raft.SnapshotFinish
	if !ok {
		st = raft.SnapshotFailure
	}
	n.rn.ReportSnapshot(id, st)
}

func (n *rawNode) Status() Status {
	s := n.rn.BasicStatus()
	return Status{
		ID:      s.ID,
		Term:    s.Term,
		Vote:    s.Vote,
		Commit:  s.Commit,
		Lead:    s.Lead,
		Role:    s.RaftState,
		Applied: s.Applied,
	}
}

// quietLogger discards raft's log lines, which would drown a run of
// thousands of seeds, but keeps Panic and Fatal: the simulator recovers the
// panic and reports it as a violation with the seed and the trace.
type quietLogger struct{}

func (quietLogger) Debug(...interface{})            {}
func (quietLogger) Debugf(string, ...interface{})   {}
func (quietLogger) Error(...interface{})            {}
func (quietLogger) Errorf(string, ...interface{})   {}
func (quietLogger) Info(...interface{})             {}
func (quietLogger) Infof(string, ...interface{})    {}
func (quietLogger) Warning(...interface{})          {}
func (quietLogger) Warningf(string, ...interface{}) {}
func (quietLogger) Fatal(v ...interface{})          { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...interface{}) {
	panic(fmt.Sprintf(f, v...))
}
func (quietLogger) Panic(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
