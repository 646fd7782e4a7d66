package raft

import (
	"strconv"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// StateTraceDeployed reports whether state tracing is compiled in. In this
// library it always is: set Config.TraceLogger to receive the events. (etcd
// raft compiles tracing in only with the with_tla build tag.)
const StateTraceDeployed = true

// TraceLogger receives the state tracing events of a node, for checking a
// run against a specification (such as a TLA+ model of Raft). TraceEvent is
// called synchronously from the node's goroutine, so it must be quick, and
// it must not call back into the node. The event is not reused by the
// library: the logger may keep it.
type TraceLogger interface {
	// TraceEvent receives one event. It is called synchronously from the
	// node's goroutine, so it should be quick; the event is its to keep.
	TraceEvent(*TracingEvent)
}

// The event names of TracingEvent.Name, besides the Send* and Receive*
// names of messages.
const (
	rsmInitState       = "InitState"
	rsmReady           = "Ready"
	rsmBecomeFollower  = "BecomeFollower"
	rsmBecomeCandidate = "BecomeCandidate"
	rsmBecomeLeader    = "BecomeLeader"
	rsmApplyConfChange = "ApplyConfChange"
)

// The actions of SingleConfChange.Action.
const (
	// ConfChangeAddNewServer is a node becoming a voter.
	ConfChangeAddNewServer string = "AddNewServer"
	// ConfChangeRemoveServer is a node leaving the configuration, or
	// leaving the voters to become a learner.
	ConfChangeRemoveServer string = "RemoveServer"
	// ConfChangeAddLearner is a node becoming a learner.
	ConfChangeAddLearner string = "AddLearner"
)

// TracingEvent is one step of a node, as seen by a specification: what
// happened (Name), to which node, and the node's state after it.
type TracingEvent struct {
	// Name says what happened: InitState, Ready, BecomeFollower,
	// BecomeCandidate, BecomeLeader, ApplyConfChange, or Send<kind> /
	// Receive<kind> for a message, where <kind> is AppendEntriesRequest,
	// AppendEntriesResponse, RequestVoteRequest, RequestVoteResponse,
	// RequestPreVoteRequest, RequestPreVoteResponse, or the message type's
	// name (such as MsgHeartbeat) for the other types.
	Name string
	// NodeID is the ID of the node, in decimal.
	NodeID string
	// State is the node's persistent state.
	State TracingState
	// Role is the node's role, such as "StateLeader".
	Role string
	// LogSize is the index of the node's last log entry.
	LogSize uint64
	// Conf holds the incoming voters in Conf[0] and, while the
	// configuration is joint, the outgoing voters in Conf[1], as sorted
	// decimal IDs.
	Conf [2][]string
	// Message is the message sent or received, for Send* and Receive*
	// events.
	Message *TracingMessage
	// ConfChange is the change applied, for ApplyConfChange events.
	ConfChange *TracingConfChange
	// Properties holds extra details of some events; it is usually nil.
	Properties map[string]any
}

// TracingState is the persistent state of a node in a TracingEvent.
type TracingState struct {
	// Term is the current term.
	Term uint64
	// Vote is the node voted for in this term, in decimal ("0" for none).
	Vote string
	// Commit is the commit index.
	Commit uint64
}

// TracingMessage is a message in a TracingEvent. Entries are summarized by
// their count.
type TracingMessage struct {
	// Type is the message type's name, such as "MsgApp".
	Type string
	// Term is the message's term.
	Term uint64
	// From is the sender's ID, in decimal.
	From string
	// To is the recipient's ID, in decimal.
	To string
	// EntryLength is the number of entries carried.
	EntryLength int
	// LogTerm is the term of the entry at Index.
	LogTerm uint64
	// Index is the log index the message refers to.
	Index uint64
	// Commit is the sender's commit index, where the type carries one.
	Commit uint64
	// Vote is the vote field, in decimal.
	Vote string
	// Reject tells whether the message is a rejection.
	Reject bool
	// RejectHint is the rejection hint.
	RejectHint uint64
}

// TracingConfChange is a configuration change in a TracingEvent: the
// difference between the old and the new configuration, and the new
// incoming voters.
type TracingConfChange struct {
	// Changes lists what changed for each node whose membership changed.
	Changes []SingleConfChange
	// NewConf holds the new incoming voters, as sorted decimal IDs.
	NewConf []string
}

// SingleConfChange is the change of one node's membership.
type SingleConfChange struct {
	// NodeID is the node's ID, in decimal.
	NodeID string
	// Action is ConfChangeAddNewServer, ConfChangeRemoveServer or
	// ConfChangeAddLearner.
	Action string
}

// traceMsgKinds names the message types that a specification models under
// a name of its own; the others use the type's name.
var traceMsgKinds = map[pb.MessageType]string{
	pb.MsgApp:         "AppendEntriesRequest",
	pb.MsgAppResp:     "AppendEntriesResponse",
	pb.MsgVote:        "RequestVoteRequest",
	pb.MsgVoteResp:    "RequestVoteResponse",
	pb.MsgPreVote:     "RequestPreVoteRequest",
	pb.MsgPreVoteResp: "RequestPreVoteResponse",
}

func traceMsgKind(t pb.MessageType) string {
	if k, ok := traceMsgKinds[t]; ok {
		return k
	}
	return t.String()
}

func traceID(id uint64) string { return strconv.FormatUint(id, 10) }

func traceIDs(c quorum.MajorityConfig) []string {
	ids := c.Slice()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = traceID(id)
	}
	return out
}

// newTracingEvent describes the current state of r under the given name.
func newTracingEvent(r *raft, name string) *TracingEvent {
	return &TracingEvent{
		Name:   name,
		NodeID: traceID(r.id),
		State: TracingState{
			Term:   r.Term,
			Vote:   traceID(r.Vote),
			Commit: r.raftLog.committed,
		},
		Role:    r.state.String(),
		LogSize: r.raftLog.lastIndex(),
		Conf:    [2][]string{traceIDs(r.trk.Voters[0]), traceIDs(r.trk.Voters[1])},
	}
}

func traceNodeEvent(r *raft, name string) {
	r.tracer().TraceEvent(newTracingEvent(r, name))
}

// traceInitState records the state a node starts from.
func traceInitState(r *raft) {
	if r.tracer() == nil {
		return
	}
	traceNodeEvent(r, rsmInitState)
}

// traceReady records that a Ready was handed out: the state in it is what
// the application persists.
func traceReady(r *raft) {
	if r.rareOn&rareTracer != 0 {
		traceReadyOn(r)
	}
}

// traceReadyOn is traceReady when it is on. Kept out of line, or
// traceReady would no longer inline.
//
//go:noinline
func traceReadyOn(r *raft) {
	if r.tracer() == nil {
		return
	}
	traceNodeEvent(r, rsmReady)
}

func traceBecomeFollower(r *raft) {
	if r.tracer() == nil {
		return
	}
	traceNodeEvent(r, rsmBecomeFollower)
}

func traceBecomeCandidate(r *raft) {
	if r.tracer() == nil {
		return
	}
	traceNodeEvent(r, rsmBecomeCandidate)
}

func traceBecomeLeader(r *raft) {
	if r.tracer() == nil {
		return
	}
	traceNodeEvent(r, rsmBecomeLeader)
}

// traceSendMessage records a message queued for sending. Local messages
// (ticks, storage thread messages, ...) are not part of the protocol and are
// not traced.
func traceSendMessage(r *raft, m *pb.Message) {
	if r.rareOn&rareTracer != 0 {
		traceSendMessageOn(r, m)
	}
}

// traceSendMessageOn is traceSendMessage when it is on.
func traceSendMessageOn(r *raft, m *pb.Message) {
	if r.tracer() == nil {
		return
	}
	traceMessage(r, "Send", m)
}

// traceReceiveMessage records a message about to be stepped. Local
// messages are not traced.
func traceReceiveMessage(r *raft, m *pb.Message) {
	if r.rareOn&rareTracer != 0 {
		traceReceiveMessageOn(r, m)
	}
}

// traceReceiveMessageOn is traceReceiveMessage when it is on.
func traceReceiveMessageOn(r *raft, m *pb.Message) {
	if r.tracer() == nil {
		return
	}
	traceMessage(r, "Receive", m)
}

func traceMessage(r *raft, dir string, m *pb.Message) {
	if IsLocalMsg(m.Type) || IsLocalMsgTarget(m.From) || IsLocalMsgTarget(m.To) {
		return
	}
	ev := newTracingEvent(r, dir+traceMsgKind(m.Type))
	ev.Message = &TracingMessage{
		Type:        m.Type.String(),
		Term:        m.Term,
		From:        traceID(m.From),
		To:          traceID(m.To),
		EntryLength: len(m.Entries),
		LogTerm:     m.LogTerm,
		Index:       m.Index,
		Commit:      m.Commit,
		Vote:        traceID(m.Vote),
		Reject:      m.Reject,
		RejectHint:  m.RejectHint,
	}
	r.tracer().TraceEvent(ev)
}

// traceConfChangeEvent records a switch from the configuration of r to
// cfg. It must be called before r's configuration changes: the changes are
// the difference between the two.
func traceConfChangeEvent(cfg progress.Config, r *raft) {
	if r.tracer() == nil {
		return
	}
	old := r.trk.Config
	var changes []SingleConfChange
	oldVoters, newVoters := old.Voters.IDs(), cfg.Voters.IDs()
	for _, id := range sortedKeys(newVoters) {
		if _, ok := oldVoters[id]; !ok {
			changes = append(changes, SingleConfChange{NodeID: traceID(id), Action: ConfChangeAddNewServer})
		}
	}
	for _, id := range sortedKeys(cfg.Learners) {
		if _, ok := old.Learners[id]; !ok {
			changes = append(changes, SingleConfChange{NodeID: traceID(id), Action: ConfChangeAddLearner})
		}
	}
	for _, id := range sortedKeys(oldVoters) {
		if _, ok := newVoters[id]; !ok {
			changes = append(changes, SingleConfChange{NodeID: traceID(id), Action: ConfChangeRemoveServer})
		}
	}
	for _, id := range sortedKeys(old.Learners) {
		_, learner := cfg.Learners[id]
		_, voter := newVoters[id]
		if !learner && !voter {
			changes = append(changes, SingleConfChange{NodeID: traceID(id), Action: ConfChangeRemoveServer})
		}
	}
	ev := newTracingEvent(r, rsmApplyConfChange)
	ev.ConfChange = &TracingConfChange{
		Changes: changes,
		NewConf: traceIDs(cfg.Voters[0]),
	}
	r.tracer().TraceEvent(ev)
}

func sortedKeys(m map[uint64]struct{}) []uint64 {
	return quorum.MajorityConfig(m).Slice()
}
