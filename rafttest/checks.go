package rafttest

import (
	"hash/fnv"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// entryID names an entry by index and term: raft creates at most one entry
// for each.
type entryID struct{ index, term uint64 }

// entryInfo is what log matching pins down for an entry: its content and
// the term of the entry before it.
type entryInfo struct {
	sum      uint64
	prevTerm uint64
}

// committedEntry is what state machine safety pins down for an index.
type committedEntry struct {
	known bool
	term  uint64
	sum   uint64
	snap  bool // known only from a snapshot: the content is not compared
	conf  bool // a conf change (EntryConfChange or EntryConfChangeV2)
	// by bounds from above the term in which the entry was committed: the
	// highest term a leader was seen in when it was first known to be.
	// An entry of an old term may be committed only in a much later one,
	// and a leader of a term in between, whose votes were late, may well
	// lack it.
	by uint64
}

// appliedConf is the configuration that ApplyConfChange returned for a
// conf change entry, and the node that got it first.
type appliedConf struct {
	cs   pb.ConfState
	node uint64
}

// persisted is what the checker remembers of a node's disk, to tell
// whether the disk kept it.
type persisted struct {
	hs pb.HardState
}

// checker holds the history the invariants are checked against.
type checker struct {
	s       *sim
	leaders map[uint64]uint64 // term -> the node that led it
	// maxLeader is the highest term in leaders.
	maxLeader uint64
	entries   map[entryID]entryInfo
	committed []committedEntry // by index
	disks     map[uint64]*persisted
	votes     map[nodeTerm]uint64 // the first vote each node persisted in each term
	// confs holds, by index, the configuration as of each conf change
	// entry (and as of the bootstrap snapshot).
	confs map[uint64]appliedConf
}

// nodeTerm names a node's term.
type nodeTerm struct{ node, term uint64 }

func newChecker(s *sim) *checker {
	return &checker{
		s:       s,
		leaders: map[uint64]uint64{},
		entries: map[entryID]entryInfo{},
		disks:   map[uint64]*persisted{},
		votes:   map[nodeTerm]uint64{},
		confs:   map[uint64]appliedConf{},
	}
}

func entrySum(e pb.Entry) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte{byte(e.Type)})
	_, _ = h.Write(e.Data)
	return h.Sum64()
}

func (c *checker) disk(id uint64) *persisted {
	p := c.disks[id]
	if p == nil {
		p = &persisted{}
		c.disks[id] = p
	}
	return p
}

// bootstrapped records the initial snapshot shared by the first voters.
func (c *checker) bootstrapped(boot pb.Snapshot) {
	c.markCommitted(boot.Metadata.Index, boot.Metadata.Term, 0, true)
	c.confs[boot.Metadata.Index] = appliedConf{cs: boot.Metadata.ConfState}
	for i := 1; i <= c.s.sc.Voters; i++ {
		c.disk(uint64(i)).hs = pb.HardState{Term: 1, Commit: 1}
	}
}

func (c *checker) markCommitted(index, term, sum uint64, snap bool) {
	for uint64(len(c.committed)) <= index {
		c.committed = append(c.committed, committedEntry{})
	}
	c.committed[index] = committedEntry{known: true, term: term, sum: sum, snap: snap, by: c.maxLeader}
}

func (c *checker) committedAt(index uint64) (committedEntry, bool) {
	if index >= uint64(len(c.committed)) || !c.committed[index].known {
		return committedEntry{}, false
	}
	return c.committed[index], true
}

// persistedHardState checks that a node's persisted term, vote and commit
// only move forward: the term never decreases, the vote never changes
// within a term, and the commit index never decreases.
func (c *checker) persistedHardState(n *simNode, hs pb.HardState) {
	p := c.disk(n.id)
	prev := p.hs
	switch {
	case hs.Term < prev.Term:
		c.s.fail("persisted term never decreases", "node %d persists term %d after term %d", n.id, hs.Term, prev.Term)
	case hs.Commit < prev.Commit:
		c.s.fail("persisted commit never decreases", "node %d persists commit %d after %d", n.id, hs.Commit, prev.Commit)
	}
	if hs.Vote != 0 {
		// The checker's own memory, not the disk's: a node that forgot
		// its vote and votes again is caught here.
		k := nodeTerm{n.id, hs.Term}
		if v, ok := c.votes[k]; ok && v != hs.Vote {
			c.s.fail("one vote per term", "node %d votes for %d in term %d after voting for %d", n.id, hs.Vote, hs.Term, v)
		}
		c.votes[k] = hs.Vote
	}
	p.hs = hs
	c.checkDiskCommitted(n, hs.Commit)
}

// forgetLostVotes releases node id, fenced after a StateLoss at term, from
// the votes it cast before the loss in term and later ones: it forgot
// them, and may vote again in those terms. That is safe once its log holds
// the fence (docs/design/recovery.md, E2: no election that counted a
// forgotten vote can win after the fence committed, for its quorum
// rejects candidates that lack it), and every other check, one leader per
// term above all, still holds it to account.
func (c *checker) forgetLostVotes(id, term uint64) {
	for k := range c.votes {
		if k.node == id && k.term >= term {
			delete(c.votes, k)
		}
	}
}

// persistedEntries checks log matching for entries just written: an entry
// at a given index and term always has the same content and follows the
// same previous term.
func (c *checker) persistedEntries(n *simNode, ents []pb.Entry) {
	for i, e := range ents {
		var prevTerm uint64
		if i > 0 {
			prevTerm = ents[i-1].Term
		} else if t, ok := n.disk.Term(e.Index - 1); ok {
			prevTerm = t
		} else {
			c.s.fail("log matching", "node %d persisted entry %d without its predecessor", n.id, e.Index)
		}
		if e.Term < prevTerm {
			c.s.fail("log terms never decrease", "node %d: entry %d has term %d after term %d", n.id, e.Index, e.Term, prevTerm)
		}
		id := entryID{e.Index, e.Term}
		info := entryInfo{sum: entrySum(e), prevTerm: prevTerm}
		if old, ok := c.entries[id]; ok {
			if old != info {
				c.s.fail("log matching", "node %d persisted entry %d/%d (prev term %d) unlike an earlier one (prev term %d, same content %t)",
					n.id, e.Index, e.Term, prevTerm, old.prevTerm, old.sum == info.sum)
			}
		} else {
			c.entries[id] = info
		}
	}
	c.checkDiskCommitted(n, c.disk(n.id).hs.Commit)
}

// persistedSnapshot checks that a snapshot agrees with what was committed.
func (c *checker) persistedSnapshot(n *simNode, snap pb.Snapshot) {
	idx, term := snap.Metadata.Index, snap.Metadata.Term
	if ce, ok := c.committedAt(idx); ok && ce.term != term {
		c.s.fail("state machine safety", "node %d persisted snapshot %d/%d but %d/%d was committed", n.id, idx, term, idx, ce.term)
	}
	c.snapshotConf(n, "persisted a snapshot", idx, snap.Metadata.ConfState)
}

// appliedConfChange checks the configuration that ApplyConfChange returned
// for the conf change entry at index: every node that applies the entry
// gets the same one, the configuration as of that index.
func (c *checker) appliedConfChange(n *simNode, index uint64, cs pb.ConfState) {
	prev, ok := c.confs[index]
	if !ok {
		c.confs[index] = appliedConf{cs: cs, node: n.id}
		return
	}
	if err := prev.cs.Equivalent(cs); err != nil {
		c.s.fail("one configuration per conf change", "node %d: ApplyConfChange for entry %d returned %s where node %d got %s",
			n.id, index, raft.DescribeConfState(cs), prev.node, raft.DescribeConfState(prev.cs))
	}
}

// snapshotConf checks the configuration of a snapshot at index (one that
// the node persisted, or made of its own state): it is the configuration
// as of the last conf change entry at or before index, when the checker
// knows which entry that is.
func (c *checker) snapshotConf(n *simNode, what string, index uint64, cs pb.ConfState) {
	for i := index; i > 0; i-- {
		if ac, ok := c.confs[i]; ok {
			if err := ac.cs.Equivalent(cs); err != nil {
				c.s.fail("one configuration per conf change", "node %d %s at %d with %s, but the conf change at %d made %s",
					n.id, what, index, raft.DescribeConfState(cs), i, raft.DescribeConfState(ac.cs))
			}
			return
		}
		if ce, ok := c.committedAt(i); !ok || ce.snap || ce.conf {
			// Unknown content, or a conf change whose outcome nobody
			// reported: the configuration as of index is not known.
			return
		}
	}
}

// checkDiskCommitted checks that the node's disk holds the committed
// entries up to its persisted commit index: no committed entry is lost or
// overwritten. Only the tail written since the last check is compared.
func (c *checker) checkDiskCommitted(n *simNode, commit uint64) {
	d := n.disk
	lo := d.FirstIndex()
	if last := d.LastIndex(); commit > last {
		c.s.fail("no committed entry lost", "node %d persisted commit %d beyond its last entry %d", n.id, commit, last)
	}
	// Compare the last few committed entries: older ones were compared
	// when they were written.
	if commit >= lo+16 {
		lo = commit - 16
	}
	c.compareDisk(n, lo, commit)
}

// compareDisk compares the node's disk entries in [lo, hi] with the
// committed entries.
func (c *checker) compareDisk(n *simNode, lo, hi uint64) {
	if hi < lo {
		return
	}
	ents, err := n.disk.Storage().Entries(lo, hi+1, noLimit)
	if err != nil {
		return
	}
	for _, e := range ents {
		if ce, ok := c.committedAt(e.Index); ok && !ce.snap && (ce.term != e.Term || ce.sum != entrySum(e)) {
			c.s.fail("no committed entry lost", "node %d holds %d/%d at index %d where %d/%d was committed",
				n.id, e.Index, e.Term, e.Index, e.Index, ce.term)
		}
	}
}

// recovered checks a node's disk when it restarts: it still holds what the
// node persisted.
func (c *checker) recovered(n *simNode) {
	p := c.disk(n.id)
	hs := n.disk.HardState()
	if c.s.opts.skipDiskChecks {
		p.hs = hs
		return
	}
	if n.disk.regressed {
		// The disk lost state on purpose (a Scenario disk fault), and the
		// node has not left its quarantine since: its commit index may be
		// beyond its log, and it may persist one down to its snapshot's;
		// at the first restart after the fault, its term, vote and commit
		// index may be older than those it had persisted.
		if !n.disk.fresh {
			switch {
			case hs.Term < p.hs.Term:
				c.s.fail("persisted term never decreases", "node %d restarts in quarantine at term %d after persisting term %d", n.id, hs.Term, p.hs.Term)
			case hs.Term == p.hs.Term && hs.Vote != p.hs.Vote:
				c.s.fail("one vote per term", "node %d restarts in quarantine with vote %d in term %d after persisting vote %d", n.id, hs.Vote, hs.Term, p.hs.Vote)
			}
		}
		n.disk.fresh = false
		c.compareDisk(n, n.disk.FirstIndex(), min(hs.Commit, n.disk.LastIndex()))
		p.hs = hs
		p.hs.Commit = min(hs.Commit, n.disk.FirstIndex()-1)
		return
	}
	if last := n.disk.LastIndex(); hs.Commit > last {
		c.s.fail("no committed entry lost", "node %d restarts with commit %d beyond its last entry %d", n.id, hs.Commit, last)
	}
	c.compareDisk(n, n.disk.FirstIndex(), hs.Commit)
	p.hs = hs
}

// applied checks state machine safety for an entry a node applies: it
// applies in order, without gaps, and the same entry as every other node
// at that index.
func (c *checker) applied(n *simNode, e pb.Entry) {
	if e.Index != n.applied+1 {
		c.s.fail("state machine safety", "node %d applies entry %d after %d", n.id, e.Index, n.applied)
	}
	sum := entrySum(e)
	if ce, ok := c.committedAt(e.Index); ok {
		if ce.term != e.Term || (!ce.snap && ce.sum != sum) {
			c.s.fail("state machine safety", "node %d applies %d/%d at index %d where %d/%d was applied (same content %t)",
				n.id, e.Index, e.Term, e.Index, e.Index, ce.term, ce.sum == sum)
		}
		return
	}
	c.markCommitted(e.Index, e.Term, sum, false)
	c.committed[e.Index].conf = e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2
}

// checkLeader checks election safety and leader completeness for a node
// that just handled a Ready: at most one leader per term, and a new
// leader holds every entry committed in earlier terms.
func (c *checker) checkLeader(n *simNode) {
	if !n.up() {
		return
	}
	st := n.node.Status()
	if st.Role != raft.StateLeader {
		return
	}
	if other, ok := c.leaders[st.Term]; ok {
		if other != n.id {
			c.s.fail("one leader per term", "nodes %d and %d both lead term %d", other, n.id, st.Term)
		}
		return
	}
	c.leaders[st.Term] = n.id
	c.maxLeader = max(c.maxLeader, st.Term)
	c.s.event(n.id, "leader", st.Term, 0, "")
	c.checkComplete(n, st.Term)
}

// checkComplete checks that the node's log holds every entry committed in
// a term before term: every committed entry of an earlier term whose
// commit, as far as the checker can tell (committedEntry.by), came before
// term.
func (c *checker) checkComplete(n *simNode, term uint64) {
	d := n.disk
	snapIdx := d.Snapshot().Metadata.Index
	for idx := uint64(1); idx < uint64(len(c.committed)); idx++ {
		ce := c.committed[idx]
		if !ce.known || ce.term >= term || ce.by >= term || idx <= snapIdx {
			continue
		}
		t, ok := d.Term(idx)
		if !ok || t != ce.term {
			c.s.fail("leader completeness", "node %d leads term %d without entry %d/%d committed before (it has term %d, present %t)",
				n.id, term, idx, ce.term, t, ok)
		}
	}
}

// finalChecks runs the checks that need the whole run: the leaders hold
// every committed entry, and every up node's disk agrees with what was
// committed.
func (s *sim) finalChecks() {
	for _, n := range s.nodes[1:] {
		if !n.up() {
			continue
		}
		s.cur = n.id
		st := n.node.Status()
		if st.Role == raft.StateLeader {
			s.chk.checkComplete(n, st.Term)
		}
		s.chk.compareDisk(n, n.disk.FirstIndex(), n.disk.HardState().Commit)
	}
}

// countQuarantined counts the nodes up and still quarantined at the end
// of the run (Faults.StillQuarantined), a run that failed included: a
// violation ends the run before finalChecks.
func (s *sim) countQuarantined() {
	for _, n := range s.nodes[1:] {
		if n.up() && n.disk.quarantined() {
			s.res.Faults.StillQuarantined++
		}
	}
}
