package multiraft

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// HostConfig configures a Host. ID, Transport and LogStore are required;
// every other field has a default.
type HostConfig struct {
	// ID names this host; replicas of groups are placed on hosts by ID.
	ID HostID
	// Epoch is this incarnation of the host. It must be greater than the
	// epoch of every earlier run of the same ID (persist it and add one on
	// each start): peers learn about a restart from it.
	Epoch uint64
	// Transport moves envelopes to peer hosts.
	Transport Transport
	// LogStore persists the logs of all groups.
	LogStore LogStore

	// Apply is called with a group's committed entries, in order, after
	// they are persisted and before the group is advanced; conf changes
	// among them are already applied to the group. It runs on a worker
	// goroutine, for different groups concurrently, and must not call the
	// Host about the same group. Nil drops committed entries.
	Apply func(g GroupID, ents []pb.Entry)
	// ApplySnapshot is called with a snapshot the group received, after it
	// is persisted and before the entries that follow it are applied: the
	// state machine replaces its state with the snapshot's. The same rules
	// as Apply hold. Nil ignores snapshots.
	ApplySnapshot func(g GroupID, snap pb.Snapshot)
	// ReadStates is called with a group's answered ReadIndex requests; the
	// same rules as Apply hold. Nil drops them.
	ReadStates func(g GroupID, rs []raft.ReadState)

	// Workers is the number of goroutines that step groups in a pass.
	// Default: GOMAXPROCS.
	Workers int
	// TickInterval is how often Start's loop ticks every group. 0 means
	// no ticker: call Tick.
	TickInterval time.Duration
	// HeartbeatTicks is the interval, in host ticks, at which coalesced
	// heartbeats are flushed to each peer host. Set it to the groups'
	// HeartbeatTick. Default 1.
	HeartbeatTicks int
	// LivenessTicks is the interval, in host ticks, of liveness pings.
	// Default HeartbeatTicks.
	LivenessTicks int
	// LivenessTimeoutTicks is how long, in host ticks, a peer host may go
	// without answering a ping before it is Down. Default 5*LivenessTicks.
	LivenessTimeoutTicks int
	// CampaignJitterTicks bounds the random delay, in host ticks, before a
	// group whose leader's host went Down campaigns. Default 10.
	CampaignJitterTicks int
	// MaxWakesPerPass bounds the liveness events handed to groups in one
	// pass; the rest wait for the next passes. Default 1024.
	MaxWakesPerPass int
	// MaxEnvelopeMessages bounds the messages (and heartbeat tuples) in one
	// envelope. Default 4096.
	MaxEnvelopeMessages int
	// MaxEnvelopeBytes bounds the size of an envelope; one message larger
	// than it travels alone. Default 4 MiB.
	MaxEnvelopeBytes int
	// MaxRoutineVisits bounds the routine visits of a pass: groups
	// visited only because a tick is due for them or because coalesced
	// heartbeats arrived for them. The rest wait for the passes that
	// follow at once, so that proposals and appends are not held up behind
	// the heartbeat rounds of thousands of idle groups; every group still
	// takes every tick, and steps every message, in order (see R2b in
	// docs/design/multiraft.md). Default 256.
	MaxRoutineVisits int
	// MaxQueueMessages bounds each lane's queue to a peer host; beyond it
	// messages are dropped (raft retries). Default 65536.
	MaxQueueMessages int

	// Metrics hears about the host's work. Nil means none.
	Metrics Metrics
	// Logger logs dropped input and errors. Default: the standard log
	// package, errors and warnings only. It is not given to the groups:
	// set GroupConfig.Raft.Logger for that.
	Logger raft.Logger
	// Seed seeds the random campaign delays. 0 seeds from the clock.
	Seed int64

	// Quiescence lets idle groups go quiet: they leave the tick list and
	// cost nothing until a message or a local request wakes them. A group
	// quiesces only when every host of its replicas advertised CapQuiesce
	// (so this host advertises it only when set), its raft Config has
	// PreVote and CheckQuorum and not ReadOnlyLeaseBased, and
	// RawNode.MayQuiesce holds. See docs/design/multiraft.md.
	Quiescence bool
	// QuiesceAfterTicks is how many host ticks a leader must have been
	// idle (no new commit, no local request) before it quiesces its group.
	// Default 6.
	QuiesceAfterTicks int
}

func (c *HostConfig) defaults() error {
	if c.ID == 0 {
		return errors.New("multiraft: HostConfig.ID must not be 0")
	}
	if c.Transport == nil || c.LogStore == nil {
		return errors.New("multiraft: HostConfig needs a Transport and a LogStore")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Workers, runtime.GOMAXPROCS(0))
	def(&c.HeartbeatTicks, 1)
	def(&c.LivenessTicks, c.HeartbeatTicks)
	def(&c.LivenessTimeoutTicks, 5*c.LivenessTicks)
	def(&c.CampaignJitterTicks, 10)
	def(&c.MaxWakesPerPass, 1024)
	def(&c.MaxEnvelopeMessages, 4096)
	def(&c.MaxEnvelopeBytes, 4<<20)
	def(&c.MaxQueueMessages, 65536)
	def(&c.MaxRoutineVisits, 256)
	def(&c.QuiesceAfterTicks, 6)
	if c.Logger == nil {
		c.Logger = newStdLogger()
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	return nil
}

// GroupConfig describes one group's replica on this host.
type GroupConfig struct {
	// ID names the group.
	ID GroupID
	// Raft configures the replica's RawNode. Raft.ID is this replica's
	// node ID. Raft.Storage is set by the host from the LogStore.
	Raft raft.Config
	// Replicas places each replica of the group (this one included) on
	// its host. Replicas added later are placed with SetReplica.
	Replicas map[uint64]HostID
	// Bootstrap lists the voters the group starts with when its storage is
	// empty. Every replica of a new group must be given the same list.
	Bootstrap []uint64
}

// ErrGroupNotFound is returned for a group the host does not hold.
var ErrGroupNotFound = errors.New("multiraft: group not found")

// ErrGroupExists is returned by AddGroup for a group the host holds.
var ErrGroupExists = errors.New("multiraft: group already exists")

// ErrStopped is returned after Stop.
var ErrStopped = errors.New("multiraft: host stopped")

// Host runs many raft groups: one pass at a time visits the groups that
// have work, with one durable write per pass and one outbox per peer host.
// Its methods are safe for concurrent use.
type Host struct {
	cfg   HostConfig
	log   raft.Logger
	epoch uint64

	mu     sync.RWMutex // groups, list, byPeer
	groups map[GroupID]*group
	list   []*group
	awake  []*group // the groups on the tick list: list minus the quiet
	// awakeDue[i] is the first host tick whose tick pass visits awake[i]
	// (0: every one); see group.tickDue.
	awakeDue []uint64
	byPeer   map[HostID]map[GroupID]*group

	schedMu     sync.Mutex
	sched       []*group
	rsched      []*group // routine work (heartbeats) arrived since the last pass
	tickPending int
	work        chan struct{}

	passMu  sync.Mutex // one pass at a time; fields below are the pass's
	ticks   atomic.Uint64
	rngMu   sync.Mutex
	rng     *rand.Rand
	timers  map[uint64][]*group // campaign wakes by tick
	wakes   []wake              // liveness events not yet handed out
	passBuf []*group
	// backlog[backHead:] is the routine work not yet visited: groups due
	// on a tick and groups with only heartbeats to step (R2b).
	backlog   []*group
	backHead  int
	hbDue     bool // a heartbeat flush is due
	flushLeft int  // groups of the backlog to visit before it
	readied   []*group
	sending   []*group
	sideBuf   []*group
	passGen   uint64
	qpeers    map[HostID]uint8 // peer hosts' qCapable and qDown, for the workers of a tick pass
	updates   []Update
	envs      []*Envelope
	passErr   error
	visitedN  atomic.Uint64

	wakeMu       sync.Mutex
	pendingWakes []wake // queued by peerEvent, moved to wakes by a pass

	peerMu sync.Mutex
	peers  map[HostID]*peer

	stats hostStats

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	started  atomic.Bool
}

// NewHost returns a host and starts its transport. It runs passes only
// when asked (Pass, Tick) until Start.
func NewHost(cfg HostConfig) (*Host, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	h := &Host{
		cfg:    cfg,
		log:    cfg.Logger,
		epoch:  cfg.Epoch,
		groups: make(map[GroupID]*group),
		byPeer: make(map[HostID]map[GroupID]*group),
		work:   make(chan struct{}, 1),
		rng:    rand.New(rand.NewSource(cfg.Seed)),
		timers: make(map[uint64][]*group),
		peers:  make(map[HostID]*peer),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	caps := AllCaps
	if !cfg.Quiescence {
		caps &^= CapQuiesce
	}
	hello := Hello{Host: cfg.ID, Epoch: cfg.Epoch, Version: Version, Caps: caps}
	if err := cfg.Transport.Start(hello, h); err != nil {
		return nil, err
	}
	return h, nil
}

// ID returns the host's ID.
func (h *Host) ID() HostID { return h.cfg.ID }

// AddGroup creates the group's replica on this host, restoring it from the
// LogStore, or bootstrapping it when the store holds nothing for it and
// cfg.Bootstrap is set.
func (h *Host) AddGroup(cfg GroupConfig) error {
	h.mu.RLock()
	_, ok := h.groups[cfg.ID]
	h.mu.RUnlock()
	if ok {
		return ErrGroupExists
	}
	st, err := h.cfg.LogStore.Storage(cfg.ID)
	if err != nil {
		return err
	}
	rc := cfg.Raft
	rc.Storage = st
	// The host copies a Ready's messages into its routes before Advance and
	// keeps nothing of the array: lending it saves an allocation per Ready
	// (one per group and heartbeat, the bulk of an idle host's garbage).
	// It is the host's Ready, so the application sees no difference.
	rc.LendReadyMessages = !rc.AsyncStorageWrites
	rn, err := raft.NewRawNode(&rc)
	if err != nil {
		return fmt.Errorf("multiraft: group %d: %w", cfg.ID, err)
	}
	if len(cfg.Bootstrap) > 0 {
		last, err := st.LastIndex()
		if err != nil {
			return err
		}
		if last == 0 {
			peers := make([]raft.Peer, len(cfg.Bootstrap))
			for i, id := range cfg.Bootstrap {
				peers[i] = raft.Peer{ID: id}
			}
			if err := rn.Bootstrap(peers); err != nil {
				return fmt.Errorf("multiraft: group %d: %w", cfg.ID, err)
			}
		}
	}
	g := &group{id: cfg.ID, self: rc.ID, rn: rn, replicas: make(replicaSet, 0, len(cfg.Replicas)), electionTick: rc.ElectionTick, awakeIdx: -1}
	for id, host := range cfg.Replicas {
		g.replicas.set(id, host)
	}
	h.mu.Lock()
	if _, ok := h.groups[cfg.ID]; ok {
		h.mu.Unlock()
		return ErrGroupExists
	}
	h.groups[cfg.ID] = g
	g.tickedAt = h.ticks.Load()
	g.idx = len(h.list)
	h.list = append(h.list, g)
	h.addAwakeLocked(g)
	for _, r := range g.replicas {
		if r.id != g.self {
			h.indexLocked(r.host, g)
		}
	}
	n := len(h.list)
	h.mu.Unlock()
	h.stats.groups.Store(int64(n))
	if m := h.cfg.Metrics; m != nil {
		m.Groups(n)
	}
	h.schedule(g)
	return nil
}

func (h *Host) indexLocked(host HostID, g *group) {
	if host == h.cfg.ID || host == 0 {
		return
	}
	m := h.byPeer[host]
	if m == nil {
		m = make(map[GroupID]*group)
		h.byPeer[host] = m
	}
	m[g.id] = g
}

// RemoveGroup drops the group's replica from this host and deletes its
// storage. It waits for a running pass to end; do not call it from Apply.
func (h *Host) RemoveGroup(id GroupID) error {
	h.passMu.Lock()
	defer h.passMu.Unlock()
	h.mu.Lock()
	g := h.groups[id]
	if g == nil {
		h.mu.Unlock()
		return ErrGroupNotFound
	}
	delete(h.groups, id)
	last := h.list[len(h.list)-1]
	h.list[g.idx] = last
	last.idx = g.idx
	h.list[len(h.list)-1] = nil
	h.list = h.list[:len(h.list)-1]
	h.removeAwakeLocked(g)
	for host, m := range h.byPeer {
		delete(m, id)
		if len(m) == 0 {
			delete(h.byPeer, host)
		}
	}
	n := len(h.list)
	h.mu.Unlock()
	g.mu.Lock()
	g.removed = true
	g.inbox = nil
	g.mu.Unlock()
	h.stats.groups.Store(int64(n))
	if m := h.cfg.Metrics; m != nil {
		m.Groups(n)
	}
	return h.cfg.LogStore.Remove(id)
}

// SetReplica places replica id of group g on host (or forgets it, with
// host 0). Call it when a conf change adds or removes a replica.
func (h *Host) SetReplica(gid GroupID, id uint64, host HostID) error {
	g := h.group(gid)
	if g == nil {
		return ErrGroupNotFound
	}
	g.mu.Lock()
	old := g.replicas.get(id)
	g.replicas.set(id, host)
	hosts := make(map[HostID]bool)
	for _, r := range g.replicas {
		if r.id != g.self {
			hosts[r.host] = true
		}
	}
	g.mu.Unlock()
	h.mu.Lock()
	if old != 0 && !hosts[old] {
		if m := h.byPeer[old]; m != nil {
			delete(m, gid)
		}
	}
	if host != 0 && id != g.self {
		h.indexLocked(host, g)
	}
	h.mu.Unlock()
	return nil
}

func (h *Host) group(id GroupID) *group {
	h.mu.RLock()
	g := h.groups[id]
	h.mu.RUnlock()
	return g
}

// withGroup runs f on the group's RawNode under the group's lock and
// schedules the group. A local request wakes a quiet group first.
func (h *Host) withGroup(id GroupID, f func(rn *raft.RawNode) error) error {
	g := h.group(id)
	if g == nil {
		return ErrGroupNotFound
	}
	g.mu.Lock()
	if g.removed {
		g.mu.Unlock()
		return ErrGroupNotFound
	}
	woke := h.wakeLocked(g, WakeLocal, 0)
	g.idle = 0
	if now := h.ticks.Load(); g.tickedAt < now {
		// The group owes ticks (R2a, R2b): they come before the request,
		// as they would have had its tick pass visited it first.
		// Plain ticks: a local request resets the idle count anyway, and
		// quiescing is the tick pass's decision.
		if !g.rn.Quiesced() {
			for i := g.tickedAt; i < now; i++ {
				g.rn.Tick()
			}
		}
		g.tickedAt = now
	}
	err := f(g.rn)
	g.mu.Unlock()
	if woke {
		h.syncAwake(g)
	}
	h.schedule(g)
	return err
}

// Propose proposes data to group g. It returns raft's error, such as
// raft.ErrProposalDropped when the group has no leader to forward to.
func (h *Host) Propose(g GroupID, data []byte) error {
	return h.withGroup(g, func(rn *raft.RawNode) error { return rn.Propose(data) })
}

// ProposeConfChange proposes a configuration change to group g.
func (h *Host) ProposeConfChange(g GroupID, cc pb.ConfChangeI) error {
	return h.withGroup(g, func(rn *raft.RawNode) error { return rn.ProposeConfChange(cc) })
}

// ReadIndex asks group g for a read index; the answer comes through
// HostConfig.ReadStates with the same rctx.
func (h *Host) ReadIndex(g GroupID, rctx []byte) error {
	return h.withGroup(g, func(rn *raft.RawNode) error { rn.ReadIndex(rctx); return nil })
}

// Campaign makes group g's replica start an election.
func (h *Host) Campaign(g GroupID) error {
	return h.withGroup(g, func(rn *raft.RawNode) error { return rn.Campaign() })
}

// TransferLeader asks group g's leader to hand leadership to transferee.
func (h *Host) TransferLeader(g GroupID, transferee uint64) error {
	return h.withGroup(g, func(rn *raft.RawNode) error { rn.TransferLeader(transferee); return nil })
}

// Status returns the status of group g's replica.
func (h *Host) Status(id GroupID) (raft.BasicStatus, error) {
	g := h.group(id)
	if g == nil {
		return raft.BasicStatus{}, ErrGroupNotFound
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rn.BasicStatus(), nil
}

// Quiesced reports whether group g's replica is quiet (off the tick list,
// see HostConfig.Quiescence).
func (h *Host) Quiesced(id GroupID) (bool, error) {
	g := h.group(id)
	if g == nil {
		return false, ErrGroupNotFound
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rn.Quiesced(), nil
}

// Groups returns the number of groups on the host.
func (h *Host) Groups() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.list)
}

// schedule puts g on the next pass.
func (h *Host) schedule(g *group) {
	h.schedMu.Lock()
	if !g.queued {
		g.queued = true
		h.sched = append(h.sched, g)
	}
	h.schedMu.Unlock()
	h.signal()
}

// scheduleAll puts the groups (nil entries skipped) on the next pass; those
// with routine[i] set (only heartbeats to step) on the routine schedule,
// unless the group has other work.
func (h *Host) scheduleAll(gs []*group, routine []bool) {
	queued := false
	h.schedMu.Lock()
	for i, g := range gs {
		if g == nil || g.queued {
			continue
		}
		if i < len(routine) && routine[i] {
			if !g.rqueued {
				g.rqueued = true
				h.rsched = append(h.rsched, g)
				queued = true
			}
			continue
		}
		g.queued = true
		h.sched = append(h.sched, g)
		queued = true
	}
	h.schedMu.Unlock()
	if queued {
		h.signal()
	}
}

func (h *Host) signal() {
	select {
	case h.work <- struct{}{}:
	default:
	}
}

// Tick advances every group's clock by one tick in the next pass.
func (h *Host) Tick() {
	h.schedMu.Lock()
	h.tickPending++
	h.schedMu.Unlock()
	h.signal()
}

// Start runs passes on a goroutine whenever there is work, and ticks every
// TickInterval if set. Stop ends it.
func (h *Host) Start() {
	h.started.Store(true)
	go h.run()
}

func (h *Host) run() {
	defer close(h.done)
	var tick <-chan time.Time
	if h.cfg.TickInterval > 0 {
		t := time.NewTicker(h.cfg.TickInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-h.stop:
			return
		case <-tick:
			h.Tick()
		case <-h.work:
		}
		for {
			did, err := h.Pass()
			if err != nil {
				h.log.Errorf("multiraft: host %d stops: %v", h.cfg.ID, err)
				<-h.stop
				return
			}
			if !did {
				break
			}
			select {
			case <-h.stop:
				return
			default:
			}
		}
	}
}

// Stop ends Start's loop, waits for the running pass and closes the
// transport. The LogStore is left open. The host is not usable after.
func (h *Host) Stop() {
	h.stopOnce.Do(func() {
		close(h.stop)
		if h.started.Load() {
			<-h.done
		}
		h.passMu.Lock()
		h.passErr = ErrStopped
		h.passMu.Unlock()
		h.cfg.Transport.Close()
	})
}

// Err returns the error that stopped the host's passes, if any.
func (h *Host) Err() error {
	h.passMu.Lock()
	defer h.passMu.Unlock()
	return h.passErr
}
