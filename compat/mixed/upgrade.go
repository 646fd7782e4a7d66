package mixed

import (
	"fmt"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// Upgrade is a rolling upgrade of a running cluster, and its roll-back:
// every node starts as From; at tick Start node 1 is stopped and
// restarted as To over its own disk, Gap ticks later node 2, and so on,
// then node 1 is rolled back to From, and so on, one node at a time. A
// node that is down when its turn comes is replaced when it restarts, and
// the next step waits Gap ticks after that. The simulator's workload and
// faults go on meanwhile, and a node that crashes restarts as the kind
// the upgrade reached for it.
//
// A live replacement keeps the node's state machine, as a server whose
// state machine is itself durable (etcd's backend, say) does: the new node
// starts from the disk's hard state, snapshot and entries with Applied at
// the snapshot, and the entries it hands out again up to what the state
// machine already applied are withheld from the simulator, their
// membership changes applied to the new node, as such a server does.
type Upgrade struct {
	// From and To are the kinds before and during the upgrade.
	From, To Kind
	// Nodes is the number of node IDs upgraded (1..Nodes).
	Nodes int
	// Start and Gap place the schedule, in simulator ticks.
	Start, Gap int
	// Extra holds options for every node.
	Extra Extra

	// Cluster counts what the nodes did; its KindOf is where the upgrade
	// is.
	Cluster Cluster
	// Swaps lists the replacements done, in order.
	Swaps []string

	clock, lastID int
	step, nextAt  int
	kinds         map[uint64]Kind
	changes       map[uint64]int
}

// Done tells whether every node was upgraded and rolled back.
func (u *Upgrade) Done() bool { return u.step == 2*u.Nodes }

// ChangesOf returns how many times node id changed library.
func (u *Upgrade) ChangesOf(id uint64) int { return u.changes[id] }

// KindOf returns the kind node id runs now.
func (u *Upgrade) KindOf(id uint64) Kind {
	if k, ok := u.kinds[id]; ok {
		return k
	}
	return u.From
}

// tick advances the upgrade's clock as node id ticks: the simulator ticks
// the up nodes in ID order, so a tick of a node at or below the last one
// ticked starts a new simulator tick.
func (u *Upgrade) tick(id uint64) {
	if int(id) <= u.lastID {
		u.clock++
	}
	u.lastID = int(id)
}

// due returns the node whose replacement is due now, or 0.
func (u *Upgrade) due() uint64 {
	if u.Done() || u.clock < u.nextAt {
		return 0
	}
	return uint64(u.step%u.Nodes + 1)
}

// advance records that node id is replaced now and returns its new kind.
func (u *Upgrade) advance(id uint64, how string) Kind {
	from := u.KindOf(id)
	to := u.To
	if u.step >= u.Nodes {
		to = u.From
	}
	u.kinds[id] = to
	u.changes[id]++
	u.step++
	u.nextAt = u.clock + u.Gap
	u.Swaps = append(u.Swaps, fmt.Sprintf("tick %d: node %d %s -> %s %s", u.clock, id, from, to, how))
	return to
}

// Factory returns the NodeFactory to hand Run.
func (u *Upgrade) Factory() rafttest.NodeFactory {
	u.kinds = map[uint64]Kind{}
	u.changes = map[uint64]int{}
	u.nextAt = u.Start
	u.Cluster.Extra = u.Extra
	u.Cluster.KindOf = u.KindOf
	inner := u.Cluster.Factory()
	return func(cfg rafttest.NodeConfig) (rafttest.Node, error) {
		if id := u.due(); id == cfg.ID {
			hs := cfg.Disk.HardState()
			u.advance(id, fmt.Sprintf("at its restart (disk: hs %d/%d/%d, snapshot %d, last %d)",
				hs.Term, hs.Vote, hs.Commit, cfg.Disk.Snapshot().Metadata.Index, cfg.Disk.LastIndex()))
		}
		n, err := inner(cfg)
		if err != nil {
			return nil, err
		}
		return &swapNode{
			Node:    n,
			u:       u,
			cfg:     cfg,
			kind:    u.KindOf(cfg.ID),
			applied: cfg.Applied,
		}, nil
	}
}

// swapNode is a node whose library the upgrade replaces between ticks.
type swapNode struct {
	rafttest.Node
	u    *Upgrade
	cfg  rafttest.NodeConfig
	kind Kind

	// applied is the index the state machine reached: the last entry or
	// snapshot of an Update that was advanced.
	applied, pending uint64
	// skipTo is the last index that the current library will hand out
	// again after a replacement and that the state machine already has.
	skipTo uint64
}

// Tick replaces the node when its schedule says so, and ticks it. The
// simulator ticks a node only after it handled all its Updates, so the
// old node has nothing persisted that was not processed: the replacement
// is a clean stop and start.
func (n *swapNode) Tick() {
	n.u.tick(n.cfg.ID)
	if n.u.due() == n.cfg.ID {
		n.swap()
	}
	n.Node.Tick()
}

func (n *swapNode) swap() {
	cfg := n.cfg
	cfg.Applied = cfg.Disk.Snapshot().Metadata.Index
	if cfg.Applied > n.applied {
		panic(fmt.Sprintf("mixed: node %d: disk snapshot %d beyond the applied index %d", cfg.ID, cfg.Applied, n.applied))
	}
	hs := cfg.Disk.HardState()
	to := n.u.advance(cfg.ID, fmt.Sprintf("live (disk: hs %d/%d/%d, snapshot %d, last %d; state machine at %d)",
		hs.Term, hs.Vote, hs.Commit, cfg.Applied, cfg.Disk.LastIndex(), n.applied))
	node, err := n.u.Cluster.Factory()(cfg)
	if err != nil {
		panic(fmt.Sprintf("mixed: node %d cannot restart as %s over its disk: %v", cfg.ID, to, err))
	}
	n.u.Cluster.Stats.Swaps++
	n.Node, n.kind, n.skipTo = node, to, n.applied
}

func (n *swapNode) Ready() (rafttest.Update, bool) {
	u, ok := n.Node.Ready()
	if !ok {
		return u, false
	}
	if len(u.CommittedEntries) > 0 && u.CommittedEntries[0].Index <= n.skipTo {
		kept := u.CommittedEntries[:0:0]
		for _, e := range u.CommittedEntries {
			if e.Index > n.skipTo {
				kept = append(kept, e)
				continue
			}
			if e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2 {
				cc, err := decodeConfChange(e)
				if err != nil {
					panic(fmt.Sprintf("mixed: node %d: conf change at %d: %v", n.cfg.ID, e.Index, err))
				}
				n.Node.ApplyConfChange(cc)
			}
		}
		u.CommittedEntries = kept
	}
	n.pending = 0
	if u.Snapshot.Metadata.Index > 0 {
		n.pending = u.Snapshot.Metadata.Index
	}
	if k := len(u.CommittedEntries); k > 0 && u.CommittedEntries[k-1].Index > n.pending {
		n.pending = u.CommittedEntries[k-1].Index
	}
	return u, true
}

func (n *swapNode) Advance() {
	n.Node.Advance()
	if n.pending > n.applied {
		n.applied = n.pending
	}
}
