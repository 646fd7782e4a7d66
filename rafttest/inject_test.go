package rafttest

import (
	"math/rand"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hunt runs seeds from 1 until one reports a violation that want accepts
// (any, if want is nil), at most max of them, and returns it (nil if none
// did) and the number of seeds run.
func hunt(max int, want func(*Violation) bool, opts func(seed int64) Options) (*Violation, int) {
	for seed := int64(1); seed <= int64(max); seed++ {
		if v := Run(opts(seed)).Violation; v != nil && (want == nil || want(v)) {
			return v, int(seed)
		}
	}
	return nil, max
}

// safety accepts the violation of a safety invariant: anything but
// liveness.
func safety(v *Violation) bool { return v.Invariant != "liveness" }

// forgetVote models a disk that loses the vote on crash: the HardState
// keeps its term but not whom the node voted for.
func forgetVote(_ *rand.Rand, _ uint64, d *Disk) {
	hs := d.HardState()
	hs.Vote = 0
	d.SetHardState(hs)
}

// loseTail models a disk that acknowledged writes it had not made
// durable: on crash it loses the last few entries it said it wrote (and
// the commit index that pointed into them).
func loseTail(r *rand.Rand, _ uint64, d *Disk) {
	first, last := d.FirstIndex(), d.LastIndex()
	if last < first {
		return
	}
	lose := uint64(1 + r.Intn(8))
	if lose > last-first+1 {
		lose = last - first + 1
	}
	d.Truncate(last - lose)
}

// corruptTerms models a network that changes the term of one message in
// ten by up to two, up or down. Raft shrugs off most such messages; what
// shows is mostly lost liveness (elections disrupted without end) and,
// rarely, two leaders in one term (about one seed in 1500).
func corruptTerms(r *rand.Rand, m *pb.Message) {
	if m.Term == 0 || r.Intn(10) != 0 {
		return
	}
	d := uint64(1 + r.Intn(2))
	if r.Intn(2) == 0 || m.Term <= d {
		m.Term += d
	} else {
		m.Term -= d
	}
}

// stormy pins a scenario with frequent crashes, often right after a
// Ready was sent, and quick restarts, so that disk bugs show.
func stormy(sc *Scenario) {
	sc.Crash = 0.01
	sc.ReadyCrash = 0.05
	sc.Restart = 0.5
}

// staleJointNode models the symptom of a snapshot that overtook the apply
// thread (issue 14): ApplyConfChange for a joint change returns a joint
// configuration whose outgoing half is the incoming one, as when the change
// is applied to the snapshot's later configuration instead of the one of
// its index.
type staleJointNode struct{ Node }

func (n staleJointNode) ApplyConfChange(cc pb.ConfChangeV2) pb.ConfState {
	cs := n.Node.ApplyConfChange(cc)
	if len(cs.VotersOutgoing) > 0 {
		cs.VotersOutgoing = append([]uint64(nil), cs.Voters...)
	}
	return cs
}

// staleJointOn2 builds the nodes, node 2 with staleJointNode.
func staleJointOn2(cfg NodeConfig) (Node, error) {
	n, err := NewRawNode(cfg)
	if err != nil || cfg.ID != 2 {
		return n, err
	}
	return staleJointNode{n}, nil
}

func TestChecksCatchInjectedBugs(t *testing.T) {
	tests := []struct {
		name     string
		maxSeeds int
		want     func(*Violation) bool
		opts     func(seed int64) Options
	}{
		{"disk forgets the vote on crash", 20, nil, func(seed int64) Options {
			return Options{Seed: seed, OnCrash: forgetVote, Scenario: stormy}
		}},
		{"disk forgets the vote on crash, caught by protocol checks", 50, safety, func(seed int64) Options {
			return Options{Seed: seed, OnCrash: forgetVote, Scenario: stormy, skipDiskChecks: true}
		}},
		{"disk acknowledges entries it did not persist", 20, nil, func(seed int64) Options {
			return Options{Seed: seed, OnCrash: loseTail, Scenario: stormy}
		}},
		{"disk acknowledges entries it did not persist, caught by protocol checks", 50, safety, func(seed int64) Options {
			return Options{Seed: seed, OnCrash: loseTail, Scenario: stormy, skipDiskChecks: true}
		}},
		{"network corrupts terms", 50, nil, func(seed int64) Options {
			return Options{Seed: seed, Tamper: corruptTerms}
		}},
		{"ApplyConfChange on a later configuration", 100, nil, func(seed int64) Options {
			return Options{Seed: seed, NewNode: staleJointOn2, Scenario: func(sc *Scenario) { sc.ConfChange = 0.02 }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, seeds := hunt(tt.maxSeeds, tt.want, tt.opts)
			require.NotNil(t, v, "no violation in %d seeds: the checks cannot see this bug", seeds)
			t.Logf("caught at seed %d: %s: %s", v.Seed, v.Invariant, firstLine(v.Detail))
			// The same seed replays the same violation.
			again := Run(tt.opts(v.Seed)).Violation
			require.NotNil(t, again)
			assert.Equal(t, v.Invariant, again.Invariant)
			assert.Equal(t, v.Tick, again.Tick)
		})
	}
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
