package multiraft

import (
	"flag"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
)

var soakSeeds = flag.Int("multiraft.seeds", 4, "seeds of TestRandomFaultsLoseNoAcknowledgedWrite (-short: 1)")

// Random partitions, heals, crashes and restarts of hosts while groups
// take proposals; at the end the network heals, every host runs, and
// every replica of a group must have applied the same sequence,
// containing every write that was acknowledged (applied on the leader
// that took it). The seed drives the faults and the workload; raft's own
// election timeouts come from crypto/rand, so a run is not replayed byte
// for byte.
func TestRandomFaultsLoseNoAcknowledgedWrite(t *testing.T) {
	seeds := *soakSeeds
	if testing.Short() {
		seeds = 1
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { randomFaults(t, seed) })
	}
}

func randomFaults(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	// Quiescence is on in three seeds of four; routine work is spread
	// over passes of two visits (R2b) in half of the seeds.
	c := newTestCluster(t, 3, 12, func(hc *HostConfig) {
		hc.LivenessTimeoutTicks = 3 + int(seed%4)
		hc.Quiescence = seed%4 != 0
		if (seed/4)%2 == 1 {
			hc.MaxRoutineVisits = 2
		}
	})
	c.waitLeaders(100)
	acked := map[GroupID][]string{}
	down := map[HostID]bool{}
	cut := false
	n, reads := 0, 0
	for step := 0; step < 150; step++ {
		switch r := rng.Intn(100); {
		case r < 60: // a proposal at the group's leader, if any
			g := c.groups[rng.Intn(len(c.groups))]
			l := c.leader(g)
			if l == 0 {
				break
			}
			n++
			d := fmt.Sprintf("g%d-%d", g, n)
			if c.hosts[l].Propose(g, []byte(d)) != nil {
				break
			}
			c.settle()
			if got := c.appliedOn(l, g); len(got) > 0 && got[len(got)-1] == d {
				acked[g] = append(acked[g], d)
			}
		case r < 70: // cut two hosts apart
			a, b := HostID(1+rng.Intn(3)), HostID(1+rng.Intn(3))
			if a != b {
				c.net.Partition(a, b)
				cut = true
			}
		case r < 78:
			c.net.Heal()
			cut = false
		case r < 84: // crash a host (at most one down at a time)
			if len(down) == 0 {
				id := HostID(1 + rng.Intn(3))
				led := c.ledBy(id)
				c.stop(id)
				down[id] = true
				if !cut {
					// With the other two hosts connected, every group the
					// lost host led has a new leader within the bound.
					c.requireLeadersWithin(led, c.hosts[HostID(id%3+1)].cfg.LivenessTimeoutTicks+c.hosts[HostID(id%3+1)].cfg.CampaignJitterTicks+2*electionTick)
				}
			}
		case r < 92: // restart the crashed host
			for id := range down {
				c.start(id)
				delete(down, id)
			}
		case r < 97: // a ReadIndex at a random host sees every write acknowledged before it
			g := c.groups[rng.Intn(len(c.groups))]
			id := HostID(1 + rng.Intn(3))
			if down[id] {
				break
			}
			reads++
			before := append([]string(nil), acked[g]...)
			rctx := []byte(fmt.Sprintf("r%d", reads))
			require.NoError(t, c.hosts[id].ReadIndex(g, rctx))
			c.settle()
			if rs, ok := c.readState(id, g, rctx); ok {
				if st, err := c.hosts[id].Status(g); err == nil && st.Applied >= rs.Index {
					got := c.appliedOn(id, g)
					for _, d := range before {
						require.Contains(t, got, d, "seed %d group %d: a read at host %d misses an acknowledged write", seed, g, id)
					}
				}
			}
		default:
		}
		c.tick(1 + rng.Intn(4))
	}
	for id := range down {
		c.start(id)
	}
	c.net.Heal()
	c.tick(30)
	c.waitLeaders(100)
	for _, g := range c.groups { // a last write per group brings everyone up to date
		c.propose(g, fmt.Sprintf("g%d-final", g))
	}
	c.tick(10)
	total := 0
	for _, g := range c.groups {
		ref := c.appliedOn(1, g)
		for id := HostID(2); id <= 3; id++ {
			require.Equal(t, ref, c.appliedOn(id, g), "seed %d group %d: hosts 1 and %d applied different sequences", seed, g, id)
		}
		for _, d := range acked[g] {
			require.Contains(t, ref, d, "seed %d group %d lost an acknowledged write", seed, g)
		}
		total += len(acked[g])
	}
	var quiesces uint64
	for _, h := range c.hosts {
		quiesces += h.Stats().Quiesces
	}
	t.Logf("seed %d: %d acknowledged writes checked, %d reads, %d quiesces", seed, total, reads, quiesces)
}

// ledBy returns the groups whose leader runs on host id.
func (c *testCluster) ledBy(id HostID) []GroupID {
	var gs []GroupID
	for _, g := range c.groups {
		if c.leader(g) == id {
			gs = append(gs, g)
		}
	}
	return gs
}

// requireLeadersWithin ticks until every group of gs has a leader, failing
// after bound ticks.
func (c *testCluster) requireLeadersWithin(gs []GroupID, bound int) {
	for i := 0; ; i++ {
		missing := 0
		for _, g := range gs {
			if c.leader(g) == 0 {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		require.Less(c.t, i, bound, "%d of %d groups have no leader %d ticks after their leader's host died", missing, len(gs), bound)
		c.tick(1)
	}
}

// readState returns the ReadState of group g on host id with rctx.
func (c *testCluster) readState(id HostID, g GroupID, rctx []byte) (raft.ReadState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range c.reads[id][g] {
		if string(rs.RequestCtx) == string(rctx) {
			return rs, true
		}
	}
	return raft.ReadState{}, false
}
