// Package confchange turns membership changes into new configurations. It
// implements both protocols of the Raft thesis (chapter 4): changing one
// voter at a time (Simple), and joint consensus, where the group moves
// through a configuration that needs majorities of both the old and the new
// voters (EnterJoint, then LeaveJoint).
//
// Nothing here mutates the tracker it is given: each operation returns a new
// configuration and progress map, which the caller installs once the change
// has been applied.
package confchange

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/raftkit/raft/progress"
	"github.com/raftkit/raft/quorum"
	"github.com/raftkit/raft/raftpb"
)

// Changer computes the configuration that results from applying changes to
// Tracker's. New members get a progress whose Next is LastIndex (at least 1),
// the leader's last log index when the change applies.
type Changer struct {
	// Tracker holds the current configuration and progress; it is never
	// modified.
	Tracker progress.Tracker
	// LastIndex is the leader's last log index: new members start probing
	// from there.
	LastIndex uint64
}

// Errors returned by the Changer. They are wrapped with details; test with
// errors.Is.
var (
	errAlreadyJoint     = errors.New("config is already joint")
	errNotJoint         = errors.New("can't leave a non-joint config")
	errRemovedAllVoters = errors.New("removed all voters")
	errTooManyChanges   = errors.New("more than one voter changed without entering joint config")
	errJointSimple      = errors.New("can't apply simple config change in joint config")
)

// EnterJoint moves into a joint configuration: the current voters become the
// outgoing half, and ccs are applied to the incoming half. With autoLeave,
// the leader will leave the joint configuration by itself once it may.
//
// It fails if the configuration is already joint, if there are no voters to
// start from, or if the changes leave the incoming half without voters.
func (c Changer) EnterJoint(autoLeave bool, ccs ...raftpb.ConfChangeSingle) (progress.Config, progress.ProgressMap, error) {
	cfg, prs, err := c.checkAndCopy()
	if err != nil {
		return c.err(err)
	}
	if joint(cfg) {
		return c.err(errAlreadyJoint)
	}
	if len(incoming(cfg.Voters)) == 0 {
		// There is nothing to be joint with: a group that has no voters yet
		// adds its first one with Simple.
		return c.err(fmt.Errorf("can't make a zero-voter config joint: %w", errRemovedAllVoters))
	}
	out := make(quorum.MajorityConfig, len(cfg.Voters[0]))
	for id := range cfg.Voters[0] {
		out[id] = struct{}{}
	}
	cfg.Voters[1] = out
	if err := c.apply(&cfg, prs, ccs...); err != nil {
		return c.err(err)
	}
	cfg.AutoLeave = autoLeave
	return c.checkAndReturn(cfg, prs)
}

// LeaveJoint leaves a joint configuration: the outgoing half is dropped,
// voters demoted while joint (LearnersNext) become learners, and the
// progress of nodes that are no longer members is removed. It fails if the
// configuration is not joint.
func (c Changer) LeaveJoint() (progress.Config, progress.ProgressMap, error) {
	cfg, prs, err := c.checkAndCopy()
	if err != nil {
		return c.err(err)
	}
	if !joint(cfg) {
		return c.err(errNotJoint)
	}
	for id := range cfg.LearnersNext {
		if cfg.Learners == nil {
			cfg.Learners = map[uint64]struct{}{}
		}
		cfg.Learners[id] = struct{}{}
		setLearner(prs, id, true)
	}
	cfg.LearnersNext = nil
	for id := range outgoing(cfg.Voters) {
		_, isVoter := incoming(cfg.Voters)[id]
		_, isLearner := cfg.Learners[id]
		if !isVoter && !isLearner {
			delete(prs, id)
		}
	}
	cfg.Voters[1] = nil
	cfg.AutoLeave = false
	return c.checkAndReturn(cfg, prs)
}

// Simple applies changes that alter at most one voter, which keeps every
// majority of the old voters intersecting every majority of the new ones
// without a joint configuration. Any number of learner changes may come
// along. It fails while joint, if more than one voter would change, or if no
// voter would remain.
func (c Changer) Simple(ccs ...raftpb.ConfChangeSingle) (progress.Config, progress.ProgressMap, error) {
	cfg, prs, err := c.checkAndCopy()
	if err != nil {
		return c.err(err)
	}
	if joint(cfg) {
		return c.err(errJointSimple)
	}
	if err := c.apply(&cfg, prs, ccs...); err != nil {
		return c.err(err)
	}
	if n := symDiff(incoming(c.Tracker.Voters), incoming(cfg.Voters)); n > 1 {
		return c.err(fmt.Errorf("%w (%d voters changed)", errTooManyChanges, n))
	}
	return c.checkAndReturn(cfg, prs)
}

// apply applies ccs to the incoming half of cfg, in order, and checks that a
// voter remains. A change for node ID 0 is ignored.
func (c Changer) apply(cfg *progress.Config, prs progress.ProgressMap, ccs ...raftpb.ConfChangeSingle) error {
	for _, cc := range ccs {
		if cc.NodeID == 0 {
			continue
		}
		switch cc.Type {
		case raftpb.ConfChangeAddNode:
			c.makeVoter(cfg, prs, cc.NodeID)
		case raftpb.ConfChangeAddLearnerNode:
			c.makeLearner(cfg, prs, cc.NodeID)
		case raftpb.ConfChangeRemoveNode:
			remove(cfg, prs, cc.NodeID)
		case raftpb.ConfChangeUpdateNode:
			// Nothing to do: the application handles node metadata.
		default:
			return fmt.Errorf("unexpected conf change type %d for node %d", int32(cc.Type), cc.NodeID)
		}
	}
	if len(incoming(cfg.Voters)) == 0 {
		return errRemovedAllVoters
	}
	return nil
}

// makeVoter makes id a voter of the incoming half, creating its progress if
// it is new and taking it out of the learner sets otherwise.
func (c Changer) makeVoter(cfg *progress.Config, prs progress.ProgressMap, id uint64) {
	if _, ok := prs[id]; !ok {
		c.initProgress(cfg, prs, id, false)
		return
	}
	setLearner(prs, id, false)
	delete(cfg.Learners, id)
	delete(cfg.LearnersNext, id)
	cfg.Voters[0][id] = struct{}{}
}

// makeLearner makes id a learner. A voter of the outgoing half still votes
// there until the joint configuration is left, so it goes to LearnersNext
// instead, becoming a learner on LeaveJoint.
func (c Changer) makeLearner(cfg *progress.Config, prs progress.ProgressMap, id uint64) {
	pr, ok := prs[id]
	if !ok {
		c.initProgress(cfg, prs, id, true)
		return
	}
	if pr.IsLearner {
		return
	}
	// Take it out of every role, keeping its progress: it stays a member.
	remove(cfg, prs, id)
	prs[id] = pr
	if _, ok := outgoing(cfg.Voters)[id]; ok {
		if cfg.LearnersNext == nil {
			cfg.LearnersNext = map[uint64]struct{}{}
		}
		cfg.LearnersNext[id] = struct{}{}
		return
	}
	setLearner(prs, id, true)
	if cfg.Learners == nil {
		cfg.Learners = map[uint64]struct{}{}
	}
	cfg.Learners[id] = struct{}{}
}

// remove takes id out of the incoming voters and both learner sets. Its
// progress goes too, unless it still votes in the outgoing half.
func remove(cfg *progress.Config, prs progress.ProgressMap, id uint64) {
	if _, ok := prs[id]; !ok {
		return
	}
	delete(cfg.Voters[0], id)
	delete(cfg.Learners, id)
	delete(cfg.LearnersNext, id)
	if _, ok := outgoing(cfg.Voters)[id]; !ok {
		delete(prs, id)
	}
}

// initProgress adds id as a new voter or learner, with a fresh progress.
func (c Changer) initProgress(cfg *progress.Config, prs progress.ProgressMap, id uint64, isLearner bool) {
	if isLearner {
		if cfg.Learners == nil {
			cfg.Learners = map[uint64]struct{}{}
		}
		cfg.Learners[id] = struct{}{}
	} else {
		cfg.Voters[0][id] = struct{}{}
	}
	prs[id] = &progress.Progress{
		// Match < Next always holds, even on an empty log.
		Next:      max(c.LastIndex, 1),
		Match:     0,
		State:     progress.StateProbe,
		Inflights: progress.NewInflights(c.Tracker.MaxInflight, c.Tracker.MaxInflightBytes),
		IsLearner: isLearner,
		// A new member counts as active: otherwise a leader checking its
		// quorum right after adding it could step down before it answers.
		RecentActive: true,
	}
}

// setLearner sets the IsLearner flag of id's progress, on a copy so that
// the input tracker's progress is left untouched.
func setLearner(prs progress.ProgressMap, id uint64, isLearner bool) {
	pr := prs[id]
	if pr.IsLearner == isLearner {
		return
	}
	cp := *pr
	cp.IsLearner = isLearner
	prs[id] = &cp
}

// checkAndCopy validates the tracker's configuration and returns copies of
// it and of its progress map that may be changed freely: the configuration's
// sets are cloned, the map is copied shallowly (a Progress is cloned before
// it is changed).
func (c Changer) checkAndCopy() (progress.Config, progress.ProgressMap, error) {
	cfg := c.Tracker.Config.Clone()
	if cfg.Voters[0] == nil {
		cfg.Voters[0] = quorum.MajorityConfig{}
	}
	prs := make(progress.ProgressMap, len(c.Tracker.Progress))
	for id, pr := range c.Tracker.Progress {
		prs[id] = pr
	}
	if err := checkInvariants(cfg, prs); err != nil {
		return progress.Config{}, nil, fmt.Errorf("invalid input configuration: %w", err)
	}
	return cfg, prs, nil
}

// checkAndReturn validates the new configuration, normalizes empty sets to
// nil and returns it.
func (c Changer) checkAndReturn(cfg progress.Config, prs progress.ProgressMap) (progress.Config, progress.ProgressMap, error) {
	if len(cfg.Voters[1]) == 0 {
		cfg.Voters[1] = nil
	}
	if len(cfg.Learners) == 0 {
		cfg.Learners = nil
	}
	if len(cfg.LearnersNext) == 0 {
		cfg.LearnersNext = nil
	}
	if err := checkInvariants(cfg, prs); err != nil {
		return c.err(err)
	}
	return cfg, prs, nil
}

// err returns err with a zero configuration and a nil progress map; on
// error the caller keeps the tracker it had.
func (c Changer) err(err error) (progress.Config, progress.ProgressMap, error) {
	return progress.Config{}, nil, err
}

// checkInvariants reports the first broken rule of a configuration and its
// progress map:
//   - every member (voter of either half, learner, learner-next) has a
//     progress, and every progress belongs to a member;
//   - voters' progress has IsLearner false, learners' true;
//   - learners vote in neither half;
//   - learners-next vote in the outgoing half and not the incoming one;
//   - LearnersNext and AutoLeave are only set while joint.
func checkInvariants(cfg progress.Config, prs progress.ProgressMap) error {
	// Roles first, so that a node in two roles is reported as such rather
	// than by the progress flag that is wrong for one of them.
	for id := range cfg.Learners {
		if _, ok := outgoing(cfg.Voters)[id]; ok {
			return fmt.Errorf("%d is in Learners and outgoing voters", id)
		}
		if _, ok := incoming(cfg.Voters)[id]; ok {
			return fmt.Errorf("%d is in Learners and incoming voters", id)
		}
	}
	for id := range cfg.LearnersNext {
		if _, ok := outgoing(cfg.Voters)[id]; !ok {
			return fmt.Errorf("%d is in LearnersNext but not an outgoing voter", id)
		}
		if _, ok := incoming(cfg.Voters)[id]; ok {
			return fmt.Errorf("%d is in LearnersNext and incoming voters", id)
		}
	}
	members := 0
	for id := range cfg.Voters.IDs() {
		pr, ok := prs[id]
		if !ok || pr == nil {
			return fmt.Errorf("no progress for voter %d", id)
		}
		if pr.IsLearner {
			return fmt.Errorf("voter %d is marked as a learner in its progress", id)
		}
		members++
	}
	for id := range cfg.Learners {
		pr, ok := prs[id]
		if !ok || pr == nil {
			return fmt.Errorf("no progress for learner %d", id)
		}
		if !pr.IsLearner {
			return fmt.Errorf("learner %d is not marked as a learner in its progress", id)
		}
		members++
	}
	if len(prs) != members {
		for id := range prs {
			_, voter := cfg.Voters.IDs()[id]
			_, learner := cfg.Learners[id]
			if !voter && !learner {
				return fmt.Errorf("progress for %d, which is not a member", id)
			}
		}
	}
	if !joint(cfg) {
		if len(cfg.LearnersNext) > 0 {
			return errors.New("LearnersNext must be empty when not joint")
		}
		if cfg.AutoLeave {
			return errors.New("AutoLeave must be false when not joint")
		}
	}
	return nil
}

func joint(cfg progress.Config) bool { return len(outgoing(cfg.Voters)) > 0 }

func incoming(voters quorum.JointConfig) quorum.MajorityConfig { return voters[0] }
func outgoing(voters quorum.JointConfig) quorum.MajorityConfig { return voters[1] }

// symDiff returns the number of IDs in exactly one of l and r.
func symDiff(l, r map[uint64]struct{}) int {
	n := 0
	for id := range l {
		if _, ok := r[id]; !ok {
			n++
		}
	}
	for id := range r {
		if _, ok := l[id]; !ok {
			n++
		}
	}
	return n
}

// Describe renders changes as their types and node IDs separated by
// spaces, like "ConfChangeAddNode(1) ConfChangeRemoveNode(2)", as etcd raft
// does; a type without a name shows as its number, like "9(3)". For the
// short form "v1 r2", use raftpb.ConfChangesToString.
func Describe(ccs ...raftpb.ConfChangeSingle) string {
	var b strings.Builder
	for i, cc := range ccs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(cc.Type.String())
		b.WriteByte('(')
		b.WriteString(strconv.FormatUint(cc.NodeID, 10))
		b.WriteByte(')')
	}
	return b.String()
}
