package rafttest

import (
	"math/rand/v2"
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
	// ApplyLag makes the application lag by that many ticks: the
	// committed entries a node hands out are applied (and reported
	// applied) only after ApplyLag more Ticks, so that the messages
	// delivered meanwhile are stepped while they are out with the
	// application. In asynchronous mode this is an apply thread that falls
	// behind while the append thread goes on; in synchronous mode, an
	// application that steps messages between Ready and Advance, as Node
	// does, and takes no other Ready before that Advance. NewRawNode
	// models it; a factory may ignore it.
	ApplyLag int
	// Rand is the source the node draws its randomized election timeouts
	// from (raft.Config.Rand): one source per run, seeded from the run's
	// seed and shared by its nodes, which draw from it in turn on the
	// run's goroutine, so that the run replays. It is also an io.Reader
	// of the same stream, for a node of an implementation that draws from
	// crypto/rand.Reader instead (compat/mixed points that reader at it
	// for etcd raft's nodes). A node that draws from anywhere else makes
	// its runs irreproducible. nil, in a NodeConfig built by hand, means
	// crypto/rand.Reader.
	Rand rand.Source
	// TickInterval and Clock bound the leader lease of ReadOnlyLeaseBased
	// in time: the nominal time between ticks, and the node's clock in
	// simulated time. Zero and nil without the clock model.
	TickInterval time.Duration
	Clock        func() time.Time
	// RecoverLostState and HardStateIndependentlyDurable are
	// raft.Config's, on when the scenario has disk faults
	// (Scenario.LoseTail and its siblings). A node keeps its quarantine
	// on its Disk (Disk.Recovery), where NewRawNode persists what
	// raft.Config.OnRecovery reports, and reads it back as
	// raft.Config.Recovery at start, with the regression its application
	// declared after a disk fault, if any.
	RecoverLostState, HardStateIndependentlyDurable bool
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
		Rand:               cfg.Rand,
		TickInterval:       cfg.TickInterval,
		Clock:              cfg.Clock,
		Logger:             QuietLogger{},

		RecoverLostState:              cfg.RecoverLostState,
		HardStateIndependentlyDurable: cfg.HardStateIndependentlyDurable,
		Recovery:                      cfg.Disk.recovery,
		OnRecovery:                    cfg.Disk.setRecovery,
	})
	if err != nil {
		return nil, err
	}
	return &rawNode{id: cfg.ID, rn: rn, async: cfg.AsyncStorageWrites, lag: cfg.ApplyLag}, nil
}

// rawNode adapts raft.RawNode to Node.
type rawNode struct {
	id    uint64
	rn    *raft.RawNode
	async bool
	// local holds, in asynchronous mode, the responses of the storage
	// threads to step into the node on Advance.
	local []pb.Message

	// lag is NodeConfig.ApplyLag.
	lag int
	// lagged holds, with lag, the committed entries handed out by raft and
	// not yet given to the simulator, oldest first, each with the number
	// of Ticks it has waited; those that waited lag Ticks are given at the
	// next Ready.
	lagged []work
	// held is an Update with a snapshot that came while entries were
	// lagged: the application applies those first, as one whose apply
	// thread drains before it installs a snapshot.
	held *work
}

// work is an Update with the responses of the storage threads, to route
// when it is handed to the simulator: those to peers go out with it,
// those to the node itself are stepped on Advance. applyResps are the apply
// thread's, which go with the committed entries.
type work struct {
	u                 Update
	resps, applyResps []pb.Message
	age               int
}

func (n *rawNode) Tick() {
	for i := range n.lagged {
		n.lagged[i].age++
	}
	n.rn.Tick()
}

func (n *rawNode) Step(msg []byte) error {
	var m pb.Message
	if err := m.Unmarshal(msg); err != nil {
		return err
	}
	return n.rn.Step(m)
}

func (n *rawNode) Ready() (Update, bool) {
	due := 0
	for due < len(n.lagged) && n.lagged[due].age >= n.lag {
		due++
	}
	if due > 0 {
		return n.handOut(n.release(due)), true
	}
	if n.held != nil {
		w := *n.held
		n.held = nil
		return n.handOut(w), true
	}
	if !n.async && len(n.lagged) > 0 {
		// The last Ready waits for its Advance.
		return Update{}, false
	}
	if !n.rn.HasReady() {
		return Update{}, false
	}
	rd := n.rn.Ready()
	var w work
	if n.async {
		w = n.asyncWork(rd)
	} else {
		w.u = Update{
			HardState:        rd.HardState,
			Entries:          rd.Entries,
			Snapshot:         rd.Snapshot,
			CommittedEntries: rd.CommittedEntries,
			Messages:         rd.Messages,
			ReadStates:       rd.ReadStates,
			MustSync:         rd.MustSync,
		}
	}
	if n.lag == 0 {
		return n.handOut(w), true
	}
	if !raft.IsEmptySnap(w.u.Snapshot) && len(n.lagged) > 0 {
		// Raft makes a snapshot wait for the entries out with the
		// application; should it not, they are applied first.
		n.held = &w
		return n.handOut(n.release(len(n.lagged))), true
	}
	if len(w.u.CommittedEntries) > 0 {
		n.lagged = append(n.lagged, work{
			u:          Update{CommittedEntries: w.u.CommittedEntries},
			applyResps: w.applyResps,
		})
		w.u.CommittedEntries, w.applyResps = nil, nil
	}
	return n.handOut(w), true
}

// release merges the first k lagged batches into one work, oldest first.
func (n *rawNode) release(k int) work {
	var w work
	for _, l := range n.lagged[:k] {
		w.u.CommittedEntries = append(w.u.CommittedEntries, l.u.CommittedEntries...)
		w.applyResps = append(w.applyResps, l.applyResps...)
	}
	n.lagged = n.lagged[k:]
	return w
}

// handOut routes the responses of w and returns its Update.
func (n *rawNode) handOut(w work) Update {
	for _, r := range append(w.resps, w.applyResps...) {
		if r.To == n.id {
			n.local = append(n.local, r)
		} else {
			w.u.Messages = append(w.u.Messages, r)
		}
	}
	return w.u
}

// asyncWork turns an asynchronous-mode Ready into work: the simulator then
// does the storage threads' work, persisting what MsgStorageAppend carries
// and applying what MsgStorageApply carries, and the threads' responses go
// out once that is done.
func (n *rawNode) asyncWork(rd raft.Ready) work {
	w := work{u: Update{ReadStates: rd.ReadStates}}
	for _, m := range rd.Messages {
		switch m.To {
		case raft.LocalAppendThread:
			if m.Term != 0 || m.Vote != 0 || m.Commit != 0 {
				w.u.HardState = pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
			}
			w.u.Entries = m.Entries
			if m.Snapshot != nil {
				w.u.Snapshot = *m.Snapshot
			}
			w.u.MustSync = true
			w.resps = append(w.resps, m.Responses...)
		case raft.LocalApplyThread:
			w.u.CommittedEntries = m.Entries
			w.applyResps = append(w.applyResps, m.Responses...)
		default:
			w.u.Messages = append(w.u.Messages, m)
		}
	}
	return w
}

func (n *rawNode) Advance() {
	if !n.async {
		if len(n.lagged) > 0 || n.held != nil {
			// The Readies whose entries are lagged, or whose snapshot
			// is held, are not processed yet: Advance waits for them.
			return
		}
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
