package raft

import (
	"testing"
	"time"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The leader lease of ReadOnlyLeaseBased (docs/design/lease.md): one test
// per rule, and one per known way in which etcd raft's implicit lease
// serves a stale read. With ElectionTick 10, HeartbeatTick 1 and the
// default drift margin of one tick, the lease lasts L = 8 ticks and
// 8 * leaseTick of clock time from the send of the acknowledged heartbeat.

const leaseTick = 100 * time.Millisecond

// fakeClock is a Config.Clock that moves only when told.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

// leaseConfig configures lease reads bounded by clk.
func leaseConfig(clk *fakeClock) func(*Config) {
	return func(c *Config) {
		c.ReadOnlyOption = ReadOnlyLeaseBased
		c.CheckQuorum = true
		c.TickInterval = leaseTick
		c.Clock = clk.Now
	}
}

// newLeaseLeader returns node 1, leader at term 1 of voters 1..size with an
// entry of its term committed, in lease mode, and its clock. It holds no
// lease yet: no heartbeat was acknowledged.
func newLeaseLeader(t *testing.T, size int, opts ...func(*Config)) (*testNode, *fakeClock) {
	var ids, others []uint64
	for i := 1; i <= size; i++ {
		ids = append(ids, uint64(i))
		if i > 1 {
			others = append(others, uint64(i))
		}
	}
	clk := newFakeClock()
	n := newTestNode(t, 1, voters(ids...), nil, append([]func(*Config){leaseConfig(clk)}, opts...)...)
	n.becomeLeader(others...)
	n.ackAll(others...)
	require.True(t, n.r.committedEntryInCurrentTerm())
	require.False(t, n.Status().LeaseValid, "no heartbeat acknowledged yet")
	return n, clk
}

// tickN ticks the node k times, the clock moving one TickInterval with
// each, and returns what it sent.
func (n *testNode) tickN(clk *fakeClock, k int) []pb.Message {
	var msgs []pb.Message
	for i := 0; i < k; i++ {
		clk.now = clk.now.Add(leaseTick)
		n.Tick()
		msgs = append(msgs, n.flush()...)
	}
	return msgs
}

// renewLease ticks once, which sends a heartbeat round, and has the given
// peers acknowledge it.
func (n *testNode) renewLease(clk *fakeClock, ids ...uint64) {
	msgs := n.tickN(clk, 1)
	require.NotEmpty(n.t, filterMsgs(msgs, pb.MsgHeartbeat))
	n.ackHeartbeats(msgs, ids...)
	n.flush()
}

// leaseRead asks for a read and reports whether it was answered at once,
// under the lease. A read that is not takes the safe round: a heartbeat
// round goes out and no answer comes before it is acknowledged. Answers
// to earlier reads are discarded first.
func (n *testNode) leaseRead(ctx string) bool {
	n.readStates()
	n.ReadIndex([]byte(ctx))
	msgs := n.flush()
	rs := n.readStates()
	if len(rs) > 0 {
		require.Empty(n.t, filterMsgs(msgs, pb.MsgHeartbeat), "a lease read sends nothing")
		require.Equal(n.t, []ReadState{{Index: n.r.raftLog.committed, RequestCtx: []byte(ctx)}}, rs)
		return true
	}
	require.NotEmpty(n.t, filterMsgs(msgs, pb.MsgHeartbeat), "an unanswered read takes the safe round")
	return false
}

// Rule 4: inside the lease a read is answered at once, and Status says
// so.
func TestLeaseReadServedAtOnceInsideLease(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2)
	assert.True(t, n.Status().LeaseValid)
	assert.True(t, n.leaseRead("r"))
}

// Rule 4: without a lease the read takes the safe heartbeat round and is
// answered once a quorum acknowledged it, never at once.
func TestLeaseReadFallsBackToSafeRound(t *testing.T) {
	n, _ := newLeaseLeader(t, 3)
	commit := n.r.raftLog.committed
	n.ReadIndex([]byte("r"))
	msgs := n.flush()
	require.NotEmpty(t, filterMsgs(msgs, pb.MsgHeartbeat))
	require.Empty(t, n.readStates())
	// The acknowledgement of the read's round answers the read, and earns
	// a lease from the round's send.
	n.ackHeartbeats(msgs, 3)
	assert.Equal(t, []ReadState{{Index: commit, RequestCtx: []byte("r")}}, n.readStates())
	assert.True(t, n.Status().LeaseValid)
}

// Rule 3: without TickInterval the lease cannot be bounded in real time:
// every read takes the safe round, however many heartbeats were
// acknowledged.
func TestLeaseNeedsTickInterval(t *testing.T) {
	n, clk := newLeaseLeader(t, 3, func(c *Config) { c.TickInterval = 0 })
	n.renewLease(clk, 2, 3)
	assert.False(t, n.Status().LeaseValid)
	assert.False(t, n.leaseRead("r"))
}

// Rules 2 and 3: the lease lasts L ticks from the send of the acknowledged
// heartbeat, not from the arrival of the acknowledgement: a slow
// acknowledgement must not extend it past the followers' promise, which
// started when they received the heartbeat.
func TestLeaseIsMeasuredFromTheSend(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	sent := n.tickN(clk, 1) // round sent at leader tick 1
	n.tickN(clk, 5)         // later rounds, never acknowledged
	n.ackHeartbeats(sent, 2)
	n.flush()
	require.True(t, n.Status().LeaseValid)
	n.tickN(clk, 2) // 7 ticks since the send
	assert.True(t, n.leaseRead("at 7"))
	n.tickN(clk, 1) // 8 ticks since the send: the lease is over
	assert.False(t, n.Status().LeaseValid)
	assert.False(t, n.leaseRead("at 8"))
}

// Rule 3, dropped ticks: ticks the application drops make the leader's
// tick count slow, but the clock still bounds the lease.
func TestLeaseEndsOnTheClockWhenTicksAreDropped(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2)
	require.True(t, n.leaseRead("r1"))
	// Eight tick intervals pass, but only one tick is delivered.
	clk.now = clk.now.Add(7 * leaseTick)
	n.tickN(clk, 1)
	assert.False(t, n.Status().LeaseValid)
	assert.False(t, n.leaseRead("r2"))
}

// etcd-io/raft#166: a partition right after a CheckQuorum check. The
// acknowledgements that arrived just after the check keep the leader in
// office through the next check, up to two election timeouts after its
// last contact, while the majority may elect another leader after one.
// The lease ends L ticks after the last acknowledged send, well before.
func TestLeaseExpiresAfterPartitionFollowingCheckQuorum(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	for i := 0; i < 9; i++ {
		n.renewLease(clk, 2, 3)
	}
	// Tick 10: the check passes and clears the activity flags; the
	// heartbeat of the same tick is acknowledged, then the partition.
	require.Equal(t, 9, n.r.electionElapsed)
	n.renewLease(clk, 2, 3)
	require.Equal(t, 0, n.r.electionElapsed, "a CheckQuorum check ran")

	n.tickN(clk, 7)
	assert.True(t, n.leaseRead("7 ticks after the last contact"))
	n.tickN(clk, 1)
	assert.False(t, n.leaseRead("8 ticks after"))
	// The followers may elect another leader from about 10 ticks after
	// their last contact; this one is still leader at 19 ticks.
	n.tickN(clk, 11)
	require.Equal(t, StateLeader, n.r.state, "the next check passed on the old activity")
	assert.False(t, n.leaseRead("19 ticks after"))
}

// A newly added voter starts out "recently active" without any contact
// (etcd's CheckQuorum bookkeeping); the lease counts only its echoed
// heartbeats, under the new configuration.
func TestLeaseNewVoterCountsOnlyAfterAck(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2, 3)
	require.True(t, n.Status().LeaseValid)

	n.ApplyConfChange(pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{addNode(4)}})
	n.flush()
	require.True(t, n.r.trk.Get(4).RecentActive, "the trap: a voter that never answered counts as active")
	assert.False(t, n.Status().LeaseValid, "applying a configuration resets the lease")

	msgs := n.tickN(clk, 1)
	n.ackHeartbeats(msgs, 2)
	n.flush()
	assert.False(t, n.Status().LeaseValid, "1 and 2 are no quorum of 1..4")
	n.ackHeartbeats(msgs, 4)
	n.flush()
	assert.True(t, n.Status().LeaseValid)
}

// Rule 6, a chain of configuration changes: each apply resets the lease,
// and only rounds sent after it, acknowledged by a quorum of the new
// configuration, earn it back; acknowledgements of rounds sent before the
// apply do not count, even when they arrive after it.
func TestLeaseResetsOnConfChangeApply(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2, 3)
	for _, cc := range []pb.ConfChangeSingle{addNode(4), removeNode(3), addNode(5), removeNode(2)} {
		before := n.tickN(clk, 1)
		n.ApplyConfChange(pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{cc}})
		n.flush()
		require.False(t, n.Status().LeaseValid, "after %v", cc)
		n.ackHeartbeats(before, 2, 3, 4, 5)
		n.flush()
		assert.False(t, n.Status().LeaseValid, "a round sent before %v must not count", cc)
		var others []uint64
		for _, id := range n.r.trk.VoterNodes() {
			if id != 1 {
				others = append(others, id)
			}
		}
		n.renewLease(clk, others...)
		assert.True(t, n.Status().LeaseValid, "after %v", cc)
	}
}

// Rule 2 in a joint configuration: both majorities must acknowledge.
func TestLeaseJointConfigNeedsBothMajorities(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.ApplyConfChange(pb.ConfChangeV2{
		Transition: pb.ConfChangeTransitionJointExplicit,
		Changes:    []pb.ConfChangeSingle{addNode(4), addNode(5), removeNode(2), removeNode(3)},
	})
	n.flush()
	msgs := n.tickN(clk, 1)
	n.ackHeartbeats(msgs, 4, 5)
	n.flush()
	assert.False(t, n.Status().LeaseValid, "4 and 5 are a majority of 1,4,5 only")
	n.ackHeartbeats(msgs, 2)
	n.flush()
	assert.True(t, n.Status().LeaseValid)
}

// Rule 6: a leader removed from its configuration, or demoted to learner,
// keeps leading until it hands over, but serves no lease read.
func TestLeaseRemovedOrDemotedLeaderStopsServing(t *testing.T) {
	for _, cc := range []pb.ConfChangeSingle{removeNode(1), {Type: pb.ConfChangeAddLearnerNode, NodeID: 1}} {
		t.Run(cc.Type.String(), func(t *testing.T) {
			n, clk := newLeaseLeader(t, 3)
			n.ApplyConfChange(pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{cc}})
			n.flush()
			require.Equal(t, StateLeader, n.r.state)
			n.renewLease(clk, 2, 3)
			assert.False(t, n.Status().LeaseValid)
			assert.False(t, n.leaseRead("r"))
		})
	}
}

// Rule 7: stepping down clears the lease, and a new leader has none until
// it committed in its term and a quorum acknowledged a round it sent as
// leader.
func TestLeaseClearedOnStepDownAndEarnedAnewByNewLeader(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2, 3)
	require.True(t, n.Status().LeaseValid)
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 2})
	require.Equal(t, StateFollower, n.r.state)
	assert.False(t, n.Status().LeaseValid)
	assert.Empty(t, n.r.lease().rounds)
	assert.Zero(t, n.r.lease().start)

	// Leader again at term 3, after its election timeout.
	n.tickN(clk, 10)
	n.becomeLeader(2)
	require.Equal(t, StateLeader, n.r.state)
	n.renewLease(clk, 2, 3)
	assert.False(t, n.Status().LeaseValid, "nothing committed in the term yet")
	n.ackAll(2)
	assert.True(t, n.Status().LeaseValid)
}

// Rule 5, etcd-io/raft#99: once the leader sent MsgTimeoutNow it serves no
// lease read for the rest of its term, even after the transfer is
// abandoned and fresh heartbeats are acknowledged: the transferee, whose
// votes pass every follower's lease, may still win.
func TestLeaseOffAfterTimeoutNowEvenIfAborted(t *testing.T) {
	n, clk := newLeaseLeader(t, 3)
	n.renewLease(clk, 2, 3)
	require.True(t, n.Status().LeaseValid)

	n.TransferLeader(2)
	msgs := n.flush()
	tn := filterMsgs(msgs, pb.MsgTimeoutNow)
	require.Len(t, tn, 1)
	last := n.r.raftLog.lastEntryID()
	assert.Equal(t, last.index, tn[0].Index, "MsgTimeoutNow carries the leader's last entry")
	assert.Equal(t, last.term, tn[0].LogTerm)
	assert.False(t, n.Status().LeaseValid)
	assert.False(t, n.leaseRead("during the transfer"))

	// The transferee is cut off; the transfer is abandoned after an
	// election timeout, and the leader goes on with the help of 3.
	for n.r.leadTransferee != None {
		n.renewLease(clk, 3)
	}
	n.renewLease(clk, 3)
	require.Equal(t, StateLeader, n.r.state)
	assert.False(t, n.Status().LeaseValid, "no lease for the rest of the term")
	assert.False(t, n.leaseRead("after the abort"))
}

// Rule 9, tikv/raft-rs#234: a MsgTimeoutNow that arrives late, from a
// transfer the leader abandoned, must not start an election once the log
// moved on; nor may one from a node that is not the leader.
func TestLeaseDelayedTimeoutNowIsIgnoredByReceiver(t *testing.T) {
	clk := newFakeClock()
	f := newFollowerAt(t, 2, 1, 1, leaseConfig(clk))
	f.stepFlush(pb.Message{From: 1, To: 2, Type: pb.MsgApp, Term: 1, Entries: []pb.Entry{{Term: 1, Index: 1}}})
	late := pb.Message{From: 1, To: 2, Type: pb.MsgTimeoutNow, Term: 1, Index: 1, LogTerm: 1}

	// The leader abandoned the transfer and appended a new entry.
	f.stepFlush(pb.Message{From: 1, To: 2, Type: pb.MsgApp, Term: 1, Index: 1, LogTerm: 1, Entries: []pb.Entry{{Term: 1, Index: 2}}})
	f.stepFlush(late)
	assert.Equal(t, StateFollower, f.r.state, "the log moved on since it was sent")
	assert.Equal(t, uint64(1), f.r.Term)

	f.stepFlush(pb.Message{From: 3, To: 2, Type: pb.MsgTimeoutNow, Term: 1, Index: 2, LogTerm: 1})
	assert.Equal(t, StateFollower, f.r.state, "only the leader may ask")

	// A current one from the leader, or one from an etcd raft leader
	// (Index 0), starts the transfer election.
	for _, m := range []pb.Message{
		{From: 1, To: 2, Type: pb.MsgTimeoutNow, Term: 1, Index: 2, LogTerm: 1},
		{From: 1, To: 2, Type: pb.MsgTimeoutNow, Term: 1},
	} {
		g := newFollowerAt(t, 2, 1, 1, leaseConfig(clk))
		g.stepFlush(pb.Message{From: 1, To: 2, Type: pb.MsgApp, Term: 1, Entries: []pb.Entry{{Term: 1, Index: 1}, {Term: 1, Index: 2}}})
		g.stepFlush(m)
		assert.Equal(t, StateCandidate, g.r.state, "index %d", m.Index)
	}
}

// Rule 8: inside the lease it grants its leader, a follower refuses to
// campaign when the application asks; its election timer, which fires
// only once the lease is over, still works.
func TestLeaseFollowerRefusesCampaignInsideLease(t *testing.T) {
	clk := newFakeClock()
	f := newFollowerAt(t, 2, 1, 1, leaseConfig(clk))
	f.tickN(clk, 9)
	require.NoError(t, f.Campaign())
	f.flush()
	assert.Equal(t, StateFollower, f.r.state)
	assert.Equal(t, uint64(1), f.r.Term)

	f.tickN(clk, 1)
	assert.Equal(t, StateCandidate, f.r.state, "the timer campaigns once the lease is over")
	assert.Equal(t, uint64(2), f.r.Term)
}

// Rule 11: a follower's promise outlives a change of term that no leader
// caused. Node 3, cut off from leader 1 for an election timeout,
// pre-campaigns at term 2 (keeping term 1), hears the leader's heartbeat
// again and acknowledges it, which gives 1 its lease. Then node 2, which
// campaigned for real at term 2 meanwhile, rejects 3's pre-vote at term 2,
// and the late rejection moves 3 to term 2 with no leader. etcd's
// in-lease check looks at the current leader only, so 3 would grant 2's
// votes at once and elect it while 1's lease runs (soak seed 375168). It
// must refuse them, and not campaign, until the promise it made at the
// heartbeat is over; then it votes again.
func TestLeasePromiseOutlivesATermChange(t *testing.T) {
	// bumped returns node 3 at term 2 with no leader, one tick after it
	// acknowledged leader 1's heartbeat of term 1, and its clock.
	bumped := func(t *testing.T) (*testNode, *fakeClock) {
		clk := newFakeClock()
		f := newFollowerAt(t, 3, 1, 1, leaseConfig(clk), func(c *Config) { c.PreVote = true })
		f.r.setRandIntn(func(n int) int { return n - 1 }) // no timer campaign
		f.r.resetRandomizedElectionTimeout()
		f.tickN(clk, 10)
		require.NoError(t, f.Campaign())
		require.Equal(t, StatePreCandidate, f.r.state)
		f.flush()
		resp := filterMsgs(f.stepFlush(pb.Message{From: 1, To: 3, Type: pb.MsgHeartbeat, Term: 1}), pb.MsgHeartbeatResp)
		require.Len(t, resp, 1, "3 acknowledges the heartbeat: 1's lease counts on it")
		require.Equal(t, uint64(1), f.r.lead)
		f.tickN(clk, 1)
		f.stepFlush(pb.Message{From: 2, To: 3, Type: pb.MsgPreVoteResp, Term: 2, Reject: true})
		require.Equal(t, uint64(2), f.r.Term, "the late rejection moves 3 to 2's term")
		require.Equal(t, None, f.r.lead)
		return f, clk
	}
	granted := func(msgs []pb.Message) bool {
		for _, m := range msgs {
			if (m.Type == pb.MsgVoteResp || m.Type == pb.MsgPreVoteResp) && !m.Reject {
				return true
			}
		}
		return false
	}
	for _, tt := range []struct {
		name string
		typ  pb.MessageType
		term uint64
	}{
		{"vote of its new term", pb.MsgVote, 2},
		{"pre-vote of the next term", pb.MsgPreVote, 3},
		{"vote of the next term", pb.MsgVote, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, clk := bumped(t)
			last := f.r.raftLog.lastEntryID()
			req := pb.Message{From: 2, To: 3, Type: tt.typ, Term: tt.term, Index: last.index, LogTerm: last.term}
			assert.False(t, granted(f.stepFlush(req)), "granted inside the promise")
			assert.Equal(t, None, f.r.Vote)

			f.tickN(clk, 9)
			assert.True(t, granted(f.stepFlush(req)), "refused once the promise is over")
		})
	}
	t.Run("campaign", func(t *testing.T) {
		f, clk := bumped(t)
		require.NoError(t, f.Campaign())
		f.flush()
		assert.Equal(t, StateFollower, f.r.state, "campaigned inside the promise")
		f.tickN(clk, 9)
		require.NoError(t, f.Campaign())
		assert.Equal(t, StatePreCandidate, f.r.state, "no campaign once the promise is over")
	})
	t.Run("promise-per-term", func(t *testing.T) {
		SetLeaseMutation("promise-per-term")
		defer SetLeaseMutation("")
		f, _ := bumped(t)
		last := f.r.raftLog.lastEntryID()
		req := pb.Message{From: 2, To: 3, Type: pb.MsgVote, Term: 3, Index: last.index, LogTerm: last.term}
		assert.True(t, granted(f.stepFlush(req)), "the mutation must vote at once, as etcd's check lets it")
	})
}

// Rule 10: a node restarted with a term refuses (pre-)votes and does not
// campaign for an election timeout: it may have granted a lease it no
// longer remembers. A node that never had a term has granted none.
func TestLeaseRestartedFollowerWaitsBeforeVoting(t *testing.T) {
	clk := newFakeClock()
	s := newTestStorage(t, voters(1, 2, 3))
	require.NoError(t, s.SetHardState(pb.HardState{Term: 1}))
	f := newTestNode(t, 2, pb.ConfState{}, s, leaseConfig(clk))
	// Its own timer must not fire during the test.
	f.r.setRandIntn(func(int) int { return 5 })
	f.r.resetRandomizedElectionTimeout()

	vote := pb.Message{From: 3, To: 2, Type: pb.MsgVote, Term: 2}
	for _, typ := range []pb.MessageType{pb.MsgPreVote, pb.MsgVote} {
		m := vote
		m.Type = typ
		assert.Empty(t, f.stepFlush(m), "%s refused during the quarantine", typ)
	}
	require.NoError(t, f.Campaign())
	f.flush()
	assert.Equal(t, StateFollower, f.r.state)

	f.tickN(clk, 10)
	msgs := f.stepFlush(vote)
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.MsgVoteResp, msgs[0].Type)
	assert.False(t, msgs[0].Reject)

	fresh := newTestNode(t, 2, voters(1, 2, 3), nil, leaseConfig(clk))
	require.NoError(t, fresh.Campaign())
	assert.Equal(t, StateCandidate, fresh.r.state, "a bootstrapped node has no quarantine")
}

// A ReadOnlySafe node has no lease state at all, and its heartbeats carry
// no round unless a read waits.
func TestLeaseStateOnlyInLeaseMode(t *testing.T) {
	n := newReadLeader(t, 3, ReadOnlySafe)
	assert.Nil(t, n.r.lease())
	n.Tick()
	for _, m := range filterMsgs(n.flush(), pb.MsgHeartbeat) {
		assert.Nil(t, m.Context)
	}
}

func TestLeaseConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*Config)
		ok   bool
	}{
		{"default margin", func(*Config) {}, true},
		{"margin of 8", func(c *Config) { c.LeaseDriftTicks = 8 }, true},
		{"margin leaves no lease", func(c *Config) { c.LeaseDriftTicks = 9 }, false},
		{"negative margin", func(c *Config) { c.LeaseDriftTicks = -1 }, false},
		{"negative interval", func(c *Config) { c.TickInterval = -time.Second }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestConfig(1, 10, 1, NewMemoryStorage())
			leaseConfig(newFakeClock())(c)
			tt.set(c)
			if tt.ok {
				assert.NoError(t, c.Validate())
			} else {
				assert.Error(t, c.Validate())
			}
		})
	}
}
