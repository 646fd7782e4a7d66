package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// memberInfo is where a member can be reached. It travels in the Context of
// the conf change that adds the member, and in snapshots.
type memberInfo struct {
	RaftURL   string `json:"raftURL"`
	ClientURL string `json:"clientURL,omitempty"`
}

// memberConfig configures one member of the cluster.
type memberConfig struct {
	// ID is the member's raft ID (not 0).
	ID uint64
	// Peers is the initial cluster, this member included: used to bootstrap
	// a new cluster, and to know the peers' raft URLs before a snapshot or
	// the log tells them.
	Peers map[uint64]memberInfo
	// Join starts the member with empty storage without bootstrapping: it
	// waits for the leader of an existing cluster that has added it.
	Join bool
	// DataDir holds the bbolt file.
	DataDir string
	// RaftListener and ClientListener are the listeners for peers and for
	// clients. RaftURL and ClientURL are the URLs advertised for them; when
	// empty they are derived from the listeners' addresses.
	RaftListener   net.Listener
	ClientListener net.Listener
	RaftURL        string
	ClientURL      string

	// TickInterval is the length of one raft tick; ElectionTicks the
	// election timeout in ticks (the heartbeat is one tick).
	TickInterval  time.Duration
	ElectionTicks int
	// SnapshotCount is the number of applied entries between snapshots;
	// CatchUpEntries the number of entries kept behind a snapshot for
	// followers that lag a little.
	SnapshotCount  uint64
	CatchUpEntries uint64
	// RequestTimeout bounds how long a client request waits for its write
	// to be applied or its read to be confirmed.
	RequestTimeout time.Duration
	// LogOutput receives the member's log; nil means os.Stderr. Verbose
	// adds raft's info-level log.
	LogOutput io.Writer
	Verbose   bool
	// LogFormat selects raft's logger: "zap" (the default) or "slog".
	LogFormat string
	// DeclareLostState says that the data directory lost state the member
	// had persisted where raft cannot see it: it was wiped, restored from
	// a backup, or repaired. The member rejoins quarantined (it neither
	// votes nor campaigns until its log holds a fence) instead of
	// bootstrapping or voting with a log that may lack committed entries.
	DeclareLostState bool
}

func (c *memberConfig) setDefaults() {
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = 1000
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.LogOutput == nil {
		c.LogOutput = os.Stderr
	}
	if c.RaftURL == "" && c.RaftListener != nil {
		c.RaftURL = "http://" + c.RaftListener.Addr().String()
	}
	if c.ClientURL == "" && c.ClientListener != nil {
		c.ClientURL = "http://" + c.ClientListener.Addr().String()
	}
}

// op is one write, as proposed to raft and applied by every member.
type op struct {
	// ID matches the applied entry to the request waiting for it.
	ID    uint64 `json:"id"`
	Kind  string `json:"op"` // opPut or opDelete
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"`
}

const (
	opPut    = "put"
	opDelete = "delete"
)

// snapshotData is what a snapshot holds: the key-value state and where the
// members are, so that a member restored from a snapshot can reach them.
type snapshotData struct {
	KV      map[string][]byte     `json:"kv"`
	Members map[uint64]memberInfo `json:"members"`
	// Removed lists the IDs of removed members: their messages are
	// answered 410 Gone, which tells them they were removed.
	Removed []uint64 `json:"removed,omitempty"`
}

// applyResult is what a waiting request learns when its entry is applied.
type applyResult struct {
	index uint64
	err   error
}

// member is one node of the key-value cluster: a raft.Node, its bbolt
// storage, its transport, the key-value state machine and the HTTP servers.
type member struct {
	cfg       memberConfig
	logger    *log.Logger
	node      raft.Node
	storage   *boltStorage
	transport *transport
	raftSrv   *http.Server
	clientSrv *http.Server
	forward   *http.Client

	// leader and term are the last values seen in a Ready's SoftState and
	// HardState; read without the loop.
	leader atomic.Uint64
	term   atomic.Uint64

	// metrics are raft's counters, served at /metrics.
	metrics *raft.Metrics

	mu        sync.RWMutex // guards the fields below
	kv        map[string][]byte
	members   map[uint64]memberInfo
	confState pb.ConfState
	applied   uint64
	snapIndex uint64
	removed   bool
	// confChanged asks for a snapshot after a membership change: a member
	// that is sent a snapshot must find itself in the snapshot's ConfState.
	confChanged bool
	appliedCh   chan struct{} // closed and replaced whenever applied moves
	clientURLs  map[uint64]string
	removedIDs  map[uint64]bool

	waitMu  sync.Mutex
	writes  map[uint64]chan applyResult // by op or conf change ID
	reads   map[uint64]chan uint64      // by read request ID
	reqBase uint64
	reqSeq  atomic.Uint64

	stopOnce sync.Once
	stopc    chan struct{}
	loopDone chan struct{}
	serveWG  sync.WaitGroup
}

// startMember opens the member's storage, starts (bootstraps, restarts or
// joins) its raft node and serves its two listeners.
func startMember(cfg memberConfig) (*member, error) {
	cfg.setDefaults()
	if cfg.ID == 0 {
		return nil, errors.New("member ID must not be 0")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	st, err := openBoltStorage(filepath.Join(cfg.DataDir, "raft.db"))
	if err != nil {
		return nil, err
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	m := &member{
		cfg:        cfg,
		logger:     log.New(cfg.LogOutput, fmt.Sprintf("kvstore[%d] ", cfg.ID), log.LstdFlags|log.Lmicroseconds),
		storage:    st,
		forward:    &http.Client{Timeout: cfg.RequestTimeout + time.Second},
		kv:         make(map[string][]byte),
		members:    make(map[uint64]memberInfo),
		appliedCh:  make(chan struct{}),
		clientURLs: make(map[uint64]string),
		removedIDs: make(map[uint64]bool),
		writes:     make(map[uint64]chan applyResult),
		reads:      make(map[uint64]chan uint64),
		reqBase:    binary.BigEndian.Uint64(seed[:]),
		stopc:      make(chan struct{}),
		loopDone:   make(chan struct{}),
		metrics:    new(raft.Metrics),
	}
	for id, info := range cfg.Peers {
		m.members[id] = info
	}
	self := m.members[cfg.ID]
	self.RaftURL, self.ClientURL = cfg.RaftURL, cfg.ClientURL
	m.members[cfg.ID] = self

	fresh := st.IsEmpty()
	if snap, _ := st.Snapshot(); !raft.IsEmptySnap(snap) {
		if err := m.restoreState(snap); err != nil {
			st.Close()
			return nil, fmt.Errorf("restore snapshot at %d: %w", snap.Metadata.Index, err)
		}
	}

	rec, err := st.Recovery()
	if err != nil {
		st.Close()
		return nil, err
	}
	if cfg.DeclareLostState {
		// Saved before raft starts, so that a crash before raft reports
		// the quarantine still resumes it without the flag.
		rec = &raft.Recovery{Quarantined: true, Kind: raft.StateLoss, Cause: raft.CauseDeclared}
		if err := st.SaveRecovery(*rec); err != nil {
			st.Close()
			return nil, err
		}
	}
	rc := &raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             1,
		Storage:                   st,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 1 << 30,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    newRaftLogger(cfg),
		Metrics:                   m.metrics,
		// A member whose disk lost what it had acknowledged (an fsync
		// that lied, a wiped or restored directory) rejoins quarantined
		// instead of refusing to start, and the quarantine is saved with
		// the raft state so that a crash resumes it.
		RecoverLostState: true,
		Recovery:         rec,
		OnRecovery: func(r raft.Recovery) {
			if err := st.SaveRecovery(r); err != nil {
				m.logger.Printf("cannot persist the quarantine %+v: %v; stopping", r, err)
				go m.Crash()
			}
		},
	}
	if err := rc.Validate(); err != nil {
		st.Close()
		return nil, err
	}
	switch {
	case fresh && !cfg.Join && !cfg.DeclareLostState:
		ids := make([]uint64, 0, len(m.members))
		for id := range m.members {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		peers := make([]raft.Peer, 0, len(ids))
		for _, id := range ids {
			ctx, _ := json.Marshal(m.members[id])
			peers = append(peers, raft.Peer{ID: id, Context: ctx})
		}
		m.node = raft.StartNode(rc, peers)
		m.logger.Printf("bootstrapped a new cluster of %d member(s)", len(peers))
	case fresh:
		m.node = raft.RestartNode(rc)
		m.logger.Printf("joining an existing cluster")
	default:
		m.node = raft.RestartNode(rc)
		last, _ := st.LastIndex()
		m.logger.Printf("restarted from %s (snapshot at %d, last index %d)", cfg.DataDir, m.snapIndex, last)
	}

	m.transport = newTransport(cfg.ID, cfg.ClientURL, m.node, m.logger)
	m.transport.removedSelf = m.markRemoved
	for id, info := range m.members {
		m.transport.AddPeer(id, info.RaftURL)
		if info.ClientURL != "" {
			m.clientURLs[id] = info.ClientURL
		}
	}

	go m.loop()

	m.raftSrv = &http.Server{Handler: m.raftMux(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: m.logger}
	m.clientSrv = &http.Server{Handler: m.clientMux(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: m.logger}
	m.serve(m.raftSrv, cfg.RaftListener)
	m.serve(m.clientSrv, cfg.ClientListener)
	return m, nil
}

func (m *member) serve(srv *http.Server, l net.Listener) {
	if l == nil {
		return
	}
	m.serveWG.Add(1)
	go func() {
		defer m.serveWG.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.logger.Printf("serve %s: %v", l.Addr(), err)
		}
	}()
}

func (m *member) raftMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(raftPath, &raftHandler{
		id:        m.cfg.ID,
		step:      m.node.Step,
		learn:     m.learnClientURL,
		isRemoved: m.wasRemoved,
	})
	return mux
}

// wasRemoved reports whether member id was removed from the cluster.
func (m *member) wasRemoved(id uint64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.removedIDs[id]
}

// markRemoved records that a peer told this member it was removed: the
// entry that removed it may never reach it, since the others stop sending
// to it once they apply the removal.
func (m *member) markRemoved() {
	m.mu.Lock()
	was := m.removed
	m.removed = true
	m.mu.Unlock()
	if !was {
		m.logger.Printf("a peer reports that this member was removed from the cluster")
	}
}

func (m *member) learnClientURL(id uint64, u string) {
	m.mu.RLock()
	known := m.clientURLs[id] == u
	m.mu.RUnlock()
	if !known {
		m.mu.Lock()
		m.clientURLs[id] = u
		m.mu.Unlock()
	}
}

// newRaftLogger logs raft's warnings and errors (and its info with
// Verbose) through zap to the member's log output.
func newRaftLogger(cfg memberConfig) raft.Logger {
	if cfg.LogFormat == "slog" {
		level := slog.LevelWarn
		if cfg.Verbose {
			level = slog.LevelInfo
		}
		h := slog.NewJSONHandler(cfg.LogOutput, &slog.HandlerOptions{Level: level})
		return raft.NewSlogHandlerLogger(h)
	}
	level := zapcore.WarnLevel
	if cfg.Verbose {
		level = zapcore.InfoLevel
	}
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(cfg.LogOutput), level)
	return raft.NewZapLogger(zap.New(core).Named(fmt.Sprintf("raft[%d]", cfg.ID)))
}

// loop is the Ready loop: persist, send, apply, snapshot, Advance.
func (m *member) loop() {
	defer close(m.loopDone)
	ticker := time.NewTicker(m.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			m.node.Tick()
		case rd := <-m.node.Ready():
			if err := m.handleReady(rd); err != nil {
				m.logger.Printf("stopping: %v", err)
				return
			}
			m.node.Advance()
		case <-m.stopc:
			return
		}
	}
}

func (m *member) handleReady(rd raft.Ready) error {
	if rd.SoftState != nil {
		if old := m.leader.Swap(rd.SoftState.Lead); old != rd.SoftState.Lead {
			m.logger.Printf("leader is now %d (this member is %s)", rd.SoftState.Lead, rd.SoftState.RaftState)
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		m.term.Store(rd.HardState.Term)
	}
	// 1. Persist, in one bbolt transaction: durable (fsync) when Save
	// returns, so it is safe to send every message afterwards.
	if err := m.storage.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
		return fmt.Errorf("persist ready: %w", err)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := m.restoreState(rd.Snapshot); err != nil {
			return fmt.Errorf("install snapshot at %d: %w", rd.Snapshot.Metadata.Index, err)
		}
		m.logger.Printf("installed snapshot at index %d", rd.Snapshot.Metadata.Index)
	}
	// 2. Send.
	m.transport.Send(rd.Messages)
	// 3. Answer reads and apply.
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) == 8 {
			m.notifyRead(binary.BigEndian.Uint64(rs.RequestCtx), rs.Index)
		}
	}
	if err := m.apply(rd.CommittedEntries); err != nil {
		return err
	}
	m.maybeSnapshot()
	return nil
}

// restoreState replaces the state machine with the snapshot's content.
func (m *member) restoreState(snap pb.Snapshot) error {
	var data snapshotData
	if err := json.Unmarshal(snap.Data, &data); err != nil {
		return fmt.Errorf("decode snapshot data: %w", err)
	}
	if data.KV == nil {
		data.KV = make(map[string][]byte)
	}
	m.mu.Lock()
	m.kv = data.KV
	for id, info := range data.Members {
		m.members[id] = info
	}
	for id := range m.members {
		if _, ok := data.Members[id]; !ok && len(data.Members) > 0 {
			delete(m.members, id)
		}
	}
	for _, id := range data.Removed {
		m.removedIDs[id] = true
	}
	m.confState = snap.Metadata.ConfState
	m.applied = snap.Metadata.Index
	m.snapIndex = snap.Metadata.Index
	m.removed = m.removedIDs[m.cfg.ID]
	close(m.appliedCh)
	m.appliedCh = make(chan struct{})
	members := copyMembers(m.members)
	m.mu.Unlock()
	if m.transport != nil {
		for id, info := range members {
			m.transport.AddPeer(id, info.RaftURL)
		}
	}
	return nil
}

func inConf(cs pb.ConfState, id uint64) bool {
	for _, ids := range [][]uint64{cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext} {
		for _, v := range ids {
			if v == id {
				return true
			}
		}
	}
	return false
}

func copyMembers(in map[uint64]memberInfo) map[uint64]memberInfo {
	out := make(map[uint64]memberInfo, len(in))
	for id, info := range in {
		out[id] = info
	}
	return out
}

// apply applies committed entries in order and wakes the requests that wait
// for them.
func (m *member) apply(ents []pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	for i := range ents {
		e := &ents[i]
		m.mu.RLock()
		applied := m.applied
		m.mu.RUnlock()
		if e.Index <= applied {
			continue // covered by a snapshot installed meanwhile
		}
		switch e.Type {
		case pb.EntryNormal:
			m.applyNormal(e)
		case pb.EntryConfChange:
			var cc pb.ConfChange
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("decode conf change at %d: %w", e.Index, err)
			}
			m.applyConfChange(e.Index, cc, cc.ID)
		case pb.EntryConfChangeV2:
			var cc pb.ConfChangeV2
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("decode conf change at %d: %w", e.Index, err)
			}
			m.applyConfChange(e.Index, cc, 0)
		}
	}
	m.mu.Lock()
	if last := ents[len(ents)-1].Index; last > m.applied {
		m.applied = last
	}
	close(m.appliedCh)
	m.appliedCh = make(chan struct{})
	m.mu.Unlock()
	return nil
}

func (m *member) applyNormal(e *pb.Entry) {
	if len(e.Data) == 0 {
		m.setApplied(e.Index)
		return // a new leader's empty entry
	}
	var o op
	if err := json.Unmarshal(e.Data, &o); err != nil {
		// Only this program proposes, so this is not expected; skipping
		// keeps every member in the same state.
		m.logger.Printf("skipping undecodable entry %d: %v", e.Index, err)
		m.setApplied(e.Index)
		return
	}
	m.mu.Lock()
	switch o.Kind {
	case opPut:
		m.kv[o.Key] = o.Value
	case opDelete:
		delete(m.kv, o.Key)
	}
	m.applied = e.Index
	m.mu.Unlock()
	m.notifyWrite(o.ID, applyResult{index: e.Index})
}

func (m *member) setApplied(i uint64) {
	m.mu.Lock()
	m.applied = i
	m.mu.Unlock()
}

func (m *member) applyConfChange(index uint64, cc pb.ConfChangeI, reqID uint64) {
	cs := m.node.ApplyConfChange(cc)
	v2 := cc.AsV2()
	m.mu.Lock()
	m.confState = *cs
	var added map[uint64]string
	var removed []uint64
	for _, c := range v2.Changes {
		switch c.Type {
		case pb.ConfChangeAddNode, pb.ConfChangeAddLearnerNode:
			var info memberInfo
			if len(v2.Context) > 0 && json.Unmarshal(v2.Context, &info) == nil && info.RaftURL != "" {
				if old, ok := m.members[c.NodeID]; ok && info.ClientURL == "" {
					info.ClientURL = old.ClientURL
				}
				m.members[c.NodeID] = info
				if info.ClientURL != "" && m.clientURLs[c.NodeID] == "" {
					m.clientURLs[c.NodeID] = info.ClientURL
				}
				if added == nil {
					added = make(map[uint64]string)
				}
				added[c.NodeID] = info.RaftURL
			}
		case pb.ConfChangeRemoveNode:
			delete(m.members, c.NodeID)
			delete(m.clientURLs, c.NodeID)
			m.removedIDs[c.NodeID] = true
			removed = append(removed, c.NodeID)
		}
	}
	// A member replaying the log from before it joined is not in the
	// earlier configurations: only its own removal counts.
	self := m.removedIDs[m.cfg.ID] && !m.removed
	m.removed = m.removed || self
	m.confChanged = true
	m.applied = index
	m.mu.Unlock()
	for id, u := range added {
		m.transport.AddPeer(id, u)
	}
	for _, id := range removed {
		m.transport.RemovePeer(id)
	}
	if self {
		m.logger.Printf("this member was removed from the cluster at index %d", index)
	}
	if reqID != 0 {
		m.notifyWrite(reqID, applyResult{index: index})
	}
}

// maybeSnapshot takes a snapshot every SnapshotCount applied entries, and
// after every membership change, and compacts the log behind it, keeping
// CatchUpEntries entries.
func (m *member) maybeSnapshot() {
	m.mu.RLock()
	applied, snapIndex := m.applied, m.snapIndex
	if applied == snapIndex || (applied-snapIndex < m.cfg.SnapshotCount && !m.confChanged) {
		m.mu.RUnlock()
		return
	}
	sd := snapshotData{KV: m.kv, Members: m.members}
	for id := range m.removedIDs {
		sd.Removed = append(sd.Removed, id)
	}
	data, err := json.Marshal(sd)
	cs := m.confState
	m.mu.RUnlock()
	if err != nil {
		m.logger.Printf("encode snapshot: %v", err)
		return
	}
	if _, err := m.storage.CreateSnapshot(applied, &cs, data); err != nil {
		if !errors.Is(err, raft.ErrSnapOutOfDate) {
			m.logger.Printf("create snapshot at %d: %v", applied, err)
		}
		return
	}
	m.mu.Lock()
	m.snapIndex = applied
	m.confChanged = false
	m.mu.Unlock()
	if applied > m.cfg.CatchUpEntries {
		compact := applied - m.cfg.CatchUpEntries
		first, _ := m.storage.FirstIndex()
		if compact >= first {
			if err := m.storage.Compact(compact); err != nil && !errors.Is(err, raft.ErrCompacted) {
				m.logger.Printf("compact log to %d: %v", compact, err)
			}
		}
	}
}

// nextID returns an ID unique to this process run; the random base keeps
// IDs of different members and runs apart.
func (m *member) nextID() uint64 {
	id := m.reqBase + m.reqSeq.Add(1)
	if id == 0 {
		id = m.reqBase + m.reqSeq.Add(1)
	}
	return id
}

func (m *member) registerWrite(id uint64) chan applyResult {
	ch := make(chan applyResult, 1)
	m.waitMu.Lock()
	m.writes[id] = ch
	m.waitMu.Unlock()
	return ch
}

func (m *member) notifyWrite(id uint64, res applyResult) {
	m.waitMu.Lock()
	ch, ok := m.writes[id]
	delete(m.writes, id)
	m.waitMu.Unlock()
	if ok {
		ch <- res
	}
}

func (m *member) registerRead(id uint64) chan uint64 {
	ch := make(chan uint64, 1)
	m.waitMu.Lock()
	m.reads[id] = ch
	m.waitMu.Unlock()
	return ch
}

func (m *member) notifyRead(id, index uint64) {
	m.waitMu.Lock()
	ch, ok := m.reads[id]
	delete(m.reads, id)
	m.waitMu.Unlock()
	if ok {
		ch <- index
	}
}

func (m *member) forget(id uint64) {
	m.waitMu.Lock()
	delete(m.writes, id)
	delete(m.reads, id)
	m.waitMu.Unlock()
}

// waitApplied waits until the applied index reaches index.
func (m *member) waitApplied(ctx context.Context, index uint64) error {
	for {
		m.mu.RLock()
		applied, ch := m.applied, m.appliedCh
		m.mu.RUnlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-m.stopc:
			return errStopping
		}
	}
}

var errStopping = errors.New("member is shutting down")

// Stop shuts the member down cleanly: pending requests are answered, the
// HTTP servers drain, the node stops and the storage is closed.
func (m *member) Stop() {
	m.stop(true)
}

// Crash stops the member abruptly, as close to kill -9 as one process can
// get: connections are cut, the loop stops between two Readys wherever it
// is, nothing is flushed beyond what each Ready already made durable.
func (m *member) Crash() {
	m.stop(false)
}

func (m *member) stop(graceful bool) {
	m.stopOnce.Do(func() {
		close(m.stopc)
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = m.clientSrv.Shutdown(ctx)
			_ = m.raftSrv.Shutdown(ctx)
			cancel()
		} else {
			_ = m.clientSrv.Close()
			_ = m.raftSrv.Close()
		}
		<-m.loopDone
		m.node.Stop()
		m.transport.Stop()
		m.serveWG.Wait()
		if err := m.storage.Close(); err != nil {
			m.logger.Printf("close storage: %v", err)
		}
	})
}
