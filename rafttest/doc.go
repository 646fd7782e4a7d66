// Package rafttest is a deterministic simulator of raft clusters, with
// faults, and the safety and liveness checks that run on it. Use it to hunt
// for bugs in raft itself, and to test what you build on raft: plug your
// own StateMachine in through a Service and the simulator checks that its
// clients see a linearizable history through crashes, partitions and
// membership changes.
//
// # The simulation
//
// Run simulates one cluster from one seed. Every choice comes from a
// math/rand source seeded with it: the cluster's shape and protocol
// options (PreVote, CheckQuorum, ReadOnlySafe or ReadOnlyLeaseBased,
// StepDownOnRemoval, flow-control limits, synchronous or asynchronous
// storage writes), the faults and the workload. There are no
// goroutines, sleeps or wall clocks: time is counted in ticks, so the same
// seed replays the same run byte for byte, and Result.TraceHash proves it.
// The nodes draw their randomized election timeouts from a source seeded
// from the seed too, one per run and shared by its nodes, which NewRawNode
// hands to raft through Config.Rand (NodeConfig.Rand). A run shares
// nothing with the rest of the process: it neither replaces nor reads
// crypto/rand.Reader, and runs may go on concurrently, each on its own
// goroutine, each replaying as it would alone.
//
//   - Nodes. Each node is a Node (RawNode-based nodes come from
//     NewRawNode; another implementation can join through the same
//     interface) over its own Disk. Only what the node persisted following
//     the Ready contract is on the Disk; a crash drops the Node and its
//     state machine, and a restart builds a fresh one over the Disk. A
//     crash may land before a Ready is persisted, between persisting the
//     entries and the HardState, between persisting and sending, and
//     between sending and applying. With Scenario.ApplyLag the nodes'
//     applications lag a few ticks behind raft: committed entries are
//     applied after the messages of those ticks are stepped, as by an
//     apply thread that falls behind, or an application that steps
//     messages between Ready and Advance.
//   - Network. Messages travel marshaled, as a real transport carries
//     them, with a delay per link, jitter that reorders them, loss,
//     duplication, symmetric partitions, one-way cuts and healing.
//   - Workload. Clients send commands to the leader and to followers
//     (which forward them), read through ReadIndex and through the log, and
//     give up after a timeout. The cluster changes membership (voters and
//     learners added, removed, promoted and demoted, joint changes through
//     ConfChangeV2), transfers leadership, and compacts its logs so that
//     lagging and new nodes catch up by snapshot.
//   - Clock model. Under ReadOnlyLeaseBased every node has an oscillator
//     of its own (a rate within Scenario.Drift of nominal, a random phase)
//     that drives its ticks and its Clock, so a node ticks twice in some
//     steps and not at all in others; nodes lose single ticks and stall,
//     their ticks then coming in a bunch or lost; some links deliver
//     within the step, and the nodes tick in the order of their phase, so
//     a message sent at one node's tick reaches another before that one's
//     tick of the same step; nodes bounce (crash and restart at once); the
//     leader is cut off right after its tick, from all, from all but a
//     bridge that may bounce, or first on its outgoing links only; nodes
//     cut off from their leader campaign as soon as the lease rules let
//     them (Scenario.LeaseCut, Scenario.Eager); and leaders are asked for
//     read probes every few steps (clock.go).
//   - Disk loss. The Scenario's disk faults (all off in every drawn
//     scenario; a caller or -rafttest.losetail and its siblings pin them)
//     make a crash also lose what the node had persisted, one node at a
//     time until it leaves its quarantine: the tail of its log below its
//     persisted commit index (LoseTail); that tail with the HardStates
//     written since an earlier one, which the Disk keeps a history of
//     (LoseState); its last HardState write (TornHardState); its whole
//     disk (WipeDisk); its disk replaced by a copy taken at an earlier
//     crash (RestoreBackup); entries above its persisted commit index
//     (LoseAcked). The nodes then run with raft.Config.RecoverLostState
//     and persist their quarantine on their Disk (Disk.Recovery). The
//     library detects a commit index beyond the log by itself; every
//     other loss the simulated application declares at restart, from a
//     marker kept outside its data directory (raft.Config.Recovery with
//     raft.CauseDeclared), as a StateLoss (a TailLoss for LoseAcked with
//     Scenario.TailOnly, whose HardState survived). A loss of
//     acknowledged entries that nobody declares is outside the model: no
//     scenario runs it (TestUndeclaredDiskLossIsCaught shows what it
//     breaks). The disk checks allow what a fault lost, and no more.
//     Once the faults heal, the simulator hands leadership to another
//     voter so that a TailLoss quarantine gets its cue (a leader of a
//     later term), after which the node must leave it without its log
//     standing still for more than fenceTicks; a StateLoss quarantine
//     ends through the leader's fence handshake under the same bound
//     (stateLossFenced), and until then its node counts as a failed one
//     in the liveness check. Options.LoseTailOf restricts the faults to
//     some nodes.
//   - Faults stop after Scenario.FaultTicks: the network heals and every
//     node restarts, and a leader must then commit a proposal within
//     Options.LivenessTicks (five times that while a quarantined voter
//     leaves the others without a spare: see quarantineSlowsElections),
//     unless a quarantined voter leaves the leader, or with none every
//     node able to win an election, no quorum (Faults.QuarantineBlocked;
//     see quarantineBlocksQuorum) or no node able to win an election without
//     its vote (Faults.QuarantineUnelectable; see quarantineBlocksElection).
//
// # The checks
//
// As the run goes: at most one leader per term; log matching (an entry at
// a given index and term has one content and one predecessor); leader
// completeness (a new leader holds every entry committed in earlier
// terms); state machine safety (every node applies the same entry at an
// index, in order, without gaps); no committed entry lost or overwritten
// on any disk, across crashes (but what a disk fault lost, on the node
// that lost it, until it leaves its quarantine); a node's persisted term
// and commit index never decrease (but across a disk fault) and it never
// votes for two nodes in a term (across disk faults too); one
// configuration per conf change (ApplyConfChange returns the same
// ConfState for an entry on every node, and a snapshot, received or made,
// carries the configuration of the last conf change before its index);
// every read index (client reads and read probes) covers every index
// applied anywhere before the read was asked; once the faults healed,
// the bound on quarantines above. At the end: the liveness bound above, and linearizability of the clients' history,
// checked with porcupine against the service's own state machine. When
// that check fails, porcupine's HTML visualization of the history is
// written to Options.OutDir and its path is in the Violation.
//
// A Violation names the invariant, the seed and the last events of the
// trace; Options{Seed: seed} replays it.
//
// # In tests
//
// The package's own tests run a fixed set of seeds, one run per core at a
// time; -short runs fewer, and for a soak:
//
//	go test ./rafttest -run TestSeeds -rafttest.seeds=20000 -rafttest.start=1 -timeout 0
//
// or RAFTTEST_SEEDS=20000 in the environment. -rafttest.async (or
// -rafttest.sync), -rafttest.applylag=N, -rafttest.confchange=P and
// -rafttest.losetail=P, -rafttest.losestate=P, -rafttest.torn=P,
// -rafttest.wipe=P, -rafttest.backup=P and -rafttest.loseacked=P (with
// -rafttest.tailonly) pin those parameters of every seed, and
// -rafttest.lease its reads to ReadOnlyLeaseBased (a sixth of the seeds
// draw it), to soak one corner (asynchronous storage writes with lagging
// applications and frequent membership changes, say, or lease reads under
// disk faults). Each seed that ever
// failed is kept in regression_test.go.
package rafttest
