package raft

import (
	"context"
	"errors"
	"sync"

	pb "github.com/raftkit/raft/raftpb"
)

// ErrStopped is returned by the methods of a Node after Stop.
var ErrStopped = errors.New("raft: stopped")

// Node is the channel API of a raft node around a RawNode. All methods are
// safe for concurrent use: each one steps the RawNode under a mutex on the
// caller's goroutine, and a goroutine of the node offers what is ready on
// the Ready channel.
//
// The application's loop receives from Ready, persists, sends and applies
// what each Ready carries (see the Ready type for the order), and calls
// Advance. It also calls Tick at a regular interval and Step for every
// message from a peer.
type Node interface {
	// Tick advances the node's logical clock by one tick. It never waits
	// for the Ready loop, so no tick is lost while the application is busy
	// with a Ready.
	Tick()
	// Campaign makes the node start an election. It returns once the
	// election has started, not when it is over.
	Campaign(ctx context.Context) error
	// Propose proposes data to be appended to the log. While no leader is
	// known it blocks (until ctx is done); then it waits for the node to
	// take or refuse the proposal, and returns ErrProposalDropped (or an
	// error wrapping it) if refused. A nil error does not mean that the
	// entry will commit: watch CommittedEntries for it.
	Propose(ctx context.Context, data []byte) error
	// ProposeConfChange proposes a configuration change (pb.ConfChange or
	// pb.ConfChangeV2). Like Propose it blocks while no leader is known,
	// but it returns once the proposal is stepped: a refused change is not
	// reported. Once the change commits, the application must call
	// ApplyConfChange for it.
	ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error
	// Step hands a message from a peer (or, in asynchronous storage mode,
	// a response from a storage thread) to the node. Local message types
	// from anyone else are ignored, and responses from nodes outside the
	// configuration are dropped. Proposals forwarded by peers block while
	// no leader is known, like Propose.
	Step(ctx context.Context, msg pb.Message) error
	// Ready returns the channel on which the node offers what is ready.
	// In synchronous storage mode, after receiving a Ready the application
	// must process it and call Advance before the next one is offered.
	Ready() <-chan Ready
	// Advance tells the node that the application processed the last
	// Ready: it persisted the state, sent the messages and applied the
	// committed entries. It must not be called in asynchronous storage
	// mode (Config.AsyncStorageWrites), where it is ignored.
	Advance()
	// ApplyConfChange applies a committed configuration change to the node
	// and returns the resulting configuration. It must be called for every
	// conf change entry in CommittedEntries, in order. It blocks until the
	// change is applied; after Stop it returns an empty ConfState.
	ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState
	// TransferLeadership asks leader lead to hand leadership over to
	// transferee. lead only addresses the request; any leader acts on it.
	TransferLeadership(ctx context.Context, lead, transferee uint64)
	// ForgetLeader makes a follower forget its leader (see
	// RawNode.ForgetLeader). It returns once the request is stepped.
	ForgetLeader(ctx context.Context) error
	// ReadIndex requests a linearizable read identified by rctx. The
	// answer comes as a ReadState in a later Ready. It returns once the
	// request is stepped.
	ReadIndex(ctx context.Context, rctx []byte) error
	// Status returns the node's current status; the zero Status after
	// Stop.
	Status() Status
	// ReportUnreachable tells the node that the last message to id could
	// not be delivered.
	ReportUnreachable(id uint64)
	// ReportSnapshot tells the node whether the snapshot it sent to id
	// arrived (SnapshotFinish) or not (SnapshotFailure). A leader pauses
	// replication to a follower while a snapshot is on its way, until it
	// hears of the outcome.
	ReportSnapshot(id uint64, status SnapshotStatus)
	// Stop stops the node's goroutine and waits for it to exit. Further
	// calls return ErrStopped or do nothing. It may be called more than
	// once.
	Stop()
}

// StartNode starts a node with a new cluster of the given peers: the
// storage must be empty, and the peers' configuration is written into it
// (see RawNode.Bootstrap). An invalid Config, or no peers, make it panic
// (use Config.Validate to check first); a storage that is not empty is
// logged, and the node starts from what the storage holds.
func StartNode(c *Config, peers []Peer) Node {
	if len(peers) == 0 {
		panic("raft: StartNode needs at least one peer; use RestartNode to start from existing storage")
	}
	rn, err := NewRawNode(c)
	if err != nil {
		panic(err.Error())
	}
	if err := rn.Bootstrap(peers); err != nil {
		rn.raft.logger.Warningf("raft: error occurred during starting a new node: %v", err)
	}
	return startNode(rn, c.AsyncStorageWrites)
}

// RestartNode starts a node from the state in c.Storage: its log, hard
// state and configuration. An invalid Config makes it panic (use
// Config.Validate to check first).
func RestartNode(c *Config) Node {
	rn, err := NewRawNode(c)
	if err != nil {
		panic(err.Error())
	}
	return startNode(rn, c.AsyncStorageWrites)
}

// node implements Node. A mutex guards the RawNode: every method steps it
// directly on the caller's goroutine, so a proposal costs a lock and a
// Step, not a round trip to another goroutine. The goroutine run only
// hands out Readies: it builds one when something is ready (and, in
// synchronous storage mode, the previous one was advanced) and blocks
// until the application receives it. Whatever is stepped meanwhile waits
// for the next Ready.
type node struct {
	mu sync.Mutex
	rn *RawNode
	// pending is set while a handed-out Ready waits for Advance
	// (synchronous storage mode only).
	pending bool
	// idle is set while run waits for work; the first step that finds it
	// set clears it and wakes run through wakec.
	idle  bool
	wakec chan struct{}
	// lead is the leader last seen, for logging changes; removed is set
	// once the node applied a configuration without itself, after which
	// it takes no more proposals.
	lead    uint64
	removed bool
	// leadc, when not nil, is closed once proposals can be taken again
	// (a leader is known and the node was not removed). Proposals that
	// arrive before wait on it.
	leadc   chan struct{}
	stopped bool

	readyc   chan Ready
	stopOnce sync.Once
	stopc    chan struct{} // closed by Stop
	donec    chan struct{} // closed by run when it exits

	async  bool
	logger Logger
}

func startNode(rn *RawNode, async bool) *node {
	n := &node{
		rn:     rn,
		wakec:  make(chan struct{}, 1),
		readyc: make(chan Ready),
		stopc:  make(chan struct{}),
		donec:  make(chan struct{}),
		async:  async,
		logger: rn.raft.logger,
	}
	go n.run()
	return n
}

// run hands out Readies until Stop.
func (n *node) run() {
	defer close(n.donec)
	for {
		n.mu.Lock()
		var rd Ready
		ready := !n.pending && n.rn.HasReady()
		if ready {
			// The Ready is accepted now, before the application takes
			// it: what is stepped until then goes into the next one.
			rd = n.rn.Ready()
			n.pending = !n.async
		} else {
			n.idle = true
		}
		n.mu.Unlock()

		if ready {
			select {
			case n.readyc <- rd:
			case <-n.stopc:
				return
			}
			continue
		}
		select {
		case <-n.wakec:
		case <-n.stopc:
			return
		}
	}
}

// lock takes the node's mutex, or reports ErrStopped (without the mutex)
// after Stop.
func (n *node) lock() error {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return ErrStopped
	}
	return nil
}

// unlock follows a change to the RawNode: it wakes run if it is waiting,
// notes a change of leader, releases waiting proposals if they can be
// taken now, and releases the mutex.
func (n *node) unlock() {
	if n.idle {
		n.idle = false
		n.wakec <- struct{}{} // has room: one wake-up per idle spell
	}
	r := n.rn.raft
	if r.lead != n.lead {
		switch {
		case r.lead == None:
			n.logger.Infof("raft.node: %x lost leader %x at term %d", r.id, n.lead, r.Term)
		case n.lead == None:
			n.logger.Infof("raft.node: %x elected leader %x at term %d", r.id, r.lead, r.Term)
		default:
			n.logger.Infof("raft.node: %x changed leader from %x to %x at term %d", r.id, n.lead, r.lead, r.Term)
		}
		n.lead = r.lead
	}
	if n.leadc != nil && n.takesProposals() {
		close(n.leadc)
		n.leadc = nil
	}
	n.mu.Unlock()
}

// takesProposals reports whether proposals are stepped now rather than
// held back: only while a leader is known and the node is a member.
func (n *node) takesProposals() bool {
	return n.lead != None && !n.removed
}

// isMember reports whether id is in r's configuration.
func isMember(r *raft, id uint64) bool {
	return r.trk.Get(id) != nil
}

func (n *node) Tick() {
	if n.lock() != nil {
		return
	}
	n.rn.Tick()
	n.unlock()
}

func (n *node) Campaign(ctx context.Context) error {
	return n.step(ctx, pb.Message{Type: pb.MsgHup})
}

func (n *node) Propose(ctx context.Context, data []byte) error {
	return n.propose(ctx, pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: data}}}, true)
}

func (n *node) ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error {
	m, err := confChangeToMsg(cc)
	if err != nil {
		return err
	}
	return n.propose(ctx, m, false)
}

func (n *node) Step(ctx context.Context, m pb.Message) error {
	if IsLocalMsg(m.Type) && !IsLocalMsgTarget(m.From) {
		// Local messages come from the node itself, never from outside
		// (except storage thread responses).
		return nil
	}
	if m.Type == pb.MsgProp {
		return n.propose(ctx, m, false)
	}
	return n.step(ctx, m)
}

// step steps m: a peer's message, a storage thread's response, or one of
// the node's own requests.
func (n *node) step(ctx context.Context, m pb.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.lock(); err != nil {
		return err
	}
	r := n.rn.raft
	switch {
	case IsLocalMsgTarget(m.From):
		// A storage thread's response: RawNode checks it.
		_ = n.rn.Step(m)
	case IsResponseMsg(m.Type) && !isMember(r, m.From):
		// A response from a node outside the configuration.
	default:
		// Peer messages, and the node's own requests (MsgHup,
		// MsgUnreachable, ...) that RawNode.Step would refuse.
		_ = r.stepMsg(&m)
	}
	n.unlock()
	return nil
}

// propose steps a proposal once proposals are taken (a leader is known),
// waiting for that until ctx is done. With verdict, it returns the
// node's refusal, if any; without, refusals are not reported.
func (n *node) propose(ctx context.Context, m pb.Message, verdict bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := n.lock(); err != nil {
			return err
		}
		if n.takesProposals() {
			err := n.rn.raft.Step(m)
			n.unlock()
			if !verdict {
				return nil
			}
			return err
		}
		if n.leadc == nil {
			n.leadc = make(chan struct{})
		}
		leadc := n.leadc
		n.mu.Unlock()
		select {
		case <-leadc:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stopc:
			return ErrStopped
		}
	}
}

func (n *node) Ready() <-chan Ready { return n.readyc }

func (n *node) Advance() {
	if n.async {
		n.logger.Error("raft.node: Advance must not be called when using AsyncStorageWrites; ignored")
		return
	}
	if n.lock() != nil {
		return
	}
	if n.pending {
		n.rn.Advance(Ready{})
		n.pending = false
	}
	n.unlock()
}

func (n *node) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	if n.lock() != nil {
		return &pb.ConfState{}
	}
	cs := n.rn.ApplyConfChange(cc)
	// A node that applied its own removal proposes no more; an outgoing
	// voter of a joint configuration still has its progress and is not
	// removed yet.
	n.removed = !isMember(n.rn.raft, n.rn.raft.id)
	n.unlock()
	return cs
}

func (n *node) TransferLeadership(ctx context.Context, lead, transferee uint64) {
	// lead only addresses the request; the leader acts on From.
	_ = n.step(ctx, pb.Message{Type: pb.MsgTransferLeader, From: transferee, To: lead})
}

func (n *node) ForgetLeader(ctx context.Context) error {
	return n.step(ctx, pb.Message{Type: pb.MsgForgetLeader})
}

func (n *node) ReadIndex(ctx context.Context, rctx []byte) error {
	return n.step(ctx, pb.Message{Type: pb.MsgReadIndex, Entries: []pb.Entry{{Data: rctx}}})
}

func (n *node) Status() Status {
	if n.lock() != nil {
		return Status{}
	}
	defer n.mu.Unlock()
	return getStatus(n.rn.raft)
}

func (n *node) ReportUnreachable(id uint64) {
	_ = n.step(context.Background(), pb.Message{Type: pb.MsgUnreachable, From: id})
}

func (n *node) ReportSnapshot(id uint64, status SnapshotStatus) {
	rej := status == SnapshotFailure
	_ = n.step(context.Background(), pb.Message{Type: pb.MsgSnapStatus, From: id, Reject: rej})
}

func (n *node) Stop() {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.stopped = true
		n.mu.Unlock()
		close(n.stopc)
	})
	<-n.donec
}
