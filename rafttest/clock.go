package rafttest

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/raftkit/raft"
)

// The clock model. Under ReadOnlyLeaseBased a leader serves reads under a
// lease bounded by its ticks and its clock, and followers keep their
// promise not to elect another leader by counting their own ticks. So the
// simulation gives each node an oscillator of its own: a rate within
// Scenario.Drift of nominal and a random phase, which advances the node's
// local time every step. The node ticks each time its local time passes a
// whole tick, so a fast node ticks twice in some steps and a slow one
// skips some, and its Clock reads its local time. While faults are on, a
// node may also lose a tick (as etcd's Node drops them when its channel is
// full) or hold its ticks back and deliver them later in a bunch (a
// stalled tick goroutine): a node never ticks ahead of its oscillator.

// clockEpoch is the simulated time at which every local clock starts.
var clockEpoch = time.Unix(1_000_000, 0)

// drawClock draws the clock model from r, a source of its own.
func drawClock(r *rand.Rand, sc *Scenario) {
	sc.TickInterval = 10 * time.Millisecond
	if r.Intn(4) > 0 {
		sc.Drift = r.Float64() * 0.05
	}
	if r.Intn(2) == 0 {
		sc.TickDrop = r.Float64() * 0.05
	}
	if r.Intn(2) == 0 {
		sc.TickDelay = r.Float64() * 0.01
	}
}

func (sc Scenario) clockString() string {
	if !sc.clocked() {
		return ""
	}
	return fmt.Sprintf(" tick=%s drift=%.3f tickdrop=%.3f tickdelay=%.3f", sc.TickInterval, sc.Drift, sc.TickDrop, sc.TickDelay)
}

// clocked reports whether the clock model is on.
func (sc Scenario) clocked() bool {
	return sc.ReadOnlyOption == raft.ReadOnlyLeaseBased && sc.TickInterval > 0
}

// oscillator is a node's source of ticks and time.
type oscillator struct {
	rate   float64 // local time per step, in ticks
	local  float64 // local time, in ticks
	ticked int64   // whole ticks of local time counted so far
	owed   int     // ticks held back, to deliver in a bunch
	stall  int     // steps left in which ticks are held back
}

// initClocks gives every node its oscillator, and, under the clock model,
// makes some links fast: a network round trip is usually much shorter than
// a tick, and a lease is tightest when heartbeats, acknowledgements and
// votes arrive within the tick they were sent in.
func (s *sim) initClocks() {
	if s.sc.clocked() {
		for i := 1; i <= s.sc.Nodes; i++ {
			for j := 1; j <= s.sc.Nodes; j++ {
				if s.cr.Intn(2) == 0 {
					s.net.delay[i][j] = 0
				}
			}
		}
		s.net.setBase()
	}
	for _, n := range s.nodes[1:] {
		n.osc = oscillator{rate: 1 + (2*s.cr.Float64()-1)*s.sc.Drift, local: s.cr.Float64()}
		n.osc.ticked = int64(n.osc.local)
	}
}

// leaseTickInterval is the TickInterval the nodes get: zero without the
// clock model, which leaves lease-based reads on the safe round.
func (s *sim) leaseTickInterval() time.Duration {
	if !s.sc.clocked() {
		return 0
	}
	return s.sc.TickInterval
}

// nodeClock returns the Clock of node n: its local time.
func (s *sim) nodeClock(n *simNode) func() time.Time {
	return func() time.Time {
		return clockEpoch.Add(time.Duration(n.osc.local * float64(s.sc.TickInterval)))
	}
}

// ticksDue advances the node's oscillator by one step and returns how many
// ticks the node gets in it: one without the clock model.
func (s *sim) ticksDue(n *simNode) int {
	if !s.sc.clocked() {
		if n.up() {
			return 1
		}
		return 0
	}
	o := &n.osc
	o.local += o.rate
	due := int(int64(o.local) - o.ticked)
	o.ticked = int64(o.local)
	if !n.up() {
		o.owed = 0
		return 0
	}
	if s.faulty {
		if due > 0 && s.cr.Float64() < s.sc.TickDrop {
			due--
			s.event(n.id, "tick-drop", 0, 0, "")
		}
		if o.stall == 0 && s.cr.Float64() < s.sc.TickDelay {
			o.stall = 1 + s.cr.Intn(2*s.sc.ElectionTick)
			s.event(n.id, "tick-stall", uint64(o.stall), 0, "")
		}
	}
	if o.stall > 0 {
		o.stall--
		o.owed += due
		return 0
	}
	if o.owed > 0 {
		// The stall is over: the held ticks come in a bunch, or, as a full
		// tick channel drops them, not at all.
		if s.cr.Intn(2) == 0 {
			s.event(n.id, "tick-bunch", uint64(o.owed), 0, "")
			due += o.owed
		} else {
			s.event(n.id, "tick-lost", uint64(o.owed), 0, "")
		}
		o.owed = 0
	}
	return due
}

// readProbeRate is the probability per step that a node which believes it
// leads is asked for a read probe, under the clock model.
const readProbeRate = 0.3

// readProbeClient is the envelope client of read probes: past the clients
// and the liveness probe.
func (s *sim) readProbeClient() int { return s.sc.Clients + 1 }

// probeReads asks nodes that believe they lead for a read now and then,
// under the clock model: reads outside the client workload, not in the
// history, whose only check is the direct one (a read index covers every
// index applied anywhere before the read was asked). They come often, so
// that a stale lease read in the few steps in which one is possible is
// found.
func (s *sim) probeReads() {
	if !s.sc.clocked() {
		return
	}
	for _, n := range s.nodes[1:] {
		if !n.up() || n.node.Status().Role != raft.StateLeader || s.cr.Float64() >= readProbeRate {
			continue
		}
		if s.readProbes == nil {
			s.readProbes = map[uint64]readProbe{}
		}
		s.readProbeSeq++
		s.readProbes[s.readProbeSeq] = readProbe{floor: uint64(len(s.chk.committed)) - 1, issued: s.tick}
		s.cur = n.id
		n.node.ReadIndex(encodeEnvelope(envelope{client: s.readProbeClient(), seq: s.readProbeSeq}))
	}
}

// readProbe is a read probe in flight: the highest index applied anywhere
// when it was asked, and the step it was asked in.
type readProbe struct {
	floor  uint64
	issued int
}

// readProbeAnswered checks a read probe's answer.
func (s *sim) readProbeAnswered(n *simNode, seq, index uint64) {
	p, ok := s.readProbes[seq]
	if !ok {
		return
	}
	delete(s.readProbes, seq)
	s.res.ReadIndexes++
	s.res.ReadProbes++
	if p.issued == s.tick {
		s.res.ImmediateReads++
	}
	if index < p.floor && !s.opts.skipReadFloor {
		s.fail("read index covers earlier writes", "node %d answered read probe %d at index %d, below index %d applied before the read began",
			n.id, seq, index, p.floor)
	}
}

// deliverWithinTick delivers, under the clock model, the messages sent
// over fast links in this step, and handles what they cause, until no
// message is due in this step.
func (s *sim) deliverWithinTick() {
	if !s.sc.clocked() {
		return
	}
	for i := 0; s.net.due(s.tick); i++ {
		if i > 100 {
			s.fail("ready terminates", "messages still due within step %d after %d rounds", s.tick, i)
		}
		s.deliver()
		for _, n := range s.nodes[1:] {
			s.processReadies(n)
		}
	}
}

// bounceRate is the probability per step, under the clock model while
// faults are on, that a node crashes and restarts at once: a process
// restart inside the lease it granted, which the crash faults, with their
// long down times, seldom give.
const bounceRate = 0.005

// bounce crashes and restarts a node now and then, under the clock model.
func (s *sim) bounce() {
	if !s.sc.clocked() || s.cr.Float64() >= bounceRate {
		return
	}
	n := s.nodes[1+s.cr.Intn(s.sc.Nodes)]
	if !n.up() {
		return
	}
	s.crash(n, "bounce")
	s.restart(n)
}
