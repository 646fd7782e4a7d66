package multiraft

import (
	"sync"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// group is one replica on the host. mu guards everything but queued (the
// host's schedMu) and the pass-only fields (the pass goroutine's).
type group struct {
	id   GroupID
	self uint64

	mu       sync.Mutex
	rn       *raft.RawNode
	replicas replicaSet
	inbox    []inbound
	events   []event
	removed  bool

	queued  bool // on the host's schedule; under Host.schedMu
	rqueued bool // on the host's routine schedule; under Host.schedMu
	// inBacklog: in Host.backlog, the routine work not yet visited (pass
	// goroutine).
	inBacklog bool
	idx       int // position in Host.list; under Host.mu
	awakeIdx  int // position in Host.awake, -1 if not there; under Host.mu

	// Quiescence, under mu.
	electionTick int      // the group's ElectionTick
	idle         int      // host ticks without a new commit or local request
	lastCommit   uint64   // the commit index when idle was last reset
	quietAt      uint64   // host tick at which the group last went quiet
	wokeAt       uint64   // host tick of the last wake, 0 once an election was counted or the bound passed
	flip         bool     // the group went quiet or woke in this pass: sync Host.awake
	side         []routed // quiesce notices and wake pokes not yet taken by a pass
	sideOut      []routed // those a pass took in step (pass goroutine after step)
	pokeResp     bool     // the heartbeat response of this step is a poke (a refused notice)

	// The election clock, under mu. tickedAt is the host tick up to which
	// the RawNode has been ticked: a follower that heard from its leader
	// is not visited by the ticks that cannot run its election clock out,
	// and takes them (owed ticks) at its next visit, before anything else.
	// clockKnown says that the RawNode's election clock restarted at host
	// tick clockAt, when it stepped a message of leader clockLead in term
	// clockTerm; it holds while the replica follows that leader in that
	// term (see lazy ticks in docs/design/multiraft.md).
	tickedAt   uint64
	clockAt    uint64
	clockLead  uint64
	clockTerm  uint64
	clockKnown bool

	// Set by step, used by the rest of the pass.
	// tickDue is the first host tick whose tick pass must visit the group
	// (0: every tick pass); the pass copies it to Host.awakeDue.
	tickDue uint64
	rd      raft.Ready
	hasRd   bool // rd waits for the pass's write and advance
	// advanced: the visit took a Ready with only messages and advanced it
	// (R2c).
	advanced bool
	route    []routed // the Ready's messages with their destination host
	// campaignIn, if > 0, asks the pass to wake the group this many ticks
	// from now to campaign.
	campaignIn int
	seen       uint64 // Host.passGen of the last pass that listed it (pass goroutine)
}

// replicaSet places a group's replicas on hosts. A group has a handful of
// replicas and the pass looks one up per message it routes, so it is a
// slice scanned in place rather than a map (a map lookup per message was
// a tenth of the CPU of ticking thousands of idle groups).
type replicaSet []replicaHost

type replicaHost struct {
	id   uint64
	host HostID
}

// get returns the host of replica id, or 0.
func (s replicaSet) get(id uint64) HostID {
	for i := range s {
		if s[i].id == id {
			return s[i].host
		}
	}
	return 0
}

// set places replica id on host; host 0 forgets the replica.
func (s *replicaSet) set(id uint64, host HostID) {
	for i := range *s {
		if (*s)[i].id == id {
			if host == 0 {
				*s = append((*s)[:i], (*s)[i+1:]...)
			} else {
				(*s)[i].host = host
			}
			return
		}
	}
	if host != 0 {
		*s = append(*s, replicaHost{id, host})
	}
}

type routed struct {
	to    HostID
	msg   pb.Message
	flags uint8 // hbQuiesce or hbWake: a notice or a poke (see quiesce.go)
}

// inbound is a message queued on a group, with the flags of the heartbeat
// tuple it came in (hbQuiesce, hbWake), if any.
type inbound struct {
	msg   pb.Message
	flags uint8
}

type eventKind uint8

const (
	evPeerDown    eventKind = iota + 1 // a peer host went Down
	evUnreachable                      // sending to a peer host failed
	evPeerRestart                      // a peer host came back with a new epoch
	evCampaign                         // the jittered campaign after a Down leader host
	evSnapshot                         // a MsgSnap was delivered or lost
	evPeerUp                           // a peer host Down before is Live again
)

type event struct {
	kind    eventKind
	peer    HostID
	replica uint64 // evSnapshot: the replica the snapshot was for
	failed  bool   // evSnapshot: it was lost
}

type wake struct {
	g  *group
	ev event
}

// Pass runs one pass: it steps the groups that have work, writes their
// updates in one LogStore.Save, sends their messages and advances them. It
// reports whether it had anything to do. After an error (the LogStore
// failed) the host is broken: the error is kept and returned again.
func (h *Host) Pass() (bool, error) {
	h.passMu.Lock()
	defer h.passMu.Unlock()
	if h.passErr != nil {
		return false, h.passErr
	}
	start := time.Now()

	h.schedMu.Lock()
	work := h.passBuf[:0]
	work = append(work, h.sched...)
	for _, g := range h.sched {
		g.queued = false
	}
	clear(h.sched)
	h.sched = h.sched[:0]
	for _, g := range h.rsched {
		g.rqueued = false
		if !g.inBacklog {
			g.inBacklog = true
			h.backlog = append(h.backlog, g)
		}
	}
	clear(h.rsched)
	h.rsched = h.rsched[:0]
	ticks := h.tickPending
	h.tickPending = 0
	h.schedMu.Unlock()
	h.passGen++
	for _, g := range work {
		g.seen = h.passGen
	}

	h.wakeMu.Lock()
	h.wakes = append(h.wakes, h.pendingWakes...)
	clear(h.pendingWakes)
	h.pendingWakes = h.pendingWakes[:0]
	h.wakeMu.Unlock()

	budget := h.cfg.MaxRoutineVisits
	if ticks > 0 {
		// Routine work left from before the tick is all visited now, so
		// that every message queued before the tick is stepped before it,
		// as without the cap (R2b).
		budget = len(h.backlog) - h.backHead
		before := h.ticks.Load()
		now := before + uint64(ticks)
		h.ticks.Store(now)
		for t := before + 1; t <= now; t++ {
			if t%uint64(h.cfg.HeartbeatTicks) == 0 {
				h.hbDue = true
			}
			if t%uint64(h.cfg.LivenessTicks) == 0 {
				h.livenessTick(now)
			}
			for _, g := range h.timers[t] {
				h.wakes = append(h.wakes, wake{g, event{kind: evCampaign}})
			}
			delete(h.timers, t)
		}
		h.checkPeers(now)
		h.snapshotPeers()
		// A tick is work for every awake group whose election clock may
		// run out (see lazyClock): they join the routine backlog, visited
		// MaxRoutineVisits a pass after the groups that were scheduled.
		// awakeDue is scanned, not the groups: a follower that heard from
		// its leader costs no visit and no touch of its memory.
		h.mu.RLock()
		for i, due := range h.awakeDue {
			if due <= now {
				g := h.awake[i]
				if due != 0 && h.clockMoved(g, i, now) {
					continue
				}
				if g.seen != h.passGen && !g.inBacklog {
					g.inBacklog = true
					h.backlog = append(h.backlog, g)
				}
			}
		}
		h.mu.RUnlock()
		if h.hbDue {
			// The heartbeat flush waits until the tick's groups have all
			// been visited, so that their heartbeats leave in one envelope
			// per peer host (R9).
			h.flushLeft = len(h.backlog) - h.backHead
		}
		budget += h.cfg.MaxRoutineVisits
	}
	// Routine work: at most budget groups of the backlog.
	for h.backHead < len(h.backlog) && budget > 0 {
		g := h.backlog[h.backHead]
		h.backlog[h.backHead] = nil
		h.backHead++
		g.inBacklog = false
		if h.flushLeft > 0 {
			h.flushLeft--
		}
		if g.seen != h.passGen {
			g.seen = h.passGen
			work = append(work, g)
			budget--
		}
	}
	if h.backHead == len(h.backlog) {
		h.backlog, h.backHead = h.backlog[:0], 0
	} else {
		if h.backHead >= 1024 && 2*h.backHead >= len(h.backlog) {
			n := copy(h.backlog, h.backlog[h.backHead:])
			clear(h.backlog[n:])
			h.backlog, h.backHead = h.backlog[:n], 0
		}
		h.signal() // the passes that follow take the rest
	}
	hbFlush := h.hbDue && h.flushLeft == 0
	if hbFlush {
		h.hbDue = false
	}
	// Hand out at most MaxWakesPerPass liveness events.
	if len(h.wakes) > 0 {
		// Mark the groups already in the pass, so that each is visited
		// once (a map would cost O(awake groups) allocations per pass).
		h.passGen++
		for _, g := range work {
			g.seen = h.passGen
		}
		n := min(len(h.wakes), h.cfg.MaxWakesPerPass)
		for _, w := range h.wakes[:n] {
			w.g.mu.Lock()
			w.g.events = append(w.g.events, w.ev)
			w.g.mu.Unlock()
			if w.g.seen != h.passGen {
				w.g.seen = h.passGen
				work = append(work, w.g)
			}
		}
		h.stats.wakes.Add(uint64(n))
		h.wakes = append(h.wakes[:0], h.wakes[n:]...)
		if len(h.wakes) > 0 {
			h.signal()
		}
	}
	h.passBuf = work
	if len(work) == 0 && !hbFlush && !h.outboxPending() {
		return false, nil
	}
	h.visitedN.Add(uint64(len(work)))

	// 1. Step and take Readies, in parallel.
	now := h.ticks.Load()
	h.parallel(work, func(g *group) { h.step(g, ticks, now) })
	readied := h.readied[:0] // Readies to save, apply and advance
	sending := h.sending[:0] // groups with messages to route
	side := h.sideBuf[:0]
	advanced := 0
	for _, g := range work {
		if g.hasRd {
			readied = append(readied, g)
		}
		if g.advanced {
			advanced++
			g.advanced = false
		}
		if len(g.route) > 0 {
			sending = append(sending, g)
		}
		if len(g.sideOut) > 0 {
			side = append(side, g)
		}
		if g.flip {
			g.flip = false
			h.syncAwake(g)
		}
		if g.campaignIn > 0 {
			t := h.ticks.Load() + uint64(g.campaignIn)
			h.timers[t] = append(h.timers[t], g)
			g.campaignIn = 0
		}
	}
	h.mu.Lock()
	for _, g := range work {
		if g.awakeIdx >= 0 {
			h.awakeDue[g.awakeIdx] = g.tickDue
		}
	}
	h.mu.Unlock()
	h.readied = readied
	h.sending = sending

	// 2. Leaders' appends leave before the write (thesis §10.2.1).
	h.peerMu.Lock()
	for _, g := range sending {
		for i := range g.route {
			r := &g.route[i]
			if r.msg.Type == pb.MsgApp || r.msg.Type == pb.MsgSnap {
				h.enqueueLocked(r.to, g.id, &r.msg, 0)
			}
		}
	}
	h.peerMu.Unlock()
	h.flush(false, false)

	// 3. One write for the pass.
	ups := h.updates[:0]
	for _, g := range readied {
		rd := &g.rd
		if len(rd.Entries) == 0 && raft.IsEmptyHardState(rd.HardState) && raft.IsEmptySnap(rd.Snapshot) {
			continue
		}
		ups = append(ups, Update{Group: g.id, HardState: rd.HardState, Entries: rd.Entries, Snapshot: rd.Snapshot, MustSync: rd.MustSync})
	}
	if len(ups) > 0 {
		t0 := time.Now()
		err := h.cfg.LogStore.Save(ups)
		d := time.Since(t0)
		if err != nil {
			h.passErr = err
			return true, err
		}
		synced := false
		for i := range ups {
			synced = synced || ups[i].MustSync
		}
		h.stats.saves.Add(1)
		if synced {
			h.stats.syncs.Add(1)
		}
		if m := h.cfg.Metrics; m != nil {
			m.Saved(len(ups), synced, d)
		}
	}
	clear(ups)
	h.updates = ups[:0]

	// 4. Everything else leaves now that it is durable.
	h.peerMu.Lock()
	for _, g := range sending {
		for i := range g.route {
			r := &g.route[i]
			if r.msg.Type != pb.MsgApp && r.msg.Type != pb.MsgSnap {
				h.enqueueLocked(r.to, g.id, &r.msg, r.flags)
			}
		}
	}
	for _, g := range side {
		for i := range g.sideOut {
			r := &g.sideOut[i]
			h.enqueueLocked(r.to, g.id, &r.msg, r.flags)
		}
		clear(g.sideOut)
		g.sideOut = g.sideOut[:0]
	}
	h.peerMu.Unlock()
	clear(side)
	h.sideBuf = side[:0]
	h.flush(hbFlush, true)

	// 5. Apply and advance, in parallel.
	h.parallel(readied, h.advance)
	for _, g := range readied {
		g.hasRd = false
	}
	for _, g := range sending {
		clear(g.route) // the messages refer to entries and contexts
		g.route = g.route[:0]
	}
	clear(readied)
	clear(sending)

	h.stats.passes.Add(1)
	h.stats.visits.Add(uint64(len(work)))
	h.stats.readies.Add(uint64(len(readied) + advanced))
	if m := h.cfg.Metrics; m != nil {
		m.Pass(len(work), len(readied)+advanced, time.Since(start))
	}
	clear(work)
	return true, nil
}

// parallel runs f on every group, spread over the workers. Small passes
// run on the calling goroutine.
func (h *Host) parallel(gs []*group, f func(*group)) {
	const minChunk = 256
	w := h.cfg.Workers
	if w > (len(gs)+minChunk-1)/minChunk {
		w = (len(gs) + minChunk - 1) / minChunk
	}
	if w <= 1 {
		for _, g := range gs {
			f(g)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(gs) + w - 1) / w
	for lo := 0; lo < len(gs); lo += chunk {
		hi := min(lo+chunk, len(gs))
		wg.Add(1)
		go func(part []*group) {
			defer wg.Done()
			for _, g := range part {
				f(g)
			}
		}(gs[lo:hi])
	}
	wg.Wait()
}

// step feeds the group its owed ticks, inbox, events and the pass's ticks
// (now is the host tick after them), and takes its Ready.
func (h *Host) step(g *group, ticks int, now uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.removed {
		g.inbox, g.events = nil, nil
		return
	}
	before := now - uint64(ticks)
	wasQuiet := h.quiet(g)
	if g.tickedAt < before {
		if !wasQuiet {
			// Ticks skipped while the election clock could not run out:
			// they come first, so that every message meets the clock it
			// would have met had the group been ticked on time.
			h.tickGroup(g, int(before-g.tickedAt))
		}
		g.tickedAt = before
	}
	var leadFrom, leadTerm uint64 // the last message that restarts a follower's election clock
	for i := range g.inbox {
		in := &g.inbox[i]
		if h.stepQuiet(g, in) {
			continue
		}
		m := in.msg
		if in.flags == 0 && (m.Type == pb.MsgHeartbeat || m.Type == pb.MsgHeartbeatResp) {
			// Raft's fast path, where it applies (R2d): no Ready for it.
			if resp, ok := g.rn.StepHeartbeat(m); ok {
				if m.Type == pb.MsgHeartbeat {
					leadFrom, leadTerm = m.From, m.Term
					h.routeLocked(g, resp, 0)
				}
				continue
			}
		}
		err := g.rn.Step(m)
		if err != nil && err != raft.ErrProposalDropped {
			h.stats.dropped.Add(1)
			h.log.Debugf("multiraft: group %d drops %s from %d: %v", g.id, m.Type, m.From, err)
		}
		if err == nil && (m.Type == pb.MsgHeartbeat || m.Type == pb.MsgApp || m.Type == pb.MsgSnap) {
			leadFrom, leadTerm = m.From, m.Term
		}
	}
	clear(g.inbox)
	g.inbox = g.inbox[:0]
	if h.quiet(g) && g.rn.HasReady() {
		// A quiet leader stepped a response that needs an answer.
		h.wakeLocked(g, WakeMessage, 0)
	}
	for _, ev := range g.events {
		h.handleEvent(g, ev)
	}
	g.events = g.events[:0]
	if ticks > 0 && !h.quiet(g) && g.tickedAt < now {
		h.tickGroup(g, int(now-g.tickedAt))
	}
	g.tickedAt = now
	h.lazyClock(g, leadFrom, leadTerm, before)
	h.countElection(g)
	if wasQuiet != h.quiet(g) {
		g.flip = true
	}
	if len(g.side) > 0 {
		// Local requests add pokes under g.mu at any time; the pass sends
		// the ones taken here.
		g.sideOut = append(g.sideOut, g.side...)
		clear(g.side)
		g.side = g.side[:0]
	}
	if !g.rn.HasReady() {
		g.pokeResp = false
		return
	}
	g.rd = g.rn.Ready()
	for _, m := range g.rd.Messages {
		var flags uint8
		if g.pokeResp && m.Type == pb.MsgHeartbeatResp {
			flags = hbWake
		}
		h.routeLocked(g, m, flags)
	}
	g.pokeResp = false
	if messagesOnly(&g.rd) {
		// Nothing to persist, apply or hand over: the Ready is advanced
		// now, while the group is hot, rather than by a second visit after
		// the pass's write (R1 holds: it is advanced in the pass that took
		// it). Its messages, copied into g.route, are routed with the
		// others', after the write (R4): they vouch only for state that an
		// earlier pass made durable, as nothing is left unsaved between
		// passes. This is the Ready of an idle group's heartbeat round:
		// a leader's heartbeats (its followers step them and it steps
		// their responses without a Ready, R2d).
		g.rn.Advance(g.rd)
		g.rd = raft.Ready{}
		g.advanced = true
		if g.rn.HasReady() {
			h.schedule(g)
		}
		return
	}
	g.hasRd = true
}

// routeLocked adds m, a message of g, to g's routes (under g.mu). A
// message to a replica without a host, or to one on this host, is
// dropped.
func (h *Host) routeLocked(g *group, m pb.Message, flags uint8) {
	to := g.replicas.get(m.To)
	if to == 0 || to == h.cfg.ID {
		h.stats.dropped.Add(1)
		h.log.Debugf("multiraft: group %d has no host for replica %d; %s dropped", g.id, m.To, m.Type)
		return
	}
	g.route = append(g.route, routed{to: to, msg: m, flags: flags})
}

// messagesOnly reports whether a Ready carries nothing but messages: no
// state, entries, snapshot or read states.
func messagesOnly(rd *raft.Ready) bool {
	return rd.SoftState == nil && raft.IsEmptyHardState(rd.HardState) && len(rd.Entries) == 0 &&
		len(rd.CommittedEntries) == 0 && raft.IsEmptySnap(rd.Snapshot) && len(rd.ReadStates) == 0
}

// lazyClock decides, at the end of a visit, which tick pass must visit the
// group next (under g.mu). A follower whose election clock restarted at
// host tick clockAt, on a message of its leader, cannot reach its election
// timeout (at least ElectionTick ticks) before host tick clockAt +
// ElectionTick: the tick passes before that skip it, as long as it follows
// the same leader in the same term. Any other replica (leader, candidate,
// follower without a known clock) is visited by every tick pass. leadFrom
// and leadTerm name the last heartbeat, append or snapshot the visit
// stepped (0 if none); before is the host tick before the pass's ticks.
func (h *Host) lazyClock(g *group, leadFrom, leadTerm, before uint64) {
	g.tickDue = 0
	if !g.clockKnown && leadFrom == 0 {
		return
	}
	st := g.rn.BasicStatus()
	if st.RaftState != raft.StateFollower || h.quiet(g) {
		g.clockKnown = false
		return
	}
	if leadFrom != 0 && st.Lead == leadFrom && st.Term == leadTerm {
		// Stepping a heartbeat, append or snapshot of the leader of the
		// follower's term restarts its election clock (raft's
		// stepFollower); it happened after the owed ticks and before the
		// pass's ticks.
		g.clockKnown, g.clockAt, g.clockLead, g.clockTerm = true, before, leadFrom, leadTerm
	} else if !g.clockKnown || st.Lead != g.clockLead || st.Term != g.clockTerm {
		g.clockKnown = false
		return
	}
	g.tickDue = g.clockAt + uint64(g.electionTick)
}

// clockMoved reports whether follower g, due at this tick pass (awake[i]
// under h.mu, read-locked by the pass goroutine, which alone writes
// awakeDue under that lock), stepped a heartbeat of its leader at delivery
// since its last visit (R2d): its election clock restarted then, so its
// due tick moved on, and it records the new one instead of a visit.
func (h *Host) clockMoved(g *group, i int, now uint64) bool {
	g.mu.Lock()
	due := g.clockAt + uint64(g.electionTick)
	known := g.clockKnown
	g.mu.Unlock()
	if !known || due <= now {
		return false
	}
	h.awakeDue[i] = due
	return true
}

// handleEvent applies a liveness event to the group (under g.mu).
func (h *Host) handleEvent(g *group, ev event) {
	if ev.kind == evSnapshot {
		status := raft.SnapshotFinish
		if ev.failed {
			status = raft.SnapshotFailure
		}
		g.rn.ReportSnapshot(ev.replica, status)
		return
	}
	st := g.rn.BasicStatus()
	quiet := g.rn.Quiesced()
	switch ev.kind {
	case evPeerDown, evUnreachable, evPeerRestart, evPeerUp:
		if st.RaftState == raft.StateLeader {
			if ev.kind == evPeerUp {
				// A quiet leader may have left a replica there behind:
				// wake to catch it up.
				if quiet && h.hasReplicaOn(g, ev.peer) {
					h.wakeLocked(g, WakeLiveness, 0)
				}
				return
			}
			for _, r := range g.replicas {
				if r.host == ev.peer && r.id != g.self {
					g.rn.ReportUnreachable(r.id)
				}
			}
			// A lost follower host does not wake a quiet leader; a
			// restarted one does, to catch it up.
			if quiet && ev.kind == evPeerRestart && h.hasReplicaOn(g, ev.peer) {
				h.wakeLocked(g, WakeLiveness, 0)
			}
			return
		}
		leadThere := st.Lead != raft.None && g.replicas.get(st.Lead) == ev.peer
		// A Down leader host, or (for a quiet group, whose leader is from
		// before) a restarted one: forget it and campaign, jittered.
		if leadThere && (ev.kind == evPeerDown || (quiet && ev.kind == evPeerRestart)) {
			h.wakeLocked(g, WakeLiveness, 0)
			if err := g.rn.ForgetLeader(); err == nil {
				g.campaignIn = 1 + h.rngIntn(h.cfg.CampaignJitterTicks)
			}
		}
	case evCampaign:
		if st.Lead == raft.None && st.RaftState != raft.StateLeader {
			h.wakeLocked(g, WakeLiveness, 0)
			g.rn.Campaign()
		}
	}
}

// rngIntn draws from the host's seeded source; workers call it
// concurrently.
func (h *Host) rngIntn(n int) int {
	h.rngMu.Lock()
	defer h.rngMu.Unlock()
	return h.rng.Intn(n)
}

// advance applies the group's committed entries and advances it.
func (h *Host) advance(g *group) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rd := &g.rd
	if g.removed {
		return
	}
	if !raft.IsEmptySnap(rd.Snapshot) && h.cfg.ApplySnapshot != nil {
		h.cfg.ApplySnapshot(g.id, rd.Snapshot)
	}
	for i := range rd.CommittedEntries {
		e := &rd.CommittedEntries[i]
		switch e.Type {
		case pb.EntryConfChange:
			var cc pb.ConfChange
			if err := cc.Unmarshal(e.Data); err == nil {
				g.rn.ApplyConfChange(cc)
			}
		case pb.EntryConfChangeV2:
			var cc pb.ConfChangeV2
			if err := cc.Unmarshal(e.Data); err == nil {
				g.rn.ApplyConfChange(cc)
			}
		}
	}
	if len(rd.CommittedEntries) > 0 && h.cfg.Apply != nil {
		h.cfg.Apply(g.id, rd.CommittedEntries)
	}
	if len(rd.ReadStates) > 0 && h.cfg.ReadStates != nil {
		h.cfg.ReadStates(g.id, rd.ReadStates)
	}
	g.rn.Advance(*rd)
	*rd = raft.Ready{}
	if g.rn.HasReady() || len(g.inbox) > 0 || len(g.events) > 0 {
		h.schedule(g)
	}
}
