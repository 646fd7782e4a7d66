//go:build race

package multiraft

// raceEnabled: the race detector drops a share of sync.Pool's items, so
// tests of reuse through a pool do not hold under it.
const raceEnabled = true
