package confchange

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	"github.com/raftkit/raft/raftpb"
)

// isQuorum reports, by counting, whether the node set s holds a majority of
// every non-empty half of c.
func isQuorum(c quorum.JointConfig, s map[uint64]bool) bool {
	for _, half := range c {
		n := 0
		for id := range half {
			if s[id] {
				n++
			}
		}
		if len(half) > 0 && 2*n <= len(half) {
			return false
		}
	}
	return true
}

// quorumsIntersect checks by brute force that every quorum of a shares a
// node with every quorum of b: for each quorum s of b, the nodes outside s
// must not form a quorum of a (quorums are upward closed, so that covers
// every quorum of a disjoint from s).
func quorumsIntersect(a, b quorum.JointConfig) error {
	var ids []uint64
	for id := range a.IDs() {
		ids = append(ids, id)
	}
	for id := range b.IDs() {
		if _, ok := a.IDs()[id]; !ok {
			ids = append(ids, id)
		}
	}
	for mask := 0; mask < 1<<len(ids); mask++ {
		in, out := map[uint64]bool{}, map[uint64]bool{}
		for i, id := range ids {
			if mask&(1<<i) != 0 {
				in[id] = true
			} else {
				out[id] = true
			}
		}
		if isQuorum(b, in) && isQuorum(a, out) {
			return fmt.Errorf("quorum %v of %s and quorum %v of %s are disjoint", in, b, out, a)
		}
	}
	return nil
}

func TestQuorumsIntersectDetectsDisjointConfigs(t *testing.T) {
	set := func(ids ...uint64) quorum.MajorityConfig {
		m := quorum.MajorityConfig{}
		for _, id := range ids {
			m[id] = struct{}{}
		}
		return m
	}
	assert.Error(t, quorumsIntersect(quorum.JointConfig{set(1, 2, 3)}, quorum.JointConfig{set(1, 4, 5)}),
		"{2 3} and {4 5} are disjoint majorities")
	assert.Error(t, quorumsIntersect(quorum.JointConfig{set(1, 2)}, quorum.JointConfig{set(1, 2, 3, 4, 5, 6)}),
		"{1 2} and {3 4 5 6} are disjoint majorities")
	assert.NoError(t, quorumsIntersect(quorum.JointConfig{set(1, 2)}, quorum.JointConfig{set(1, 2, 3, 4)}),
		"3 of 4 always meets both of 1 and 2")
	assert.NoError(t, quorumsIntersect(quorum.JointConfig{set(1, 2, 3)}, quorum.JointConfig{set(1, 2, 3, 4)}))
	assert.NoError(t, quorumsIntersect(quorum.JointConfig{set(1, 2, 3)},
		quorum.JointConfig{set(4, 5, 6), set(1, 2, 3)}))
}

// randomChanges returns n random changes over the IDs 1..maxID, with the
// occasional node ID 0.
func randomChanges(rng *rand.Rand, n int, maxID int) []raftpb.ConfChangeSingle {
	types := []raftpb.ConfChangeType{
		raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode,
		raftpb.ConfChangeRemoveNode, raftpb.ConfChangeUpdateNode,
	}
	ccs := make([]raftpb.ConfChangeSingle, n)
	for i := range ccs {
		ccs[i] = raftpb.ConfChangeSingle{
			Type:   types[rng.Intn(len(types))],
			NodeID: uint64(rng.Intn(maxID + 1)),
		}
	}
	return ccs
}

// TestRandomChangesKeepQuorumsIntersecting applies random sequences of
// simple and joint changes and checks that every configuration reached
// shares a node between any of its quorums and any quorum of the previous
// one, which is what keeps two leaders from being elected in one term
// across a membership change (Raft thesis §4.1, §4.3).
func TestRandomChangesKeepQuorumsIntersecting(t *testing.T) {
	const maxID = 7
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		chg := Changer{Tracker: progress.MakeTracker(4, 0), LastIndex: 1}
		cfg, prs, err := chg.Simple(raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode, NodeID: 1})
		require.NoError(t, err)
		chg.Tracker.Config, chg.Tracker.Progress = cfg, prs

		applied := map[string]int{}
		for step := 0; step < 300; step++ {
			prev := chg.Tracker.Config
			isJoint := len(prev.Voters[1]) > 0
			var (
				op   string
				ccs  []raftpb.ConfChangeSingle
				want error // the only error this op may return
			)
			switch r := rng.Intn(10); {
			case r < 5:
				op, ccs = "simple", randomChanges(rng, 1+rng.Intn(2), maxID)
				cfg, prs, err = chg.Simple(ccs...)
			case r < 8:
				op, ccs = "enter", randomChanges(rng, rng.Intn(5), maxID)
				cfg, prs, err = chg.EnterJoint(rng.Intn(2) == 0, ccs...)
			default:
				op = "leave"
				cfg, prs, err = chg.LeaveJoint()
			}
			desc := fmt.Sprintf("seed %d step %d: %s %s on %s", seed, step, op, Describe(ccs...), prev)
			switch {
			case isJoint && op == "simple":
				want = errJointSimple
			case isJoint && op == "enter":
				want = errAlreadyJoint
			case !isJoint && op == "leave":
				want = errNotJoint
			}
			if want != nil {
				require.ErrorIs(t, err, want, desc)
				continue
			}
			if err != nil {
				// Changes drawn at random may remove every voter or, for a
				// simple change, touch two voters; those must be refused.
				if op == "simple" {
					require.True(t, isErr(err, errRemovedAllVoters, errTooManyChanges), "%s: %v", desc, err)
				} else {
					require.ErrorIs(t, err, errRemovedAllVoters, desc)
				}
				continue
			}
			applied[op]++
			require.NoError(t, quorumsIntersect(prev.Voters, cfg.Voters), desc)
			require.NoError(t, checkInvariants(cfg, prs), desc)

			// What the application persists restores to the same config.
			tr := progress.Tracker{Config: cfg, Progress: prs}
			rcfg, _, err := Restore(Changer{Tracker: progress.MakeTracker(4, 0)}, tr.ConfState())
			require.NoError(t, err, desc)
			require.Equal(t, cfg.String(), rcfg.String(), desc)

			chg.Tracker.Config, chg.Tracker.Progress = cfg, prs
		}
		for _, op := range []string{"simple", "enter", "leave"} {
			assert.Greater(t, applied[op], 10, "seed %d applied too few %s changes", seed, op)
		}
	}
}

func isErr(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
