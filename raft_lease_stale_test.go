package raft

import (
	"fmt"
	"testing"
	"time"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The stale reads the lease rules prevent (docs/design/lease.md, "What
// breaks if a rule is dropped"), each played out on a scripted three-node
// cluster: every tick, every delivery and every clock reading is chosen by
// the script, on one real-time axis. Each script runs twice: with the rule,
// where the old leader serves no stale read, and with the rule broken on
// purpose (leaseMutation), where it answers a lease read below a write the
// new leader committed. A rule dropped later fails the first run; a script
// that no longer reaches the danger fails the second.

// leaseScript is a three-node cluster in ReadOnlyLeaseBased (CheckQuorum
// and PreVote on, ElectionTick 10, HeartbeatTick 1, so the lease lasts
// L = 8 ticks) that shares one clock, now, moved only by the script. No
// election timer fires by itself (every randomized timeout is 2·ET-1): the
// script campaigns where it wants, when the rules let the node.
type leaseScript struct {
	*testCluster
	t   *testing.T
	now time.Time
	// hold, when set, keeps the messages it matches out of the network;
	// release delivers them later.
	hold func(pb.Message) bool
	held []pb.Message
}

// newLeaseScript returns the cluster with node 1 elected and its first
// entry committed everywhere, at script time 0.
func newLeaseScript(t *testing.T) *leaseScript {
	s := &leaseScript{t: t, now: time.Unix(1000, 0)}
	s.testCluster = newTestCluster(t, 3, func(c *Config) {
		c.ReadOnlyOption = ReadOnlyLeaseBased
		c.CheckQuorum = true
		c.PreVote = true
		c.TickInterval = leaseTick
		c.Clock = func() time.Time { return s.now }
	})
	for _, id := range s.ids {
		s.quietTimer(id)
	}
	require.NoError(t, s.node(1).Campaign())
	s.settle()
	require.Equal(t, StateLeader, s.node(1).raft.state)
	return s
}

// quietTimer keeps node id's election timer from firing within the
// scripts: its randomized timeout is 2·ET-1 ticks.
func (s *leaseScript) quietTimer(id uint64) {
	r := s.node(id).raft
	r.setRandIntn(func(n int) int { return n - 1 })
	r.resetRandomizedElectionTimeout()
}

// at sets the shared clock to p tick intervals after the script's start.
func (s *leaseScript) at(p float64) {
	s.now = time.Unix(1000, 0).Add(time.Duration(p * float64(leaseTick)))
}

// settle processes and delivers until nothing moves; messages matched by
// hold are kept back.
func (s *leaseScript) settle() {
	for i := 0; ; i++ {
		require.Less(s.t, i, 1000, "cluster does not settle")
		moved := false
		for _, id := range s.ids {
			moved = s.process(id) || moved
		}
		if s.hold != nil {
			keep := s.inflight[:0]
			for _, m := range s.inflight {
				if s.hold(m) {
					s.held = append(s.held, m)
				} else {
					keep = append(keep, m)
				}
			}
			s.inflight = keep
		}
		moved = s.deliver() || moved
		if !moved {
			return
		}
	}
}

// tick ticks the given nodes, in order, each followed by settle.
func (s *leaseScript) tick(ids ...uint64) {
	for _, id := range ids {
		s.node(id).Tick()
		s.settle()
	}
}

// periods runs whole tick intervals from p0 on: the leader 1 ticks at p0,
// p0+1, ..., and the followers 2 and 3 half an interval after it. That
// phase is the worst the lease must absorb: a heartbeat sent at a leader
// tick reaches a follower just before the follower ticks.
func (s *leaseScript) periods(p0 float64, n int) {
	for i := 0; i < n; i++ {
		s.at(p0 + float64(i))
		s.tick(1)
		s.at(p0 + float64(i) + 0.5)
		s.tick(2, 3)
	}
}

// release delivers the held messages, which were sent before any cut, and
// stops holding.
func (s *leaseScript) release() {
	s.hold = nil
	msgs := s.held
	s.held = nil
	for _, m := range msgs {
		_ = s.node(m.To).Step(m)
	}
	s.settle()
}

// elect has node id campaign (it must be outside any lease it granted) and
// propose a write once it leads. It reports whether the write committed.
func (s *leaseScript) elect(id uint64) bool {
	require.NoError(s.t, s.node(id).Campaign())
	s.settle()
	if s.node(id).raft.state != StateLeader {
		return false
	}
	require.NoError(s.t, s.node(id).Propose([]byte("w")))
	s.settle()
	r := s.node(id).raft
	return r.raftLog.committed == r.raftLog.lastIndex()
}

// leaseRead is the outcome of a read asked of the old leader.
type leaseRead struct {
	// answered tells whether the read was answered; index is its read
	// index, and newest the highest commit index of any live node when it
	// was answered.
	answered      bool
	index, newest uint64
	// newLeaderWrote tells whether another leader committed a write first.
	newLeaderWrote bool
}

func (o leaseRead) stale() bool { return o.answered && o.index < o.newest }

func (o leaseRead) String() string {
	return fmt.Sprintf("answered=%t index=%d newest commit=%d new leader wrote=%t", o.answered, o.index, o.newest, o.newLeaderWrote)
}

// read asks node id for a read and settles.
func (s *leaseScript) read(id uint64, wrote bool) leaseRead {
	m := s.nodes[id]
	m.readStates = nil
	s.node(id).ReadIndex([]byte("probe"))
	s.settle()
	o := leaseRead{newLeaderWrote: wrote}
	for _, rs := range m.readStates {
		if string(rs.RequestCtx) == "probe" {
			o.answered, o.index = true, rs.Index
		}
	}
	for _, oid := range s.ids {
		if !s.down[oid] {
			o.newest = max(o.newest, s.node(oid).raft.raftLog.committed)
		}
	}
	return o
}

// The heartbeat that earns the lease is sent at leader tick s = 10; the
// followers received it just before their tick at 10.5.

// staleReadNoMargin: L = ET. The followers' promise ends at their tenth tick
// after the receipt, at 19.5, just before the leader's tenth tick after the
// send, at 20: one tick of phase, with every clock exact. Node 3 is elected
// and writes at 19.5, and the old leader, cut off since 10, reads.
func staleReadNoMargin(s *leaseScript) leaseRead {
	s.periods(1, 10) // s = the leader's tick at 10
	s.isolate(1)
	s.periods(11, 9) // to the followers' tick at 19.5
	require.GreaterOrEqual(s.t, s.node(2).raft.electionElapsed, s.node(2).raft.electionTimeout, "2's promise is over")
	wrote := s.elect(3)
	require.Equal(s.t, StateLeader, s.node(1).raft.state, "1 still believes it leads")
	return s.read(1, wrote)
}

// staleReadReceiptTime: the acknowledgements of the heartbeat sent at 10
// reach the leader only at 12.2. Measured from their arrival the lease
// would last until 20; the followers' promise ends at 19.5.
func staleReadReceiptTime(s *leaseScript) leaseRead {
	s.periods(1, 9)
	s.at(10)
	s.hold = func(m pb.Message) bool { return m.Type == pb.MsgHeartbeatResp }
	s.tick(1)
	s.isolate(1)
	require.Len(s.t, s.held, 2, "both followers acknowledged the heartbeat sent at 10")
	s.at(10.5)
	s.tick(2, 3)
	s.periods(11, 1)
	s.at(12)
	s.tick(1)
	s.at(12.2)
	s.release()
	s.at(12.5)
	s.tick(2, 3)
	s.periods(13, 7) // to the followers' tick at 19.5
	wrote := s.elect(3)
	require.Equal(s.t, StateLeader, s.node(1).raft.state, "1 still believes it leads")
	return s.read(1, wrote)
}

// staleReadNoQuarantine: node 3 is cut off from the leader from the start,
// so by 12.5 it may campaign; 2 acknowledged the heartbeat sent at 12,
// which gives the leader its lease, and restarts at 12.6, forgetting the
// leader it heard from. Without the restart quarantine it votes for 3 at
// once.
func staleReadNoQuarantine(s *leaseScript) leaseRead {
	s.cut[[2]uint64{1, 3}] = true
	s.cut[[2]uint64{3, 1}] = true
	s.periods(1, 12)
	require.True(s.t, s.node(1).raft.leaseValid(), "2's acknowledgement gave 1 a lease")
	s.isolate(1)
	s.at(12.6)
	s.crash(2)
	s.restart(2)
	s.quietTimer(2)
	s.cut[[2]uint64{3, 2}], s.cut[[2]uint64{2, 3}] = false, false
	wrote := s.elect(3)
	require.Equal(s.t, StateLeader, s.node(1).raft.state, "1 still believes it leads")
	return s.read(1, wrote)
}

// staleReadBunchedTicks: node 2's ticks are held back from the start (a
// stalled tick loop) while it keeps hearing the leader's heartbeats; it
// acknowledges the one sent at 10, which gives the leader its lease, and
// at 10.6 gets its ten held ticks in a bunch. Counted by its ticks alone,
// its promise is then over and it votes for 3, which has been cut off from
// the leader since 0; its clock says 0.6 of an interval has passed.
func staleReadBunchedTicks(s *leaseScript) leaseRead {
	s.cut[[2]uint64{1, 3}] = true
	s.cut[[2]uint64{3, 1}] = true
	for p := 1; p <= 10; p++ {
		s.at(float64(p))
		s.tick(1)
		s.at(float64(p) + 0.5)
		s.tick(3)
	}
	require.True(s.t, s.node(1).raft.leaseValid(), "2's acknowledgement gave 1 a lease")
	s.isolate(1)
	s.cut[[2]uint64{3, 2}], s.cut[[2]uint64{2, 3}] = false, false
	s.at(10.6)
	for i := 0; i < 10; i++ {
		s.tick(2)
	}
	require.GreaterOrEqual(s.t, s.node(2).raft.electionElapsed, s.node(2).raft.electionTimeout, "2's ticks say its promise is over")
	wrote := s.elect(3)
	require.Equal(s.t, StateLeader, s.node(1).raft.state, "1 still believes it leads")
	return s.read(1, wrote)
}

// staleReadRecentActive: the leader's lease comes from the heartbeat sent
// at 9. A write proposed at 9.2 reaches both followers, whose append
// responses are held; from 9.2 on the leader's messages are lost, its
// heartbeats of 10 and 11 among them. The append responses arrive at 11.2.
// They answer the append sent at 9.2 and prove nothing about the rounds
// sent since; counted as recent activity they vouch for the round sent at
// 11, and the lease would last to 19. The followers last heard the leader
// at 9.2, so their promise ends at 18.5 (their tenth tick since), where
// node 3 is elected and writes.
func staleReadRecentActive(s *leaseScript) leaseRead {
	s.periods(1, 8)
	s.at(9)
	s.tick(1)
	require.True(s.t, s.node(1).raft.leaseValid(), "the heartbeat sent at 9 gave 1 its lease")
	s.at(9.2)
	s.hold = func(m pb.Message) bool { return m.Type == pb.MsgAppResp && m.To == 1 && m.From != 1 }
	require.NoError(s.t, s.node(1).Propose([]byte("w")))
	s.settle()
	require.Len(s.t, s.held, 2, "both followers acknowledged the write")
	s.cut[[2]uint64{1, 2}], s.cut[[2]uint64{1, 3}] = true, true
	s.at(9.5)
	s.tick(2, 3)
	s.periods(10, 1)
	s.at(11)
	s.tick(1)
	s.at(11.2)
	s.release()
	s.isolate(1)
	s.at(11.5)
	s.tick(2, 3)
	s.periods(12, 7) // to the followers' tick at 18.5
	wrote := s.elect(3)
	require.Equal(s.t, StateLeader, s.node(1).raft.state, "1 still believes it leads")
	return s.read(1, wrote)
}

// staleReadTermBump: node 2 is cut off from the leader from the start,
// node 3 from 10 (after it acknowledged the heartbeat sent at 10) to 20.
// At 19.5 both may campaign: 3 pre-campaigns for term 3, keeping term 2,
// and its pre-vote to 2 is held; 2's pre-vote is granted by 3, and 2
// becomes candidate at term 3, its vote request to 3 held. At 20 node 3
// hears the leader's heartbeat and follows it again, and its
// acknowledgement gives the leader a lease to 28. The held messages then
// arrive: 3 ignores 2's vote request (inside the lease), and 2 rejects 3's
// pre-vote at its term 3, which moves 3 to term 3 with no leader. Without
// rule 11, 3 then votes for 2 at once, and 2 is elected and writes while
// the leader's lease runs.
func staleReadTermBump(s *leaseScript) leaseRead {
	s.cut[[2]uint64{1, 2}], s.cut[[2]uint64{2, 1}] = true, true
	s.periods(1, 10)
	s.cut[[2]uint64{1, 3}], s.cut[[2]uint64{3, 1}] = true, true
	s.periods(11, 8)
	s.at(19)
	s.tick(1)
	s.at(19.5)
	s.tick(2, 3)
	s.hold = func(m pb.Message) bool { return m.Type == pb.MsgPreVote && m.From == 3 && m.To == 2 }
	require.NoError(s.t, s.node(3).Campaign())
	s.settle()
	require.Equal(s.t, StatePreCandidate, s.node(3).raft.state, "3's promise is over")
	s.hold = func(m pb.Message) bool {
		return (m.Type == pb.MsgPreVote && m.From == 3 && m.To == 2) || (m.Type == pb.MsgVote && m.From == 2 && m.To == 3)
	}
	require.NoError(s.t, s.node(2).Campaign())
	s.settle()
	require.Equal(s.t, StateCandidate, s.node(2).raft.state, "3 granted 2's pre-vote")
	require.Len(s.t, s.held, 2)
	s.cut[[2]uint64{1, 3}], s.cut[[2]uint64{3, 1}] = false, false
	s.at(20)
	s.tick(1)
	require.Equal(s.t, uint64(1), s.node(3).raft.lead, "3 follows the leader again")
	require.True(s.t, s.node(1).raft.leaseValid(), "3's acknowledgement gave 1 a lease")
	s.at(20.2)
	s.release()
	require.Equal(s.t, s.node(2).raft.Term, s.node(3).raft.Term, "2's rejection moved 3 to its term")
	require.Equal(s.t, None, s.node(3).raft.lead)
	wrote := s.elect(2)
	require.Equal(s.t, StateLeader, s.node(1).raft.state, "1 still believes it leads")
	return s.read(1, wrote)
}

func TestLeaseRulesPreventStaleReads(t *testing.T) {
	for _, tt := range []struct {
		mutation string
		script   func(*leaseScript) leaseRead
		// elected tells whether another leader writes even with the rule:
		// rules 2 and 3 make the old leader step back in time, rules 8 (by
		// the clock), 10 and 11 stop the election.
		elected bool
	}{
		{"no-margin", staleReadNoMargin, true},
		{"receipt-time", staleReadReceiptTime, true},
		{"recent-active", staleReadRecentActive, true},
		{"no-quarantine", staleReadNoQuarantine, false},
		{"follower-ticks-only", staleReadBunchedTicks, false},
		{"promise-per-term", staleReadTermBump, false},
	} {
		t.Run(tt.mutation+"/rule", func(t *testing.T) {
			o := tt.script(newLeaseScript(t))
			t.Log(o)
			assert.Equal(t, tt.elected, o.newLeaderWrote, "%v", o)
			assert.False(t, o.stale(), "stale read with the rule: %v", o)
		})
		t.Run(tt.mutation+"/mutated", func(t *testing.T) {
			SetLeaseMutation(tt.mutation)
			defer SetLeaseMutation("")
			o := tt.script(newLeaseScript(t))
			t.Log(o)
			assert.True(t, o.newLeaderWrote, "%v", o)
			assert.True(t, o.stale(), "the mutation must show as a stale read: %v", o)
		})
	}
}
