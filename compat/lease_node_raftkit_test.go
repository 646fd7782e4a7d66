package compat

// This file is the template of lease_node_etcd_test.go: lease_gen.sh
// derives that one by changing the library's imports, the names (kit
// becomes etcd) and dropping the lines marked "raftkit only" (the lease's
// clock, which etcd raft does not have). Edit this file, then run
// lease_gen.sh.

import (
	"time"

	raft "github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// kitLeaseNode is a node of the library in ReadOnlyLeaseBased; a raftkit
// node's lease is bounded by the script's clock.
type kitLeaseNode struct {
	id    uint64
	s     *raft.MemoryStorage
	rn    *raft.RawNode
	clock func() time.Time
}

func newKitLeaseNode(id uint64, clock func() time.Time) *kitLeaseNode {
	s := raft.NewMemoryStorage()
	if err := s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1,
		ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}); err != nil {
		panic(err)
	}
	n := &kitLeaseNode{id: id, s: s, clock: clock}
	n.restart()
	return n
}

func (n *kitLeaseNode) restart() {
	c := &raft.Config{ID: n.id, ElectionTick: 10, HeartbeatTick: 1, Storage: n.s,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, CheckQuorum: true,
		ReadOnlyOption: raft.ReadOnlyLeaseBased, Logger: rafttest.QuietLogger{}}
	c.TickInterval, c.Clock = leaseTickInterval, n.clock // raftkit only
	rn, err := raft.NewRawNode(c)
	if err != nil {
		panic(err)
	}
	n.rn = rn
}

func (n *kitLeaseNode) tick() { n.rn.Tick() }
func (n *kitLeaseNode) step(data []byte) {
	var m pb.Message
	if err := m.Unmarshal(data); err != nil {
		panic(err)
	}
	_ = n.rn.Step(m)
}
func (n *kitLeaseNode) ready() (out []leaseWire, reads []uint64) {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !raft.IsEmptyHardState(rd.HardState) {
			_ = n.s.SetHardState(rd.HardState)
		}
		_ = n.s.Append(rd.Entries)
		for _, e := range rd.CommittedEntries {
			if e.Type == pb.EntryConfChange {
				var cc pb.ConfChange
				_ = cc.Unmarshal(e.Data)
				n.rn.ApplyConfChange(cc)
			}
		}
		for _, m := range rd.Messages {
			data, err := m.Marshal()
			if err != nil {
				panic(err)
			}
			out = append(out, leaseWire{from: m.From, to: m.To, typ: int32(m.Type), data: data})
		}
		for _, rs := range rd.ReadStates {
			reads = append(reads, rs.Index)
		}
		n.rn.Advance(rd)
	}
	return out, reads
}
func (n *kitLeaseNode) readIndex()         { n.rn.ReadIndex([]byte("read")) }
func (n *kitLeaseNode) transfer(to uint64) { n.rn.TransferLeader(to) }
func (n *kitLeaseNode) campaign()          { _ = n.rn.Campaign() }
func (n *kitLeaseNode) propose() error     { return n.rn.Propose([]byte("write")) }
func (n *kitLeaseNode) leader() bool       { return n.rn.Status().RaftState == raft.StateLeader }
func (n *kitLeaseNode) commit() uint64     { return n.rn.Status().Commit }
func (n *kitLeaseNode) voters() string     { return n.rn.Status().Config.Voters.String() }
func (n *kitLeaseNode) confChange(add bool, id uint64) error {
	cc := pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: id}
	if add {
		cc.Type = pb.ConfChangeAddNode
	}
	return n.rn.ProposeConfChange(cc)
}
