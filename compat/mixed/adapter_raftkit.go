package mixed

// This file is the template of adapter_etcd.go: gen.sh derives that one by
// pointing the raft and pb imports at etcd raft. The two adapters are the
// same code against the two libraries' identical API, so that neither kind
// of node gets a gentler treatment than the other. The simulator's side
// (simraft, simpb, rafttest) is this library in both files.

//lint:file-ignore ST1019 raft and simraft (pb and simpb) are one package here and two in adapter_etcd.go.

import (
	"errors"

	raft "github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"

	simraft "github.com/raftkit/raft"
	simpb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// kitStorage is the library's raft.Storage over a simulator Disk. Every
// value crosses from the disk's types to the library's through the wire
// encoding.
type kitStorage struct{ d *rafttest.Disk }

// kitErr maps the disk's storage errors to the library's own values, which
// raft compares by identity.
func kitErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, simraft.ErrCompacted):
		return raft.ErrCompacted
	case errors.Is(err, simraft.ErrUnavailable):
		return raft.ErrUnavailable
	case errors.Is(err, simraft.ErrSnapshotTemporarilyUnavailable):
		return raft.ErrSnapshotTemporarilyUnavailable
	}
	return err
}

func (s kitStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	hs, cs, err := s.d.Storage().InitialState()
	if err != nil {
		return pb.HardState{}, pb.ConfState{}, kitErr(err)
	}
	var h pb.HardState
	var c pb.ConfState
	convert(&h, &hs)
	convert(&c, &cs)
	return h, c, nil
}

func (s kitStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	ents, err := s.d.Storage().Entries(lo, hi, maxSize)
	if err != nil {
		return nil, kitErr(err)
	}
	out := make([]pb.Entry, len(ents))
	for i := range ents {
		convert(&out[i], &ents[i])
	}
	return out, nil
}

func (s kitStorage) Term(i uint64) (uint64, error) {
	t, err := s.d.Storage().Term(i)
	return t, kitErr(err)
}

func (s kitStorage) LastIndex() (uint64, error) {
	i, err := s.d.Storage().LastIndex()
	return i, kitErr(err)
}

func (s kitStorage) FirstIndex() (uint64, error) {
	i, err := s.d.Storage().FirstIndex()
	return i, kitErr(err)
}

func (s kitStorage) Snapshot() (pb.Snapshot, error) {
	snap, err := s.d.Storage().Snapshot()
	if err != nil {
		return pb.Snapshot{}, kitErr(err)
	}
	var out pb.Snapshot
	convert(&out, &snap)
	return out, nil
}

// newKitNode builds a node of the library over cfg.Disk.
func newKitNode(cfg rafttest.NodeConfig, x Extra) (rafttest.Node, error) {
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTick,
		HeartbeatTick:             cfg.HeartbeatTick,
		Storage:                   kitStorage{cfg.Disk},
		Applied:                   cfg.Applied,
		MaxSizePerMsg:             cfg.MaxSizePerMsg,
		MaxCommittedSizePerReady:  committedSizePerReady(cfg),
		MaxInflightMsgs:           cfg.MaxInflightMsgs,
		MaxUncommittedEntriesSize: x.MaxUncommittedEntriesSize,
		CheckQuorum:               cfg.CheckQuorum,
		PreVote:                   cfg.PreVote,
		ReadOnlyOption:            raft.ReadOnlyOption(cfg.ReadOnlyOption),
		StepDownOnRemoval:         cfg.StepDownOnRemoval,
		AsyncStorageWrites:        cfg.AsyncStorageWrites,
		Logger:                    rafttest.QuietLogger{},
	})
	if err != nil {
		return nil, err
	}
	return &kitNode{id: cfg.ID, rn: rn, async: cfg.AsyncStorageWrites}, nil
}

// kitNode adapts the library's RawNode to rafttest.Node. Messages cross
// marshaled with one library's raftpb and unmarshaled with the other's.
type kitNode struct {
	id    uint64
	rn    *raft.RawNode
	async bool
	// local holds, in asynchronous mode, the storage threads' responses
	// to this node, stepped on Advance.
	local []pb.Message
}

func (n *kitNode) Tick() { n.rn.Tick() }

func (n *kitNode) Step(data []byte) error {
	var m pb.Message
	if err := m.Unmarshal(data); err != nil {
		return err
	}
	return n.rn.Step(m)
}

func (n *kitNode) Ready() (rafttest.Update, bool) {
	if !n.rn.HasReady() {
		return rafttest.Update{}, false
	}
	rd := n.rn.Ready()
	u := rafttest.Update{ReadStates: kitReadStates(rd.ReadStates)}
	if n.async {
		n.asyncUpdate(&u, rd.Messages)
		return u, true
	}
	convert(&u.HardState, &rd.HardState)
	u.Entries = kitEntries(rd.Entries)
	if !raft.IsEmptySnap(rd.Snapshot) {
		convert(&u.Snapshot, &rd.Snapshot)
	}
	u.CommittedEntries = kitEntries(rd.CommittedEntries)
	for i := range rd.Messages {
		u.Messages = append(u.Messages, kitMessage(&rd.Messages[i]))
	}
	u.MustSync = rd.MustSync
	return u, true
}

// asyncUpdate turns the storage-thread messages of an asynchronous-mode
// Ready into an Update: the simulator does the threads' work, and their
// responses go to peers with the Update and to this node on Advance.
func (n *kitNode) asyncUpdate(u *rafttest.Update, msgs []pb.Message) {
	for i := range msgs {
		m := &msgs[i]
		switch m.To {
		case raft.LocalAppendThread:
			if m.Term != 0 || m.Vote != 0 || m.Commit != 0 {
				u.HardState = simpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
			}
			u.Entries = kitEntries(m.Entries)
			if m.Snapshot != nil {
				convert(&u.Snapshot, m.Snapshot)
			}
			u.MustSync = true
			n.route(u, m.Responses)
		case raft.LocalApplyThread:
			u.CommittedEntries = kitEntries(m.Entries)
			n.route(u, m.Responses)
		default:
			u.Messages = append(u.Messages, kitMessage(m))
		}
	}
}

func (n *kitNode) route(u *rafttest.Update, resps []pb.Message) {
	for i := range resps {
		if resps[i].To == n.id {
			n.local = append(n.local, resps[i])
		} else {
			u.Messages = append(u.Messages, kitMessage(&resps[i]))
		}
	}
}

func (n *kitNode) Advance() {
	if !n.async {
		n.rn.Advance(raft.Ready{})
		return
	}
	local := n.local
	n.local = nil
	for _, m := range local {
		_ = n.rn.Step(m)
	}
}

func (n *kitNode) Propose(data []byte) error   { return n.rn.Propose(data) }
func (n *kitNode) ReadIndex(rctx []byte)       { n.rn.ReadIndex(rctx) }
func (n *kitNode) TransferLeader(to uint64)    { n.rn.TransferLeader(to) }
func (n *kitNode) Campaign() error             { return n.rn.Campaign() }
func (n *kitNode) ReportUnreachable(id uint64) { n.rn.ReportUnreachable(id) }

func (n *kitNode) ProposeConfChange(cc simpb.ConfChangeI) error {
	switch c := cc.(type) {
	case simpb.ConfChange:
		var v pb.ConfChange
		convert(&v, &c)
		return n.rn.ProposeConfChange(v)
	case *simpb.ConfChange:
		var v pb.ConfChange
		convert(&v, c)
		return n.rn.ProposeConfChange(v)
	case simpb.ConfChangeV2:
		var v pb.ConfChangeV2
		convert(&v, &c)
		return n.rn.ProposeConfChange(v)
	case *simpb.ConfChangeV2:
		var v pb.ConfChangeV2
		convert(&v, c)
		return n.rn.ProposeConfChange(v)
	}
	return errUnknownConfChange
}

func (n *kitNode) ApplyConfChange(cc simpb.ConfChangeV2) simpb.ConfState {
	var v pb.ConfChangeV2
	convert(&v, &cc)
	cs := n.rn.ApplyConfChange(v)
	var out simpb.ConfState
	convert(&out, cs)
	return out
}

func (n *kitNode) ReportSnapshot(id uint64, ok bool) {
	st := raft.SnapshotFinish
	if !ok {
		st = raft.SnapshotFailure
	}
	n.rn.ReportSnapshot(id, st)
}

func (n *kitNode) Status() rafttest.Status {
	s := n.rn.BasicStatus()
	return rafttest.Status{
		ID:      s.ID,
		Term:    s.Term,
		Vote:    s.Vote,
		Commit:  s.Commit,
		Lead:    s.Lead,
		Role:    simraft.StateType(s.RaftState),
		Applied: s.Applied,
	}
}

func kitEntries(ents []pb.Entry) []simpb.Entry {
	if len(ents) == 0 {
		return nil
	}
	out := make([]simpb.Entry, len(ents))
	for i := range ents {
		convert(&out[i], &ents[i])
	}
	return out
}

func kitMessage(m *pb.Message) simpb.Message {
	var out simpb.Message
	convert(&out, m)
	return out
}

func kitReadStates(rss []raft.ReadState) []simraft.ReadState {
	if len(rss) == 0 {
		return nil
	}
	out := make([]simraft.ReadState, len(rss))
	for i, rs := range rss {
		out[i] = simraft.ReadState{Index: rs.Index, RequestCtx: rs.RequestCtx}
	}
	return out
}
