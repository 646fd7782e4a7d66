package multiraft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLivenessStates(t *testing.T) {
	c := newTestCluster(t, 3, 3, func(hc *HostConfig) { hc.LivenessTimeoutTicks = 5 })
	c.waitLeaders(100)
	c.tick(2)
	for a := HostID(1); a <= 3; a++ {
		for b := HostID(1); b <= 3; b++ {
			if a != b {
				st, epoch, caps := c.hosts[a].PeerLiveness(b)
				assert.Equal(t, LivenessLive, st, "%d sees %d", a, b)
				assert.Equal(t, uint64(1), epoch)
				assert.Equal(t, AllCaps&^CapQuiesce, caps, "quiescence is off unless asked for")
			}
		}
	}
	c.net.Isolate(3)
	c.tick(7)
	st, _, _ := c.hosts[1].PeerLiveness(3)
	assert.Equal(t, LivenessDown, st)
	st, _, _ = c.hosts[1].PeerLiveness(2)
	assert.Equal(t, LivenessLive, st)
	st, _, _ = c.hosts[3].PeerLiveness(1)
	assert.Equal(t, LivenessDown, st, "both sides see the cut")
	c.net.Heal()
	c.tick(2)
	st, _, _ = c.hosts[1].PeerLiveness(3)
	assert.Equal(t, LivenessLive, st)
}

func TestLivenessSeesRestartByEpoch(t *testing.T) {
	c := newTestCluster(t, 3, 3, nil)
	c.waitLeaders(100)
	c.tick(2)
	c.stop(2)
	c.start(2)
	c.tick(3)
	st, epoch, _ := c.hosts[1].PeerLiveness(2)
	assert.Equal(t, LivenessLive, st)
	assert.Equal(t, uint64(2), epoch)
	st, epoch, _ = c.hosts[2].PeerLiveness(1)
	assert.Equal(t, LivenessLive, st)
	assert.Equal(t, uint64(1), epoch)
}

func TestLivenessIgnoresStalePongs(t *testing.T) {
	h, tr := newRecHost(t, func(hc *HostConfig) { hc.Epoch = 5 })
	require.NoError(t, h.AddGroup(groupConfig(1, 1, 2)))
	h.HandleHello(Hello{Host: 2, Epoch: 3, Version: Version, Caps: AllCaps})
	h.Tick()
	mustPass(t, h)
	var ping *Liveness
	for _, env := range tr.take() {
		for i := range env.Liveness {
			ping = &env.Liveness[i]
		}
	}
	require.NotNil(t, ping)
	require.Equal(t, LivenessPing, ping.Kind)
	require.Equal(t, uint64(5), ping.Epoch)

	pong := func(l Liveness) LivenessState {
		h.HandleEnvelope(&Envelope{From: 2, To: 1, Liveness: []Liveness{l}})
		st, _, _ := h.PeerLiveness(2)
		return st
	}
	assert.Equal(t, LivenessUnknown, pong(Liveness{Kind: LivenessPong, Epoch: 3, PeerEpoch: 4, Seq: ping.Seq}), "a pong to an earlier incarnation")
	assert.Equal(t, LivenessUnknown, pong(Liveness{Kind: LivenessPong, Epoch: 3, PeerEpoch: 5, Seq: ping.Seq + 1}), "a pong to a ping never sent")
	assert.Equal(t, LivenessUnknown, pong(Liveness{Kind: LivenessPong, Epoch: 2, PeerEpoch: 5, Seq: ping.Seq}), "a pong from the peer's earlier incarnation")
	assert.Equal(t, LivenessLive, pong(Liveness{Kind: LivenessPong, Epoch: 3, PeerEpoch: 5, Seq: ping.Seq}))

	// A ping is answered with a pong echoing it, at the next flush.
	h.HandleEnvelope(&Envelope{From: 2, To: 1, Liveness: []Liveness{{Kind: LivenessPing, Epoch: 3, Seq: 77}}})
	h.Tick()
	mustPass(t, h)
	var got []Liveness
	for _, env := range tr.take() {
		got = append(got, env.Liveness...)
	}
	assert.Contains(t, got, Liveness{Kind: LivenessPong, Epoch: 5, PeerEpoch: 3, Seq: 77})
}

// With an election timeout far longer than the liveness timeout, groups
// whose leader's host is cut off elect a new leader in about the liveness
// timeout plus the campaign jitter, not the election timeout.
func TestLeaderHostDownElectsQuickly(t *testing.T) {
	electionTick = 100
	defer func() { electionTick = 10 }()
	c2 := newTestCluster(t, 3, 30, func(hc *HostConfig) {
		hc.LivenessTimeoutTicks = 4
		hc.CampaignJitterTicks = 6
	})
	c2.settle()                   // the bootstrap entries are applied
	for _, g := range c2.groups { // elect quickly at first, with host 1 leading
		require.NoError(t, c2.hosts[1].Campaign(g))
	}
	c2.settle()
	c2.tick(2)
	c2.waitLeaders(10)
	for _, g := range c2.groups {
		require.Equal(t, HostID(1), c2.leader(g))
	}
	c2.net.Isolate(1)
	delete(c2.hosts, 1)
	ticks := 0
	for ; ticks < 60; ticks++ {
		all := true
		for _, g := range c2.groups {
			if c2.leader(g) == 0 {
				all = false
			}
		}
		if all {
			break
		}
		c2.tick(1)
	}
	t.Logf("all %d groups re-elected %d ticks after the cut (election timeout 100..200 ticks)", len(c2.groups), ticks)
	assert.Less(t, ticks, 4+6+10)
}

func TestWakesAreSpread(t *testing.T) {
	c := newTestCluster(t, 3, 40, func(hc *HostConfig) {
		hc.MaxWakesPerPass = 5
		hc.LivenessTimeoutTicks = 3
	})
	c.waitLeaders(100)
	c.tick(2)
	c.net.Isolate(3)
	h := c.hosts[1]
	for i := 0; i < 10 && h.pendingLen() == 0; i++ {
		h.Tick()
		mustPass(t, h)
	}
	require.Equal(t, 40, h.pendingLen(), "one event per group on the lost host")
	prev := h.pendingLen()
	for prev > 0 {
		mustPass(t, h)
		n := h.pendingLen()
		assert.GreaterOrEqual(t, n, prev-5, "at most MaxWakesPerPass per pass")
		assert.Less(t, n, prev)
		prev = n
	}
}

// pendingLen is the number of liveness events not yet handed to groups.
func (h *Host) pendingLen() int {
	h.wakeMu.Lock()
	n := len(h.pendingWakes)
	h.wakeMu.Unlock()
	h.passMu.Lock()
	defer h.passMu.Unlock()
	return n + len(h.wakes)
}

// A dead peer host wakes its groups once when it goes Down, not on every
// tick after (TiKV #13054: 800 % CPU broadcasting unreachable stores).
func TestDeadPeerDoesNotWakeItsGroupsEveryTick(t *testing.T) {
	c := newTestCluster(t, 3, 30, func(hc *HostConfig) { hc.LivenessTimeoutTicks = 4; hc.CampaignJitterTicks = 3 })
	c.waitLeaders(100)
	c.tick(2)
	c.net.Isolate(3)
	delete(c.hosts, 3)
	c.tick(10) // Down by now, every group told
	h := c.hosts[1]
	st, _, _ := h.PeerLiveness(3)
	require.Equal(t, LivenessDown, st)
	before := h.Stats().Wakes
	require.NotZero(t, before, "the groups heard of the loss")
	c.tick(30)
	assert.Equal(t, before, h.Stats().Wakes, "no event per tick for a host already Down")
}

// The two followers notice the loss far apart: the first one's campaign is
// refused by the other, still in its lease, but the second one's campaign,
// after it forgot the leader too, wins.
func TestLeaderHostDownElectsWhenFollowersDetectAtDifferentTimes(t *testing.T) {
	electionTick = 100
	defer func() { electionTick = 10 }()
	c := newTestCluster(t, 3, 20, func(hc *HostConfig) {
		hc.CampaignJitterTicks = 2
		hc.LivenessTimeoutTicks = 3
		if hc.ID == 3 {
			hc.LivenessTimeoutTicks = 15
		}
	})
	c.settle()
	for _, g := range c.groups {
		require.NoError(t, c.hosts[1].Campaign(g))
	}
	c.settle()
	c.tick(2)
	c.waitLeaders(10)
	c.net.Isolate(1)
	delete(c.hosts, 1)
	ticks := 0
	for ; ticks < 60; ticks++ {
		all := true
		for _, g := range c.groups {
			if c.leader(g) == 0 {
				all = false
			}
		}
		if all {
			break
		}
		c.tick(1)
	}
	t.Logf("re-elected %d ticks after the cut", ticks)
	assert.Less(t, ticks, 15+2+5, "within the slower detector's timeout and jitter")
}
