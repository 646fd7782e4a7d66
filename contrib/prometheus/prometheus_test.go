package prometheus

import (
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// cluster is a minimal in-memory group of RawNodes with a Metrics each.
type cluster struct {
	t       *testing.T
	nodes   map[uint64]*raft.RawNode
	storage map[uint64]*raft.MemoryStorage
	metrics map[uint64]*raft.Metrics
	down    map[uint64]bool
}

func newCluster(t *testing.T, n int, configure func(*raft.Config)) *cluster {
	c := &cluster{t: t, nodes: map[uint64]*raft.RawNode{}, storage: map[uint64]*raft.MemoryStorage{},
		metrics: map[uint64]*raft.Metrics{}, down: map[uint64]bool{}}
	var voters []uint64
	for id := uint64(1); id <= uint64(n); id++ {
		voters = append(voters, id)
	}
	for _, id := range voters {
		s := raft.NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: voters}}}))
		m := new(raft.Metrics)
		cfg := &raft.Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: s,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, Metrics: m}
		cfg.Logger = quiet{}
		if configure != nil {
			configure(cfg)
		}
		rn, err := raft.NewRawNode(cfg)
		require.NoError(t, err)
		c.nodes[id], c.storage[id], c.metrics[id] = rn, s, m
	}
	return c
}

// stabilize processes Readies and delivers messages until nothing moves.
func (c *cluster) stabilize() {
	for moved := true; moved; {
		moved = false
		for id, rn := range c.nodes {
			if c.down[id] || !rn.HasReady() {
				continue
			}
			moved = true
			rd := rn.Ready()
			require.NoError(c.t, c.storage[id].Append(rd.Entries))
			if !raft.IsEmptyHardState(rd.HardState) {
				require.NoError(c.t, c.storage[id].SetHardState(rd.HardState))
			}
			for _, m := range rd.Messages {
				if !c.down[m.To] {
					_ = c.nodes[m.To].Step(m)
				}
			}
			rn.Advance(rd)
		}
	}
}

type quiet struct{ raft.Logger }

func (quiet) Debug(...interface{})            {}
func (quiet) Debugf(string, ...interface{})   {}
func (quiet) Info(...interface{})             {}
func (quiet) Infof(string, ...interface{})    {}
func (quiet) Warning(...interface{})          {}
func (quiet) Warningf(string, ...interface{}) {}
func (quiet) Error(...interface{})            {}
func (quiet) Errorf(string, ...interface{})   {}

// scrape serves the registry over HTTP, as Prometheus would scrape it, and
// parses the text it returns.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the series of family name whose labels
// include want, or -1 if there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestScrapeShowsElectionAndLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	reg := prometheus.NewRegistry()
	col := NewCollector(Options{GroupLabel: true})
	for id, m := range c.metrics {
		col.Add(string(rune('0'+id)), m)
	}
	reg.MustRegister(col)

	before := scrape(t, reg)
	assert.Equal(t, 0.0, value(before, "raft_elections_started_total", map[string]string{"group": "1", "kind": "vote"}))
	assert.Equal(t, 0.0, value(before, "raft_leader_changes_total", map[string]string{"group": "1"}))

	require.NoError(t, c.nodes[1].Campaign())
	c.stabilize()
	require.NoError(t, c.nodes[1].Propose([]byte("a")))
	c.stabilize()
	for i := 0; i < 2; i++ {
		for _, rn := range c.nodes {
			rn.Tick()
		}
		c.stabilize()
	}

	f := scrape(t, reg)
	assert.Equal(t, 1.0, value(f, "raft_elections_started_total", map[string]string{"group": "1", "kind": "vote"}))
	assert.Equal(t, 1.0, value(f, "raft_elections_won_total", map[string]string{"group": "1", "kind": "vote"}))
	assert.Equal(t, 0.0, value(f, "raft_elections_started_total", map[string]string{"group": "2", "kind": "vote"}))
	for _, g := range []string{"1", "2", "3"} {
		assert.Equal(t, 1.0, value(f, "raft_leader_changes_total", map[string]string{"group": g}), g)
		assert.Equal(t, 1.0, value(f, "raft_term", map[string]string{"group": g}), g)
		assert.Equal(t, 3.0, value(f, "raft_commit_index", map[string]string{"group": g}), g)
		assert.Equal(t, 0.0, value(f, "raft_apply_lag_entries", map[string]string{"group": g}), g)
	}
	assert.Equal(t, 1.0, value(f, "raft_state", map[string]string{"group": "1", "state": "leader"}))
	assert.Equal(t, 0.0, value(f, "raft_state", map[string]string{"group": "1", "state": "follower"}))
	assert.Equal(t, 1.0, value(f, "raft_proposals_accepted_total", map[string]string{"group": "1"}))
	assert.Equal(t, 2.0, value(f, "raft_followers", map[string]string{"group": "1", "state": "replicate"}))
	assert.Less(t, 0.0, value(f, "raft_messages_sent_total", map[string]string{"group": "1", "type": "MsgApp"}))
	assert.Equal(t, 0.0, value(f, "raft_messages_sent_total", map[string]string{"group": "2", "type": "MsgApp"}))
	assert.Equal(t, -1.0, value(f, "raft_messages_sent_total", map[string]string{"type": "MsgHup"}), "local types are not exported")
}

func TestScrapeShowsDroppedProposalByReason(t *testing.T) {
	c := newCluster(t, 3, nil)
	reg := prometheus.NewRegistry()
	col := NewCollector(Options{})
	col.Add("", c.metrics[2])
	reg.MustRegister(col)

	err := c.nodes[2].Propose([]byte("x")) // no leader yet
	require.ErrorIs(t, err, raft.ErrProposalDropped)
	c.stabilize()
	f := scrape(t, reg)
	assert.Equal(t, 1.0, value(f, "raft_proposals_dropped_total", map[string]string{"reason": "no_leader"}))
	assert.Equal(t, 0.0, value(f, "raft_proposals_dropped_total", map[string]string{"reason": "transfer_pending"}))
	_, labelled := fams(f, "raft_term")
	assert.True(t, labelled, "a single group exports its gauges")
}

func fams(f map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	x, ok := f[name]
	return x, ok
}

func TestScrapeBoundsGroupsAndSumsTheRest(t *testing.T) {
	reg := prometheus.NewRegistry()
	col := NewCollector(Options{GroupLabel: true, MaxGroups: 2})
	var ms []*raft.Metrics
	for _, name := range []string{"a", "b", "c", "d"} {
		c := newCluster(t, 1, nil)
		require.NoError(t, c.nodes[1].Campaign())
		c.stabilize()
		ms = append(ms, c.metrics[1])
		col.Add(name, c.metrics[1])
	}
	reg.MustRegister(col)
	f := scrape(t, reg)
	assert.Equal(t, 1.0, value(f, "raft_elections_won_total", map[string]string{"group": "a", "kind": "vote"}))
	assert.Equal(t, 1.0, value(f, "raft_elections_won_total", map[string]string{"group": "b", "kind": "vote"}))
	assert.Equal(t, -1.0, value(f, "raft_elections_won_total", map[string]string{"group": "c", "kind": "vote"}))
	assert.Equal(t, 2.0, value(f, "raft_elections_won_total", map[string]string{"group": OtherGroup, "kind": "vote"}))
	assert.Equal(t, -1.0, value(f, "raft_term", map[string]string{"group": OtherGroup}), "no gauge of one group for a sum")

	// Without the label, everything is summed; the per-group gauges go.
	reg2 := prometheus.NewRegistry()
	col2 := NewCollector(Options{})
	for i, m := range ms {
		col2.Add(string(rune('a'+i)), m)
	}
	reg2.MustRegister(col2)
	f2 := scrape(t, reg2)
	assert.Equal(t, 4.0, value(f2, "raft_elections_won_total", map[string]string{"kind": "vote"}))
	_, ok := fams(f2, "raft_term")
	assert.False(t, ok)
}

func TestScrapeShowsReadIndexLatencyHistogram(t *testing.T) {
	c := newCluster(t, 1, nil)
	require.NoError(t, c.nodes[1].Campaign())
	c.stabilize()
	reg := prometheus.NewRegistry()
	col := NewCollector(Options{})
	col.Add("", c.metrics[1])
	reg.MustRegister(col)
	c.nodes[1].ReadIndex([]byte("r"))
	c.stabilize()
	f := scrape(t, reg)
	h := f["raft_read_index_latency_ticks"].Metric[0].Histogram
	assert.Equal(t, uint64(1), h.GetSampleCount())
	assert.Equal(t, uint64(1), h.Bucket[0].GetCumulativeCount(), "le=0")
	assert.Equal(t, 1.0, value(f, "raft_read_index_served_total", nil))
}
