// Package progress tracks, on a leader, how far each peer's log is known to
// match the leader's, and how replication to it is flowing. It also holds the
// current membership configuration and tallies votes during elections.
//
// etcd raft calls this package "tracker"; our tracker package only aliases
// the names defined here.
package progress

import (
	"fmt"
	"slices"
	"strings"
)

// StateType is the replication state of a peer, as seen by the leader.
type StateType uint64

const (
	// StateProbe means the leader does not know where the peer's log
	// diverges from its own; it sends one MsgApp at a time and waits for the
	// answer before sending the next.
	StateProbe StateType = iota
	// StateReplicate means the peer's log matches up to Match; the leader
	// streams entries to it optimistically, bounded by the inflight window.
	StateReplicate
	// StateSnapshot means the peer needs entries the leader no longer has;
	// a snapshot is on its way and nothing else is sent until it is
	// reported.
	StateSnapshot
)

var stateNames = [...]string{"StateProbe", "StateReplicate", "StateSnapshot"}

// String returns the name of the state, like "StateReplicate".
func (st StateType) String() string {
	if st < StateType(len(stateNames)) {
		return stateNames[st]
	}
	return fmt.Sprintf("StateType(%d)", uint64(st))
}

// Progress is the leader's view of one peer: how far its log is known to
// match, where the next MsgApp starts, and the flow-control state.
//
// Invariant: Match < Next. Entries up to Match are known to be in the peer's
// log; Next is the index of the first entry the leader will send next.
//
// Pausing: IsPaused tells whether the leader should hold back MsgApps.
//   - In StateProbe it is MsgAppFlowPaused, set by SentEntries when a
//     non-empty probe goes out and cleared by an answer (MaybeUpdate,
//     MaybeDecrTo) or by the caller on a heartbeat response.
//   - In StateReplicate it is MsgAppFlowPaused too, which SentEntries sets
//     whenever the inflight window is full after recording a send, and
//     MaybeUpdate clears when Match grows. A caller that clears it on a
//     heartbeat response while Inflights.Full() should send a MsgApp
//     without entries, which lets a window whose messages were all lost
//     recover.
//   - In StateSnapshot it is always true.
type Progress struct {
	// Match is the highest index known to be in the peer's log.
	Match uint64
	// Next is the index of the first entry to send to the peer.
	Next uint64

	// sentCommit is the highest commit index the leader has told the peer,
	// or a lower bound of it after the peer's log was found to be shorter.
	sentCommit uint64

	// State is the replication state; see StateType.
	State StateType

	// PendingSnapshot is the index of the snapshot being sent while in
	// StateSnapshot, and zero otherwise.
	PendingSnapshot uint64

	// RecentActive tells whether the peer has been heard from since the
	// leader last checked (CheckQuorum). The leader sets it for itself.
	RecentActive bool

	// MsgAppFlowPaused tells whether sending MsgApps to the peer is paused;
	// see the type's documentation for when it is set and cleared.
	MsgAppFlowPaused bool

	// IsLearner tells whether the peer is a learner: it receives the log but
	// does not vote and counts for no quorum. (It sits with the other flags
	// so that they share one word.)
	IsLearner bool

	// Recovering tells that the peer is quarantined after a loss of
	// persisted state and in the leader's fence handshake: a raftkit
	// node, whose heartbeat responses said so. While its vote may be
	// lost (a StateLoss) the leader counts it for no quorum, and it is
	// never a leadership transfer target. The leader sets it when the
	// handshake starts and clears it when the peer stops saying so or the
	// term ends.
	Recovering bool

	// inflightsIdle tells that the inflight window was found empty by the
	// last TrimInflights and nothing has been sent since.
	inflightsIdle bool

	// Inflights is the window of unacknowledged MsgApps, used in
	// StateReplicate. nil stands for an empty window: the methods of
	// Inflights that read it accept nil. A Tracker's progresses get their
	// window when a MsgApp with entries is sent in StateReplicate
	// (Tracker.EnsureInflights) and lose it when it has stayed empty for a
	// heartbeat interval (TrimInflights), so that an idle group holds no
	// window. Whoever calls SentEntries or SentMoreEntries on its own
	// progress in StateReplicate must set a window first.
	Inflights *Inflights
}

// ResetState moves the progress to state, clearing the flow-control pause,
// the pending snapshot and the inflight window.
func (pr *Progress) ResetState(state StateType) {
	pr.MsgAppFlowPaused = false
	pr.PendingSnapshot = 0
	pr.State = state
	if pr.Inflights != nil {
		pr.Inflights.reset()
	}
}

// BecomeProbe moves the progress to StateProbe. Next restarts right after
// Match, or, when leaving StateSnapshot, after the snapshot if that is
// further: the peer is expected to have applied it.
func (pr *Progress) BecomeProbe() {
	if pr.State == StateSnapshot {
		pending := pr.PendingSnapshot
		pr.ResetState(StateProbe)
		pr.Next = max(pr.Match+1, pending+1)
	} else {
		pr.ResetState(StateProbe)
		pr.Next = pr.Match + 1
	}
	pr.sentCommit = min(pr.sentCommit, pr.Next-1)
}

// BecomeReplicate moves the progress to StateReplicate, with Next right after
// Match.
func (pr *Progress) BecomeReplicate() {
	pr.ResetState(StateReplicate)
	pr.Next = pr.Match + 1
	pr.sentCommit = min(pr.sentCommit, pr.Next-1)
}

// BecomeSnapshot moves the progress to StateSnapshot while the snapshot at
// index snapshoti is sent. Next moves past the snapshot, and the snapshot
// counts as telling the peer that everything up to it is committed.
func (pr *Progress) BecomeSnapshot(snapshoti uint64) {
	pr.ResetState(StateSnapshot)
	pr.PendingSnapshot = snapshoti
	pr.Next = snapshoti + 1
	pr.sentCommit = snapshoti
}

// SentEntries records that a MsgApp carrying entries entries with bytes of
// payload has been sent.
//
// In StateReplicate Next moves past the entries, a non-empty message enters
// the inflight window, and the flow pauses if the window is now full. In
// StateProbe a non-empty message pauses the flow until the peer answers. In
// StateSnapshot nothing is sent, and nothing changes.
func (pr *Progress) SentEntries(entries int, bytes uint64) {
	switch pr.State {
	case StateReplicate:
		if entries > 0 {
			pr.Next += uint64(entries)
			pr.Inflights.Add(pr.Next-1, bytes)
			pr.inflightsIdle = false
		}
		pr.MsgAppFlowPaused = pr.Inflights.Full()
	case StateProbe:
		if entries > 0 {
			pr.MsgAppFlowPaused = true
		}
	}
}

// SentMoreEntries records that entries (carrying bytes of payload) were
// added to the newest append sent to the peer, which had entries of its own
// and was still unsent: Next moves on, and in StateReplicate the newest
// inflight message grows instead of a new one being counted.
func (pr *Progress) SentMoreEntries(entries int, bytes uint64) {
	if pr.State != StateReplicate {
		pr.SentEntries(entries, bytes)
		return
	}
	if entries > 0 {
		pr.Next += uint64(entries)
		pr.Inflights.Extend(pr.Next-1, bytes)
		pr.inflightsIdle = false
	}
	pr.MsgAppFlowPaused = pr.Inflights.Full()
}

// TrimInflights drops the inflight window when it has stayed empty since
// the previous call and nothing was sent meanwhile. A leader calls it at
// every heartbeat, so that the peers of an idle group hold no window while
// a busy one keeps its window (and its ring buffer) from round to round.
// Dropping an empty window changes nothing but memory: nil is an empty
// window.
func (pr *Progress) TrimInflights() {
	switch {
	case pr.Inflights == nil:
	case pr.Inflights.Count() > 0:
		pr.inflightsIdle = false
	case pr.inflightsIdle:
		pr.Inflights, pr.inflightsIdle = nil, false
	default:
		pr.inflightsIdle = true
	}
}

// CanBumpCommit reports whether the peer should be told about commit index
// index: it is newer than what the peer was last told, and the peer's log
// (as far as the leader has sent it) reaches past what it was last told.
func (pr *Progress) CanBumpCommit(index uint64) bool {
	return index > pr.sentCommit && pr.sentCommit < pr.Next-1
}

// SentCommit records that the peer has been sent commit index commit.
func (pr *Progress) SentCommit(commit uint64) {
	pr.sentCommit = commit
}

// MaybeUpdate is called when the peer acknowledges entries up to n. It
// raises Match to n (unpausing the flow) and Next to at least n+1, and
// reports whether Match grew; false means the acknowledgement was stale.
func (pr *Progress) MaybeUpdate(n uint64) bool {
	updated := false
	if pr.Match < n {
		pr.Match = n
		updated = true
		pr.MsgAppFlowPaused = false
	}
	pr.Next = max(pr.Next, n+1)
	return updated
}

// MaybeDecrTo is called when the peer rejected a MsgApp whose entries
// followed index rejected, hinting that its log matches at most up to
// matchHint. It moves Next back and reports true, or reports false when the
// rejection is stale (an answer to a message the leader has since moved
// past).
//
// In StateReplicate, a rejection at or below Match is stale; otherwise Next
// falls back to Match+1 (the caller then probes). In the other states only a
// rejection of the latest probe (rejected == Next-1) counts; Next then moves
// to the hint, never below Match+1, and the flow is unpaused.
func (pr *Progress) MaybeDecrTo(rejected, matchHint uint64) bool {
	if pr.State == StateReplicate {
		if rejected <= pr.Match {
			return false
		}
		pr.Next = pr.Match + 1
		pr.sentCommit = min(pr.sentCommit, pr.Next-1)
		return true
	}
	if pr.Next-1 != rejected {
		return false
	}
	pr.Next = max(min(rejected, matchHint+1), pr.Match+1)
	pr.sentCommit = min(pr.sentCommit, pr.Next-1)
	pr.MsgAppFlowPaused = false
	return true
}

// Regress is called when the peer proved that its log no longer holds the
// entry at Match: it rejected an append or a heartbeat in a way that only a
// log without that entry can (its storage lost entries it had
// acknowledged). Nothing is then known to be in its log: Match drops to 0,
// and the progress probes from next, the leader's guess of the first entry
// the peer lacks (never above the current Next). Lowering Match is always
// safe: the commit index never decreases, and quorums only get harder to
// reach. etcd raft v3.6 has no such step: it keeps probing at Match forever.
func (pr *Progress) Regress(next uint64) {
	pr.ResetState(StateProbe)
	pr.Match = 0
	pr.Next = max(min(next, pr.Next), 1)
	pr.sentCommit = min(pr.sentCommit, pr.Next-1)
}

// IsPaused reports whether the leader should hold back MsgApps to the peer;
// see the type's documentation for the rule in each state.
func (pr *Progress) IsPaused() bool {
	switch pr.State {
	case StateProbe, StateReplicate:
		return pr.MsgAppFlowPaused
	default:
		return true
	}
}

// String renders the progress on one line for logs and tests, like
// "StateReplicate match=5 next=8 inflight=2".
func (pr *Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s match=%d next=%d", pr.State, pr.Match, pr.Next)
	if pr.IsLearner {
		b.WriteString(" learner")
	}
	if pr.Recovering {
		b.WriteString(" recovering")
	}
	if pr.IsPaused() {
		b.WriteString(" paused")
	}
	if pr.PendingSnapshot > 0 {
		fmt.Fprintf(&b, " pendingSnap=%d", pr.PendingSnapshot)
	}
	if !pr.RecentActive {
		b.WriteString(" inactive")
	}
	if pr.Inflights != nil {
		if n := pr.Inflights.Count(); n > 0 {
			fmt.Fprintf(&b, " inflight=%d", n)
			if pr.Inflights.Full() {
				b.WriteString("[full]")
			}
		}
	}
	return b.String()
}

// ProgressMap maps peer IDs to their progress.
type ProgressMap map[uint64]*Progress

// String renders one line per peer in ascending ID order, like
// "1: StateReplicate match=5 next=6".
func (m ProgressMap) String() string {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d: %s\n", id, m[id])
	}
	return b.String()
}
