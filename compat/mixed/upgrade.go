package mixed

import (
	"fmt"

	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// Upgrade is a rolling upgrade of a running cluster, and its roll-back:
// every node starts as From; node id is stopped and restarted as To over
// its own disk once it has ticked Start+(id-1)*Gap times, and back as From
// at Start+(Nodes+id-1)*Gap ticks, one node at a time. The simulator's
// workload and faults go on meanwhile, and a node that crashes restarts as
// the kind its schedule says.
//
// The restart keeps the node's state machine, as a server whose state
// machine is itself durable (etcd's backend, say) does: the new node
// starts from the disk's hard state, snapshot and entries with Applied at
// the snapshot, and the entries it hands out again up to what the state
// machine already applied are withheld from the simulator, their
// membership changes applied to the new node, as such a server does.
type Upgrade struct {
	// From and To are the kinds before and during the upgrade.
	From, To Kind
	// Nodes is the number of node IDs scheduled (1..Nodes).
	Nodes int
	// Start and Gap place the schedule, in the node's own ticks.
	Start, Gap int
	// Extra holds options for every node.
	Extra Extra

	// Cluster counts what the nodes did; its KindOf is the schedule.
	Cluster Cluster
	// Swaps lists the replacements done, in order.
	Swaps []string

	ticks   map[uint64]int
	swapped map[uint64]int
}

// End is the tick count by which every node was rolled back.
func (u *Upgrade) End() int { return u.Start + 2*u.Nodes*u.Gap }

// kindAt is the kind node id runs after ticks of its own.
func (u *Upgrade) kindAt(id uint64, ticks int) Kind {
	if id < 1 || int(id) > u.Nodes {
		return u.From
	}
	up := u.Start + (int(id)-1)*u.Gap
	down := u.Start + (u.Nodes+int(id)-1)*u.Gap
	if ticks >= up && ticks < down {
		return u.To
	}
	return u.From
}

// SwapsOf returns how many times node id was replaced.
func (u *Upgrade) SwapsOf(id uint64) int { return u.swapped[id] }

// Factory returns the NodeFactory to hand rafttest.Run.
func (u *Upgrade) Factory() rafttest.NodeFactory {
	u.ticks = map[uint64]int{}
	u.swapped = map[uint64]int{}
	u.Cluster.Extra = u.Extra
	u.Cluster.KindOf = func(id uint64) Kind { return u.kindAt(id, u.ticks[id]) }
	inner := u.Cluster.Factory()
	return func(cfg rafttest.NodeConfig) (rafttest.Node, error) {
		n, err := inner(cfg)
		if err != nil {
			return nil, err
		}
		return &swapNode{
			Node:    n,
			u:       u,
			cfg:     cfg,
			kind:    u.Cluster.KindOf(cfg.ID),
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
	n.u.ticks[n.cfg.ID]++
	if want := n.u.Cluster.KindOf(n.cfg.ID); want != n.kind {
		n.swap(want)
	}
	n.Node.Tick()
}

func (n *swapNode) swap(to Kind) {
	cfg := n.cfg
	cfg.Applied = cfg.Disk.Snapshot().Metadata.Index
	if cfg.Applied > n.applied {
		panic(fmt.Sprintf("mixed: node %d: disk snapshot %d beyond the applied index %d", cfg.ID, cfg.Applied, n.applied))
	}
	node, err := n.u.Cluster.Factory()(cfg)
	if err != nil {
		panic(fmt.Sprintf("mixed: node %d cannot restart as %s over its disk: %v", cfg.ID, to, err))
	}
	n.u.Swaps = append(n.u.Swaps, fmt.Sprintf("node %d at its tick %d: %s -> %s (disk: hs %v, snapshot %d, last %d; applied %d)",
		cfg.ID, n.u.ticks[cfg.ID], n.kind, to, cfg.Disk.HardState(), cfg.Applied, cfg.Disk.LastIndex(), n.applied))
	n.u.swapped[cfg.ID]++
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
