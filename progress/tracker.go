package progress

import (
	"slices"

	"github.com/raftkit/raft/quorum"
	"github.com/raftkit/raft/raftpb"
)

// Tracker holds a leader's (or candidate's) view of the group: the current
// configuration, the progress of every member and the votes of the current
// election. etcd raft calls it ProgressTracker.
//
// Every member of the configuration has a progress, and only members do;
// confchange maintains that.
type Tracker struct {
	Config

	// Progress maps each member, voter or learner, to its progress.
	//
	// Pack moves the progresses into the tracker's own array and drops the
	// map: a packed tracker, such as the one every raft node keeps, has a
	// nil Progress at rest. While the map is set (a tracker built with
	// one, or a new map from confchange before Pack), it is what the
	// tracker reads. Read its members with Get, Len and Visit, and build a map with
	// ProgressMap where one is needed (confchange takes one).
	Progress ProgressMap

	// Votes holds the votes received in the current election: true for
	// granted, false for rejected.
	Votes map[uint64]bool

	// MaxInflight is the count limit of the inflight window of every new
	// progress.
	MaxInflight int
	// MaxInflightBytes is the byte limit of the inflight window of every new
	// progress; zero means no limit.
	MaxInflightBytes uint64

	// members holds the progress of every member in ascending ID order in
	// one array once the tracker is packed (Progress nil); it is ignored
	// while Progress is set.
	// Visit walks it instead of iterating over the map and sorting the
	// IDs, and the replication state of a group sits in one allocation
	// (the inflight windows, held only while in use, aside).
	members []member
}

// member is one entry of Tracker.members.
type member struct {
	id uint64
	pr Progress
}

// MakeTracker returns a tracker with an empty configuration, whose new
// progresses get inflight windows of maxInflight messages and maxBytes bytes
// (0 for no byte limit).
func MakeTracker(maxInflight int, maxBytes uint64) Tracker {
	return Tracker{
		MaxInflight:      maxInflight,
		MaxInflightBytes: maxBytes,
		Config: Config{
			Voters: quorum.JointConfig{quorum.MajorityConfig{}, nil},
		},
		Votes:    map[uint64]bool{},
		Progress: ProgressMap{},
	}
}

// ConfState returns the configuration in its wire form, each list sorted
// and nil when empty.
func (p *Tracker) ConfState() raftpb.ConfState {
	return raftpb.ConfState{
		Voters:         p.Voters[0].Slice(),
		VotersOutgoing: p.Voters[1].Slice(),
		Learners:       quorum.MajorityConfig(p.Learners).Slice(),
		LearnersNext:   quorum.MajorityConfig(p.LearnersNext).Slice(),
		AutoLeave:      p.AutoLeave,
	}
}

// IsSingleton reports whether the group has exactly one voter and is not
// joint, so that the voter alone forms a quorum.
func (p *Tracker) IsSingleton() bool {
	return len(p.Voters[0]) == 1 && len(p.Voters[1]) == 0
}

// matchAckIndexer reads the voters' Match indexes as their acknowledgements.
// A pointer to the tracker, it fits in an interface without allocating.
type matchAckIndexer Tracker

// AckedIndex implements quorum.AckedIndexer.
func (l *matchAckIndexer) AckedIndex(id uint64) (quorum.Index, bool) {
	pr := (*Tracker)(l).Get(id)
	if pr == nil {
		return 0, false
	}
	return quorum.Index(pr.Match), true
}

// Committed returns the largest log index that a quorum of the voters (of
// both halves, while joint) has in its log, according to their Match.
func (p *Tracker) Committed() uint64 {
	if c, ok := p.committedPacked(); ok {
		return c
	}
	return uint64(p.Voters.CommittedIndex((*matchAckIndexer)(p)))
}

// committedPacked is Committed for the common case, a packed tracker of up
// to seven members outside a joint configuration: the voters are then
// exactly the members that are not learners, so their Match indexes are
// read from the array, without walking the voter map and looking each one
// up. A leader computes its commit index at every acknowledgement. ok is
// false, and the caller takes the general path, in any other case,
// including a count of non-learners that does not match the voters.
func (p *Tracker) committedPacked() (c uint64, ok bool) {
	ms := p.members
	if !p.indexed() || len(p.Voters[1]) != 0 || len(ms) > 7 {
		return 0, false
	}
	var stk [7]uint64
	acked := stk[:0]
	for i := range ms {
		if !ms[i].pr.IsLearner {
			acked = append(acked, ms[i].pr.Match)
		}
	}
	n := len(acked)
	if n == 0 || n != len(p.Voters[0]) {
		return 0, false
	}
	insertionSort(acked)
	// As in quorum.MajorityConfig.CommittedIndex: in ascending order, the
	// index at n-q is held by q voters, a majority.
	return acked[n-(n/2+1)], true
}

// Get returns the progress of member id, or nil if id is not a member.
func (p *Tracker) Get(id uint64) *Progress {
	if !p.indexed() {
		return p.Progress[id]
	}
	ms := p.members
	if len(ms) <= 8 {
		for i := range ms {
			if ms[i].id == id {
				return &ms[i].pr
			}
		}
		return nil
	}
	lo, hi := 0, len(ms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ms[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ms) && ms[lo].id == id {
		return &ms[lo].pr
	}
	return nil
}

// Len returns the number of members, voters and learners.
func (p *Tracker) Len() int {
	if p.indexed() {
		return len(p.members)
	}
	return len(p.Progress)
}

// ProgressMap returns a new map from each member to its progress. The
// progresses are the tracker's own, not copies: the map is a view for code
// that takes one, such as confchange, and is valid until the next Pack.
func (p *Tracker) ProgressMap() ProgressMap {
	prs := make(ProgressMap, p.Len())
	p.Visit(func(id uint64, pr *Progress) {
		prs[id] = pr
	})
	return prs
}

// Visit calls f for every member's progress in ascending ID order. It does
// not allocate for groups of up to seven members. f must not add or remove
// members.
func (p *Tracker) Visit(f func(id uint64, pr *Progress)) {
	if p.indexed() {
		for i := range p.members {
			f(p.members[i].id, &p.members[i].pr)
		}
		return
	}
	n := len(p.Progress)
	var stk [7]uint64
	var ids []uint64
	if n <= len(stk) {
		ids = stk[:0]
	} else {
		ids = make([]uint64, 0, n)
	}
	for id := range p.Progress {
		ids = append(ids, id)
	}
	insertionSort(ids)
	for _, id := range ids {
		f(id, p.Progress[id])
	}
}

// indexed reports whether the tracker is packed: members is then all there
// is. A tracker with a Progress map (one not yet packed, or one that code
// built with a map) is read through the map.
func (p *Tracker) indexed() bool {
	return p.Progress == nil
}

// Pack takes Progress as the new membership and moves every progress into
// one array owned by the tracker, in ascending ID order, then drops the map:
// Get, Len, Visit, Committed and ProgressMap read the array, and Progress
// stays nil until it is replaced by a new map. An inflight window moves
// along with its progress (the old progress and the moved one then share
// it; the old one is meant to be dropped), except that an empty one is
// dropped: EnsureInflights gives a new one when needed. The entries of the
// map passed in are pointed at the moved progresses, so a holder of the map
// sees the tracker's state, but it must not be used to change the
// membership. A packed tracker that is packed again ends up empty.
func (p *Tracker) Pack() {
	if len(p.Progress) == 0 {
		p.members, p.Progress = nil, nil
		return
	}
	var stk [7]uint64
	ids := stk[:0]
	for id := range p.Progress {
		ids = append(ids, id)
	}
	insertionSort(ids)
	ms := make([]member, len(ids))
	for i, id := range ids {
		m := &ms[i]
		old := p.Progress[id]
		m.id = id
		m.pr = *old
		if m.pr.Inflights.Count() == 0 {
			m.pr.Inflights, m.pr.inflightsIdle = nil, false
		}
		p.Progress[id] = &m.pr
	}
	p.members, p.Progress = ms, nil
}

// EnsureInflights gives pr an empty inflight window with the tracker's
// limits if it has none and is in StateReplicate, where SentEntries and
// SentMoreEntries record what is sent in it. The leader calls it before
// recording a send; progresses are otherwise left without a window while
// nothing is in flight (see Progress.Inflights).
func (p *Tracker) EnsureInflights(pr *Progress) {
	if pr.Inflights == nil && pr.State == StateReplicate {
		pr.Inflights = NewInflights(p.MaxInflight, p.MaxInflightBytes)
	}
}

// insertionSort sorts a short slice in place without allocating.
func insertionSort(sl []uint64) {
	for i := 1; i < len(sl); i++ {
		for j := i; j > 0 && sl[j-1] > sl[j]; j-- {
			sl[j-1], sl[j] = sl[j], sl[j-1]
		}
	}
}

// QuorumActive reports whether a quorum of the voters has been recently
// active (RecentActive). The leader counts only if it marks itself active.
func (p *Tracker) QuorumActive() bool {
	votes := map[uint64]bool{}
	p.Visit(func(id uint64, pr *Progress) {
		if !pr.IsLearner {
			votes[id] = pr.RecentActive
		}
	})
	return p.Voters.VoteResult(votes) == quorum.VoteWon
}

// VoterNodes returns the IDs of the voters of both halves, sorted.
func (p *Tracker) VoterNodes() []uint64 {
	m := p.Voters.IDs()
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// LearnerNodes returns the IDs of the learners, sorted, or nil if there are
// none. Voters due to become learners (LearnersNext) are not included.
func (p *Tracker) LearnerNodes() []uint64 {
	return quorum.MajorityConfig(p.Learners).Slice()
}

// ResetVotes forgets the votes of the previous election. The map is
// dropped, not emptied: most resets are of followers and leaders, which
// hold no votes, and RecordVote makes a new one when an election starts.
func (p *Tracker) ResetVotes() {
	p.Votes = nil
}

// RecordVote records id's vote: v is true when granted. Only the first vote
// of a node counts; later ones are ignored.
func (p *Tracker) RecordVote(id uint64, v bool) {
	if p.Votes == nil {
		p.Votes = map[uint64]bool{}
	}
	if _, ok := p.Votes[id]; !ok {
		p.Votes[id] = v
	}
}

// TallyVotes counts the granted and rejected votes of the current voters
// (votes from non-voters are ignored) and tells the election's outcome.
func (p *Tracker) TallyVotes() (granted int, rejected int, _ quorum.VoteResult) {
	for id, v := range p.Votes {
		_, in := p.Voters[0][id]
		_, out := p.Voters[1][id]
		if !in && !out {
			continue
		}
		if v {
			granted++
		} else {
			rejected++
		}
	}
	return granted, rejected, p.Voters.VoteResult(p.Votes)
}
