package rafttest

import (
	"fmt"
	"math"
	"math/rand"
	"time"

	"github.com/raftkit/raft"
)

// Scenario is what a seed chose for a run: the cluster's shape, the
// protocol options and the rates of faults and workload. Result carries it
// so that a report says what was being tested.
type Scenario struct {
	// Nodes is the number of node IDs (1..Nodes); Voters of them start as
	// the voters and the others are spares that conf changes may add.
	Nodes, Voters int
	// Clients is the number of clients issuing commands.
	Clients int
	// ElectionTick and HeartbeatTick are the raft timeouts.
	ElectionTick, HeartbeatTick int
	// PreVote, CheckQuorum, ReadOnlyOption and StepDownOnRemoval are the
	// protocol options.
	PreVote, CheckQuorum bool
	ReadOnlyOption       raft.ReadOnlyOption
	StepDownOnRemoval    bool
	// MaxSizePerMsg and MaxInflightMsgs are the flow-control limits.
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	// AsyncStorageWrites runs the nodes in raft's asynchronous storage
	// mode.
	AsyncStorageWrites bool
	// ApplyLag is how many ticks the applications of the even-numbered
	// nodes lag behind raft (see NodeConfig.ApplyLag). The others keep
	// up, so that a leader applies and compacts its log while a follower
	// still has committed entries to apply: a follower then gets a
	// snapshot while entries are out with its application.
	ApplyLag int
	// FaultTicks is how long faults are injected before the network heals.
	FaultTicks int
	// MaxDelay and Jitter bound the per-link delay, in ticks.
	MaxDelay, Jitter int
	// Loss and Dup are the probabilities of losing and duplicating a
	// message while faults are on.
	Loss, Dup float64
	// Crash is the probability per tick that a node crashes; ReadyCrash
	// the probability that a node crashes in the middle of handling a
	// Ready; Restart the probability per tick that a crashed node restarts.
	Crash, ReadyCrash, Restart float64
	// Partition and Heal are the probabilities per tick of cutting links
	// and of healing all cuts.
	Partition, Heal float64
	// OpRate is the probability per tick that an idle client issues a
	// command; ConfChange, Transfer and Campaign are the probabilities per
	// tick of those actions.
	OpRate, ConfChange, Transfer, Campaign float64
	// CompactEvery is how many applied entries a node lets accumulate
	// before it snapshots; CompactKeep how many it keeps behind the
	// snapshot.
	CompactEvery, CompactKeep uint64

	// The clock model (clock.go), on under ReadOnlyLeaseBased when
	// TickInterval is set: TickInterval is the nominal time of a tick
	// (one simulation step), Drift the largest relative error of a node's
	// oscillator, which drives both its ticks and its clock, and TickDrop
	// and TickDelay the probabilities per step, while faults are on, that
	// a node loses a tick, or stalls: its ticks are held back for up to two
	// election timeouts, then come in a bunch or are lost. Drawn from a
	// source of their own, so that they change no other choice of a seed.
	TickInterval        time.Duration
	Drift               float64
	TickDrop, TickDelay float64

	// The disk faults (faults.go): a crash may also make the node's disk
	// lose state it had persisted. Each is the probability, per crash,
	// of one kind of loss; at most one node at a time has a disk that
	// regressed and has not left its quarantine since (two regressions at
	// once are outside the model). Any of them turns on
	// raft.Config.RecoverLostState on every node, with
	// HardStateIndependentlyDurable when TailOnly is set. They are zero in
	// every drawn scenario: only callers that pin them (a soak,
	// -rafttest.losetail and its siblings) run them, so that the seeds
	// drawn before they existed replay as they did. Their choices come
	// from a source of their own.
	//
	// LoseTail loses the tail of the log down to below the persisted
	// commit index (a lying fsync, a repaired WAL), while the HardState
	// survives: the library detects it at restart (rule D1).
	LoseTail float64
	// LoseState loses the tail of the log with the HardStates written
	// since an earlier one, which the disk really held (a lost WAL tail,
	// HardStates in the same stream): the term, vote and commit index go
	// back. When the old commit index is beyond the surviving log the
	// library detects it (D1); otherwise, and always with TailOnly (whose
	// assertion the fault breaks), the application declares it.
	LoseState float64
	// TornHardState loses the last HardState written (a torn write that
	// the application's checksum finds): the disk falls back to the
	// previous one, its log intact, and the application declares a
	// StateLoss.
	TornHardState float64
	// WipeDisk empties the disk (a data directory deleted, or a new disk
	// under the old ID); a marker the application keeps elsewhere says
	// the node was a member, and it declares a StateLoss.
	WipeDisk float64
	// RestoreBackup puts back an older copy of the disk, taken at an
	// earlier crash of the node (one copy is kept, replaced at half the
	// crashes without a fault), and the application declares a
	// StateLoss.
	RestoreBackup float64
	// LoseAcked loses entries above the persisted commit index, which
	// the node may have acknowledged (a lying fsync that spared the
	// HardState). The library cannot see it: the commit index stays in
	// the log. So only the application can, by a marker of its own, and
	// it declares it: a TailLoss with TailOnly, a StateLoss otherwise. An
	// undeclared loss of acknowledged entries is outside the model (it
	// can elect a leader that lacks a committed entry) and no scenario
	// runs it.
	LoseAcked float64
	// TailOnly is raft.Config.HardStateIndependentlyDurable, with the
	// disk faults.
	TailOnly bool
	// LeaseCut is the probability per step, under the clock model while
	// faults are on, that the leader is cut off right after its tick: from
	// all, from all but a bridge that may bounce, or on its outgoing links
	// once its incoming ones are slow (leaseCut in clock.go): the faults a
	// lease must survive, aimed at the moment a quorum acknowledged it.
	// Eager is the probability per step that a node which does not lead
	// calls Campaign, which the lease refuses until the node's promise to
	// its leader is over: elections then come at the earliest moment the
	// rules allow, not at a random timeout after it.
	LeaseCut, Eager float64
}

// applyLag returns the ApplyLag of node id.
func (sc Scenario) applyLag(id uint64) int {
	if id%2 != 0 {
		return 0
	}
	return sc.ApplyLag
}

// String renders the scenario on one line, for violation reports.
func (sc Scenario) String() string {
	ro := "safe"
	if sc.ReadOnlyOption == raft.ReadOnlyLeaseBased {
		ro = "lease"
	}
	return fmt.Sprintf("nodes=%d voters=%d clients=%d election=%d heartbeat=%d prevote=%t checkquorum=%t read=%s stepdown=%t "+
		"maxmsg=%d inflight=%d async=%t applylag=%d faultticks=%d delay=%d+%d loss=%.3f dup=%.3f crash=%.4f readycrash=%.4f "+
		"partition=%.4f confchange=%.4f compact=%d/%d",
		sc.Nodes, sc.Voters, sc.Clients, sc.ElectionTick, sc.HeartbeatTick, sc.PreVote, sc.CheckQuorum, ro,
		sc.StepDownOnRemoval, sc.MaxSizePerMsg, sc.MaxInflightMsgs, sc.AsyncStorageWrites, sc.ApplyLag, sc.FaultTicks, sc.MaxDelay, sc.Jitter,
		sc.Loss, sc.Dup, sc.Crash, sc.ReadyCrash, sc.Partition, sc.ConfChange, sc.CompactEvery, sc.CompactKeep) +
		sc.clockString() + sc.lossString()
}

// diskFaults reports whether any disk fault is on.
func (sc Scenario) diskFaults() bool {
	return sc.LoseTail+sc.LoseState+sc.TornHardState+sc.WipeDisk+sc.RestoreBackup+sc.LoseAcked > 0
}

// lossString renders the disk faults, or "" when they are off.
func (sc Scenario) lossString() string {
	if !sc.diskFaults() {
		return ""
	}
	return fmt.Sprintf(" losetail=%.3f losestate=%.3f torn=%.3f wipe=%.3f backup=%.3f loseacked=%.3f tailonly=%t",
		sc.LoseTail, sc.LoseState, sc.TornHardState, sc.WipeDisk, sc.RestoreBackup, sc.LoseAcked, sc.TailOnly)
}

// drawScenario draws the scenario of seed from r, and its ApplyLag from a
// source of its own seeded from seed. Every parameter has a chance to be
// at its quiet end, so that some seeds test ordinary operation and some
// test a storm.
func drawScenario(r *rand.Rand, seed int64) Scenario {
	sc := Scenario{}
	sc.Voters = []int{3, 3, 5}[r.Intn(3)]
	sc.Nodes = sc.Voters + r.Intn(3)
	sc.Clients = 2 + r.Intn(3)
	sc.ElectionTick = 10
	sc.HeartbeatTick = 1 + r.Intn(3)
	sc.PreVote = r.Intn(2) == 0
	sc.CheckQuorum = r.Intn(2) == 0
	if sc.CheckQuorum && r.Intn(3) == 0 {
		sc.ReadOnlyOption = raft.ReadOnlyLeaseBased
	}
	sc.StepDownOnRemoval = r.Intn(2) == 0
	sc.MaxSizePerMsg = []uint64{0, 256, 4096, math.MaxUint64}[r.Intn(4)]
	sc.MaxInflightMsgs = []int{1, 4, 256}[r.Intn(3)]
	sc.FaultTicks = 300 + r.Intn(500)
	sc.MaxDelay = 1 + r.Intn(4)
	sc.Jitter = r.Intn(4)
	if r.Intn(4) > 0 {
		sc.Loss = r.Float64() * 0.15
	}
	if r.Intn(3) > 0 {
		sc.Dup = r.Float64() * 0.1
	}
	if r.Intn(4) > 0 {
		sc.Crash = r.Float64() * 0.01
		sc.ReadyCrash = r.Float64() * 0.004
	}
	sc.Restart = 0.02 + r.Float64()*0.08
	if r.Intn(4) > 0 {
		sc.Partition = r.Float64() * 0.01
	}
	sc.Heal = 0.01 + r.Float64()*0.05
	sc.OpRate = 0.1 + r.Float64()*0.4
	if r.Intn(3) > 0 {
		sc.ConfChange = r.Float64() * 0.01
	}
	sc.Transfer = r.Float64() * 0.004
	sc.Campaign = r.Float64() * 0.002
	sc.CompactEvery = uint64(10 + r.Intn(150))
	sc.CompactKeep = uint64(r.Intn(20))
	// Drawn last, so that adding it did not change what older seeds drew.
	sc.AsyncStorageWrites = r.Intn(2) == 0
	// ApplyLag comes from a source of its own, so that the draws of the
	// run (faults, workload) stay those that seeds drew before it existed:
	// a seed drawn without lag replays its old run exactly.
	lag := rand.New(rand.NewSource(seed ^ 0x1a9))
	if lag.Intn(2) == 0 {
		// A lagging apply thread holds up nothing else; a synchronous
		// application that lags holds up its node's next Ready.
		if sc.AsyncStorageWrites {
			sc.ApplyLag = 1 + lag.Intn(20)
		} else {
			sc.ApplyLag = 1 + lag.Intn(4)
		}
	}
	return sc
}
