package rafttest

import (
	"fmt"
	"math/rand"
)

// crash drops a node's volatile state: the Node, the state machine and the
// requests it was serving. Only its disk remains.
func (s *sim) crash(n *simNode, why string) {
	s.event(n.id, "crash", uint64(n.inc), 0, why)
	n.node = nil
	n.rep = nil
	n.reads = nil
	n.inc++
	// Ticks held back by a stalled tick loop die with the process: a node
	// restarted in the same step must not get them in a bunch.
	n.osc.owed, n.osc.stall = 0, 0
	s.res.Faults.Crashes++
	if s.opts.OnCrash != nil {
		s.opts.OnCrash(s.r, n.id, n.disk)
	}
	if s.sc.LoseTail > 0 && (s.opts.LoseTailOf == nil || s.opts.LoseTailOf(n.id)) {
		s.maybeLoseTail(n)
	}
}

// maybeLoseTail makes the disk of n, which just crashed, lose the tail of
// its log with probability Scenario.LoseTail: from a random index at or
// below its persisted commit index, so that the node finds the loss at
// restart. No other node may have a lost tail it is still quarantined
// for: two regressions at once are outside the model (the library then
// prefers unavailability to divergence only as far as it detects them).
func (s *sim) maybeLoseTail(n *simNode) {
	if s.lr == nil {
		s.lr = rand.New(rand.NewSource(s.opts.Seed ^ 0x1057))
	}
	if s.lr.Float64() >= s.sc.LoseTail {
		return
	}
	for _, o := range s.nodes[1:] {
		if o.disk.lostTail || (o.disk.recovery != nil && o.disk.recovery.Quarantined) {
			return
		}
	}
	// The snapshot survives (the state machine's data is not the log's):
	// the log is cut at or above it, and below the commit index, or the
	// loss could not be seen at restart.
	lo := max(n.disk.FirstIndex()-1, n.disk.Snapshot().Metadata.Index)
	commit := n.disk.HardState().Commit
	if commit <= lo {
		return // nothing the snapshot does not hold is committed on this disk
	}
	last := lo + uint64(s.lr.Int63n(int64(commit-lo)))
	s.event(n.id, "lose-tail", last, commit, "")
	s.res.Faults.LostTails++
	n.disk.loseTail(last)
}

// restart builds a fresh node over what the disk holds.
func (s *sim) restart(n *simNode) {
	if n.gone || n.up() {
		return
	}
	s.cur = n.id
	s.chk.recovered(n)
	snap := n.disk.Snapshot()
	n.rep = newReplica(s.svc)
	if err := n.rep.restore(s.svc, snap.Data); err != nil {
		s.fail("snapshot restores", "node %d cannot restore its snapshot at %d: %v", n.id, snap.Metadata.Index, err)
	}
	n.applied = snap.Metadata.Index
	n.cs = snap.Metadata.ConfState
	node, err := s.fac(NodeConfig{
		ID:                 n.id,
		Disk:               n.disk,
		Applied:            n.applied,
		ElectionTick:       s.sc.ElectionTick,
		HeartbeatTick:      s.sc.HeartbeatTick,
		PreVote:            s.sc.PreVote,
		CheckQuorum:        s.sc.CheckQuorum,
		ReadOnlyOption:     s.sc.ReadOnlyOption,
		MaxSizePerMsg:      s.sc.MaxSizePerMsg,
		MaxInflightMsgs:    s.sc.MaxInflightMsgs,
		StepDownOnRemoval:  s.sc.StepDownOnRemoval,
		AsyncStorageWrites: s.sc.AsyncStorageWrites,
		ApplyLag:           s.sc.applyLag(n.id),
		Rand:               s.src,
		TickInterval:       s.leaseTickInterval(),
		Clock:              s.nodeClock(n),

		RecoverLostState:              s.sc.LoseTail > 0,
		HardStateIndependentlyDurable: s.sc.TailOnly,
	})
	if err != nil {
		s.fail("node restarts", "node %d cannot start over its disk: %v", n.id, err)
	}
	n.node = node
	if s.tick > 0 {
		s.res.Faults.Restarts++
	}
	hs := n.disk.HardState()
	s.event(n.id, "start", hs.Term, hs.Commit, fmt.Sprintf("inc=%d applied=%d last=%d", n.inc, n.applied, n.disk.LastIndex()))
}

// injectFaults draws this tick's faults.
func (s *sim) injectFaults() {
	r := s.r
	if r.Float64() < s.sc.Crash {
		if n := s.randomUpNode(); n != nil {
			s.crash(n, "tick")
		}
	}
	for _, n := range s.nodes[1:] {
		if !n.up() && !n.gone && r.Float64() < s.sc.Restart {
			s.restart(n)
		}
	}
	if r.Float64() < s.sc.Partition {
		switch r.Intn(3) {
		case 0: // a random split
			group := make([]bool, s.sc.Nodes+1)
			for i := 1; i <= s.sc.Nodes; i++ {
				group[i] = r.Intn(2) == 0
			}
			s.net.partition(group)
			s.res.Faults.Partitions++
			s.event(0, "partition", 0, 0, fmt.Sprint(group[1:]))
		case 1: // isolate one node
			group := make([]bool, s.sc.Nodes+1)
			id := 1 + r.Intn(s.sc.Nodes)
			group[id] = true
			s.net.partition(group)
			s.res.Faults.Partitions++
			s.event(uint64(id), "isolate", 0, 0, "")
		default: // cut one direction of a link
			from, to := 1+r.Intn(s.sc.Nodes), 1+r.Intn(s.sc.Nodes)
			if from != to {
				s.net.cut[from][to] = true
				s.res.Faults.OneWayCuts++
				s.event(uint64(from), "cut", uint64(to), 0, "")
			}
		}
	}
	if r.Float64() < s.sc.Heal && s.net.heal() {
		s.res.Faults.Heals++
		s.event(0, "heal", 0, 0, "")
	}
	if r.Float64() < 0.002 {
		from, to := 1+r.Intn(s.sc.Nodes), 1+r.Intn(s.sc.Nodes)
		d := 1 + r.Intn(s.sc.MaxDelay+4)
		s.net.delay[from][to] = d
		s.event(uint64(from), "delay", uint64(to), uint64(d), "")
	}
}

// healAll ends the fault phase: every cut heals, links get their drawn
// delays back (a delay fault can make a round trip longer than the
// election timeout, under which no leader survives CheckQuorum), no
// message is lost or duplicated any more, and every crashed node restarts.
func (s *sim) healAll() {
	s.faulty = false
	s.net.heal()
	s.net.restoreDelays()
	s.net.loss = 0
	s.net.dup = 0
	s.event(0, "heal-all", 0, 0, "")
	for _, n := range s.nodes[1:] {
		s.restart(n)
	}
}
