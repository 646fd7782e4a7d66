package raft

import (
	"fmt"
	"math"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bad input at the edges of uint64 (issue 14): every index and term field
// of every message type at 0, 1, MaxUint64-1 and MaxUint64, in every role.

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
