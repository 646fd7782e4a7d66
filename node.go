package raft

import (
	"context"
	"errors"
	"sync"

	pb "github.com/raftkit/raft/raftpb"
)

// ErrStopped is returned by the methods of a Node after Stop.
var ErrStopped = errors.New("raft: stopped")

// Node is the channel API of a raft node: a goroutine owns a RawNode, and
// the methods of Node talk to it. All methods are safe for concurrent use.
//
// The application's loop receives from Ready, persists, sends and applies
// what each Ready carries (see the Ready type for the order), and calls
// Advance. It also calls Tick at a regular interval and Step for every
// message from a peer.
type Node interface {
	// Tick advances the node's logical clock by one tick. Ticks are
	// buffered; when the node falls behind by more than the buffer holds,
	// a tick is dropped with a warning.
	Tick()
	// Campaign makes the node start an election. It returns once the
	// request is queued, not when the election is over.
	Campaign(ctx context.Context) error
	// Propose proposes data to be appended to the log. While no leader is
	// known it blocks (until ctx is done); then it waits for the node to
	// take or refuse the proposal, and returns ErrProposalDropped (or an
	// error wrapping it) if refused. A nil error does not mean that the
	// entry will commit: watch CommittedEntries for it.
	Propose(ctx context.Context, data []byte) error
	// ProposeConfChange proposes a configuration change (pb.ConfChange or
	// pb.ConfChangeV2). Like Propose it blocks while no leader is known,
	// but it returns once the proposal is queued: a refused change is not
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
	// RawNode.ForgetLeader). It returns once the request is queued.
	ForgetLeader(ctx context.Context) error
	// ReadIndex requests a linearizable read identified by rctx. The
	// answer comes as a ReadState in a later Ready. It returns once the
	// request is queued.
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

// proposal is a MsgProp handed to the run loop. done, if not nil, receives
// the node's verdict; it has room for it, so the loop never blocks.
type proposal struct {
	m    pb.Message
	done chan error
}

// confChangeReq asks the run loop to apply a conf change.
type confChangeReq struct {
	cc   pb.ConfChangeI
	done chan pb.ConfState
}

// tickBuffer is the number of ticks that Tick queues ahead of the loop.
const tickBuffer = 128

// node implements Node: one goroutine (run) owns the RawNode, and every
// method is a channel operation with it.
type node struct {
	propc    chan proposal
	recvc    chan pb.Message
	confc    chan confChangeReq
	readyc   chan Ready
	advancec chan struct{}
	tickc    chan struct{}
	statusc  chan chan Status

	stopOnce sync.Once
	stopc    chan struct{} // closed by Stop
	donec    chan struct{} // closed by run when it exits

	async  bool
	logger Logger
}

// verdictPool recycles the channels on which Propose waits, so that a
// proposal costs no allocation of its own beyond its entry.
var verdictPool = sync.Pool{New: func() any { return make(chan error, 1) }}

func startNode(rn *RawNode, async bool) *node {
	n := &node{
		propc:    make(chan proposal),
		recvc:    make(chan pb.Message),
		confc:    make(chan confChangeReq),
		readyc:   make(chan Ready),
		advancec: make(chan struct{}),
		tickc:    make(chan struct{}, tickBuffer),
		statusc:  make(chan chan Status),
		stopc:    make(chan struct{}),
		donec:    make(chan struct{}),
		async:    async,
		logger:   rn.raft.logger,
	}
	go n.run(rn)
	return n
}

// run is the node's goroutine. Each turn of the loop offers what is ready
// and serves one request.
func (n *node) run(rn *RawNode) {
	defer close(n.donec)
	r := rn.raft

	var (
		rd       Ready
		readyc   chan Ready
		advancec chan struct{}
		// removed is set once this node applied a configuration without
		// itself: it then takes no more proposals.
		removed bool
		lead    = None
		propc   chan proposal
	)
	for {
		if advancec == nil && rn.HasReady() {
			// Built anew each turn: the previous turn may have changed
			// what is ready. Nothing is marked handed out until the
			// application receives it.
			rd = rn.readyWithoutAccept()
			readyc = n.readyc
		} else {
			readyc = nil
		}

		if r.lead != lead {
			if r.lead == None {
				n.logger.Infof("raft.node: %x lost leader %x at term %d", r.id, lead, r.Term)
			} else if lead == None {
				n.logger.Infof("raft.node: %x elected leader %x at term %d", r.id, r.lead, r.Term)
			} else {
				n.logger.Infof("raft.node: %x changed leader from %x to %x at term %d", r.id, lead, r.lead, r.Term)
			}
			lead = r.lead
		}
		// Proposals wait in their callers while no leader is known: the
		// loop does not read them.
		if lead != None && !removed {
			propc = n.propc
		} else {
			propc = nil
		}

		select {
		case p := <-propc:
			err := r.Step(p.m)
			if p.done != nil {
				p.done <- err
			}
		case m := <-n.recvc:
			switch {
			case IsLocalMsgTarget(m.From):
				// A storage thread's response: RawNode checks it.
				_ = rn.Step(m)
			case IsResponseMsg(m.Type) && r.trk.Progress[m.From] == nil:
				// A response from a node outside the configuration.
			default:
				// Peer messages, and the node's own requests (MsgHup,
				// MsgUnreachable, ...) that RawNode.Step would refuse.
				_ = r.Step(m)
			}
		case req := <-n.confc:
			cs := rn.ApplyConfChange(req.cc)
			// A node that applied its own removal proposes no more; an
			// outgoing voter of a joint configuration still has its
			// progress and is not removed yet.
			_, member := r.trk.Progress[r.id]
			removed = !member
			req.done <- *cs
		case <-n.tickc:
			rn.Tick()
		case readyc <- rd:
			rn.acceptReady(rd)
			if !n.async {
				advancec = n.advancec
			}
			rd = Ready{}
		case <-advancec:
			rn.Advance(Ready{})
			advancec = nil
		case c := <-n.statusc:
			c <- getStatus(r)
		case <-n.stopc:
			return
		}
	}
}

func (n *node) Tick() {
	select {
	case n.tickc <- struct{}{}:
	case <-n.donec:
	default:
		n.logger.Warningf("raft.node: tick dropped: the node is %d ticks behind; is the Ready loop blocked?", tickBuffer)
	}
}

func (n *node) Campaign(ctx context.Context) error {
	return n.send(ctx, pb.Message{Type: pb.MsgHup})
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
	return n.send(ctx, m)
}

// send hands m to the run loop, to be stepped.
func (n *node) send(ctx context.Context, m pb.Message) error {
	select {
	case n.recvc <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
}

// propose hands a proposal to the run loop, which takes it only while a
// leader is known. With wait, it then waits for the node's verdict.
func (n *node) propose(ctx context.Context, m pb.Message, wait bool) error {
	p := proposal{m: m}
	if wait {
		p.done = verdictPool.Get().(chan error)
	}
	select {
	case n.propc <- p:
	case <-ctx.Done():
		n.recycle(p.done)
		return ctx.Err()
	case <-n.donec:
		n.recycle(p.done)
		return ErrStopped
	}
	if !wait {
		return nil
	}
	select {
	case err := <-p.done:
		n.recycle(p.done)
		return err
	case <-ctx.Done():
		// The verdict may still come: the channel is not reused.
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
}

func (n *node) recycle(c chan error) {
	if c != nil {
		verdictPool.Put(c)
	}
}

func (n *node) Ready() <-chan Ready { return n.readyc }

func (n *node) Advance() {
	if n.async {
		n.logger.Error("raft.node: Advance must not be called when using AsyncStorageWrites; ignored")
		return
	}
	select {
	case n.advancec <- struct{}{}:
	case <-n.donec:
	}
}

func (n *node) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	req := confChangeReq{cc: cc, done: make(chan pb.ConfState, 1)}
	select {
	case n.confc <- req:
	case <-n.donec:
		return &pb.ConfState{}
	}
	cs := <-req.done
	return &cs
}

func (n *node) TransferLeadership(ctx context.Context, lead, transferee uint64) {
	// lead only addresses the request; the leader acts on From.
	_ = n.send(ctx, pb.Message{Type: pb.MsgTransferLeader, From: transferee, To: lead})
}

func (n *node) ForgetLeader(ctx context.Context) error {
	return n.send(ctx, pb.Message{Type: pb.MsgForgetLeader})
}

func (n *node) ReadIndex(ctx context.Context, rctx []byte) error {
	return n.send(ctx, pb.Message{Type: pb.MsgReadIndex, Entries: []pb.Entry{{Data: rctx}}})
}

func (n *node) Status() Status {
	c := make(chan Status, 1)
	select {
	case n.statusc <- c:
		return <-c
	case <-n.donec:
		return Status{}
	}
}

func (n *node) ReportUnreachable(id uint64) {
	_ = n.send(context.Background(), pb.Message{Type: pb.MsgUnreachable, From: id})
}

func (n *node) ReportSnapshot(id uint64, status SnapshotStatus) {
	rej := status == SnapshotFailure
	_ = n.send(context.Background(), pb.Message{Type: pb.MsgSnapStatus, From: id, Reject: rej})
}

func (n *node) Stop() {
	n.stopOnce.Do(func() { close(n.stopc) })
	<-n.donec
}
