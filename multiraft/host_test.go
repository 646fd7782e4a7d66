package multiraft

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// recTransport records what a host sends, and the order of sends and
// saves in a shared log.
type recTransport struct {
	mu   sync.Mutex
	envs []*Envelope
	log  *[]string
}

func (t *recTransport) Start(Hello, Handler) error { return nil }
func (t *recTransport) Close() error               { return nil }
func (t *recTransport) Send(env *Envelope) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.envs = append(t.envs, env)
	if t.log != nil {
		for _, gm := range env.Messages {
			*t.log = append(*t.log, "send "+gm.Message.Type.String())
		}
	}
}

func (t *recTransport) take() []*Envelope {
	t.mu.Lock()
	defer t.mu.Unlock()
	envs := t.envs
	t.envs = nil
	return envs
}

type recStore struct {
	*MemoryLogStore
	log *[]string
}

func (s recStore) Save(ups []Update) error {
	*s.log = append(*s.log, "save")
	return s.MemoryLogStore.Save(ups)
}

func newRecHost(t *testing.T, cfg func(*HostConfig)) (*Host, *recTransport) {
	tr := &recTransport{}
	hc := HostConfig{ID: 1, Epoch: 1, Transport: tr, LogStore: NewMemoryLogStore(), Logger: quietLogger{}, Seed: 1}
	if cfg != nil {
		cfg(&hc)
	}
	h, err := NewHost(hc)
	require.NoError(t, err)
	return h, tr
}

func mustPass(t *testing.T, h *Host) {
	_, err := h.Pass()
	require.NoError(t, err)
}

func TestEnvelopeCaps(t *testing.T) {
	h, tr := newRecHost(t, func(c *HostConfig) { c.MaxEnvelopeMessages = 3; c.MaxEnvelopeBytes = 1 << 20 })
	h.HandleHello(Hello{Host: 2, Epoch: 1, Version: Version, Caps: AllCaps})
	for i := 0; i < 7; i++ {
		h.enqueue(2, GroupID(i), &pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1})
	}
	h.flush(false, true)
	envs := tr.take()
	require.Len(t, envs, 3)
	assert.Len(t, envs[0].Messages, 3)
	assert.Len(t, envs[2].Messages, 1)

	// The byte cap: one big message travels alone, small ones share.
	h2, tr2 := newRecHost(t, func(c *HostConfig) { c.MaxEnvelopeBytes = 1000 })
	h2.HandleHello(Hello{Host: 2, Epoch: 1, Version: Version, Caps: AllCaps})
	big := pb.Message{Type: pb.MsgApp, From: 1, To: 2, Entries: []pb.Entry{{Data: make([]byte, 5000)}}}
	small := pb.Message{Type: pb.MsgApp, From: 1, To: 2}
	h2.enqueue(2, 1, &small)
	h2.enqueue(2, 1, &small)
	h2.enqueue(2, 1, &big)
	h2.enqueue(2, 1, &small)
	h2.flush(false, true)
	envs = tr2.take()
	require.Len(t, envs, 3)
	assert.Len(t, envs[0].Messages, 2)
	assert.Len(t, envs[1].Messages, 1)
	assert.Len(t, envs[1].Messages[0].Message.Entries, 1)
	for _, env := range envs {
		b, err := env.Marshal()
		require.NoError(t, err)
		if len(env.Messages) > 1 {
			assert.LessOrEqual(t, len(b), 1000)
		}
	}
}

func TestControlLaneIsNotBlockedByFullDataLane(t *testing.T) {
	h, tr := newRecHost(t, func(c *HostConfig) { c.MaxQueueMessages = 2 })
	h.HandleHello(Hello{Host: 2, Epoch: 1, Version: Version, Caps: AllCaps})
	for i := 0; i < 5; i++ {
		h.enqueue(2, 1, &pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1})
	}
	for i := 0; i < 2; i++ {
		h.enqueue(2, GroupID(i), &pb.Message{Type: pb.MsgVote, From: 1, To: 2, Term: 2})
	}
	h.flush(false, true)
	envs := tr.take()
	require.Len(t, envs, 2)
	assert.Equal(t, LaneControl, envs[0].Lane, "control leaves first")
	assert.Len(t, envs[0].Messages, 2, "no vote dropped behind the full data lane")
	assert.Equal(t, LaneData, envs[1].Lane)
	assert.Len(t, envs[1].Messages, 2, "appends beyond the queue bound dropped")
	assert.Equal(t, uint64(3), h.Stats().Dropped)

	// The early flush (before the write) sends data only.
	h.enqueue(2, 1, &pb.Message{Type: pb.MsgVoteResp, From: 1, To: 2, Term: 2})
	h.enqueue(2, 1, &pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2})
	h.flush(false, false)
	envs = tr.take()
	require.Len(t, envs, 1)
	assert.Equal(t, LaneData, envs[0].Lane)
}

func TestPlainPeerGetsOneMessagePerEnvelope(t *testing.T) {
	h, tr := newRecHost(t, nil)
	h.HandleHello(Hello{Host: 3}) // a plain peer: no caps
	h.enqueue(3, 1, &pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 3, Term: 1})
	h.enqueue(3, 2, &pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 3, Term: 1})
	h.enqueue(3, 2, &pb.Message{Type: pb.MsgApp, From: 1, To: 3, Term: 1})
	h.flush(true, true)
	envs := tr.take()
	require.Len(t, envs, 3)
	for _, env := range envs {
		assert.Len(t, env.Messages, 1)
		assert.Empty(t, env.Heartbeats)
		assert.Empty(t, env.Liveness)
	}
	// A peer whose caps are not known yet is treated as plain.
	h.enqueue(4, 1, &pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 4, Term: 1})
	h.enqueue(4, 1, &pb.Message{Type: pb.MsgVote, From: 1, To: 4, Term: 1})
	h.flush(true, true)
	envs = tr.take()
	require.Len(t, envs, 2)
	assert.Empty(t, envs[0].Heartbeats)
}

func TestHeartbeatsWaitForTheFlushUnlessTheyCarryAContext(t *testing.T) {
	h, tr := newRecHost(t, nil)
	h.HandleHello(Hello{Host: 2, Epoch: 1, Version: Version, Caps: AllCaps})
	for g := GroupID(1); g <= 100; g++ {
		h.enqueue(2, g, &pb.Message{Type: pb.MsgHeartbeatResp, From: 1, To: 2, Term: 1})
	}
	h.flush(false, true)
	assert.Empty(t, tr.take(), "plain heartbeats wait for the interval")
	h.enqueue(2, 7, &pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Context: []byte("r")})
	h.flush(false, true)
	envs := tr.take()
	require.Len(t, envs, 1, "a ReadIndex heartbeat leaves at once, with the others")
	assert.Len(t, envs[0].Heartbeats, 101)
	assert.Empty(t, envs[0].Messages)
}

func TestFollowerAckLeavesAfterSaveLeaderAppendBefore(t *testing.T) {
	var log []string
	tr := &recTransport{log: &log}
	h, err := NewHost(HostConfig{ID: 1, Epoch: 1, Transport: tr, LogStore: recStore{NewMemoryLogStore(), &log}, Logger: quietLogger{}})
	require.NoError(t, err)
	require.NoError(t, h.AddGroup(groupConfig(1, 1, 2)))
	mustPass(t, h) // bootstrap entries saved

	// As a follower: an append from leader 2 is acknowledged after the save.
	log = nil
	h.HandleEnvelope(&Envelope{From: 2, To: 1, Messages: []GroupMessage{{Group: 1, Message: pb.Message{
		Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: 1, Index: 2, Commit: 2,
		Entries: []pb.Entry{{Term: 2, Index: 3, Data: []byte("a")}}}}}})
	mustPass(t, h)
	require.Equal(t, []string{"save", "send MsgAppResp"}, log)

	// As a leader: its append leaves before its own save, the vote's
	// effects (HardState) are saved before the vote request leaves.
	log = nil
	require.NoError(t, h.Campaign(1))
	mustPass(t, h)
	if i := indexOf(log, "send MsgVote"); i >= 0 {
		assert.Less(t, indexOf(log, "save"), i, "the vote leaves after its term is durable")
	}
	log = nil
	st, _ := h.Status(1)
	typ := pb.MsgVoteResp
	if st.RaftState == raft.StatePreCandidate {
		h.HandleEnvelope(&Envelope{From: 2, To: 1, Messages: []GroupMessage{{Group: 1, Message: pb.Message{Type: pb.MsgPreVoteResp, From: 2, To: 1, Term: st.Term + 1}}}})
		mustPass(t, h)
		st, _ = h.Status(1)
		require.Equal(t, raft.StateCandidate, st.RaftState)
		assert.Less(t, indexOf(log, "save"), indexOf(log, "send MsgVote"), "the vote leaves after its term is durable")
		log = nil
	}
	h.HandleEnvelope(&Envelope{From: 2, To: 1, Messages: []GroupMessage{{Group: 1, Message: pb.Message{Type: typ, From: 2, To: 1, Term: st.Term}}}})
	mustPass(t, h)
	st, _ = h.Status(1)
	require.Equal(t, raft.StateLeader, st.RaftState, "log %v", log)
	require.Equal(t, []string{"send MsgApp", "save"}, log)
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestOnePassOneSave(t *testing.T) {
	c := newTestCluster(t, 3, 60, nil)
	c.waitLeaders(100)
	h := c.hosts[1]
	var led []GroupID
	for _, g := range c.groups {
		if c.leader(g) == 1 {
			led = append(led, g)
		}
	}
	require.Greater(t, len(led), 5)
	before := c.stores[1].Stats()
	for _, g := range led {
		require.NoError(t, h.Propose(g, []byte("x")))
	}
	mustPass(t, h)
	after := c.stores[1].Stats()
	assert.Equal(t, before.Saves+1, after.Saves, "one Save for the pass")
	assert.Equal(t, before.Syncs+1, after.Syncs, "one sync for the pass")
	assert.Equal(t, before.Updates+uint64(len(led)), after.Updates, "every group's update in it")
	c.settle()
	assert.Equal(t, h.Stats().Saves, c.stores[1].Stats().Saves)
}

func TestIdleGroupsAreNotVisitedWithoutTick(t *testing.T) {
	c := newTestCluster(t, 3, 100, nil)
	c.waitLeaders(100)
	c.tick(2)
	g := c.groups[0]
	l := c.leader(g)
	h := c.hosts[l]
	before := h.Stats().Visits
	require.NoError(t, h.Propose(g, []byte("x")))
	mustPass(t, h)
	assert.Equal(t, before+1, h.Stats().Visits, "only the proposing group is visited")
	// A tick visits the groups the host leads; the followers heard from
	// their leaders within the election timeout and owe their tick.
	led := 0
	for _, g := range c.groups {
		if c.leader(g) == l {
			led++
		}
	}
	require.Less(t, led, 100)
	before = h.Stats().Visits
	h.Tick()
	mustPass(t, h)
	assert.Equal(t, before+uint64(led), h.Stats().Visits)
}

func TestFollowersSkipTicksUntilTheirElectionClockMayRunOut(t *testing.T) {
	c := newTestCluster(t, 3, 30, func(hc *HostConfig) {
		hc.LivenessTimeoutTicks = 1000 // elections alone find the lost leader
	})
	c.settle()
	for _, g := range c.groups {
		require.NoError(t, c.hosts[1].Campaign(g))
	}
	c.settle()
	c.tick(2)
	for _, g := range c.groups {
		require.Equal(t, HostID(1), c.leader(g))
	}
	h2 := c.hosts[2]
	before := h2.Stats()
	c.tick(3)
	assert.Equal(t, before.Visits, h2.Stats().Visits,
		"no follower is visited: not for the tick, and not for its leader's heartbeat (R2d)")
	assert.Equal(t, before.InPlace+uint64(3*len(c.groups)), h2.Stats().InPlace,
		"each follower stepped its leader's heartbeat of each tick at delivery")

	c.net.Isolate(1)
	delete(c.hosts, 1)
	ticks := 0
	for ; ticks < 4*electionTick; ticks++ {
		all := true
		for _, g := range c.groups {
			if l := c.leader(g); l == 0 || l == 1 {
				all = false
			}
		}
		if all {
			break
		}
		c.tick(1)
	}
	t.Logf("all %d groups re-elected %d ticks after the cut (election timeout %d..%d ticks)", len(c.groups), ticks, electionTick, 2*electionTick-1)
	// The owed ticks are taken on time: the first elections start after
	// the randomized election timeout, at least ElectionTick ticks and
	// less than twice that (and a pre-vote and a vote round in the ticks
	// that follow).
	assert.GreaterOrEqual(t, ticks, electionTick)
	assert.Less(t, ticks, 2*electionTick+2)
}

func TestReadIndexCompletesOverCoalescedHeartbeats(t *testing.T) {
	c := newTestCluster(t, 3, 10, nil)
	c.waitLeaders(100)
	c.tick(2)
	for _, g := range c.groups {
		l := c.leader(g)
		tuples := c.hosts[l].Stats().Tuples
		ctx := []byte(fmt.Sprintf("read-%d", g))
		require.NoError(t, c.hosts[l].ReadIndex(g, ctx))
		c.settle() // no tick: the ReadIndex heartbeats leave at once
		assert.Greater(t, c.hosts[l].Stats().Tuples, tuples, "heartbeats went as tuples")
		c.mu.Lock()
		rs := c.reads[l][g]
		c.mu.Unlock()
		require.NotEmpty(t, rs, "group %d", g)
		assert.Equal(t, ctx, rs[len(rs)-1].RequestCtx)
	}
}

func TestIdleHostPairSendsTwoEnvelopesPerInterval(t *testing.T) {
	c := newTestCluster(t, 3, 300, nil)
	c.waitLeaders(150)
	c.tick(5)
	c.net.ResetStats()
	const ticks = 20
	c.tick(ticks)
	for a := HostID(1); a <= 3; a++ {
		for b := a + 1; b <= 3; b++ {
			ab, ba := c.net.Link(a, b), c.net.Link(b, a)
			assert.LessOrEqual(t, ab.Envelopes+ba.Envelopes, uint64(2*ticks), "hosts %d,%d: %+v %+v", a, b, ab, ba)
			assert.Zero(t, ab.Messages+ba.Messages, "idle: no raft message outside tuples")
			assert.Greater(t, ab.Tuples, uint64(0))
		}
	}
}

func TestReceiveDropsUnknownGroupAndLocalMessages(t *testing.T) {
	h, _ := newRecHost(t, nil)
	require.NoError(t, h.AddGroup(groupConfig(1, 1, 3)))
	mustPass(t, h)
	h.HandleEnvelope(&Envelope{From: 2, To: 1, Messages: []GroupMessage{
		{Group: 99, Message: pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 5}},
		{Group: 1, Message: pb.Message{Type: pb.MsgHup, From: 2, To: 1}},
		{Group: 1, Message: pb.Message{Type: pb.MsgStorageAppendResp, From: raft.LocalAppendThread, To: 1}},
		{Group: 1, Message: pb.Message{Type: pb.MsgApp, From: 2, To: 7, Term: 5}},
	}})
	assert.Equal(t, uint64(4), h.Stats().Dropped)
	st, err := h.Status(1)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Term)
}

func TestRemoveGroup(t *testing.T) {
	c := newTestCluster(t, 3, 5, nil)
	c.waitLeaders(100)
	for id, h := range c.hosts {
		require.NoError(t, h.RemoveGroup(3), "host %d", id)
		assert.ErrorIs(t, h.RemoveGroup(3), ErrGroupNotFound)
		assert.ErrorIs(t, h.Propose(3, nil), ErrGroupNotFound)
		assert.Equal(t, 4, h.Groups())
		assert.NotContains(t, c.stores[id].Groups(), GroupID(3))
	}
	c.groups = []GroupID{1, 2, 4, 5}
	for _, g := range c.groups {
		c.propose(g, "after")
	}
	c.tick(2)
	for _, g := range c.groups {
		assert.Equal(t, []string{"after"}, c.appliedOn(1, g))
	}
	// Re-adding is possible: the group starts over from empty storage.
	require.NoError(t, c.hosts[1].AddGroup(groupConfig(3, 1, 3)))
	assert.ErrorIs(t, c.hosts[1].AddGroup(groupConfig(3, 1, 3)), ErrGroupExists)
}

func TestHeartbeatTuplesShareOneEnvelopeBeyondTheMessageCap(t *testing.T) {
	h, tr := newRecHost(t, func(c *HostConfig) { c.MaxEnvelopeMessages = 100 })
	h.HandleHello(Hello{Host: 2, Epoch: 1, Version: Version, Caps: AllCaps})
	for g := GroupID(1); g <= 100000; g++ {
		h.enqueue(2, g, &pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 7, Commit: 123456})
	}
	h.flush(true, true)
	envs := tr.take()
	require.Len(t, envs, 1, "100,000 heartbeats fit the 4 MiB byte cap")
	assert.Len(t, envs[0].Heartbeats, 100000)
	b, err := envs[0].Marshal()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), envelopeSize(envs[0]), "the size estimate bounds the encoding")
	t.Logf("100,000 heartbeats: %d bytes", len(b))
}

func TestRoutineWorkIsSpreadOverPasses(t *testing.T) {
	const budget = 4
	c := newTestCluster(t, 3, 40, func(hc *HostConfig) { hc.MaxRoutineVisits = budget })
	c.settle()
	for _, g := range c.groups {
		require.NoError(t, c.hosts[1].Campaign(g))
	}
	c.settle()
	c.tick(2)
	terms := make(map[GroupID]uint64)
	for _, g := range c.groups {
		require.Equal(t, HostID(1), c.leader(g))
		st, err := c.hosts[1].Status(g)
		require.NoError(t, err)
		terms[g] = st.Term
	}
	h1 := c.hosts[1]

	// An idle tick: host 1 visits its 40 leaders budget at a time, and
	// their heartbeats leave together after the last of them.
	c.net.ResetStats()
	h1.Tick()
	passes := 0
	for {
		v0 := h1.Stats().Visits
		did, err := h1.Pass()
		require.NoError(t, err)
		if !did {
			break
		}
		passes++
		assert.LessOrEqual(t, h1.Stats().Visits-v0, uint64(budget))
		if h1.Stats().Visits-v0 == budget && passes < len(c.groups)/budget {
			assert.Zero(t, c.net.Link(1, 2).Envelopes, "heartbeats wait for the tick's last group")
		}
	}
	assert.Equal(t, len(c.groups)/budget, passes)
	l12 := c.net.Link(1, 2)
	assert.Equal(t, uint64(1), l12.Envelopes)
	assert.Equal(t, uint64(len(c.groups)), l12.Tuples)
	c.settle()

	// A proposal made in the middle of a tick's routine work does not wait
	// for the rest of it: the next pass visits its group with budget
	// routine ones, and its append leaves.
	c.net.ResetStats()
	h1.Tick()
	mustPass(t, h1)
	g := c.groups[len(c.groups)-1]
	require.NoError(t, h1.Propose(g, []byte("x")))
	v0 := h1.Stats().Visits
	mustPass(t, h1)
	assert.Equal(t, v0+budget+1, h1.Stats().Visits)
	assert.Equal(t, uint64(1), c.net.Link(1, 2).Messages, "the append left")
	assert.Zero(t, c.net.Link(1, 2).Tuples, "the heartbeats wait for the tick's last group")
	c.settle()
	assert.Equal(t, []string{"x"}, c.appliedOn(2, g))

	// Over many ticks: no election, two envelopes per host pair and tick.
	c.net.ResetStats()
	const ticks = 3 * 10
	c.tick(ticks)
	for _, g := range c.groups {
		st, err := c.hosts[1].Status(g)
		require.NoError(t, err)
		assert.Equal(t, raft.StateLeader, st.RaftState)
		assert.Equal(t, terms[g], st.Term, "group %d", g)
	}
	for a := HostID(1); a <= 3; a++ {
		for b := a + 1; b <= 3; b++ {
			ab, ba := c.net.Link(a, b), c.net.Link(b, a)
			assert.LessOrEqual(t, ab.Envelopes+ba.Envelopes, uint64(2*ticks), "hosts %d,%d", a, b)
		}
	}
}

func TestReadyWithOnlyMessagesIsAdvancedInItsVisitAndAnsweredAfterTheSave(t *testing.T) {
	var log []string
	tr := &recTransport{log: &log}
	h, err := NewHost(HostConfig{ID: 1, Epoch: 1, Transport: tr, LogStore: recStore{NewMemoryLogStore(), &log}, Logger: quietLogger{}})
	require.NoError(t, err)
	require.NoError(t, h.AddGroup(groupConfig(1, 1, 2)))
	require.NoError(t, h.AddGroup(groupConfig(2, 1, 2)))
	mustPass(t, h) // bootstrap entries saved
	// Group 2 learns its leader and commit, so that the heartbeat below
	// leaves it nothing to persist.
	h.HandleEnvelope(&Envelope{From: 2, To: 1, Messages: []GroupMessage{{Group: 2, Message: pb.Message{
		Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: 1, Index: 2, Commit: 2}}}})
	mustPass(t, h)

	// One pass: group 1 appends an entry (saved), group 2 steps a
	// heartbeat of a read round (a Ready with only its response; a plain
	// heartbeat would take raft's fast path and make no Ready, R2d).
	log = nil
	readies := h.Stats().Readies
	h.HandleEnvelope(&Envelope{From: 2, To: 1, Messages: []GroupMessage{
		{Group: 1, Message: pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: 1, Index: 2, Commit: 2,
			Entries: []pb.Entry{{Term: 2, Index: 3, Data: []byte("a")}}}},
		{Group: 2, Message: pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 2, Commit: 2, Context: []byte("r")}},
	}})
	mustPass(t, h)
	require.Len(t, log, 3)
	assert.Equal(t, "save", log[0], "both answers leave after the pass's write")
	assert.ElementsMatch(t, []string{"send MsgAppResp", "send MsgHeartbeatResp"}, log[1:])
	assert.Equal(t, readies+2, h.Stats().Readies)
	did, err := h.Pass()
	require.NoError(t, err)
	assert.False(t, did, "group 2's Ready was advanced: nothing is left")
}

// TestIdleTickReusesEnvelopeArrays pins down that the envelopes of a
// heartbeat round, sent over a MemNetwork, come back to the hosts' next
// flush with their arrays: a tick of idle groups allocates no tuple or
// message array per envelope.
func TestIdleTickReusesEnvelopeArrays(t *testing.T) {
	const groups = 300
	c := newTestCluster(t, 3, groups, nil)
	c.waitLeaders(200)
	c.tick(5)
	sent := func() (n uint64) {
		for from := HostID(1); from <= 3; from++ {
			for to := HostID(1); to <= 3; to++ {
				if from != to {
					n += c.net.Link(from, to).Envelopes
				}
			}
		}
		return n
	}
	var before, after runtime.MemStats
	sent0, reused0 := sent(), envelopesReused.Load()
	runtime.ReadMemStats(&before)
	const ticks = 50
	c.tick(ticks)
	runtime.ReadMemStats(&after)
	envelopes, reused := sent()-sent0, envelopesReused.Load()-reused0
	require.Greater(t, envelopes, uint64(ticks), "the heartbeat rounds sent envelopes")
	// Nearly every envelope comes from a released one (the race detector
	// drops about a quarter of a pool's items at random).
	assert.Greater(t, 2*reused, envelopes, "envelopes reused: %d of %d sent", reused, envelopes)
	if !raceEnabled { // the race detector's own allocations swamp the bound
		// Without reuse each host pair's two envelopes per tick carried a
		// fresh array of groups/3*2 tuples of 80 bytes each way: 96 kB.
		perTick := (after.TotalAlloc - before.TotalAlloc) / ticks
		assert.Less(t, perTick, uint64(24<<10), "bytes allocated per tick of three hosts")
	}
}
