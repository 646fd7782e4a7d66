package raft

import (
	"fmt"
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
