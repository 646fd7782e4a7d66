package multiraft

import (
	"flag"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user and system) the process has used: on
// a shared machine wall time measures the neighbours as much as the code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchGroups = flag.Int("multiraft.groups", 1000, "groups per host in the idle benchmarks (try 10000 or 100000)")

// BenchmarkIdleTick measures an idle cluster of three hosts that each hold
// a replica of every group, leaders spread over the hosts: one op is one
// tick of all three hosts, with every pass it causes. It reports
//
//   - envelopes/pair/interval: envelopes both ways between two hosts per
//     heartbeat interval (HeartbeatTick = HeartbeatTicks = 1 tick); the
//     target is at most 2, whatever the number of groups;
//   - cpu-ns/group-tick: the CPU time of one group's tick, all its
//     heartbeat traffic included (process CPU time over groups × hosts);
//   - tuples/pair/interval: the heartbeats those envelopes carry;
//   - visits/group/tick: group visits by the passes of all three hosts,
//     per group and tick (a replica's tick, heartbeat or response handled
//     in one visit counts once).
//
// go test ./multiraft -run '^$' -bench IdleTick -multiraft.groups=10000
func BenchmarkIdleTick(b *testing.B) {
	n := *benchGroups
	b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
		c := newTestCluster(b, 3, n, nil)
		c.waitLeaders(200)
		c.tick(5)
		c.net.ResetStats()
		var visits0 uint64
		for _, h := range c.hosts {
			visits0 += h.Stats().Visits
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		c.tick(b.N)
		cpu := cpuTime() - cpu0
		b.StopTimer()
		var visits uint64
		for _, h := range c.hosts {
			visits += h.Stats().Visits
		}
		envs, tuples, msgs := c.linkTotals()
		pairs := float64(3 * b.N) // three host pairs, one interval per tick
		b.ReportMetric(float64(envs)/pairs, "envelopes/pair/interval")
		b.ReportMetric(float64(tuples)/pairs, "tuples/pair/interval")
		b.ReportMetric(float64(msgs)/pairs, "msgs/pair/interval")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(3*n), "cpu-ns/group-tick")
		b.ReportMetric(float64(visits-visits0)/float64(b.N)/float64(n), "visits/group/tick")
		for _, h := range c.hosts {
			h.Stop()
		}
	})
}

// BenchmarkProposeAcrossGroups measures one op = one proposal in each of
// 48 groups of a cluster that holds -multiraft.groups groups in all, until
// all are applied everywhere: the cost of idle groups for active ones is
// the difference between groups=48 and a larger count.
func BenchmarkProposeAcrossGroups(b *testing.B) {
	for _, n := range []int{48, *benchGroups} {
		b.Run(fmt.Sprintf("active=48/groups=%d", n), func(b *testing.B) {
			c := newTestCluster(b, 3, n, nil)
			c.waitLeaders(200)
			c.tick(3)
			active := c.groups[:48]
			lead := make(map[GroupID]HostID)
			for _, g := range active {
				lead[g] = c.leader(g)
			}
			data := make([]byte, 128)
			startSaves := c.stores[1].Stats().Saves
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				for _, g := range active {
					if err := c.hosts[lead[g]].Propose(g, data); err != nil {
						b.Fatal(err)
					}
				}
				c.settle()
			}
			cpu := cpuTime() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N*48)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*48), "cpu-ns/entry")
			b.ReportMetric(float64(c.stores[1].Stats().Saves-startSaves)/float64(b.N), "saves/op(host1)")
			for _, h := range c.hosts {
				h.Stop()
			}
		})
	}
}

// BenchmarkIdleStarted measures idle groups the way they run in
// production: three started hosts tick every -multiraft.loadtick with
// their own tickers, so a leader's heartbeats reach its followers between
// their hosts' tick passes. One op is one tick interval of wall time. It
// reports
//
//   - cpu-ns/group-tick: process CPU time per replica and tick (the
//     heartbeat round included);
//   - cores: process CPU time over wall time;
//   - visits/group/tick: group visits of all three hosts per group and
//     tick.
//
// go test ./multiraft -run '^$' -bench IdleStarted -benchtime 20x -multiraft.loadgroups=4096
func BenchmarkIdleStarted(b *testing.B) {
	n := *loadGroups
	b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
		c := newTestCluster(b, 3, n, func(hc *HostConfig) { hc.TickInterval = *loadTick })
		c.waitLeaders(200)
		c.tick(3)
		for _, h := range c.hosts {
			h.Start()
		}
		defer func() {
			for _, h := range c.hosts {
				h.Stop()
			}
		}()
		time.Sleep(3 * *loadTick)
		runtime.GC()
		var visits0 uint64
		for _, h := range c.hosts {
			visits0 += h.Stats().Visits
		}
		b.ResetTimer()
		cpu0 := cpuTime()
		time.Sleep(time.Duration(b.N) * *loadTick)
		cpu := cpuTime() - cpu0
		b.StopTimer()
		var visits uint64
		for _, h := range c.hosts {
			visits += h.Stats().Visits
		}
		ticks := float64(b.Elapsed()) / float64(*loadTick)
		b.ReportMetric(float64(cpu.Nanoseconds())/ticks/float64(3*n), "cpu-ns/group-tick")
		b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
		b.ReportMetric(float64(visits-visits0)/ticks/float64(n), "visits/group/tick")
	})
}

// linkTotals returns the envelopes, heartbeat tuples and raft messages
// sent over every link between the cluster's three hosts.
func (c *testCluster) linkTotals() (envs, tuples, msgs uint64) {
	for a := HostID(1); a <= 3; a++ {
		for d := HostID(1); d <= 3; d++ {
			if a != d {
				l := c.net.Link(a, d)
				envs += l.Envelopes
				tuples += l.Tuples
				msgs += l.Messages
			}
		}
	}
	return envs, tuples, msgs
}
