package multiraft

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recMetrics struct {
	mu         sync.Mutex
	groups     int
	passes     int
	saves      int
	synced     int
	fsync      time.Duration
	envelopes  map[Lane]int
	items      int
	bytes      int
	maxDepth   int
	drops      int
	liveness   map[HostID]LivenessState
	transition int
}

func (m *recMetrics) Groups(n int) { m.mu.Lock(); m.groups = n; m.mu.Unlock() }
func (m *recMetrics) Pass(visited, readies int, d time.Duration) {
	m.mu.Lock()
	m.passes++
	m.mu.Unlock()
}
func (m *recMetrics) Saved(updates int, synced bool, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	if synced {
		m.synced++
	}
	m.fsync += d
}
func (m *recMetrics) EnvelopeSent(to HostID, lane Lane, items, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.envelopes[lane]++
	m.items += items
	m.bytes += bytes
}
func (m *recMetrics) QueueDepth(to HostID, lane Lane, depth int) {
	m.mu.Lock()
	m.maxDepth = max(m.maxDepth, depth)
	m.mu.Unlock()
}
func (m *recMetrics) Dropped(to HostID, lane Lane, reason string) {
	m.mu.Lock()
	m.drops++
	m.mu.Unlock()
}
func (m *recMetrics) Liveness(peer HostID, state LivenessState, epoch uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.liveness[peer] = state
	m.transition++
}

func TestMetricsHearAboutTheHostsWork(t *testing.T) {
	m := &recMetrics{envelopes: map[Lane]int{}, liveness: map[HostID]LivenessState{}}
	c := newTestCluster(t, 3, 10, func(hc *HostConfig) {
		if hc.ID == 1 {
			hc.Metrics = m
			hc.LivenessTimeoutTicks = 3
		}
	})
	c.waitLeaders(100)
	for _, g := range c.groups {
		c.propose(g, "x")
	}
	// Host 1 may lead no group: a proposal made there is an append it
	// sends or a proposal it forwards, on the data lane either way.
	require.NoError(t, c.hosts[1].Propose(c.groups[0], []byte("y")))
	c.tick(3)
	m.mu.Lock()
	assert.Equal(t, 10, m.groups)
	assert.Greater(t, m.passes, 0)
	assert.Greater(t, m.saves, 0)
	assert.Greater(t, m.synced, 0)
	assert.Greater(t, m.envelopes[LaneControl], 0)
	assert.Greater(t, m.envelopes[LaneData], 0)
	assert.Greater(t, m.items, 0)
	assert.Greater(t, m.bytes, 0)
	assert.Greater(t, m.maxDepth, 0)
	assert.Equal(t, LivenessLive, m.liveness[2])
	assert.Equal(t, LivenessLive, m.liveness[3])
	m.mu.Unlock()

	c.net.Isolate(3)
	c.tick(5)
	m.mu.Lock()
	assert.Equal(t, LivenessDown, m.liveness[3])
	assert.Equal(t, LivenessLive, m.liveness[2])
	m.mu.Unlock()
	assert.Equal(t, 10, c.hosts[1].Stats().Groups)
}
