package raft

// The rules of §5 of the Raft paper ("In Search of an Understandable
// Consensus Algorithm", Ongaro & Ousterhout), and of the thesis ("Consensus:
// Bridging Theory and Practice", Ongaro) for PreVote (§9.6), CheckQuorum and
// the leader lease (§6.2, §4.2.3), leadership transfer (§3.10) and ReadIndex
// (§6.4), one test per rule, each naming the section it checks.

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newFollowerAt returns node id of voters 1..3 following leader lead at term.
func newFollowerAt(t *testing.T, id, term, lead uint64, opts ...func(*Config)) *testNode {
	n := newTestNode(t, id, voters(1, 2, 3), nil, opts...)
	if term > 0 {
		n.stepFlush(pb.Message{From: lead, To: id, Type: pb.MsgHeartbeat, Term: term})
	}
	require.Equal(t, term, n.r.Term)
	return n
}

// §5.1: "If one server's current term is smaller than the other's, then it
// updates its current term to the larger value. If a candidate or leader
// discovers that its term is out of date, it immediately reverts to follower
// state."
func TestHigherTermMakesFollower(t *testing.T) {
	roles := []StateType{StateFollower, StatePreCandidate, StateCandidate, StateLeader}
	msgs := []struct {
		typ      pb.MessageType
		wantLead bool
	}{
		{pb.MsgApp, true},
		{pb.MsgHeartbeat, true},
		{pb.MsgVote, false},
		{pb.MsgAppResp, false},
		{pb.MsgHeartbeatResp, false},
		{pb.MsgVoteResp, false},
	}
	for _, role := range roles {
		for _, tt := range msgs {
			t.Run(fmt.Sprintf("%s/%s", role, tt.typ), func(t *testing.T) {
				n := newNodeInRole(t, role)
				term := n.r.Term + 5
				m := pb.Message{From: 2, To: 1, Type: tt.typ, Term: term}
				if tt.typ == pb.MsgVote {
					m.Index, m.LogTerm = 100, 100
				}
				require.NoError(t, n.step(m))
				assert.Equal(t, StateFollower, n.r.state)
				assert.Equal(t, term, n.r.Term)
				if tt.wantLead {
					assert.Equal(t, uint64(2), n.r.lead)
				} else if tt.typ != pb.MsgVote {
					assert.Equal(t, None, n.r.lead)
				}
			})
		}
	}
}

// newNodeInRole returns node 1 of voters 1..3 at a term above 0 in the given
// role (the pre-candidate has PreVote on).
func newNodeInRole(t *testing.T, role StateType, opts ...func(*Config)) *testNode {
	if role == StatePreCandidate {
		opts = append(opts, func(c *Config) { c.PreVote = true })
	}
	n := newFollowerAt(t, 1, 2, 3, opts...)
	switch role {
	case StatePreCandidate, StateCandidate:
		n.stepFlush(pb.Message{Type: pb.MsgHup})
	case StateLeader:
		n.becomeLeader(2, 3)
	}
	require.Equal(t, role, n.r.state)
	return n
}

// Thesis §9.6: a pre-vote request does not change the receiver's term, and
// a pre-candidate does not raise its own.
func TestPreVoteDoesNotChangeTerm(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3, func(c *Config) { c.PreVote = true })
	// Forget the leader so the pre-vote is not inside a lease.
	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgPreVote, Term: 9, Index: 5, LogTerm: 5})
	assert.Equal(t, uint64(2), n.r.Term)
	assert.Equal(t, None, n.r.Vote)
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.MsgPreVoteResp, msgs[0].Type)
	assert.Equal(t, uint64(9), msgs[0].Term, "a granted pre-vote carries the request's term")

	c := newFollowerAt(t, 1, 2, 3, func(c *Config) { c.PreVote = true })
	msgs = c.stepFlush(pb.Message{Type: pb.MsgHup})
	assert.Equal(t, StatePreCandidate, c.r.state)
	assert.Equal(t, uint64(2), c.r.Term, "a pre-candidate keeps its term")
	for _, m := range msgs {
		assert.Equal(t, pb.MsgPreVote, m.Type)
		assert.Equal(t, uint64(3), m.Term, "pre-votes ask for the next term")
	}
}

// §5.1: "If a server receives a request with a stale term number, it rejects
// the request." A stale append or heartbeat is answered (with CheckQuorum or
// PreVote, so that a deposed leader learns the new term); a stale pre-vote
// is rejected explicitly; the rest is dropped without changing state.
func TestStaleTermMessageRejectedOrDropped(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opt   func(*Config)
		typ   pb.MessageType
		reply pb.MessageType // 0 when dropped silently
	}{
		{"app", func(*Config) {}, pb.MsgApp, 0},
		{"heartbeat", func(*Config) {}, pb.MsgHeartbeat, 0},
		{"app/checkquorum", func(c *Config) { c.CheckQuorum = true }, pb.MsgApp, pb.MsgAppResp},
		{"heartbeat/prevote", func(c *Config) { c.PreVote = true }, pb.MsgHeartbeat, pb.MsgAppResp},
		{"vote", func(*Config) {}, pb.MsgVote, 0},
		{"vote/checkquorum", func(c *Config) { c.CheckQuorum = true }, pb.MsgVote, 0},
		{"prevote", func(*Config) {}, pb.MsgPreVote, pb.MsgPreVoteResp},
		{"appresp", func(*Config) {}, pb.MsgAppResp, 0},
		{"voteresp", func(*Config) {}, pb.MsgVoteResp, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newFollowerAt(t, 1, 5, 3, tt.opt)
			before := n.r.hardState()
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: tt.typ, Term: 4, Index: 100, LogTerm: 4})
			assert.Equal(t, before, n.r.hardState())
			assert.Equal(t, StateFollower, n.r.state)
			assert.Equal(t, uint64(3), n.r.lead)
			if tt.reply == 0 {
				assert.Empty(t, msgs)
				return
			}
			require.Len(t, msgs, 1)
			assert.Equal(t, tt.reply, msgs[0].Type)
			assert.Equal(t, uint64(5), msgs[0].Term, "the answer carries the newer term")
			assert.Equal(t, uint64(2), msgs[0].To)
			if tt.typ == pb.MsgPreVote {
				assert.True(t, msgs[0].Reject)
			}
		})
	}
}

// §5.1 (the consequence): a deposed leader that receives the answer to a
// stale append steps down.
func TestDeposedLeaderStepsDownOnNewerTermAnswer(t *testing.T) {
	l := newNodeInRole(t, StateLeader)
	require.NoError(t, l.step(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: l.r.Term + 1}))
	assert.Equal(t, StateFollower, l.r.state)
	assert.Equal(t, None, l.r.lead)
}

// §5.2: "If a follower receives no communication over a period of time
// called the election timeout, then it ... begins an election": it
// increments its term, votes for itself and requests votes from every peer.
func TestFollowerStartsElectionOnTimeout(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3)
	for i := 0; i < n.r.electionTimeout-1; i++ {
		n.Tick()
	}
	require.Equal(t, StateFollower, n.r.state)
	n.Tick()
	assert.Equal(t, StateCandidate, n.r.state)
	assert.Equal(t, uint64(3), n.r.Term)
	assert.Equal(t, uint64(1), n.r.Vote)
	msgs := n.flush()
	assert.Equal(t, []msgSummary{
		{To: 2, Type: pb.MsgVote, Term: 3},
		{To: 3, Type: pb.MsgVote, Term: 3},
	}, summarize(msgs))
	// The self vote counts once persisted.
	assert.True(t, n.r.trk.Votes[1])
}

// §5.2: a follower that keeps hearing from its leader never starts an
// election.
func TestFollowerHearingFromLeaderDoesNotCampaign(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3)
	for i := 0; i < 5*n.r.electionTimeout; i++ {
		n.Tick()
		if i%5 == 0 {
			n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeat, Term: 2})
		}
	}
	assert.Equal(t, StateFollower, n.r.state)
	assert.Equal(t, uint64(2), n.r.Term)
}

// §5.2: "If many followers become candidates at the same time, votes could
// be split ... each candidate ... times out and starts a new election by
// incrementing its term."
func TestCandidateRestartsElectionOnTimeout(t *testing.T) {
	n := newNodeInRole(t, StateCandidate)
	term := n.r.Term
	n.flush()
	for i := 0; i < n.r.electionTimeout; i++ {
		n.Tick()
	}
	assert.Equal(t, StateCandidate, n.r.state)
	assert.Equal(t, term+1, n.r.Term)
	msgs := n.flush()
	assert.Equal(t, []msgSummary{
		{To: 2, Type: pb.MsgVote, Term: term + 1},
		{To: 3, Type: pb.MsgVote, Term: term + 1},
	}, summarize(msgs))
}

// §5.2: "Raft uses randomized election timeouts ... chosen randomly from a
// fixed interval"; here [ElectionTick, 2*ElectionTick), drawn anew at every
// change of role, and the node campaigns exactly when it expires.
func TestElectionTimeoutIsRandomizedWithinOneToTwoTimeouts(t *testing.T) {
	n := newFollowerAt(t, 1, 0, 0)
	n.r.setRandIntn(randIntn)
	seen := map[int]bool{}
	for i := 0; i < 500; i++ {
		n.r.becomeFollower(n.r.Term, None)
		to := n.r.randomizedElectionTimeout
		require.GreaterOrEqual(t, to, n.r.electionTimeout)
		require.Less(t, to, 2*n.r.electionTimeout)
		seen[to] = true
	}
	assert.Greater(t, len(seen), n.r.electionTimeout/2, "timeouts are spread over the interval")

	for extra := 0; extra < 10; extra++ {
		n := newFollowerAt(t, 1, 0, 0)
		n.r.setRandIntn(func(int) int { return extra })
		n.r.resetRandomizedElectionTimeout()
		for i := 0; i < 10+extra-1; i++ {
			n.Tick()
		}
		require.Equal(t, StateFollower, n.r.state, "extra=%d", extra)
		n.Tick()
		require.Equal(t, StateCandidate, n.r.state, "extra=%d", extra)
	}
}

// §5.2: "Each server will vote for at most one candidate in a given term, on
// a first-come-first-served basis." A repeated request of the same candidate
// is granted again.
func TestVoteAtMostOncePerTerm(t *testing.T) {
	for _, role := range []StateType{StateFollower, StateCandidate, StateLeader} {
		t.Run(role.String(), func(t *testing.T) {
			n := newNodeInRole(t, role)
			n.flush()
			term := n.r.Term
			if role == StateFollower {
				// A follower with a leader does not vote in its term.
				msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgVote, Term: term, Index: 10, LogTerm: 10})
				require.Len(t, msgs, 1)
				assert.True(t, msgs[0].Reject)
				term++
				msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgVote, Term: term, Index: 10, LogTerm: 10})
				require.Len(t, msgs, 1)
				assert.False(t, msgs[0].Reject, "first come, first served")
				assert.Equal(t, uint64(2), n.r.Vote)
				msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgVote, Term: term, Index: 10, LogTerm: 10})
				require.Len(t, msgs, 1)
				assert.False(t, msgs[0].Reject, "the same candidate asking again")
			}
			// Nodes 1 voted already in this term (for itself or for 2):
			// node 3 is refused.
			msgs := n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgVote, Term: term, Index: 10, LogTerm: 10})
			require.Len(t, msgs, 1)
			assert.Equal(t, pb.MsgVoteResp, msgs[0].Type)
			assert.True(t, msgs[0].Reject)
			assert.Equal(t, term, msgs[0].Term)
			assert.NotEqual(t, uint64(3), n.r.Vote)
		})
	}
}

// §5.4.1: "the voter denies its vote if its own log is more up-to-date than
// that of the candidate": a later last term wins; equal last terms, the
// longer log wins.
func TestVoterDeniesCandidateWithLessUpToDateLog(t *testing.T) {
	// The voter's log: terms 1, 2, 2 (last entry (3, 2)).
	for _, tt := range []struct {
		logTerm, index uint64
		grant          bool
	}{
		{1, 1, false},
		{1, 5, false}, // longer but older last term
		{2, 2, false}, // same last term, shorter
		{2, 3, true},
		{2, 4, true},
		{3, 1, true}, // later last term, however short
		{3, 3, true},
	} {
		t.Run(fmt.Sprintf("%d/%d", tt.logTerm, tt.index), func(t *testing.T) {
			s := newTestStorage(t, voters(1, 2, 3), ents(1, 2, 2)...)
			require.NoError(t, s.SetHardState(pb.HardState{Term: 2}))
			n := newTestNode(t, 1, pb.ConfState{}, s)
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgVote, Term: 3, Index: tt.index, LogTerm: tt.logTerm})
			require.Len(t, msgs, 1)
			assert.Equal(t, !tt.grant, msgs[0].Reject)
			if tt.grant {
				assert.Equal(t, uint64(2), n.r.Vote)
			} else {
				assert.Equal(t, None, n.r.Vote)
			}
		})
	}
}

// §5.2: "A candidate wins an election if it receives votes from a majority
// of the servers in the full cluster for the same term"; it loses (and
// follows) once a majority rejected it, and waits otherwise.
func TestCandidateWinsWithMajorityOfVotes(t *testing.T) {
	for _, tt := range []struct {
		size  int
		votes map[uint64]bool
		want  StateType
	}{
		{1, nil, StateLeader},
		{3, map[uint64]bool{2: true}, StateLeader},
		{3, map[uint64]bool{2: false}, StateCandidate},
		{3, map[uint64]bool{2: false, 3: false}, StateFollower},
		{5, map[uint64]bool{2: true}, StateCandidate},
		{5, map[uint64]bool{2: true, 3: true}, StateLeader},
		{5, map[uint64]bool{2: false, 3: false}, StateCandidate},
		{5, map[uint64]bool{2: false, 3: false, 4: false}, StateFollower},
		{5, map[uint64]bool{2: true, 3: false, 4: false, 5: false}, StateFollower},
	} {
		t.Run(fmt.Sprintf("%d/%v", tt.size, tt.votes), func(t *testing.T) {
			var ids []uint64
			for i := 1; i <= tt.size; i++ {
				ids = append(ids, uint64(i))
			}
			n := newTestNode(t, 1, voters(ids...), nil)
			n.stepFlush(pb.Message{Type: pb.MsgHup})
			for id, v := range tt.votes {
				require.NoError(t, n.step(pb.Message{From: id, To: 1, Type: pb.MsgVoteResp, Term: 1, Reject: !v}))
			}
			assert.Equal(t, tt.want, n.r.state)
			assert.Equal(t, uint64(1), n.r.Term)
		})
	}
}

// §5.2: "If the leader's term ... is at least as large as the candidate's
// current term, then the candidate recognizes the leader as legitimate and
// returns to follower state." The pre-candidate is still in the term it
// followed node 3 in, so 3 is the only legitimate leader there.
func TestCandidateStepsDownOnAppendFromLeaderOfItsTerm(t *testing.T) {
	for _, role := range []StateType{StateCandidate, StatePreCandidate} {
		for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat} {
			t.Run(fmt.Sprintf("%s/%s", role, typ), func(t *testing.T) {
				n := newNodeInRole(t, role)
				term := n.r.Term
				lead := uint64(2)
				if role == StatePreCandidate {
					lead = 3
				}
				msgs := n.stepFlush(pb.Message{From: lead, To: 1, Type: typ, Term: term})
				assert.Equal(t, StateFollower, n.r.state)
				assert.Equal(t, lead, n.r.lead)
				assert.Equal(t, term, n.r.Term)
				require.Len(t, msgs, 1)
			})
		}
	}
}

// §5.2: the leader "sends periodic heartbeats (AppendEntries RPCs that carry
// no log entries) to all followers in order to maintain its authority".
func TestLeaderSendsHeartbeatsEveryHeartbeatTimeout(t *testing.T) {
	n := newNodeInRole(t, StateLeader, func(c *Config) { c.HeartbeatTick = 3 })
	n.flush()
	for i := 0; i < 2; i++ {
		n.Tick()
		assert.Empty(t, n.flush())
	}
	n.Tick()
	msgs := n.flush()
	assert.Equal(t, []msgSummary{
		{To: 2, Type: pb.MsgHeartbeat, Term: n.r.Term},
		{To: 3, Type: pb.MsgHeartbeat, Term: n.r.Term},
	}, summarize(msgs))
	for _, m := range msgs {
		assert.Empty(t, m.Entries)
	}
}

// §5.3: "The leader appends the command to its log as a new entry, then
// issues AppendEntries RPCs in parallel to each of the other servers."
func TestLeaderAppendsProposalAndReplicates(t *testing.T) {
	n := newNodeInRole(t, StateLeader)
	n.ackAll(2, 3)
	last := n.r.raftLog.lastIndex()
	require.NoError(t, n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: []byte("x")}}}))
	msgs := n.flush()
	assert.Equal(t, last+1, n.r.raftLog.lastIndex())
	require.Len(t, msgs, 2)
	for i, m := range msgs {
		assert.Equal(t, uint64(i+2), m.To)
		assert.Equal(t, pb.MsgApp, m.Type)
		assert.Equal(t, last, m.Index)
		require.Len(t, m.Entries, 1)
		assert.Equal(t, pb.Entry{Term: n.r.Term, Index: last + 1, Data: []byte("x")}, m.Entries[0])
	}
	// Appending does not commit.
	assert.Equal(t, last, n.r.raftLog.committed)
}

// §5.3: "A log entry is committed once the leader that created the entry has
// replicated it on a majority of the servers", which also commits every
// preceding entry; the leader's own copy counts once it is durable.
func TestLeaderCommitsEntryReplicatedOnMajority(t *testing.T) {
	for _, tt := range []struct {
		size    int
		acks    []uint64
		commits bool
	}{
		{1, nil, true},
		{3, []uint64{2}, true},
		{3, nil, false},
		{5, []uint64{2}, false},
		{5, []uint64{2, 3}, true},
		{5, []uint64{2, 3, 4, 5}, true},
	} {
		t.Run(fmt.Sprintf("%d/%v", tt.size, tt.acks), func(t *testing.T) {
			var ids, others []uint64
			for i := 1; i <= tt.size; i++ {
				ids = append(ids, uint64(i))
				if i > 1 {
					others = append(others, uint64(i))
				}
			}
			n := newTestNode(t, 1, voters(ids...), nil)
			n.becomeLeader(others...)
			n.ackAll(others...)
			commit := n.r.raftLog.committed
			require.NoError(t, n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: []byte("a")}}}))
			require.NoError(t, n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: []byte("b")}}}))
			// Not committed before the leader's own write is durable.
			for _, id := range tt.acks {
				require.NoError(t, n.step(pb.Message{From: id, To: 1, Type: pb.MsgAppResp, Term: n.r.Term, Index: commit + 2}))
			}
			if len(tt.acks) < tt.size/2+1 {
				assert.Equal(t, commit, n.r.raftLog.committed)
			}
			msgs := n.flush()
			if !tt.commits {
				assert.Equal(t, commit, n.r.raftLog.committed)
				return
			}
			assert.Equal(t, commit+2, n.r.raftLog.committed)
			// Both entries are handed out for application.
			var data []string
			for _, e := range n.applied {
				if len(e.Data) > 0 {
					data = append(data, string(e.Data))
				}
			}
			assert.Equal(t, []string{"a", "b"}, data)
			// The new commit index travels to the followers: the last
			// append to each carries it.
			lastCommit := map[uint64]uint64{}
			for _, m := range filterMsgs(msgs, pb.MsgApp) {
				lastCommit[m.To] = m.Commit
			}
			for _, id := range others {
				assert.Equal(t, commit+2, lastCommit[id], "peer %d", id)
			}
		})
	}
}

// §5.3: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit,
// index of last new entry)".
func TestFollowerCommitsUpToLeaderCommit(t *testing.T) {
	for _, tt := range []struct {
		ents         []pb.Entry
		commit, want uint64
	}{
		{ents(1, 1), 1, 1},
		{ents(1, 1), 2, 2},
		{ents(1, 1), 5, 2}, // never past the last new entry
		{ents(1), 0, 0},
	} {
		t.Run(fmt.Sprintf("%d/%d", len(tt.ents), tt.commit), func(t *testing.T) {
			n := newFollowerAt(t, 1, 1, 2)
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgApp, Term: 1, Entries: tt.ents, Commit: tt.commit})
			assert.Equal(t, tt.want, n.r.raftLog.committed)
			require.Len(t, msgs, 1)
			assert.Equal(t, pb.MsgAppResp, msgs[0].Type)
			assert.Equal(t, uint64(len(tt.ents)), msgs[0].Index)
			assert.False(t, msgs[0].Reject)
		})
	}
}

// §5.3: "If a follower does not find an entry in its log with the same index
// and term [as prevLogIndex/prevLogTerm], then it refuses the new entries."
func TestFollowerRejectsAppendWithMismatchedPrevious(t *testing.T) {
	for _, tt := range []struct {
		index, logTerm uint64
		reject         bool
	}{
		{0, 0, false},
		{1, 1, false},
		{2, 2, false},
		{2, 1, true}, // term differs
		{3, 2, true}, // missing entry
		{5, 3, true},
	} {
		t.Run(fmt.Sprintf("%d/%d", tt.index, tt.logTerm), func(t *testing.T) {
			s := newTestStorage(t, voters(1, 2, 3), ents(1, 2)...)
			n := newTestNode(t, 1, pb.ConfState{}, s)
			n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 3})
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgApp, Term: 3, Index: tt.index, LogTerm: tt.logTerm,
				Entries: []pb.Entry{{Index: tt.index + 1, Term: 3}}})
			require.Len(t, msgs, 1)
			assert.Equal(t, tt.reject, msgs[0].Reject)
			if tt.reject {
				assert.Equal(t, uint64(2), n.r.raftLog.lastIndex(), "nothing appended")
				assert.Equal(t, tt.index, msgs[0].Index)
			} else {
				assert.Equal(t, tt.index+1, n.r.raftLog.lastIndex())
				assert.Equal(t, tt.index+1, msgs[0].Index)
			}
		})
	}
}

// §5.3: "If an existing entry conflicts with a new one (same index but
// different terms), delete the existing entry and all that follow it";
// entries that match are kept as they are.
func TestFollowerTruncatesConflictingSuffix(t *testing.T) {
	for _, tt := range []struct {
		name    string
		index   uint64
		logTerm uint64
		ents    []pb.Entry
		want    []uint64 // terms of the resulting log
	}{
		{"conflict at 2", 1, 1, []pb.Entry{{Index: 2, Term: 4}}, []uint64{1, 4}},
		{"conflict at 3", 1, 1, []pb.Entry{{Index: 2, Term: 2}, {Index: 3, Term: 4}}, []uint64{1, 2, 4}},
		{"all match", 1, 1, []pb.Entry{{Index: 2, Term: 2}}, []uint64{1, 2, 3, 3}},
		{"extends", 4, 3, []pb.Entry{{Index: 5, Term: 4}}, []uint64{1, 2, 3, 3, 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStorage(t, voters(1, 2, 3), ents(1, 2, 3, 3)...)
			n := newTestNode(t, 1, pb.ConfState{}, s)
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgApp, Term: 4, Index: tt.index, LogTerm: tt.logTerm, Entries: tt.ents})
			require.Len(t, msgs, 1)
			require.False(t, msgs[0].Reject)
			var got []uint64
			for _, e := range n.r.raftLog.allEntries() {
				got = append(got, e.Term)
			}
			assert.Equal(t, tt.want, got)
			// The storage (written from Ready) agrees.
			last, _ := s.LastIndex()
			assert.Equal(t, uint64(len(tt.want)), last)
		})
	}
}

// §5.3 ("the protocol can be optimized to reduce the number of rejected
// AppendEntries RPCs"): the rejection carries a hint (the follower's last
// entry at or below the probed index with a term at or below the probed
// term) that, with the leader's own term lookup, skips a whole term per
// round trip instead of one entry.
func TestLeaderFindsMatchOneTermPerRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		leader, follower []uint64
		maxRejects       int
	}{
		// Divergent terms 2,5 against 3,4: per-entry backtracking would
		// take 7 rejections.
		{[]uint64{1, 2, 2, 2, 5, 5, 5, 5}, []uint64{1, 3, 3, 3, 3, 4, 4, 4, 4, 4}, 2},
		// The follower is short: one rejection jumps to its end.
		{[]uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []uint64{1, 1}, 1},
		// The follower is long with a stale tail of a single term.
		{[]uint64{1, 1, 5}, []uint64{1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 1},
		{[]uint64{1, 2, 3, 4, 5}, []uint64{1, 1, 1, 1, 1}, 1},
	} {
		t.Run(fmt.Sprint(tt.leader, tt.follower), func(t *testing.T) {
			lterm := tt.leader[len(tt.leader)-1]
			ls := newTestStorage(t, voters(1, 2), ents(tt.leader...)...)
			require.NoError(t, ls.SetHardState(pb.HardState{Term: lterm}))
			fs := newTestStorage(t, voters(1, 2), ents(tt.follower...)...)
			require.NoError(t, fs.SetHardState(pb.HardState{Term: lterm}))
			l := newTestNode(t, 1, pb.ConfState{}, ls)
			f := newTestNode(t, 2, pb.ConfState{}, fs)
			l.r.becomeCandidate()
			l.r.becomeLeader()
			l.r.bcastAppend()
			msgs := l.flush()
			delivered := exchange(t, map[uint64]*testNode{1: l, 2: f}, msgs)
			rejects := 0
			for _, m := range delivered {
				if m.Type == pb.MsgAppResp && m.Reject {
					rejects++
				}
			}
			assert.LessOrEqual(t, rejects, tt.maxRejects)
			assert.Equal(t, l.r.raftLog.allEntries(), f.r.raftLog.allEntries())
			assert.Equal(t, l.r.raftLog.lastIndex(), l.r.raftLog.committed)
		})
	}
}

// §5.4.2 and Figure 8: "Raft never commits log entries from previous terms by
// counting replicas. Only log entries from the leader's current term are
// committed by counting replicas; once an entry from the current term has
// been committed ... all prior entries are committed indirectly."
func TestLeaderOnlyCommitsCurrentTermEntriesByCounting(t *testing.T) {
	// Node 1 holds entries of terms 1 and 2, uncommitted, and wins term 3.
	s := newTestStorage(t, voters(1, 2, 3), ents(1, 2)...)
	require.NoError(t, s.SetHardState(pb.HardState{Term: 2}))
	n := newTestNode(t, 1, pb.ConfState{}, s)
	n.becomeLeader(2)
	require.Equal(t, uint64(3), n.r.Term)
	require.Equal(t, uint64(3), n.r.raftLog.lastIndex())
	// A majority (1 and 2) has the term-2 entry at index 2: not committed.
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 3, Index: 2})
	assert.Equal(t, uint64(0), n.r.raftLog.committed)
	n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgAppResp, Term: 3, Index: 2})
	assert.Equal(t, uint64(0), n.r.raftLog.committed, "even all replicas do not commit a previous-term entry")
	// The term-3 entry reaches a majority: it and everything before it
	// commit.
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: 3, Index: 3})
	assert.Equal(t, uint64(3), n.r.raftLog.committed)
}

// §5.4.2 / §8: "each leader commit[s] a blank no-op entry into the log at the
// start of its term", so that it learns the commit index promptly.
func TestLeaderAppendsEmptyEntryOnElection(t *testing.T) {
	s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
	require.NoError(t, s.SetHardState(pb.HardState{Term: 1}))
	n := newTestNode(t, 1, pb.ConfState{}, s)
	require.NoError(t, n.step(pb.Message{Type: pb.MsgHup}))
	n.flush()
	require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgVoteResp, Term: 2}))
	require.Equal(t, StateLeader, n.r.state)
	last, err := n.r.raftLog.entries(3, noLimit)
	require.NoError(t, err)
	require.Len(t, last, 1)
	assert.Equal(t, pb.Entry{Index: 3, Term: 2, Type: pb.EntryNormal}, last[0])
	msgs := n.flush()
	require.Len(t, msgs, 2)
	for _, m := range msgs {
		assert.Equal(t, pb.MsgApp, m.Type)
		assert.Equal(t, uint64(2), m.Index)
		assert.Equal(t, uint64(1), m.LogTerm)
		assert.Equal(t, []pb.Entry{{Index: 3, Term: 2}}, m.Entries)
	}
}

// §5.4.3 Leader Completeness: "if a log entry is committed in a given term,
// then that entry will be present in the logs of the leaders for all higher
// numbered terms." A cluster is driven through crashes and partitions; every
// leader of every later term holds every entry committed so far.
func TestLeaderCompleteness(t *testing.T) {
	for seed := int64(0); seed < 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := newTestCluster(t, 5, func(cfg *Config) { cfg.PreVote = seed%2 == 0 })
			c.rng.Seed(seed)
			c.campaign(1)
			// The bootstrap snapshot at index 1 is committed.
			committed := []pb.Entry{{Index: 1, Term: 1}}
			for round := 0; round < 12; round++ {
				// Crash or isolate up to two nodes, possibly the leader.
				c.heal()
				for _, id := range c.ids {
					if c.down[id] {
						c.restart(id)
					}
				}
				for k := 0; k < 2; k++ {
					id := c.ids[c.rng.Intn(len(c.ids))]
					if c.rng.Intn(2) == 0 {
						c.crash(id)
					} else {
						c.isolate(id)
					}
				}
				c.tick(30)
				lead := c.leader()
				if lead == 0 {
					continue
				}
				lr := c.node(lead).raft
				for _, e := range committed {
					term, err := lr.raftLog.term(e.Index)
					if err == nil {
						require.Equal(t, e.Term, term, "leader %d of term %d lacks committed entry %d", lead, lr.Term, e.Index)
					} else {
						require.ErrorIs(t, err, ErrCompacted)
					}
				}
				_ = c.propose(lead, fmt.Sprintf("r%d", round))
				// Record what is committed now (on any live node).
				for _, id := range c.ids {
					r := c.node(id).raft
					if c.down[id] || r.raftLog.committed <= uint64(len(committed)) {
						continue
					}
					es, err := r.raftLog.slice(uint64(len(committed))+1, r.raftLog.committed+1, noLimit)
					require.NoError(t, err)
					committed = append(committed, es...)
				}
			}
			assert.NotEmpty(t, committed)
		})
	}
}

// §5.4.3 / Log Matching: after a partition heals, every node applied the
// same sequence.
func TestStateMachineSafetyAfterPartitions(t *testing.T) {
	c := newTestCluster(t, 5, func(cfg *Config) { cfg.PreVote = true; cfg.CheckQuorum = true })
	c.campaign(1)
	for round := 0; round < 6; round++ {
		c.isolate(uint64(round%5 + 1))
		c.tick(25)
		if lead := c.leader(); lead != 0 {
			_ = c.propose(lead, fmt.Sprint(round))
		}
		c.heal()
		c.tick(25)
	}
	lead := c.leader()
	require.NotZero(t, lead)
	require.NoError(t, c.propose(lead, "last"))
	c.tick(5)
	c.requireSameApplied(c.ids...)
}

// Thesis §9.6: with PreVote, a node cut off from the cluster does not raise
// its term, so when it rejoins it does not depose the leader.
func TestPreVotePartitionedNodeRejoinsWithoutDisruption(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.PreVote = true })
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	term := c.node(1).raft.Term
	c.isolate(3)
	c.tick(50)
	assert.Equal(t, term, c.node(3).raft.Term, "pre-elections do not raise the term")
	assert.Equal(t, StatePreCandidate, c.node(3).raft.state)
	c.heal()
	c.tick(3)
	assert.Equal(t, uint64(1), c.leader())
	assert.Equal(t, term, c.node(1).raft.Term)
	require.NoError(t, c.propose(1, "b"))
	assert.Equal(t, []string{"a", "b"}, c.requireSameApplied(c.ids...))
}

// Thesis §9.6: a pre-candidate that a majority would vote for runs the real
// election, at term+1; one that a majority refuses goes back to following.
func TestPreCandidateCampaignsOnlyWithMajorityOfPreVotes(t *testing.T) {
	n := newNodeInRole(t, StatePreCandidate)
	term := n.r.Term
	n.flush()
	require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgPreVoteResp, Term: term + 1}))
	assert.Equal(t, StateCandidate, n.r.state)
	assert.Equal(t, term+1, n.r.Term)
	msgs := n.flush()
	assert.Equal(t, []msgSummary{{To: 2, Type: pb.MsgVote, Term: term + 1}, {To: 3, Type: pb.MsgVote, Term: term + 1}}, summarize(msgs))

	n = newNodeInRole(t, StatePreCandidate)
	n.flush()
	require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgPreVoteResp, Term: term, Reject: true}))
	require.NoError(t, n.step(pb.Message{From: 3, To: 1, Type: pb.MsgPreVoteResp, Term: term, Reject: true}))
	assert.Equal(t, StateFollower, n.r.state)
	assert.Equal(t, term, n.r.Term)
}

// Thesis §6.2: with CheckQuorum, "a leader steps down if an election timeout
// elapses without a successful round of heartbeats to a majority".
func TestCheckQuorumLeaderStepsDownWithoutQuorum(t *testing.T) {
	n := newNodeInRole(t, StateLeader, func(c *Config) { c.CheckQuorum = true })
	term := n.r.Term
	// Node 2 answers during the first period: the leader stays.
	for i := 0; i < n.r.electionTimeout; i++ {
		n.Tick()
		n.flush()
		if i == 3 {
			n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: term})
		}
	}
	require.Equal(t, StateLeader, n.r.state)
	// Nobody answers during the second period.
	for i := 0; i < n.r.electionTimeout; i++ {
		n.Tick()
		n.flush()
	}
	assert.Equal(t, StateFollower, n.r.state)
	assert.Equal(t, term, n.r.Term, "stepping down keeps the term")
}

// Thesis §4.2.3: "if a server receives a RequestVote request within the
// minimum election timeout of hearing from a current leader, it does not
// update its term or grant its vote" (with CheckQuorum); a leadership
// transfer's campaign is exempt.
func TestLeaseIgnoresVoteRequestsUnlessTransfer(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgVote, pb.MsgPreVote} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newFollowerAt(t, 1, 2, 3, func(c *Config) { c.CheckQuorum = true })
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: typ, Term: 5, Index: 9, LogTerm: 9})
			assert.Empty(t, msgs)
			assert.Equal(t, uint64(2), n.r.Term)

			msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: typ, Term: 5, Index: 9, LogTerm: 9, Context: []byte(campaignTransfer)})
			require.Len(t, msgs, 1)
			assert.False(t, msgs[0].Reject, "a transfer campaign bypasses the lease")

			// Once the lease expired, ordinary requests are heard.
			n = newFollowerAt(t, 1, 2, 3, func(c *Config) { c.CheckQuorum = true })
			n.r.setRandIntn(func(int) int { return 5 })
			n.r.resetRandomizedElectionTimeout()
			for i := 0; i < n.r.electionTimeout; i++ {
				n.Tick()
			}
			require.Equal(t, StateFollower, n.r.state)
			msgs = n.stepFlush(pb.Message{From: 2, To: 1, Type: typ, Term: 5, Index: 9, LogTerm: 9})
			require.Len(t, msgs, 1)
			assert.False(t, msgs[0].Reject)
		})
	}
}

// Thesis §3.10: leadership transfer. The leader brings the target up to date,
// then sends it TimeoutNow; the target campaigns at once (without a
// pre-vote) and wins.
func TestLeadershipTransferCatchesUpThenTimesOut(t *testing.T) {
	l := newNodeInRole(t, StateLeader, func(c *Config) { c.PreVote = true })
	l.ackAll(2)
	require.NoError(t, l.step(pb.Message{From: 3, To: 1, Type: pb.MsgTransferLeader}))
	msgs := l.flush()
	// 3 has not acknowledged anything: no TimeoutNow yet (its probe is
	// already in flight, so nothing else goes out either).
	assert.Empty(t, filterMsgs(msgs, pb.MsgTimeoutNow))
	assert.Equal(t, uint64(3), l.r.leadTransferee)
	msgs = l.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgAppResp, Term: l.r.Term, Index: l.r.raftLog.lastIndex()})
	tn := filterMsgs(msgs, pb.MsgTimeoutNow)
	require.Len(t, tn, 1)
	assert.Equal(t, uint64(3), tn[0].To)

	f := newFollowerAt(t, 3, l.r.Term, 1, func(c *Config) { c.PreVote = true; c.CheckQuorum = true })
	msgs = f.stepFlush(pb.Message{From: 1, To: 3, Type: pb.MsgTimeoutNow, Term: l.r.Term})
	assert.Equal(t, StateCandidate, f.r.state)
	require.Len(t, msgs, 2)
	for _, m := range msgs {
		assert.Equal(t, pb.MsgVote, m.Type)
		assert.Equal(t, []byte(campaignTransfer), m.Context)
	}
}

// Thesis §6.4: a new leader serves no read before it has committed an entry
// of its own term, since until then its commit index may be stale.
func TestReadIndexWaitsForCommitInCurrentTerm(t *testing.T) {
	n := newNodeInRole(t, StateLeader)
	n.ReadIndex([]byte("r"))
	msgs := n.flush()
	assert.Empty(t, n.r.readStates)
	assert.Empty(t, filterMsgs(msgs, pb.MsgHeartbeat), "no heartbeat round before the commit")
	msgs = n.ackAll(2)
	hb := filterMsgs(msgs, pb.MsgHeartbeat)
	require.Len(t, hb, 2, "the commit releases the read into a heartbeat round")
	n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeatResp, Term: n.r.Term, Context: hb[0].Context})
	assert.Equal(t, []ReadState{{Index: n.r.raftLog.committed, RequestCtx: []byte("r")}}, n.readStates())
}
