package tracker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/raftkit/raft/progress"
)

func TestNamesAreThoseOfProgress(t *testing.T) {
	var pt ProgressTracker = MakeProgressTracker(3, 10)
	var _ progress.Tracker = pt
	assert.Equal(t, 3, pt.MaxInflight)
	var in *progress.Inflights = NewInflights(1, 0)
	assert.False(t, in.Full())
	var st StateType = StateReplicate
	assert.Equal(t, progress.StateReplicate, st)
	assert.Equal(t, StateType(0), StateProbe)
	assert.Equal(t, StateType(2), StateSnapshot)
	var _ *Progress = &progress.Progress{}
	var _ ProgressMap = progress.ProgressMap{}
	var _ Config = progress.Config{}
}
