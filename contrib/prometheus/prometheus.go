// Package prometheus exports the metrics of raftkit groups (raft.Metrics)
// to Prometheus.
//
// A Collector reads each group's Metrics at scrape time; the raft goroutines
// never touch Prometheus. Names follow the Prometheus conventions: a raft_
// prefix, _total for counters, units in the name (raft time is logical, so
// latencies are in ticks). Docs/design/observability.md in the raftkit
// repository lists every metric and where it is counted.
//
//	mx := new(raft.Metrics)
//	cfg.Metrics = mx
//	c := prometheus.NewCollector(prometheus.Options{})
//	c.Add("", mx)
//	registry.MustRegister(c)
//
// A host of many groups either sums them (the default: no group label) or
// labels them by group with Options.GroupLabel, bounded by
// Options.MaxGroups so that the number of series stays bounded.
package prometheus

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// OtherGroup is the group label of the groups summed together beyond
// Options.MaxGroups.
const OtherGroup = "_other"

// DefaultMaxGroups is the default of Options.MaxGroups.
const DefaultMaxGroups = 64

// Options configures a Collector.
type Options struct {
	// GroupLabel adds a "group" label whose value is the name given to
	// Add. Without it, all groups are summed into one set of series, and
	// the gauges that describe a single group (term, state, indexes) are
	// exported only while there is exactly one group.
	GroupLabel bool
	// MaxGroups bounds, with GroupLabel, the groups that get a label of
	// their own: the first MaxGroups added, in order. The others are summed
	// under group="_other". 0 means DefaultMaxGroups.
	MaxGroups int
	// ConstLabels are added to every series, for example the host.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector over the Metrics of raft groups. It is
// safe for concurrent use.
type Collector struct {
	opts Options

	mu     sync.Mutex
	groups map[string]*group
	seq    uint64

	descs descs
}

type group struct {
	m   *raft.Metrics
	seq uint64 // order of addition
}

type descs struct {
	electionsStarted, electionsWon, electionsLost, leaderChanges *prometheus.Desc
	term, state, commit, applied, persisted, last                *prometheus.Desc
	applyLag, persistLag                                         *prometheus.Desc
	proposalsAccepted, proposalsDropped                          *prometheus.Desc
	sent, received, rejectsSent, rejectsReceived                 *prometheus.Desc
	followers, followersPaused                                   *prometheus.Desc
	snapsSent, snapsReceived, snapsFailed                        *prometheus.Desc
	readsServed, readLatency                                     *prometheus.Desc
	readies, readyEntries, readyBytes, readyCommitted, readyMsgs *prometheus.Desc
	confChanges                                                  *prometheus.Desc
}

// NewCollector returns a Collector with no groups; register it with a
// prometheus.Registerer and Add groups to it.
func NewCollector(opts Options) *Collector {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = DefaultMaxGroups
	}
	c := &Collector{opts: opts, groups: make(map[string]*group)}
	var base []string
	if opts.GroupLabel {
		base = []string{"group"}
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(append([]string(nil), base...), labels...), opts.ConstLabels)
	}
	c.descs = descs{
		electionsStarted:  d("raft_elections_started_total", "Elections this node started, by kind (pre_vote, vote, transfer).", "kind"),
		electionsWon:      d("raft_elections_won_total", "Elections this node won, by kind.", "kind"),
		electionsLost:     d("raft_elections_lost_total", "Elections this node left without winning (refused, superseded, timed out), by kind.", "kind"),
		leaderChanges:     d("raft_leader_changes_total", "Times this node learned of a new leader."),
		term:              d("raft_term", "The node's current term."),
		state:             d("raft_state", "The node's role: 1 for the current state, 0 for the others.", "state"),
		commit:            d("raft_commit_index", "The node's commit index."),
		applied:           d("raft_applied_index", "The index of the last entry the application applied."),
		persisted:         d("raft_persisted_index", "The index of the last entry known to be durable."),
		last:              d("raft_last_index", "The index of the last entry of the log."),
		applyLag:          d("raft_apply_lag_entries", "Committed entries not yet applied (commit - applied)."),
		persistLag:        d("raft_persist_lag_entries", "Entries not yet durable (last - persisted)."),
		proposalsAccepted: d("raft_proposals_accepted_total", "Proposals the leader appended to its log."),
		proposalsDropped:  d("raft_proposals_dropped_total", "Proposals dropped with ErrProposalDropped, by reason.", "reason"),
		sent:              d("raft_messages_sent_total", "Messages sent to peers, by type.", "type"),
		received:          d("raft_messages_received_total", "Messages received from peers, by type.", "type"),
		rejectsSent:       d("raft_appends_rejected_sent_total", "Appends this node refused as a follower."),
		rejectsReceived:   d("raft_appends_rejected_received_total", "Append refusals this node received as leader."),
		followers:         d("raft_followers", "On a leader, the followers by progress state (probe, replicate, snapshot).", "state"),
		followersPaused:   d("raft_followers_paused", "On a leader, the followers to which sending is paused."),
		snapsSent:         d("raft_snapshots_sent_total", "Snapshots sent to followers."),
		snapsReceived:     d("raft_snapshots_received_total", "Snapshots received from a leader."),
		snapsFailed:       d("raft_snapshots_failed_total", "Snapshot sends the application reported failed."),
		readsServed:       d("raft_read_index_served_total", "ReadIndex requests the leader answered."),
		readLatency:       d("raft_read_index_latency_ticks", "Ticks from the start of a ReadIndex request's heartbeat round to its answer."),
		readies:           d("raft_readies_total", "Readies handed out."),
		readyEntries:      d("raft_ready_entries_total", "Entries to persist handed out in Readies."),
		readyBytes:        d("raft_ready_entry_bytes_total", "Payload bytes of the entries to persist handed out in Readies."),
		readyCommitted:    d("raft_ready_committed_entries_total", "Committed entries handed out for application."),
		readyMsgs:         d("raft_ready_messages_total", "Messages handed out in Readies."),
		confChanges:       d("raft_conf_changes_applied_total", "Configuration changes applied."),
	}
	return c
}

// Add exports the metrics m of a group under the given name (the value of
// the group label, with Options.GroupLabel). Adding a name again replaces
// its Metrics.
func (c *Collector) Add(name string, m *raft.Metrics) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.groups[name]; ok {
		g.m = m
		return
	}
	c.seq++
	c.groups[name] = &group{m: m, seq: c.seq}
}

// Remove stops exporting the group of the given name. Its counters leave
// the totals: with no group label, summed counters then go down, which
// Prometheus reads as a counter reset.
func (c *Collector) Remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.groups, name)
}

// Describe sends the descriptions of all the metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.descs
	for _, x := range []*prometheus.Desc{
		d.electionsStarted, d.electionsWon, d.electionsLost, d.leaderChanges,
		d.term, d.state, d.commit, d.applied, d.persisted, d.last, d.applyLag, d.persistLag,
		d.proposalsAccepted, d.proposalsDropped, d.sent, d.received, d.rejectsSent, d.rejectsReceived,
		d.followers, d.followersPaused, d.snapsSent, d.snapsReceived, d.snapsFailed,
		d.readsServed, d.readLatency, d.readies, d.readyEntries, d.readyBytes, d.readyCommitted,
		d.readyMsgs, d.confChanges,
	} {
		ch <- x
	}
}

// Collect reads every group's Metrics and sends their values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	gs := make([]struct {
		name string
		*group
	}, 0, len(c.groups))
	for name, g := range c.groups {
		gs = append(gs, struct {
			name string
			*group
		}{name, g})
	}
	c.mu.Unlock()
	if len(gs) == 0 {
		return
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].seq < gs[j].seq })

	if !c.opts.GroupLabel {
		s := gs[0].m.Snapshot()
		for _, g := range gs[1:] {
			o := g.m.Snapshot()
			s.Add(&o)
		}
		c.emit(ch, &s, len(gs) == 1, nil)
		return
	}
	var other *raft.MetricsSnapshot
	for i, g := range gs {
		s := g.m.Snapshot()
		if i < c.opts.MaxGroups {
			c.emit(ch, &s, true, []string{g.name})
			continue
		}
		if other == nil {
			other = &s
		} else {
			other.Add(&s)
		}
	}
	if other != nil {
		c.emit(ch, other, false, []string{OtherGroup})
	}
}

var stateLabels = [...]string{
	raft.StateFollower:     "follower",
	raft.StateCandidate:    "candidate",
	raft.StateLeader:       "leader",
	raft.StatePreCandidate: "pre_candidate",
}

var followerStateLabels = [...]string{"probe", "replicate", "snapshot"}

// emit sends the values of s with the given leading label values. single
// says whether s describes one group, whose gauges are then meaningful.
func (c *Collector) emit(ch chan<- prometheus.Metric, s *raft.MetricsSnapshot, single bool, lv []string) {
	d := &c.descs
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append(append([]string(nil), lv...), labels...)...)
	}
	gauge := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), append(append([]string(nil), lv...), labels...)...)
	}
	for k := raft.ElectionPreVote; k <= raft.ElectionTransfer; k++ {
		counter(d.electionsStarted, s.ElectionsStarted[k], k.String())
		counter(d.electionsWon, s.ElectionsWon[k], k.String())
		counter(d.electionsLost, s.ElectionsLost[k], k.String())
	}
	counter(d.leaderChanges, s.LeaderChanges)
	if single {
		gauge(d.term, s.Term)
		for st, name := range stateLabels {
			var v uint64
			if raft.StateType(st) == s.State {
				v = 1
			}
			gauge(d.state, v, name)
		}
		gauge(d.commit, s.CommitIndex)
		gauge(d.applied, s.AppliedIndex)
		gauge(d.persisted, s.PersistedIndex)
		gauge(d.last, s.LastIndex)
		gauge(d.applyLag, s.CommitIndex-min(s.AppliedIndex, s.CommitIndex))
		gauge(d.persistLag, s.LastIndex-min(s.PersistedIndex, s.LastIndex))
	}
	counter(d.proposalsAccepted, s.ProposalsAccepted)
	for r := range s.ProposalsDropped {
		counter(d.proposalsDropped, s.ProposalsDropped[r], raft.DropReason(r).String())
	}
	for t := range s.MessagesSent {
		typ := pb.MessageType(t)
		if raft.IsLocalMsg(typ) {
			continue
		}
		counter(d.sent, s.MessagesSent[t], typ.String())
		counter(d.received, s.MessagesReceived[t], typ.String())
	}
	counter(d.rejectsSent, s.AppendsRejectedSent)
	counter(d.rejectsReceived, s.AppendsRejectedReceived)
	for st, name := range followerStateLabels {
		gauge(d.followers, s.Followers[st], name)
	}
	gauge(d.followersPaused, s.FollowersPaused)
	counter(d.snapsSent, s.SnapshotsSent)
	counter(d.snapsReceived, s.SnapshotsReceived)
	counter(d.snapsFailed, s.SnapshotsFailed)
	counter(d.readsServed, s.ReadsServed)
	buckets := make(map[float64]uint64, len(raft.ReadIndexLatencyBuckets))
	var cum uint64
	for i, le := range raft.ReadIndexLatencyBuckets {
		cum += s.ReadLatency[i]
		buckets[float64(le)] = cum
	}
	cum += s.ReadLatency[len(raft.ReadIndexLatencyBuckets)]
	ch <- prometheus.MustNewConstHistogram(d.readLatency, cum, float64(s.ReadLatencySum), buckets, lv...)
	counter(d.readies, s.Readies)
	counter(d.readyEntries, s.ReadyEntries)
	counter(d.readyBytes, s.ReadyEntryBytes)
	counter(d.readyCommitted, s.ReadyCommittedEntries)
	counter(d.readyMsgs, s.ReadyMessages)
	counter(d.confChanges, s.ConfChangesApplied)
}
