package raft

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ndConfig is the configuration of the nodes of these tests.
func ndConfig(id uint64, s Storage) *Config {
	return &Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         s,
		MaxSizePerMsg:   noLimit,
		MaxInflightMsgs: 256,
		Logger:          discardLogger,
	}
}

// ndMember is the application side of one Node: a Ready loop that
// persists to a MemoryStorage, sends through a transport and applies, as
// the Ready contract asks. In asynchronous storage mode the loop hands the
// storage messages to an append and an apply worker instead.
type ndMember struct {
	t       testing.TB
	id      uint64
	node    Node
	storage *MemoryStorage
	async   bool
	send    func(pb.Message)

	mu         sync.Mutex
	applied    []pb.Entry // every committed entry applied, in order
	readStates []ReadState
	confStates []pb.ConfState

	stopc chan struct{}
	wg    sync.WaitGroup
}

// startNdMember runs the Ready loop (and the workers) of n until the test
// ends; it then stops the loop and the node.
func startNdMember(t testing.TB, id uint64, n Node, s *MemoryStorage, async bool, send func(pb.Message)) *ndMember {
	m := &ndMember{t: t, id: id, node: n, storage: s, async: async, send: send, stopc: make(chan struct{})}
	if send == nil {
		m.send = func(pb.Message) {}
	}
	appendc := make(chan pb.Message, 64)
	applyc := make(chan pb.Message, 64)
	m.wg.Add(1)
	go m.readyLoop(appendc, applyc)
	if async {
		m.wg.Add(2)
		go m.worker(appendc, m.persist)
		go m.worker(applyc, func(msg pb.Message) { m.apply(msg.Entries) })
	}
	t.Cleanup(func() {
		close(m.stopc)
		m.wg.Wait()
		n.Stop()
	})
	return m
}

func (m *ndMember) readyLoop(appendc, applyc chan<- pb.Message) {
	defer m.wg.Done()
	for {
		select {
		case rd := <-m.node.Ready():
			if m.async {
				// Only the messages matter: the storage ones go to the
				// workers, in order, the others to the network.
				for _, msg := range rd.Messages {
					switch msg.To {
					case LocalAppendThread:
						m.handoff(appendc, msg)
					case LocalApplyThread:
						m.handoff(applyc, msg)
					default:
						m.send(msg)
					}
				}
				m.collect(rd)
				continue
			}
			if !IsEmptySnap(rd.Snapshot) {
				assert.NoError(m.t, m.storage.ApplySnapshot(rd.Snapshot))
			}
			assert.NoError(m.t, m.storage.Append(rd.Entries))
			if !IsEmptyHardState(rd.HardState) {
				assert.NoError(m.t, m.storage.SetHardState(rd.HardState))
			}
			for _, msg := range rd.Messages {
				m.send(msg)
			}
			m.apply(rd.CommittedEntries)
			m.collect(rd)
			m.node.Advance()
		case <-m.stopc:
			return
		}
	}
}

// handoff queues msg for a worker, unless the member is stopping.
func (m *ndMember) handoff(c chan<- pb.Message, msg pb.Message) {
	select {
	case c <- msg:
	case <-m.stopc:
	}
}

func (m *ndMember) collect(rd Ready) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readStates = append(m.readStates, rd.ReadStates...)
}

// worker does the work of each storage message, then delivers its
// responses: to this node through Step, to peers through the transport.
func (m *ndMember) worker(c <-chan pb.Message, work func(pb.Message)) {
	defer m.wg.Done()
	for {
		select {
		case msg := <-c:
			work(msg)
			for _, resp := range msg.Responses {
				if resp.To == m.id {
					assert.NoError(m.t, ignoreStopped(m.node.Step(context.Background(), resp)))
				} else {
					m.send(resp)
				}
			}
		case <-m.stopc:
			return
		}
	}
}

// persist writes what a MsgStorageAppend carries.
func (m *ndMember) persist(msg pb.Message) {
	if msg.Snapshot != nil {
		assert.NoError(m.t, m.storage.ApplySnapshot(*msg.Snapshot))
	}
	assert.NoError(m.t, m.storage.Append(msg.Entries))
	if hs := (pb.HardState{Term: msg.Term, Vote: msg.Vote, Commit: msg.Commit}); !IsEmptyHardState(hs) {
		assert.NoError(m.t, m.storage.SetHardState(hs))
	}
}

func (m *ndMember) apply(ents []pb.Entry) {
	for _, e := range ents {
		if e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2 {
			cc, err := decodeConfChange(e)
			assert.NoError(m.t, err)
			cs := m.node.ApplyConfChange(cc)
			m.mu.Lock()
			m.confStates = append(m.confStates, *cs)
			m.mu.Unlock()
		}
		m.mu.Lock()
		m.applied = append(m.applied, e)
		m.mu.Unlock()
	}
}

// appliedData returns the payloads of the normal non-empty entries applied.
func (m *ndMember) appliedData() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.applied {
		if e.Type == pb.EntryNormal && len(e.Data) > 0 {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// appliedLog renders the applied entries for comparison.
func (m *ndMember) appliedLog() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.applied))
	for i, e := range m.applied {
		out[i] = DescribeEntry(e, nil)
	}
	return out
}

func (m *ndMember) snapshotReadStates() []ReadState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ReadState(nil), m.readStates...)
}

func ignoreStopped(err error) error {
	if err == ErrStopped {
		return nil
	}
	return err
}

// waitFor polls cond until it holds, failing the test after a few seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// campaignWhenApplied makes n campaign once it applied the bootstrap conf
// changes: a node with committed conf changes not yet applied refuses to.
func campaignWhenApplied(t testing.TB, n Node) {
	t.Helper()
	waitFor(t, "the bootstrap entries to apply", func() bool {
		st := n.Status()
		return st.Applied == st.Commit
	})
	require.NoError(t, n.Campaign(context.Background()))
}

// startSingleLeader starts a one-voter Node, runs its Ready loop and makes
// it leader.
func startSingleLeader(t *testing.T, configure func(*Config)) *ndMember {
	s := NewMemoryStorage()
	cfg := ndConfig(1, s)
	if configure != nil {
		configure(cfg)
	}
	n := StartNode(cfg, []Peer{{ID: 1}})
	m := startNdMember(t, 1, n, s, cfg.AsyncStorageWrites, nil)
	campaignWhenApplied(t, n)
	waitFor(t, "leadership", func() bool { return n.Status().RaftState == StateLeader })
	// Let the leader's empty entry (index 2) commit and apply, so that the
	// tests start from a node at rest.
	waitFor(t, "the leader's first entry to apply", func() bool { return n.Status().Applied == 2 })
	return m
}

func TestNodeSingleVoterProposesAndCommits(t *testing.T) {
	m := startSingleLeader(t, nil)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		require.NoError(t, m.node.Propose(ctx, []byte(fmt.Sprintf("v%d", i))))
	}
	waitFor(t, "the proposals to apply", func() bool { return len(m.appliedData()) == 3 })
	assert.Equal(t, []string{"v0", "v1", "v2"}, m.appliedData())

	st := m.node.Status()
	assert.Equal(t, uint64(1), st.Lead)
	assert.Equal(t, uint64(2), st.Term)
	// 1 bootstrap entry, the leader's empty entry, 3 proposals.
	assert.Equal(t, uint64(5), st.Commit)
	waitFor(t, "the applied index", func() bool { return m.node.Status().Applied == 5 })
	last, err := m.storage.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), last)
}

func TestNodeProposeBlocksWithoutLeaderUntilContextDone(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	startNdMember(t, 1, n, s, false, nil)

	for name, propose := range map[string]func(context.Context) error{
		"Propose": func(ctx context.Context) error { return n.Propose(ctx, []byte("x")) },
		"ProposeConfChange": func(ctx context.Context) error {
			return n.ProposeConfChange(ctx, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4})
		},
		"Step(MsgProp)": func(ctx context.Context) error {
			return n.Step(ctx, pb.Message{Type: pb.MsgProp, From: 2, Entries: []pb.Entry{{Data: []byte("x")}}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := propose(ctx)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.GreaterOrEqual(t, time.Since(start), 25*time.Millisecond)
		})
	}
	last, err := s.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(3), last, "nothing was appended beyond the bootstrap entries")
}

func TestNodeStopMakesCallsReturnErrStopped(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}})
	n.Stop()
	n.Stop() // idempotent

	ctx := context.Background()
	assert.ErrorIs(t, n.Propose(ctx, []byte("x")), ErrStopped)
	assert.ErrorIs(t, n.ProposeConfChange(ctx, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}), ErrStopped)
	assert.ErrorIs(t, n.Campaign(ctx), ErrStopped)
	assert.ErrorIs(t, n.Step(ctx, pb.Message{Type: pb.MsgHeartbeat, From: 2, Term: 1}), ErrStopped)
	assert.ErrorIs(t, n.ReadIndex(ctx, []byte("r")), ErrStopped)
	assert.ErrorIs(t, n.ForgetLeader(ctx), ErrStopped)
	assert.Equal(t, Status{}, n.Status())
	assert.Equal(t, &pb.ConfState{}, n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}))

	// The calls without a result return at once.
	n.Tick()
	n.Advance()
	n.TransferLeadership(ctx, 1, 2)
	n.ReportUnreachable(1)
	n.ReportSnapshot(1, SnapshotFinish)
	select {
	case <-n.Ready():
		t.Fatal("a stopped node offered a Ready")
	default:
	}
}

func TestNodeStopWaitsForConcurrentCallers(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}, {ID: 2}})
	// No leader: the proposal blocks until Stop.
	errc := make(chan error, 1)
	go func() { errc <- n.Propose(context.Background(), []byte("x")) }()
	time.Sleep(5 * time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); n.Stop() }()
	}
	wg.Wait()
	assert.ErrorIs(t, <-errc, ErrStopped)
}

func TestNodeBlockingCallsHonourTheirContext(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}})
	defer n.Stop()
	// Nobody reads Ready, but the loop still serves requests: enqueuing
	// calls succeed, and a cancelled context wins only when the call
	// would block.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, n.Propose(ctx, []byte("x")), context.Canceled)
	for _, err := range []error{n.Campaign(ctx), n.ReadIndex(ctx, nil), n.ForgetLeader(ctx)} {
		if err != nil {
			assert.ErrorIs(t, err, context.Canceled)
		}
	}
}

func TestNodeStepIgnoresLocalMessages(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}})
	startNdMember(t, 1, n, s, false, nil)
	ctx := context.Background()
	for _, typ := range []pb.MessageType{pb.MsgHup, pb.MsgBeat, pb.MsgCheckQuorum, pb.MsgUnreachable, pb.MsgSnapStatus, pb.MsgStorageAppend, pb.MsgStorageApplyResp} {
		assert.NoError(t, n.Step(ctx, pb.Message{Type: typ, From: 1}), "%s", typ)
	}
	// A MsgHup stepped into a single voter would have made it campaign.
	assert.Equal(t, StateFollower, n.Status().RaftState)
}

func TestNodeDropsResponsesFromUnknownPeers(t *testing.T) {
	m := startSingleLeader(t, nil)
	before := m.node.Status()
	ctx := context.Background()
	for _, typ := range []pb.MessageType{pb.MsgAppResp, pb.MsgHeartbeatResp, pb.MsgVoteResp, pb.MsgReadIndexResp} {
		assert.NoError(t, m.node.Step(ctx, pb.Message{Type: typ, From: 99, To: 1, Term: before.Term, Index: 100}), "%s", typ)
	}
	after := m.node.Status()
	assert.Equal(t, before.BasicStatus, after.BasicStatus)
	assert.NotContains(t, after.Progress, uint64(99))
}

func TestNodeReadIndexReturnsReadState(t *testing.T) {
	m := startSingleLeader(t, nil)
	ctx := context.Background()
	require.NoError(t, m.node.Propose(ctx, []byte("v")))
	waitFor(t, "the proposal to apply", func() bool { return len(m.appliedData()) == 1 })

	require.NoError(t, m.node.ReadIndex(ctx, []byte("read-1")))
	waitFor(t, "the read state", func() bool { return len(m.snapshotReadStates()) == 1 })
	rs := m.snapshotReadStates()[0]
	assert.Equal(t, []byte("read-1"), rs.RequestCtx)
	assert.Equal(t, m.node.Status().Commit, rs.Index)
}

func TestNodeApplyConfChangeAddsNode(t *testing.T) {
	m := startSingleLeader(t, nil)
	ctx := context.Background()
	require.NoError(t, m.node.ProposeConfChange(ctx, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 2}))
	waitFor(t, "the conf change to apply", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.confStates) == 2 // the bootstrap one and ours
	})
	m.mu.Lock()
	cs := m.confStates[1]
	m.mu.Unlock()
	assert.Equal(t, pb.ConfState{Voters: []uint64{1}, Learners: []uint64{2}}, cs)

	st := m.node.Status()
	assert.Contains(t, st.Config.Learners, uint64(2))
	assert.Contains(t, st.Progress, uint64(2))
	assert.True(t, st.Progress[2].IsLearner)

	// A nil conf change reports the configuration without changing it.
	assert.Equal(t, &cs, m.node.ApplyConfChange(nil))
}

func TestNodeStopsTakingProposalsAfterItsRemoval(t *testing.T) {
	m := startSingleLeader(t, nil)
	ctx := context.Background()
	require.NoError(t, m.node.ProposeConfChange(ctx, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}))
	waitFor(t, "node 2 to join", func() bool { return len(m.node.Status().Config.Voters[0]) == 2 })
	// With two voters and only one alive, nothing commits any more; remove
	// node 1 through ApplyConfChange directly, as if it had committed.
	cs := m.node.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1})
	assert.Equal(t, []uint64{2}, cs.Voters)

	ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, m.node.Propose(ctx, []byte("x")), context.DeadlineExceeded)
}

// ndPersist persists what rd carries into s, as a Ready loop does before
// it sends and applies.
func ndPersist(t *testing.T, s *MemoryStorage, rd Ready) {
	t.Helper()
	if !IsEmptyHardState(rd.HardState) {
		require.NoError(t, s.SetHardState(rd.HardState))
	}
	require.NoError(t, s.Append(rd.Entries))
}

// ndReceive returns the next Ready of n, failing the test after a second.
func ndReceive(t *testing.T, n Node) Ready {
	t.Helper()
	select {
	case rd := <-n.Ready():
		return rd
	case <-time.After(time.Second):
		t.Fatal("no Ready offered")
		return Ready{}
	}
}

// ndHandle persists, applies and advances the Readies of n until cond holds.
func ndHandle(t *testing.T, n Node, s *MemoryStorage, cond func() bool) {
	t.Helper()
	for !cond() {
		rd := ndReceive(t, n)
		ndPersist(t, s, rd)
		for _, e := range rd.CommittedEntries {
			if e.Type == pb.EntryConfChange {
				var cc pb.ConfChange
				require.NoError(t, cc.Unmarshal(e.Data))
				n.ApplyConfChange(cc)
			}
		}
		n.Advance()
	}
}

func TestNodeOffersNoReadyUntilAdvance(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	defer n.Stop()
	rd := ndReceive(t, n) // the bootstrap entries
	ndPersist(t, s, rd)

	// A leader's heartbeat is stepped at once, though the application
	// still holds the first Ready...
	require.NoError(t, n.Step(context.Background(), pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 5}))
	st := n.Status()
	assert.Equal(t, uint64(2), st.Lead)
	assert.Equal(t, uint64(5), st.Term)
	// ...but what it produced waits for Advance.
	select {
	case <-n.Ready():
		t.Fatal("a second Ready was offered before Advance")
	case <-time.After(20 * time.Millisecond):
	}
	n.Advance()
	rd = ndReceive(t, n)
	assert.Equal(t, uint64(5), rd.HardState.Term)
	require.Len(t, rd.Messages, 1)
	assert.Equal(t, pb.MsgHeartbeatResp, rd.Messages[0].Type)
	assert.Equal(t, uint64(2), rd.Messages[0].To)
}

func TestNodeKeepsSteppingWhileAReadyIsHeld(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}})
	defer n.Stop()
	ctx := context.Background()
	ndHandle(t, n, s, func() bool { return n.Status().Applied >= 1 })
	require.NoError(t, n.Campaign(ctx))
	ndHandle(t, n, s, func() bool { return n.Status().Applied == 2 }) // the leader's empty entry

	require.NoError(t, n.Propose(ctx, []byte("v0")))
	rd := ndReceive(t, n)
	ndPersist(t, s, rd)
	// While the application holds this Ready, proposals and ticks are
	// stepped at once: none waits for the Ready loop and none is lost.
	for i := 1; i <= 3; i++ {
		require.NoError(t, n.Propose(ctx, []byte(fmt.Sprintf("v%d", i))))
	}
	for i := 0; i < 500; i++ {
		n.Tick()
	}
	n.Advance()

	rd = ndReceive(t, n)
	var data, committed []string
	for _, e := range rd.Entries {
		data = append(data, string(e.Data))
	}
	for _, e := range rd.CommittedEntries {
		committed = append(committed, string(e.Data))
	}
	assert.Equal(t, []string{"v1", "v2", "v3"}, data, "the next Ready carries them in one batch")
	assert.Equal(t, []string{"v0"}, committed)
	ndPersist(t, s, rd)
	n.Advance()
	n.Advance() // with no Ready outstanding, Advance does nothing
}

func TestNodeTicksWhileAReadyIsHeld(t *testing.T) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	defer n.Stop()
	ndHandle(t, n, s, func() bool { return n.Status().Applied == 3 })
	require.NoError(t, n.Step(context.Background(), pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 2}))
	rd := ndReceive(t, n)
	ndPersist(t, s, rd)
	// Held Ready; the leader falls silent. More ticks than any buffer
	// would hold: each one counts, and the election timeout fires.
	for i := 0; i < 300; i++ {
		n.Tick()
	}
	st := n.Status()
	assert.Equal(t, StateCandidate, st.RaftState)
	assert.Greater(t, st.Term, uint64(2))
	n.Advance()
}

func TestStartNodePanicsOnBadInput(t *testing.T) {
	assert.PanicsWithValue(t, "raft: StartNode needs at least one peer; use RestartNode to start from existing storage", func() {
		StartNode(ndConfig(1, NewMemoryStorage()), nil)
	})
	bad := ndConfig(0, NewMemoryStorage())
	want := bad.Validate()
	require.Error(t, want)
	assert.PanicsWithValue(t, want.Error(), func() { StartNode(bad, []Peer{{ID: 1}}) })
	assert.PanicsWithValue(t, want.Error(), func() { RestartNode(bad) })
}

func TestStartNodeLogsBootstrapErrorAndRestarts(t *testing.T) {
	// Storage that already holds a log: Bootstrap refuses, the node starts
	// from the storage.
	s := NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 5, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1}},
	}}))
	require.NoError(t, s.SetHardState(pb.HardState{Term: 2, Commit: 5}))
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}})
	defer n.Stop()
	st := n.Status()
	assert.Equal(t, uint64(5), st.Commit)
	assert.Equal(t, uint64(2), st.Term)
}

func TestRestartNodeResumesFromStorage(t *testing.T) {
	s := NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1}},
	}}))
	require.NoError(t, s.Append([]pb.Entry{{Term: 1, Index: 2, Data: []byte("a")}, {Term: 1, Index: 3, Data: []byte("b")}}))
	require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 3}))

	n := RestartNode(ndConfig(1, s))
	m := startNdMember(t, 1, n, s, false, nil)
	waitFor(t, "the stored entries to apply", func() bool { return len(m.appliedData()) == 2 })
	assert.Equal(t, []string{"a", "b"}, m.appliedData())
}

func TestNodeAsyncStorageWrites(t *testing.T) {
	m := startSingleLeader(t, func(c *Config) { c.AsyncStorageWrites = true })
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		require.NoError(t, m.node.Propose(ctx, []byte(fmt.Sprintf("a%d", i))))
	}
	waitFor(t, "the proposals to apply", func() bool { return len(m.appliedData()) == 5 })
	assert.Equal(t, []string{"a0", "a1", "a2", "a3", "a4"}, m.appliedData())
	// Advance is ignored in asynchronous mode, and does not block.
	m.node.Advance()

	last, err := m.storage.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(7), last)
	hs, _, err := m.storage.InitialState()
	require.NoError(t, err)
	assert.Equal(t, uint64(2), hs.Term)
	waitFor(t, "the applied index", func() bool { return m.node.Status().Applied == 7 })
}

// ndNetwork connects Nodes through Step, round-tripping each message through
// its wire encoding.
type ndNetwork struct {
	t       testing.TB
	mu      sync.Mutex
	members map[uint64]*ndMember
}

func (nw *ndNetwork) send(msg pb.Message) {
	nw.mu.Lock()
	dst := nw.members[msg.To]
	nw.mu.Unlock()
	if dst == nil {
		return
	}
	b, err := msg.Marshal()
	assert.NoError(nw.t, err)
	var got pb.Message
	assert.NoError(nw.t, got.Unmarshal(b))
	assert.NoError(nw.t, ignoreStopped(dst.node.Step(context.Background(), got)))
}

func startNdCluster(t *testing.T, n int, async bool) map[uint64]*ndMember {
	nw := &ndNetwork{t: t, members: make(map[uint64]*ndMember)}
	var peers []Peer
	for id := uint64(1); id <= uint64(n); id++ {
		peers = append(peers, Peer{ID: id})
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for _, p := range peers {
		s := NewMemoryStorage()
		cfg := ndConfig(p.ID, s)
		cfg.DisableProposalForwarding = true
		cfg.AsyncStorageWrites = async
		nw.members[p.ID] = startNdMember(t, p.ID, StartNode(cfg, peers), s, async, nw.send)
	}
	return nw.members
}

// rawCluster drives RawNodes in one goroutine, in lock step.
type rawCluster struct {
	t       testing.TB
	nodes   map[uint64]*RawNode
	stores  map[uint64]*MemoryStorage
	applied map[uint64][]string
	msgs    []pb.Message
}

func newRawCluster(t testing.TB, n int, configure func(*Config)) *rawCluster {
	c := &rawCluster{t: t, nodes: map[uint64]*RawNode{}, stores: map[uint64]*MemoryStorage{}, applied: map[uint64][]string{}}
	var peers []Peer
	for id := uint64(1); id <= uint64(n); id++ {
		peers = append(peers, Peer{ID: id})
	}
	for _, p := range peers {
		s := NewMemoryStorage()
		cfg := ndConfig(p.ID, s)
		if configure != nil {
			configure(cfg)
		}
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		require.NoError(t, rn.Bootstrap(peers))
		c.nodes[p.ID], c.stores[p.ID] = rn, s
	}
	return c
}

func (c *rawCluster) stabilize() {
	for moved := true; moved; {
		moved = false
		for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
			rn := c.nodes[id]
			if !rn.HasReady() {
				continue
			}
			moved = true
			rd := rn.Ready()
			require.NoError(c.t, c.stores[id].Append(rd.Entries))
			if !IsEmptyHardState(rd.HardState) {
				require.NoError(c.t, c.stores[id].SetHardState(rd.HardState))
			}
			c.msgs = append(c.msgs, rd.Messages...)
			for _, e := range rd.CommittedEntries {
				if e.Type != pb.EntryNormal {
					cc, err := decodeConfChange(e)
					require.NoError(c.t, err)
					rn.ApplyConfChange(cc)
				}
				c.applied[id] = append(c.applied[id], DescribeEntry(e, nil))
			}
			rn.Advance(rd)
		}
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			moved = true
			_ = c.nodes[m.To].Step(m)
		}
	}
}

func TestNodeClusterAndRawNodeClusterCommitTheSameLog(t *testing.T) {
	const proposals = 20
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			ctx := context.Background()
			members := startNdCluster(t, 3, async)
			campaignWhenApplied(t, members[1].node)
			waitFor(t, "node 1 to lead", func() bool { return members[1].node.Status().RaftState == StateLeader })
			for i := 0; i < proposals; i++ {
				require.NoError(t, members[1].node.Propose(ctx, []byte(fmt.Sprintf("p%d", i))))
			}
			// 3 bootstrap entries, the leader's empty entry, the proposals.
			const last = 3 + 1 + proposals
			for id, m := range members {
				waitFor(t, fmt.Sprintf("node %d to apply", id), func() bool { return len(m.appliedLog()) == last })
			}

			raw := newRawCluster(t, 3, nil)
			raw.stabilize() // apply the bootstrap entries
			require.NoError(t, raw.nodes[1].Campaign())
			raw.stabilize()
			for i := 0; i < proposals; i++ {
				require.NoError(t, raw.nodes[1].Propose([]byte(fmt.Sprintf("p%d", i))))
				raw.stabilize()
			}
			want := raw.applied[1]
			require.Len(t, want, last)
			for id := uint64(1); id <= 3; id++ {
				assert.Equal(t, want, raw.applied[id], "raw node %d", id)
				assert.Equal(t, want, members[id].appliedLog(), "node %d", id)
			}

			// A follower that may not forward proposals refuses them, and
			// Propose reports it.
			assert.ErrorIs(t, members[2].node.Propose(ctx, []byte("x")), ErrProposalDropped)
		})
	}
}

func TestNodeTransferLeadership(t *testing.T) {
	ctx := context.Background()
	members := startNdCluster(t, 3, false)
	campaignWhenApplied(t, members[1].node)
	waitFor(t, "node 1 to lead", func() bool { return members[1].node.Status().RaftState == StateLeader })
	require.NoError(t, members[1].node.Propose(ctx, []byte("x")))
	waitFor(t, "node 3 to catch up", func() bool { return len(members[3].appliedData()) == 1 })

	members[1].node.TransferLeadership(ctx, 1, 3)
	waitFor(t, "node 3 to lead", func() bool { return members[3].node.Status().RaftState == StateLeader })
	waitFor(t, "node 1 to follow", func() bool { return members[1].node.Status().Lead == 3 })
}

// TestNodeClusterUnderConcurrentCallers drives three Nodes from many
// goroutines at once: a ticker, proposers that find the leader through
// Status, a reader, and a leadership transfer halfway. The members must
// apply the same log, with no entry twice; with no election beyond the
// transfer, every acknowledged proposal is in it. Run it with -race.
func TestNodeClusterUnderConcurrentCallers(t *testing.T) {
	const proposers, perProposer = 4, 250
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			members := startNdCluster(t, 3, async)
			campaignWhenApplied(t, members[1].node)
			waitFor(t, "node 1 to lead", func() bool { return members[1].node.Status().RaftState == StateLeader })

			stop := make(chan struct{})
			var bg sync.WaitGroup
			bg.Add(2)
			go func() { // the clock
				defer bg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
						for id := uint64(1); id <= 3; id++ {
							members[id].node.Tick()
						}
					}
				}
			}()
			go func() { // linearizable reads on whoever leads
				defer bg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					for id := uint64(1); id <= 3; id++ {
						_ = members[id].node.ReadIndex(context.Background(), []byte(fmt.Sprintf("r%d", i)))
					}
				}
			}()

			var (
				mu    sync.Mutex
				acked []string
				wg    sync.WaitGroup
			)
			leader := func() Node {
				for id := uint64(1); id <= 3; id++ {
					if members[id].node.Status().RaftState == StateLeader {
						return members[id].node
					}
				}
				return nil
			}
			for p := 0; p < proposers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < perProposer; i++ {
						v := fmt.Sprintf("p%d-%d", p, i)
						for attempt := 0; attempt < 1000; attempt++ {
							n := leader()
							if n == nil {
								time.Sleep(time.Millisecond)
								continue
							}
							ctx, cancel := context.WithTimeout(context.Background(), time.Second)
							err := n.Propose(ctx, []byte(v))
							cancel()
							if err == nil {
								mu.Lock()
								acked = append(acked, v)
								if len(acked) == proposers*perProposer/2 {
									members[1].node.TransferLeadership(context.Background(), 1, 3)
								}
								mu.Unlock()
								break
							}
							time.Sleep(time.Millisecond)
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			bg.Wait()

			total := func(m *ndMember) int { return len(m.appliedData()) }
			waitFor(t, "the members to apply the same number of entries", func() bool {
				return total(members[1]) >= len(acked) && total(members[1]) == total(members[2]) && total(members[2]) == total(members[3])
			})
			want := members[1].appliedLog()
			for id := uint64(2); id <= 3; id++ {
				assert.Equal(t, want, members[id].appliedLog(), "node %d applied another log", id)
			}
			seen := map[string]bool{}
			for _, v := range members[1].appliedData() {
				assert.False(t, seen[v], "%s applied twice", v)
				seen[v] = true
			}
			if members[1].node.Status().Term == 3 { // the transfer, no other election
				for _, v := range acked {
					assert.True(t, seen[v], "acknowledged %s was lost", v)
				}
			} else {
				t.Logf("%d elections beyond the transfer: not every acknowledged proposal must commit", members[1].node.Status().Term-3)
			}
			t.Logf("term %d, %d acknowledged, %d applied, %d reads", members[1].node.Status().Term, len(acked), len(seen), len(members[1].snapshotReadStates()))
			assert.Len(t, acked, proposers*perProposer)
			assert.NotEmpty(t, members[1].snapshotReadStates(), "some read was answered")
		})
	}
}

func BenchmarkNodePropose(b *testing.B) {
	s := NewMemoryStorage()
	n := StartNode(ndConfig(1, s), []Peer{{ID: 1}})
	m := startNdMember(b, 1, n, s, false, nil)
	ctx := context.Background()
	campaignWhenApplied(b, n)
	waitFor(b, "leadership", func() bool { return n.Status().RaftState == StateLeader })
	data := []byte("payload")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.Propose(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = m
}
