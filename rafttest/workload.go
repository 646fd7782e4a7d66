package rafttest

import (
	"fmt"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// client issues one command at a time.
type client struct {
	id      int
	seq     uint64
	pending *op
}

// op is a client command in flight.
type op struct {
	client       int
	seq          uint64
	cmd          []byte
	viaReadIndex bool
	node         uint64 // the node serving it
	inc          int    // that node's incarnation
	call         int64
	deadline     int
	readIndex    uint64
	gotIndex     bool
	// floor is the highest index applied anywhere when the command was
	// issued: a read index below it misses a write that completed
	// before the read began.
	floor uint64
	// issued is the step in which the command was issued.
	issued int
}

// opRecord is a finished (or abandoned) command, for the linearizability
// check. An abandoned write has an unknown outcome: it may take effect at
// any time after its call, or never.
type opRecord struct {
	client    int
	cmd       []byte
	result    []byte
	call, ret int64
	unknown   bool
}

// opTimeout is how long a client waits for a result, in election
// timeouts.
const opTimeout = 8

// workload draws this tick's client commands and cluster operations.
func (s *sim) workload() {
	for _, c := range s.clients {
		if o := c.pending; o != nil {
			n := s.nodes[o.node]
			if s.tick >= o.deadline || !n.up() || n.inc != o.inc {
				s.abandon(c)
			}
			continue
		}
		if s.r.Float64() < s.sc.OpRate {
			s.startOp(c)
		}
	}
	if !s.faulty {
		return
	}
	if s.r.Float64() < s.sc.ConfChange {
		s.proposeConfChange()
	}
	if s.r.Float64() < s.sc.Transfer {
		if ld := s.leader(); ld != nil && len(ld.cs.Voters) > 1 {
			to := ld.cs.Voters[s.r.Intn(len(ld.cs.Voters))]
			if to != ld.id {
				s.cur = ld.id
				ld.node.TransferLeader(to)
				s.res.Faults.Transfers++
				s.event(ld.id, "transfer", to, 0, "")
			}
		}
	}
	if s.r.Float64() < s.sc.Campaign {
		if n := s.randomUpNode(); n != nil {
			s.cur = n.id
			err := n.node.Campaign()
			s.res.Faults.Campaigns++
			s.event(n.id, "campaign", 0, 0, errString(err))
		}
	}
}

// startOp sends a client's next command to a node: the leader half of the
// time, any up node (which forwards proposals) otherwise.
func (s *sim) startOp(c *client) {
	n := s.leader()
	if n == nil || s.r.Intn(2) == 0 {
		n = s.randomUpNode()
	}
	if n == nil {
		return
	}
	cmd, readOnly := s.svc.NextCommand(s.r, c.id)
	c.seq++
	o := &op{
		client:   c.id,
		seq:      c.seq,
		cmd:      cmd,
		node:     n.id,
		inc:      n.inc,
		deadline: s.tick + opTimeout*s.sc.ElectionTick,
	}
	s.clock++
	o.call = s.clock
	o.floor = uint64(len(s.chk.committed)) - 1
	o.issued = s.tick
	env := encodeEnvelope(envelope{client: c.id, seq: c.seq, cmd: cmd})
	s.cur = n.id
	if readOnly && s.r.Intn(2) == 0 {
		o.viaReadIndex = true
		n.node.ReadIndex(env)
		n.reads = append(n.reads, o)
		c.pending = o
		s.event(n.id, "read-index", uint64(c.id), c.seq, string(cmd))
		return
	}
	if err := n.node.Propose(env); err != nil {
		// Refused on the spot: the command never entered a log.
		s.event(n.id, "propose-refused", uint64(c.id), c.seq, err.Error())
		return
	}
	c.pending = o
	s.event(n.id, "propose", uint64(c.id), c.seq, string(cmd))
}

// complete records a command's result.
func (s *sim) complete(c *client, result []byte) {
	o := c.pending
	s.clock++
	s.history = append(s.history, opRecord{client: c.id, cmd: o.cmd, result: result, call: o.call, ret: s.clock})
	c.pending = nil
	s.event(o.node, "result", uint64(c.id), o.seq, string(result))
}

// abandon gives up on a command: a read is forgotten, a write keeps an
// unknown outcome.
func (s *sim) abandon(c *client) {
	o := c.pending
	c.pending = nil
	s.event(o.node, "abandon", uint64(c.id), o.seq, "")
	if o.viaReadIndex {
		return
	}
	s.history = append(s.history, opRecord{client: c.id, cmd: o.cmd, call: o.call, unknown: true})
}

// readState records the read index a node answered for a request.
func (s *sim) readState(n *simNode, rs raft.ReadState) {
	env, ok := decodeEnvelope(rs.RequestCtx)
	if !ok {
		return
	}
	if env.client == s.readProbeClient() {
		s.readProbeAnswered(n, env.seq, rs.Index)
		return
	}
	for _, o := range n.reads {
		if o.client == env.client && o.seq == env.seq && !o.gotIndex {
			if rs.Index < o.floor && !s.opts.skipReadFloor {
				s.fail("read index covers earlier writes", "node %d answered read c%d.%d at index %d, below index %d applied before the read began",
					n.id, o.client, o.seq, rs.Index, o.floor)
			}
			o.readIndex = rs.Index
			o.gotIndex = true
			s.res.ReadIndexes++
			if o.issued == s.tick {
				s.res.ImmediateReads++
			}
			s.event(n.id, "read-state", uint64(o.client), o.seq, fmt.Sprintf("index=%d", rs.Index))
		}
	}
}

// serveReads answers the reads whose index the node has applied.
func (s *sim) serveReads(n *simNode) {
	if !n.up() {
		return
	}
	kept := n.reads[:0]
	for _, o := range n.reads {
		c := s.clients[o.client]
		switch {
		case c.pending != o:
			// Abandoned.
		case o.gotIndex && n.applied >= o.readIndex:
			s.complete(c, n.rep.sm.Query(o.cmd))
		default:
			kept = append(kept, o)
		}
	}
	n.reads = kept
}

// proposeConfChange proposes a membership change on the leader, drawn
// from its current configuration: add or remove a voter or a learner,
// promote or demote, or a joint change of two.
func (s *sim) proposeConfChange() {
	ld := s.leader()
	if ld == nil {
		return
	}
	cs := ld.cs
	var cc pb.ConfChangeV2
	if len(cs.VotersOutgoing) > 0 {
		if cs.AutoLeave {
			return
		}
		// Leave the joint configuration.
		cc = pb.ConfChangeV2{}
	} else {
		spare := uint64(0)
		if s.nextSpare <= uint64(s.sc.Nodes) {
			spare = s.nextSpare
		}
		pick := func(ids []uint64) uint64 { return ids[s.r.Intn(len(ids))] }
		single := func(t pb.ConfChangeType, id uint64) pb.ConfChangeSingle {
			return pb.ConfChangeSingle{Type: t, NodeID: id}
		}
		var chs []pb.ConfChangeSingle
		switch s.r.Intn(6) {
		case 0:
			if spare != 0 {
				chs = append(chs, single(pb.ConfChangeAddLearnerNode, spare))
			}
		case 1:
			if spare != 0 {
				chs = append(chs, single(pb.ConfChangeAddNode, spare))
			}
		case 2:
			if len(cs.Learners) > 0 {
				chs = append(chs, single(pb.ConfChangeAddNode, pick(cs.Learners)))
			}
		case 3:
			if len(cs.Voters) > 3 {
				chs = append(chs, single(pb.ConfChangeRemoveNode, pick(cs.Voters)))
			} else if len(cs.Learners) > 0 {
				chs = append(chs, single(pb.ConfChangeRemoveNode, pick(cs.Learners)))
			}
		case 4:
			if len(cs.Voters) > 3 {
				chs = append(chs, single(pb.ConfChangeAddLearnerNode, pick(cs.Voters)))
			}
		case 5:
			// A joint change: bring one in, take one out.
			in := spare
			if len(cs.Learners) > 0 && (in == 0 || s.r.Intn(2) == 0) {
				in = pick(cs.Learners)
			}
			if in != 0 && len(cs.Voters) >= 3 {
				chs = append(chs, single(pb.ConfChangeAddNode, in), single(pb.ConfChangeRemoveNode, pick(cs.Voters)))
			}
		}
		if len(chs) == 0 {
			return
		}
		for _, ch := range chs {
			if ch.NodeID == spare {
				s.nextSpare++
			}
		}
		cc = pb.ConfChangeV2{Changes: chs}
		if len(chs) > 1 {
			cc.Transition = []pb.ConfChangeTransition{
				pb.ConfChangeTransitionAuto, pb.ConfChangeTransitionJointImplicit, pb.ConfChangeTransitionJointExplicit,
			}[s.r.Intn(3)]
		}
	}
	s.cur = ld.id
	var err error
	if v1, ok := cc.AsV1(); ok && s.r.Intn(2) == 0 {
		err = ld.node.ProposeConfChange(v1)
	} else {
		err = ld.node.ProposeConfChange(cc)
	}
	s.res.Faults.ConfChanges++
	s.event(ld.id, "propose-conf", 0, 0, pb.ConfChangesToString(cc.Changes)+" "+errString(err))
}
