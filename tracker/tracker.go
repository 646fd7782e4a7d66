// Package tracker keeps code written against etcd raft's tracker package
// compiling: every name here is an alias of, or forwards to, package
// progress, which holds the implementation.
package tracker

import "github.com/raftkit/raft/progress"

// Progress is progress.Progress.
type Progress = progress.Progress

// ProgressMap is progress.ProgressMap.
type ProgressMap = progress.ProgressMap

// Config is progress.Config.
type Config = progress.Config

// Inflights is progress.Inflights.
type Inflights = progress.Inflights

// StateType is progress.StateType.
type StateType = progress.StateType

// ProgressTracker is progress.Tracker.
type ProgressTracker = progress.Tracker

const (
	// StateProbe is progress.StateProbe.
	StateProbe = progress.StateProbe
	// StateReplicate is progress.StateReplicate.
	StateReplicate = progress.StateReplicate
	// StateSnapshot is progress.StateSnapshot.
	StateSnapshot = progress.StateSnapshot
)

// MakeProgressTracker calls progress.MakeTracker.
func MakeProgressTracker(maxInflight int, maxBytes uint64) ProgressTracker {
	return progress.MakeTracker(maxInflight, maxBytes)
}

// NewInflights calls progress.NewInflights.
func NewInflights(size int, maxBytes uint64) *Inflights {
	return progress.NewInflights(size, maxBytes)
}
