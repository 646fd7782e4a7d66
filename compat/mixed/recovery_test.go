package mixed

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// raftkitOnly is Options.LoseTailOf and Options.Fencers for a mixed
// cluster: only raftkit nodes lose the tails of their logs, and only a
// raftkit leader runs the fence handshake that ends a StateLoss
// quarantine (an etcd leader leaves it quarantined, up and following). An etcd raft v3.6 node cannot
// restart over a lost tail: it panics, by design, at restart when its
// commit index is beyond its log, and on a heartbeat that commits beyond
// it (compat's TestEtcdCannotRejoinOverALostTail).
func raftkitOnly(c *Cluster) func(id uint64) bool {
	return func(id uint64) bool { return c.KindOf(id) == Raftkit }
}

// lostTails pins Scenario.LoseTail and TailOnly on top of sc.
func lostTails(sc func(*rafttest.Scenario), p float64, tailOnly bool) func(*rafttest.Scenario) {
	return func(s *rafttest.Scenario) {
		if sc != nil {
			sc(s)
		}
		s.LoseTail, s.TailOnly = p, tailOnly
	}
}

// lostTailSplits are the splits of TestMixedLostTails: three and five
// voters with one to four etcd nodes, so that raftkit nodes (the only ones
// that lose tails) are followers under etcd leaders and leaders of etcd
// followers. The spares that conf changes add are raftkit nodes.
var lostTailSplits = []struct {
	voters int
	etcd   uint64
}{
	{3, 0b001}, {3, 0b010}, {3, 0b011}, {3, 0b110}, {3, 0b101},
	{5, 0b00111}, {5, 0b01010}, {5, 0b11110}, {5, 0b10001}, {5, 0b01111},
}

// TestMixedLostTails runs mixed clusters whose raftkit nodes lose the
// tails of their logs when they crash (Scenario.LoseTail 0.5, one node at
// a time, below its persisted commit index) and rejoin with
// raft.Config.RecoverLostState, with HardStateIndependentlyDurable
// (TailLoss) and without (StateLoss), under the simulator's proposals,
// partitions, crashes and restarts, conf changes, snapshots and
// transfers. etcd nodes never lose a tail (raftkitOnly). Every rafttest
// check is on: no panic of any node (a panic is a violation), the
// committed and applied entries agree at every index, one leader per
// term, no committed entry lost outside the lost tail, linearizability;
// and the cluster's wrapper fails the run if a quarantined node grants a
// vote or a pre-vote, records a vote, or campaigns (tracked).
//
// For a soak, -mixed.seeds=N runs N seeds per split and kind.
func TestMixedLostTails(t *testing.T) {
	start, count := seeds(8)
	for _, tailOnly := range []bool{true, false} {
		began := time.Now()
		var tl tally
		for _, sp := range lostTailSplits {
			for i := 0; i < count; i++ {
				seed := start + int64(i)
				c := &Cluster{KindOf: Split{Etcd: sp.etcd}.KindOf}
				res := run(t, seed, c, fmt.Sprintf("lost tails (tailonly=%t), split %s", tailOnly, Split{Etcd: sp.etcd}.String(sp.voters+2)),
					lostTails(options(i, func(sc *rafttest.Scenario) { setVoters(sc, sp.voters) }), 0.5, tailOnly))
				tl.add(res, c.Stats)
			}
		}
		tl.log(t, fmt.Sprintf("lost tails, tailonly=%t", tailOnly), began)
		t.Logf("tailonly=%t: %d lost tails, %d nodes still quarantined at the end, %d runs blocked by a quarantine, %d vote answers by quarantined nodes (all rejections)",
			tailOnly, tl.faults.LostTails, tl.faults.StillQuarantined, tl.faults.QuarantineBlocked, tl.stats.QuarantineVoteAnswers)
		assert.Greater(t, tl.faults.LostTails, 0, "raftkit nodes lost tails")
		assert.Greater(t, tl.stats.QuarantineVoteAnswers, 0, "quarantined nodes were asked for votes")
		assert.Greater(t, tl.stats.Led[Etcd], 0, "etcd nodes led")
		assert.Greater(t, tl.stats.Led[Raftkit], 0, "raftkit nodes led")
	}
}

// TestEtcdLeaderProbeOfAQuarantinedFollowerStaysBounded replays seed 50005
// of TestMixedLostTails on the split where it ran out of memory: node 1, a
// raftkit follower of the etcd leader 2, lost entries 78–83 it had
// acknowledged. The etcd leader, in probe state with Match 83, probes at
// 84 on every rejection and every heartbeat answer (MaybeDecrTo never
// goes below Match+1), and the network duplicates 7% of the messages:
// when the follower answered each probe, every answer brought the probe
// back at once and each heartbeat and duplicate started one more exchange
// that never ended, until the process held 24 GB. A quarantined follower
// answers one rejection of a probe per tick (rule L3), so the run sends
// about as many messages as a healthy one.
func TestEtcdLeaderProbeOfAQuarantinedFollowerStaysBounded(t *testing.T) {
	const seed, maxMessages = 50005, 50_000
	c := &Cluster{KindOf: Split{Etcd: 0b11110}.KindOf}
	sc := lostTails(options(0, func(sc *rafttest.Scenario) { setVoters(sc, 5) }), 0.5, true)
	sent := 0
	res := Run(rafttest.Options{Seed: seed, NewNode: c.Factory(), Scenario: sc, OutDir: outDir(),
		LoseTailOf: raftkitOnly(c), Fencers: raftkitOnly(c),
		Tamper: func(_ *rand.Rand, _ *pb.Message) {
			if sent++; sent > maxMessages {
				t.Fatalf("seed %d sent over %d messages: a probe storm", seed, maxMessages)
			}
		}})
	require.Nil(t, res.Violation)
	t.Logf("ticks %d, messages %d, faults %+v", res.Ticks, sent, res.Faults)
	assert.Greater(t, res.Faults.LostTails, 0, "raftkit nodes lost tails")
	assert.Zero(t, res.Faults.StillQuarantined, "every quarantine ended")
}
