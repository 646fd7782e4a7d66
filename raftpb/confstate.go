package raftpb

import (
	"fmt"
	"slices"
	"strings"
)

// Equivalent returns nil if cs and cs2 describe the same configuration: the
// same members in each of Voters, Learners, VotersOutgoing and LearnersNext
// regardless of order (a nil and an empty list are the same), and the same
// AutoLeave. Otherwise the error names each field that differs and shows
// both sides, sorted.
func (cs ConfState) Equivalent(cs2 ConfState) error {
	var diffs []string
	cmp := func(name string, a, b []uint64) {
		a, b = sortedIDs(a), sortedIDs(b)
		if !slices.Equal(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s %v != %v", name, a, b))
		}
	}
	cmp("Voters", cs.Voters, cs2.Voters)
	cmp("Learners", cs.Learners, cs2.Learners)
	cmp("VotersOutgoing", cs.VotersOutgoing, cs2.VotersOutgoing)
	cmp("LearnersNext", cs.LearnersNext, cs2.LearnersNext)
	if cs.AutoLeave != cs2.AutoLeave {
		diffs = append(diffs, fmt.Sprintf("AutoLeave %t != %t", cs.AutoLeave, cs2.AutoLeave))
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("raftpb: ConfStates not equivalent: %s", strings.Join(diffs, "; "))
}

// sortedIDs returns a sorted copy of ids, leaving ids untouched.
func sortedIDs(ids []uint64) []uint64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}
