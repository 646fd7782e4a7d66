package confchange

import (
	"fmt"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	"github.com/raftkit/raft/raftpb"
)

// Restore builds the configuration described by cs, as when a node starts
// from its persisted ConfState or applies a snapshot. Only the inflight
// limits of chg.Tracker and chg.LastIndex are used: the result does not
// depend on the tracker's current configuration.
//
// It replays cs as a sequence of valid changes: for a joint cs, the outgoing
// voters are added one at a time with Simple, and the incoming voters,
// learners and learners-next are then set by one EnterJoint; otherwise
// voters and then learners are added one at a time. A cs that no such
// sequence can produce (a node that is both voter and learner, learners-next
// that are not outgoing voters, learners without voters) is an error.
func Restore(chg Changer, cs raftpb.ConfState) (progress.Config, progress.ProgressMap, error) {
	if err := validateConfState(cs); err != nil {
		return chg.err(err)
	}
	chg.Tracker = progress.MakeTracker(chg.Tracker.MaxInflight, chg.Tracker.MaxInflightBytes)

	step := func(cfg progress.Config, prs progress.ProgressMap, err error) error {
		if err != nil {
			return err
		}
		chg.Tracker.Config = cfg
		chg.Tracker.Progress = prs
		return nil
	}
	single := func(typ raftpb.ConfChangeType, id uint64) raftpb.ConfChangeSingle {
		return raftpb.ConfChangeSingle{Type: typ, NodeID: id}
	}

	if len(cs.VotersOutgoing) == 0 {
		for _, id := range cs.Voters {
			if err := step(chg.Simple(single(raftpb.ConfChangeAddNode, id))); err != nil {
				return chg.err(fmt.Errorf("restoring voter %d: %w", id, err))
			}
		}
		for _, id := range cs.Learners {
			if err := step(chg.Simple(single(raftpb.ConfChangeAddLearnerNode, id))); err != nil {
				return chg.err(fmt.Errorf("restoring learner %d: %w", id, err))
			}
		}
		return chg.Tracker.Config, chg.Tracker.Progress, nil
	}

	for _, id := range cs.VotersOutgoing {
		if err := step(chg.Simple(single(raftpb.ConfChangeAddNode, id))); err != nil {
			return chg.err(fmt.Errorf("restoring outgoing voter %d: %w", id, err))
		}
	}
	// The incoming half starts as a copy of the outgoing one: empty it,
	// then fill it. The outgoing voters keep their progress meanwhile.
	var ccs []raftpb.ConfChangeSingle
	for _, id := range cs.VotersOutgoing {
		ccs = append(ccs, single(raftpb.ConfChangeRemoveNode, id))
	}
	for _, id := range cs.Voters {
		ccs = append(ccs, single(raftpb.ConfChangeAddNode, id))
	}
	for _, id := range cs.Learners {
		ccs = append(ccs, single(raftpb.ConfChangeAddLearnerNode, id))
	}
	for _, id := range cs.LearnersNext {
		ccs = append(ccs, single(raftpb.ConfChangeAddLearnerNode, id))
	}
	if err := step(chg.EnterJoint(cs.AutoLeave, ccs...)); err != nil {
		return chg.err(fmt.Errorf("restoring joint config: %w", err))
	}
	return chg.Tracker.Config, chg.Tracker.Progress, nil
}

// validateConfState rejects a ConfState that breaks the rules every
// configuration obeys, naming the offending node.
func validateConfState(cs raftpb.ConfState) error {
	in := quorum.MajorityConfig{}
	out := quorum.MajorityConfig{}
	for _, ids := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, id := range ids {
			if id == 0 {
				return fmt.Errorf("invalid ConfState %s: node ID 0", cs.String())
			}
		}
	}
	for _, id := range cs.Voters {
		in[id] = struct{}{}
	}
	for _, id := range cs.VotersOutgoing {
		out[id] = struct{}{}
	}
	for _, id := range cs.Learners {
		if _, ok := in[id]; ok {
			return fmt.Errorf("invalid ConfState: %d is both voter and learner", id)
		}
		if _, ok := out[id]; ok {
			return fmt.Errorf("invalid ConfState: %d is both outgoing voter and learner", id)
		}
	}
	for _, id := range cs.LearnersNext {
		if _, ok := out[id]; !ok {
			return fmt.Errorf("invalid ConfState: learner-next %d is not an outgoing voter", id)
		}
		if _, ok := in[id]; ok {
			return fmt.Errorf("invalid ConfState: learner-next %d is also an incoming voter", id)
		}
	}
	if len(out) == 0 && cs.AutoLeave {
		return fmt.Errorf("invalid ConfState: AutoLeave set on a non-joint config")
	}
	return nil
}
