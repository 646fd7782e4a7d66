package raft

import (
	"fmt"
	"testing"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Losses outside the one-follower shape of the other recovery tests: a
// leader's own storage (D4 of docs/design/recovery.md), and two nodes of
// three at once (outside the fault model).

// formerLeaderLossScenario is counterexample 1 with the leader as the
// node that loses the entry: e is committed at index 4 on {1, 3}, counted
// with leader 1's own acknowledgement, while 2 is cut off; 1 crashes and
// its disk loses e (commit index 4 persisted, log cut at 3); 3, the other
// holder of e, crashes. 2 campaigns: with 1's vote it would lead without e.
// It returns 1's quarantine and whether a leader lacks e.
func formerLeaderLossScenario(t *testing.T) (Recovery, bool) {
	c := newTestCluster(t, 3, recoverConfig(false))
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	c.isolate(2)
	require.NoError(t, c.propose(1, "e"))
	require.Equal(t, uint64(4), c.node(1).raft.raftLog.committed)
	require.Equal(t, uint64(4), c.node(1).raft.trk.Get(1).Match, "the leader counted its own acknowledgement")
	term := c.node(1).raft.Term
	c.regress(1, 3, pb.HardState{Term: term, Vote: 1, Commit: 4})
	rec := c.recoveryOf(1)
	return rec, leaderLacksAfterCrashAndCampaign(c, 3, 4, "e")
}

// TestFormerLeaderWhoseStorageLostEntriesIsQuarantinedAtRestart: D4 in
// practice. A leader's loss of entries it counted shows at its restart,
// when it no longer leads; the restart finds it as it finds a follower's
// (here D1: the persisted commit index beyond the surviving log; D3 when
// only the application's markers can tell), and the quarantine keeps its
// vote from electing a leader without the entries.
func TestFormerLeaderWhoseStorageLostEntriesIsQuarantinedAtRestart(t *testing.T) {
	rec, lacks := formerLeaderLossScenario(t)
	assert.Equal(t, Recovery{Quarantined: true, Kind: StateLoss, Cause: CauseRestart, LostFrom: 4, LostTo: 4, Term: rec.Term, Nonce: rec.Nonce}, rec)
	assert.NotZero(t, rec.Nonce)
	assert.False(t, lacks, "no leader lacks the entry the former leader lost")
	for _, mut := range []recoveryMut{mutNoRestartQuarantine, mutVotes} {
		withRecoveryMutation(mut, func() {
			_, lacks := formerLeaderLossScenario(t)
			assert.True(t, lacks, "mutation %d: the former leader's vote elects a leader lacking committed entry e", mut)
		})
	}
}

// unreadableStorage is a MemoryStorage whose entries from index from on
// can no longer be read, while its last index still covers them: a disk
// whose reads fail inside the log.
type unreadableStorage struct {
	*MemoryStorage
	from uint64
}

func (s *unreadableStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	if hi > s.from {
		return nil, fmt.Errorf("entry %d: read failed: %w", max(lo, s.from), ErrUnavailable)
	}
	return s.MemoryStorage.Entries(lo, hi, maxSize)
}

func (s *unreadableStorage) Term(i uint64) (uint64, error) {
	if i >= s.from {
		return 0, fmt.Errorf("entry %d: read failed: %w", i, ErrUnavailable)
	}
	return s.MemoryStorage.Term(i)
}

// TestLeaderThatCannotReadItsEntriesBehavesAsEtcd: D4 at run time. A
// leader whose storage fails to read entries inside its log, with or
// without RecoverLostState, panics as etcd raft does when it must send
// them, and logs and sends nothing when it needs only their term; it
// keeps its log's end, so its vote, after a step down, still asks a
// candidate for every entry it claims. Its restart on what the disk kept
// is D1 (or D3).
func TestLeaderThatCannotReadItsEntriesBehavesAsEtcd(t *testing.T) {
	for _, recover := range []bool{false, true} {
		t.Run(fmt.Sprintf("RecoverLostState=%t", recover), func(t *testing.T) {
			s := newTestStorage(t, voters(1, 2, 3), ents(1, 1, 1, 1)...)
			require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 4}))
			var opts []func(*Config)
			if recover {
				opts = append(opts, recoverConfig(false))
			}
			n := newTestNode(t, 1, voters(1, 2, 3), s, opts...)
			n.becomeLeader(2, 3)
			n.flush()
			require.Equal(t, StateLeader, n.r.state)
			require.Equal(t, uint64(5), n.r.raftLog.lastIndex())
			require.Empty(t, n.r.raftLog.unstable.entries, "entry 5 is in the storage")

			n.r.raftLog.storage = &unreadableStorage{MemoryStorage: s, from: 3}
			n.r.raftLog.termCache = entryID{}
			// An append after entry 4 needs only its term: nothing is sent.
			pr := n.r.trk.Get(3)
			pr.BecomeProbe()
			pr.Next = 5
			assert.False(t, n.r.maybeSendAppend(3, true), "the term of entry 4 cannot be read")
			assert.Empty(t, n.flush())
			assert.Equal(t, uint64(5), n.r.raftLog.lastIndex(), "the log keeps its end")
			assert.False(t, n.Status().Recovery.Quarantined)
			// 3's log ends at 2: its rejection makes the leader read entries 3 to 5.
			assert.PanicsWithValue(t, fmt.Sprintf("entries[3:6) are unavailable from storage: entry 3: read failed: %v", ErrUnavailable),
				func() {
					_ = n.Step(pb.Message{From: 3, To: 1, Type: pb.MsgAppResp, Term: n.r.Term, Index: 4, Reject: true, RejectHint: 2, LogTerm: 1})
				}, "etcd raft's behaviour")

			// The restart, on what the disk kept.
			kept := newTestStorage(t, voters(1, 2, 3), ents(1, 1)...)
			require.NoError(t, kept.SetHardState(pb.HardState{Term: n.r.Term, Vote: 1, Commit: 4}))
			cfg := newTestConfig(1, 10, 1, kept)
			if recover {
				recoverConfig(false)(cfg)
			}
			rn, err := NewRawNode(cfg)
			if !recover {
				assert.ErrorContains(t, err, "out of range")
				return
			}
			require.NoError(t, err)
			rec := rn.Status().Recovery
			assert.True(t, rec.Quarantined)
			assert.Equal(t, CauseRestart, rec.Cause)
			assert.Equal(t, [2]uint64{3, 4}, [2]uint64{rec.LostFrom, rec.LostTo})
		})
	}
}

// twoLosses is what twoLossesScenario saw.
type twoLosses struct {
	// twoLeaders lists the terms that had two leaders.
	twoLeaders []uint64
	// leaders counts the terms that had a leader after the losses.
	leaders int
	// committed is the highest commit index of a node after the losses,
	// and at4 the entries committed at index 4, by node.
	committed uint64
	at4       map[uint64]string
	// quarantined lists the nodes still quarantined at the end.
	quarantined []uint64
	// campaignErrs are the errors of the quarantined nodes' campaigns.
	campaignErrs []error
}

// twoLossesScenario: e is committed at index 4 on all three nodes; then
// 2 and 3 crash and their disks lose e at once (commit index 4 persisted,
// log cut at 3: D1 finds both), as a power loss under lying fsyncs would.
// Two regressions at once are outside the fault model. With leaderUp,
// leader 1 stays; otherwise it is down and, with restart, restarts after
// 100 ticks. The
// cluster runs 200 ticks; every 10, a leader (if any) is asked to propose
// and 2 and 3 to campaign. The application of 2 proposes, through 1, an
// entry with 2's nonce (the fence of rule E3) and reports it applied if
// it ever is.
func twoLossesScenario(t *testing.T, tail, leaderUp, restart bool) twoLosses {
	c := newTestCluster(t, 3, recoverConfig(tail))
	c.campaign(1)
	require.NoError(t, c.propose(1, "x"))
	require.NoError(t, c.propose(1, "e"))
	for _, id := range c.ids {
		require.Equal(t, uint64(4), c.node(id).raft.raftLog.committed)
	}
	term := c.node(1).raft.Term
	if !leaderUp {
		c.crash(1)
	}
	c.regress(2, 3, pb.HardState{Term: term, Vote: 1, Commit: 4})
	c.regress(3, 3, pb.HardState{Term: term, Vote: 1, Commit: 4})
	var out twoLosses
	if leaderUp {
		fence := fmt.Sprintf("fence %x", c.recoveryOf(2).Nonce)
		require.NoError(t, c.propose(1, fence))
	}
	leaders := map[uint64]map[uint64]bool{}
	for tick := 1; tick <= 200; tick++ {
		if !leaderUp && restart && tick == 100 {
			c.restart(1)
		}
		c.tick(1)
		for term, ids := range c.leadersByTerm() {
			for _, id := range ids {
				if !c.down[id] && term > 0 {
					if leaders[term] == nil {
						leaders[term] = map[uint64]bool{}
					}
					leaders[term][id] = true
				}
			}
		}
		if tick%10 == 0 {
			if lead := c.leader(); lead != 0 {
				_ = c.propose(lead, fmt.Sprintf("p%d", tick))
			}
			for _, id := range []uint64{2, 3} {
				if c.recoveryOf(id).Quarantined {
					out.campaignErrs = append(out.campaignErrs, c.node(id).Campaign())
					c.stabilize()
				}
			}
		}
	}
	out.at4 = map[uint64]string{}
	for _, id := range c.ids {
		l := &c.node(id).raft.raftLog
		out.committed = max(out.committed, l.committed)
		if l.committed >= 4 {
			out.at4[id] = c.entryData(id, 4)
		}
		if c.recoveryOf(id).Quarantined {
			out.quarantined = append(out.quarantined, id)
		}
	}
	for term, ids := range leaders {
		if term > 0 {
			out.leaders++
		}
		if len(ids) > 1 {
			out.twoLeaders = append(out.twoLeaders, term)
		}
	}
	return out
}

// TestTwoSimultaneousLossesPreferUnavailability: two nodes of three lose
// a committed entry at once, outside the fault model. Neither votes nor
// campaigns, so no leader without the entry is elected and nothing is
// committed in its place: the cluster stays unavailable, even once the
// only complete node is back, since it cannot win without their votes,
// and even under that node as leader after a StateLoss, since it counts
// them for no quorum; the application's fence (E3) cannot commit either.
// The way out is outside the library: rebuild the two from the complete
// node. A leader that stays up fences two TailLoss nodes, whose votes
// survived. Carrying on as voters (mutNoRestartQuarantine), the two elect
// one of them and commit another entry at index 4.
func TestTwoSimultaneousLossesPreferUnavailability(t *testing.T) {
	for _, tail := range []bool{false, true} {
		t.Run(fmt.Sprintf("tail=%t", tail), func(t *testing.T) {
			got := twoLossesScenario(t, tail, false, true)
			assert.Empty(t, got.twoLeaders, "no term has two leaders")
			assert.Zero(t, got.leaders, "no leader is elected, even once node 1 is back")
			assert.Equal(t, uint64(4), got.committed, "nothing is committed after the losses")
			assert.Equal(t, map[uint64]string{1: "e"}, got.at4, "only node 1 has index 4 committed, with e")
			assert.Equal(t, []uint64{2, 3}, got.quarantined)
			require.NotEmpty(t, got.campaignErrs)
			for _, err := range got.campaignErrs {
				assert.ErrorIs(t, err, ErrQuarantined)
			}

			got = twoLossesScenario(t, tail, true, false)
			assert.Empty(t, got.twoLeaders, "no term has two leaders")
			for id, data := range got.at4 {
				assert.Equal(t, "e", data, "node %d's entry 4", id)
			}
			if tail {
				assert.Empty(t, got.quarantined, "the leader fences two TailLoss nodes")
				assert.Greater(t, got.committed, uint64(6), "available again: the fence and proposals commit")
				return
			}
			assert.Equal(t, []uint64{2, 3}, got.quarantined)
			assert.Equal(t, uint64(4), got.committed, "the leader commits nothing, not even the application's fence")
		})
	}
	withRecoveryMutation(mutNoRestartQuarantine, func() {
		// Node 1 stays down: the cluster has diverged from it.
		got := twoLossesScenario(t, false, false, false)
		assert.Positive(t, got.leaders, "without the quarantine, 2 and 3 elect a leader")
		assert.Greater(t, got.committed, uint64(4))
		require.Contains(t, got.at4, uint64(2))
		assert.NotEqual(t, "e", got.at4[2], "and commit another entry at index 4 (their leader's empty entry), where e was committed")
	})
}
