// Package quorum computes what a group of voters has agreed on: the largest
// log index acknowledged by a quorum, and the outcome of an election. It
// knows nothing about Raft messages; callers hand it voter sets and, for each
// voter, the index it acknowledged or the vote it cast.
//
// A MajorityConfig is an ordinary Raft configuration, where a quorum is any
// strict majority. A JointConfig is the pair of configurations used during
// joint consensus (Raft thesis §4.3), where a decision needs a majority of
// both.
package quorum

import (
	"math"
	"strconv"
)

// Index is a Raft log index, as acknowledged by a voter or agreed on by a
// quorum.
type Index uint64

// String returns the index in decimal, or "∞" for math.MaxUint64, which is
// what an empty configuration reports as its committed index.
func (i Index) String() string {
	if i == math.MaxUint64 {
		return "∞"
	}
	return strconv.FormatUint(uint64(i), 10)
}

// AckedIndexer tells which log index a voter is known to have acknowledged.
// The progress tracker implements it over each peer's Match index.
type AckedIndexer interface {
	// AckedIndex returns the index acknowledged by voterID, and false if
	// nothing is known about that voter.
	AckedIndex(voterID uint64) (idx Index, found bool)
}

// MapAckIndexer is an AckedIndexer backed by a map from voter ID to
// acknowledged index. It is convenient in tests and small tools.
type MapAckIndexer map[uint64]Index

// AckedIndex implements AckedIndexer.
func (m MapAckIndexer) AckedIndex(id uint64) (Index, bool) {
	idx, ok := m[id]
	return idx, ok
}

// VoteResult is the outcome of an election as far as it is known.
type VoteResult uint8

const (
	// VotePending means the election is undecided: the votes still missing
	// can make it either won or lost.
	VotePending VoteResult = 1 + iota
	// VoteLost means a quorum can no longer be reached, whatever the missing
	// votes turn out to be.
	VoteLost
	// VoteWon means a quorum has granted its vote.
	VoteWon
)

// String returns the name of the constant, or "VoteResult(N)" for a value
// that is not one of them.
func (i VoteResult) String() string {
	switch i {
	case VotePending:
		return "VotePending"
	case VoteLost:
		return "VoteLost"
	case VoteWon:
		return "VoteWon"
	}
	return "VoteResult(" + strconv.FormatUint(uint64(i), 10) + ")"
}
