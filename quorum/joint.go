package quorum

// JointConfig is the configuration used during joint consensus: element 0 is
// the incoming configuration and element 1 the outgoing one, which is empty
// when the group is not in a joint state. Every decision needs a majority of
// both halves.
type JointConfig [2]MajorityConfig

// String returns both halves joined by "&&", like "(1 2 3)&&(1 2)", or only
// the incoming one when the outgoing half is empty.
func (c JointConfig) String() string {
	if len(c[1]) > 0 {
		return c[0].String() + "&&" + c[1].String()
	}
	return c[0].String()
}

// IDs returns the union of the voter IDs of both halves as a new set.
func (c JointConfig) IDs() map[uint64]struct{} {
	m := make(map[uint64]struct{}, len(c[0])+len(c[1]))
	for _, cc := range c {
		for id := range cc {
			m[id] = struct{}{}
		}
	}
	return m
}

// Describe renders the acknowledged index of every voter of either half, as
// MajorityConfig.Describe does for the union of both halves.
func (c JointConfig) Describe(l AckedIndexer) string {
	return MajorityConfig(c.IDs()).Describe(l)
}

// CommittedIndex returns the largest index acknowledged by a majority of
// each half: the smaller of the two halves' committed indexes.
func (c JointConfig) CommittedIndex(l AckedIndexer) Index {
	return min(c[0].CommittedIndex(l), c[1].CommittedIndex(l))
}

// VoteResult tells the outcome of a joint election: won when both halves
// have won, lost when either has lost, and pending otherwise.
func (c JointConfig) VoteResult(votes map[uint64]bool) VoteResult {
	r1 := c[0].VoteResult(votes)
	r2 := c[1].VoteResult(votes)
	switch {
	case r1 == r2:
		return r1
	case r1 == VoteLost || r2 == VoteLost:
		return VoteLost
	default:
		return VotePending
	}
}
