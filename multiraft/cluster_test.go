package multiraft

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// testCluster is a set of hosts on a MemNetwork, driven step by step: the
// hosts are not started; the test ticks them and runs their passes.
// Replica r of every group runs on host r.
type testCluster struct {
	t      testing.TB
	net    *MemNetwork
	n      int
	hosts  map[HostID]*Host
	stores map[HostID]*MemoryLogStore
	epochs map[HostID]uint64
	groups []GroupID
	cfg    func(*HostConfig)

	mu      sync.Mutex
	applied map[HostID]map[GroupID][]string
	reads   map[HostID]map[GroupID][]raft.ReadState
}

func newTestCluster(t testing.TB, hosts, groups int, cfg func(*HostConfig)) *testCluster {
	c := &testCluster{
		t: t, net: NewMemNetwork(), n: hosts, cfg: cfg,
		hosts: make(map[HostID]*Host), stores: make(map[HostID]*MemoryLogStore),
		epochs: make(map[HostID]uint64), applied: make(map[HostID]map[GroupID][]string),
		reads: make(map[HostID]map[GroupID][]raft.ReadState),
	}
	c.net.Strict = true
	for g := 1; g <= groups; g++ {
		c.groups = append(c.groups, GroupID(g))
	}
	for id := HostID(1); id <= HostID(hosts); id++ {
		c.stores[id] = NewMemoryLogStore()
		c.start(id)
	}
	return c
}

func groupConfig(g GroupID, self uint64, n int) GroupConfig {
	gc := GroupConfig{
		ID: g,
		Raft: raft.Config{
			ID: self, ElectionTick: electionTick, HeartbeatTick: 1,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
			CheckQuorum: true, PreVote: true, Logger: quietLogger{},
		},
		Replicas: make(map[uint64]HostID),
	}
	for r := 1; r <= n; r++ {
		gc.Replicas[uint64(r)] = HostID(r)
		gc.Bootstrap = append(gc.Bootstrap, uint64(r))
	}
	return gc
}

// start (re)starts host id over its store, with a new epoch.
func (c *testCluster) start(id HostID) {
	c.epochs[id]++
	c.mu.Lock()
	c.applied[id] = make(map[GroupID][]string)
	c.reads[id] = make(map[GroupID][]raft.ReadState)
	c.mu.Unlock()
	hc := HostConfig{
		ID: id, Epoch: c.epochs[id], Transport: c.net.Transport(id), LogStore: c.stores[id],
		Workers: 2, Seed: int64(id), Logger: quietLogger{},
		Apply: func(g GroupID, ents []pb.Entry) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, e := range ents {
				if e.Type == pb.EntryNormal && len(e.Data) > 0 {
					c.applied[id][g] = append(c.applied[id][g], string(e.Data))
				}
			}
		},
		ApplySnapshot: func(g GroupID, snap pb.Snapshot) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.applied[id][g] = nil
			if len(snap.Data) > 0 {
				c.applied[id][g] = strings.Split(string(snap.Data), ",")
			}
		},
		ReadStates: func(g GroupID, rs []raft.ReadState) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.reads[id][g] = append(c.reads[id][g], rs...)
		},
	}
	if c.cfg != nil {
		c.cfg(&hc)
	}
	h, err := NewHost(hc)
	require.NoError(c.t, err)
	for _, g := range c.groups {
		require.NoError(c.t, h.AddGroup(groupConfig(g, uint64(id), c.n)))
	}
	c.hosts[id] = h
}

// stop crashes host id: it leaves the network; its store stays.
func (c *testCluster) stop(id HostID) {
	c.hosts[id].Stop()
	delete(c.hosts, id)
}

// settle runs passes on every host until none has work.
func (c *testCluster) settle() {
	for round := 0; round < 1000; round++ {
		did := false
		for id := HostID(1); id <= HostID(c.n); id++ {
			h := c.hosts[id]
			if h == nil {
				continue
			}
			ok, err := h.Pass()
			require.NoError(c.t, err)
			did = did || ok
		}
		if !did {
			return
		}
	}
	c.t.Fatalf("cluster does not settle")
}

// tick ticks every running host n times, settling after each.
func (c *testCluster) tick(n int) {
	for i := 0; i < n; i++ {
		for _, h := range c.hosts {
			h.Tick()
		}
		c.settle()
	}
}

// leader returns the leader of group g as the running hosts see it, or 0
// when they do not agree on one that is running.
func (c *testCluster) leader(g GroupID) HostID {
	var lead uint64
	for id, h := range c.hosts {
		st, err := h.Status(g)
		require.NoError(c.t, err)
		if st.RaftState == raft.StateLeader {
			if lead != 0 && lead != uint64(id) {
				return 0
			}
			lead = uint64(id)
		}
	}
	if lead == 0 {
		return 0
	}
	return HostID(lead)
}

// waitLeaders ticks until every group has a leader on a running host.
func (c *testCluster) waitLeaders(maxTicks int) {
	for i := 0; i < maxTicks; i++ {
		all := true
		for _, g := range c.groups {
			if c.leader(g) == 0 {
				all = false
				break
			}
		}
		if all {
			return
		}
		c.tick(1)
	}
	c.t.Fatalf("not every group has a leader after %d ticks", maxTicks)
}

// propose proposes data to group g at its leader, ticking until it is
// taken. It returns the leader.
func (c *testCluster) propose(g GroupID, data string) HostID {
	for i := 0; i < 100; i++ {
		if l := c.leader(g); l != 0 {
			if err := c.hosts[l].Propose(g, []byte(data)); err == nil {
				c.settle()
				return l
			}
		}
		c.tick(1)
	}
	c.t.Fatalf("group %d takes no proposal", g)
	return 0
}

func (c *testCluster) appliedOn(id HostID, g GroupID) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.applied[id][g]...)
}

// scale multiplies the group counts of the cluster tests:
// go test ./multiraft -run Cluster -multiraft.scale=50 runs them with
// thousands of groups.
var scale = flag.Int("multiraft.scale", 1, "multiplies the group counts of the cluster tests")

// electionTick is the groups' election timeout in the tests.
var electionTick = 10

// quietLogger drops everything but panics.
type quietLogger = rafttest.QuietLogger

func TestClusterElectsAndCommitsInEveryGroup(t *testing.T) {
	c := newTestCluster(t, 3, 60**scale, nil)
	c.waitLeaders(100)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-a", g))
	}
	c.tick(3)
	for _, g := range c.groups {
		for id := range c.hosts {
			require.Equal(t, []string{fmt.Sprintf("g%d-a", g)}, c.appliedOn(id, g), "group %d on host %d", g, id)
		}
	}
	// Leaders are spread over the hosts.
	count := map[HostID]int{}
	for _, g := range c.groups {
		count[c.leader(g)]++
	}
	require.Len(t, count, 3, "leaders per host: %v", count)
}

func TestClusterSurvivesPartitionAndHeal(t *testing.T) {
	c := newTestCluster(t, 3, 40**scale, nil)
	c.waitLeaders(100)
	var led []GroupID
	for _, g := range c.groups {
		if c.leader(g) == 1 {
			led = append(led, g)
		}
	}
	require.NotEmpty(t, led)
	c.net.Isolate(1)
	// Host 1 is cut off: its groups elect leaders among hosts 2 and 3.
	isolated := c.hosts[1]
	delete(c.hosts, 1)
	c.waitLeaders(60)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-during", g))
	}
	c.hosts[1] = isolated
	for i := 0; i < 20; i++ { // host 1 ticks alone for a while
		isolated.Tick()
		_, err := isolated.Pass()
		require.NoError(t, err)
	}
	c.net.Heal()
	c.tick(30)
	c.waitLeaders(60)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-after", g))
	}
	c.tick(5)
	for _, g := range c.groups {
		want := []string{fmt.Sprintf("g%d-during", g), fmt.Sprintf("g%d-after", g)}
		for id := range c.hosts {
			require.Equal(t, want, c.appliedOn(id, g), "group %d on host %d", g, id)
		}
	}
}

func TestClusterHostRestartLosesNoAcknowledgedWrite(t *testing.T) {
	c := newTestCluster(t, 3, 30**scale, nil)
	c.waitLeaders(100)
	acked := map[GroupID][]string{}
	for round := 0; round < 3; round++ {
		for _, g := range c.groups {
			d := fmt.Sprintf("g%d-r%d", g, round)
			l := c.propose(g, d)
			c.tick(1)
			// Acknowledged: applied on the leader that took it.
			if got := c.appliedOn(l, g); len(got) > 0 && got[len(got)-1] == d {
				acked[g] = append(acked[g], d)
			}
		}
		victim := HostID(round%3 + 1)
		c.stop(victim)
		c.waitLeaders(80)
		c.start(victim)
		c.tick(20)
	}
	c.waitLeaders(80)
	c.tick(5)
	for _, g := range c.groups {
		require.NotEmpty(t, acked[g])
		for id := range c.hosts {
			got := c.appliedOn(id, g)
			for _, d := range acked[g] {
				require.Contains(t, got, d, "group %d host %d lost an acknowledged write", g, id)
			}
		}
	}
}

func TestLaggingHostCatchesUpBySnapshot(t *testing.T) {
	c := newTestCluster(t, 3, 4, nil)
	c.waitLeaders(100)
	// Make host 1 lead every group, then cut host 3 off.
	for _, g := range c.groups {
		if c.leader(g) != 1 {
			require.NoError(t, c.hosts[1].Campaign(g))
		}
	}
	c.tick(3)
	c.waitLeaders(50)
	c.net.Isolate(3)
	h3 := c.hosts[3]
	delete(c.hosts, 3)
	var want []string
	for i := 0; i < 5; i++ {
		d := fmt.Sprintf("e%d", i)
		want = append(want, d)
		for _, g := range c.groups {
			c.propose(g, d)
		}
	}
	c.tick(2)
	// The leaders compact their logs past what host 3 has.
	for _, g := range c.groups {
		l := c.leader(g)
		require.NotZero(t, l)
		st, err := c.hosts[l].Status(g)
		require.NoError(t, err)
		ms := c.stores[l].Memory(g)
		_, err = ms.CreateSnapshot(st.Applied, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte(strings.Join(c.appliedOn(l, g), ",")))
		require.NoError(t, err)
		require.NoError(t, ms.Compact(st.Applied))
	}
	c.hosts[3] = h3
	c.net.Heal()
	c.tick(10)
	for _, g := range c.groups {
		c.propose(g, "last")
	}
	c.tick(3)
	for _, g := range c.groups {
		snap, err := c.stores[3].Memory(g).Snapshot()
		require.NoError(t, err)
		assert.NotZero(t, snap.Metadata.Index, "group %d caught up by snapshot", g)
		assert.Equal(t, append(append([]string(nil), want...), "last"), c.appliedOn(3, g), "group %d", g)
	}
}
