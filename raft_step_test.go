package raft

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepOutcome is what stepping one message into a node in one role does.
type stepOutcome struct {
	sent  []pb.MessageType // types sent, in order (after flush)
	to    []uint64         // their destinations
	state StateType
	dterm uint64 // increase of the term
	lead  uint64
	err   error // the error Step returns, nil for none
}

// stepRoles are the four roles of the table, in the order of the outcomes.
var stepRoles = [4]StateType{StateFollower, StatePreCandidate, StateCandidate, StateLeader}

// newStepTableNode returns node 1 of voters 1, 2, 3 in the given role:
// a follower of 3 at term 2; a pre-candidate at term 2 (PreVote on); a
// candidate at term 3 that voted for itself; a leader at term 3 whose
// followers acknowledged its whole log.
func newStepTableNode(t *testing.T, role StateType) *testNode {
	n := newNodeInRole(t, role)
	if role == StateLeader {
		n.ackAll(2, 3)
	}
	n.flush()
	return n
}

// stepTableMsg returns a message of type typ from node 2 (a peer in every
// configuration) suited to the node: at its term, pointing at its last
// entry. Pre-votes and their responses are for the next term.
func stepTableMsg(r *raft, typ pb.MessageType) pb.Message {
	last := r.raftLog.lastEntryID()
	m := pb.Message{From: 2, To: 1, Type: typ, Term: r.Term}
	switch typ {
	case pb.MsgHup, pb.MsgBeat, pb.MsgCheckQuorum, pb.MsgUnreachable, pb.MsgSnapStatus,
		pb.MsgTransferLeader, pb.MsgForgetLeader:
		m.Term = 0
	case pb.MsgProp:
		m.Term = 0
		m.From = 0
		m.Entries = []pb.Entry{{Data: []byte("prop")}}
	case pb.MsgReadIndex:
		m.Term = 0
		m.From = 0
		m.Entries = []pb.Entry{{Data: []byte("read")}}
	case pb.MsgReadIndexResp:
		m.Index = r.raftLog.committed
		m.Entries = []pb.Entry{{Data: []byte("read")}}
	case pb.MsgApp, pb.MsgVote:
		m.Index, m.LogTerm = last.index, last.term
	case pb.MsgAppResp:
		m.Index = last.index
	case pb.MsgPreVote:
		m.Term = r.Term + 1
		m.Index, m.LogTerm = last.index, last.term
	case pb.MsgPreVoteResp:
		m.Term = r.Term + 1
	case pb.MsgSnap:
		m.Snapshot = &pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: last.index + 5, Term: r.Term, ConfState: voters(1, 2, 3)}}
	case pb.MsgStorageAppend, pb.MsgStorageApply:
		m.Term = 0
		m.From = 1
		m.To = LocalAppendThread
	case pb.MsgStorageAppendResp:
		m.Term = r.Term
		m.From = LocalAppendThread
	case pb.MsgStorageApplyResp:
		m.Term = 0
		m.From = LocalApplyThread
	}
	return m
}

// TestStepEveryRoleAndMessageType is the specification of Step: for each of
// the message types and each role, what is sent, how state, term and leader
// change, and what is dropped (no message, no change).
func TestStepEveryRoleAndMessageType(t *testing.T) {
	type o = stepOutcome
	const (
		F  = StateFollower
		PC = StatePreCandidate
		C  = StateCandidate
		L  = StateLeader
	)
	var (
		votes     = []pb.MessageType{pb.MsgVote, pb.MsgVote}
		preVotes  = []pb.MessageType{pb.MsgPreVote, pb.MsgPreVote}
		apps      = []pb.MessageType{pb.MsgApp, pb.MsgApp}
		beats     = []pb.MessageType{pb.MsgHeartbeat, pb.MsgHeartbeat}
		to23      = []uint64{2, 3}
		appResp   = []pb.MessageType{pb.MsgAppResp}
		hbResp    = []pb.MessageType{pb.MsgHeartbeatResp}
		voteResp  = []pb.MessageType{pb.MsgVoteResp}
		pvResp    = []pb.MessageType{pb.MsgPreVoteResp}
		to2       = []uint64{2}
		to3       = []uint64{3}
		dropped   = func(st StateType, lead uint64) o { return o{state: st, lead: lead} }
		fDropped  = dropped(F, 3)
		pcDropped = dropped(PC, None)
		cDropped  = dropped(C, None)
		lDropped  = dropped(L, 1)
		// At most one leader per term: node 2 is not the leader of the
		// term the follower, the pre-candidate (which forgot but did not
		// replace its leader) and the leader are in; only the candidate,
		// whose term has no leader yet, takes it as its leader.
		fSecondLeader  = o{state: F, lead: 3, err: errBadMessage}
		pcSecondLeader = o{state: PC, err: errBadMessage}
		lSecondLeader  = o{state: L, lead: 1, err: errBadMessage}
	)
	table := []struct {
		typ pb.MessageType
		out [4]o // follower, pre-candidate, candidate, leader
	}{
		{pb.MsgHup, [4]o{
			{sent: votes, to: to23, state: C, dterm: 1},
			{sent: preVotes, to: to23, state: PC}, // a new pre-election round
			{sent: votes, to: to23, state: C, dterm: 1},
			lDropped,
		}},
		{pb.MsgBeat, [4]o{fDropped, pcDropped, cDropped,
			{sent: beats, to: to23, state: L, lead: 1}}},
		{pb.MsgProp, [4]o{
			{sent: []pb.MessageType{pb.MsgProp}, to: to3, state: F, lead: 3}, // forwarded
			{state: PC, err: ErrProposalDropped},
			{state: C, err: ErrProposalDropped},
			{sent: apps, to: to23, state: L, lead: 1},
		}},
		{pb.MsgApp, [4]o{
			fSecondLeader,
			pcSecondLeader,
			{sent: appResp, to: to2, state: F, lead: 2},
			lSecondLeader,
		}},
		{pb.MsgAppResp, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgVote, [4]o{
			{sent: voteResp, to: to2, state: F, lead: 3}, // rejected: it has a leader
			{sent: voteResp, to: to2, state: PC},         // granted: no vote, no leader
			{sent: voteResp, to: to2, state: C},          // rejected: voted for itself
			{sent: voteResp, to: to2, state: L, lead: 1}, // rejected
		}},
		{pb.MsgVoteResp, [4]o{
			fDropped,
			pcDropped, // a vote answers the other phase
			{sent: apps, to: to23, state: L, lead: 1},
			lDropped,
		}},
		{pb.MsgSnap, [4]o{
			fSecondLeader,
			pcSecondLeader,
			{sent: appResp, to: to2, state: F, lead: 2},
			lSecondLeader,
		}},
		{pb.MsgHeartbeat, [4]o{
			fSecondLeader,
			pcSecondLeader,
			{sent: hbResp, to: to2, state: F, lead: 2},
			lSecondLeader,
		}},
		{pb.MsgHeartbeatResp, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgUnreachable, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgSnapStatus, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgCheckQuorum, [4]o{fDropped, pcDropped, cDropped, lDropped}}, // quorum active
		{pb.MsgTransferLeader, [4]o{
			{sent: []pb.MessageType{pb.MsgTransferLeader}, to: to3, state: F, lead: 3},
			pcDropped, cDropped,
			{sent: []pb.MessageType{pb.MsgTimeoutNow}, to: to2, state: L, lead: 1},
		}},
		{pb.MsgTimeoutNow, [4]o{
			{sent: votes, to: to23, state: C, dterm: 1},
			pcDropped, cDropped, lDropped,
		}},
		{pb.MsgReadIndex, [4]o{
			{sent: []pb.MessageType{pb.MsgReadIndex}, to: to3, state: F, lead: 3},
			pcDropped, cDropped,
			{sent: beats, to: to23, state: L, lead: 1}, // the read's heartbeat round
		}},
		{pb.MsgReadIndexResp, [4]o{fSecondLeader, pcSecondLeader, cDropped, lSecondLeader}},
		{pb.MsgPreVote, [4]o{
			{sent: pvResp, to: to2, state: F, lead: 3},
			{sent: pvResp, to: to2, state: PC},
			{sent: pvResp, to: to2, state: C},
			{sent: pvResp, to: to2, state: L, lead: 1},
		}},
		{pb.MsgPreVoteResp, [4]o{
			fDropped,
			{sent: votes, to: to23, state: C, dterm: 1},
			cDropped, lDropped,
		}},
		// The storage messages of asynchronous mode, and ForgetLeader.
		{pb.MsgStorageAppend, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgStorageAppendResp, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgStorageApply, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgStorageApplyResp, [4]o{fDropped, pcDropped, cDropped, lDropped}},
		{pb.MsgForgetLeader, [4]o{dropped(F, None), pcDropped, cDropped, lDropped}},
	}
	covered := map[pb.MessageType]bool{}
	for _, tt := range table {
		covered[tt.typ] = true
		for i, role := range stepRoles {
			want := tt.out[i]
			t.Run(fmt.Sprintf("%s/%s", role, tt.typ), func(t *testing.T) {
				n := newStepTableNode(t, role)
				term := n.r.Term
				m := stepTableMsg(n.r, tt.typ)
				err := n.step(m)
				if want.err != nil {
					assert.ErrorIs(t, err, want.err)
				} else {
					assert.NoError(t, err)
				}
				msgs := n.flush()
				var types []pb.MessageType
				var to []uint64
				for _, m := range msgs {
					types = append(types, m.Type)
					to = append(to, m.To)
				}
				assert.Equal(t, want.sent, types, "sent")
				assert.Equal(t, want.to, to, "destinations")
				assert.Equal(t, want.state, n.r.state, "state")
				assert.Equal(t, term+want.dterm, n.r.Term, "term")
				assert.Equal(t, want.lead, n.r.lead, "lead")
			})
		}
	}
	for typ := pb.MsgHup; typ <= pb.MsgForgetLeader; typ++ {
		assert.True(t, covered[typ], "%s is not in the table", typ)
	}
}

// TestStepTableDetails pins what the table's outcomes carry.
func TestStepTableDetails(t *testing.T) {
	t.Run("vote decisions", func(t *testing.T) {
		for i, role := range stepRoles {
			wantReject := []bool{true, false, true, true}[i]
			n := newStepTableNode(t, role)
			msgs := n.stepFlush(stepTableMsg(n.r, pb.MsgVote))
			require.Len(t, msgs, 1)
			assert.Equal(t, wantReject, msgs[0].Reject, "%s", role)
			assert.Equal(t, n.r.Term, msgs[0].Term, "%s", role)
			if !wantReject {
				assert.Equal(t, uint64(2), n.r.Vote, "a granted vote is recorded")
			}
		}
	})
	t.Run("forwarded proposal keeps no term", func(t *testing.T) {
		n := newStepTableNode(t, StateFollower)
		msgs := n.stepFlush(stepTableMsg(n.r, pb.MsgProp))
		require.Len(t, msgs, 1)
		assert.Equal(t, uint64(0), msgs[0].Term)
		assert.Equal(t, uint64(1), msgs[0].From)
		assert.Equal(t, []byte("prop"), msgs[0].Entries[0].Data)
	})
	t.Run("leader read heartbeat carries a round", func(t *testing.T) {
		n := newStepTableNode(t, StateLeader)
		msgs := n.stepFlush(stepTableMsg(n.r, pb.MsgReadIndex))
		for _, m := range msgs {
			_, ok := decodeReadRound(m.Context)
			assert.True(t, ok)
		}
	})
	t.Run("follower read response becomes a read state", func(t *testing.T) {
		n := newStepTableNode(t, StateFollower)
		require.NoError(t, n.step(pb.Message{From: 3, To: 1, Term: 2, Type: pb.MsgReadIndexResp, Index: 7,
			Entries: []pb.Entry{{Data: []byte("ctx")}}}))
		assert.Equal(t, []ReadState{{Index: 7, RequestCtx: []byte("ctx")}}, n.r.readStates)
		// Not exactly one entry: dropped.
		require.NoError(t, n.step(pb.Message{From: 3, To: 1, Term: 2, Type: pb.MsgReadIndexResp, Index: 8}))
		assert.Len(t, n.r.readStates, 1)
	})
	t.Run("snapshot restores", func(t *testing.T) {
		n := newStepTableNode(t, StateFollower)
		m := stepTableMsg(n.r, pb.MsgSnap)
		m.From = n.r.lead
		msgs := n.stepFlush(m)
		require.Len(t, msgs, 1)
		assert.Equal(t, uint64(5), msgs[0].Index)
		assert.Equal(t, uint64(5), n.r.raftLog.committed)
		snap, err := n.s.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, uint64(5), snap.Metadata.Index)
	})
	t.Run("unreachable makes a replicating follower probe", func(t *testing.T) {
		n := newStepTableNode(t, StateLeader)
		require.Equal(t, "StateReplicate", n.r.trk.Get(2).State.String())
		n.stepFlush(stepTableMsg(n.r, pb.MsgUnreachable))
		assert.Equal(t, "StateProbe", n.r.trk.Get(2).State.String())
	})
	t.Run("forget leader", func(t *testing.T) {
		n := newStepTableNode(t, StateFollower)
		n.stepFlush(stepTableMsg(n.r, pb.MsgForgetLeader))
		assert.Equal(t, None, n.r.lead)
		assert.Equal(t, uint64(2), n.r.Term)
		// Under ReadOnlyLeaseBased, a follower keeps its leader: forgetting
		// it would break the lease reads rely on.
		n = newFollowerAt(t, 1, 2, 3, func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
		n.stepFlush(pb.Message{Type: pb.MsgForgetLeader})
		assert.Equal(t, uint64(3), n.r.lead)
	})
	t.Run("storage append response marks entries stable", func(t *testing.T) {
		n := newStepTableNode(t, StateLeader)
		require.NoError(t, n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: []byte("x")}}}))
		last := n.r.raftLog.lastEntryID()
		n.r.raftLog.acceptUnstable()
		require.True(t, n.r.raftLog.hasNextOrInProgressUnstableEnts())
		require.NoError(t, n.step(pb.Message{From: LocalAppendThread, To: 1, Type: pb.MsgStorageAppendResp, Term: n.r.Term, Index: last.index, LogTerm: last.term}))
		assert.False(t, n.r.raftLog.hasNextOrInProgressUnstableEnts())
	})
}

// TestLeaderIgnoresMessagesFromPeersWithoutProgress: a leader needs the
// sender's progress for responses, status reports and transfers; without
// it the message is dropped.
func TestLeaderIgnoresMessagesFromPeersWithoutProgress(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgAppResp, pb.MsgHeartbeatResp, pb.MsgSnapStatus,
		pb.MsgUnreachable, pb.MsgTransferLeader} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newStepTableNode(t, StateLeader)
			m := stepTableMsg(n.r, typ)
			m.From = 9
			before := n.r.trk.ProgressMap().String()
			require.NoError(t, n.step(m))
			assert.Empty(t, n.flush())
			assert.Equal(t, before, n.r.trk.ProgressMap().String())
			assert.Equal(t, None, n.r.leadTransferee)
		})
	}
}
