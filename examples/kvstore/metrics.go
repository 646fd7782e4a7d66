package main

import (
	"bufio"
	"fmt"
	"net/http"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// handleMetrics serves raft's metrics in the Prometheus text exposition
// format (version 0.0.4). The format is written by hand: the root module
// does not depend on the Prometheus client. A service that does can use
// github.com/raftkit/raft/contrib/prometheus instead, which registers the
// same names.
func (m *member) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpError(w, http.StatusMethodNotAllowed, "use GET /metrics")
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s := m.metrics.Snapshot()
	bw := bufio.NewWriter(w)
	writeMetrics(bw, &s)
	_ = bw.Flush()
}

// promWriter writes metric families: a HELP and TYPE line once per name,
// then its samples.
type promWriter struct {
	w    *bufio.Writer
	last string
}

func (p *promWriter) sample(name, typ, help string, v uint64, labels ...string) {
	if name != p.last {
		fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		p.last = name
	}
	p.line(name, v, labels...)
}

// line writes one sample, with labels given as name, value pairs.
func (p *promWriter) line(name string, v uint64, labels ...string) {
	p.w.WriteString(name)
	if len(labels) > 0 {
		p.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.w.WriteByte(',')
			}
			fmt.Fprintf(p.w, "%s=%q", labels[i], labels[i+1])
		}
		p.w.WriteByte('}')
	}
	fmt.Fprintf(p.w, " %d\n", v)
}

var (
	stateNames    = map[raft.StateType]string{raft.StateFollower: "follower", raft.StateCandidate: "candidate", raft.StateLeader: "leader", raft.StatePreCandidate: "pre_candidate"}
	progressNames = []string{"probe", "replicate", "snapshot"}
)

// writeMetrics writes s under the names of docs/design/observability.md.
func writeMetrics(w *bufio.Writer, s *raft.MetricsSnapshot) {
	p := &promWriter{w: w}
	kinds := []raft.ElectionKind{raft.ElectionPreVote, raft.ElectionVote, raft.ElectionTransfer}
	for _, k := range kinds {
		p.sample("raft_elections_started_total", "counter", "Elections this node started, by kind.", s.ElectionsStarted[k], "kind", k.String())
	}
	for _, k := range kinds {
		p.sample("raft_elections_won_total", "counter", "Elections this node won, by kind.", s.ElectionsWon[k], "kind", k.String())
	}
	for _, k := range kinds {
		p.sample("raft_elections_lost_total", "counter", "Elections this node left without winning, by kind.", s.ElectionsLost[k], "kind", k.String())
	}
	p.sample("raft_leader_changes_total", "counter", "Times this node learned of a new leader.", s.LeaderChanges)
	p.sample("raft_term", "gauge", "The node's current term.", s.Term)
	for _, st := range []raft.StateType{raft.StateFollower, raft.StateCandidate, raft.StateLeader, raft.StatePreCandidate} {
		var v uint64
		if s.State == st {
			v = 1
		}
		p.sample("raft_state", "gauge", "The node's role: 1 for the current state.", v, "state", stateNames[st])
	}
	p.sample("raft_commit_index", "gauge", "The node's commit index.", s.CommitIndex)
	p.sample("raft_applied_index", "gauge", "The index of the last entry applied.", s.AppliedIndex)
	p.sample("raft_persisted_index", "gauge", "The index of the last entry known durable.", s.PersistedIndex)
	p.sample("raft_last_index", "gauge", "The index of the last entry of the log.", s.LastIndex)
	p.sample("raft_apply_lag_entries", "gauge", "Committed entries not yet applied.", s.CommitIndex-min(s.AppliedIndex, s.CommitIndex))
	p.sample("raft_persist_lag_entries", "gauge", "Entries not yet durable.", s.LastIndex-min(s.PersistedIndex, s.LastIndex))
	p.sample("raft_proposals_accepted_total", "counter", "Proposals the leader appended to its log.", s.ProposalsAccepted)
	for d := raft.DropNoLeader; d <= raft.DropNotMember; d++ {
		p.sample("raft_proposals_dropped_total", "counter", "Proposals dropped, by reason.", s.ProposalsDropped[d], "reason", d.String())
	}
	for _, dir := range []struct {
		name, help string
		v          []uint64
	}{
		{"raft_messages_sent_total", "Messages sent to peers, by type.", s.MessagesSent[:]},
		{"raft_messages_received_total", "Messages received from peers, by type.", s.MessagesReceived[:]},
	} {
		for t, v := range dir.v {
			if typ := pb.MessageType(t); !raft.IsLocalMsg(typ) {
				p.sample(dir.name, "counter", dir.help, v, "type", typ.String())
			}
		}
	}
	p.sample("raft_appends_rejected_sent_total", "counter", "Appends this node refused as a follower.", s.AppendsRejectedSent)
	p.sample("raft_appends_rejected_received_total", "counter", "Append refusals this node received as leader.", s.AppendsRejectedReceived)
	for st, name := range progressNames {
		p.sample("raft_followers", "gauge", "On a leader, the followers by progress state.", s.Followers[st], "state", name)
	}
	p.sample("raft_followers_paused", "gauge", "On a leader, the followers to which sending is paused.", s.FollowersPaused)
	p.sample("raft_snapshots_sent_total", "counter", "Snapshots sent to followers.", s.SnapshotsSent)
	p.sample("raft_snapshots_received_total", "counter", "Snapshots received from a leader.", s.SnapshotsReceived)
	p.sample("raft_snapshots_failed_total", "counter", "Snapshot sends reported failed.", s.SnapshotsFailed)
	p.sample("raft_read_index_served_total", "counter", "ReadIndex requests the leader answered.", s.ReadsServed)
	const lat = "raft_read_index_latency_ticks"
	fmt.Fprintf(w, "# HELP %s Ticks from the start of a read's heartbeat round to its answer.\n# TYPE %s histogram\n", lat, lat)
	p.last = lat
	var cum uint64
	for i, le := range raft.ReadIndexLatencyBuckets {
		cum += s.ReadLatency[i]
		p.line(lat+"_bucket", cum, "le", fmt.Sprint(le))
	}
	cum += s.ReadLatency[len(raft.ReadIndexLatencyBuckets)]
	p.line(lat+"_bucket", cum, "le", "+Inf")
	p.line(lat+"_sum", s.ReadLatencySum)
	p.line(lat+"_count", cum)
	p.sample("raft_readies_total", "counter", "Readies handed out.", s.Readies)
	p.sample("raft_ready_entries_total", "counter", "Entries to persist handed out in Readies.", s.ReadyEntries)
	p.sample("raft_ready_entry_bytes_total", "counter", "Payload bytes of the entries to persist.", s.ReadyEntryBytes)
	p.sample("raft_ready_committed_entries_total", "counter", "Committed entries handed out for application.", s.ReadyCommittedEntries)
	p.sample("raft_ready_messages_total", "counter", "Messages handed out in Readies.", s.ReadyMessages)
	p.sample("raft_conf_changes_applied_total", "counter", "Configuration changes applied.", s.ConfChangesApplied)
}
