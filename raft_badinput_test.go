package raft

import (
	"fmt"
	"math"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeState is everything a bad message must leave untouched.
type nodeState struct {
	hs          pb.HardState
	state       StateType
	lead        uint64
	last        entryID
	committed   uint64
	applied     uint64
	cs          pb.ConfState
	progress    string
	transferee  uint64
	pendingConf uint64
	uncommitted uint64
	readStates  int
	unstable    int
	msgs        int
}

func captureState(r *raft) nodeState {
	return nodeState{
		hs:          r.hardState(),
		state:       r.state,
		lead:        r.lead,
		last:        r.raftLog.lastEntryID(),
		committed:   r.raftLog.committed,
		applied:     r.raftLog.applied,
		cs:          r.trk.ConfState(),
		progress:    r.trk.ProgressMap().String(),
		transferee:  r.leadTransferee,
		pendingConf: r.pendingConfIndex,
		uncommitted: r.uncommittedSize,
		readStates:  len(r.readStates),
		unstable:    len(r.raftLog.unstable.entries),
		msgs:        len(r.msgs) + len(r.msgsAfterAppend),
	}
}

// requireUnchangedAfter steps m through RawNode.Step and checks that the
// node did not panic, returned an error matching want (nil: any error),
// and changed nothing.
func requireUnchangedAfter(t *testing.T, n *testNode, m pb.Message, want error) {
	t.Helper()
	before := captureState(n.r)
	var err error
	require.NotPanics(t, func() { err = n.RawNode.Step(m) })
	require.Error(t, err)
	if want != nil {
		assert.ErrorIs(t, err, want)
	}
	assert.Equal(t, before, captureState(n.r))
	assert.Empty(t, n.flush(), "nothing is sent")
}

// Issue 4, bad input: local-only message types arriving from outside are
// refused by RawNode.Step with ErrStepLocalMsg, including storage responses
// whose sender is not the right storage thread.
func TestRawNodeStepRefusesLocalMessages(t *testing.T) {
	for _, role := range stepRoles {
		for _, m := range []pb.Message{
			{Type: pb.MsgHup},
			{Type: pb.MsgHup, From: LocalAppendThread},
			{Type: pb.MsgBeat, From: 2},
			{Type: pb.MsgUnreachable, From: 2},
			{Type: pb.MsgSnapStatus, From: 2},
			{Type: pb.MsgCheckQuorum, From: 2},
			{Type: pb.MsgStorageAppend, From: 2},
			{Type: pb.MsgStorageApply, From: LocalApplyThread},
			{Type: pb.MsgStorageAppendResp, From: 2, Index: 100, LogTerm: 100},
			{Type: pb.MsgStorageAppendResp, From: LocalApplyThread, Index: 100, LogTerm: 100},
			{Type: pb.MsgStorageApplyResp, From: 2, Entries: []pb.Entry{{Index: 1}}},
			{Type: pb.MsgStorageApplyResp, From: LocalAppendThread, Entries: []pb.Entry{{Index: 1}}},
		} {
			t.Run(fmt.Sprintf("%s/%s/%x", role, m.Type, m.From), func(t *testing.T) {
				n := newStepTableNode(t, role)
				m.To = 1
				requireUnchangedAfter(t, n, m, ErrStepLocalMsg)
			})
		}
	}
}

// Issue 4, bad input: message types outside the enum, and negative ones,
// are refused with a descriptive error.
func TestStepRefusesUnknownMessageTypes(t *testing.T) {
	for _, role := range stepRoles {
		for _, typ := range []pb.MessageType{-1, -100, pb.MsgForgetLeader + 1, 1000} {
			t.Run(fmt.Sprintf("%s/%d", role, typ), func(t *testing.T) {
				n := newStepTableNode(t, role)
				requireUnchangedAfter(t, n, pb.Message{Type: typ, From: 2, To: 1, Term: n.r.Term + 1}, errBadMessage)
				// The state machine itself refuses them too.
				assert.ErrorIs(t, n.step(pb.Message{Type: typ, From: 2, To: 1}), errBadMessage)
			})
		}
	}
}

// Issue 4, bad input: responses from a node the configuration does not
// contain return ErrStepPeerNotFound.
func TestRawNodeStepRefusesResponsesFromUnknownPeers(t *testing.T) {
	for _, role := range stepRoles {
		for _, typ := range []pb.MessageType{pb.MsgAppResp, pb.MsgVoteResp, pb.MsgHeartbeatResp,
			pb.MsgPreVoteResp, pb.MsgReadIndexResp} {
			t.Run(fmt.Sprintf("%s/%s", role, typ), func(t *testing.T) {
				n := newStepTableNode(t, role)
				m := stepTableMsg(n.r, typ)
				m.From = 9
				requireUnchangedAfter(t, n, m, ErrStepPeerNotFound)
			})
		}
	}
	// A snapshot status or unreachable report about an unknown peer does
	// nothing.
	n := newStepTableNode(t, StateLeader)
	before := captureState(n.r)
	require.NotPanics(t, func() {
		n.ReportSnapshot(9, SnapshotFailure)
		n.ReportSnapshot(9, SnapshotFinish)
		n.ReportUnreachable(9)
		n.TransferLeader(9)
	})
	assert.Equal(t, before, captureState(n.r))
}

// Issue 4, bad input: messages between peers must name their sender and
// carry a term; none may claim to come from a storage thread.
func TestStepRefusesPeerMessagesWithoutSenderOrTerm(t *testing.T) {
	for _, role := range stepRoles {
		for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap, pb.MsgVote,
			pb.MsgPreVote, pb.MsgTimeoutNow, pb.MsgAppResp, pb.MsgHeartbeatResp} {
			for _, mut := range []struct {
				name string
				f    func(*pb.Message)
			}{
				{"from0", func(m *pb.Message) { m.From = 0 }},
				{"term0", func(m *pb.Message) { m.Term = 0 }},
				{"fromAppendThread", func(m *pb.Message) { m.From = LocalAppendThread }},
				{"fromApplyThread", func(m *pb.Message) { m.From = LocalApplyThread }},
			} {
				t.Run(fmt.Sprintf("%s/%s/%s", role, typ, mut.name), func(t *testing.T) {
					n := newStepTableNode(t, role)
					m := stepTableMsg(n.r, typ)
					m.Term = n.r.Term + 1 // would otherwise depose anyone
					mut.f(&m)
					before := captureState(n.r)
					var err error
					require.NotPanics(t, func() { err = n.step(m) })
					assert.ErrorIs(t, err, errBadMessage)
					assert.Equal(t, before, captureState(n.r))
				})
			}
		}
	}
	n := newStepTableNode(t, StateLeader)
	requireUnchangedAfter(t, n, pb.Message{Type: pb.MsgTransferLeader, To: 1}, errBadMessage)
}

// Issue 4, bad input: proposals that carry a term or have no entries, and
// reads without exactly one entry, are refused; proposals at a node that
// cannot take them are dropped with ErrProposalDropped.
func TestStepRefusesMalformedProposalsAndReads(t *testing.T) {
	for _, role := range stepRoles {
		for _, m := range []pb.Message{
			{Type: pb.MsgProp, Term: 1, Entries: []pb.Entry{{Data: []byte("x")}}},
			{Type: pb.MsgProp},
			{Type: pb.MsgProp, Entries: []pb.Entry{}},
			{Type: pb.MsgReadIndex, Term: 2, Entries: []pb.Entry{{Data: []byte("x")}}},
			{Type: pb.MsgReadIndex},
			{Type: pb.MsgReadIndex, Entries: []pb.Entry{{}, {}}},
		} {
			t.Run(fmt.Sprintf("%s/%s/%d/%d", role, m.Type, m.Term, len(m.Entries)), func(t *testing.T) {
				n := newStepTableNode(t, role)
				requireUnchangedAfter(t, n, m, errBadMessage)
			})
		}
	}
	t.Run("no leader", func(t *testing.T) {
		for _, role := range []StateType{StatePreCandidate, StateCandidate} {
			n := newStepTableNode(t, role)
			before := captureState(n.r)
			assert.ErrorIs(t, n.Propose([]byte("x")), ErrProposalDropped)
			n.ReadIndex([]byte("r"))
			assert.Equal(t, before, captureState(n.r))
			assert.Empty(t, n.flush())
		}
		n := newTestNode(t, 1, voters(1, 2, 3), nil)
		assert.ErrorIs(t, n.Propose([]byte("x")), ErrProposalDropped)
		n.ReadIndex([]byte("r"))
		assert.Empty(t, n.flush(), "a follower without leader drops reads")
	})
	t.Run("forwarding disabled", func(t *testing.T) {
		n := newFollowerAt(t, 1, 2, 3, func(c *Config) { c.DisableProposalForwarding = true })
		assert.ErrorIs(t, n.Propose([]byte("x")), ErrProposalDropped)
		assert.Empty(t, n.flush())
	})
}

// Issue 4, bad input: an append whose entries do not follow its Index, are
// not contiguous, have decreasing terms or terms newer than the message, or
// whose previous term is newer than the message, is refused whole.
func TestStepRefusesMalformedAppends(t *testing.T) {
	for _, tt := range []struct {
		name    string
		index   uint64
		logTerm uint64
		ents    []pb.Entry
	}{
		{"gap after index", 2, 2, []pb.Entry{{Index: 4, Term: 3}}},
		{"overlaps index", 2, 2, []pb.Entry{{Index: 2, Term: 3}}},
		{"not contiguous", 2, 2, []pb.Entry{{Index: 3, Term: 3}, {Index: 5, Term: 3}}},
		{"repeated index", 2, 2, []pb.Entry{{Index: 3, Term: 3}, {Index: 3, Term: 3}}},
		{"decreasing terms", 2, 2, []pb.Entry{{Index: 3, Term: 3}, {Index: 4, Term: 2}}},
		{"term below previous", 2, 2, []pb.Entry{{Index: 3, Term: 1}}},
		{"term above message", 2, 2, []pb.Entry{{Index: 3, Term: 9}}},
		{"previous term above message", 2, 9, nil},
	} {
		for _, role := range stepRoles {
			t.Run(fmt.Sprintf("%s/%s", tt.name, role), func(t *testing.T) {
				s := newTestStorage(t, voters(1, 2, 3), ents(1, 2)...)
				require.NoError(t, s.SetHardState(pb.HardState{Term: 2}))
				opts := []func(*Config){}
				if role == StatePreCandidate {
					opts = append(opts, func(c *Config) { c.PreVote = true })
				}
				n := newTestNode(t, 1, pb.ConfState{}, s, opts...)
				switch role {
				case StateFollower:
					n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 3})
				case StatePreCandidate:
					n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 3})
					n.stepFlush(pb.Message{Type: pb.MsgHup})
				case StateCandidate:
					n.stepFlush(pb.Message{Type: pb.MsgHup})
				case StateLeader:
					n.becomeLeader(2)
				}
				require.Equal(t, role, n.r.state)
				m := pb.Message{From: 2, To: 1, Type: pb.MsgApp, Term: 3, Index: tt.index, LogTerm: tt.logTerm,
					Entries: tt.ents, Commit: 3}
				requireUnchangedAfter(t, n, m, errBadMessage)
			})
		}
	}
}

// Issue 4, bad input: a snapshot message without a snapshot or with empty
// metadata, or newer than its message's term, is refused; one older than
// what the node has is acknowledged without restoring.
func TestStepSnapshotBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		snap *pb.Snapshot
	}{
		{"nil", nil},
		{"empty", &pb.Snapshot{}},
		{"index 0", &pb.Snapshot{Metadata: pb.SnapshotMetadata{Term: 2, ConfState: voters(1, 2, 3)}}},
		{"term above message", &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 9, Term: 5, ConfState: voters(1, 2, 3)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newFollowerAt(t, 1, 2, 3)
			requireUnchangedAfter(t, n, pb.Message{From: 3, To: 1, Type: pb.MsgSnap, Term: 2, Snapshot: tt.snap}, errBadMessage)
		})
	}

	t.Run("older than the log", func(t *testing.T) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1, 2)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 2, Commit: 3}))
		n := newTestNode(t, 1, pb.ConfState{}, s)
		n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeat, Term: 2, Commit: 3})
		before := captureState(n.r)
		msgs := n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgSnap, Term: 2, Snapshot: &pb.Snapshot{
			Metadata: pb.SnapshotMetadata{Index: 2, Term: 1, ConfState: voters(1, 2, 3)}}})
		assert.Equal(t, before, captureState(n.r))
		require.Len(t, msgs, 1)
		assert.Equal(t, pb.MsgAppResp, msgs[0].Type)
		assert.Equal(t, uint64(3), msgs[0].Index, "acknowledged at the commit index")
		snap, _ := s.Snapshot()
		assert.True(t, IsEmptySnap(snap), "nothing restored")
	})

	t.Run("whose last entry the log has", func(t *testing.T) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1, 2)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 2, Commit: 1}))
		n := newTestNode(t, 1, pb.ConfState{}, s)
		msgs := n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgSnap, Term: 2, Snapshot: &pb.Snapshot{
			Metadata: pb.SnapshotMetadata{Index: 3, Term: 1, ConfState: voters(1, 2, 3)}}})
		assert.Equal(t, uint64(3), n.r.raftLog.committed, "fast-forwards the commit index")
		assert.Equal(t, uint64(4), n.r.raftLog.lastIndex(), "keeps the log")
		require.Len(t, msgs, 1)
		assert.Equal(t, uint64(3), msgs[0].Index)
	})

	t.Run("not containing the node", func(t *testing.T) {
		n := newFollowerAt(t, 1, 2, 3)
		before := captureState(n.r)
		before.lead = 3
		msgs := n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgSnap, Term: 2, Snapshot: &pb.Snapshot{
			Metadata: pb.SnapshotMetadata{Index: 9, Term: 2, ConfState: voters(2, 3, 4)}}})
		assert.Equal(t, before, captureState(n.r))
		require.Len(t, msgs, 1)
		assert.Equal(t, uint64(0), msgs[0].Index)
	})

	t.Run("with an unusable configuration", func(t *testing.T) {
		n := newFollowerAt(t, 1, 2, 3)
		before := captureState(n.r)
		require.NotPanics(t, func() {
			n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgSnap, Term: 2, Snapshot: &pb.Snapshot{
				Metadata: pb.SnapshotMetadata{Index: 9, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{1}}}}})
		})
		assert.Equal(t, before, captureState(n.r))
	})
}

// Issue 4, bad input: a heartbeat whose commit index is past the follower's
// log is answered, but its commit index is not applied.
func TestHeartbeatCommitBeyondLastIndexIgnored(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3)
	msgs := n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeat, Term: 2, Commit: 50})
	assert.Equal(t, uint64(0), n.r.raftLog.committed)
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.MsgHeartbeatResp, msgs[0].Type)
}

// Issue 4 and 5, bad input: a conf change that cannot apply is refused with
// an error on the proposing side, whatever the entry type.
func TestProposeConfChangeThatCannotApplyIsRefused(t *testing.T) {
	garbage := []byte{0xff, 0xff, 0xff}
	for _, tt := range []struct {
		name string
		// decodes: without validation the change enters the log.
		decodes bool
		prop    func(n *testNode) error
	}{
		{"remove the only voter", true, func(n *testNode) error {
			return n.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1})
		}},
		{"remove every voter (v2)", true, func(n *testNode) error {
			return n.ProposeConfChange(pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{
				{Type: pb.ConfChangeRemoveNode, NodeID: 1}}})
		}},
		{"undecodable v1", false, func(n *testNode) error {
			return n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Type: pb.EntryConfChange, Data: garbage}}})
		}},
		{"undecodable v2", false, func(n *testNode) error {
			return n.step(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Type: pb.EntryConfChangeV2, Data: garbage}}})
		}},
		{"undecodable, forwarded", false, func(n *testNode) error {
			return n.step(pb.Message{Type: pb.MsgProp, From: 1, Entries: []pb.Entry{{Data: []byte("ok")}, {Type: pb.EntryConfChangeV2, Data: garbage}}})
		}},
		{"leave joint when not joint", true, func(n *testNode) error {
			return n.ProposeConfChange(pb.ConfChangeV2{})
		}},
	} {
		for _, disable := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/disableValidation=%v", tt.name, disable), func(t *testing.T) {
				n := newTestNode(t, 1, voters(1), nil, func(c *Config) { c.DisableConfChangeValidation = disable })
				n.becomeLeader()
				before := captureState(n.r)
				var err error
				require.NotPanics(t, func() { err = tt.prop(n) })
				if disable && tt.decodes {
					// Without validation, a change that decodes goes into the
					// log; it is refused when applied (see below).
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrProposalDropped)
				assert.Equal(t, before, captureState(n.r))
			})
		}
	}
}

// Issue 4 and 5, bad input: a committed conf change that cannot apply is
// ignored with a logged reason by every node; the cluster keeps working.
func TestCommittedConfChangeThatCannotApplyIsIgnored(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.DisableConfChangeValidation = true })
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	// A change of an unknown type, one that removes every voter, and a
	// leave-joint while not joint: all are refused on apply.
	for _, cc := range []pb.ConfChangeI{
		pb.ConfChange{Type: pb.ConfChangeType(99), NodeID: 2},
		pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointExplicit, Changes: []pb.ConfChangeSingle{
			{Type: pb.ConfChangeRemoveNode, NodeID: 1}, {Type: pb.ConfChangeRemoveNode, NodeID: 2}, {Type: pb.ConfChangeRemoveNode, NodeID: 3}}},
		pb.ConfChangeV2{},
	} {
		require.NotPanics(t, func() {
			require.NoError(t, c.node(1).ProposeConfChange(cc))
			c.stabilize()
		})
		for _, id := range c.ids {
			assert.Equal(t, []uint64{1, 2, 3}, c.nodes[id].cs.Voters, "node %d", id)
			assert.Equal(t, c.node(1).raft.raftLog.committed, c.nodes[id].appliedIndex)
		}
	}
	require.NoError(t, c.propose(1, "b"))
	assert.Equal(t, []string{"a", "b"}, c.requireSameApplied(c.ids...))
	// ApplyConfChange itself refuses without panicking.
	var cs *pb.ConfState
	require.NotPanics(t, func() {
		cs = c.node(2).ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}.AsV2())
		cs = c.node(2).ApplyConfChange(pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeType(99), NodeID: 2}}})
	})
	assert.Equal(t, []uint64{1, 3}, cs.Voters, "the first change applied; the unknown type was ignored")
}

// Issue 4, bad input: a follower that receives a committed conf change entry
// it cannot decode (from a faulty or foreign leader) does not crash; the
// application skips the entry.
func TestFollowerSurvivesUndecodableConfChangeEntry(t *testing.T) {
	n := newFollowerAt(t, 1, 2, 3)
	var msgs []pb.Message
	require.NotPanics(t, func() {
		msgs = n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgApp, Term: 2, Commit: 2, Entries: []pb.Entry{
			{Index: 1, Term: 2, Type: pb.EntryConfChange, Data: []byte{0xff}},
			{Index: 2, Term: 2, Type: pb.EntryConfChangeV2, Data: []byte{0xff, 0x01}},
		}})
	})
	require.Len(t, msgs, 1)
	assert.False(t, msgs[0].Reject)
	assert.Equal(t, uint64(2), n.r.raftLog.applied)
	assert.Equal(t, []uint64{1, 2, 3}, n.r.trk.ConfState().Voters)
	// It can still campaign once the entries are applied.
	n.stepFlush(pb.Message{Type: pb.MsgHup})
	assert.Equal(t, StateCandidate, n.r.state)
}

// Issue 4, "Careful": Raft trusts the leader of the current term. A node
// that is joining and not yet in its own configuration accepts MsgApp,
// MsgHeartbeat and MsgSnap from the leader, or it would never catch up.
func TestJoiningNodeAcceptsLeaderMessages(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newTestNode(t, 4, pb.ConfState{}, nil)
			m := pb.Message{From: 1, To: 4, Type: typ, Term: 3}
			switch typ {
			case pb.MsgApp:
				m.Entries = ents(1, 3)
				m.Entries[1].Type = pb.EntryConfChange
				cc := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}
				data, err := cc.Marshal()
				require.NoError(t, err)
				m.Entries[1].Data = data
				m.Commit = 2
			case pb.MsgSnap:
				m.Snapshot = &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 7, Term: 3,
					ConfState: voters(1, 2, 3, 4)}}
			}
			var err error
			require.NotPanics(t, func() { err = n.RawNode.Step(m) })
			require.NoError(t, err)
			msgs := n.flush()
			assert.Equal(t, uint64(3), n.r.Term)
			assert.Equal(t, uint64(1), n.r.lead)
			require.Len(t, msgs, 1)
			assert.Equal(t, uint64(1), msgs[0].To)
			assert.False(t, msgs[0].Reject)
			switch typ {
			case pb.MsgApp:
				assert.Equal(t, uint64(2), msgs[0].Index)
				// The conf change applied: it knows itself now.
				assert.Contains(t, n.r.trk.VoterNodes(), uint64(4))
			case pb.MsgSnap:
				assert.Equal(t, uint64(7), msgs[0].Index)
				assert.Equal(t, []uint64{1, 2, 3, 4}, n.r.trk.VoterNodes())
			case pb.MsgHeartbeat:
				assert.Equal(t, pb.MsgHeartbeatResp, msgs[0].Type)
			}
		})
	}
}

// Issue 4, "Careful": a voter answers the vote request of a candidate that
// a conf change it has not applied yet added: requests are not dropped for
// coming from outside the receiver's configuration.
func TestVoterAnswersVoteOfUnknownCandidate(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgVote, pb.MsgPreVote} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newFollowerAt(t, 1, 0, 0)
			var err error
			require.NotPanics(t, func() {
				err = n.RawNode.Step(pb.Message{From: 4, To: 1, Type: typ, Term: 1})
			})
			require.NoError(t, err)
			msgs := n.flush()
			require.Len(t, msgs, 1)
			assert.Equal(t, uint64(4), msgs[0].To)
			assert.False(t, msgs[0].Reject)
			if typ == pb.MsgVote {
				assert.Equal(t, uint64(4), n.r.Vote)
			}
		})
	}
}

// Issue 4: storage that lost entries the node had persisted (a commit index
// beyond the last index after a restart) makes NewRawNode return an error
// naming the indexes, rather than panic. So do a bad Config.Applied and an
// unusable stored configuration.
func TestRestartWithInconsistentStorageReturnsError(t *testing.T) {
	t.Run("commit beyond last index", func(t *testing.T) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 5}))
		var err error
		require.NotPanics(t, func() { _, err = NewRawNode(newTestConfig(1, 10, 1, s)) })
		require.Error(t, err)
		assert.Contains(t, err.Error(), "5")
		assert.Contains(t, err.Error(), "2")
	})
	t.Run("applied beyond commit", func(t *testing.T) {
		s := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 1}))
		cfg := newTestConfig(1, 10, 1, s)
		cfg.Applied = 2
		_, err := NewRawNode(cfg)
		require.Error(t, err)
	})
	t.Run("bad conf state", func(t *testing.T) {
		s := newTestStorage(t, pb.ConfState{Voters: []uint64{1}, Learners: []uint64{1}})
		_, err := NewRawNode(newTestConfig(1, 10, 1, s))
		require.Error(t, err)
	})
	t.Run("bad config", func(t *testing.T) {
		s := newTestStorage(t, voters(1))
		for _, f := range []func(*Config){
			func(c *Config) { c.ID = 0 },
			func(c *Config) { c.ID = LocalApplyThread },
			func(c *Config) { c.HeartbeatTick = 0 },
			func(c *Config) { c.ElectionTick = c.HeartbeatTick },
			func(c *Config) { c.Storage = nil },
			func(c *Config) { c.MaxInflightMsgs = 0 },
			func(c *Config) { c.MaxSizePerMsg = 100; c.MaxInflightBytes = 10 },
			func(c *Config) { c.ReadOnlyOption = 7 },
			func(c *Config) { c.ReadOnlyOption = ReadOnlyLeaseBased },
		} {
			cfg := newTestConfig(1, 10, 1, s)
			f(cfg)
			copied := *cfg
			_, err := NewRawNode(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Config.")
			assert.Equal(t, copied, *cfg, "the config is not modified")
		}
	})
}

// Issue 4, bad input: a message that claims to come from a storage thread
// with the right type (so RawNode.Step cannot tell it from a real response)
// but reports work that was never handed out is refused without panicking.
func TestForgedStorageResponsesRefused(t *testing.T) {
	for _, role := range stepRoles {
		for _, m := range []pb.Message{
			{Type: pb.MsgStorageApplyResp, From: LocalApplyThread, To: 1, Entries: []pb.Entry{{Index: 100, Term: 2}}},
			{Type: pb.MsgStorageAppendResp, From: LocalAppendThread, To: 1, Term: 3,
				Snapshot: &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 100, Term: 3, ConfState: voters(1, 2, 3)}}},
		} {
			t.Run(fmt.Sprintf("%s/%s", role, m.Type), func(t *testing.T) {
				n := newStepTableNode(t, role)
				requireUnchangedAfter(t, n, m, errBadMessage)
			})
		}
	}
	// An append response for entries that are not there marks nothing.
	n := newStepTableNode(t, StateFollower)
	before := captureState(n.r)
	require.NoError(t, n.RawNode.Step(pb.Message{Type: pb.MsgStorageAppendResp, From: LocalAppendThread, To: 1,
		Term: n.r.Term, Index: 100, LogTerm: 9}))
	assert.Equal(t, before, captureState(n.r))
}

// Issue 4, bad input: an append response acknowledging an index past the
// leader's log cannot be true; it must not raise the follower's progress
// (which would then point past the log) nor move the commit index. The
// sender still counts as active: it did answer.
func TestLeaderIgnoresAppendResponseBeyondItsLog(t *testing.T) {
	n := newTestNode(t, 1, voters(1, 2, 3), nil)
	n.becomeLeader(2)
	last := n.r.raftLog.lastIndex()
	committed := n.r.raftLog.committed
	pr := *n.r.trk.Get(2)
	msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: n.r.Term, Index: last + 100})
	assert.Empty(t, msgs)
	got := n.r.trk.Get(2)
	assert.Equal(t, pr.Match, got.Match)
	assert.Equal(t, pr.Next, got.Next)
	assert.Equal(t, pr.State, got.State)
	assert.Equal(t, committed, n.r.raftLog.committed)
	assert.True(t, got.RecentActive)
}

// Issue 14, at most one leader per term (Raft §5.2): a node that knows the
// leader of its term drops appends, heartbeats (and the commit index they
// carry) and snapshots of that term from any other node, with an error,
// and changes nothing: not its log, commit index, leader or election clock.
// The pre-candidate forgot its leader (as etcd's does) but not that the
// term had one; so does a follower that was told to forget its leader.
func TestSecondLeaderOfTermIsRefused(t *testing.T) {
	forgot := func(t *testing.T) *testNode {
		n := newStepTableNode(t, StateFollower)
		n.stepFlush(pb.Message{Type: pb.MsgForgetLeader})
		require.Equal(t, None, n.r.lead)
		return n
	}
	for _, tt := range []struct {
		name string
		node func(t *testing.T) *testNode
		lead uint64 // the leader of the node's term
	}{
		{"follower", func(t *testing.T) *testNode { return newStepTableNode(t, StateFollower) }, 3},
		{"pre-candidate", func(t *testing.T) *testNode { return newStepTableNode(t, StatePreCandidate) }, 3},
		{"leader", func(t *testing.T) *testNode { return newStepTableNode(t, StateLeader) }, 1},
		{"follower that forgot its leader", forgot, 3},
	} {
		for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap, pb.MsgReadIndexResp} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, typ), func(t *testing.T) {
				n := tt.node(t)
				require.Equal(t, tt.lead, n.r.termLead)
				m := stepTableMsg(n.r, typ)
				m.Commit = 1
				if typ == pb.MsgApp {
					last := n.r.raftLog.lastEntryID()
					m.Entries = []pb.Entry{{Index: last.index + 1, Term: n.r.Term, Data: []byte("forged")}}
					m.Commit = last.index + 1
				}
				require.Equal(t, uint64(2), m.From)
				require.Equal(t, n.r.Term, m.Term)
				n.Tick()
				n.flush()
				elapsed := n.r.electionElapsed
				requireUnchangedAfter(t, n, m, errBadMessage)
				assert.Equal(t, elapsed, n.r.electionElapsed, "the election clock is not reset")
				assert.Equal(t, tt.lead, n.r.termLead)
				// Through the state machine directly, too.
				before := captureState(n.r)
				assert.ErrorIs(t, n.step(m), errBadMessage)
				assert.Equal(t, before, captureState(n.r))
			})
		}
	}
}

// Issue 14: what the one-leader-per-term rule must not break. The leader of
// the term is followed; a node that knows no leader for its term takes the
// sender as leader (a restarted node, a candidate, a joining node that is
// not in its own configuration yet, see TestJoiningNodeAcceptsLeaderMessages);
// a leader of a later term replaces the known one, including one that a
// conf change the node has not applied added, and one elected through a
// leadership transfer.
func TestLeaderOfTermIsAccepted(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap} {
		t.Run(typ.String(), func(t *testing.T) {
			msg := func(n *testNode, from, term uint64) pb.Message {
				m := stepTableMsg(n.r, typ)
				m.From, m.Term = from, term
				if typ == pb.MsgSnap {
					m.Snapshot.Metadata.Term = term
				}
				return m
			}
			accepted := func(t *testing.T, n *testNode, m pb.Message) {
				t.Helper()
				var err error
				require.NotPanics(t, func() { err = n.step(m) })
				require.NoError(t, err)
				msgs := n.flush()
				assert.Equal(t, StateFollower, n.r.state)
				assert.Equal(t, m.Term, n.r.Term)
				assert.Equal(t, m.From, n.r.lead)
				assert.Equal(t, m.From, n.r.termLead)
				require.Len(t, msgs, 1)
				assert.Equal(t, m.From, msgs[0].To)
				assert.False(t, msgs[0].Reject)
			}
			t.Run("the known leader", func(t *testing.T) {
				n := newStepTableNode(t, StateFollower)
				accepted(t, n, msg(n, 3, 2))
			})
			t.Run("no leader known after a restart", func(t *testing.T) {
				s := newTestStorage(t, voters(1, 2, 3))
				require.NoError(t, s.SetHardState(pb.HardState{Term: 2}))
				n := newTestNode(t, 1, pb.ConfState{}, s)
				require.Equal(t, None, n.r.termLead)
				accepted(t, n, msg(n, 2, 2))
			})
			t.Run("candidate", func(t *testing.T) {
				n := newStepTableNode(t, StateCandidate)
				accepted(t, n, msg(n, 2, n.r.Term))
			})
			t.Run("leader of a later term", func(t *testing.T) {
				for _, role := range stepRoles {
					n := newStepTableNode(t, role)
					accepted(t, n, msg(n, 2, n.r.Term+1))
				}
			})
			t.Run("leader of a later term the node does not know of", func(t *testing.T) {
				n := newStepTableNode(t, StateFollower)
				accepted(t, n, msg(n, 4, n.r.Term+1))
			})
		})
	}
	t.Run("leadership transfer", func(t *testing.T) {
		c := newTestCluster(t, 3, nil)
		c.campaign(1)
		require.NoError(t, c.propose(1, "a"))
		c.node(1).TransferLeader(2)
		c.stabilize()
		require.Equal(t, uint64(2), c.leader())
		require.NoError(t, c.propose(2, "b"))
		for _, id := range c.ids {
			assert.Equal(t, uint64(2), c.node(id).raft.termLead, "node %d", id)
		}
		assert.Equal(t, []string{"a", "b"}, c.requireSameApplied(c.ids...))
	})
}

// settle processes every Ready of n until none is left and returns the
// messages to other nodes. In synchronous mode it is n.flush; in
// asynchronous mode it also does the work of the storage threads, as an
// application would, and steps their responses.
func settle(t testing.TB, n *testNode) []pb.Message {
	if !n.r.asyncStorageWrites {
		return n.flush()
	}
	var out []pb.Message
	for i := 0; n.HasReady(); i++ {
		require.Less(t, i, 100, "node does not settle")
		rd := n.Ready()
		for _, m := range rd.Messages {
			switch m.To {
			case LocalAppendThread:
				if m.Snapshot != nil {
					require.NoError(t, n.s.ApplySnapshot(*m.Snapshot))
				}
				require.NoError(t, n.s.Append(m.Entries))
				if m.Term != 0 || m.Vote != 0 || m.Commit != 0 {
					require.NoError(t, n.s.SetHardState(pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}))
				}
			case LocalApplyThread:
				for _, e := range m.Entries {
					n.applied = append(n.applied, e)
					if e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2 {
						if cc, err := decodeConfChange(e); err == nil {
							n.ApplyConfChange(cc)
						}
					}
				}
			default:
				out = append(out, m)
				continue
			}
			for _, resp := range m.Responses {
				if resp.To == n.r.id {
					require.NoError(t, n.RawNode.Step(resp))
				} else {
					out = append(out, resp)
				}
			}
		}
	}
	return out
}

// newEdgeNode returns node 1 of voters 1, 2, 3 in the given role, as
// newStepTableNode does, with asynchronous storage writes or not.
func newEdgeNode(t testing.TB, role StateType, async bool) *testNode {
	n := newTestNode(t, 1, voters(1, 2, 3), nil, func(c *Config) {
		c.PreVote = role == StatePreCandidate
		c.AsyncStorageWrites = async
	})
	require.NoError(t, n.step(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeat, Term: 2}))
	settle(t, n)
	if role != StateFollower {
		require.NoError(t, n.step(pb.Message{Type: pb.MsgHup}))
		settle(t, n)
	}
	if role == StateLeader {
		require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgVoteResp, Term: n.r.Term}))
		settle(t, n)
		last := n.r.raftLog.lastIndex()
		for _, id := range []uint64{2, 3} {
			require.NoError(t, n.step(pb.Message{From: id, To: 1, Type: pb.MsgAppResp, Term: n.r.Term, Index: last}))
		}
		settle(t, n)
	}
	require.Equal(t, role, n.r.state)
	return n
}

// edgeField is an index or term field of a message that the edge test sets.
type edgeField struct {
	name string
	set  func(m *pb.Message, v uint64)
}

// edgeEntry returns m's first entry, giving m one if it has none: the entry
// that would follow its Index, at its term.
func edgeEntry(m *pb.Message) *pb.Entry {
	if len(m.Entries) == 0 {
		m.Entries = []pb.Entry{{Index: m.Index + 1, Term: max(m.Term, 1), Data: []byte("e")}}
	} else {
		m.Entries = append([]pb.Entry(nil), m.Entries...)
	}
	return &m.Entries[0]
}

// edgeSnapshot returns m's snapshot metadata, giving m a snapshot beyond
// the log at its term if it has none.
func edgeSnapshot(m *pb.Message) *pb.SnapshotMetadata {
	if m.Snapshot == nil {
		m.Snapshot = &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: m.Index + 5, Term: max(m.Term, 1), ConfState: voters(1, 2, 3)}}
	} else {
		s := *m.Snapshot
		m.Snapshot = &s
	}
	return &m.Snapshot.Metadata
}

var edgeFields = []edgeField{
	{"Term", func(m *pb.Message, v uint64) { m.Term = v }},
	{"LogTerm", func(m *pb.Message, v uint64) { m.LogTerm = v }},
	{"Index", func(m *pb.Message, v uint64) { m.Index = v }},
	{"Commit", func(m *pb.Message, v uint64) { m.Commit = v }},
	{"RejectHint", func(m *pb.Message, v uint64) { m.RejectHint = v }},
	{"Entry.Index", func(m *pb.Message, v uint64) { edgeEntry(m).Index = v }},
	{"Entry.Term", func(m *pb.Message, v uint64) { edgeEntry(m).Term = v }},
	{"Snapshot.Index", func(m *pb.Message, v uint64) { edgeSnapshot(m).Index = v }},
	{"Snapshot.Term", func(m *pb.Message, v uint64) { edgeSnapshot(m).Term = v }},
}

var edgeValues = []uint64{0, 1, math.MaxUint64 - 1, math.MaxUint64}

// coreState is what a dropped message must leave unchanged, and what a
// message of an older term must not change either (it may be answered).
type coreState struct {
	hs        pb.HardState
	state     StateType
	lead      uint64
	termLead  uint64
	last      entryID
	committed uint64
	applied   uint64
	cs        pb.ConfState
}

func captureCore(r *raft) coreState {
	return coreState{hs: r.hardState(), state: r.state, lead: r.lead, termLead: r.termLead,
		last: r.raftLog.lastEntryID(), committed: r.raftLog.committed, applied: r.raftLog.applied,
		cs: r.trk.ConfState()}
}

// isPeerMsg reports whether messages of type typ travel between nodes and
// so carry a sender and a term.
func isPeerMsg(typ pb.MessageType) bool {
	switch typ {
	case pb.MsgApp, pb.MsgAppResp, pb.MsgVote, pb.MsgVoteResp, pb.MsgSnap, pb.MsgHeartbeat,
		pb.MsgHeartbeatResp, pb.MsgTimeoutNow, pb.MsgReadIndexResp, pb.MsgPreVote, pb.MsgPreVoteResp:
		return true
	}
	return false
}

// edgeMustDrop says whether m, base with one field set to an edge value,
// must be refused with errBadMessage by a node n in its role, and why.
// leaderOnly reports whether only the leader of a term sends messages of
// type t at that term (see raft.checkLeader).
func leaderOnly(t pb.MessageType) bool {
	return t == pb.MsgApp || t == pb.MsgHeartbeat || t == pb.MsgSnap || t == pb.MsgReadIndexResp
}

func edgeMustDrop(r *raft, m pb.Message, v uint64) (string, bool) {
	switch {
	case v == math.MaxUint64:
		return "no index or term may be MaxUint64", true
	case isPeerMsg(m.Type) && m.Term == 0:
		return "a peer message needs a term", true
	case !isPeerMsg(m.Type) && m.Term != 0 &&
		// A follower forwards a transfer request to the leader with its
		// term; a storage append response carries the term it was made in.
		m.Type != pb.MsgTransferLeader && m.Type != pb.MsgStorageAppendResp:
		return "a local or forwarded message carries no term", true
	}
	switch m.Type {
	case pb.MsgApp:
		if m.LogTerm > m.Term {
			return "previous entry newer than the message", true
		}
		for i, e := range m.Entries {
			if e.Index != m.Index+1+uint64(i) || e.Term == 0 || e.Term < m.LogTerm || e.Term > m.Term {
				return "entries do not follow Index, LogTerm and Term", true
			}
		}
	case pb.MsgSnap:
		md := m.Snapshot.Metadata
		if md.Index == 0 || md.Term == 0 || md.Term > m.Term {
			return "snapshot at index or term 0, or newer than the message", true
		}
	case pb.MsgStorageAppendResp:
		if m.Snapshot != nil && m.Snapshot.Metadata.Index > r.raftLog.committed {
			return "snapshot never handed out", true
		}
	case pb.MsgStorageApplyResp:
		if n := len(m.Entries); n > 0 && m.Entries[n-1].Index > r.raftLog.applying {
			return "entries never handed out for application", true
		}
	}
	if leaderOnly(m.Type) && m.Term == r.Term && r.termLead != None && m.From != r.termLead {
		return "a second leader in the term", true
	}
	return "", false
}

// requireSoundLog checks the invariants of a node's log: the commit index
// within the log, the applied index within the commit index, indexes and
// terms within bounds, and terms that never decrease along the log.
func requireSoundLog(t *testing.T, r *raft, what string) {
	t.Helper()
	l := &r.raftLog
	last := l.lastEntryID()
	require.LessOrEqual(t, l.committed, last.index, "commit beyond the log after %s", what)
	require.LessOrEqual(t, l.applied, l.committed, "applied beyond commit after %s", what)
	require.LessOrEqual(t, last.index, uint64(maxIndex), "index overflow after %s", what)
	require.LessOrEqual(t, r.Term, uint64(maxTerm), "term overflow after %s", what)
	require.LessOrEqual(t, last.term, r.Term, "log newer than the term after %s", what)
	first := l.firstIndex()
	prev, err := l.term(first - 1)
	require.NoError(t, err, "after %s", what)
	for i := first; i <= last.index && i >= first; i++ {
		term, err := l.term(i)
		require.NoError(t, err, "after %s", what)
		require.GreaterOrEqual(t, term, prev, "term decreases at index %d after %s", i, what)
		require.NotZero(t, term, "entry %d of term 0 after %s", i, what)
		prev = term
	}
}

// Issue 14, bad input at the edges of uint64: every index and term field of
// every message type, set to 0, 1, MaxUint64-1 and MaxUint64, stepped into
// a node in every role with synchronous and asynchronous storage writes.
// Nothing panics. A message that must be dropped (edgeMustDrop: MaxUint64
// anywhere, a missing or superfluous term, an append or snapshot that does
// not hold together, a second leader) returns errBadMessage and changes
// nothing and sends nothing. A message of an older term changes no state.
// Whatever is accepted leaves a sound log, and the node keeps working: it
// hands out its Readies and ticks through an election timeout.
func TestStepIndexAndTermEdges(t *testing.T) {
	for _, role := range stepRoles {
		for _, async := range []bool{false, true} {
			for typ := pb.MsgHup; typ <= pb.MsgForgetLeader; typ++ {
				t.Run(fmt.Sprintf("%s/async=%v/%s", role, async, typ), func(t *testing.T) {
					for _, f := range edgeFields {
						for _, v := range edgeValues {
							n := newEdgeNode(t, role, async)
							m := stepTableMsg(n.r, typ)
							if leaderOnly(typ) && n.r.termLead != None && n.r.termLead != n.r.id {
								m.From = n.r.termLead // the leader of the term, not a second one
							}
							f.set(&m, v)
							what := fmt.Sprintf("%s %s=%d", typ, f.name, v)
							reason, drop := edgeMustDrop(n.r, m, v)
							before, beforeCore := captureState(n.r), captureCore(n.r)
							var err error
							require.NotPanics(t, func() { err = n.step(m) }, what)
							if drop {
								assert.ErrorIs(t, err, errBadMessage, "%s: %s", what, reason)
								assert.Equal(t, before, captureState(n.r), "%s changed the node: %s", what, reason)
							} else {
								assert.NotErrorIs(t, err, errBadMessage, what)
								if isPeerMsg(typ) && m.Term < beforeCore.hs.Term {
									assert.Equal(t, beforeCore, captureCore(n.r), "%s of an older term changed the node", what)
								}
							}
							require.NotPanics(t, func() {
								for i := 0; i < 12; i++ {
									msgs := settle(t, n)
									if drop && i == 0 {
										assert.Empty(t, msgs, "%s sent messages: %s", what, reason)
									}
									n.Tick()
								}
							}, what)
							requireSoundLog(t, n.r, what)
							assert.GreaterOrEqual(t, n.r.Term, beforeCore.hs.Term, "term went down after %s", what)
							if n.r.state == StateLeader {
								assert.Equal(t, n.r.id, n.r.lead)
							}
							// Through RawNode.Step, which refuses local messages
							// first, the same holds.
							n = newEdgeNode(t, role, async)
							before = captureState(n.r)
							require.NotPanics(t, func() { err = n.RawNode.Step(m) }, what)
							if drop {
								assert.Error(t, err, what)
								assert.Equal(t, before, captureState(n.r), "%s changed the node: %s", what, reason)
							}
							require.NotPanics(t, func() { settle(t, n) }, what)
							requireSoundLog(t, n.r, what)
						}
					}
				})
			}
		}
	}
}

// Issue 14: a node whose term reached maxTerm (MaxUint64-1, through a
// message of a peer at that term) keeps following, but does not campaign,
// neither on its election timeout nor when asked by MsgTimeoutNow: the
// election would need term MaxUint64, which every node refuses, and the
// term after it would wrap around to 0. A pre-candidate just below it may
// still run its election at maxTerm.
func TestNodeAtLastTermDoesNotCampaign(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		t.Run(fmt.Sprintf("preVote=%v", preVote), func(t *testing.T) {
			n := newTestNode(t, 1, voters(1, 2, 3), nil, func(c *Config) { c.PreVote = preVote })
			msgs := n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: maxTerm, Commit: 0})
			require.Len(t, msgs, 1)
			assert.Equal(t, uint64(maxTerm), n.r.Term)
			assert.Equal(t, uint64(2), n.r.lead)

			require.NoError(t, n.step(pb.Message{From: 2, To: 1, Type: pb.MsgTimeoutNow, Term: maxTerm}))
			assert.Empty(t, n.flush())
			for i := 0; i < 3*n.r.electionTimeout; i++ {
				n.Tick()
				assert.Empty(t, n.flush())
			}
			assert.Equal(t, StateFollower, n.r.state)
			assert.Equal(t, uint64(maxTerm), n.r.Term)
			assert.Equal(t, None, n.r.Vote)

			n = newTestNode(t, 1, voters(1, 2, 3), nil, func(c *Config) { c.PreVote = preVote })
			n.stepFlush(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: maxTerm - 1})
			n.becomeLeader(2)
			assert.Equal(t, uint64(maxTerm), n.r.Term)
		})
	}
}
