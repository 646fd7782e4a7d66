package quorum

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MajorityConfig is a set of voter IDs; a quorum is any strict majority of
// them.
type MajorityConfig map[uint64]struct{}

// smallConfig is the number of voters for which CommittedIndex and Slice work
// on a stack array instead of allocating. Real clusters rarely have more.
const smallConfig = 7

// String returns the sorted voter IDs in parentheses, like "(1 2 3)".
func (c MajorityConfig) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, id := range c.Slice() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(id, 10))
	}
	b.WriteByte(')')
	return b.String()
}

// Slice returns the voter IDs in ascending order, or nil for an empty
// configuration.
func (c MajorityConfig) Slice() []uint64 {
	if len(c) == 0 {
		return nil
	}
	sl := make([]uint64, 0, len(c))
	for id := range c {
		sl = append(sl, id)
	}
	slices.Sort(sl)
	return sl
}

// Describe renders the index each voter acknowledged as a small bar chart,
// one line per voter in ascending ID order under an "idx" heading, in the
// layout of etcd raft (whose golden files use it):
//
//	       idx
//	x>     100    (id=1)
//	xx>    101    (id=2)
//	>       99    (id=3)
//
// The bar of the voter at position i (from 0) in ascending index order,
// ties broken by ID, is i characters long when its index is larger than
// that of the voter before it, and empty otherwise. A voter unknown to l
// shows "?" and index 0. An empty configuration renders as
// "<empty majority quorum>". It is meant for debugging and test output.
func (c MajorityConfig) Describe(l AckedIndexer) string {
	if len(c) == 0 {
		return "<empty majority quorum>"
	}
	type voter struct {
		id    uint64
		idx   Index
		known bool
		bar   int
	}
	n := len(c)
	vs := make([]voter, 0, n)
	for id := range c {
		idx, known := l.AckedIndex(id)
		vs = append(vs, voter{id: id, idx: idx, known: known})
	}
	slices.SortFunc(vs, func(a, b voter) int {
		if a.idx != b.idx {
			return cmp.Compare(a.idx, b.idx)
		}
		return cmp.Compare(a.id, b.id)
	})
	for i := 1; i < n; i++ {
		if vs[i-1].idx < vs[i].idx {
			vs[i].bar = i
		}
	}
	slices.SortFunc(vs, func(a, b voter) int { return cmp.Compare(a.id, b.id) })

	var b strings.Builder
	b.WriteString(strings.Repeat(" ", n))
	b.WriteString("    idx\n")
	for _, v := range vs {
		if v.known {
			b.WriteString(strings.Repeat("x", v.bar))
			b.WriteByte('>')
			b.WriteString(strings.Repeat(" ", n-v.bar))
		} else {
			b.WriteByte('?')
			b.WriteString(strings.Repeat(" ", n))
		}
		fmt.Fprintf(&b, " %5d    (id=%d)\n", uint64(v.idx), v.id)
	}
	return b.String()
}

// CommittedIndex returns the largest index that a majority of the voters
// has acknowledged. A voter unknown to l counts as having acknowledged
// nothing (index 0). An empty configuration returns math.MaxUint64, so that
// it never holds back the other half of a joint configuration.
//
// It does not allocate for configurations of up to seven voters.
func (c MajorityConfig) CommittedIndex(l AckedIndexer) Index {
	n := len(c)
	if n == 0 {
		return math.MaxUint64
	}
	var stk [smallConfig]uint64
	var acked []uint64
	if n <= len(stk) {
		acked = stk[:0]
	} else {
		acked = make([]uint64, 0, n)
	}
	for id := range c {
		idx, _ := l.AckedIndex(id) // unknown voters acked 0
		acked = append(acked, uint64(idx))
	}
	// Insertion sort: n is small, and it keeps the slice on the stack.
	for i := 1; i < len(acked); i++ {
		for j := i; j > 0 && acked[j-1] > acked[j]; j-- {
			acked[j-1], acked[j] = acked[j], acked[j-1]
		}
	}
	// In ascending order, the entry at position n-q is acknowledged by itself
	// and every voter after it: exactly q voters, a majority.
	q := n/2 + 1
	return Index(acked[n-q])
}

// VoteResult tells the outcome of an election in which votes[id] is true for
// a granted vote and false for a rejected one; voters missing from votes
// have not answered. Votes from IDs outside the configuration are ignored.
// An empty configuration wins, so that joint configurations work.
func (c MajorityConfig) VoteResult(votes map[uint64]bool) VoteResult {
	if len(c) == 0 {
		return VoteWon
	}
	var granted, missing int
	for id := range c {
		v, ok := votes[id]
		switch {
		case !ok:
			missing++
		case v:
			granted++
		}
	}
	q := len(c)/2 + 1
	switch {
	case granted >= q:
		return VoteWon
	case granted+missing >= q:
		return VotePending
	default:
		return VoteLost
	}
}
