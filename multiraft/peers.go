package multiraft

import (
	"slices"
	"sync"

	pb "github.com/raftkit/raft/raftpb"

	"github.com/raftkit/raft"
)

// LivenessState is what this host knows of a peer host.
type LivenessState uint8

const (
	// LivenessUnknown: no pong yet (or the peer does not run liveness).
	LivenessUnknown LivenessState = iota
	// LivenessLive: the peer answered a recent ping.
	LivenessLive
	// LivenessDown: the peer has not answered for LivenessTimeoutTicks.
	LivenessDown
)

// String returns "unknown", "live" or "down".
func (s LivenessState) String() string {
	switch s {
	case LivenessLive:
		return "live"
	case LivenessDown:
		return "down"
	}
	return "unknown"
}

// peer is this host's view of a peer host: its handshake, its liveness,
// and the outbox to it. Guarded by Host.peerMu.
type peer struct {
	id        HostID
	caps      Caps
	capsKnown bool
	epoch     uint64 // the peer's highest epoch seen

	state         LivenessState
	lastHeard     uint64 // host tick of the ping a pong answered
	seq           uint64 // last ping sent
	sentAt        [16]uint64
	unreachable   bool   // a send failed since the last tick
	unreachableAt uint64 // host tick of the last evUnreachable

	lanes    [2][]GroupMessage
	tuples   []Heartbeat
	urgent   bool // a tuple carries a Context: flush at the end of the pass
	liveness []Liveness
}

func (h *Host) peerLocked(id HostID) *peer {
	p := h.peers[id]
	if p == nil {
		p = &peer{id: id}
		h.peers[id] = p
	}
	return p
}

// enqueue queues message m of group g for host to.
func (h *Host) enqueue(to HostID, g GroupID, m *pb.Message) {
	h.enqueueFlagged(to, g, m, 0)
}

// enqueueFlagged queues m with the tuple flags hbQuiesce or hbWake. The
// flags travel only in a tuple to a host that advertised CapQuiesce; to
// any other host m goes as the plain heartbeat it is. A poke (hbWake)
// leaves at the end of the pass.
func (h *Host) enqueueFlagged(to HostID, g GroupID, m *pb.Message, flags uint8) {
	h.peerMu.Lock()
	defer h.peerMu.Unlock()
	h.enqueueLocked(to, g, m, flags)
}

// enqueueLocked is enqueueFlagged under h.peerMu.
func (h *Host) enqueueLocked(to HostID, g GroupID, m *pb.Message, flags uint8) {
	p := h.peerLocked(to)
	if p.caps&CapHeartbeats != 0 {
		if hb, ok := heartbeatTuple(g, m); ok {
			if p.caps&CapQuiesce != 0 {
				hb.Quiesce = flags&hbQuiesce != 0 && !hb.Resp
				hb.Wake = flags&hbWake != 0 && hb.Resp
			}
			p.tuples = append(p.tuples, hb)
			if hb.Context != nil || hb.Wake {
				p.urgent = true
			}
			h.stats.tuples.Add(1)
			return
		}
	}
	lane := laneOf(m.Type)
	if len(p.lanes[lane]) >= h.cfg.MaxQueueMessages {
		h.stats.dropped.Add(1)
		if mt := h.cfg.Metrics; mt != nil {
			mt.Dropped(to, lane, "queue full")
		}
		return
	}
	p.lanes[lane] = append(p.lanes[lane], GroupMessage{Group: g, Message: *m})
}

func (h *Host) outboxPending() bool {
	h.peerMu.Lock()
	defer h.peerMu.Unlock()
	for _, p := range h.peers {
		if len(p.lanes[0])+len(p.lanes[1]) > 0 || p.urgent {
			return true
		}
	}
	return false
}

// flush drains the outbox into envelopes and sends them. Heartbeat tuples
// and liveness leave when hbFlush is set, when a tuple has a Context, or
// with any control envelope that leaves anyway. Data leaves only when
// data is set (the early flush sends what was queued before the write).
func (h *Host) flush(hbFlush, all bool) {
	envs := h.envs[:0]
	h.peerMu.Lock()
	for _, p := range h.peers {
		envs = h.packLocked(envs, p, hbFlush, all)
	}
	h.peerMu.Unlock()
	for i, env := range envs {
		msgs := len(env.Messages) + len(env.Heartbeats) + len(env.Liveness)
		h.stats.envelopes.Add(1)
		h.stats.sent.Add(uint64(msgs))
		if m := h.cfg.Metrics; m != nil {
			m.EnvelopeSent(env.To, env.Lane, msgs, envelopeSize(env))
		}
		h.cfg.Transport.Send(env)
		envs[i] = nil
	}
	h.envs = envs[:0]
}

func envelopeSize(env *Envelope) int {
	n := envelopeOverhead
	for i := range env.Messages {
		n += messageCost(&env.Messages[i].Message)
	}
	for i := range env.Heartbeats {
		n += env.Heartbeats[i].cost()
	}
	return n + livenessCost*len(env.Liveness)
}

// packLocked appends p's envelopes to envs.
func (h *Host) packLocked(envs []*Envelope, p *peer, hbFlush, all bool) []*Envelope {
	if mt := h.cfg.Metrics; mt != nil && len(p.lanes[0])+len(p.lanes[1]) > 0 {
		mt.QueueDepth(p.id, LaneControl, len(p.lanes[LaneControl]))
		mt.QueueDepth(p.id, LaneData, len(p.lanes[LaneData]))
	}
	if p.caps&CapEnvelope == 0 {
		// A plain peer (or one not yet known): one message per envelope.
		for lane := range p.lanes {
			if lane == int(LaneControl) && !all {
				continue
			}
			for _, gm := range p.lanes[lane] {
				envs = append(envs, &Envelope{From: h.cfg.ID, To: p.id, Lane: Lane(lane), Messages: []GroupMessage{gm}})
			}
			clear(p.lanes[lane])
			p.lanes[lane] = p.lanes[lane][:0]
		}
		// Tuples and liveness can only have been queued while the peer's
		// caps said so; a peer that lost them gets them as messages.
		for i := range p.tuples {
			m := p.tuples[i].Message()
			envs = append(envs, &Envelope{From: h.cfg.ID, To: p.id, Lane: LaneControl, Messages: []GroupMessage{{Group: p.tuples[i].Group, Message: m}}})
		}
		p.tuples, p.urgent, p.liveness = p.tuples[:0], false, p.liveness[:0]
		return envs
	}
	maxMsgs, maxBytes := h.cfg.MaxEnvelopeMessages, h.cfg.MaxEnvelopeBytes
	var env *Envelope
	size, count := 0, 0
	// next makes room for an item of cost bytes; msg says whether it is a
	// raft message, which counts against MaxEnvelopeMessages (tuples and
	// liveness are a few bytes each and count against the byte cap only).
	next := func(lane Lane, cost int, msg bool) {
		if env == nil || env.Lane != lane || (msg && count+1 > maxMsgs) || (size+cost > maxBytes && size > envelopeOverhead) {
			env = getEnvelope(h.cfg.ID, p.id, lane)
			envs = append(envs, env)
			size, count = envelopeOverhead, 0
		}
		size += cost
		if msg {
			count++
		}
	}
	ctl := p.lanes[LaneControl]
	if all && (hbFlush || p.urgent || len(ctl) > 0) {
		for _, l := range p.liveness {
			next(LaneControl, livenessCost, false)
			env.Liveness = append(env.Liveness, l)
		}
		// Copy the tuples that fit into each envelope at once: appending
		// them one by one regrew the slice of an envelope that carries a
		// heartbeat of every group, and was most of the bytes a host
		// allocates per tick.
		for ts := p.tuples; len(ts) > 0; {
			next(LaneControl, ts[0].cost(), false)
			k := 1
			for ; k < len(ts); k++ {
				c := ts[k].cost()
				if size+c > maxBytes {
					break
				}
				size += c
			}
			env.Heartbeats = append(env.Heartbeats, ts[:k]...) // a new envelope: one allocation
			ts = ts[k:]
		}
		clear(p.tuples)
		p.tuples, p.urgent, p.liveness = p.tuples[:0], false, p.liveness[:0]
	}
	if all {
		for i := range ctl {
			next(LaneControl, messageCost(&ctl[i].Message), true)
			env.Messages = append(env.Messages, ctl[i])
		}
		clear(ctl)
		p.lanes[LaneControl] = ctl[:0]
	}
	data := p.lanes[LaneData]
	for i := range data {
		next(LaneData, messageCost(&data[i].Message), true)
		env.Messages = append(env.Messages, data[i])
	}
	clear(data)
	p.lanes[LaneData] = data[:0]
	return envs
}

// HandleHello implements Handler: it records the peer's capabilities and
// epoch. A higher epoch than before means the peer restarted.
func (h *Host) HandleHello(hello Hello) {
	if hello.Host == 0 || hello.Host == h.cfg.ID {
		return
	}
	if hello.Version != Version {
		hello.Caps = 0 // an envelope format we do not speak: plain messages
	}
	h.peerMu.Lock()
	p := h.peerLocked(hello.Host)
	p.caps, p.capsKnown = hello.Caps&AllCaps, true
	restarted := p.epoch != 0 && hello.Epoch > p.epoch
	if hello.Epoch > p.epoch {
		p.epoch = hello.Epoch
	}
	if p.state != LivenessLive {
		p.lastHeard = h.ticks.Load()
	}
	h.peerMu.Unlock()
	if restarted {
		h.peerEvent(hello.Host, evPeerRestart)
	}
}

// HandleUnreachable implements Handler: the groups with replicas on peer
// hear of it, once per host tick at most.
func (h *Host) HandleUnreachable(peer HostID) {
	h.peerMu.Lock()
	h.peerLocked(peer).unreachable = true
	h.peerMu.Unlock()
}

// HandleSnapshotStatus implements Handler: the group reports the snapshot
// to raft (ReportSnapshot) in its next pass.
func (h *Host) HandleSnapshotStatus(gid GroupID, to uint64, failed bool) {
	g := h.group(gid)
	if g == nil {
		return
	}
	g.mu.Lock()
	g.events = append(g.events, event{kind: evSnapshot, replica: to, failed: failed})
	g.mu.Unlock()
	h.schedule(g)
}

// envScratch holds HandleEnvelope's per-envelope arrays, reused through
// envScratches: an envelope of a host of many groups carries thousands of
// tuples, and HandleEnvelope keeps neither array.
type envScratch struct {
	gs      []*group
	routine []bool
	resps   []deliveredResp // heartbeat responses made at delivery, queued together
}

// deliveredResp is a follower's heartbeat response made at delivery, for
// host to.
type deliveredResp struct {
	to  HostID
	g   GroupID
	msg pb.Message
}

var envScratches sync.Pool

// HandleEnvelope implements Handler: it queues the envelope's messages on
// their groups and answers liveness pings.
func (h *Host) HandleEnvelope(env *Envelope) {
	if env.To != h.cfg.ID && env.To != 0 {
		h.stats.dropped.Add(1)
		return
	}
	if len(env.Liveness) > 0 {
		h.handleLiveness(env.From, env.Liveness)
	}
	n := len(env.Heartbeats) + len(env.Messages)
	if n == 0 {
		return
	}
	// Look the groups up under one read lock, queue each message on its
	// group, and schedule them all under one lock: an envelope may carry a
	// heartbeat for each of 100,000 groups.
	sc, _ := envScratches.Get().(*envScratch)
	if sc == nil {
		sc = new(envScratch)
	}
	gs := slices.Grow(sc.gs[:0], n)[:n]
	routine := slices.Grow(sc.routine[:0], len(env.Heartbeats))[:len(env.Heartbeats)]
	clear(routine)
	defer func() {
		clear(gs)
		clear(sc.resps)
		sc.gs, sc.routine, sc.resps = gs[:0], routine[:0], sc.resps[:0]
		envScratches.Put(sc)
	}()
	inPlace := 0 // tuples that need no visit of their own (R2d)
	h.mu.RLock()
	for i := range env.Heartbeats {
		gs[i] = h.groups[env.Heartbeats[i].Group]
	}
	for i := range env.Messages {
		gs[len(env.Heartbeats)+i] = h.groups[env.Messages[i].Group]
	}
	h.mu.RUnlock()
	for i, g := range gs {
		var ok bool
		if i < len(env.Heartbeats) {
			hb := &env.Heartbeats[i]
			var flags uint8
			if hb.Quiesce {
				flags |= hbQuiesce
			}
			if hb.Wake {
				flags |= hbWake
			}
			// A plain heartbeat or response is stepped at once if raft's
			// fast path takes it (R2d), else it is routine work (R2b);
			// one with a ReadIndex context, a notice or a poke is not.
			if flags == 0 && hb.Context == nil {
				ok = h.deliverPlain(g, hb.Group, hb.Message(), &sc.resps, &inPlace)
				routine[i] = true
			} else {
				ok = h.deliver(g, hb.Group, hb.Message(), flags)
			}
		} else {
			gm := &env.Messages[i-len(env.Heartbeats)]
			ok = h.deliver(g, gm.Group, gm.Message, 0)
		}
		if !ok {
			gs[i] = nil
		}
	}
	if len(sc.resps) > 0 {
		// The followers' responses join the outbox under one lock.
		h.peerMu.Lock()
		for i := range sc.resps {
			r := &sc.resps[i]
			h.enqueueLocked(r.to, r.g, &r.msg, 0)
		}
		h.peerMu.Unlock()
	}
	h.scheduleAll(gs, routine)
	h.stats.received.Add(uint64(n))
	if inPlace > 0 {
		h.stats.inPlace.Add(uint64(inPlace))
	}
}

// deliver queues m on group g (gid, nil if unknown) and reports whether
// it did.
func (h *Host) deliver(g *group, gid GroupID, m pb.Message, flags uint8) bool {
	if raft.IsLocalMsg(m.Type) || m.Type > pb.MsgPreVoteResp || raft.IsLocalMsgTarget(m.From) {
		h.stats.dropped.Add(1)
		h.log.Debugf("multiraft: host %d drops local message %s for group %d from the wire", h.cfg.ID, m.Type, gid)
		return false
	}
	if g == nil {
		h.stats.dropped.Add(1)
		h.log.Debugf("multiraft: host %d drops %s for unknown group %d", h.cfg.ID, m.Type, gid)
		return false
	}
	g.mu.Lock()
	if g.removed || m.To != g.self {
		g.mu.Unlock()
		h.stats.dropped.Add(1)
		return false
	}
	g.inbox = append(g.inbox, inbound{msg: m, flags: flags})
	g.mu.Unlock()
	return true
}

// deliverPlain delivers a plain heartbeat or heartbeat response (no
// Context, no flags) to group g (gid, nil if unknown) and reports whether
// the group needs a visit for it. It steps the message at once, under the
// group's lock, when nothing is queued before it and raft's fast path
// (raft.RawNode.StepHeartbeat) takes it: an idle group's heartbeat round
// then costs no visit (R2d); left counts it. A heartbeat's response is
// added to resps: the caller queues them all for their hosts under one
// lock, like the routes of a pass, and they wait for the heartbeat flush
// (R9) as the pass's tuples do.
func (h *Host) deliverPlain(g *group, gid GroupID, m pb.Message, resps *[]deliveredResp, left *int) bool {
	if raft.IsLocalMsgTarget(m.From) || g == nil {
		return h.deliver(g, gid, m, 0) // drops it
	}
	g.mu.Lock()
	if g.removed || m.To != g.self || len(g.inbox) > 0 || len(g.events) > 0 ||
		h.quiet(g) {
		g.mu.Unlock()
		return h.deliver(g, gid, m, 0)
	}
	now := h.ticks.Load()
	switch {
	case m.Type == pb.MsgHeartbeat && g.clockKnown && g.clockLead == m.From && g.clockTerm == m.Term:
		// A follower of m.From in m.Term, as of its last visit. Its owed
		// ticks come first (R2a), as at a visit; they cannot run its
		// election clock out before its tick pass would have, and if they
		// change anything, the fast path refuses and the visit follows.
		for ; g.tickedAt < now; g.tickedAt++ {
			g.rn.Tick()
		}
		resp, ok := g.rn.StepHeartbeat(m)
		if !ok {
			break
		}
		g.clockAt = now // the election clock restarted (lazyClock)
		to := g.replicas.get(resp.To)
		g.mu.Unlock()
		*left++
		if to == 0 || to == h.cfg.ID {
			h.stats.dropped.Add(1)
			h.log.Debugf("multiraft: group %d has no host for replica %d; %s dropped", gid, resp.To, resp.Type)
			return false
		}
		*resps = append(*resps, deliveredResp{to: to, g: gid, msg: resp})
		return false
	case m.Type == pb.MsgHeartbeatResp && g.tickedAt == now:
		// A leader with no owed tick: a tick pass ticks it at its visit,
		// and the response is stepped before that tick, as it would be
		// by a visit.
		if _, ok := g.rn.StepHeartbeat(m); ok {
			g.mu.Unlock()
			*left++
			return false
		}
	}
	g.inbox = append(g.inbox, inbound{msg: m})
	g.mu.Unlock()
	return true
}

// handleLiveness answers pings and records pongs.
func (h *Host) handleLiveness(from HostID, ls []Liveness) {
	var restarted, live, wasDown bool
	h.peerMu.Lock()
	p := h.peerLocked(from)
	for _, l := range ls {
		if l.Epoch > p.epoch {
			restarted = p.epoch != 0
			p.epoch = l.Epoch
		} else if l.Epoch < p.epoch {
			continue // from an earlier incarnation
		}
		switch l.Kind {
		case LivenessPing:
			p.liveness = append(p.liveness, Liveness{Kind: LivenessPong, Epoch: h.epoch, PeerEpoch: l.Epoch, Seq: l.Seq})
		case LivenessPong:
			// Only a pong to a ping of this incarnation, still in the
			// window of remembered pings, counts.
			if l.PeerEpoch != h.epoch || l.Seq == 0 || l.Seq > p.seq || p.seq-l.Seq >= uint64(len(p.sentAt)) {
				continue
			}
			at := p.sentAt[l.Seq%uint64(len(p.sentAt))]
			if at > p.lastHeard || p.state != LivenessLive {
				if at > p.lastHeard {
					p.lastHeard = at
				}
				if p.state != LivenessLive {
					wasDown = p.state == LivenessDown
					p.state = LivenessLive
					live = true
				}
			}
		}
	}
	epoch := p.epoch
	h.peerMu.Unlock()
	if live {
		h.stats.livenessChanges.Add(1)
		if m := h.cfg.Metrics; m != nil {
			m.Liveness(from, LivenessLive, epoch)
		}
	}
	if restarted {
		h.peerEvent(from, evPeerRestart)
	} else if wasDown && h.cfg.Quiescence {
		// Quiet leaders that left replicas there behind catch them up.
		h.peerEvent(from, evPeerUp)
	}
}

// livenessTick queues a ping to every capable peer host that shares a
// group with this one, and probes those whose handshake has not happened
// (pass goroutine).
func (h *Host) livenessTick(now uint64) {
	h.mu.RLock()
	hosts := make([]HostID, 0, len(h.byPeer))
	for id := range h.byPeer {
		hosts = append(hosts, id)
	}
	h.mu.RUnlock()
	var probes []HostID
	h.peerMu.Lock()
	for _, id := range hosts {
		p := h.peerLocked(id)
		if !p.capsKnown {
			probes = append(probes, id)
		}
		if p.caps&CapLiveness == 0 {
			continue
		}
		p.seq++
		p.sentAt[p.seq%uint64(len(p.sentAt))] = now
		p.liveness = append(p.liveness, Liveness{Kind: LivenessPing, Epoch: h.epoch, Seq: p.seq})
	}
	h.peerMu.Unlock()
	// A peer host not yet connected gets an empty envelope: the transport
	// connects, and the handshake tells whether it runs liveness.
	for _, id := range probes {
		h.cfg.Transport.Send(&Envelope{From: h.cfg.ID, To: id, Lane: LaneControl})
	}
}

// checkPeers marks peers Down after the timeout and turns failed sends into
// events (pass goroutine).
func (h *Host) checkPeers(now uint64) {
	type change struct {
		id    HostID
		kind  eventKind
		epoch uint64
	}
	var changes []change
	h.peerMu.Lock()
	for id, p := range h.peers {
		if p.caps&CapLiveness != 0 && p.seq > 0 && p.state != LivenessDown && now > p.lastHeard+uint64(h.cfg.LivenessTimeoutTicks) {
			p.state = LivenessDown
			changes = append(changes, change{id, evPeerDown, p.epoch})
		} else if p.unreachable && p.state != LivenessDown && (p.unreachableAt == 0 || now >= p.unreachableAt+uint64(h.cfg.LivenessTimeoutTicks)) {
			// Failed sends tell the groups at most once per liveness
			// timeout, and not at all once the peer is Down (they heard):
			// a dead peer must not wake its groups on every tick.
			p.unreachableAt = now
			changes = append(changes, change{id, evUnreachable, p.epoch})
		}
		p.unreachable = false
	}
	h.peerMu.Unlock()
	for _, c := range changes {
		if c.kind == evPeerDown {
			h.stats.livenessChanges.Add(1)
			if m := h.cfg.Metrics; m != nil {
				m.Liveness(c.id, LivenessDown, c.epoch)
			}
		}
		h.peerEvent(c.id, c.kind)
	}
}

// peerEvent queues an event for every group with a replica on peer. The
// events are handed out MaxWakesPerPass at a time.
func (h *Host) peerEvent(peer HostID, kind eventKind) {
	h.mu.RLock()
	gs := make([]*group, 0, len(h.byPeer[peer]))
	for _, g := range h.byPeer[peer] {
		gs = append(gs, g)
	}
	h.mu.RUnlock()
	h.wakeMu.Lock()
	for _, g := range gs {
		h.pendingWakes = append(h.pendingWakes, wake{g, event{kind: kind, peer: peer}})
	}
	h.wakeMu.Unlock()
	if len(gs) > 0 {
		h.signal()
	}
}

// PeerLiveness returns what this host knows of peer host id: its liveness
// state, its epoch and its capabilities.
func (h *Host) PeerLiveness(id HostID) (LivenessState, uint64, Caps) {
	h.peerMu.Lock()
	defer h.peerMu.Unlock()
	p := h.peers[id]
	if p == nil {
		return LivenessUnknown, 0, 0
	}
	return p.state, p.epoch, p.caps
}
