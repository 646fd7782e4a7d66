package quorum

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configs returns every MajorityConfig over the IDs 1..n (the empty one
// included), for a brute-force sweep.
func configs(n int) []MajorityConfig {
	var out []MajorityConfig
	for mask := 0; mask < 1<<n; mask++ {
		c := MajorityConfig{}
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				c[uint64(i+1)] = struct{}{}
			}
		}
		out = append(out, c)
	}
	return out
}

// ackAssignments calls f with every assignment of acked indexes from vals
// to the IDs 1..n, where an entry of -1 means "unknown voter".
func ackAssignments(n int, vals []int, f func(MapAckIndexer)) {
	cur := make([]int, n)
	var rec func(i int)
	rec = func(i int) {
		if i == n {
			m := MapAckIndexer{}
			for j, v := range cur {
				if v >= 0 {
					m[uint64(j+1)] = Index(v)
				}
			}
			f(m)
			return
		}
		for _, v := range vals {
			cur[i] = v
			rec(i + 1)
		}
	}
	rec(0)
}

// oracleCommitted is the definition of the committed index: the largest
// index such that a strict majority of voters acked at least it.
func oracleCommitted(c MajorityConfig, l MapAckIndexer) Index {
	if len(c) == 0 {
		return math.MaxUint64
	}
	var best Index
	for cand := Index(0); cand <= 5; cand++ { // the tests ack at most 5
		n := 0
		for id := range c {
			if l[id] >= cand { // missing voters read as 0
				n++
			}
		}
		if 2*n > len(c) {
			best = cand
		}
	}
	return best
}

// oracleVote decides an election by trying every way the missing votes
// could go.
func oracleVote(c MajorityConfig, votes map[uint64]bool) VoteResult {
	wins := func(fill bool) bool {
		n := 0
		for id := range c {
			v, ok := votes[id]
			if !ok {
				v = fill
			}
			if v {
				n++
			}
		}
		return 2*n > len(c)
	}
	switch {
	case len(c) == 0 || wins(false):
		return VoteWon
	case wins(true):
		return VotePending
	default:
		return VoteLost
	}
}

// voteAssignments calls f with every assignment of granted / rejected /
// missing votes to the IDs 1..n.
func voteAssignments(n int, f func(map[uint64]bool)) {
	ackAssignments(n, []int{-1, 0, 1}, func(m MapAckIndexer) {
		votes := map[uint64]bool{}
		for id, v := range m {
			votes[id] = v == 1
		}
		f(votes)
	})
}

func TestIndexStringShowsInfinityForMaxUint64(t *testing.T) {
	assert.Equal(t, "∞", Index(math.MaxUint64).String())
	assert.Equal(t, "0", Index(0).String())
	assert.Equal(t, "12345", Index(12345).String())
}

func TestVoteResultString(t *testing.T) {
	assert.Equal(t, "VotePending", VotePending.String())
	assert.Equal(t, "VoteLost", VoteLost.String())
	assert.Equal(t, "VoteWon", VoteWon.String())
	assert.Equal(t, "VoteResult(0)", VoteResult(0).String())
	assert.Equal(t, uint8(1), uint8(VotePending))
	assert.Equal(t, uint8(2), uint8(VoteLost))
	assert.Equal(t, uint8(3), uint8(VoteWon))
}

func TestMajorityCommittedIndexMatchesOracleExhaustively(t *testing.T) {
	const n = 5
	var acks []MapAckIndexer
	ackAssignments(n, []int{-1, 0, 1, 2, 5}, func(l MapAckIndexer) { acks = append(acks, l) })
	for _, c := range configs(n) {
		for _, l := range acks {
			want := oracleCommitted(c, l)
			if got := c.CommittedIndex(l); got != want {
				require.Equal(t, want, got, "config %s acks %v", c, l)
			}
		}
	}
}

func TestMajorityCommittedIndexLargeConfig(t *testing.T) {
	c := MajorityConfig{}
	l := MapAckIndexer{}
	for i := uint64(1); i <= 9; i++ {
		c[i] = struct{}{}
		l[i] = Index(i * 10)
	}
	// Five of nine voters (5..9) acked 50 or more.
	assert.Equal(t, Index(50), c.CommittedIndex(l))
}

func TestMajorityVoteResultMatchesOracleExhaustively(t *testing.T) {
	const n = 5
	for _, c := range configs(n) {
		voteAssignments(n, func(votes map[uint64]bool) {
			want := oracleVote(c, votes)
			if got := c.VoteResult(votes); got != want {
				require.Equal(t, want, got, "config %s votes %v", c, votes)
			}
		})
	}
}

func TestMajorityVoteResultIgnoresVotesFromNonVoters(t *testing.T) {
	c := MajorityConfig{1: {}, 2: {}, 3: {}}
	assert.Equal(t, VotePending, c.VoteResult(map[uint64]bool{1: true, 7: true, 8: true}))
	assert.Equal(t, VoteWon, MajorityConfig{}.VoteResult(nil))
}

func TestJointCommittedIndexMatchesOracleExhaustively(t *testing.T) {
	const n = 4
	vals := []int{-1, 0, 1, 3}
	cs := configs(n)
	for _, in := range cs {
		for _, out := range cs {
			j := JointConfig{in, out}
			ackAssignments(n, vals, func(l MapAckIndexer) {
				want := min(oracleCommitted(in, l), oracleCommitted(out, l))
				if got := j.CommittedIndex(l); got != want {
					require.Equal(t, want, got, "config %s acks %v", j, l)
				}
			})
		}
	}
}

func TestJointVoteResultMatchesOracleExhaustively(t *testing.T) {
	const n = 4
	cs := configs(n)
	for _, in := range cs {
		for _, out := range cs {
			j := JointConfig{in, out}
			voteAssignments(n, func(votes map[uint64]bool) {
				// Brute force over the ways the missing votes can go: won if
				// already won, lost if no completion wins, else pending.
				var missing []uint64
				for id := range j.IDs() {
					if _, ok := votes[id]; !ok {
						missing = append(missing, id)
					}
				}
				anyWin, allWin := false, true
				for mask := 0; mask < 1<<len(missing); mask++ {
					full := map[uint64]bool{}
					for id, v := range votes {
						full[id] = v
					}
					for i, id := range missing {
						full[id] = mask&(1<<i) != 0
					}
					w := oracleVote(in, full) == VoteWon && oracleVote(out, full) == VoteWon
					anyWin = anyWin || w
					allWin = allWin && w
				}
				want := VotePending
				if allWin {
					want = VoteWon
				} else if !anyWin {
					want = VoteLost
				}
				if got := j.VoteResult(votes); got != want {
					require.Equal(t, want, got, "config %s votes %v", j, votes)
				}
			})
		}
	}
}

func TestCommittedIndexDoesNotAllocate(t *testing.T) {
	c := MajorityConfig{1: {}, 2: {}, 3: {}, 4: {}, 5: {}}
	l := MapAckIndexer{1: 10, 2: 20, 3: 30, 4: 40, 5: 50}
	j := JointConfig{c, MajorityConfig{1: {}, 2: {}, 3: {}}}
	var sink Index
	allocs := testing.AllocsPerRun(100, func() {
		sink += c.CommittedIndex(l)
		sink += j.CommittedIndex(l)
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, sink)
}

func TestStringsAndSlices(t *testing.T) {
	c := MajorityConfig{3: {}, 1: {}, 2: {}}
	assert.Equal(t, "(1 2 3)", c.String())
	assert.Equal(t, []uint64{1, 2, 3}, c.Slice())
	assert.Equal(t, "()", MajorityConfig{}.String())
	assert.Nil(t, MajorityConfig{}.Slice())

	j := JointConfig{c, MajorityConfig{1: {}, 2: {}}}
	assert.Equal(t, "(1 2 3)&&(1 2)", j.String())
	assert.Equal(t, "(1 2 3)", JointConfig{c, nil}.String())
	assert.Equal(t, map[uint64]struct{}{1: {}, 2: {}, 3: {}}, j.IDs())
	assert.Equal(t, map[uint64]struct{}{1: {}, 4: {}},
		JointConfig{MajorityConfig{1: {}}, MajorityConfig{4: {}}}.IDs())
}

func TestDescribeDrawsABarPerVoterInTheLayoutOfEtcd(t *testing.T) {
	c := MajorityConfig{1: {}, 2: {}, 3: {}}
	// The bar grows with the rank of the index; 3 is unknown and sorts
	// first with index 0.
	l := MapAckIndexer{1: 5, 2: 7}
	want := "       idx\n" +
		"x>       5    (id=1)\n" +
		"xx>      7    (id=2)\n" +
		"?        0    (id=3)\n"
	assert.Equal(t, want, c.Describe(l))

	// A joint configuration describes the union of its halves.
	j := JointConfig{MajorityConfig{1: {}}, MajorityConfig{2: {}, 3: {}}}
	assert.Equal(t, want, j.Describe(l))
	assert.Equal(t, "<empty majority quorum>", MajorityConfig{}.Describe(l))
	assert.Equal(t, "<empty majority quorum>", JointConfig{}.Describe(l))

	// An index equal to the one ranked before it gets no bar, as in etcd.
	l = MapAckIndexer{1: 9, 2: 9, 3: 4}
	want = "       idx\n" +
		"x>       9    (id=1)\n" +
		">        9    (id=2)\n" +
		">        4    (id=3)\n"
	assert.Equal(t, want, c.Describe(l))
}
