package raft

import (
	"slices"
	"strconv"

	"github.com/raftkit/raft/progress"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/tracker"
)

// BasicStatus is the state of a node that is cheap to read: its identity,
// its persistent state (HardState), its role and leader (SoftState), how far
// it has applied and whether a leadership transfer is under way.
type BasicStatus struct {
	// ID is the node's own ID.
	ID uint64

	pb.HardState
	SoftState

	// Applied is the index of the last entry handed out for application
	// (and, in synchronous mode, acknowledged by Advance).
	Applied uint64

	// LeadTransferee is the node to which this leader is transferring
	// leadership, or None.
	LeadTransferee uint64
}

// Status is BasicStatus plus the membership configuration and, on a leader,
// the replication progress of every member. It is a copy: the caller may
// keep and modify it.
type Status struct {
	BasicStatus
	// Config is the current membership configuration.
	Config tracker.Config
	// Progress holds the progress of every member, keyed by ID. It is only
	// filled in on the leader; elsewhere it is nil.
	Progress map[uint64]tracker.Progress
	// LeaseValid reports whether this node is a leader under
	// ReadOnlyLeaseBased that would now answer a read at once under its
	// lease, rather than with a heartbeat round.
	LeaseValid bool
	// Recovery is the node's quarantine after a loss of persisted state
	// (Config.RecoverLostState); its zero value when there is none.
	Recovery Recovery
	// Quiesced reports whether the group is quiesced (RawNode.Quiesce
	// called, RawNode.Wake not since): the application does not tick it.
	Quiesced bool
}

// getBasicStatus reads the basic status of r without allocating.
func getBasicStatus(r *raft) BasicStatus {
	return BasicStatus{
		ID:             r.id,
		HardState:      r.hardState(),
		SoftState:      r.softState(),
		Applied:        r.raftLog.applied,
		LeadTransferee: r.leadTransferee,
	}
}

// getStatus reads the full status of r. Nothing in it is shared with r.
func getStatus(r *raft) Status {
	s := Status{
		BasicStatus: getBasicStatus(r),
		Config:      r.trk.Config.Clone(),
		Recovery:    r.recoveryStatus(),
		Quiesced:    r.rare != nil && r.rare.quiesced,
	}
	if s.RaftState == StateLeader {
		s.Progress = copyProgress(&r.trk)
		s.LeaseValid = r.leaseValid()
	}
	return s
}

// copyProgress returns a deep copy of the tracker's progress: the inflight
// windows are cloned so that the copy does not change as the leader keeps
// replicating. A progress that holds no window while nothing is in flight
// gets an empty one with the tracker's limits, as it would have had if
// windows were never dropped.
func copyProgress(trk *progress.Tracker) map[uint64]tracker.Progress {
	m := make(map[uint64]tracker.Progress, trk.Len())
	trk.Visit(func(id uint64, pr *progress.Progress) {
		p := *pr
		if p.Inflights != nil {
			p.Inflights = p.Inflights.Clone()
		} else {
			p.Inflights = progress.NewInflights(trk.MaxInflight, trk.MaxInflightBytes)
		}
		m[id] = p
	})
	return m
}

// MarshalJSON renders the status as a JSON object with the node IDs in hex:
//
//	{"id":"1","term":2,"vote":"1","commit":5,"lead":"1","raftState":"StateLeader",
//	 "applied":5,"progress":{"1":{"match":5,"next":6,"state":"StateReplicate"}},
//	 "leadtransferee":"0"}
//
// The progress entries are sorted by ID; "progress" is {} when there is
// none (on followers). A peer in the fence handshake of a quarantine adds
// "recovering":true to its progress. A quarantined node (Config.RecoverLostState) adds
// its quarantine, which etcd raft has not:
//
//	"recovery":{"kind":"StateLoss","cause":"CauseRestart","lostFrom":5,"lostTo":6,"term":3,"nonce":"1f"}
func (s Status) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 160+64*len(s.Progress))
	b = append(b, `{"id":"`...)
	b = strconv.AppendUint(b, s.ID, 16)
	b = append(b, `","term":`...)
	b = strconv.AppendUint(b, s.Term, 10)
	b = append(b, `,"vote":"`...)
	b = strconv.AppendUint(b, s.Vote, 16)
	b = append(b, `","commit":`...)
	b = strconv.AppendUint(b, s.Commit, 10)
	b = append(b, `,"lead":"`...)
	b = strconv.AppendUint(b, s.Lead, 16)
	b = append(b, `","raftState":`...)
	b = strconv.AppendQuote(b, s.RaftState.String())
	b = append(b, `,"applied":`...)
	b = strconv.AppendUint(b, s.Applied, 10)
	b = append(b, `,"progress":{`...)

	ids := make([]uint64, 0, len(s.Progress))
	for id := range s.Progress {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		pr := s.Progress[id]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendUint(b, id, 16)
		b = append(b, `":{"match":`...)
		b = strconv.AppendUint(b, pr.Match, 10)
		b = append(b, `,"next":`...)
		b = strconv.AppendUint(b, pr.Next, 10)
		b = append(b, `,"state":`...)
		b = strconv.AppendQuote(b, pr.State.String())
		if pr.Recovering {
			b = append(b, `,"recovering":true`...)
		}
		b = append(b, '}')
	}

	b = append(b, `},"leadtransferee":"`...)
	b = strconv.AppendUint(b, s.LeadTransferee, 16)
	b = append(b, '"')
	if rec := s.Recovery; rec.Quarantined {
		b = append(b, `,"recovery":{"kind":`...)
		b = strconv.AppendQuote(b, rec.Kind.String())
		b = append(b, `,"cause":`...)
		b = strconv.AppendQuote(b, rec.Cause.String())
		b = append(b, `,"lostFrom":`...)
		b = strconv.AppendUint(b, rec.LostFrom, 10)
		b = append(b, `,"lostTo":`...)
		b = strconv.AppendUint(b, rec.LostTo, 10)
		b = append(b, `,"term":`...)
		b = strconv.AppendUint(b, rec.Term, 10)
		b = append(b, `,"nonce":"`...)
		b = strconv.AppendUint(b, rec.Nonce, 16)
		b = append(b, `"}`...)
	}
	if s.Quiesced {
		b = append(b, `,"quiesced":true`...)
	}
	b = append(b, '}')
	return b, nil
}

// String returns the JSON rendering of the status (see MarshalJSON), or a
// text naming the error if it cannot be rendered.
func (s Status) String() string {
	b, err := s.MarshalJSON()
	if err != nil {
		return "<raft.Status: cannot marshal: " + err.Error() + ">"
	}
	return string(b)
}

// MarshalJSON renders the role as a JSON string, such as "StateLeader".
func (st StateType) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, st.String()), nil
}
