package raft

import (
	"fmt"

	"github.com/raftkit/raft/confchange"
	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
)

// changer returns a confchange.Changer over the current configuration. The
// raft's tracker is packed (no Progress map at rest), and confchange reads
// the map: the changer's copy of the tracker gets a transient one.
func (r *raft) changer() changer {
	trk := r.trk
	trk.Progress = r.trk.ProgressMap()
	return changer{confchange.Changer{Tracker: trk, LastIndex: r.raftLog.lastIndex()}}
}

// changer applies a ConfChangeV2 through the right confchange operation.
type changer struct{ confchange.Changer }

func (c changer) apply(cc pb.ConfChangeV2) (progress.Config, progress.ProgressMap, error) {
	if cc.LeaveJoint() {
		return c.LeaveJoint()
	}
	if autoLeave, ok := cc.EnterJoint(); ok {
		return c.EnterJoint(autoLeave, cc.Changes...)
	}
	return c.Simple(cc.Changes...)
}

// applyConfChange applies a committed conf change and returns the resulting
// configuration. A change that cannot be applied (it would leave no voter,
// say) is logged and ignored; the configuration returned is then the
// unchanged current one. The entry was committed, so every node ignores it
// alike.
func (r *raft) applyConfChange(cc pb.ConfChangeV2) pb.ConfState {
	cfg, prs, err := r.changer().apply(cc)
	if err != nil {
		r.logger.Errorf("%x ignored conf change %s: %v", r.id, describeConfChange(cc), err)
		return r.trk.ConfState()
	}
	traceConfChangeEvent(cfg, r)
	return r.switchToConfig(cfg, prs)
}

// switchToConfig makes the given configuration current and does the
// bookkeeping a change of membership calls for. The sets of the
// configuration are interned: groups with the same members share them, so
// neither they nor cfg's may be modified afterwards (confchange copies
// before it changes anything; Status hands out clones).
func (r *raft) switchToConfig(cfg progress.Config, prs progress.ProgressMap) pb.ConfState {
	r.trk.Config = cfg.Interned()
	r.trk.Progress = prs
	r.trk.Pack()
	r.resetLeaseOnConfChange()

	r.logger.Infof("%x switched to configuration %s", r.id, r.trk.Config)
	cs := r.trk.ConfState()
	pr := r.trk.Get(r.id)
	ok := pr != nil

	// Update whether the node itself is a learner, resetting to false when
	// the node is removed.
	r.isLearner = ok && pr.IsLearner

	if (!ok || r.isLearner) && r.state == StateLeader {
		// A leader removed or demoted keeps leading (it no longer counts
		// for quorums) so the change can commit on the other nodes, unless
		// asked to step down at once. Either way it must not campaign.
		if r.stepDownOnRemoval {
			r.becomeFollower(r.Term, None)
		}
		return cs
	}

	// The remaining steps only make sense for a leader of a non-empty
	// configuration.
	if r.state != StateLeader || len(cs.Voters) == 0 {
		return cs
	}

	if r.maybeCommit() {
		// The quorum changed and the commit index moved: broadcast it.
		r.bcastAppend()
	} else {
		// Otherwise, still probe the newly added replicas.
		r.trk.Visit(func(id uint64, _ *progress.Progress) {
			if id != r.id {
				r.maybeSendAppend(id, false /* sendIfEmpty */)
			}
		})
	}
	// A transfer to a node that is no longer a voter cannot finish.
	if r.leadTransferee != None && !r.isVoter(r.leadTransferee) {
		r.abortLeaderTransfer()
	}
	return cs
}

func (r *raft) isVoter(id uint64) bool {
	_, in := r.trk.Voters[0][id]
	_, out := r.trk.Voters[1][id]
	return in || out
}

// decodeConfChange decodes the conf change carried by an entry.
func decodeConfChange(e pb.Entry) (pb.ConfChangeV2, error) {
	switch e.Type {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return pb.ConfChangeV2{}, fmt.Errorf("cannot decode ConfChange at index %d: %w", e.Index, err)
		}
		return cc.AsV2(), nil
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return pb.ConfChangeV2{}, fmt.Errorf("cannot decode ConfChangeV2 at index %d: %w", e.Index, err)
		}
		return cc, nil
	}
	return pb.ConfChangeV2{}, fmt.Errorf("entry at index %d of type %s is not a conf change", e.Index, e.Type)
}

func describeConfChange(cc pb.ConfChangeV2) string {
	if len(cc.Changes) == 0 {
		return "leave-joint"
	}
	return fmt.Sprintf("%s(%s)", cc.Transition, confchange.Describe(cc.Changes...))
}

// confChangeToMsg turns a conf change into a proposal message; nil stands
// for an empty ConfChangeV2 (leave joint).
func confChangeToMsg(c pb.ConfChangeI) (pb.Message, error) {
	if c == nil {
		c = pb.ConfChangeV2{}
	}
	typ, data, err := pb.MarshalConfChange(c)
	if err != nil {
		return pb.Message{}, err
	}
	return pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Type: typ, Data: data}}}, nil
}
