package progress

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func newProgress(state StateType, match, next uint64) *Progress {
	return &Progress{State: state, Match: match, Next: next, Inflights: NewInflights(3, 0), RecentActive: true}
}

func TestStateTypeString(t *testing.T) {
	assert.Equal(t, "StateProbe", StateProbe.String())
	assert.Equal(t, "StateReplicate", StateReplicate.String())
	assert.Equal(t, "StateSnapshot", StateSnapshot.String())
	assert.Equal(t, "StateType(7)", StateType(7).String())
	assert.Equal(t, []uint64{0, 1, 2}, []uint64{uint64(StateProbe), uint64(StateReplicate), uint64(StateSnapshot)})
}

func TestBecomeProbe(t *testing.T) {
	tests := []struct {
		name     string
		pr       *Progress
		wantNext uint64
	}{
		{"from replicate restarts after match", newProgress(StateReplicate, 1, 5), 2},
		{"from snapshot skips past the snapshot", &Progress{State: StateSnapshot, Match: 1, Next: 5, PendingSnapshot: 10, Inflights: NewInflights(3, 0)}, 11},
		{"from snapshot keeps match when ahead", &Progress{State: StateSnapshot, Match: 12, Next: 13, PendingSnapshot: 10, Inflights: NewInflights(3, 0)}, 13},
		{"from probe restarts after match", newProgress(StateProbe, 3, 9), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.pr.MsgAppFlowPaused = true
			tt.pr.BecomeProbe()
			assert.Equal(t, StateProbe, tt.pr.State)
			assert.Equal(t, tt.wantNext, tt.pr.Next)
			assert.Zero(t, tt.pr.PendingSnapshot)
			assert.False(t, tt.pr.MsgAppFlowPaused)
		})
	}
}

func TestBecomeReplicateRestartsAfterMatch(t *testing.T) {
	pr := newProgress(StateProbe, 4, 9)
	pr.MsgAppFlowPaused = true
	pr.BecomeReplicate()
	assert.Equal(t, StateReplicate, pr.State)
	assert.Equal(t, uint64(5), pr.Next)
	assert.False(t, pr.MsgAppFlowPaused)
}

func TestBecomeSnapshotMovesNextPastTheSnapshot(t *testing.T) {
	pr := newProgress(StateReplicate, 2, 5)
	pr.Inflights.Add(4, 1)
	pr.BecomeSnapshot(20)
	assert.Equal(t, StateSnapshot, pr.State)
	assert.Equal(t, uint64(20), pr.PendingSnapshot)
	assert.Equal(t, uint64(21), pr.Next)
	assert.Zero(t, pr.Inflights.Count(), "the window is reset")
	assert.True(t, pr.IsPaused())
	assert.False(t, pr.CanBumpCommit(20), "the snapshot carried commit 20")
}

func TestResetStateToleratesNilInflights(t *testing.T) {
	pr := &Progress{State: StateSnapshot, PendingSnapshot: 3}
	pr.ResetState(StateProbe)
	assert.Equal(t, StateProbe, pr.State)
	assert.Zero(t, pr.PendingSnapshot)
}

func TestTrimInflightsDropsAWindowEmptyForAWholeInterval(t *testing.T) {
	pr := newProgress(StateReplicate, 5, 6)
	in := pr.Inflights

	pr.SentEntries(1, 10)
	pr.TrimInflights()
	assert.Same(t, in, pr.Inflights, "a window in use is kept")

	pr.Inflights.FreeLE(6)
	pr.TrimInflights()
	assert.Same(t, in, pr.Inflights, "a window that just emptied is kept for an interval")
	pr.SentEntries(1, 10)
	pr.Inflights.FreeLE(7)
	pr.TrimInflights()
	assert.Same(t, in, pr.Inflights, "a send in the interval keeps it: the peer is busy")
	pr.TrimInflights()
	assert.Nil(t, pr.Inflights, "empty at two heartbeats in a row: dropped")

	pr.TrimInflights()
	assert.Nil(t, pr.Inflights)
	assert.False(t, pr.IsPaused(), "nil is an empty window")
	pr.SentEntries(0, 0)
	assert.False(t, pr.MsgAppFlowPaused, "an empty append needs no window")
}

func TestSentEntriesInReplicateAdvancesNextAndFillsWindow(t *testing.T) {
	pr := newProgress(StateReplicate, 5, 6)
	pr.SentEntries(3, 30) // entries 6..8
	assert.Equal(t, uint64(9), pr.Next)
	assert.Equal(t, []inflight{{8, 30}}, contents(pr.Inflights))
	assert.False(t, pr.IsPaused())

	pr.SentEntries(0, 0) // an empty MsgApp is not tracked
	assert.Equal(t, uint64(9), pr.Next)
	assert.Equal(t, 1, pr.Inflights.Count())

	pr.SentEntries(1, 10)
	pr.SentEntries(2, 10)
	assert.Equal(t, uint64(12), pr.Next)
	assert.True(t, pr.Inflights.Full())
	assert.True(t, pr.IsPaused(), "a full window pauses the flow")

	assert.True(t, pr.MaybeUpdate(8))
	pr.Inflights.FreeLE(8)
	assert.False(t, pr.IsPaused(), "an acknowledgement unpauses it")
}

func TestSentEntriesInReplicatePausesOnByteLimit(t *testing.T) {
	pr := &Progress{State: StateReplicate, Match: 0, Next: 1, Inflights: NewInflights(100, 50)}
	pr.SentEntries(1, 49)
	assert.False(t, pr.IsPaused())
	pr.SentEntries(1, 1)
	assert.True(t, pr.IsPaused())
}

func TestSentEntriesInProbePausesOnlyNonEmptyProbes(t *testing.T) {
	pr := newProgress(StateProbe, 5, 6)
	pr.SentEntries(0, 0)
	assert.False(t, pr.IsPaused())
	assert.Equal(t, uint64(6), pr.Next)
	pr.SentEntries(2, 10)
	assert.True(t, pr.IsPaused())
	assert.Equal(t, uint64(6), pr.Next, "probing does not move Next")
	assert.Zero(t, pr.Inflights.Count())
}

func TestSentEntriesInSnapshotChangesNothing(t *testing.T) {
	pr := newProgress(StateSnapshot, 5, 11)
	pr.SentEntries(2, 10)
	assert.Equal(t, uint64(11), pr.Next)
	assert.False(t, pr.MsgAppFlowPaused)
	assert.True(t, pr.IsPaused())
}

func TestCanBumpCommit(t *testing.T) {
	tests := []struct {
		name       string
		next, sent uint64
		index      uint64
		want       bool
	}{
		{"newer commit and follower has more entries", 10, 5, 7, true},
		{"commit not newer than what was sent", 10, 7, 7, false},
		{"follower was sent nothing past the sent commit", 8, 7, 9, false},
		{"fresh progress with entries sent", 2, 0, 1, true},
		{"fresh progress with nothing sent", 1, 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := newProgress(StateReplicate, 0, tt.next)
			pr.SentCommit(tt.sent)
			assert.Equal(t, tt.want, pr.CanBumpCommit(tt.index))
		})
	}
}

func TestSentCommitIsLoweredWhenNextMovesBack(t *testing.T) {
	pr := newProgress(StateReplicate, 3, 10)
	pr.SentCommit(9)
	assert.False(t, pr.CanBumpCommit(9))
	pr.BecomeProbe() // Next = 4: the follower may only have up to 3
	assert.True(t, pr.MaybeUpdate(8))
	assert.True(t, pr.CanBumpCommit(9), "the commit must be resent")

	pr = newProgress(StateReplicate, 3, 10)
	pr.SentCommit(9)
	assert.True(t, pr.MaybeDecrTo(9, 3))
	assert.Equal(t, uint64(4), pr.Next)
	pr.MaybeUpdate(9)
	assert.True(t, pr.CanBumpCommit(9))

	pr = newProgress(StateProbe, 3, 10)
	pr.SentCommit(9)
	assert.True(t, pr.MaybeDecrTo(9, 5))
	pr.MaybeUpdate(9)
	assert.True(t, pr.CanBumpCommit(9))

	pr = newProgress(StateProbe, 3, 10)
	pr.SentCommit(9)
	pr.BecomeReplicate()
	pr.MaybeUpdate(9)
	assert.True(t, pr.CanBumpCommit(9))
}

func TestMaybeUpdate(t *testing.T) {
	tests := []struct {
		name                string
		match, next, n      uint64
		want                bool
		wantMatch, wantNext uint64
	}{
		{"stale ack below match", 5, 8, 4, false, 5, 8},
		{"duplicate ack at match", 5, 8, 5, false, 5, 8},
		{"ack between match and next", 5, 8, 6, true, 6, 8},
		{"ack at next-1", 5, 8, 7, true, 7, 8},
		{"ack past next pulls next along", 5, 8, 10, true, 10, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := newProgress(StateProbe, tt.match, tt.next)
			pr.MsgAppFlowPaused = true
			assert.Equal(t, tt.want, pr.MaybeUpdate(tt.n))
			assert.Equal(t, tt.wantMatch, pr.Match)
			assert.Equal(t, tt.wantNext, pr.Next)
			assert.Equal(t, !tt.want, pr.MsgAppFlowPaused, "unpaused only when Match grew")
		})
	}
}

func TestMaybeDecrTo(t *testing.T) {
	tests := []struct {
		name           string
		state          StateType
		match, next    uint64
		rejected, hint uint64
		want           bool
		wantNext       uint64
	}{
		{"replicate: rejection at match is stale", StateReplicate, 5, 10, 5, 5, false, 10},
		{"replicate: rejection below match is stale", StateReplicate, 5, 10, 4, 4, false, 10},
		{"replicate: rejection above match falls back to match+1", StateReplicate, 5, 10, 9, 9, true, 6},
		{"probe: rejection not of the last probe is stale", StateProbe, 0, 10, 5, 5, false, 10},
		{"probe: rejection moves next to the hint", StateProbe, 0, 10, 9, 3, true, 4},
		{"probe: hint past rejected is ignored", StateProbe, 0, 10, 9, 20, true, 9},
		{"probe: next never drops to match or below", StateProbe, 5, 10, 9, 2, true, 6},
		{"probe: rejection of index 0", StateProbe, 0, 1, 0, 0, true, 1},
		{"snapshot: behaves as probe", StateSnapshot, 0, 11, 10, 4, true, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := newProgress(tt.state, tt.match, tt.next)
			pr.MsgAppFlowPaused = true
			assert.Equal(t, tt.want, pr.MaybeDecrTo(tt.rejected, tt.hint))
			assert.Equal(t, tt.wantNext, pr.Next)
			assert.Equal(t, tt.match, pr.Match)
			if tt.want && tt.state != StateReplicate {
				assert.False(t, pr.MsgAppFlowPaused)
			}
		})
	}
}

func TestIsPaused(t *testing.T) {
	tests := []struct {
		state  StateType
		paused bool
		want   bool
	}{
		{StateProbe, false, false},
		{StateProbe, true, true},
		{StateReplicate, false, false},
		{StateReplicate, true, true},
		{StateSnapshot, false, true},
		{StateSnapshot, true, true},
	}
	for _, tt := range tests {
		pr := newProgress(tt.state, 0, 1)
		pr.MsgAppFlowPaused = tt.paused
		assert.Equal(t, tt.want, pr.IsPaused(), "%s paused=%v", tt.state, tt.paused)
	}
}

func TestProgressString(t *testing.T) {
	pr := newProgress(StateReplicate, 5, 8)
	assert.Equal(t, "StateReplicate match=5 next=8", pr.String())
	pr.SentEntries(1, 1)
	pr.SentEntries(1, 1)
	pr.SentEntries(1, 1)
	pr.IsLearner = true
	pr.RecentActive = false
	assert.Equal(t, "StateReplicate match=5 next=11 learner paused inactive inflight=3[full]", pr.String())
	pr.SentEntries(0, 0)
	pr.MaybeUpdate(9)
	pr.Inflights.FreeLE(9)
	assert.Equal(t, "StateReplicate match=9 next=11 learner inactive inflight=1", pr.String())
	pr.BecomeSnapshot(30)
	assert.Equal(t, "StateSnapshot match=9 next=31 learner paused pendingSnap=30 inactive", pr.String())
	assert.Equal(t, "StateProbe match=0 next=1 inactive", (&Progress{Next: 1}).String())
}

func TestProgressMapStringIsSorted(t *testing.T) {
	m := ProgressMap{
		3: newProgress(StateProbe, 0, 1),
		1: newProgress(StateReplicate, 4, 5),
	}
	assert.Equal(t, "1: StateReplicate match=4 next=5\n3: StateProbe match=0 next=1\n", m.String())
}

func TestRegressForgetsMatchAndProbesFromTheHint(t *testing.T) {
	pr := newProgress(StateReplicate, 12, 20)
	pr.Inflights.Add(15, 1)
	pr.SentCommit(12)
	pr.MsgAppFlowPaused = true
	pr.Regress(6)
	assert.Equal(t, StateProbe, pr.State)
	assert.Zero(t, pr.Match, "nothing is known to be in the peer's log")
	assert.Equal(t, uint64(6), pr.Next)
	assert.False(t, pr.MsgAppFlowPaused)
	assert.Zero(t, pr.Inflights.Count(), "the window is reset")
	assert.Equal(t, uint64(5), pr.sentCommit, "the peer is told the commit index again")

	pr = newProgress(StateProbe, 3, 4)
	pr.Regress(9)
	assert.Equal(t, uint64(4), pr.Next, "Next never rises")
	pr.Regress(0)
	assert.Equal(t, uint64(1), pr.Next, "Next stays above Match")
}
