package compat

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcdraft "go.etcd.io/raft/v3"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	ourraft "github.com/raftkit/raft"
	ourpb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// Issue 16 in mixed clusters: a raftkit node whose storage lost the tail
// of its log (Config.RecoverLostState) rejoins a cluster of etcd raft
// v3.6 nodes, under an etcd leader and under a raftkit leader
// (docs/design/recovery.md, "Mixed clusters"). The scripts below wire the
// nodes of both libraries by hand, every message marshaled by its sender's
// raftpb and decoded by its receiver's. Nothing recovers a panic: a panic
// of any node, etcd's included, fails the test. After every round of
// message exchange the cluster checks that the committed entries of every
// node agree at every index, and that no term has two leaders.

// mixNode is one node of a recovery script, of either library.
type mixNode interface {
	tick()
	// step decodes a message with the node's own raftpb and steps it.
	step(data []byte) error
	// ready handles every Ready as an application would (persist, apply)
	// and returns the messages to send, in raftkit's types, and the
	// entries applied.
	ready() (msgs []ourpb.Message, applied []ourpb.Entry)
	campaign() error
	propose(data []byte) error
	readIndex()
	status() mixStatus
	// entry returns the persisted entry at index i, if the storage holds it.
	entry(i uint64) (ourpb.Entry, bool)
	// compact snapshots the storage at the applied index and compacts the
	// log up to it.
	compact()
}

// mixStatus is what the scripts read of a node's status.
type mixStatus struct {
	term, commit, applied, last uint64
	leader                      bool
	// reads counts the ReadIndex requests answered.
	reads int
	// match is, on a leader, its record of each peer's log.
	match map[uint64]uint64
	// rec is a raftkit node's quarantine.
	rec ourraft.Recovery
}

// mixBootstrap is the snapshot every node starts from: index 1, term 1,
// voters 1, 2 and 3.
func mixBootstrap() ourpb.Snapshot {
	return ourpb.Snapshot{Metadata: ourpb.SnapshotMetadata{Index: 1, Term: 1,
		ConfState: ourpb.ConfState{Voters: []uint64{1, 2, 3}}}}
}

// etcdMixNode is an etcd raft v3.6 node over etcd's MemoryStorage.
type etcdMixNode struct {
	id    uint64
	s     *etcdraft.MemoryStorage
	rn    *etcdraft.RawNode
	reads int
}

func newEtcdMixNode(t *testing.T, id uint64) *etcdMixNode { return newEtcdMixNodePreVote(t, id, true) }

// newEtcdMixNodePreVote is newEtcdMixNode with Config.PreVote set to preVote.
func newEtcdMixNodePreVote(t *testing.T, id uint64, preVote bool) *etcdMixNode {
	var snap etcdpb.Snapshot
	recConvert(t, &snap, ptr(mixBootstrap()))
	s := etcdraft.NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(snap))
	rn, err := etcdraft.NewRawNode(&etcdraft.Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: s,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, PreVote: preVote, Logger: rafttest.QuietLogger{}})
	require.NoError(t, err)
	return &etcdMixNode{id: id, s: s, rn: rn}
}

func (n *etcdMixNode) tick() { n.rn.Tick() }
func (n *etcdMixNode) step(data []byte) error {
	var m etcdpb.Message
	if err := m.Unmarshal(data); err != nil {
		return err
	}
	return n.rn.Step(m)
}
func (n *etcdMixNode) ready() (msgs []ourpb.Message, applied []ourpb.Entry) {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !etcdraft.IsEmptySnap(rd.Snapshot) {
			if err := n.s.ApplySnapshot(rd.Snapshot); err != nil {
				panic(err)
			}
		}
		if !etcdraft.IsEmptyHardState(rd.HardState) {
			_ = n.s.SetHardState(rd.HardState)
		}
		if err := n.s.Append(rd.Entries); err != nil {
			panic(err)
		}
		for i := range rd.CommittedEntries {
			var e ourpb.Entry
			mustConvert(&e, &rd.CommittedEntries[i])
			applied = append(applied, e)
		}
		for i := range rd.Messages {
			var m ourpb.Message
			mustConvert(&m, &rd.Messages[i])
			msgs = append(msgs, m)
		}
		n.reads += len(rd.ReadStates)
		n.rn.Advance(rd)
	}
	return msgs, applied
}
func (n *etcdMixNode) campaign() error           { return n.rn.Campaign() }
func (n *etcdMixNode) readIndex()                { n.rn.ReadIndex([]byte("read")) }
func (n *etcdMixNode) propose(data []byte) error { return n.rn.Propose(data) }
func (n *etcdMixNode) status() mixStatus {
	st := n.rn.Status()
	last, _ := n.s.LastIndex()
	ms := mixStatus{term: st.Term, commit: st.Commit, applied: st.Applied, last: last,
		leader: st.RaftState == etcdraft.StateLeader, reads: n.reads}
	if ms.leader {
		ms.match = map[uint64]uint64{}
		for id, pr := range st.Progress {
			ms.match[id] = pr.Match
		}
	}
	return ms
}
func (n *etcdMixNode) entry(i uint64) (ourpb.Entry, bool) {
	es, err := n.s.Entries(i, i+1, 1<<30)
	if err != nil || len(es) != 1 {
		return ourpb.Entry{}, false
	}
	var e ourpb.Entry
	mustConvert(&e, &es[0])
	return e, true
}
func (n *etcdMixNode) compact() {
	applied := n.rn.Status().Applied
	if _, err := n.s.CreateSnapshot(applied, nil, nil); err != nil {
		panic(err)
	}
	if err := n.s.Compact(applied); err != nil {
		panic(err)
	}
}

// kitMixNode is a raftkit node over raftkit's MemoryStorage, with
// Config.RecoverLostState when recover is set. Like an application, it
// persists what OnRecovery reports and hands it back at restart.
type kitMixNode struct {
	reads    int
	id       uint64
	s        *ourraft.MemoryStorage
	rn       *ourraft.RawNode
	recover  bool
	tailOnly bool
	// noPreVote turns Config.PreVote off (it is on in the other scripts).
	noPreVote bool
	rec       *ourraft.Recovery
}

func newKitMixNode(t *testing.T, id uint64, recover, tailOnly bool) *kitMixNode {
	s := ourraft.NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(mixBootstrap()))
	n := &kitMixNode{id: id, s: s, recover: recover, tailOnly: tailOnly}
	require.NoError(t, n.start())
	return n
}

// start builds the node over its storage, its state machine at the
// storage's snapshot (it was lost with the process).
func (n *kitMixNode) start() error {
	snap, _ := n.s.Snapshot()
	rn, err := ourraft.NewRawNode(&ourraft.Config{ID: n.id, ElectionTick: 10, HeartbeatTick: 1, Storage: n.s,
		Applied: snap.Metadata.Index, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, PreVote: !n.noPreVote,
		Logger: rafttest.QuietLogger{}, RecoverLostState: n.recover, HardStateIndependentlyDurable: n.tailOnly,
		Recovery: n.rec, OnRecovery: func(rec ourraft.Recovery) { n.rec = &rec }})
	if err != nil {
		return err
	}
	n.rn = rn
	return nil
}

// loseTail restarts the node over a copy of its storage that keeps only
// the entries up to last. keepCommit keeps the HardState as it was, so the
// commit index is beyond the log and the node finds the loss at restart
// (D1); otherwise the commit index is clamped to last, as when the
// HardState was lost with the tail, and only a leader's heartbeat can
// reveal the loss (D2).
func (n *kitMixNode) loseTail(t *testing.T, last uint64, keepCommit bool) {
	hs, _, err := n.s.InitialState()
	require.NoError(t, err)
	snap, err := n.s.Snapshot()
	require.NoError(t, err)
	es, err := n.s.Entries(snap.Metadata.Index+1, last+1, 1<<30)
	require.NoError(t, err)
	s := ourraft.NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(snap))
	require.NoError(t, s.Append(es))
	if !keepCommit {
		hs.Commit = min(hs.Commit, last)
	}
	require.NoError(t, s.SetHardState(hs))
	n.s = s
	require.NoError(t, n.start())
}

func (n *kitMixNode) tick() { n.rn.Tick() }
func (n *kitMixNode) step(data []byte) error {
	var m ourpb.Message
	if err := m.Unmarshal(data); err != nil {
		return err
	}
	return n.rn.Step(m)
}
func (n *kitMixNode) ready() (msgs []ourpb.Message, applied []ourpb.Entry) {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !ourraft.IsEmptySnap(rd.Snapshot) {
			if err := n.s.ApplySnapshot(rd.Snapshot); err != nil {
				panic(err)
			}
		}
		if !ourraft.IsEmptyHardState(rd.HardState) {
			_ = n.s.SetHardState(rd.HardState)
		}
		if err := n.s.Append(rd.Entries); err != nil {
			panic(err)
		}
		applied = append(applied, rd.CommittedEntries...)
		msgs = append(msgs, rd.Messages...)
		n.reads += len(rd.ReadStates)
		n.rn.Advance(rd)
	}
	return msgs, applied
}
func (n *kitMixNode) campaign() error           { return n.rn.Campaign() }
func (n *kitMixNode) readIndex()                { n.rn.ReadIndex([]byte("read")) }
func (n *kitMixNode) propose(data []byte) error { return n.rn.Propose(data) }
func (n *kitMixNode) status() mixStatus {
	st := n.rn.Status()
	last, _ := n.s.LastIndex()
	ms := mixStatus{term: st.Term, commit: st.Commit, applied: st.Applied, last: last,
		leader: st.RaftState == ourraft.StateLeader, rec: st.Recovery, reads: n.reads}
	if ms.leader {
		ms.match = map[uint64]uint64{}
		for id, pr := range st.Progress {
			ms.match[id] = pr.Match
		}
	}
	return ms
}
func (n *kitMixNode) entry(i uint64) (ourpb.Entry, bool) {
	es, err := n.s.Entries(i, i+1, 1<<30)
	if err != nil || len(es) != 1 {
		return ourpb.Entry{}, false
	}
	return es[0], true
}
func (n *kitMixNode) compact() {
	applied := n.rn.Status().Applied
	if _, err := n.s.CreateSnapshot(applied, nil, nil); err != nil {
		panic(err)
	}
	if err := n.s.Compact(applied); err != nil {
		panic(err)
	}
}

// mixCluster runs three nodes of a recovery script and checks them.
type mixCluster struct {
	t     *testing.T
	nodes map[uint64]mixNode
	ids   []uint64
	// queue holds the messages sent and not yet delivered.
	queue []ourpb.Message
	// cut drops every message from the first node of a pair to the second.
	cut map[[2]uint64]bool
	// observe, if set, sees every message sent, delivered or not.
	observe func(m ourpb.Message)
	// committed is every entry a node held committed or applied, by index.
	committed map[uint64]mixEntry
	// leaders is the leader of each term seen.
	leaders map[uint64]uint64
}

type mixEntry struct {
	term uint64
	data string
}

func newMixCluster(t *testing.T, nodes ...mixNode) *mixCluster {
	c := &mixCluster{t: t, nodes: map[uint64]mixNode{}, cut: map[[2]uint64]bool{},
		committed: map[uint64]mixEntry{}, leaders: map[uint64]uint64{}}
	for i, n := range nodes {
		id := uint64(i + 1)
		c.nodes[id] = n
		c.ids = append(c.ids, id)
	}
	return c
}

// isolate cuts (or, with on false, heals) every link of node id.
func (c *mixCluster) isolate(id uint64, on bool) {
	for _, o := range c.ids {
		if o != id {
			c.cut[[2]uint64{id, o}] = on
			c.cut[[2]uint64{o, id}] = on
		}
	}
}

// round processes every node's Ready, checks the cluster, and delivers
// what the nodes sent. It returns the number of messages sent.
func (c *mixCluster) round() int {
	n := 0
	for _, id := range c.ids {
		msgs, applied := c.nodes[id].ready()
		for _, e := range applied {
			c.agree(id, e, "applied")
		}
		for _, m := range msgs {
			if c.observe != nil {
				c.observe(m)
			}
			c.queue = append(c.queue, m)
		}
		n += len(msgs)
	}
	c.check()
	q := c.queue
	c.queue = nil
	for _, m := range q {
		if c.cut[[2]uint64{m.From, m.To}] {
			continue
		}
		data, err := m.Marshal()
		require.NoError(c.t, err)
		dst := c.nodes[m.To]
		// Every message is accepted: decoded by the receiver's raftpb and
		// stepped without error.
		require.NoError(c.t, dst.step(data), "node %d (%T) steps %s from %d: %+v", m.To, dst, m.Type, m.From, m)
	}
	return n
}

// pump runs rounds rounds and returns the number of messages sent. It
// stops after rounds even if messages keep flowing, so that a script can
// count a message storm instead of hanging in it.
func (c *mixCluster) pump(rounds int) int {
	n := 0
	for i := 0; i < rounds; i++ {
		n += c.round()
	}
	return n
}

// stabilize runs rounds until no message is sent; a script whose
// messages do not die down within 50 rounds fails.
func (c *mixCluster) stabilize() {
	for i := 0; i < 50; i++ {
		if c.round() == 0 && len(c.queue) == 0 {
			return
		}
	}
	c.t.Fatalf("messages still flowing after 50 rounds")
}

// tick ticks every node once and runs rounds rounds; it returns the
// messages sent.
func (c *mixCluster) tick(rounds int) int {
	for _, id := range c.ids {
		c.nodes[id].tick()
	}
	return c.pump(rounds)
}

// agree checks that entry e of node id is the one every other node holds
// committed at its index.
func (c *mixCluster) agree(id uint64, e ourpb.Entry, what string) {
	got := mixEntry{term: e.Term, data: string(e.Data)}
	if want, ok := c.committed[e.Index]; ok {
		require.Equal(c.t, want, got, "node %d %s entry %d: committed entries disagree", id, what, e.Index)
		return
	}
	c.committed[e.Index] = got
}

// check compares every node's committed entries with the others', at
// every index its storage still holds, and records the leader of each
// term.
func (c *mixCluster) check() {
	for _, id := range c.ids {
		n := c.nodes[id]
		st := n.status()
		require.LessOrEqual(c.t, st.commit, st.last, "node %d: commit index within the log", id)
		for i := st.commit; i > 1; i-- {
			e, ok := n.entry(i)
			if !ok {
				break // compacted
			}
			c.agree(id, e, "committed")
		}
		if st.leader {
			if l, ok := c.leaders[st.term]; ok {
				require.Equal(c.t, l, id, "two leaders in term %d", st.term)
			}
			c.leaders[st.term] = id
		}
	}
}

// propose proposes n entries on node id, each followed by a stabilization.
func (c *mixCluster) propose(id uint64, n int, prefix string) {
	for i := 0; i < n; i++ {
		require.NoError(c.t, c.nodes[id].propose([]byte(fmt.Sprintf("%s%d", prefix, i))))
		c.stabilize()
	}
}

// mustConvert copies src into dst through the wire encoding, as the two
// libraries' types are wire-identical.
func mustConvert(dst, src interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}) {
	data, err := src.Marshal()
	if err != nil {
		panic(err)
	}
	if err := dst.Unmarshal(data); err != nil {
		panic(err)
	}
}

func recConvert(t *testing.T, dst, src interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}) {
	data, err := src.Marshal()
	require.NoError(t, err)
	require.NoError(t, dst.Unmarshal(data))
}

func ptr[T any](v T) *T { return &v }

// isVoteResp reports whether m answers a vote or a pre-vote.
func isVoteResp(m ourpb.Message) bool {
	return m.Type == ourpb.MsgVoteResp || m.Type == ourpb.MsgPreVoteResp
}

// regressedCluster builds node 1, the leader at term 1 (an etcd node with
// etcdLeader, else a raftkit one), node 2, an etcd follower, and node 3, a raftkit follower C with RecoverLostState (and
// HardStateIndependentlyDurable when tailOnly), commits ten entries (C's
// log and Match then reach 12), and makes C lose the entries above 7. With
// keepCommit, C's HardState keeps commit 12, beyond its log (D1);
// otherwise it is clamped to 7, and the leader's next heartbeat commits
// beyond C's log (D2).
func regressedCluster(t *testing.T, etcdLeader, tailOnly, keepCommit bool) (*mixCluster, *kitMixNode) {
	c3 := newKitMixNode(t, 3, true, tailOnly)
	var n1 mixNode
	if etcdLeader {
		n1 = newEtcdMixNode(t, 1)
	} else {
		n1 = newKitMixNode(t, 1, false, false)
	}
	c := newMixCluster(t, n1, newEtcdMixNode(t, 2), c3)
	require.NoError(t, c.nodes[1].campaign())
	c.stabilize()
	c.propose(1, 10, "v")
	st := c.nodes[1].status()
	require.True(t, st.leader)
	require.Equal(t, uint64(1), st.term)
	require.Equal(t, uint64(12), st.commit)
	require.Equal(t, uint64(12), st.match[3])
	require.Equal(t, uint64(12), c3.status().last)

	c3.loseTail(t, 7, keepCommit)
	require.Equal(t, uint64(7), c3.status().last)
	return c, c3
}

// watchQuarantine makes c check every message C (node 3) sends: while C
// is quarantined, each answer to a vote or a pre-vote is a rejection
// (rule Q1), and C sends no vote request (rule Q2). It returns the number
// of vote answers seen in quarantine.
func watchQuarantine(c *mixCluster, c3 *kitMixNode) *int {
	votes := new(int)
	c.observe = func(m ourpb.Message) {
		if m.From != 3 || !c3.status().rec.Quarantined {
			return
		}
		if isVoteResp(m) {
			*votes++
			assert.True(c.t, m.Reject, "quarantined C rejects every vote and pre-vote (Q1): %+v", m)
		}
		assert.NotContains(c.t, []ourpb.MessageType{ourpb.MsgVote, ourpb.MsgPreVote}, m.Type,
			"quarantined C never campaigns (Q2): %+v", m)
		if m.Type == ourpb.MsgHeartbeatResp && c3.status().rec.Kind == ourraft.StateLoss && len(m.Context) > 0 {
			// Its only Context is its recovery signal (E2), which no
			// read round can match (TestEtcdLeaderTakesNoReadAckFromAQuarantinedRaftkitFollower).
			assert.True(c.t, bytes.HasPrefix(m.Context, []byte("rkrec/")),
				"after a StateLoss, C confirms no read round (S2): %+v", m)
		}
	}
	return votes
}

// caughtUp reports whether C applied all that node lead applied.
func caughtUp(c *mixCluster, lead uint64) bool {
	return c.nodes[3].status().applied == c.nodes[lead].status().applied
}

// TestQuarantinedFollowerUnderEtcdLeader: a raftkit follower C that lost
// the tail of its log (entries 8 to 12, all committed and acknowledged)
// rejoins a cluster whose leader and other follower are etcd raft v3.6
// nodes, for each kind of loss (TailLoss, StateLoss), each detection (D1
// at restart, D2 by the leader's heartbeat) and each way the cluster can
// repair it. Every message C sends is decoded and stepped by etcd without
// error, no node panics, the committed entries of all nodes agree at every
// index after every round, C rejects every vote and pre-vote and never
// campaigns while quarantined (watchQuarantine), and C ends caught up.
//
// It also pins what an etcd leader does with C:
//   - It ignores the Reject of C's heartbeat responses (rule L2 is for
//     raftkit leaders): its Match for C stays 12, and an idle cluster
//     leaves C at its last index 7, four messages per tick, indefinitely.
//   - Once it has new entries, its probe at Match+1 is rejected, and as
//     etcd's Progress.MaybeDecrTo never probes below Match+1, it probes
//     there again on every rejection, and each heartbeat response starts
//     one more such exchange (the message storm of issue 16, an etcd
//     leader's own, which rule L1 fixes in raftkit leaders). C answers one
//     rejection of that probe per tick (rule L3), so the exchanges end
//     and the messages per tick stay bounded; C never catches up while
//     that leader leads.
//   - The repair then waits for a leader change (the new leader's
//     Progress starts from nothing and probes down to C's log, in one
//     tick) or for the leader to compact its log past Match (its next
//     probe turns into a snapshot). A same-term snapshot repairs C's log
//     but does not end a TailLoss quarantine (rule E1 wants an entry of a
//     term above the one the loss was found in); a leader change, or a
//     snapshot of a later term, does. A StateLoss quarantine never ends by
//     itself (an etcd leader runs no handshake, E2), but C still catches up and follows.
func TestQuarantinedFollowerUnderEtcdLeader(t *testing.T) {
	for _, kind := range []ourraft.RegressionKind{ourraft.TailLoss, ourraft.StateLoss} {
		for _, d1 := range []bool{true, false} {
			for _, repair := range []string{"leader change", "same-term snapshot", "later-term snapshot"} {
				t.Run(fmt.Sprintf("%s/D1=%t/%s", kind, d1, repair), func(t *testing.T) {
					c, c3 := regressedCluster(t, true, kind == ourraft.TailLoss, d1)
					votes := watchQuarantine(c, c3)
					if d1 {
						// D1: the HardState's commit 12 is beyond the log.
						assert.Equal(t, ourraft.Recovery{Quarantined: true, Kind: kind, Cause: ourraft.CauseRestart,
							LostFrom: 8, LostTo: 12, Term: 1}, withoutNonce(c3.status().rec), "D1: quarantined at restart")
					} else {
						require.False(t, c3.status().rec.Quarantined, "D2: the loss is invisible at restart")
					}

					// Idle: heartbeats only. The etcd leader's heartbeats
					// commit min(Match, committed) = 12, beyond C's log:
					// C rejects them (L2), and etcd ignores the rejection.
					for i := 0; i < 10; i++ {
						assert.Equal(t, 4, c.tick(3), "idle tick %d: heartbeats and their answers only", i)
					}
					if !d1 {
						assert.Equal(t, ourraft.Recovery{Quarantined: true, Kind: kind, Cause: ourraft.CauseHeartbeat,
							LostFrom: 8, LostTo: 12, Term: 1}, withoutNonce(c3.status().rec), "D2: the heartbeat quarantines C")
					}
					assert.Equal(t, uint64(12), c.nodes[1].status().match[3], "etcd ignores the rejected heartbeat answers")
					assert.Equal(t, uint64(7), c3.status().last, "C is not repaired by an idle etcd leader")
					// A read round: the etcd follower confirms it, C echoes
					// it only after a TailLoss (S2, watchQuarantine).
					reads := c.nodes[1].status().reads
					c.nodes[1].readIndex()
					c.pump(3)
					assert.Equal(t, reads+1, c.nodes[1].status().reads, "the etcd leader answers the read")
					assert.ErrorIs(t, c3.campaign(), ourraft.ErrQuarantined)

					// New entries: the leader commits them with the etcd
					// follower alone; its probes of C at Match+1 are
					// rejected, once a tick.
					var perTick []int
					for i := 0; i < 5; i++ {
						require.NoError(t, c.nodes[1].propose([]byte(fmt.Sprintf("w%d", i))))
						perTick = append(perTick, c.tick(3))
					}
					for i := 0; i < 10; i++ {
						perTick = append(perTick, c.tick(3))
					}
					t.Logf("etcd leader, messages per tick after new entries: %v", perTick)
					assert.Equal(t, uint64(17), c.nodes[1].status().commit, "the leader commits with its etcd follower")
					assert.Equal(t, uint64(7), c3.status().last, "the etcd leader does not repair C")
					assert.True(t, c3.status().rec.Quarantined)
					// The etcd leader probes C at Match+1 on every
					// rejection and heartbeat answer; C answers one
					// rejection of it per tick (L3), so the exchanges do
					// not pile up (they grew by one per heartbeat before).
					for i, n := range perTick[5:] {
						assert.LessOrEqual(t, n, perTick[0], "messages at tick %d after the proposals stay bounded", i)
					}

					lead := uint64(1)
					switch repair {
					case "leader change":
						// The etcd follower campaigns; the old leader votes
						// for it, C refuses (Q1).
						require.NoError(t, c.nodes[2].campaign())
						c.pump(3)
						lead = 2
						assert.Greater(t, *votes, 0, "C answered the pre-vote and the vote, with rejections")
					case "same-term snapshot":
						c.nodes[1].compact()
					case "later-term snapshot":
						// The leader changes while C is cut off, and the new
						// leader compacts its log before it reaches C.
						c.isolate(3, true)
						c.pump(3)
						require.NoError(t, c.nodes[2].campaign())
						c.stabilize()
						lead = 2
						c.propose(2, 3, "x")
						c.nodes[2].compact()
						c.isolate(3, false)
					}
					ticks := 0
					for ; ticks < 20 && !caughtUp(c, lead); ticks++ {
						c.tick(3)
					}
					t.Logf("%s: C caught up in %d ticks", repair, ticks)
					require.True(t, caughtUp(c, lead), "C caught up with leader %d", lead)
					require.True(t, c.nodes[lead].status().leader)
					c.propose(lead, 3, "y")
					c.stabilize()
					require.True(t, caughtUp(c, lead))

					rec := c3.status().rec
					if kind == ourraft.TailLoss && repair != "same-term snapshot" {
						assert.False(t, rec.Quarantined, "E1: an entry of a later term ends a TailLoss quarantine")
						// C votes and leads again.
						require.NoError(t, c3.campaign())
						c.stabilize()
						assert.True(t, c3.status().leader, "C, out of quarantine, wins an election")
						c.propose(3, 3, "z")
						assert.True(t, caughtUp(c, 1) && caughtUp(c, 2))
						return
					}
					assert.True(t, rec.Quarantined, "no fence yet: C stays quarantined")
					assert.NotEmpty(t, rec.WaitingFor())
					assert.ErrorIs(t, c3.campaign(), ourraft.ErrQuarantined)
					// C refuses to elect the other follower (Q1).
					other := 3 - lead
					c.pump(1)
					require.NoError(t, c.nodes[other].campaign())
					c.stabilize()
					assert.Greater(t, *votes, 0)
					assert.True(t, c.nodes[other].status().leader, "the two etcd nodes elect one of them")
					c.propose(other, 2, "u")
					assert.True(t, caughtUp(c, other))
				})
			}
		}
	}
}

// TestRegressedFollowerUnderRaftkitLeaderWithEtcdFollower: a raftkit
// leader, an etcd raft v3.6 follower, and a raftkit follower C that lost
// the tail of its log (entries 8 to 12) and is quarantined. (The regressed
// follower is raftkit's: an etcd follower cannot restart over a lost tail,
// and panics on a heartbeat committing beyond its log, see
// TestEtcdCannotRejoinOverALostTail.) It pins:
//   - L1/L2: the leader repairs C at once, idle or not: C's rejection (of
//     the heartbeat committing beyond its log, or of an append) proves it
//     lacks the entry at Match, so the leader lowers Match and probes from
//     where C's log ends; C holds the leader's log after the first tick.
//   - No storm: the messages per tick stay those of a healthy cluster
//     (under an etcd leader they grow every tick, see
//     TestQuarantinedFollowerUnderEtcdLeader).
//   - The etcd follower rejects nothing it is sent (no rejected MsgAppResp)
//     and steps every message without error; no node panics; the
//     committed entries agree at every index after every round.
//   - The leader keeps committing with the etcd follower while C is
//     quarantined, and after a StateLoss C acknowledges nothing above the
//     leader's commit index (S1), so its acknowledgements never decide a
//     commit; C rejects every vote and pre-vote and never campaigns (Q1,
//     Q2).
//   - E2: the raftkit leader fences C in its own term through the
//     handshake (both kinds), with the etcd follower as the quorum that
//     commits the fence; fenced, C votes again.
func TestRegressedFollowerUnderRaftkitLeaderWithEtcdFollower(t *testing.T) {
	for _, kind := range []ourraft.RegressionKind{ourraft.TailLoss, ourraft.StateLoss} {
		for _, d1 := range []bool{true, false} {
			for _, idle := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/D1=%t/idle=%t", kind, d1, idle), func(t *testing.T) {
					c, c3 := regressedCluster(t, false, kind == ourraft.TailLoss, d1)
					watchQuarantine(c, c3)
					quarantineWatch := c.observe
					probes := 0
					c.observe = func(m ourpb.Message) {
						quarantineWatch(m)
						if m.From == 2 && (m.Type == ourpb.MsgAppResp || m.Type == ourpb.MsgHeartbeatResp) {
							assert.False(t, m.Reject, "the etcd follower rejects nothing: %+v", m)
						}
						if m.From == 1 && m.To == 3 && m.Type == ourpb.MsgApp && m.Index < 12 {
							probes++ // L1: a probe below the Match the leader had for C
						}
						if m.From == 3 && m.Type == ourpb.MsgAppResp && !m.Reject && kind == ourraft.StateLoss && c3.status().rec.Quarantined {
							assert.LessOrEqual(t, m.Index, c.nodes[1].status().commit, "S1: C acknowledges only what the leader committed")
						}
					}
					require.Equal(t, d1, c3.status().rec.Quarantined)
					// first is the quarantine as C first reported it.
					var first ourraft.Recovery
					recordFirst := c.observe
					c.observe = func(m ourpb.Message) {
						recordFirst(m)
						if rec := c3.status().rec; rec.Quarantined && !first.Quarantined {
							first = rec
						}
					}

					var perTick []int
					for i := 0; i < 10; i++ {
						if !idle && i%2 == 0 {
							require.NoError(t, c.nodes[1].propose([]byte(fmt.Sprintf("w%d", i))))
						}
						perTick = append(perTick, c.tick(3))
						if i == 1 {
							assert.True(t, caughtUp(c, 1), "C is repaired in the first two ticks")
							assert.Greater(t, probes, 0, "L1: the leader probed C below its old Match")
						}
					}
					t.Logf("raftkit leader, messages per tick: %v", perTick)
					for i, n := range perTick {
						// A healthy cluster sends 4 messages in an idle tick
						// and 12 in one with a proposal; the ticks of the
						// handshake carry the fence entry's append and
						// its answers too (E2).
						assert.LessOrEqual(t, n, 16, "tick %d: no storm", i)
					}
					for i, n := range perTick[6:] {
						assert.LessOrEqual(t, n, 12, "tick %d, after the handshake: a healthy cluster's count", i+6)
					}
					require.True(t, first.Quarantined, "C was quarantined (D1 at restart, D2 by the heartbeat)")
					cause := ourraft.CauseRestart
					if !d1 {
						cause = ourraft.CauseHeartbeat
					}
					assert.Equal(t, ourraft.Recovery{Quarantined: true, Kind: kind, Cause: cause, LostFrom: 8, LostTo: 12, Term: 1}, withoutNonce(first))
					assert.NotZero(t, first.Nonce, "a quarantine carries the nonce of its handshake")
					assert.False(t, c3.status().rec.Quarantined,
						"E2: the raftkit leader's handshake fences C in its own term, next to an etcd follower")
					commit := c.nodes[1].status().commit
					c.propose(1, 3, "x")
					assert.Equal(t, commit+3, c.nodes[1].status().commit, "the leader keeps committing")
					assert.True(t, caughtUp(c, 1))
					assert.Equal(t, c.nodes[1].status().match[3], c.nodes[1].status().last, "the leader's Match for C is back")

					// Fenced, C votes again: leadership moves to the etcd
					// follower with both raftkit nodes' votes.
					require.NoError(t, c.nodes[2].campaign())
					c.stabilize()
					require.True(t, c.nodes[2].status().leader)
					c.propose(2, 2, "y")
					assert.True(t, caughtUp(c, 2))
					assert.False(t, c3.status().rec.Quarantined)
				})
			}
		}
	}
}

// withoutNonce returns rec with its nonce cleared, for comparisons: the
// nonce is drawn at random when the quarantine begins.
func withoutNonce(rec ourraft.Recovery) ourraft.Recovery {
	rec.Nonce = 0
	return rec
}

// TestEtcdCannotRejoinOverALostTail pins why the regressed node of the
// mixed tests is always a raftkit one: etcd raft v3.6 panics when it
// restarts with a commit index beyond its log ("state.commit is out of
// range"), and, restarted with the commit index clamped, on the first
// heartbeat that commits beyond its log ("tocommit(12) is out of range"),
// by design. It is the one test here that recovers a panic.
func TestEtcdCannotRejoinOverALostTail(t *testing.T) {
	c3 := newKitMixNode(t, 3, true, true)
	c := newMixCluster(t, newKitMixNode(t, 1, false, false), newEtcdMixNode(t, 2), c3)
	require.NoError(t, c.nodes[1].campaign())
	c.stabilize()
	c.propose(1, 10, "v")
	e := c.nodes[2].(*etcdMixNode)
	hs, _, err := e.s.InitialState()
	require.NoError(t, err)
	require.Equal(t, uint64(12), hs.Commit)
	es, err := e.s.Entries(2, 8, 1<<30)
	require.NoError(t, err)

	restart := func(commit uint64) *etcdraft.RawNode {
		var snap etcdpb.Snapshot
		recConvert(t, &snap, ptr(mixBootstrap()))
		s := etcdraft.NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(snap))
		require.NoError(t, s.Append(es))
		h := hs
		h.Commit = commit
		require.NoError(t, s.SetHardState(h))
		rn, err := etcdraft.NewRawNode(&etcdraft.Config{ID: 2, ElectionTick: 10, HeartbeatTick: 1, Storage: s,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, Logger: rafttest.QuietLogger{}})
		require.NoError(t, err)
		return rn
	}
	assert.PanicsWithValue(t, "2 state.commit 12 is out of range [1, 7]", func() { restart(12) }, "D1: etcd panics at restart")
	rn := restart(7)
	assert.Panics(t, func() {
		_ = rn.Step(etcdpb.Message{Type: etcdpb.MsgHeartbeat, From: 1, To: 2, Term: hs.Term, Commit: 12})
	}, "D2: etcd panics on a heartbeat committing beyond its log")
}

// TestQuarantinedFollowerRestoredFromOlderCopyUnderEtcdLeader: C's disk
// is restored from an older copy whose log holds entries that were
// replaced since: entries 8 and 9 of term 2, appended while C led alone,
// which the cluster replaced by entries of term 3 that C then acknowledged
// (up to 12). The older copy's HardState commits 7, within its log, so C
// restarts unaware (no D1); the etcd leader's heartbeat commits 12, beyond
// C's log, and quarantines it (D2, StateLoss). The heartbeat must not
// commit what C's log holds up to 9 (rule Q3: the leader's Match predates
// the loss and describes other entries): only appends raise C's commit
// index, and the committed entries of all nodes agree at every index.
func TestQuarantinedFollowerRestoredFromOlderCopyUnderEtcdLeader(t *testing.T) {
	c3 := newKitMixNode(t, 3, true, false)
	c := newMixCluster(t, newEtcdMixNode(t, 1), newEtcdMixNode(t, 2), c3)
	require.NoError(t, c.nodes[1].campaign())
	c.stabilize()
	c.propose(1, 5, "v") // entries 3 to 7, term 1

	// C wins term 2, and is cut off before its first append goes out.
	require.NoError(t, c3.campaign())
	for i := 0; i < 10 && !c3.status().leader; i++ {
		c.round()
	}
	require.True(t, c3.status().leader)
	c.isolate(3, true)
	require.NoError(t, c3.propose([]byte("stale")))
	c.pump(3)
	require.Equal(t, uint64(9), c3.status().last, "C holds 8 and 9 of term 2, uncommitted")
	older := copyKitStorage(t, c3.s)

	// Node 1 leads term 3 with node 2 and commits 8 to 12 of its own.
	require.NoError(t, c.nodes[1].campaign())
	c.stabilize()
	require.True(t, c.nodes[1].status().leader)
	c.propose(1, 4, "w")
	c.isolate(3, false)
	for i := 0; i < 5; i++ {
		c.tick(3)
	}
	c.stabilize()
	require.Equal(t, uint64(12), c.nodes[1].status().match[3], "C acknowledged the new entries 8 to 12")
	e, ok := c3.entry(8)
	require.True(t, ok)
	require.Equal(t, uint64(3), e.Term)

	// C restarts from the older copy.
	c3.s = older
	require.NoError(t, c3.start())
	require.False(t, c3.status().rec.Quarantined)
	watchQuarantine(c, c3)
	c.tick(3)
	rec := c3.status().rec
	assert.Equal(t, ourraft.Recovery{Quarantined: true, Kind: ourraft.StateLoss, Cause: ourraft.CauseHeartbeat,
		LostFrom: 10, LostTo: 12, Term: 3}, withoutNonce(rec))
	assert.Equal(t, uint64(7), c3.status().commit, "Q3: the heartbeat does not commit C's replaced entries")

	// The etcd leader does not repair C (its probes stop at Match+1);
	// a leader change does, through appends that replace 8 and 9.
	for i := 0; i < 5; i++ {
		c.tick(3)
	}
	assert.Equal(t, uint64(7), c3.status().commit)
	require.NoError(t, c.nodes[2].campaign())
	c.pump(3)
	for i := 0; i < 5 && !caughtUp(c, 2); i++ {
		c.tick(3)
	}
	require.True(t, caughtUp(c, 2))
	c.propose(2, 2, "x")
	assert.True(t, caughtUp(c, 2))
	e, ok = c3.entry(8)
	require.True(t, ok)
	assert.Equal(t, uint64(3), e.Term, "the replaced entries are gone")
	assert.True(t, c3.status().rec.Quarantined, "a StateLoss quarantine does not end by itself")
}

// copyKitStorage returns a copy of s, as a backup of the disk would be.
func copyKitStorage(t *testing.T, s *ourraft.MemoryStorage) *ourraft.MemoryStorage {
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	snap, err := s.Snapshot()
	require.NoError(t, err)
	last, err := s.LastIndex()
	require.NoError(t, err)
	es, err := s.Entries(snap.Metadata.Index+1, last+1, 1<<30)
	require.NoError(t, err)
	cp := ourraft.NewMemoryStorage()
	require.NoError(t, cp.ApplySnapshot(snap))
	require.NoError(t, cp.Append(es))
	require.NoError(t, cp.SetHardState(hs))
	return cp
}

// newCannotCampaignCluster returns two etcd nodes without PreVote and a
// raftkit node 3 (RecoverLostState as recover) that cannot campaign: its
// storage is empty but for term 5, from a vote for a node 4 that is gone.
func newCannotCampaignCluster(t *testing.T, recover bool) (*mixCluster, *kitMixNode) {
	s := ourraft.NewMemoryStorage()
	require.NoError(t, s.SetHardState(ourpb.HardState{Term: 5, Vote: 4}))
	c3 := &kitMixNode{id: 3, s: s, recover: recover, noPreVote: true}
	require.NoError(t, c3.start())
	return newMixCluster(t, newEtcdMixNodePreVote(t, 1, false), newEtcdMixNodePreVote(t, 2, false), c3), c3
}

// TestEtcdLeaderStepsDownOnceForANodeThatCannotCampaign: rule T1 under
// etcd leaders (rafttest seed 347271). Node 3, a raftkit node with
// RecoverLostState, has an empty storage (no configuration yet, so it
// cannot campaign) and term 5, from a vote for a candidate that is gone
// since; no node runs CheckQuorum or PreVote. The etcd leader of term 1
// steps down at 3's answer to its first append, as it does under
// CheckQuorum; elected again at term 6, it snapshots 3, and the cluster
// stays at that term. Without the option, 3 ignores the leader in
// silence, as an etcd node does, and never gets its configuration.
func TestEtcdLeaderStepsDownOnceForANodeThatCannotCampaign(t *testing.T) {
	for _, recover := range []bool{true, false} {
		t.Run(fmt.Sprintf("RecoverLostState=%t", recover), func(t *testing.T) {
			c, c3 := newCannotCampaignCluster(t, recover)
			answers := 0
			c.observe = func(m ourpb.Message) {
				if m.From == 3 && m.Type == ourpb.MsgAppResp && m.Term == 5 {
					answers++
				}
			}
			// 3 is cut off during the election: with the option it would
			// reject the vote at its term (see
			// TestEtcdCandidateLearnsTheTermOfANodeThatCannotCampaign).
			c.isolate(3, true)
			require.NoError(t, c.nodes[1].campaign())
			c.stabilize()
			c.isolate(3, false)
			require.Equal(t, uint64(1), c.leaders[1], "node 1 led term 1")
			c.tick(3) // a heartbeat reaches 3
			if !recover {
				for i := 0; i < 30; i++ {
					c.tick(3)
				}
				assert.Zero(t, answers, "etcd raft's silence")
				assert.True(t, c.nodes[1].status().leader)
				assert.Equal(t, uint64(1), c.nodes[1].status().term)
				assert.Equal(t, uint64(5), c3.status().term)
				assert.Zero(t, c3.status().last, "3 never gets its configuration")
				return
			}
			assert.Equal(t, 1, answers, "3 answered the first heartbeat with its term")
			st := c.nodes[1].status()
			assert.False(t, st.leader, "the etcd leader stepped down")
			assert.Equal(t, uint64(5), st.term)
			// Its election timeout would do the same, at a random tick.
			require.NoError(t, c.nodes[1].campaign())
			c.stabilize()
			lead := c.leaders[6]
			require.Equal(t, uint64(1), lead, "node 1 leads term 6, with 3's vote")
			for i := 0; i < 30; i++ {
				c.tick(3)
			}
			c.propose(lead, 2, "v")
			assert.True(t, caughtUp(c, lead), "3 got the snapshot and the entries")
			for _, id := range c.ids {
				assert.Equal(t, uint64(6), c.nodes[id].status().term, "node %d: no election after term 6", id)
			}
			assert.Equal(t, 1, answers, "3 told its term once")
		})
	}
}

// TestEtcdCandidateLearnsTheTermOfANodeThatCannotCampaign: rule T1 for a
// vote (rafttest seed 389513). Node 3, a raftkit node with
// RecoverLostState, has an empty storage (it cannot campaign) and term 5;
// the etcd node 1 campaigns at term 1 and hears only from 3 (its link
// with 2 is cut). etcd raft ignores a lower-term vote in silence, so
// without the option 1 stays a candidate of term 1 and learns nothing;
// with it, 3 rejects the vote at term 5, 1 becomes a follower of term 5
// and wins term 6 with 3's vote at its next campaign.
func TestEtcdCandidateLearnsTheTermOfANodeThatCannotCampaign(t *testing.T) {
	for _, recover := range []bool{true, false} {
		t.Run(fmt.Sprintf("RecoverLostState=%t", recover), func(t *testing.T) {
			c, c3 := newCannotCampaignCluster(t, recover)
			c.cut[[2]uint64{1, 2}], c.cut[[2]uint64{2, 1}] = true, true
			var rejections []ourpb.Message
			c.observe = func(m ourpb.Message) {
				if m.From == 3 && m.Type == ourpb.MsgVoteResp {
					rejections = append(rejections, m)
				}
			}
			require.NoError(t, c.nodes[1].campaign())
			c.stabilize()
			st := c.nodes[1].status()
			if !recover {
				assert.Empty(t, rejections, "etcd raft's silence")
				assert.Equal(t, uint64(1), st.term, "1 learned nothing")
				return
			}
			require.Len(t, rejections, 1)
			assert.Equal(t, ourpb.Message{From: 3, To: 1, Type: ourpb.MsgVoteResp, Term: 5, Reject: true}, rejections[0],
				"a rejection carrying 3's term, and nothing else")
			assert.Equal(t, uint64(5), st.term, "1 took 3's term")
			assert.False(t, st.leader)
			require.NoError(t, c.nodes[1].campaign())
			c.stabilize()
			assert.Equal(t, uint64(1), c.leaders[6], "node 1 leads term 6, with 3's vote")
			assert.Equal(t, uint64(6), c3.status().term)
		})
	}
}
