package rafttest

import (
	"fmt"
	"math/rand"

	"github.com/raftkit/raft"
)

// crash drops a node's volatile state: the Node, the state machine and the
// requests it was serving. Only its disk remains.
func (s *sim) crash(n *simNode, why string) {
	s.event(n.id, "crash", uint64(n.inc), 0, why)
	led := n.node.Status().Role == raft.StateLeader
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
	if s.sc.diskFaults() && (s.opts.LoseTailOf == nil || s.opts.LoseTailOf(n.id)) {
		before := s.res.Faults.diskFaults()
		s.maybeLoseDisk(n)
		if led && s.res.Faults.diskFaults() > before {
			s.res.Faults.LeaderLosses++
		}
	}
}

// diskFaults returns the number of disk faults of every kind.
func (f Faults) diskFaults() int {
	return f.LostTails + f.LostStates + f.TornHardStates + f.WipedDisks + f.RestoredBackups + f.LostAcked
}

// The kinds of disk faults, in the order their probabilities are laid out
// on [0, 1) by maybeLoseDisk.
const (
	faultNone = iota
	faultLoseTail
	faultLoseState
	faultTorn
	faultWipe
	faultBackup
	faultLoseAcked
)

// maybeLoseDisk makes the disk of n, which just crashed, lose state with
// the probabilities of the Scenario's disk faults: one draw picks the kind
// of fault, or none. No other node may have a disk that regressed and a
// quarantine it has not left: two regressions at once are outside the
// model (the library then prefers unavailability to divergence only as
// far as it detects them). A crash without a fault may take the backup
// that Scenario.RestoreBackup restores.
func (s *sim) maybeLoseDisk(n *simNode) {
	if s.lr == nil {
		s.lr = rand.New(rand.NewSource(s.opts.Seed ^ 0x1057))
	}
	u := s.lr.Float64()
	kind := faultNone
	for k, p := range []float64{s.sc.LoseTail, s.sc.LoseState, s.sc.TornHardState, s.sc.WipeDisk, s.sc.RestoreBackup, s.sc.LoseAcked} {
		if u < p {
			kind = faultLoseTail + k
			break
		}
		u -= p
	}
	if kind == faultNone {
		if s.sc.RestoreBackup > 0 && (n.disk.backup == nil || s.lr.Intn(2) == 0) {
			n.disk.backup = n.disk.copyDisk()
			s.event(n.id, "backup", n.disk.LastIndex(), n.disk.HardState().Commit, "")
		}
		return
	}
	for _, o := range s.nodes[1:] {
		if o.disk.regressed || o.disk.quarantined() {
			return
		}
	}
	switch kind {
	case faultLoseTail:
		s.loseTail(n)
	case faultLoseState:
		s.loseState(n)
	case faultTorn:
		s.tearHardState(n)
	case faultWipe:
		s.wipeDisk(n)
	case faultBackup:
		s.restoreBackup(n)
	case faultLoseAcked:
		s.loseAcked(n)
	}
}

// logFloor returns the lowest index a fault may cut the log of d at: the
// snapshot survives (the state machine's data is not the log's), so the
// log is cut at or above it.
func logFloor(d *Disk) uint64 {
	return max(d.FirstIndex()-1, d.Snapshot().Metadata.Index)
}

// loseTail makes the disk of n lose the tail of its log (Scenario.LoseTail):
// from a random index at or below its persisted commit index, so that the
// node finds the loss at restart.
func (s *sim) loseTail(n *simNode) {
	lo := logFloor(n.disk)
	commit := n.disk.HardState().Commit
	if commit <= lo {
		return // nothing the snapshot does not hold is committed on this disk
	}
	last := lo + uint64(s.lr.Int63n(int64(commit-lo)))
	s.event(n.id, "lose-tail", last, commit, "")
	s.res.Faults.LostTails++
	n.disk.loseTail(last)
}

// loseState makes the disk of n go back to an earlier HardState it held,
// its log cut no further than it was then (Scenario.LoseState). The
// application declares the loss when the library cannot see it (the old
// commit index is in the surviving log), and always with TailOnly.
func (s *sim) loseState(n *simNode) {
	d := n.disk
	lo := logFloor(d)
	snap := d.Snapshot().Metadata.Index
	var candidates []int
	for k, rec := range d.history[:max(len(d.history)-1, 0)] {
		if rec.hs.Commit >= snap && min(rec.last, rec.intact) >= lo && rec.hs != d.HardState() {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		return
	}
	k := candidates[s.lr.Intn(len(candidates))]
	rec := d.history[k]
	hi := min(rec.last, rec.intact, d.LastIndex())
	last := lo + uint64(s.lr.Int63n(int64(hi-lo+1)))
	declared := s.sc.TailOnly || rec.hs.Commit <= last
	s.event(n.id, "lose-state", last, rec.hs.Commit, fmt.Sprintf("term=%d vote=%d declared=%t", rec.hs.Term, rec.hs.Vote, declared))
	s.res.Faults.LostStates++
	lostTo := d.LastIndex()
	d.revert(k, last)
	if declared {
		s.declare(n, raft.StateLoss, last+1, lostTo)
	}
}

// tearHardState makes the disk of n lose its last HardState write
// (Scenario.TornHardState): it holds the previous one again, and the
// application, whose checksum found the torn write, declares a StateLoss.
func (s *sim) tearHardState(n *simNode) {
	d := n.disk
	k := len(d.history) - 2
	if k < 0 || d.history[k].hs.Commit < d.Snapshot().Metadata.Index {
		// No earlier HardState, or one older than the snapshot, which
		// the application would not restart from.
		return
	}
	hs := d.history[k].hs
	s.event(n.id, "torn-hardstate", hs.Term, hs.Commit, fmt.Sprintf("vote=%d", hs.Vote))
	s.res.Faults.TornHardStates++
	d.revert(k, d.LastIndex())
	s.declare(n, raft.StateLoss, 0, 0)
}

// wipeDisk empties the disk of n (Scenario.WipeDisk); the application's
// marker says the node was a member, and it declares a StateLoss.
func (s *sim) wipeDisk(n *simNode) {
	d := n.disk
	if d.LastIndex() == 0 && raft.IsEmptyHardState(d.HardState()) {
		return // nothing to lose
	}
	last := d.LastIndex()
	s.event(n.id, "wipe", last, d.HardState().Commit, "")
	s.res.Faults.WipedDisks++
	d.wipe()
	s.declare(n, raft.StateLoss, 1, last)
}

// restoreBackup puts back the older copy of the disk of n
// (Scenario.RestoreBackup), and the application declares a StateLoss.
func (s *sim) restoreBackup(n *simNode) {
	d := n.disk
	if d.backup == nil {
		return
	}
	last := d.LastIndex()
	s.event(n.id, "restore-backup", d.backup.LastIndex(), d.backup.HardState().Commit, fmt.Sprintf("from last=%d", last))
	s.res.Faults.RestoredBackups++
	d.restoreBackup()
	s.declare(n, raft.StateLoss, d.LastIndex()+1, last)
}

// loseAcked makes the disk of n lose entries above its persisted commit
// index (Scenario.LoseAcked), which the library cannot see, and the
// application declares it: a TailLoss with TailOnly (the HardState
// survived), a StateLoss otherwise.
func (s *sim) loseAcked(n *simNode) {
	d := n.disk
	commit := max(d.HardState().Commit, logFloor(d))
	lastIdx := d.LastIndex()
	if lastIdx <= commit {
		return // nothing above the commit index
	}
	last := commit + uint64(s.lr.Int63n(int64(lastIdx-commit)))
	s.event(n.id, "lose-acked", last, lastIdx, "")
	s.res.Faults.LostAcked++
	d.loseTail(last)
	kind := raft.StateLoss
	if s.sc.TailOnly {
		kind = raft.TailLoss
	}
	s.declare(n, kind, last+1, lastIdx)
}

// declare makes the application of n, whose disk just regressed where the
// library may not see it, declare the regression at the node's next
// start (raft.Config.Recovery with Cause raft.CauseDeclared), unless
// Options.skipDeclare models an application without such markers.
func (s *sim) declare(n *simNode, kind raft.RegressionKind, lostFrom, lostTo uint64) {
	if s.opts.skipDeclare {
		return
	}
	n.disk.declare(kind, lostFrom, lostTo)
	s.res.Faults.Declared++
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

		RecoverLostState:              s.sc.diskFaults(),
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
