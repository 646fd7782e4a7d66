package raft

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// newIdleLeader returns a RawNode leading voters 1, 2, 3 (ElectionTick 10,
// HeartbeatTick 1), whose followers acknowledged its first entry, and its
// storage.
func newIdleLeader(t *testing.T) (*RawNode, *MemoryStorage) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}))
	rn, err := NewRawNode(newTestConfig(1, 10, 1, ms))
	require.NoError(t, err)
	handle := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			require.NoError(t, ms.Append(rd.Entries))
			if !IsEmptyHardState(rd.HardState) {
				require.NoError(t, ms.SetHardState(rd.HardState))
			}
			rn.Advance(rd)
		}
	}
	require.NoError(t, rn.Campaign())
	handle()
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: 1}))
	handle()
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2}))
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: 3, To: 1, Term: 1, Index: 2}))
	handle()
	require.Equal(t, StateLeader, rn.BasicStatus().RaftState)
	return rn, ms
}

func TestIdleLeaderTickAllocatesOnlyTheMessages(t *testing.T) {
	rn, _ := newIdleLeader(t)
	allocs := testing.AllocsPerRun(100, func() {
		rn.Tick()
		rd := rn.Ready()
		if len(rd.Messages) != 2 {
			t.Fatalf("want two heartbeats, got %v", rd.Messages)
		}
		rn.Advance(rd)
	})
	if !raceEnabled { // the race detector allocates on its own
		assert.Equal(t, 1.0, allocs, "one array for both heartbeats, handed over to the application")
	}
	assert.Nil(t, rn.raft.readOnly, "a leader that serves no reads holds no read state")
	assert.Nil(t, rn.raft.msgs, "nor a message buffer at rest")
}

func TestReadyMessagesStayIntactAfterAdvance(t *testing.T) {
	rn, _ := newIdleLeader(t)
	rn.Tick()
	rd1 := rn.Ready()
	require.Len(t, rd1.Messages, 2)
	want1 := append([]pb.Message(nil), rd1.Messages...)

	// A second Ready before Advance: the first one's messages are still
	// the application's.
	rn.ReadIndex([]byte("ctx"))
	rd2 := rn.Ready()
	require.Len(t, rd2.Messages, 2)
	assert.Equal(t, want1, rd1.Messages)
	want2 := append([]pb.Message(nil), rd2.Messages...)
	rn.Advance(rd2)

	// After Advance the slices are still the application's: a transport
	// may send them from another goroutine while the node goes on.
	rn.Tick()
	rd3 := rn.Ready()
	require.Len(t, rd3.Messages, 2)
	for i, m := range rd3.Messages {
		assert.Equal(t, pb.MsgHeartbeat, m.Type)
		assert.Equal(t, want2[i].Context, m.Context, "the pending read's round travels again")
	}
	rn.Advance(rd3)
	assert.Equal(t, want1, rd1.Messages)
	assert.Equal(t, want2, rd2.Messages)
	assert.Equal(t, uint64(2), want1[0].To)
	assert.Nil(t, want1[0].Context, "a heartbeat without reads carries no context")
}

func TestReadyWithoutMessagesHasNilMessages(t *testing.T) {
	rn, ms := newIdleLeader(t)
	rn.Tick()
	rn.Advance(rn.Ready())
	require.NoError(t, rn.Propose([]byte("x")))
	rd := rn.Ready()
	require.NoError(t, ms.Append(rd.Entries))
	require.Len(t, rd.Messages, 2, "appends to both followers")
	rn.Advance(rd)
	// The self-acknowledgement stepped on Advance sends nothing.
	assert.False(t, rn.HasReady())
	assert.Nil(t, rn.Ready().Messages)
}

func TestLeaderAcknowledgesABatchToItselfOnce(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1}}}}))
	cfg := newTestConfig(1, 10, 1, ms)
	cfg.AsyncStorageWrites = true
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	// persist does what an append thread does and steps the responses
	// addressed to this node; it returns them.
	persist := func() []pb.Message {
		rd := rn.Ready()
		var self []pb.Message
		for _, m := range rd.Messages {
			if m.Type != pb.MsgStorageAppend {
				continue
			}
			require.NoError(t, ms.Append(m.Entries))
			for _, resp := range m.Responses {
				if resp.To == 1 {
					self = append(self, resp)
					require.NoError(t, rn.Step(resp))
				}
			}
		}
		return self
	}
	require.NoError(t, rn.Campaign())
	persist()
	persist()
	require.Equal(t, StateLeader, rn.BasicStatus().RaftState)

	for _, d := range []string{"a", "b", "c"} {
		require.NoError(t, rn.Propose([]byte(d)))
	}
	var acks []pb.Message
	for _, m := range persist() {
		if m.Type == pb.MsgAppResp {
			acks = append(acks, m)
		}
	}
	require.Len(t, acks, 1, "one acknowledgement for the batch")
	last, err := ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, last, acks[0].Index, "covering its last entry")
	assert.Equal(t, last, rn.BasicStatus().Commit, "which commits the whole batch")
}

func TestFollowerAcknowledgesEachAppend(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}))
	rn, err := NewRawNode(newTestConfig(2, 10, 1, ms))
	require.NoError(t, err)
	for i := uint64(1); i <= 2; i++ {
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1, LogTerm: 1, Index: i,
			Entries: []pb.Entry{{Term: 1, Index: i + 1, Data: []byte("x")}}}))
	}
	rd := rn.Ready()
	var idx []uint64
	for _, m := range rd.Messages {
		if m.Type == pb.MsgAppResp {
			idx = append(idx, m.Index)
		}
	}
	assert.Equal(t, []uint64{2, 3}, idx, "acknowledgements to the leader go out one per append, as etcd sends them")
}

// newTestFollower returns a RawNode following leader 2 of voters 1, 2, 3
// at term 2, and its storage, whose log ends at index 1.
func newTestFollower(t *testing.T, configure ...func(*Config)) (*RawNode, *MemoryStorage) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}))
	c := newTestConfig(1, 10, 1, ms)
	for _, f := range configure {
		f(c)
	}
	rn, err := NewRawNode(c)
	require.NoError(t, err)
	return rn, ms
}

// followerRound steps into rn an append of one entry after index, which
// also commits it, and returns the Ready that follows, persisted.
func followerRound(t *testing.T, rn *RawNode, ms *MemoryStorage, index uint64) Ready {
	logTerm := uint64(2)
	if index == 1 {
		logTerm = 1
	}
	data := []byte{byte(index)}
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: logTerm, Index: index,
		Commit: index + 1, Entries: []pb.Entry{{Term: 2, Index: index + 1, Data: data}}}))
	rd := rn.Ready()
	require.NoError(t, ms.Append(rd.Entries))
	if !IsEmptyHardState(rd.HardState) {
		require.NoError(t, ms.SetHardState(rd.HardState))
	}
	return rd
}

// readyCopy is a deep enough copy of a Ready's slices to tell whether the
// node wrote into them later.
type readyCopy struct {
	entries, committed []pb.Entry
	messages           []pb.Message
}

func copyReady(rd Ready) readyCopy {
	return readyCopy{
		entries:   append([]pb.Entry(nil), rd.Entries...),
		committed: append([]pb.Entry(nil), rd.CommittedEntries...),
		messages:  append([]pb.Message(nil), rd.Messages...),
	}
}

// followerAppends returns n appends of one entry each from leader 2 at
// term 2 to the follower of newTestFollower, in order, and the index of
// the last entry they carry.
func followerAppends(n int) ([]pb.Message, uint64) {
	index := uint64(1)
	msgs := make([]pb.Message, n)
	for i := range msgs {
		msgs[i] = pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 2, LogTerm: 2, Index: index, Commit: index + 1,
			Entries: []pb.Entry{{Term: 2, Index: index + 1, Data: []byte("x")}}}
		if index == 1 {
			msgs[i].LogTerm = 1
		}
		index++
	}
	return msgs, index
}

func TestFollowerCycleAllocatesOnlyTheMessages(t *testing.T) {
	rn, ms := newTestFollower(t)
	msgs, index := followerAppends(101)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		_ = rn.Step(msgs[i])
		i++
		rd := rn.Ready()
		_ = ms.Append(rd.Entries)
		_ = ms.SetHardState(rd.HardState)
		rn.Advance(rd)
	})
	if !raceEnabled {
		// The Messages array (the application's for good), one for eight
		// rounds once the node is busy and one for 40 once it is very
		// busy, and an array for the unstable entries once every 21
		// rounds: below one per round, which AllocsPerRun rounds down
		// to 0.
		assert.Equal(t, 0.0, allocs)
	}
	assert.Equal(t, index, rn.BasicStatus().Applied)
}

func TestReadySlicesStayIntactAfterLaterRounds(t *testing.T) {
	rn, ms := newTestFollower(t)
	var kept []Ready
	var want []readyCopy
	// 100 rounds: arrays of 8 messages, then of 40 (growMsgs), each
	// filled up.
	for index := uint64(1); index <= 100; index++ {
		rd := followerRound(t, rn, ms, index)
		require.Len(t, rd.Entries, 1)
		require.Len(t, rd.Messages, 1)
		if index > 1 {
			require.Len(t, rd.CommittedEntries, 1)
		}
		kept = append(kept, rd)
		want = append(want, copyReady(rd))
		rn.Advance(rd)
	}
	for i, rd := range kept {
		assert.Equal(t, want[i], copyReady(rd), "Ready %d was written after it was handed out", i)
	}
}

func TestTickReleasesTheBuffersOfAnIdleNode(t *testing.T) {
	rn, ms := newTestFollower(t)
	for index := uint64(1); index <= 3; index++ {
		rn.Advance(followerRound(t, rn, ms, index))
	}
	r := rn.raft
	require.NotNil(t, r.raftLog.unstable.entries, "a busy node keeps room for the next entries")
	require.NotNil(t, r.msgsAfterAppend, "and its acknowledgement buffer")
	rn.Tick()
	assert.Nil(t, r.raftLog.unstable.entries)
	assert.Nil(t, r.msgsAfterAppend)
	assert.Nil(t, rn.adv)
	assert.Nil(t, r.msgs)
}

func lendReadyMessages(c *Config) { c.LendReadyMessages = true }

func TestLentReadyMessagesAreReusedOnlyAfterAdvance(t *testing.T) {
	rn, ms := newTestFollower(t, lendReadyMessages)
	rn.Advance(followerRound(t, rn, ms, 1))

	rd1 := followerRound(t, rn, ms, 2)
	require.Len(t, rd1.Messages, 1)
	want1 := copyReady(rd1)
	// More work before Advance, and a second Ready: the loan of rd1 holds.
	rd2 := followerRound(t, rn, ms, 3)
	require.Len(t, rd2.Messages, 1)
	want2 := copyReady(rd2)
	assert.Equal(t, want1, copyReady(rd1), "a lent slice is not written before Advance")
	rn.Advance(rd2)

	rd3 := followerRound(t, rn, ms, 4)
	require.Len(t, rd3.Messages, 1)
	assert.Same(t, &rd1.Messages[0], &rd3.Messages[0], "after Advance the array is reused")
	assert.Equal(t, uint64(5), rd3.Messages[0].Index)
	rn.Advance(rd3)
	for index := uint64(5); index <= 20; index++ {
		rn.Advance(followerRound(t, rn, ms, index))
	}
	assert.Equal(t, want2, copyReady(rd2), "the array of a second Ready before Advance is never reused")
	assert.Equal(t, want1.entries, copyReady(rd1).entries, "nor are the entries")
}

// TestReturnedLoanKeepsNoEntryAlive pins down that Advance clears, in a
// returned loan, every message that refers to other memory: the array
// lives on for later Readies and must not keep the entries it carried
// alive (nor the application's buffers they may alias).
func TestReturnedLoanKeepsNoEntryAlive(t *testing.T) {
	ms := NewMemoryStorage()
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}))
	c := newTestConfig(1, 10, 1, ms)
	c.LendReadyMessages = true
	rn, err := NewRawNode(c)
	require.NoError(t, err)
	persisted := func() Ready {
		rd := rn.Ready()
		require.NoError(t, ms.Append(rd.Entries))
		if !IsEmptyHardState(rd.HardState) {
			require.NoError(t, ms.SetHardState(rd.HardState))
		}
		return rd
	}
	require.NoError(t, rn.Campaign())
	rn.Advance(persisted())
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: rn.BasicStatus().Term}))
	require.Equal(t, StateLeader, rn.BasicStatus().RaftState)
	rn.Advance(persisted())
	st := rn.BasicStatus()
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: st.Term, Index: rn.raft.raftLog.lastIndex()}))
	rn.Advance(persisted())
	require.NoError(t, rn.Propose([]byte("x")))
	rd := persisted()
	carried := 0
	for _, m := range rd.Messages {
		if m.Type == pb.MsgApp && len(m.Entries) > 0 {
			carried++
		}
	}
	require.Equal(t, 1, carried, "the lent array carries the append of the proposal")
	lent := rd.Messages[:cap(rd.Messages)]
	rn.Advance(rd)
	for i, m := range lent {
		assert.True(t, m.Entries == nil && m.Context == nil && m.Snapshot == nil && m.Responses == nil,
			"message %d of the returned loan still refers to memory: %v", i, m)
	}
}

func TestLentReadyMessagesCostNoAllocation(t *testing.T) {
	rn, ms := newTestFollower(t, lendReadyMessages)
	msgs, index := followerAppends(102)
	i := 0
	round := func() {
		_ = rn.Step(msgs[i])
		i++
		rd := rn.Ready()
		_ = ms.Append(rd.Entries)
		_ = ms.SetHardState(rd.HardState)
		rn.Advance(rd)
	}
	round() // the first loan
	allocs := testing.AllocsPerRun(100, round)
	if !raceEnabled {
		// An array for the unstable entries once every 16 rounds.
		assert.Equal(t, 0.0, allocs)
	}
	assert.Equal(t, index, rn.BasicStatus().Applied)
}

func TestLendReadyMessagesNeedsAdvance(t *testing.T) {
	c := newTestConfig(1, 10, 1, NewMemoryStorage())
	c.LendReadyMessages, c.AsyncStorageWrites = true, true
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "LendReadyMessages")
}

func TestReadyMessagesEndWithTheirLastMessage(t *testing.T) {
	// A busy node takes the messages of several Readies from one array;
	// each Ready's slice ends with its own messages, so that an
	// application appending to it cannot write over the next Ready's.
	rn, ms := newTestFollower(t)
	room := 0
	for index := uint64(1); index <= 100; index++ {
		rd := followerRound(t, rn, ms, index)
		require.Len(t, rd.Messages, 1)
		assert.Equal(t, len(rd.Messages), cap(rd.Messages))
		assert.Equal(t, index+1, rd.Messages[0].Index)
		_ = append(rd.Messages, pb.Message{Type: pb.MsgHeartbeat, Index: 999})
		room = max(room, cap(rn.raft.msgs))
		rn.Advance(rd)
	}
	assert.Equal(t, msgsChunkBusy-1, room, "a very busy node takes its messages from arrays of msgsChunkBusy")
}

// advanceBySteppingMessages is Advance as it was before the storage
// responses were recorded (advance): each is built as a message and
// stepped, after the self-addressed messages.
func advanceBySteppingMessages(rn *RawNode) {
	r := rn.raft
	a := rn.adv
	if a == nil {
		return
	}
	rn.adv = nil
	a.flush(r)
	for _, m := range a.steps {
		_ = r.Step(m)
	}
}

// logState renders what the storage responses change in a node.
func logState(rn *RawNode) string {
	r := rn.raft
	l := &r.raftLog
	return fmt.Sprintf("term %d lead %d committed %d applying %d applied %d size %d paused %v unstable %d+%d in progress %d uncommitted %d",
		r.Term, r.lead, l.committed, l.applying, l.applied, l.applyingEntsSize, l.applyingEntsPaused,
		l.unstable.offset, len(l.unstable.entries), l.unstable.offsetInProgress, r.uncommittedSize)
}

func TestAdvanceTakesTheStorageResponsesAsSteppingThemWould(t *testing.T) {
	// Advance takes the responses of the last Ready directly when Step
	// would accept them; the outcome must be that of stepping them, also
	// when the term changed in between, and with two Readies before
	// Advance.
	for _, tc := range []struct {
		name    string
		between func(t *testing.T, rn *RawNode, ms *MemoryStorage, index uint64) uint64
	}{
		{"plain", func(*testing.T, *RawNode, *MemoryStorage, uint64) uint64 { return 0 }},
		{"newer term", func(t *testing.T, rn *RawNode, _ *MemoryStorage, index uint64) uint64 {
			if index == 5 {
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 3, To: 1, Term: 3, Commit: index}))
			}
			return 0
		}},
		{"second Ready", func(t *testing.T, rn *RawNode, ms *MemoryStorage, index uint64) uint64 {
			if index%3 != 0 {
				return 0
			}
			rd := followerRound(t, rn, ms, index+1)
			require.NotEmpty(t, rd.Entries)
			return 1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			direct, dms := newTestFollower(t)
			stepped, sms := newTestFollower(t)
			for index := uint64(1); index <= 12; index++ {
				if direct.raft.Term > 2 {
					break // the appends of term 2 are stale now
				}
				rd := followerRound(t, direct, dms, index)
				_ = followerRound(t, stepped, sms, index)
				require.Equal(t, logState(stepped), logState(direct))
				skip := tc.between(t, direct, dms, index)
				require.Equal(t, skip, tc.between(t, stepped, sms, index))
				direct.Advance(rd)
				advanceBySteppingMessages(stepped)
				require.Equal(t, logState(stepped), logState(direct), "after Advance of round %d", index)
				index += skip
			}
		})
	}
}

// proposeWithArray is Propose as it was before proposeAsLeader: the
// proposal's entry in an array of its own.
func proposeWithArray(rn *RawNode, data []byte) error {
	return rn.raft.stepMsg(&pb.Message{Type: pb.MsgProp, From: rn.raft.id, Entries: []pb.Entry{{Data: data}}})
}

// TestProposeOnABusyLeaderActsAsWithAnArrayOfItsOwn runs two identical
// leaders through the same random proposals, acknowledgements, Readies,
// ticks and leadership transfers: one proposes through Propose, whose
// busy leader steps the entry from a buffer it reuses (proposeAsLeader),
// the other with an array per proposal. Their answers and Readies must be
// the same. After every proposal the buffer must be empty, and it is then
// scribbled over: a log or message that kept it would show the scribble.
func TestProposeOnABusyLeaderActsAsWithAnArrayOfItsOwn(t *testing.T) {
	reused, reusedMS := newIdleLeader(t)
	own, ownMS := newIdleLeader(t)
	persist := func(rn *RawNode, ms *MemoryStorage) Ready {
		rd := rn.Ready()
		require.NoError(t, ms.Append(rd.Entries))
		if !IsEmptyHardState(rd.HardState) {
			require.NoError(t, ms.SetHardState(rd.HardState))
		}
		return rd
	}
	rnd := rand.New(rand.NewPCG(20, 6))
	fast, proposals := 0, 0
	for i := 0; i < 5000; i++ {
		switch op := rnd.IntN(100); {
		case op < 45:
			proposals++
			var data []byte
			if n := rnd.IntN(4); n > 0 {
				data = bytes.Repeat([]byte{byte(i)}, n)
			}
			if reused.adv != nil && reused.raft.state == StateLeader {
				fast++
			}

			require.Equal(t, proposeWithArray(own, data), reused.Propose(data))
			if a := reused.adv; a != nil {
				require.Equal(t, pb.Entry{}, a.prop[0], "the buffer keeps no proposal")
				a.prop[0] = pb.Entry{Term: 99, Index: 99, Data: []byte("scribble")}
			}
		case op < 75:
			rd1, rd2 := persist(reused, reusedMS), persist(own, ownMS)
			require.Equal(t, rd2, rd1, "step %d", i)
			reused.Advance(rd1)
			own.Advance(rd2)
		case op < 95:
			from := uint64(2 + rnd.IntN(2))
			last := own.raft.raftLog.lastIndex()
			m := pb.Message{Type: pb.MsgAppResp, From: from, To: 1, Term: own.raft.Term, Index: last - uint64(rnd.IntN(3))}
			require.Equal(t, own.Step(m), reused.Step(m))
		case op < 99 || rnd.IntN(5) > 0:
			reused.Tick()
			own.Tick()
		default:
			// Rare: the proposals are dropped until the transfer is
			// abandoned, ten ticks later.
			reused.TransferLeader(2)
			own.TransferLeader(2)
		}
	}
	assert.Equal(t, own.raft.raftLog.allEntries(), reused.raft.raftLog.allEntries())
	assert.Greater(t, fast, proposals/2, "most proposals take the buffer")
}
