package multiraft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

func quiet(hc *HostConfig) { hc.Quiescence = true }

// newQuietCluster returns 3 hosts with quiescence on, every group led by
// host 1 (unless spread), with one write per group, ticked until quiet.
func newQuietCluster(t *testing.T, groups int, spread bool, cfg func(*HostConfig)) *testCluster {
	c := newTestCluster(t, 3, groups, func(hc *HostConfig) {
		hc.Quiescence = true
		if cfg != nil {
			cfg(hc)
		}
	})
	c.tick(2)
	if !spread {
		for _, g := range c.groups {
			require.NoError(t, c.hosts[1].Campaign(g))
		}
		c.settle()
	}
	c.waitLeaders(100)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-a", g))
	}
	c.tick(12)
	return c
}

// terms returns every group's term as host id sees it.
func (c *testCluster) terms(id HostID) map[GroupID]uint64 {
	m := map[GroupID]uint64{}
	for _, g := range c.groups {
		st, err := c.hosts[id].Status(g)
		require.NoError(c.t, err)
		m[g] = st.Term
	}
	return m
}

func (c *testCluster) requireAllQuiet() {
	for id, h := range c.hosts {
		for _, g := range c.groups {
			q, err := h.Quiesced(g)
			require.NoError(c.t, err)
			require.True(c.t, q, "host %d group %d", id, g)
		}
		st := h.Stats()
		require.Equal(c.t, len(c.groups), st.Quiet, "host %d: quiet groups", id)
		require.Zero(c.t, st.Awake, "host %d: awake groups", id)
	}
}

func TestIdleGroupsQuiesceAndCostNothingPerTick(t *testing.T) {
	c := newQuietCluster(t, 20, true, nil)
	c.requireAllQuiet()
	before := map[HostID]Stats{}
	for id, h := range c.hosts {
		before[id] = h.Stats()
	}
	c.net.ResetStats()
	c.tick(50)
	for id, h := range c.hosts {
		st := h.Stats()
		assert.Equal(t, before[id].Visits, st.Visits, "host %d visited quiet groups", id)
		assert.Equal(t, before[id].Readies, st.Readies, "host %d", id)
		for to := HostID(1); to <= 3; to++ {
			if to != id {
				l := c.net.Link(id, to)
				assert.Zero(t, l.Messages+l.Tuples, "host %d to %d: per-group traffic while quiet", id, to)
				assert.Greater(t, l.Liveness, uint64(0), "liveness keeps running")
			}
		}
	}
}

func TestHealthyQuietClusterHasNoElections(t *testing.T) {
	c := newQuietCluster(t, 12, true, nil)
	terms := c.terms(1)
	flaps := map[HostID]uint64{}
	for id, h := range c.hosts {
		flaps[id] = h.Stats().QuiesceFlaps
	}
	c.tick(600)
	assert.Equal(t, terms, c.terms(1))
	for id, h := range c.hosts {
		st := h.Stats()
		assert.Zero(t, st.ElectionsAfterWake, "host %d", id)
		assert.Equal(t, flaps[id], st.QuiesceFlaps, "host %d", id)
	}
	c.requireAllQuiet()
}

func TestQuietGroupsWakeForProposalsWithoutElections(t *testing.T) {
	c := newQuietCluster(t, 6, true, nil)
	terms := c.terms(1)
	for round := 0; round < 20; round++ {
		g := c.groups[round%len(c.groups)]
		l := c.leader(g)
		require.NotZero(t, l)
		// Alternate: at the leader, and at a follower (forwarded).
		at := l
		if round%2 == 1 {
			at = l%3 + 1
		}
		d := fmt.Sprintf("g%d-w%d", g, round)
		require.NoError(t, c.hosts[at].Propose(g, []byte(d)))
		c.settle()
		if at == l {
			// No round trip beyond the append: it is applied on the
			// leader once the pass settles, without a tick.
			assert.Contains(t, c.appliedOn(l, g), d, "round %d", round)
		}
		c.tick(1)
		for id := HostID(1); id <= 3; id++ {
			assert.Contains(t, c.appliedOn(id, g), d, "round %d host %d", round, id)
		}
		c.tick(12)
	}
	assert.Equal(t, terms, c.terms(1))
	var wakes uint64
	for id, h := range c.hosts {
		st := h.Stats()
		assert.Zero(t, st.ElectionsAfterWake, "host %d", id)
		wakes += st.QuietWakes[WakeLocal] + st.QuietWakes[WakeMessage]
	}
	assert.GreaterOrEqual(t, wakes, uint64(20))
	c.requireAllQuiet()
}

func TestReadIndexWakesAQuietGroup(t *testing.T) {
	c := newQuietCluster(t, 3, false, nil)
	for id := HostID(1); id <= 3; id++ {
		require.NoError(t, c.hosts[id].ReadIndex(1, []byte{byte(id)}))
		c.settle()
		c.tick(2)
		c.mu.Lock()
		rs := c.reads[id][1]
		c.mu.Unlock()
		require.NotEmpty(t, rs, "host %d got no read state", id)
		assert.Equal(t, []byte{byte(id)}, rs[len(rs)-1].RequestCtx)
	}
}

func TestQuietLeaderHostLossElectsWithinBound(t *testing.T) {
	const timeout = 5
	c := newQuietCluster(t, 12, false, func(hc *HostConfig) { hc.LivenessTimeoutTicks = timeout })
	c.requireAllQuiet()
	c.stop(1)
	// Liveness timeout, then the jittered campaign (at most
	// CampaignJitterTicks) and a pre-vote and vote round.
	bound := timeout + 2*electionTick + 2
	elected := 0
	for i := 0; i < bound && elected < len(c.groups); i++ {
		c.tick(1)
		elected = 0
		for _, g := range c.groups {
			if c.leader(g) != 0 {
				elected++
			}
		}
	}
	require.Equal(t, len(c.groups), elected, "groups with a new leader within %d ticks", bound)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-b", g))
	}
	c.tick(2)
	for _, g := range c.groups {
		assert.Equal(t, c.appliedOn(2, g), c.appliedOn(3, g))
		assert.Contains(t, c.appliedOn(2, g), fmt.Sprintf("g%d-a", g))
	}
}

// A lagging follower: its host is lost, the leader keeps writing and then
// quiesces with it behind; when the host returns the leader wakes and
// catches it up without another write.
func TestLostFollowerHostDoesNotKeepGroupsAwake(t *testing.T) {
	c := newQuietCluster(t, 6, false, func(hc *HostConfig) { hc.LivenessTimeoutTicks = 4 })
	c.stop(3)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-b", g))
	}
	c.tick(20)
	st := c.hosts[1].Stats()
	assert.Equal(t, len(c.groups), st.Quiet, "leaders quiet with host 3 down")
	c.start(3)
	c.tick(20)
	for _, g := range c.groups {
		assert.Equal(t, c.appliedOn(1, g), c.appliedOn(3, g), "group %d caught up", g)
		assert.Equal(t, HostID(1), c.leader(g))
	}
	c.requireAllQuiet()
}

// Restart with a stale quiesce: a follower host restarts while its groups
// are quiet; they come back awake without a leader, and the leaders,
// woken by the restart, take them back without an election.
func TestFollowerRestartWhileQuietNeedsNoElection(t *testing.T) {
	c := newQuietCluster(t, 6, false, nil)
	terms := c.terms(1)
	c.stop(2)
	c.start(2)
	c.tick(30)
	assert.Equal(t, terms, c.terms(1))
	assert.Equal(t, terms, c.terms(2))
	for _, g := range c.groups {
		assert.Equal(t, HostID(1), c.leader(g))
	}
	c.requireAllQuiet()
}

// Tick/quiesce race: the notice and a tick reach a follower in one pass;
// it must not tick a group it just quieted, and no tick count carries over.
func TestNoticeAndTickInOnePassDoNotElect(t *testing.T) {
	c := newTestCluster(t, 3, 4, quiet)
	c.tick(2)
	for _, g := range c.groups {
		require.NoError(t, c.hosts[1].Campaign(g))
	}
	c.settle()
	for _, g := range c.groups {
		c.propose(g, "x")
	}
	terms := c.terms(1)
	// Tick every host many times per pass, so notices and ticks share
	// passes in every order.
	for i := 0; i < 100; i++ {
		for _, h := range c.hosts {
			h.Tick()
			h.Tick()
			h.Tick()
		}
		c.settle()
	}
	assert.Equal(t, terms, c.terms(1))
	c.requireAllQuiet()
}

// Partial partition with pre-vote: host 3 loses host 1 (the leader's) but
// still reaches host 2. Its groups forget the leader and pre-vote; host 2's
// followers wake, poke the leader and refuse (in lease): the leader is not
// deposed.
func TestPartialPartitionDoesNotDeposeAQuietLeader(t *testing.T) {
	c := newQuietCluster(t, 6, false, func(hc *HostConfig) { hc.LivenessTimeoutTicks = 4 })
	terms := c.terms(1)
	c.net.Partition(1, 3)
	c.tick(60)
	for _, g := range c.groups {
		assert.Equal(t, HostID(1), c.leader(g), "group %d", g)
		c.propose(g, fmt.Sprintf("g%d-b", g))
	}
	assert.Equal(t, terms, c.terms(1), "no leader was deposed")
	c.net.Heal()
	c.tick(30)
	for _, g := range c.groups {
		assert.Equal(t, c.appliedOn(1, g), c.appliedOn(3, g))
	}
}

// A brief liveness blip of the leader's host: its groups may elect
// elsewhere, but every group keeps a leader afterwards and no write is lost.
func TestLivenessBlipLosesNothing(t *testing.T) {
	c := newQuietCluster(t, 6, false, func(hc *HostConfig) { hc.LivenessTimeoutTicks = 3 })
	c.net.Isolate(1)
	c.tick(5)
	c.net.Heal()
	c.tick(40)
	c.waitLeaders(100)
	for _, g := range c.groups {
		c.propose(g, fmt.Sprintf("g%d-b", g))
	}
	c.tick(3)
	for _, g := range c.groups {
		for id := HostID(1); id <= 3; id++ {
			assert.Equal(t, []string{fmt.Sprintf("g%d-a", g), fmt.Sprintf("g%d-b", g)}, c.appliedOn(id, g), "group %d host %d", g, id)
		}
	}
}

// A group with a host that does not advertise CapQuiesce never quiesces.
func TestGroupWithAHostWithoutQuiescenceStaysAwake(t *testing.T) {
	c := newTestCluster(t, 3, 4, func(hc *HostConfig) { hc.Quiescence = hc.ID != 3 })
	c.waitLeaders(100)
	terms := c.terms(1)
	c.tick(200)
	for id, h := range c.hosts {
		st := h.Stats()
		assert.Zero(t, st.Quiet, "host %d", id)
		assert.Zero(t, st.Quiesces, "host %d", id)
	}
	assert.Equal(t, terms, c.terms(1))
}

func TestWakeCauseString(t *testing.T) {
	assert.Equal(t, "message", WakeMessage.String())
	assert.Equal(t, "local", WakeLocal.String())
	assert.Equal(t, "liveness", WakeLiveness.String())
	_ = raft.None
}

// A joint configuration: while group 1 is joint (replica 3 being demoted
// to learner, with an explicit leave) it stays awake with no election;
// once it leaves, it quiesces again.
func TestJointConfigurationKeepsTheGroupAwake(t *testing.T) {
	c := newQuietCluster(t, 2, false, nil)
	terms := c.terms(1)
	cc := pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointExplicit,
		Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: 3}}}
	require.NoError(t, c.hosts[1].ProposeConfChange(1, cc))
	c.settle()
	c.tick(40)
	st := c.hosts[1].Stats()
	assert.Equal(t, 1, st.Awake, "the joint group is awake")
	assert.Equal(t, 1, st.Quiet, "the other group is quiet")
	require.NoError(t, c.hosts[1].ProposeConfChange(1, pb.ConfChangeV2{}))
	c.settle()
	c.tick(20)
	c.requireAllQuiet()
	assert.Equal(t, terms, c.terms(1))
}

// A brief liveness blip of one host wakes only the groups that have a
// replica there: 4 hosts, groups 1-6 on hosts 1-3 (led by host 1), groups
// 7-12 on hosts 2-4. Host 1 is cut off for longer than the liveness
// timeout and comes back: groups 7-12 stay quiet throughout.
func TestLivenessBlipWakesOnlyTheGroupsOfThatHost(t *testing.T) {
	net := NewMemNetwork()
	net.Strict = true
	hosts := map[HostID]*Host{}
	for id := HostID(1); id <= 4; id++ {
		h, err := NewHost(HostConfig{ID: id, Epoch: 1, Transport: net.Transport(id), LogStore: NewMemoryLogStore(),
			Seed: int64(id), Logger: quietLogger{}, Quiescence: true, LivenessTimeoutTicks: 3})
		require.NoError(t, err)
		hosts[id] = h
	}
	on := func(g GroupID) []HostID {
		if g <= 6 {
			return []HostID{1, 2, 3}
		}
		return []HostID{2, 3, 4}
	}
	for g := GroupID(1); g <= 12; g++ {
		hs := on(g)
		for i, id := range hs {
			gc := groupConfig(g, uint64(i+1), 3)
			for r := range gc.Replicas {
				gc.Replicas[r] = hs[r-1]
			}
			require.NoError(t, hosts[id].AddGroup(gc))
		}
	}
	settle := func() {
		for r := 0; r < 1000; r++ {
			did := false
			for _, h := range hosts {
				ok, err := h.Pass()
				require.NoError(t, err)
				did = did || ok
			}
			if !did {
				return
			}
		}
		t.Fatal("no settle")
	}
	tick := func(n int) {
		for i := 0; i < n; i++ {
			for _, h := range hosts {
				h.Tick()
			}
			settle()
		}
	}
	tick(2)
	for g := GroupID(1); g <= 12; g++ {
		require.NoError(t, hosts[on(g)[0]].Campaign(g))
	}
	settle()
	tick(20)
	quietB := func() {
		for g := GroupID(7); g <= 12; g++ {
			for _, id := range on(g) {
				q, err := hosts[id].Quiesced(g)
				require.NoError(t, err)
				require.True(t, q, "group %d on host %d", g, id)
			}
		}
	}
	quietB()
	net.Isolate(1)
	for i := 0; i < 5; i++ {
		tick(1)
		quietB()
	}
	net.Heal()
	for i := 0; i < 40; i++ {
		tick(1)
		quietB()
	}
	assert.Greater(t, hosts[2].Stats().QuietWakes[WakeLiveness], uint64(0), "host 1's groups woke on host 2")
	st := hosts[4].Stats()
	assert.Zero(t, st.QuietWakes[WakeLiveness]+st.QuietWakes[WakeMessage]+st.QuietWakes[WakeLocal], "host 4 shares no group with host 1")
	for g := GroupID(1); g <= 6; g++ {
		lead := HostID(0)
		for _, id := range on(g) {
			bs, err := hosts[id].Status(g)
			require.NoError(t, err)
			if bs.RaftState == raft.StateLeader {
				lead = id
			}
		}
		assert.NotZero(t, lead, "group %d has a leader after the blip", g)
	}
	for _, h := range hosts {
		h.Stop()
	}
}
