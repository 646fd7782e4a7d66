package progress

import (
	"strings"

	"github.com/raftkit/raft/quorum"
)

// Config is a membership configuration: who votes, who learns, and how a
// joint configuration will be left.
//
// The sets of a Config are treated as immutable once it is in a tracker:
// a new configuration is built from a copy (confchange never changes its
// input; Clone makes a deep copy), never by changing the sets in place.
// A raft node interns them (Interned), sharing equal sets between groups,
// which is only correct because nothing modifies them.
type Config struct {
	// Voters holds the incoming voters in Voters[0] and, while the
	// configuration is joint, the outgoing voters in Voters[1].
	Voters quorum.JointConfig
	// AutoLeave tells whether the leader leaves this joint configuration by
	// itself, proposing an empty conf change as soon as it may. It is only
	// set while joint.
	AutoLeave bool
	// Learners are the non-voting members. No learner is also a voter, in
	// either half of Voters.
	Learners map[uint64]struct{}
	// LearnersNext are voters of the outgoing configuration that become
	// learners when the joint configuration is left; meanwhile they still
	// vote in the outgoing half. A voter demoted while joint cannot be in
	// Learners at once, hence this set. It is empty unless joint.
	LearnersNext map[uint64]struct{}
}

// String renders the configuration on one line, like
// "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(5) autoleave", as
// etcd raft does: the learner sets are shown when they are not nil, so an
// empty but non-nil set shows as "learners=()", and autoleave only when set.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("voters=")
	b.WriteString(c.Voters.String())
	if c.Learners != nil {
		b.WriteString(" learners=")
		b.WriteString(quorum.MajorityConfig(c.Learners).String())
	}
	if c.LearnersNext != nil {
		b.WriteString(" learners_next=")
		b.WriteString(quorum.MajorityConfig(c.LearnersNext).String())
	}
	if c.AutoLeave {
		b.WriteString(" autoleave")
	}
	return b.String()
}

// Interned returns c with each of its sets replaced by an equal set shared
// with the other configurations that contain it (see quorum.Intern). The
// sets of the result must never be modified, nor those of c afterwards.
func (c Config) Interned() Config {
	return Config{
		Voters:       quorum.JointConfig{quorum.Intern(c.Voters[0]), quorum.Intern(c.Voters[1])},
		AutoLeave:    c.AutoLeave,
		Learners:     quorum.Intern(c.Learners),
		LearnersNext: quorum.Intern(c.LearnersNext),
	}
}

// Clone returns a copy of the configuration that shares no map with c.
// Nil maps stay nil.
func (c *Config) Clone() Config {
	return Config{
		Voters:       quorum.JointConfig{cloneSet(c.Voters[0]), cloneSet(c.Voters[1])},
		AutoLeave:    c.AutoLeave,
		Learners:     cloneSet(c.Learners),
		LearnersNext: cloneSet(c.LearnersNext),
	}
}

func cloneSet[M ~map[uint64]struct{}](m M) M {
	if m == nil {
		return nil
	}
	out := make(M, len(m))
	for id := range m {
		out[id] = struct{}{}
	}
	return out
}
