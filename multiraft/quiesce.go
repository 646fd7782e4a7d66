package multiraft

import (
	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// Quiescence (HostConfig.Quiescence): an idle group's leader tells its
// followers, in the Quiesce flag of the heartbeat tuple, that the group goes
// quiet, and stops ticking; followers that agree stop too. Quiet groups are
// off Host.awake, the tick list. The rules, and what breaks without each,
// are in docs/design/multiraft.md (Q1-Q9).

// WakeCause says why a quiet group woke.
type WakeCause uint8

const (
	// WakeMessage: a raft message for the group arrived (a poke from a
	// follower included).
	WakeMessage WakeCause = iota
	// WakeLocal: a local Propose, ProposeConfChange, ReadIndex, Campaign
	// or TransferLeader.
	WakeLocal
	// WakeLiveness: a peer host went Down, came back or restarted.
	WakeLiveness
	numWakeCauses
)

// String returns "message", "local" or "liveness".
func (c WakeCause) String() string {
	switch c {
	case WakeMessage:
		return "message"
	case WakeLocal:
		return "local"
	case WakeLiveness:
		return "liveness"
	}
	return "unknown"
}

// Bits of Host.qpeers.
const (
	qCapable = 1 << iota // the peer host advertised CapQuiesce
	qDown                // the peer host is Down
)

// snapshotPeers records, for the workers of a tick pass, which peer hosts
// may take part in quiescence and which are Down (pass goroutine).
func (h *Host) snapshotPeers() {
	if !h.cfg.Quiescence {
		return
	}
	if h.qpeers == nil {
		h.qpeers = make(map[HostID]uint8)
	}
	clear(h.qpeers)
	h.peerMu.Lock()
	for id, p := range h.peers {
		var b uint8
		if p.capsKnown && p.caps&CapQuiesce != 0 {
			b |= qCapable
		}
		if p.state == LivenessDown {
			b |= qDown
		}
		h.qpeers[id] = b
	}
	h.peerMu.Unlock()
}

// groupCapable reports whether every host of g's replicas advertised
// CapQuiesce: a group with a stock member never quiesces.
func (h *Host) groupCapable(g *group) bool {
	for _, r := range g.replicas {
		if r.id == g.self || r.host == h.cfg.ID {
			continue
		}
		if h.qpeers[r.host]&qCapable == 0 {
			return false
		}
	}
	return true
}

func (h *Host) hasReplicaOn(g *group, host HostID) bool {
	for _, r := range g.replicas {
		if r.host == host && r.id != g.self {
			return true
		}
	}
	return false
}

func (h *Host) addAwakeLocked(g *group) {
	if g.awakeIdx >= 0 {
		return
	}
	g.awakeIdx = len(h.awake)
	h.awake = append(h.awake, g)
	h.awakeDue = append(h.awakeDue, 0) // every tick until a visit says otherwise
}

func (h *Host) removeAwakeLocked(g *group) {
	i := g.awakeIdx
	if i < 0 {
		return
	}
	n := len(h.awake) - 1
	last := h.awake[n]
	h.awake[i] = last
	h.awakeDue[i] = h.awakeDue[n]
	last.awakeIdx = i
	h.awake[n] = nil
	h.awake = h.awake[:n]
	h.awakeDue = h.awakeDue[:n]
	g.awakeIdx = -1
}

// syncAwake puts g on the tick list or takes it off, as its RawNode is
// awake or quiet.
func (h *Host) syncAwake(g *group) {
	h.mu.Lock()
	defer h.mu.Unlock()
	g.mu.Lock()
	quiet, removed := g.rn.Quiesced(), g.removed
	g.mu.Unlock()
	if removed || h.groups[g.id] != g {
		return
	}
	if quiet {
		h.removeAwakeLocked(g)
	} else {
		h.addAwakeLocked(g)
	}
}

// wakeLocked wakes g if it is quiet (under g.mu) and reports whether it
// did. A follower woken by anything but its leader pokes the leader, so
// that the leader heartbeats again before the follower's election
// timeout. from is the sender of the waking message, if any.
func (h *Host) wakeLocked(g *group, cause WakeCause, from uint64) bool {
	if !g.rn.Wake() {
		return false
	}
	now := h.ticks.Load()
	// Wake restarted the clocks: nothing is owed, and the group is visited
	// by every tick pass until a message of its leader is stepped.
	g.tickedAt, g.clockKnown = now, false
	g.idle = 0
	g.wokeAt = now + 1
	h.stats.quietWakes[cause].Add(1)
	if now < g.quietAt+uint64(h.cfg.QuiesceAfterTicks) {
		h.stats.quiesceFlaps.Add(1)
	}
	st := g.rn.BasicStatus()
	g.lastCommit = st.Commit
	if cause != WakeLiveness && st.RaftState == raft.StateFollower && st.Lead != raft.None && from != st.Lead {
		h.poke(g, st.Lead, st.Term)
	}
	return true
}

// poke queues a wake poke to lead: a MsgHeartbeatResp of the current term,
// harmless to any leader, flagged Wake so that a quiet one wakes.
func (h *Host) poke(g *group, lead, term uint64) {
	to := g.replicas.get(lead)
	if to == 0 || to == h.cfg.ID {
		return
	}
	g.side = append(g.side, routed{to: to, flags: hbWake,
		msg: pb.Message{Type: pb.MsgHeartbeatResp, From: g.self, To: lead, Term: term}})
}

// stepQuiet handles what quiescence does with an inbound message (under
// g.mu) and reports whether it consumed it. A notice the follower agrees
// with quiets it; one it does not agree with is stepped as the heartbeat it
// is and answered with a poke. A quiet leader steps responses to its old
// heartbeats without waking (a poke does wake it); anything else wakes a
// quiet group.
func (h *Host) stepQuiet(g *group, in *inbound) bool {
	m := &in.msg
	if in.flags&hbQuiesce != 0 && m.Type == pb.MsgHeartbeat {
		if h.cfg.Quiescence && g.rn.MayQuiesceFollowing(m.From, m.Term, m.Commit) {
			if !g.rn.Quiesced() {
				g.rn.Quiesce()
				g.quietAt = h.ticks.Load()
				h.stats.quiesces.Add(1)
			}
			return true
		}
		h.wakeLocked(g, WakeMessage, m.From)
		g.pokeResp = true
		return false
	}
	if !h.quiet(g) {
		return false
	}
	if m.Type == pb.MsgHeartbeatResp && in.flags&hbWake == 0 && len(m.Context) == 0 {
		st := g.rn.BasicStatus()
		if st.RaftState == raft.StateLeader && m.Term == st.Term {
			_ = g.rn.Step(*m)
			return true
		}
	}
	h.wakeLocked(g, WakeMessage, m.From)
	return false
}

// quiet reports whether g is quiet (under g.mu). Without Quiescence no
// group ever is, and the RawNode's flag, in memory of its own, is not
// read: a visit of an idle group is bound by such first touches.
func (h *Host) quiet(g *group) bool {
	return h.cfg.Quiescence && g.rn.Quiesced()
}

// tickGroup ticks an awake group, or quiesces it instead when it is an idle
// leader that may (under g.mu, in a tick pass).
func (h *Host) tickGroup(g *group, ticks int) {
	if h.cfg.Quiescence {
		st := g.rn.BasicStatus()
		if st.Commit != g.lastCommit {
			g.lastCommit, g.idle = st.Commit, 0
		}
		if st.RaftState == raft.StateLeader {
			g.idle += ticks
			if g.idle >= h.cfg.QuiesceAfterTicks && h.groupCapable(g) && g.rn.MayQuiesce(func(id uint64) bool {
				host := g.replicas.get(id)
				return host != 0 && h.qpeers[host]&qDown != 0
			}) {
				h.quiesce(g, st)
				return
			}
		}
	}
	for i := 0; i < ticks; i++ {
		// An idle leader's heartbeats skip the Ready (raft's fast path,
		// R2e): they join its routes now, where the Ready's would have
		// gone, ahead of anything the visit adds.
		var buf [4]pb.Message
		hbs, ok := g.rn.TickHeartbeat(buf[:0])
		if ok {
			for j := range hbs {
				h.routeLocked(g, hbs[j], 0)
			}
		}
	}
}

// quiesce quiets leader g and queues the notice to every follower whose
// host is not Down.
func (h *Host) quiesce(g *group, st raft.BasicStatus) {
	g.rn.Quiesce()
	g.quietAt = h.ticks.Load()
	h.stats.quiesces.Add(1)
	for _, r := range g.replicas {
		if r.id == g.self || r.host == 0 || r.host == h.cfg.ID || h.qpeers[r.host]&qDown != 0 {
			continue
		}
		g.side = append(g.side, routed{to: r.host, flags: hbQuiesce,
			msg: pb.Message{Type: pb.MsgHeartbeat, From: g.self, To: r.id, Term: st.Term, Commit: st.Commit}})
	}
}

// countElection counts an election that a group started within two
// election timeouts of a wake (under g.mu).
func (h *Host) countElection(g *group) {
	if g.wokeAt == 0 {
		return
	}
	switch g.rn.BasicStatus().RaftState {
	case raft.StateCandidate, raft.StatePreCandidate:
		h.stats.electionsAfterWake.Add(1)
		g.wokeAt = 0
		return
	}
	if h.ticks.Load() > g.wokeAt+uint64(2*g.electionTick) {
		g.wokeAt = 0
	}
}
