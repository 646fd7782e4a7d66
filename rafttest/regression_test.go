package rafttest

import (
	"strconv"
	"testing"

	"github.com/raftkit/raft"
)

// regressions holds every seed that ever failed, with what it found. Each
// must pass now; a new failing seed from a soak goes here, with the
// invariant it broke, once the bug is fixed.
var regressions = []struct {
	seed  int64
	found string
	// pin, when not nil, pins scenario parameters as the soak flags that
	// found the seed did (see pinScenario).
	pin func(*Scenario)
}{
	{14, "simulator: compaction below the snapshot wrapped around (fixed in rafttest)", noLag},
	{47, "liveness: a leader offered a new member a snapshot from before it joined, which raft refuses; " +
		"nodes now snapshot after each conf change, as etcd's server does for each MsgSnap (fixed in rafttest)", noLag},
	{205619, "liveness: a delay fault outlived the fault phase, leaving a round trip longer than the election " +
		"timeout, so every leader stepped down at its first CheckQuorum; heal now restores the drawn delays (fixed in rafttest)", noLag},
	{211, "one configuration per conf change (-rafttest.async -rafttest.applylag=20 -rafttest.confchange=0.05): " +
		"a snapshot overtook a lagging apply thread, so ApplyConfChange for entry 5 changed the snapshot's " +
		"configuration; raft now keeps the snapshot until the entries out with the application are applied (issue 14)",
		func(sc *Scenario) { sc.AsyncStorageWrites, sc.ApplyLag, sc.ConfChange = true, 20, 0.05 }},
	{1048, "one configuration per conf change (-rafttest.sync -rafttest.applylag=4 -rafttest.confchange=0.05): " +
		"the same with a snapshot stepped between Ready and Advance (issue 14)", func(sc *Scenario) {
		sc.AsyncStorageWrites, sc.ApplyLag, sc.ConfChange = false, 4, 0.05
	}},
	{1566, "linearizable history (the CI set, once ApplyLag drew its own source): a leader answered " +
		"ReadOnlyLeaseBased reads under etcd raft's implicit lease after a quorum had moved on; the explicit, " +
		"clock-bounded lease of raft_lease.go fixed it (issue 15)", func(sc *Scenario) { sc.AsyncStorageWrites = true }},
	{298, "liveness (-rafttest.losetail=0.5): a StateLoss voter stays quarantined, and a leader that removed " +
		"itself left the others without a quorum; a quarantined voter now counts as a failed one (fixed in rafttest, issue 16)",
		func(sc *Scenario) { sc.LoseTail = 0.5 }},
	{1061, "no committed entry lost (-rafttest.losetail=0.5): the disk check of a restarted node that lost its tail " +
		"compared the entries beyond its commit index too (fixed in rafttest, issue 16)",
		func(sc *Scenario) { sc.LoseTail = 0.5 }},
	{5329, "leader completeness (-rafttest.losetail=0.5 -rafttest.tailonly): the fault cut the log below a snapshot " +
		"at the persisted commit index, so the node lost an acknowledged entry above it and could not tell; " +
		"the fault now cuts above the snapshot (fixed in rafttest, issue 16)",
		func(sc *Scenario) { sc.LoseTail, sc.TailOnly = 0.5, true }},
	{12600, "liveness (-rafttest.losetail=0.5 -rafttest.tailonly): the most up-to-date node had not applied the " +
		"leave-joint entry and needed a quorum of the outgoing half, which had none without the quarantined voter; " +
		"the liveness check now looks at the configuration of every node (fixed in rafttest, issue 16)",
		func(sc *Scenario) { sc.LoseTail, sc.TailOnly = 0.5, true }},
	{10262, "liveness (-rafttest.losetail=0.5): the same, with a StateLoss voter (fixed in rafttest, issue 16)",
		func(sc *Scenario) { sc.LoseTail = 0.5 }},
	{7, "quarantine ends within a bound (TestDiskLossSeeds, losetail tailonly): a TailLoss node 23 entries behind, " +
		"caught up one entry per round trip (MaxSizePerMsg 0, one message in flight), left its quarantine 156 ticks " +
		"after its cue; the bound now applies to the time its log stands still, not to the whole catch-up (fixed in rafttest, issue 16)",
		losingTails(true)},
	{1, "quarantine ends within a bound (TestDiskLossSeeds, losetail, once StateLoss quarantines had to end): " +
		"the leader's fence confirmation named entry 58, which the quarantined node had since compacted into a " +
		"snapshot, so its term could not be read and the node never left, while its log kept moving and the run " +
		"never ended; a fence below the first index now counts as held (fixed in raft, issue 16)",
		losingTails(false)},
	{13710, "quarantine ends within a bound (all six disk faults at 0.1 each): a StateLoss brought node 3 back at " +
		"term 11, above the leader's 10; without CheckQuorum and PreVote it ignored the leader's lower-term messages " +
		"in silence and, quarantined, never campaigned, so no leader could ever fence it; a quarantined node now " +
		"answers a lower-term append or heartbeat with its term (fixed in raft, issue 16)",
		allSixDiskFaults},
	{20161, "one vote per term (all six disk faults at 0.1 each): node 3 campaigned in term 7, lost that vote in a " +
		"StateLoss, was fenced at term 6 and voted for 5 in term 7; the fence makes that safe (no election counting " +
		"the forgotten vote can win after it), so the checker now forgets a fenced node's lost votes and keeps " +
		"checking one leader per term (fixed in rafttest, issue 16)",
		allSixDiskFaults},
	{23493, "quarantine ends within a bound (all six disk faults at 0.1 each): the fence waited for the other " +
		"follower, catching up one entry per round trip, to commit it without the quarantined node, whose own log " +
		"stood still for 101 ticks; the bound now counts the progress of every log (fixed in rafttest, issue 16)",
		allSixDiskFaults},
	{22933, "liveness (all six disk faults at 0.1 each): a wiped, quarantined voter of four left three that had " +
		"to agree; only node 1, whose log was the longest, could win, and without PreVote nodes 3 and 4 kept " +
		"starting elections that node 1 had to beat by a one-way delay of up to 4 ticks (against timeouts drawn " +
		"in [10, 20)); a proposal committed 1,123 ticks after the faults healed. Raft is live only if round trips are well " +
		"below the election timeout; the liveness check now waits five times longer while a quarantined voter " +
		"leaves the others without a spare (fixed in rafttest, issue 16)",
		allSixDiskFaults},
	{31133, "liveness (all six disk faults at 0.1 each): a wiped, quarantined voter of three left node 1 with " +
		"node 3, whose links took 4 to 7 ticks each way; under CheckQuorum every leader node 1 became heard " +
		"nothing from node 3 before its first check, 10 ticks after it won, and stepped down (the quarantined " +
		"node's answers count for no quorum), until one did and a proposal committed 2,012 ticks after the faults healed; the same " +
		"fix as 22933 (fixed in rafttest, issue 16)",
		allSixDiskFaults},
	{330196, "liveness (all six disk faults at 0.1 each): leader 1 demoted itself to a learner while voter 3 " +
		"was wiped and quarantined; node 4, whose log was the longest of the voters, had not learned that the " +
		"demotion was committed and campaigned in the configuration before it, where node 1 (a longer uncommitted " +
		"tail) and node 3 (quarantined) refused, and node 2 needed node 4 or node 3; etcd raft v3.6 stalls the " +
		"same way with node 3 down (compat.TestDemotedLeaderWithAVoterDownStallsAsEtcd). The liveness check now " +
		"excuses a run in which no node can win an election while the quarantined voters reject every vote, " +
		"but one could with their votes (fixed in rafttest)",
		allSixDiskFaults},
	{410884, "liveness (all six disk faults at 0.1 each), found in the soak of the fix for 330196: the same, with " +
		"two voters, nodes 2 and 4, in the configuration before the demotion and logs of equal length: each " +
		"had the other's vote only, node 1's tail being longer and node 3 quarantined (fixed in rafttest)",
		allSixDiskFaults},
	{347271, "quarantine ends within a bound (all six disk faults at 0.1 each): cut off with new voter 5, node 3 " +
		"campaigned up to term 12 with 5's votes and was then wiped; 5, which had no configuration yet and so " +
		"could not campaign, kept term 12 and ignored the term-9 leader in silence (no CheckQuorum, no PreVote), " +
		"so the half {2,3,4,5} of the joint configuration had no quorum without the quarantined 3 and its fence " +
		"never committed; a node that cannot campaign now answers a lower-term append or heartbeat with its " +
		"term (rule T1 of docs/design/recovery.md, fixed in raft)",
		allSixDiskFaults},
	{389513, "liveness (all six disk faults at 0.1 each), found once the quorum excuse looked at the nodes that " +
		"can win: node 1 was removed; node 2, which had not applied that, campaigned in {1,2,3} and could not win, " +
		"while quarantined node 3 took each of its terms; node 4, whose log was the longest, could win in {2,3,4} " +
		"with node 2's vote, but its lower-term votes were ignored by both, and node 2 never asked it, so it never " +
		"reached node 2's term (the quorum excuse ended the run, on node 2's configuration); a node that cannot " +
		"campaign now rejects a lower-term vote with its term (rule T1 of docs/design/recovery.md, fixed in raft)",
		allSixDiskFaults},
	{1204746, "liveness (lease reads and all six disk faults at 0.1 each), found in the soak of the narrowed quorum " +
		"excuse: in the joint configuration {1,2,4} && {1,2,3}, node 3 was gone and node 2, quarantined, held the " +
		"longest log, so no node could win the outgoing half; the narrowed excuse asked only the nodes that can win, " +
		"and there were none. It now excuses a run where no node can win, or none in a configuration that commits " +
		"without the quarantined voters, while some live node's configuration is blocked (fixed in rafttest)",
		leaseAndAllSixDiskFaults},
	{375168, "read index covers earlier writes (found with all six disk faults at 0.1 each; fails without them " +
		"too): node 3, a pre-candidate at term 8, heard leader 2 again and acknowledged its heartbeat, which gave 2 " +
		"a lease; node 1, a candidate at term 9, then rejected 3's pre-vote at term 9, and the late rejection moved " +
		"3 to term 9 with no leader, so etcd's in-lease check let it vote for 1 at term 10 one tick after the " +
		"heartbeat, and 2 answered a lease read at 28 after 1 committed and applied 29, its entry of term 10; " +
		"a follower's promise now outlives a change of term (rule 11 of docs/design/lease.md, fixed in raft)", nil},
}

// allSixDiskFaults pins the seeds found with all six disk faults at 0.1
// per crash (-rafttest.losetail=0.1 -rafttest.losestate=0.1
// -rafttest.torn=0.1 -rafttest.wipe=0.1 -rafttest.backup=0.1
// -rafttest.loseacked=0.1).
func allSixDiskFaults(sc *Scenario) {
	sc.LoseTail, sc.LoseState, sc.TornHardState, sc.WipeDisk, sc.RestoreBackup, sc.LoseAcked = 0.1, 0.1, 0.1, 0.1, 0.1, 0.1
}

// leaseAndAllSixDiskFaults pins the seeds found with -rafttest.lease and
// the six disk faults of allSixDiskFaults.
func leaseAndAllSixDiskFaults(sc *Scenario) {
	allSixDiskFaults(sc)
	sc.CheckQuorum, sc.ReadOnlyOption = true, raft.ReadOnlyLeaseBased
}

// noLag pins the seeds found before Scenario.ApplyLag existed to the run
// they had then.
func noLag(sc *Scenario) { sc.ApplyLag = 0 }

func TestRegressionSeeds(t *testing.T) {
	for _, rc := range regressions {
		t.Run(strconv.FormatInt(rc.seed, 10), func(t *testing.T) {
			t.Parallel()
			res := Run(Options{Seed: rc.seed, OutDir: outDir(t), Scenario: rc.pin})
			if res.Violation != nil {
				t.Errorf("seed %d (%s) fails again:\n%v", rc.seed, rc.found, res.Violation)
			}
		})
	}
}
