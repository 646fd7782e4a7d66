package raft

import pb "github.com/raftkit/raft/raftpb"

// ProposalStage is a step in the life of a proposal, as ProposalTracer
// reports it.
type ProposalStage uint8

// The stages of a proposal, in order.
const (
	// ProposalProposed: a leader appended proposed entries to its log,
	// at indexes First..Index of term Term.
	ProposalProposed ProposalStage = iota
	// ProposalSent: a leader sent entries First..Index to follower To.
	ProposalSent
	// ProposalAppended: the node's log is durable up to Index.
	ProposalAppended
	// ProposalAcknowledged: a quorum acknowledged the leader's log up to
	// Index, which is now committed (reported by the leader only).
	ProposalAcknowledged
	// ProposalCommitted: the node learned that its log is committed up to
	// Index.
	ProposalCommitted
	// ProposalApplied: the application applied the entries up to Index.
	ProposalApplied
)

var proposalStageNames = [...]string{"proposed", "sent", "appended", "acknowledged", "committed", "applied"}

// String returns the stage's name, such as "committed".
func (s ProposalStage) String() string {
	if int(s) < len(proposalStageNames) {
		return proposalStageNames[s]
	}
	return "unknown"
}

// ProposalEvent reports that entries reached a stage on a node. Proposed
// and Sent name a range of entries (First..Index); the other stages move a
// cursor, and cover every entry at or below Index not covered before. An
// application that remembers the index of its proposal (the leader's
// Proposed event of its term) can turn the events into a span per proposal:
// proposed, then sent to each follower, appended, acknowledged by a
// quorum, committed and applied.
type ProposalEvent struct {
	// Stage is the step reached.
	Stage ProposalStage
	// Node is the node reporting; Term its term.
	Node uint64
	Term uint64
	// First and Index bound the entries concerned; First is 0 for the
	// cursor stages.
	First uint64
	Index uint64
	// To is the follower of a Sent event.
	To uint64
}

// ProposalTracer receives the events of the life of proposals: set it in
// Config.ProposalTracer. It is called on the node's goroutine, in the
// middle of a step: it must return quickly and must not call the node.
type ProposalTracer interface {
	// TraceProposal receives one event.
	TraceProposal(ev ProposalEvent)
}

// proposalTracer returns the proposal tracer, or nil.
func (r *raft) proposalTracer() ProposalTracer {
	if r.rareOn&rareProposalTracer == 0 {
		return nil
	}
	return r.rare.proposalTracer
}

// traceProposal reports a stage of entries First..Index (First 0 for a
// cursor stage).
func traceProposal(r *raft, st ProposalStage, first, index, to uint64) {
	if r.rareOn&rareProposalTracer != 0 {
		traceProposalOn(r, st, first, index, to)
	}
}

// traceProposalOn is traceProposal when it is on.
func traceProposalOn(r *raft, st ProposalStage, first, index, to uint64) {
	if pt := r.proposalTracer(); pt != nil {
		pt.TraceProposal(ProposalEvent{Stage: st, Node: r.id, Term: r.Term, First: first, Index: index, To: to})
	}
}

// traceProposed reports proposed entries, indexed by appendEntry.
func traceProposed(r *raft, ents []pb.Entry) {
	if r.proposalTracer() != nil && len(ents) > 0 {
		traceProposal(r, ProposalProposed, ents[0].Index, ents[len(ents)-1].Index, 0)
	}
}

// traceSentEntries reports the entries of an append sent to a follower.
func traceSentEntries(r *raft, m *pb.Message) {
	if r.rareOn&rareProposalTracer != 0 {
		traceSentEntriesOn(r, m)
	}
}

// traceSentEntriesOn is traceSentEntries when it is on.
func traceSentEntriesOn(r *raft, m *pb.Message) {
	if r.proposalTracer() != nil && m.Type == pb.MsgApp && len(m.Entries) > 0 && m.To != r.id {
		traceProposal(r, ProposalSent, m.Entries[0].Index, m.Entries[len(m.Entries)-1].Index, m.To)
	}
}

// traceCursors reports the commit and apply cursors when they moved since
// the last report.
func traceCursors(r *raft) {
	if r.rareOn&rareProposalTracer != 0 {
		traceCursorsOn(r)
	}
}

// traceCursorsOn is traceCursors when it is on.
func traceCursorsOn(r *raft) {
	if r.proposalTracer() == nil {
		return
	}
	rr := r.rare
	if c := r.raftLog.committed; c > rr.tracedCommit {
		rr.tracedCommit = c
		traceProposal(r, ProposalCommitted, 0, c, 0)
	}
	if a := r.raftLog.applied; a > rr.tracedApplied {
		rr.tracedApplied = a
		traceProposal(r, ProposalApplied, 0, a, 0)
	}
}
