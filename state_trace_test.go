package raft

import (
	"sync"
	"testing"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traceRecorder is a TraceLogger that keeps every event.
type traceRecorder struct {
	mu     sync.Mutex
	events []*TracingEvent
}

func (r *traceRecorder) TraceEvent(ev *TracingEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// take returns the events recorded since the last call.
func (r *traceRecorder) take() []*TracingEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	return evs
}

// eventKey renders an event as its name and, for messages, the endpoints.
func eventKey(ev *TracingEvent) string {
	if ev.Message != nil {
		return ev.Name + " " + ev.Message.From + "->" + ev.Message.To
	}
	return ev.Name
}

// requireSubsequence checks that want appears in got in order, other
// events possibly in between.
func requireSubsequence(t *testing.T, want []string, got []*TracingEvent) {
	t.Helper()
	keys := make([]string, len(got))
	for i, ev := range got {
		keys[i] = eventKey(ev)
	}
	i := 0
	for _, k := range keys {
		if i < len(want) && k == want[i] {
			i++
		}
	}
	require.Equal(t, len(want), i, "missing %q (in order) in %q", want[min(i, len(want)-1)], keys)
}

func TestStateTraceOfAnElection(t *testing.T) {
	recs := map[uint64]*traceRecorder{1: {}, 2: {}, 3: {}}
	var configuring uint64
	c := newRawCluster(t, 3, func(cfg *Config) {
		configuring = cfg.ID
		cfg.TraceLogger = recs[cfg.ID]
	})
	require.Equal(t, uint64(3), configuring)

	// Start and bootstrap: the initial state, then the three voters join.
	evs := recs[1].take()
	require.NotEmpty(t, evs)
	assert.Equal(t, "InitState", evs[0].Name)
	assert.Equal(t, "1", evs[0].NodeID)
	assert.Equal(t, "StateFollower", evs[0].Role)
	requireSubsequence(t, []string{"InitState", "BecomeFollower", "ApplyConfChange", "ApplyConfChange", "ApplyConfChange"}, evs)
	var joins []*TracingConfChange
	for _, ev := range evs {
		if ev.Name == "ApplyConfChange" && len(ev.ConfChange.Changes) > 0 {
			joins = append(joins, ev.ConfChange)
		}
	}
	require.Len(t, joins, 3)
	assert.Equal(t, &TracingConfChange{Changes: []SingleConfChange{{NodeID: "1", Action: ConfChangeAddNewServer}}, NewConf: []string{"1"}}, joins[0])
	assert.Equal(t, &TracingConfChange{Changes: []SingleConfChange{{NodeID: "3", Action: ConfChangeAddNewServer}}, NewConf: []string{"1", "2", "3"}}, joins[2])

	c.stabilize()
	for _, r := range recs {
		r.take()
	}

	require.NoError(t, c.nodes[1].Campaign())
	c.stabilize()

	evs1 := recs[1].take()
	requireSubsequence(t, []string{
		"BecomeCandidate",
		"SendRequestVoteRequest 1->2",
		"SendRequestVoteRequest 1->3",
		"Ready",
		"ReceiveRequestVoteResponse 2->1",
		"BecomeLeader",
		"SendAppendEntriesRequest 1->2",
		"ReceiveAppendEntriesResponse 2->1",
	}, evs1)
	for _, ev := range evs1 {
		switch {
		case ev.Name == "SendRequestVoteRequest" && ev.Message.To == "2":
			assert.Equal(t, &TracingMessage{Type: "MsgVote", Term: 2, From: "1", To: "2", LogTerm: 1, Index: 3, Vote: "0"}, ev.Message)
			assert.Equal(t, TracingState{Term: 2, Vote: "1", Commit: 3}, ev.State)
			assert.Equal(t, "StateCandidate", ev.Role)
		case ev.Name == "BecomeLeader":
			assert.Equal(t, TracingState{Term: 2, Vote: "1", Commit: 3}, ev.State)
			assert.Equal(t, "StateLeader", ev.Role)
			assert.Equal(t, [2][]string{{"1", "2", "3"}, {}}, ev.Conf)
			assert.Equal(t, uint64(3), ev.LogSize)
		}
		assert.NotContains(t, ev.Name, "MsgHup", "local messages are not traced")
		assert.NotContains(t, ev.Name, "MsgStorage", "local messages are not traced")
	}

	requireSubsequence(t, []string{
		"ReceiveRequestVoteRequest 1->2",
		"BecomeFollower", // the higher term
		"SendRequestVoteResponse 2->1",
		"ReceiveAppendEntriesRequest 1->2",
		"SendAppendEntriesResponse 2->1",
	}, recs[2].take())
}

func TestStateTraceMessageNames(t *testing.T) {
	for typ, want := range map[pb.MessageType]string{
		pb.MsgApp:           "AppendEntriesRequest",
		pb.MsgAppResp:       "AppendEntriesResponse",
		pb.MsgVote:          "RequestVoteRequest",
		pb.MsgVoteResp:      "RequestVoteResponse",
		pb.MsgPreVote:       "RequestPreVoteRequest",
		pb.MsgPreVoteResp:   "RequestPreVoteResponse",
		pb.MsgHeartbeat:     "MsgHeartbeat",
		pb.MsgSnap:          "MsgSnap",
		pb.MsgTimeoutNow:    "MsgTimeoutNow",
		pb.MsgReadIndexResp: "MsgReadIndexResp",
	} {
		assert.Equal(t, want, traceMsgKind(typ))
	}
}

func TestStateTraceConfChangeLists(t *testing.T) {
	rec := &traceRecorder{}
	log, err := newLog(NewMemoryStorage(), discardLogger)
	require.NoError(t, err)
	r := &raft{id: 1, raftLog: *log}
	r.setTraceLogger(rec)
	r.trk = progress.MakeTracker(1, 0)
	r.trk.Config = progress.Config{
		Voters:   quorum.JointConfig{{1: {}, 2: {}, 3: {}}, nil},
		Learners: map[uint64]struct{}{4: {}},
	}
	// 2 leaves, 3 becomes a learner, 5 joins as a voter, 4 is promoted, 6
	// joins as a learner.
	traceConfChangeEvent(progress.Config{
		Voters:   quorum.JointConfig{{1: {}, 4: {}, 5: {}}, nil},
		Learners: map[uint64]struct{}{3: {}, 6: {}},
	}, r)
	evs := rec.take()
	require.Len(t, evs, 1)
	assert.Equal(t, "ApplyConfChange", evs[0].Name)
	assert.Equal(t, [2][]string{{"1", "2", "3"}, {}}, evs[0].Conf, "the event shows the configuration being left")
	assert.Equal(t, &TracingConfChange{
		Changes: []SingleConfChange{
			{NodeID: "4", Action: ConfChangeAddNewServer},
			{NodeID: "5", Action: ConfChangeAddNewServer},
			{NodeID: "3", Action: ConfChangeAddLearner},
			{NodeID: "6", Action: ConfChangeAddLearner},
			{NodeID: "2", Action: ConfChangeRemoveServer},
			{NodeID: "3", Action: ConfChangeRemoveServer},
		},
		NewConf: []string{"1", "4", "5"},
	}, evs[0].ConfChange)
}

func TestStateTraceHooksDoNothingWithoutLogger(t *testing.T) {
	require.True(t, StateTraceDeployed)
	rn := newStatusTestNode(t)
	r := rn.raft
	require.Nil(t, r.tracer())
	m := pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1}
	cfg := r.trk.Config
	allocs := testing.AllocsPerRun(100, func() {
		traceInitState(r)
		traceReady(r)
		traceBecomeFollower(r)
		traceBecomeCandidate(r)
		traceBecomeLeader(r)
		traceSendMessage(r, &m)
		traceReceiveMessage(r, &m)
		traceConfChangeEvent(cfg, r)
	})
	assert.Zero(t, allocs)
}
