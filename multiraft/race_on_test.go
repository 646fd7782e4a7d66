//go:build race

package multiraft

// raceEnabled says whether the race detector is on: it allocates for
// itself and drops a share of sync.Pool's items, so a test of reuse
// asserts bytes allocated only without it.
const raceEnabled = true
