package rafttest

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"runtime/debug"
	"strings"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// Options configures a run. Only Seed is needed: everything left zero is
// drawn from the seed or takes its default.
type Options struct {
	// Seed drives every choice of the run. The same seed and options give
	// the same run, byte for byte.
	Seed int64
	// Service is the replicated service under test; nil means &KV{}.
	Service Service
	// NewNode builds the nodes; nil means NewRawNode.
	NewNode NodeFactory
	// Scenario, when not nil, is changed by the caller after the seed drew
	// it, to pin some parameters: it is called with the drawn scenario.
	Scenario func(*Scenario)
	// LivenessTicks bounds how long after the faults heal a leader must be
	// elected and a proposal commit; 0 means 100 election timeouts.
	LivenessTicks int
	// TraceSize is the number of trace events a violation reports; 0
	// means 60.
	TraceSize int
	// OutDir is where a failed linearizability check writes its HTML
	// visualization; "" means os.TempDir().
	OutDir string

	// OnCrash, when not nil, is called when node id crashes, after its
	// volatile state is gone, with its disk. Bug-injection tests use it to
	// model a disk that loses what it acknowledged.
	OnCrash func(r *rand.Rand, id uint64, d *Disk)
	// LoseTailOf, when not nil, picks the nodes whose crashes may lose
	// what they had persisted (the Scenario's disk faults: LoseTail and
	// its siblings); nil means every node. Mixed
	// clusters spare the nodes of an implementation that cannot restart
	// over a lost tail (etcd raft panics by design).
	LoseTailOf func(id uint64) bool
	// Fencers, when not nil, picks the nodes that, as leaders, end a
	// StateLoss quarantine (the fence handshake of raftkit leaders, rule
	// E2 of docs/design/recovery.md); nil means every node. Under another
	// leader such a quarantine need not end, so the simulator does not
	// require it to. Mixed clusters pass their raftkit nodes.
	Fencers func(id uint64) bool
	// Tamper, when not nil, may change every message before it is
	// marshaled onto the network. Bug-injection tests use it to model a
	// network that corrupts messages.
	Tamper func(r *rand.Rand, m *pb.Message)

	// skipDiskChecks turns off the checks that compare a restarted node's
	// disk with what it persisted, so that bug-injection tests can show
	// that the protocol-level checks catch a lying disk on their own.
	skipDiskChecks bool
	// skipDeclare makes the simulated applications declare no disk
	// regression (Scenario.LoseState and its siblings), so that tests can
	// show that the checks catch what an undeclared one breaks.
	skipDeclare bool
	// skipReadFloor turns off the direct check of read indexes, so that
	// tests can show that the linearizability check catches stale reads on
	// its own.
	skipReadFloor bool
}

// Faults counts what a run injected and exercised.
type Faults struct {
	// Crashes counts crashes, of which ReadyCrashes came in the middle of
	// handling a Ready; Restarts counts restarts.
	Crashes, ReadyCrashes, Restarts int
	// Partitions counts symmetric partitions, OneWayCuts one-way cuts and
	// Heals the times the network healed.
	Partitions, OneWayCuts, Heals int
	// Lost counts messages lost to loss, cuts or down nodes; Duplicated
	// the messages sent twice; Tampered the messages Options.Tamper saw.
	Lost, Duplicated, Tampered int
	// Snapshots counts MsgSnap messages delivered.
	Snapshots int
	// LostTails, LostStates, TornHardStates, WipedDisks, RestoredBackups
	// and LostAcked count the disk faults of each kind (Scenario.LoseTail
	// and its siblings), of which Declared were declared by the
	// application (raft.CauseDeclared) rather than left to the library to
	// detect.
	LostTails, LostStates, TornHardStates, WipedDisks, RestoredBackups, LostAcked, Declared int
	// LeaderLosses counts the disk faults of nodes that led when they
	// crashed: a leader's loss of entries it counted, which the restart
	// finds as a follower's (D4 of docs/design/recovery.md).
	LeaderLosses int
	// LeftQuarantine counts the nodes that left a quarantine;
	// StillQuarantined the nodes still in quarantine at the end of the
	// run; QuarantineBlocked the runs that ended because their
	// quarantined voters, with the other nodes that were down or gone,
	// left the leader, or every node that could win an election, no
	// quorum (the liveness check then passes: a quarantined voter counts
	// as a failed one; see quarantineBlocksQuorum).
	LeftQuarantine, StillQuarantined, QuarantineBlocked int
	// QuarantineUnelectable counts the runs that ended without a leader
	// because no node could win an election while the quarantined voters
	// rejected every vote, where one could have with their votes (see
	// quarantineBlocksElection); the liveness check then passes too.
	QuarantineUnelectable int
	// QuarantineSlow counts the runs whose first commit after the faults
	// healed came later than Options.LivenessTicks, which the liveness
	// check allowed because a quarantined voter left the others without
	// a spare (see quarantineSlowsElections); QuarantineSlowTicks is the
	// longest such wait, in ticks after the faults healed.
	QuarantineSlow, QuarantineSlowTicks int
	// FencesDue counts the quarantines the simulator required to end once
	// they got their cue (a leader of a later term, once the faults
	// healed: see fenceCue); FenceTicks is the longest time one of them
	// took from its cue to its end, and FenceStall the longest time one
	// of them waited, on the way, for its log to progress (which
	// fenceTicks bounds), in ticks.
	FencesDue, FenceTicks, FenceStall int
	// ConfChanges, Transfers and Campaigns count those requests.
	ConfChanges, Transfers, Campaigns int
}

// Total returns the number of injected faults: crashes, partitions and
// cuts, and lost and duplicated messages.
func (f Faults) Total() int {
	return f.Crashes + f.Partitions + f.OneWayCuts + f.Lost + f.Duplicated + f.Tampered
}

// Add returns the sum of two runs' counts, for a summary of many runs:
// the counts add up, and the longest waits (QuarantineSlowTicks,
// FenceTicks, FenceStall) are the larger of the two.
func (f Faults) Add(g Faults) Faults {
	f.Crashes += g.Crashes
	f.ReadyCrashes += g.ReadyCrashes
	f.Restarts += g.Restarts
	f.Partitions += g.Partitions
	f.OneWayCuts += g.OneWayCuts
	f.Heals += g.Heals
	f.Lost += g.Lost
	f.Duplicated += g.Duplicated
	f.Tampered += g.Tampered
	f.Snapshots += g.Snapshots
	f.LostTails += g.LostTails
	f.LostStates += g.LostStates
	f.TornHardStates += g.TornHardStates
	f.WipedDisks += g.WipedDisks
	f.RestoredBackups += g.RestoredBackups
	f.LostAcked += g.LostAcked
	f.Declared += g.Declared
	f.LeaderLosses += g.LeaderLosses
	f.LeftQuarantine += g.LeftQuarantine
	f.StillQuarantined += g.StillQuarantined
	f.QuarantineBlocked += g.QuarantineBlocked
	f.QuarantineUnelectable += g.QuarantineUnelectable
	f.QuarantineSlow += g.QuarantineSlow
	f.QuarantineSlowTicks = max(f.QuarantineSlowTicks, g.QuarantineSlowTicks)
	f.FencesDue += g.FencesDue
	f.FenceTicks = max(f.FenceTicks, g.FenceTicks)
	f.FenceStall = max(f.FenceStall, g.FenceStall)
	f.ConfChanges += g.ConfChanges
	f.Transfers += g.Transfers
	f.Campaigns += g.Campaigns
	return f
}

// Result is the outcome of a run.
type Result struct {
	// Seed is the run's seed and Scenario what it drew.
	Seed     int64
	Scenario Scenario
	// TraceHash is a hash of every event of the run: two runs of the same
	// seed must have the same hash.
	TraceHash uint64
	// Events is the number of trace events and Ticks the run's length.
	Events, Ticks int
	// Faults counts the faults injected.
	Faults Faults
	// Ops is the number of client operations in the checked history.
	Ops int
	// ReadIndexes counts the ReadIndex answers, of which ImmediateReads
	// came in the step the read was issued, on the node it was issued to:
	// too soon for a heartbeat round, so from a lease (or a single voter).
	ReadIndexes, ImmediateReads int
	// ReadProbes counts the answers to read probes, the reads the clock
	// model asks of leaders outside the workload (included in
	// ReadIndexes).
	ReadProbes int
	// Violation is the first invariant that failed, or nil.
	Violation *Violation
}

// Violation is a failed invariant: which one, the seed that replays it,
// and the last events before it.
type Violation struct {
	// Seed replays the run.
	Seed int64
	// Invariant names the property that failed.
	Invariant string
	// Detail says how it failed.
	Detail string
	// Tick is when it failed.
	Tick int
	// Trace holds the last events of the run, oldest first.
	Trace []string
	// Visualization is the path of the HTML history, for a failed
	// linearizability check.
	Visualization string
}

// Error formats the violation with its trace.
func (v *Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rafttest: seed %d: invariant %q violated at tick %d: %s\n", v.Seed, v.Invariant, v.Tick, v.Detail)
	if v.Visualization != "" {
		fmt.Fprintf(&b, "history visualization: %s\n", v.Visualization)
	}
	fmt.Fprintf(&b, "last %d events:\n", len(v.Trace))
	for _, e := range v.Trace {
		b.WriteString("  " + e + "\n")
	}
	fmt.Fprintf(&b, "replay with: rafttest.Run(rafttest.Options{Seed: %d})", v.Seed)
	return b.String()
}

// runSource is the seeded source of randomness of a run's nodes, which
// they draw their randomized election timeouts from: raft.Config.Rand for
// the RawNode-based nodes, and an io.Reader of the same byte stream for
// nodes of an implementation that reads crypto/rand.Reader. A run has one,
// shared by its nodes and consumed in the order they draw. Uint64 reads
// eight bytes of the stream, little-endian, which is how raft turns the
// bytes of crypto/rand.Reader into a timeout; so runs replay the elections
// they had when Run substituted the process's crypto/rand.Reader with this
// stream, and every seed kept its trace.
type runSource struct{ r *rand.Rand }

func newRunSource(seed int64) *runSource {
	return &runSource{rand.New(rand.NewSource(seed ^ 0x5eed))}
}

// Read fills p with the stream's next bytes.
func (s *runSource) Read(p []byte) (int, error) { return s.r.Read(p) }

// Uint64 returns the stream's next eight bytes as a little-endian word.
func (s *runSource) Uint64() uint64 {
	var b [8]byte
	_, _ = s.r.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// Run simulates a cluster under the seed's faults and workload, checks the
// invariants as it goes and at the end, and returns the result. A
// violation is in Result.Violation; Run itself does not fail.
//
// A run shares no state with the rest of the process: its nodes draw
// their randomized election timeouts from a source seeded from the seed
// (NodeConfig.Rand), not from crypto/rand.Reader, so runs may go on
// concurrently, each on its own goroutine, and each replays as it would
// alone. Concurrent runs must not share what their Options hold: a Service
// has state (KV counts its writes), so give each run its own, as the
// default does, and a NodeFactory or hook must be safe to call from
// several runs at once.
func Run(opts Options) (res Result) {
	s := newSim(opts)
	defer func() {
		if p := recover(); p != nil {
			v, ok := p.(*Violation)
			if !ok {
				v = s.violation("no panic", fmt.Sprintf("node %d panicked: %v\n%s", s.cur, p, debug.Stack()))
			}
			s.res.Violation = v
		}
		s.countQuarantined()
		s.res.TraceHash = s.tr.h.Sum64()
		s.res.Events = s.tr.count
		s.res.Ticks = s.tick
		res = s.res
	}()
	s.run()
	s.finalChecks()
	s.checkHistory()
	return s.res
}

// simNode is a node slot of the cluster: its disk, and while it is up its
// Node and its volatile state.
type simNode struct {
	id   uint64
	disk *Disk
	node Node // nil while down
	gone bool // removed from the configuration and shut down for good
	inc  int  // incarnation, bumped at every crash

	rep     *replica
	applied uint64
	cs      pb.ConfState
	reads   []*op // ReadIndex requests waiting on this node
	// confChanged tells that a conf change was applied since the last
	// snapshot.
	confChanged bool
	// osc drives the node's ticks and clock (clock.go).
	osc oscillator
	// quarantined is whether the node's disk showed a quarantine at the
	// last watchQuarantines; fenceCue the tick at which its quarantine
	// got its cue, or 0, and fenceStall the tick since which its last
	// index and commit index stayed at fenceLast (the sum of every disk's
	// last index, see logsLength) and fenceCommit
	// (fence.go).
	quarantined            bool
	quarantineKind         raft.RegressionKind
	fenceCue, fenceStall   int
	fenceLast, fenceCommit uint64
}

func (n *simNode) up() bool { return n.node != nil }

// sim is one run.
type sim struct {
	opts Options
	sc   Scenario
	r    *rand.Rand
	src  *runSource // the nodes' election timeouts
	svc  Service
	fac  NodeFactory
	tr   *trace
	chk  *checker
	net  *network
	res  Result
	// cr draws the clock model's choices, apart from r.
	cr *rand.Rand
	// lr draws the disk faults' choices (Scenario.LoseTail and its
	// siblings), apart from r; nil until the first crash with one on.
	lr *rand.Rand
	// readProbes holds, by sequence number, the floor of each read probe
	// in flight (clock.go).
	readProbes   map[uint64]readProbe
	readProbeSeq uint64
	// phase is where in the current step the simulation is, under the
	// clock model: from 0 (its start) to 1 (its end); the node clocks read
	// it (clock.go).
	phase float64
	// bridge is the node that leaseCut left linked to the leader
	// bridgeOf, and bridgeBounce the steps until it bounces, or 0.
	bridge, bridgeOf uint64
	bridgeBounce     int
	// cutOut is the leader whose outgoing links leaseCut cuts in
	// cutOutAfter steps, or 0.
	cutOut      uint64
	cutOutAfter int

	tick   int
	clock  int64 // logical time of client calls and returns
	cur    uint64
	nodes  []*simNode // by ID; nodes[0] is unused
	faulty bool       // faults are on

	clients     []*client
	history     []opRecord
	probeClient int
	probeSeq    uint64
	probeDone   bool
	// probeDoneAt is the tick at which the liveness probe committed.
	probeDoneAt int
	// slowElection is set once the liveness check waits longer because a
	// quarantined voter slows elections (quarantineSlowsElections).
	slowElection bool

	nextSpare   uint64
	memberSince map[uint64]uint64 // node ID -> index of the first config containing it
}

func newSim(opts Options) *sim {
	r := rand.New(rand.NewSource(opts.Seed))
	sc := drawScenario(r, opts.Seed)
	cr := rand.New(rand.NewSource(opts.Seed ^ 0xc10c))
	drawClock(cr, &sc)
	if opts.Scenario != nil {
		opts.Scenario(&sc)
	}
	if opts.Service == nil {
		opts.Service = &KV{}
	}
	if opts.NewNode == nil {
		opts.NewNode = NewRawNode
	}
	if opts.TraceSize == 0 {
		opts.TraceSize = 60
	}
	if opts.LivenessTicks == 0 {
		opts.LivenessTicks = 100 * sc.ElectionTick
	}
	s := &sim{
		opts:        opts,
		sc:          sc,
		r:           r,
		src:         newRunSource(opts.Seed),
		cr:          cr,
		svc:         opts.Service,
		fac:         opts.NewNode,
		tr:          newTrace(opts.TraceSize),
		net:         newNetwork(sc.Nodes),
		faulty:      true,
		phase:       1,
		probeClient: sc.Clients,
		nextSpare:   uint64(sc.Voters + 1),
		memberSince: map[uint64]uint64{},
	}
	s.chk = newChecker(s)
	s.res.Seed = opts.Seed
	s.res.Scenario = sc
	s.net.jitter = sc.Jitter
	s.net.loss = sc.Loss
	s.net.dup = sc.Dup
	for i := 1; i <= sc.Nodes; i++ {
		for j := 1; j <= sc.Nodes; j++ {
			s.net.delay[i][j] = 1 + r.Intn(sc.MaxDelay)
		}
	}
	s.net.setBase()
	for i := 0; i < sc.Clients; i++ {
		s.clients = append(s.clients, &client{id: i})
	}

	// The initial voters share a snapshot at index 1 that holds the
	// configuration; the spares start empty.
	voters := make([]uint64, sc.Voters)
	for i := range voters {
		voters[i] = uint64(i + 1)
		s.memberSince[voters[i]] = 1
	}
	boot := pb.Snapshot{
		Data:     newReplica(s.svc).snapshot(),
		Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: voters}},
	}
	s.nodes = make([]*simNode, sc.Nodes+1)
	for i := 1; i <= sc.Nodes; i++ {
		n := &simNode{id: uint64(i), disk: NewDisk()}
		if i <= sc.Voters {
			if err := n.disk.ApplySnapshot(boot); err != nil {
				panic(err)
			}
			n.disk.SetHardState(pb.HardState{Term: 1, Commit: 1})
		}
		s.nodes[i] = n
	}
	s.chk.bootstrapped(boot)
	s.initClocks()
	return s
}

func (s *sim) event(node uint64, what string, a, b uint64, c string) {
	s.tr.add(event{tick: s.tick, node: node, what: what, a: a, b: b, c: c})
}

// violation builds a Violation at the current point of the run.
func (s *sim) violation(invariant, detail string) *Violation {
	return &Violation{
		Seed:      s.opts.Seed,
		Invariant: invariant,
		Detail:    detail,
		Tick:      s.tick,
		Trace:     s.tr.last(),
	}
}

// fail stops the run with a violation.
func (s *sim) fail(invariant, format string, args ...interface{}) {
	panic(s.violation(invariant, fmt.Sprintf(format, args...)))
}

func (s *sim) run() {
	for _, n := range s.nodes[1:] {
		s.restart(n)
	}
	healAt := s.sc.FaultTicks
	for s.tick = 0; ; s.tick++ {
		if s.tick == healAt {
			s.healAll()
		}
		if s.faulty {
			s.injectFaults()
			s.bounce()
		}
		s.deliver()
		if s.sc.clocked() {
			s.tickInPhase()
		} else {
			for _, n := range s.nodes[1:] {
				for k := s.ticksDue(n); k > 0 && n.up(); k-- {
					s.cur = n.id
					n.node.Tick()
				}
			}
		}
		if s.faulty {
			s.leaseCut()
			s.eagerCampaigns()
		}
		s.workload()
		s.probeReads()
		for _, n := range s.nodes[1:] {
			s.processReadies(n)
		}
		s.deliverWithinTick()
		if s.sc.diskFaults() {
			s.watchQuarantines()
		}
		if !s.faulty {
			if s.probeDone {
				if s.probeDoneAt == 0 {
					s.probeDoneAt = s.tick
					if s.slowElection {
						s.res.Faults.QuarantineSlow++
						s.res.Faults.QuarantineSlowTicks = s.tick - healAt
					}
				}
				if !s.sc.diskFaults() || s.fencesSettled() {
					return
				}
				s.driveFences()
				continue
			}
			if s.tick > healAt+s.opts.LivenessTicks {
				if s.quarantineBlocksQuorum() {
					// A quarantined voter counts as a failed one: with
					// another failure the configuration has no quorum, and
					// the library prefers that to divergence.
					s.res.Faults.QuarantineBlocked++
					s.event(0, "quarantine-blocks-quorum", 0, 0, s.describeNodes())
					return
				}
				if s.quarantineBlocksElection() {
					// No node can win an election while the quarantined
					// voters reject every vote, and without a leader no
					// quarantine ends.
					s.res.Faults.QuarantineUnelectable++
					s.event(0, "quarantine-blocks-election", 0, 0, s.describeNodes())
					return
				}
				if s.tick <= healAt+quarantineLivenessFactor*s.opts.LivenessTicks && s.quarantineSlowsElections() {
					// A quarantined voter leaves the others no spare one,
					// and Raft's elections are live only where round trips
					// are well below the election timeout: the drawn
					// delays are not, on every link. Wait longer.
					if !s.slowElection {
						s.slowElection = true
						s.event(0, "quarantine-slows-elections", 0, 0, s.describeNodes())
					}
					s.driveProbe()
					continue
				}
				s.fail("liveness", "%d ticks after the faults healed, no proposal has committed (%s)",
					s.tick-healAt, s.describeNodes())
			}
			s.driveProbe()
		}
	}
}

func (s *sim) describeNodes() string {
	var parts []string
	for _, n := range s.nodes[1:] {
		switch {
		case n.gone:
			parts = append(parts, fmt.Sprintf("%d:gone", n.id))
		case !n.up():
			parts = append(parts, fmt.Sprintf("%d:down", n.id))
		default:
			st := n.node.Status()
			q := ""
			if n.disk.quarantined() {
				q = "/quarantined"
			}
			parts = append(parts, fmt.Sprintf("%d:%s%s/t%d/lead%d/commit%d/applied%d/last%d/conf%v",
				n.id, st.Role, q, st.Term, st.Lead, st.Commit, n.applied, n.disk.LastIndex(), n.cs))
		}
	}
	return strings.Join(parts, " ")
}

func (s *sim) randomUpNode() *simNode {
	var up []*simNode
	for _, n := range s.nodes[1:] {
		if n.up() {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[s.r.Intn(len(up))]
}

// leader returns an up node that believes it leads, the one with the
// highest term if several do, or nil.
func (s *sim) leader() *simNode {
	var best *simNode
	var bestTerm uint64
	for _, n := range s.nodes[1:] {
		if !n.up() {
			continue
		}
		if st := n.node.Status(); st.Role == raft.StateLeader && st.Term > bestTerm {
			best, bestTerm = n, st.Term
		}
	}
	return best
}

// deliver steps every packet due by now into its destination.
func (s *sim) deliver() {
	for p := s.net.next(s.tick); p != nil; p = s.net.next(s.tick) {
		to := s.nodes[p.to]
		if !to.up() || s.net.cut[p.from][p.to] {
			s.res.Faults.Lost++
			s.event(p.to, "drop", p.from, uint64(p.typ), "")
			s.packetLost(p)
			continue
		}
		s.cur = to.id
		err := to.node.Step(p.data)
		s.event(p.to, "recv", p.from, uint64(p.typ), errString(err))
		if p.typ == pb.MsgSnap {
			s.res.Faults.Snapshots++
			if from := s.nodes[p.from]; from.up() {
				s.cur = from.id
				from.node.ReportSnapshot(p.to, true)
			}
		}
	}
}

// packetLost tells the sender about a lost snapshot, and now and then
// about an unreachable peer, as a transport would.
func (s *sim) packetLost(p *packet) {
	from := s.nodes[p.from]
	if !from.up() {
		return
	}
	s.cur = from.id
	if p.typ == pb.MsgSnap {
		from.node.ReportSnapshot(p.to, false)
	} else if s.r.Intn(8) == 0 {
		from.node.ReportUnreachable(p.to)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// processReadies handles a node's Updates until it has none.
func (s *sim) processReadies(n *simNode) {
	for i := 0; n.up(); i++ {
		if i > 1000 {
			s.fail("ready terminates", "node %d still has a Ready after %d rounds", n.id, i)
		}
		s.cur = n.id
		u, ok := n.node.Ready()
		if !ok {
			return
		}
		s.processReady(n, u)
	}
}

// Crash points inside the handling of a Ready.
const (
	crashNone          = iota
	crashBeforePersist // nothing of the Ready is on disk
	crashBeforeHard    // entries are on disk, the HardState is not
	crashBeforeSend    // all is on disk, no message left
	crashBeforeApply   // messages left, nothing applied
)

// processReady persists, sends and applies an Update, in the order of the
// Ready contract, possibly crashing in between.
func (s *sim) processReady(n *simNode, u Update) {
	cp := crashNone
	if s.faulty && s.r.Float64() < s.sc.ReadyCrash {
		cp = 1 + s.r.Intn(4)
		s.res.Faults.ReadyCrashes++
	}
	if cp == crashBeforePersist {
		s.crash(n, "before persist")
		return
	}

	// Persist. A snapshot goes with its HardState: a commit index below
	// the snapshot's would not make sense on restart.
	d := n.disk
	if !raft.IsEmptySnap(u.Snapshot) {
		if err := d.ApplySnapshot(u.Snapshot); err != nil {
			s.fail("storage accepts the Ready", "node %d: apply snapshot %d: %v", n.id, u.Snapshot.Metadata.Index, err)
		}
		s.event(n.id, "persist-snap", u.Snapshot.Metadata.Index, u.Snapshot.Metadata.Term, "")
		s.chk.persistedSnapshot(n, u.Snapshot)
		if cp == crashBeforeHard {
			cp = crashBeforeSend
		}
	}
	if len(u.Entries) > 0 {
		if err := d.Append(u.Entries); err != nil {
			s.fail("storage accepts the Ready", "node %d: append [%d, %d]: %v",
				n.id, u.Entries[0].Index, u.Entries[len(u.Entries)-1].Index, err)
		}
		last := u.Entries[len(u.Entries)-1]
		s.event(n.id, "persist-ents", u.Entries[0].Index, last.Index, fmt.Sprintf("term=%d", last.Term))
		s.chk.persistedEntries(n, u.Entries)
	}
	if cp == crashBeforeHard {
		s.crash(n, "before hardstate")
		return
	}
	if !raft.IsEmptyHardState(u.HardState) {
		d.SetHardState(u.HardState)
		hs := u.HardState
		s.event(n.id, "persist-hs", hs.Term, hs.Commit, fmt.Sprintf("vote=%d", hs.Vote))
		s.chk.persistedHardState(n, hs)
	}
	if cp == crashBeforeSend {
		s.crash(n, "before send")
		return
	}

	// Send.
	for i := range u.Messages {
		s.send(n, u.Messages[i])
	}
	if cp == crashBeforeApply {
		s.crash(n, "before apply")
		return
	}

	// Apply.
	if !raft.IsEmptySnap(u.Snapshot) {
		s.applySnapshot(n, u.Snapshot)
	}
	for _, e := range u.CommittedEntries {
		s.applyEntry(n, e)
		if !n.up() {
			return
		}
	}
	for _, rs := range u.ReadStates {
		s.readState(n, rs)
	}
	n.node.Advance()
	s.serveReads(n)
	s.maybeCompact(n)
	s.chk.checkLeader(n)
}

// send marshals m and puts it on the network.
func (s *sim) send(n *simNode, m pb.Message) {
	if m.To == 0 || m.To >= uint64(len(s.nodes)) {
		s.event(n.id, "send-nowhere", m.To, uint64(m.Type), "")
		return
	}
	if s.opts.Tamper != nil {
		before := m.Term
		s.opts.Tamper(s.r, &m)
		if m.Term != before {
			s.res.Faults.Tampered++
		}
	}
	data, err := m.Marshal()
	if err != nil {
		s.fail("messages marshal", "node %d: marshal %s: %v", n.id, m.Type, err)
	}
	copies := s.net.send(s.r, s.tick, m.From, m.To, m.Type, data)
	s.event(n.id, "send", m.To, uint64(m.Type), fmt.Sprintf("term=%d idx=%d logterm=%d commit=%d n=%d rej=%t",
		m.Term, m.Index, m.LogTerm, m.Commit, len(m.Entries), m.Reject))
	switch copies {
	case 0:
		s.res.Faults.Lost++
		s.packetLost(&packet{from: m.From, to: m.To, typ: m.Type})
	case 2:
		s.res.Faults.Duplicated++
	}
}

// applySnapshot installs a snapshot into the node's state machine.
func (s *sim) applySnapshot(n *simNode, snap pb.Snapshot) {
	idx := snap.Metadata.Index
	if idx <= n.applied {
		s.fail("state machine safety", "node %d installs snapshot %d at or below its applied index %d", n.id, idx, n.applied)
	}
	if err := n.rep.restore(s.svc, snap.Data); err != nil {
		s.fail("snapshot restores", "node %d cannot restore snapshot %d: %v", n.id, idx, err)
	}
	n.applied = idx
	n.cs = snap.Metadata.ConfState
	s.event(n.id, "apply-snap", idx, snap.Metadata.Term, "")
}

// applyEntry applies a committed entry to the node's state machine.
func (s *sim) applyEntry(n *simNode, e pb.Entry) {
	s.chk.applied(n, e)
	n.applied = e.Index
	switch e.Type {
	case pb.EntryNormal:
		env, ok := decodeEnvelope(e.Data)
		if !ok {
			return
		}
		res, fresh := n.rep.apply(env, s.probeClient)
		s.event(n.id, "apply", e.Index, e.Term, fmt.Sprintf("c%d.%d fresh=%t", env.client, env.seq, fresh))
		if env.client == s.probeClient {
			if fresh {
				s.probeDone = true
			}
			return
		}
		c := s.clients[env.client]
		if o := c.pending; fresh && o != nil && o.seq == env.seq && !o.viaReadIndex && o.node == n.id && o.inc == n.inc {
			s.complete(c, res)
		}
	case pb.EntryConfChange, pb.EntryConfChangeV2:
		var cc pb.ConfChangeI
		if e.Type == pb.EntryConfChange {
			var c1 pb.ConfChange
			if err := c1.Unmarshal(e.Data); err != nil {
				s.fail("entries decode", "node %d: conf change at %d: %v", n.id, e.Index, err)
			}
			cc = c1
		} else {
			var c2 pb.ConfChangeV2
			if err := c2.Unmarshal(e.Data); err != nil {
				s.fail("entries decode", "node %d: conf change at %d: %v", n.id, e.Index, err)
			}
			cc = c2
		}
		n.cs = n.node.ApplyConfChange(cc.AsV2())
		s.chk.appliedConfChange(n, e.Index, n.cs)
		n.confChanged = true
		s.event(n.id, "apply-conf", e.Index, e.Term, n.cs.String())
		s.membershipChanged(e.Index, n.cs)
	}
}

// membershipChanged notes new members, and shuts down for good the nodes
// that a committed configuration removed. Node IDs are never reused, so a
// removal is final.
func (s *sim) membershipChanged(index uint64, cs pb.ConfState) {
	in := map[uint64]bool{}
	for _, ids := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, id := range ids {
			in[id] = true
			if since, ok := s.memberSince[id]; !ok || index < since {
				s.memberSince[id] = index
			}
		}
	}
	for _, n := range s.nodes[1:] {
		since, ok := s.memberSince[n.id]
		if n.gone || !ok || since >= index || in[n.id] {
			continue
		}
		s.event(n.id, "removed", index, 0, "")
		n.gone = true
		if n.up() {
			n.node = nil
			n.rep = nil
			n.reads = nil
			n.inc++
		}
	}
}

// maybeCompact snapshots the node's state and compacts its log once enough
// entries were applied since the last snapshot, and after every conf
// change: raft refuses a snapshot whose configuration does not contain the
// receiver, so a leader must not offer a new member a snapshot from before
// it joined. (etcd's server gets the same effect by building a fresh
// snapshot for each MsgSnap.)
func (s *sim) maybeCompact(n *simNode) {
	if !n.up() {
		return
	}
	snapIdx := n.disk.Snapshot().Metadata.Index
	if n.applied < snapIdx+s.sc.CompactEvery && !(n.confChanged && n.applied > snapIdx) {
		return
	}
	n.confChanged = false
	s.chk.snapshotConf(n, "made a snapshot", n.applied, n.cs)
	var to uint64
	if n.applied > snapIdx+s.sc.CompactKeep {
		to = n.applied - s.sc.CompactKeep
	}
	if err := n.disk.Compact(n.applied, n.cs, n.rep.snapshot(), to); err != nil {
		s.fail("storage compacts", "node %d: snapshot at %d, compact to %d: %v", n.id, n.applied, to, err)
	}
	s.event(n.id, "compact", n.applied, to, "")
}

// driveProbe proposes, once the faults healed, a command on the leader
// until one commits: the liveness check.
func (s *sim) driveProbe() {
	ld := s.leader()
	if ld == nil {
		return
	}
	if s.tick%s.sc.ElectionTick != 0 {
		return
	}
	s.probeSeq++
	s.cur = ld.id
	err := ld.node.Propose(encodeEnvelope(envelope{client: s.probeClient, seq: s.probeSeq}))
	s.event(ld.id, "probe", s.probeSeq, 0, errString(err))
}
