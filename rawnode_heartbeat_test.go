package raft

import (
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"testing"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twinMember is a node of a twinCluster.
type twinMember struct {
	rn      *RawNode
	storage *MemoryStorage
	metrics *Metrics
}

// twinCluster is three RawNodes driven in one goroutine; every input is
// followed by the node's Ready, persisted and advanced, so that nothing is
// queued in the node between inputs.
type twinCluster struct {
	t     *testing.T
	nodes map[uint64]*twinMember
	fast  bool // heartbeats go through StepHeartbeat, ticks through TickHeartbeat
	taken int  // heartbeats StepHeartbeat took
	left  int  // heartbeats it left to Step
	// ticksTaken and ticksLeft count the ticks for which TickHeartbeat
	// took the heartbeats or left them to the Ready.
	ticksTaken, ticksLeft int
}

func newTwinCluster(t *testing.T, seed uint64, fast bool, configure func(*Config)) *twinCluster {
	c := &twinCluster{t: t, nodes: make(map[uint64]*twinMember), fast: fast}
	voters := []uint64{1, 2, 3}
	for _, id := range voters {
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: voters},
		}}))
		cfg := newTestConfig(id, 10, 1, s)
		cfg.Rand = randv2.NewPCG(seed, id)
		cfg.Metrics = new(Metrics)
		if configure != nil {
			configure(cfg)
		}
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		c.nodes[id] = &twinMember{rn: rn, storage: s, metrics: cfg.Metrics}
	}
	return c
}

// ready persists, applies and advances the node's Ready, and returns it.
func (c *twinCluster) ready(id uint64) Ready {
	n := c.nodes[id]
	if !n.rn.HasReady() {
		return Ready{}
	}
	rd := n.rn.Ready()
	if !IsEmptySnap(rd.Snapshot) {
		require.NoError(c.t, n.storage.ApplySnapshot(rd.Snapshot))
	}
	require.NoError(c.t, n.storage.Append(rd.Entries))
	if !IsEmptyHardState(rd.HardState) {
		require.NoError(c.t, n.storage.SetHardState(rd.HardState))
	}
	rd.Messages = append([]pb.Message(nil), rd.Messages...) // lent arrays are reused
	n.rn.Advance(rd)
	return rd
}

// step delivers m and returns the node's Ready, with the response
// StepHeartbeat returned appended to its messages, where Step would have
// queued it.
func (c *twinCluster) step(m pb.Message) Ready {
	n := c.nodes[m.To]
	var resp pb.Message
	took := false
	if c.fast {
		resp, took = n.rn.StepHeartbeat(m)
		if took {
			c.taken++
		} else if m.Type == pb.MsgHeartbeat || m.Type == pb.MsgHeartbeatResp {
			c.left++
		}
	}
	if !took {
		_ = n.rn.Step(m)
	}
	rd := c.ready(m.To)
	if took && resp.To != None {
		rd.Messages = append(rd.Messages, resp)
	}
	return rd
}

// tick ticks the node and returns its Ready, with the heartbeats that
// TickHeartbeat returned as its messages, where Tick would have queued
// them.
func (c *twinCluster) tick(id uint64) Ready {
	n := c.nodes[id]
	if !c.fast {
		n.rn.Tick()
		return c.ready(id)
	}
	hbs, took := n.rn.TickHeartbeat(nil)
	if !took {
		c.ticksLeft++
		return c.ready(id)
	}
	c.ticksTaken++
	require.False(c.t, n.rn.HasReady(), "TickHeartbeat left something for a Ready")
	return Ready{Messages: hbs}
}

// twinState is what the twins must agree on after each input.
type twinState struct {
	Status           Status
	ElectionElapsed  int
	HeartbeatElapsed int
	Metrics          MetricsSnapshot
}

func (c *twinCluster) state(id uint64) twinState {
	n := c.nodes[id]
	st := twinState{
		Status:           n.rn.Status(),
		ElectionElapsed:  n.rn.raft.electionElapsed,
		HeartbeatElapsed: n.rn.raft.heartbeatElapsed,
		Metrics:          n.metrics.Snapshot(),
	}
	// The fast path makes no Ready: the only counters that differ.
	st.Metrics.Readies, st.Metrics.ReadyMessages = 0, 0
	return st
}

// TestStepHeartbeatMatchesStep drives twin clusters through the same
// random schedule of ticks, proposals, reads, campaigns, deliveries,
// drops and reorders, one stepping every message with Step and ticking
// with Tick, the other stepping heartbeats and their responses with
// StepHeartbeat and ticking with TickHeartbeat where they take them: after every input both have the same Status (progress
// included), clocks, metrics (but the count of Readies) and Ready, and the
// fast path's response is the message Step put in the Ready.
func TestStepHeartbeatMatchesStep(t *testing.T) {
	configs := map[string]func(*Config){
		"default":             nil,
		"checkquorum+prevote": func(c *Config) { c.CheckQuorum, c.PreVote = true, true },
		"lent messages":       func(c *Config) { c.CheckQuorum, c.LendReadyMessages = true, true },
	}
	for name, configure := range configs {
		for seed := uint64(1); seed <= 20; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", name, seed), func(t *testing.T) {
				a := newTwinCluster(t, seed, false, configure)
				b := newTwinCluster(t, seed, true, configure)
				rng := rand.New(rand.NewSource(int64(seed)))
				var queue []pb.Message
				for i := 0; i < 3000; i++ {
					id := uint64(1 + rng.Intn(3))
					var ra, rb Ready
					what := ""
					switch x := rng.Intn(100); {
					case x < 25:
						what = "tick"
						ra, rb = a.tick(id), b.tick(id)
					case x < 30:
						what = "propose"
						_ = a.nodes[id].rn.Propose([]byte("x"))
						_ = b.nodes[id].rn.Propose([]byte("x"))
						ra, rb = a.ready(id), b.ready(id)
					case x < 31:
						what = "read"
						a.nodes[id].rn.ReadIndex([]byte{byte(i), byte(i >> 8)})
						b.nodes[id].rn.ReadIndex([]byte{byte(i), byte(i >> 8)})
						ra, rb = a.ready(id), b.ready(id)
					case x < 32 && rng.Intn(4) == 0:
						what = "campaign"
						_ = a.nodes[id].rn.Campaign()
						_ = b.nodes[id].rn.Campaign()
						ra, rb = a.ready(id), b.ready(id)
					case len(queue) == 0:
						continue
					case x < 36:
						what = "drop"
						k := rng.Intn(len(queue))
						queue = append(queue[:k], queue[k+1:]...)
						continue
					default:
						// Mostly in order, sometimes reordered.
						k := 0
						if rng.Intn(10) == 0 {
							k = rng.Intn(len(queue))
						}
						m := queue[k]
						queue = append(queue[:k], queue[k+1:]...)
						id = m.To
						what = fmt.Sprintf("step %s %d->%d", m.Type, m.From, m.To)
						ra, rb = a.step(m), b.step(m)
					}
					require.Equal(t, ra, rb, "step %d: %s: Ready", i, what)
					require.Equal(t, a.state(id), b.state(id), "step %d: %s: state", i, what)
					for _, m := range ra.Messages {
						if m.To != id {
							queue = append(queue, m)
						}
					}
				}
				assert.Greater(t, b.taken, 10, "heartbeats taken by the fast path")
				assert.Greater(t, b.left, 10, "heartbeats left to Step")
				assert.Greater(t, b.ticksTaken, 3, "ticks taken by the fast path")
				assert.Greater(t, b.ticksLeft, 10, "ticks left to Tick and Ready")
				t.Logf("taken %d, left to Step %d; ticks taken %d, left %d", b.taken, b.left, b.ticksTaken, b.ticksLeft)
			})
		}
	}
}

// newIdleTwinGroup returns a three-node group (one cluster of
// newTwinCluster, fast or not) whose leader is 1, every message of its
// election delivered.
func newIdleTwinGroup(t *testing.T, fast bool, configure func(*Config)) *twinCluster {
	c := newTwinCluster(t, 1, fast, configure)
	require.NoError(t, c.nodes[1].rn.Campaign())
	// Copied out at once: with LendReadyMessages the arrays are reused.
	queue := append([]pb.Message(nil), c.ready(1).Messages...)
	for len(queue) > 0 {
		m := queue[0]
		queue = append(queue[1:], c.step(m).Messages...)
	}
	require.Equal(t, StateLeader, c.nodes[1].rn.raft.state)
	return c
}

// TestStepHeartbeatRefusesWhatChangesMore checks, message by message,
// the cases that StepHeartbeat must leave to Step, each from an idle
// three-node group whose leader is 1.
func TestStepHeartbeatRefusesWhatChangesMore(t *testing.T) {
	setup := func(t *testing.T) *twinCluster { return newIdleTwinGroup(t, true, nil) }
	c := setup(t)
	term := c.nodes[1].rn.raft.Term
	commit := c.nodes[1].rn.raft.raftLog.committed
	hb := pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: term, Commit: commit}
	resp := pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: term}

	_, ok := c.nodes[2].rn.StepHeartbeat(hb)
	require.True(t, ok, "a plain heartbeat of an idle group")
	_, ok = c.nodes[1].rn.StepHeartbeat(resp)
	require.True(t, ok, "a plain response of an idle group")

	with := func(m pb.Message, f func(*pb.Message)) pb.Message { f(&m); return m }
	cases := []struct {
		name string
		to   uint64
		m    pb.Message
	}{
		{"a read round context", 2, with(hb, func(m *pb.Message) { m.Context = []byte("rd") })},
		{"an empty non-nil context", 2, with(hb, func(m *pb.Message) { m.Context = []byte{} })},
		{"a commit index to advance", 2, with(hb, func(m *pb.Message) { m.Commit = commit + 1 })},
		{"a higher term", 2, with(hb, func(m *pb.Message) { m.Term = term + 1 })},
		{"a lower term", 2, with(hb, func(m *pb.Message) { m.Term = term - 1 })},
		{"another sender than the leader", 2, with(hb, func(m *pb.Message) { m.From = 3; m.To = 2 })},
		{"a heartbeat to the leader", 1, with(hb, func(m *pb.Message) { m.From = 2; m.To = 1 })},
		{"another field", 2, with(hb, func(m *pb.Message) { m.Index = 1 })},
		{"a rejecting response", 1, with(resp, func(m *pb.Message) { m.Reject = true })},
		{"a response with a context", 1, with(resp, func(m *pb.Message) { m.Context = []byte("rd") })},
		{"a response from an unknown peer", 1, with(resp, func(m *pb.Message) { m.From = 9 })},
		{"a response to a follower", 3, with(resp, func(m *pb.Message) { m.To = 3 })},
		{"an append", 2, with(hb, func(m *pb.Message) { m.Type = pb.MsgApp; m.Commit = 0 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.nodes[tc.to].rn.Status()
			elapsed := c.nodes[tc.to].rn.raft.electionElapsed
			_, ok := c.nodes[tc.to].rn.StepHeartbeat(tc.m)
			assert.False(t, ok)
			assert.Equal(t, before, c.nodes[tc.to].rn.Status(), "untouched")
			assert.Equal(t, elapsed, c.nodes[tc.to].rn.raft.electionElapsed, "untouched")
		})
	}

	t.Run("a response from a follower behind", func(t *testing.T) {
		c := setup(t)
		require.NoError(t, c.nodes[1].rn.Propose([]byte("x")))
		c.ready(1) // the appends are lost
		_, ok := c.nodes[1].rn.StepHeartbeat(resp)
		assert.False(t, ok, "Step would send it an append")
	})
	t.Run("a response from a probed follower", func(t *testing.T) {
		c := setup(t)
		c.nodes[1].rn.ReportUnreachable(2)
		require.Equal(t, progress.StateProbe, c.nodes[1].rn.raft.trk.Get(2).State)
		_, ok := c.nodes[1].rn.StepHeartbeat(resp)
		assert.False(t, ok, "Step would probe it")
	})
}

// TestTickHeartbeatLeavesToReadyWhatChangesMore checks the ticks whose
// output TickHeartbeat leaves to the Ready, each from an idle three-node
// group whose leader is 1: the node has ticked as Tick, and the Ready
// holds what the tick made.
func TestTickHeartbeatLeavesToReadyWhatChangesMore(t *testing.T) {
	setup := newIdleTwinGroup
	t.Run("an idle leader", func(t *testing.T) {
		c := setup(t, true, nil)
		hbs, ok := c.nodes[1].rn.TickHeartbeat(nil)
		require.True(t, ok)
		require.Len(t, hbs, 2)
		for _, m := range hbs {
			assert.Equal(t, pb.MsgHeartbeat, m.Type)
			assert.Nil(t, m.Context)
		}
		assert.False(t, c.nodes[1].rn.HasReady())
	})
	cases := []struct {
		name      string
		configure func(*Config)
		prepare   func(*twinCluster)
		id        uint64
	}{
		{"a follower", nil, func(*twinCluster) {}, 2},
		{"a pending read round", nil, func(c *twinCluster) {
			c.nodes[1].rn.ReadIndex([]byte("rd"))
			c.ready(1)
		}, 1},
		{"a proposal not yet in a Ready", nil, func(c *twinCluster) {
			require.NoError(t, c.nodes[1].rn.Propose([]byte("x")))
		}, 1},
		{"a Ready not advanced", func(cfg *Config) { cfg.LendReadyMessages = true }, func(c *twinCluster) {
			require.NoError(t, c.nodes[1].rn.Propose([]byte("x")))
			c.nodes[1].rn.Ready()
		}, 1},
		{"the CheckQuorum tick", func(cfg *Config) { cfg.CheckQuorum = true }, func(c *twinCluster) {
			r := c.nodes[1].rn.raft
			r.electionElapsed = r.electionTimeout - 1
		}, 1},
		{"asynchronous writes", func(cfg *Config) { cfg.AsyncStorageWrites = true }, func(*twinCluster) {}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.configure != nil && tc.name == "asynchronous writes" {
				// The twin cluster's Ready handling is synchronous: check
				// the refusal on a fresh leader of its own.
				s := NewMemoryStorage()
				require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
					Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1}},
				}}))
				cfg := newTestConfig(1, 10, 1, s)
				tc.configure(cfg)
				rn, err := NewRawNode(cfg)
				require.NoError(t, err)
				rn.raft.becomeCandidate()
				rn.raft.becomeLeader()
				assert.False(t, rn.plainLeaderTick())
				return
			}
			a, b := setup(t, false, tc.configure), setup(t, true, tc.configure)
			tc.prepare(a)
			tc.prepare(b)
			a.nodes[tc.id].rn.Tick()
			_, ok := b.nodes[tc.id].rn.TickHeartbeat(nil)
			assert.False(t, ok)
			assert.Equal(t, a.state(tc.id), b.state(tc.id), "ticked as Tick")
			assert.Equal(t, a.nodes[tc.id].rn.HasReady(), b.nodes[tc.id].rn.HasReady())
			if a.nodes[tc.id].rn.HasReady() {
				assert.Equal(t, a.nodes[tc.id].rn.Ready(), b.nodes[tc.id].rn.Ready(), "the tick's output in the Ready")
			}
		})
	}
}
