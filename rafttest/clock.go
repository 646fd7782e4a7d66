package rafttest

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
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
	if r.Intn(4) > 0 {
		sc.LeaseCut = 0.005 + r.Float64()*0.015
	}
	if r.Intn(4) > 0 {
		sc.Eager = 0.2 + r.Float64()*0.8
	}
}

func (sc Scenario) clockString() string {
	if !sc.clocked() {
		return ""
	}
	return fmt.Sprintf(" tick=%s drift=%.3f tickdrop=%.3f tickdelay=%.3f leasecut=%.4f eager=%.3f",
		sc.TickInterval, sc.Drift, sc.TickDrop, sc.TickDelay, sc.LeaseCut, sc.Eager)
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
		fast := []float64{0.5, 0.9}[s.cr.Intn(2)]
		for i := 1; i <= s.sc.Nodes; i++ {
			for j := 1; j <= s.sc.Nodes; j++ {
				if s.cr.Float64() < fast {
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

// nodeClock returns the Clock of node n: its local time at the current
// phase of the step. Outside tickInPhase the phase is 1, and the reading
// is the local time the oscillator reached at its last advance.
func (s *sim) nodeClock(n *simNode) func() time.Time {
	return func() time.Time {
		local := n.osc.local - (1-s.phase)*n.osc.rate
		return clockEpoch.Add(time.Duration(local * float64(s.sc.TickInterval)))
	}
}

// tickInPhase ticks the nodes of this step under the clock model, each at
// the moment within the step at which its local time passes a whole tick,
// in that order, and delivers what each tick sends over the fast links
// before the next node ticks. A heartbeat sent at the leader's tick then
// reaches a follower just before the follower's own tick in the same
// step: the one tick of phase that the lease's "ElectionTick - 1" must
// absorb, which whole steps alone never show.
func (s *sim) tickInPhase() {
	type tickAt struct {
		n     *simNode
		due   int
		phase float64
	}
	var order []tickAt
	for _, n := range s.nodes[1:] {
		due := s.ticksDue(n)
		if due == 0 || !n.up() {
			continue
		}
		o := &n.osc
		// The oscillator went from local-rate to local in this step and
		// passed floor(local) at this phase of it.
		ph := (math.Floor(o.local) - (o.local - o.rate)) / o.rate
		order = append(order, tickAt{n: n, due: due, phase: min(max(ph, 0), 1)})
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].phase < order[j].phase })
	for _, t := range order {
		s.phase = t.phase
		for k := t.due; k > 0 && t.n.up(); k-- {
			s.cur = t.n.id
			t.n.node.Tick()
		}
		s.processReadies(t.n)
		s.deliverWithinTick()
	}
	s.phase = 1
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
const readProbeRate = 0.5

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

// maxRoundsInStep bounds the message hops deliverWithinTick runs in one
// step: a follower caught up one entry per round trip over a fast link
// takes as many hops as it lacks entries, and the rest of them wait for the
// next step, as on a saturated network.
const maxRoundsInStep = 100

// deliverWithinTick delivers, under the clock model, the messages sent
// over fast links in this step, and handles what they cause, until no
// message is due in this step, or for maxRoundsInStep hops.
func (s *sim) deliverWithinTick() {
	if !s.sc.clocked() {
		return
	}
	for i := 0; i < maxRoundsInStep && s.net.due(s.tick); i++ {
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

// leaseCut aims faults at the lease, now and then under the clock model
// while faults are on, right after the step's ticks: the leader's last
// contact with the others is then the heartbeat of its tick, which carries
// its latest lease round. It cuts the leader off in one of three ways: from
// every node; from every node but one, the bridge, which half the time
// bounces (crashes and restarts at once, and campaigns) an election timeout
// later, as the partition closes around the leader; or, after its incoming
// links slowed down to a few steps, on its outgoing links only, so that
// acknowledgements keep arriving well after the heartbeats they answer
// stopped. A leader that holds a lease then keeps it for a while, while the
// others may elect a new leader as soon as their promise is over (see
// eagerCampaigns). The cuts and delays last until the network heals.
func (s *sim) leaseCut() {
	if !s.sc.clocked() {
		return
	}
	if s.bridgeBounce > 0 {
		s.bridgeBounce--
		if n := s.nodes[s.bridge]; s.bridgeBounce == 0 && n.up() {
			// The partition closes around the leader as the bridge
			// restarts, and the bridge campaigns at once.
			s.crash(n, "bounce-bridge")
			s.restart(n)
			s.cutLeader(s.bridgeOf, 0, true, true)
			s.cur = n.id
			if err := n.node.Campaign(); err != nil {
				s.event(n.id, "campaign", 0, 0, errString(err))
			}
		}
	}
	if s.cutOutAfter > 0 {
		s.cutOutAfter--
		if s.cutOutAfter == 0 {
			s.cutLeader(s.cutOut, 0, true, false)
		}
	}
	if s.sc.LeaseCut == 0 || s.cr.Float64() >= s.sc.LeaseCut {
		return
	}
	ld := s.leader()
	if ld == nil {
		return
	}
	switch s.cr.Intn(3) {
	case 0:
		s.cutLeader(ld.id, 0, true, true)
	case 1:
		bridge := uint64(1 + s.cr.Intn(s.sc.Nodes))
		if bridge != ld.id && s.cr.Intn(2) == 0 {
			s.bridge, s.bridgeOf, s.bridgeBounce = bridge, ld.id, s.sc.ElectionTick+s.cr.Intn(3)
		}
		s.cutLeader(ld.id, bridge, true, true)
	default:
		d := 3 + s.cr.Intn(s.sc.ElectionTick/2)
		for i := 1; i <= s.sc.Nodes; i++ {
			s.net.delay[i][ld.id] = d
		}
		s.event(ld.id, "lease-slow-acks", uint64(d), 0, "")
		s.cutOut, s.cutOutAfter = ld.id, 1+s.cr.Intn(d)
	}
}

// cutLeader cuts the links between the leader ld and every node but
// bridge, in the directions asked.
func (s *sim) cutLeader(ld, bridge uint64, out, in bool) {
	for i := uint64(1); i <= uint64(s.sc.Nodes); i++ {
		if i != ld && i != bridge {
			s.net.cut[ld][i] = s.net.cut[ld][i] || out
			s.net.cut[i][ld] = s.net.cut[i][ld] || in
		}
	}
	s.res.Faults.Partitions++
	s.event(ld, "lease-cut", bridge, 0, fmt.Sprintf("out=%t in=%t", out, in))
}

// eagerCampaigns has nodes that do not lead call Campaign, under the clock
// model while faults are on, each with probability Scenario.Eager per
// step, after the step's ticks, and lets the elections run over the fast
// links before the step's reads. Inside the lease a node grants its
// leader, or during its restart quarantine, the call is refused; so a node
// cut off from its leader campaigns at the first step the rules allow.
func (s *sim) eagerCampaigns() {
	if !s.sc.clocked() || s.sc.Eager == 0 {
		return
	}
	for _, n := range s.nodes[1:] {
		if !n.up() || s.cr.Float64() >= s.sc.Eager || n.node.Status().Role == raft.StateLeader {
			continue
		}
		s.cur = n.id
		if err := n.node.Campaign(); err != nil {
			s.event(n.id, "campaign", 0, 0, errString(err))
		}
	}
	for _, n := range s.nodes[1:] {
		s.processReadies(n)
	}
	s.deliverWithinTick()
}
