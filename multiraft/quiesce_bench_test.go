package multiraft

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// quietBenchCluster builds 3 hosts with quiescence on and n groups, each
// with a replica on every host; with leadAll, host 1 leads them all. It
// ticks until every group is quiet on every host.
func quietBenchCluster(b *testing.B, n int, leadAll bool) *testCluster {
	c := newTestCluster(b, 3, n, quiet)
	c.tick(2)
	if leadAll {
		for _, g := range c.groups {
			if err := c.hosts[1].Campaign(g); err != nil {
				b.Fatal(err)
			}
		}
		c.settle()
	}
	c.waitLeaders(200)
	for i := 0; i < 100; i++ {
		c.tick(1)
		all := true
		for _, h := range c.hosts {
			if h.Stats().Awake != 0 {
				all = false
			}
		}
		if all {
			return c
		}
	}
	b.Fatalf("groups do not quiesce")
	return nil
}

// BenchmarkQuietTick measures a cluster of three hosts whose groups are all
// quiet: one op is one tick of all three hosts. It reports the CPU per host
// per tick, the share of one core that costs at a 500 ms tick (the target
// is at most 5 % with 100,000 groups per host), and the per-group traffic
// between hosts (the target is none: only liveness crosses).
//
// go test ./multiraft -run '^$' -bench QuietTick -multiraft.groups=100000
func BenchmarkQuietTick(b *testing.B) {
	n := *benchGroups
	b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
		c := quietBenchCluster(b, n, false)
		c.net.ResetStats()
		visits := c.hosts[1].Stats().Visits
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		c.tick(b.N)
		cpu := cpuTime() - cpu0
		b.StopTimer()
		envs, tuples, msgs := c.linkTotals()
		perHostTick := float64(cpu.Nanoseconds()) / float64(3*b.N)
		b.ReportMetric(perHostTick, "cpu-ns/host-tick")
		b.ReportMetric(100*perHostTick/500e6, "%core/host@500ms")
		b.ReportMetric(float64(tuples+msgs)/float64(3*b.N), "group-msgs/pair/tick")
		b.ReportMetric(float64(envs)/float64(3*b.N), "envelopes/pair/tick")
		b.ReportMetric(float64(c.hosts[1].Stats().Visits-visits)/float64(b.N), "visits/host-tick")
		for _, h := range c.hosts {
			h.Stop()
		}
	})
}

// BenchmarkQuietWake measures one op = one proposal on a quiet group, made
// at its leader or (every other op) at a follower, until it is applied on
// every host; then the cluster ticks until the group is quiet again (not
// timed). It reports the passes each proposal took to be applied on the
// leader without any tick (a proposal at a quiet leader needs the same
// passes as at an awake one: one append round trip), the same at a
// follower (forward, append round trip, commit back: without waiting for a
// tick, so no heartbeat round is added), the elections that followed wakes,
// and the term changes (both targets: zero).
func BenchmarkQuietWake(b *testing.B) {
	c := quietBenchCluster(b, 48, false)
	terms := c.terms(1)
	var leaderOps, leaderApplied, followerOps, followerApplied int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g := c.groups[i%len(c.groups)]
		l := c.leader(g)
		if l == 0 {
			b.Fatalf("group %d has no leader", g)
		}
		at := l
		if i%2 == 1 {
			at = l%3 + 1
		}
		d := fmt.Sprintf("w%d", i)
		if err := c.hosts[at].Propose(g, []byte(d)); err != nil {
			b.Fatal(err)
		}
		c.settle()
		if got := c.appliedOn(at, g); at == l {
			leaderOps++
			if len(got) > 0 && got[len(got)-1] == d {
				leaderApplied++
			}
		} else {
			followerOps++
			if len(got) > 0 && got[len(got)-1] == d {
				followerApplied++
			}
		}
		for t := 0; t < 3; t++ {
			if got := c.appliedOn(at, g); len(got) > 0 && got[len(got)-1] == d {
				break
			}
			c.tick(1)
		}
		b.StopTimer()
		c.tick(8)
		b.StartTimer()
	}
	b.StopTimer()
	if leaderOps > 0 {
		b.ReportMetric(float64(leaderApplied)/float64(leaderOps), "leader-applied-without-tick")
	}
	if followerOps > 0 {
		b.ReportMetric(float64(followerApplied)/float64(followerOps), "follower-applied-without-tick")
	}
	reportWakeOutcome(b, c, terms)
	for _, h := range c.hosts {
		h.Stop()
	}
}

// BenchmarkQuietLeaderHostLoss kills the host that leads every group while
// all are quiet and counts host ticks until each group has a new leader.
// It reports p50, p99 and max in ticks, and the bound: the liveness timeout
// plus two election timeouts. Run it once (-benchtime 1x).
//
// go test ./multiraft -run '^$' -bench QuietLeaderHostLoss -benchtime 1x -multiraft.groups=30000
func BenchmarkQuietLeaderHostLoss(b *testing.B) {
	n := *benchGroups
	b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := quietBenchCluster(b, n, true)
			timeout := c.hosts[2].cfg.LivenessTimeoutTicks
			bound := timeout + 2*electionTick
			c.stop(1)
			at := make(map[GroupID]int, n)
			for tick := 1; tick <= 4*bound && len(at) < n; tick++ {
				c.tick(1)
				for _, g := range c.groups {
					if _, ok := at[g]; !ok && c.leader(g) != 0 {
						at[g] = tick
					}
				}
			}
			if len(at) < n {
				b.Fatalf("%d of %d groups have no leader after %d ticks", n-len(at), n, 4*bound)
			}
			ts := make([]int, 0, n)
			for _, t := range at {
				ts = append(ts, t)
			}
			slices.Sort(ts)
			b.ReportMetric(float64(ts[n/2]), "p50-ticks")
			b.ReportMetric(float64(ts[n*99/100]), "p99-ticks")
			b.ReportMetric(float64(ts[n-1]), "max-ticks")
			b.ReportMetric(float64(bound), "bound-ticks")
			for _, h := range c.hosts {
				h.Stop()
			}
		}
	})
}

// BenchmarkQuietWakeStorm wakes quiet groups at a sustained rate: each op
// is one host tick in which 100 groups, drawn at random among 2,000
// quiet ones, get a proposal at a random replica, so that they wake, and
// go quiet again some ticks later while others wake. At a 100 ms tick,
// -benchtime 600x is 1,000 wakes per second for a minute. It reports the
// elections that followed a wake and the groups whose term changed (both
// targets: zero), and the mean share of groups awake.
//
// go test ./multiraft -run '^$' -bench QuietWakeStorm -benchtime 600x
func BenchmarkQuietWakeStorm(b *testing.B) {
	const groups, wakesPerTick = 2000, 100
	c := quietBenchCluster(b, groups, false)
	terms := c.terms(1)
	rng := rand.New(rand.NewSource(1))
	var awake float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for w := 0; w < wakesPerTick; w++ {
			g := c.groups[rng.Intn(len(c.groups))]
			at := HostID(rng.Intn(3) + 1)
			if err := c.hosts[at].Propose(g, []byte(fmt.Sprintf("s%d.%d", i, w))); err != nil {
				b.Fatal(err)
			}
		}
		c.tick(1)
		for _, h := range c.hosts {
			awake += float64(h.Stats().Awake)
		}
	}
	b.StopTimer()
	reportWakeOutcome(b, c, terms)
	b.ReportMetric(awake/float64(b.N)/3/groups, "awake-share")
	for _, h := range c.hosts {
		h.Stop()
	}
}

// reportWakeOutcome reports the elections that followed a wake on any
// host, and the groups whose term on host 1 differs from terms.
func reportWakeOutcome(b *testing.B, c *testCluster, terms map[GroupID]uint64) {
	var elections uint64
	for _, h := range c.hosts {
		elections += h.Stats().ElectionsAfterWake
	}
	changed := 0
	for g, term := range c.terms(1) {
		if terms[g] != term {
			changed++
		}
	}
	b.ReportMetric(float64(elections), "elections-after-wake")
	b.ReportMetric(float64(changed), "groups-with-new-term")
}
