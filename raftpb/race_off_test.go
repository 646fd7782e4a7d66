//go:build !race

package raftpb

// raceEnabled tells tests that count allocations that the race detector,
// which allocates on its own, is on.
const raceEnabled = false
