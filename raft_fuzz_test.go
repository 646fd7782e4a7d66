package raft

import (
	"fmt"
	"math"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/require"
)

// fuzzSeeds returns valid messages of every type, as a node in some role
// would receive them, to seed FuzzStep.
func fuzzSeeds(t testing.TB) []pb.Message {
	var seeds []pb.Message
	for _, role := range stepRoles {
		n := newStepTableNodeTB(t, role)
		for typ := pb.MsgHup; typ <= pb.MsgForgetLeader; typ++ {
			seeds = append(seeds, stepTableMsg(n.r, typ))
		}
	}
	// Storage responses that claim more than was handed out.
	seeds = append(seeds,
		pb.Message{Type: pb.MsgStorageApplyResp, From: LocalApplyThread, To: 1, Entries: []pb.Entry{{Index: 100, Term: 9}}},
		pb.Message{Type: pb.MsgStorageAppendResp, From: LocalAppendThread, To: 1, Term: 3, Index: 100, LogTerm: 3,
			Snapshot: &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 100, Term: 3, ConfState: voters(1, 2, 3)}}},
		pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 3, Index: 1, LogTerm: 3, Commit: 100,
			Entries: []pb.Entry{{Index: 2, Term: 3, Type: pb.EntryConfChangeV2, Data: []byte{0x0a, 0xff}}}},
		pb.Message{Type: pb.MsgSnap, From: 2, To: 1, Term: 3, Snapshot: &pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 50, Term: 3, ConfState: pb.ConfState{Voters: []uint64{1}, VotersOutgoing: []uint64{2}, AutoLeave: true}}}},
		pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 3, Context: encodeReadRound(1)},
	)
	return seeds
}

// edgeSeeds returns a message of every type, as a follower of its term's
// leader would receive it, with each index or term field in turn set to 0,
// 1, MaxUint64-1 and MaxUint64 (see TestStepIndexAndTermEdges).
func edgeSeeds(t testing.TB) []pb.Message {
	n := newStepTableNodeTB(t, StateFollower)
	var seeds []pb.Message
	for typ := pb.MsgHup; typ <= pb.MsgForgetLeader; typ++ {
		for _, f := range edgeFields {
			for _, v := range edgeValues {
				m := stepTableMsg(n.r, typ)
				if typ == pb.MsgApp || typ == pb.MsgHeartbeat || typ == pb.MsgSnap {
					m.From = n.r.lead
				}
				f.set(&m, v)
				seeds = append(seeds, m)
			}
		}
	}
	return seeds
}

// newStepTableNodeTB is newStepTableNode for fuzz targets.
func newStepTableNodeTB(t testing.TB, role StateType) *testNode {
	var opts []func(*Config)
	if role == StatePreCandidate {
		opts = append(opts, func(c *Config) { c.PreVote = true })
	}
	n := newTestNode(t, 1, voters(1, 2, 3), nil, opts...)
	n.stepFlush(pb.Message{From: 3, To: 1, Type: pb.MsgHeartbeat, Term: 2})
	switch role {
	case StatePreCandidate, StateCandidate:
		n.stepFlush(pb.Message{Type: pb.MsgHup})
	case StateLeader:
		n.becomeLeader(2, 3)
		n.ackAll(2, 3)
	}
	require.Equal(t, role, n.r.state)
	n.flush()
	return n
}

// fuzzMutations is the number of mutations FuzzStep selects from.
const fuzzMutations = 9

// FuzzStep decodes arbitrary bytes as a Message and steps it into a node in
// every role, through RawNode.Step and directly into the state machine. It
// must never panic, and afterwards the node's invariants hold: the commit
// index within the log, the applied index within the commit index, the
// term never lower, indexes and terms below MaxUint64, terms that never
// decrease along the log (requireSoundLog), and the node still able to
// hand out its Ready.
// mut selects a few targeted mutations (term relative to the node's, sender
// and destination forced to peers, the last terms), so the fuzzer reaches
// beyond the term checks.
func FuzzStep(f *testing.F) {
	for i, m := range append(fuzzSeeds(f), edgeSeeds(f)...) {
		b, err := m.Marshal()
		require.NoError(f, err)
		f.Add(b, uint8(i%fuzzMutations))
	}
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0x0f}, uint8(1)) // negative type
	f.Fuzz(func(t *testing.T, data []byte, mut uint8) {
		var m pb.Message
		if err := m.Unmarshal(data); err != nil {
			return
		}
		for _, role := range stepRoles {
			for _, direct := range []bool{false, true} {
				n := newStepTableNodeTB(t, role)
				msg := m
				switch mut % fuzzMutations {
				case 1:
					msg.Term = n.r.Term
				case 2:
					msg.Term = n.r.Term + 1
				case 3:
					if n.r.Term > 0 {
						msg.Term = n.r.Term - 1
					}
				case 4:
					msg.From, msg.To = 2, 1
				case 5:
					msg.From, msg.To, msg.Term = 2, 1, n.r.Term
				case 6:
					msg.Entries = append([]pb.Entry(nil), msg.Entries...)
					for i := range msg.Entries {
						msg.Entries[i].Index = msg.Index + 1 + uint64(i)
					}
				case 7:
					msg.Term = maxTerm
				case 8:
					msg.From, msg.To, msg.Term = 2, 1, math.MaxUint64
				}
				checkStepInvariants(t, n, msg, direct)
			}
		}
	})
}

func checkStepInvariants(t *testing.T, n *testNode, m pb.Message, direct bool) {
	t.Helper()
	r := n.r
	term := r.Term
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panic stepping %s (direct=%v, role %s): %v", describeFuzzMsg(m), direct, r.state, p)
		}
	}()
	if direct {
		_ = r.Step(m)
	} else {
		_ = n.RawNode.Step(m)
	}
	// Tick through a heartbeat and an election, flushing every Ready.
	for i := 0; i < 3; i++ {
		n.flush()
		n.Tick()
	}
	n.flush()
	if r.raftLog.committed > r.raftLog.lastIndex() {
		t.Fatalf("commit %d beyond last index %d after %s", r.raftLog.committed, r.raftLog.lastIndex(), describeFuzzMsg(m))
	}
	if r.raftLog.applied > r.raftLog.committed {
		t.Fatalf("applied %d beyond commit %d after %s", r.raftLog.applied, r.raftLog.committed, describeFuzzMsg(m))
	}
	if r.Term < term {
		t.Fatalf("term went down from %d to %d after %s", term, r.Term, describeFuzzMsg(m))
	}
	if r.state == StateLeader && r.lead != r.id {
		t.Fatalf("leader with lead %d", r.lead)
	}
	requireSoundLog(t, r, describeFuzzMsg(m))
}

func describeFuzzMsg(m pb.Message) string {
	s := fmt.Sprintf("%s from %x to %x term %d logterm %d index %d commit %d entries %d reject %v",
		m.Type, m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, len(m.Entries), m.Reject)
	if m.Snapshot != nil {
		s += fmt.Sprintf(" snapshot %d/%d %v", m.Snapshot.Metadata.Index, m.Snapshot.Metadata.Term, m.Snapshot.Metadata.ConfState)
	}
	return s
}

// TestStepValidMessagesUnderInvariants runs the fuzz seeds with every
// mutation as a plain test, so that `go test` checks them without -fuzz.
func TestStepValidMessagesUnderInvariants(t *testing.T) {
	for _, m := range fuzzSeeds(t) {
		for _, role := range stepRoles {
			for _, direct := range []bool{false, true} {
				n := newStepTableNodeTB(t, role)
				checkStepInvariants(t, n, m, direct)
			}
		}
	}
}
