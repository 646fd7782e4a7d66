package multihost

import (
	"fmt"
	"io"
	"log"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcd "go.etcd.io/raft/v3"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// etcdNode is a stock etcd raft RawNode behind a plain endpoint.
type etcdNode struct {
	id      multiraft.HostID
	group   multiraft.GroupID
	net     *multiraft.MemNetwork
	rn      *etcd.RawNode
	ms      *etcd.MemoryStorage
	inbox   [][]byte
	applied []string
	reads   []etcd.ReadState
}

func (n *etcdNode) deliver(from multiraft.HostID, g multiraft.GroupID, b []byte) {
	if g == n.group {
		n.inbox = append(n.inbox, b)
	}
}

func (n *etcdNode) step(t *testing.T, tick bool) {
	for _, b := range n.inbox {
		var m etcdpb.Message
		require.NoError(t, m.Unmarshal(b), "etcd raft decodes what a host sends")
		_ = n.rn.Step(m)
	}
	n.inbox = nil
	if tick {
		n.rn.Tick()
	}
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !etcd.IsEmptyHardState(rd.HardState) {
			require.NoError(t, n.ms.SetHardState(rd.HardState))
		}
		require.NoError(t, n.ms.Append(rd.Entries))
		for _, m := range rd.Messages {
			b, err := m.Marshal()
			require.NoError(t, err)
			var km pb.Message
			require.NoError(t, km.Unmarshal(b), "raftkit decodes what etcd raft sends")
			n.net.SendPlain(n.id, multiraft.HostID(m.To), n.group, km)
		}
		n.reads = append(n.reads, rd.ReadStates...)
		for _, e := range rd.CommittedEntries {
			switch e.Type {
			case etcdpb.EntryNormal:
				if len(e.Data) > 0 {
					n.applied = append(n.applied, string(e.Data))
				}
			case etcdpb.EntryConfChange:
				var cc etcdpb.ConfChange
				require.NoError(t, cc.Unmarshal(e.Data))
				n.rn.ApplyConfChange(cc)
			}
		}
		n.rn.Advance(rd)
	}
}

type mixed struct {
	t     *testing.T
	net   *multiraft.MemNetwork
	hosts map[multiraft.HostID]*multiraft.Host
	node  *etcdNode

	mu      sync.Mutex
	applied map[multiraft.HostID][]string
	reads   map[multiraft.HostID][]raft.ReadState
}

// newMixed builds one group of three voters: replicas 1 and 2 on
// multiraft hosts 1 and 2, replica 3 a stock etcd raft node. The hosts
// also share 20 more groups among themselves (with the etcd node's replica
// never started), so that coalescing between them has company.
func newMixed(t *testing.T, quiescence bool) *mixed {
	x := &mixed{t: t, net: multiraft.NewMemNetwork(), hosts: map[multiraft.HostID]*multiraft.Host{},
		applied: map[multiraft.HostID][]string{}, reads: map[multiraft.HostID][]raft.ReadState{}}
	x.net.Strict = true
	ms := etcd.NewMemoryStorage()
	quiet := &etcd.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	rn, err := etcd.NewRawNode(&etcd.Config{ID: 3, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, rn.Bootstrap([]etcd.Peer{{ID: 1}, {ID: 2}, {ID: 3}}))
	x.node = &etcdNode{id: 3, group: 1, net: x.net, rn: rn, ms: ms}
	x.net.AddPlain(3, x.node.deliver)
	for id := multiraft.HostID(1); id <= 2; id++ {
		id := id
		h, err := multiraft.NewHost(multiraft.HostConfig{ID: id, Epoch: 1, Transport: x.net.Transport(id),
			LogStore: multiraft.NewMemoryLogStore(), Seed: int64(id), Logger: quiet, Quiescence: quiescence,
			Apply: func(g multiraft.GroupID, ents []pb.Entry) {
				if g != 1 {
					return
				}
				x.mu.Lock()
				defer x.mu.Unlock()
				for _, e := range ents {
					if e.Type == pb.EntryNormal && len(e.Data) > 0 {
						x.applied[id] = append(x.applied[id], string(e.Data))
					}
				}
			},
			ReadStates: func(g multiraft.GroupID, rs []raft.ReadState) {
				x.mu.Lock()
				defer x.mu.Unlock()
				x.reads[id] = append(x.reads[id], rs...)
			}})
		require.NoError(t, err)
		for g := multiraft.GroupID(1); g <= 21; g++ {
			gc := multiraft.GroupConfig{ID: g, Raft: raft.Config{ID: uint64(id), ElectionTick: 10, HeartbeatTick: 1,
				MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true, Logger: quiet},
				Replicas: map[uint64]multiraft.HostID{1: 1, 2: 2, 3: 3}, Bootstrap: []uint64{1, 2, 3}}
			if g > 1 { // the other groups are two voters, on the hosts only
				gc.Replicas = map[uint64]multiraft.HostID{1: 1, 2: 2}
				gc.Bootstrap = []uint64{1, 2}
			}
			require.NoError(t, h.AddGroup(gc))
		}
		x.hosts[id] = h
	}
	return x
}

func (x *mixed) settle() {
	for r := 0; r < 100; r++ {
		did := false
		for id := multiraft.HostID(1); id <= 2; id++ {
			ok, err := x.hosts[id].Pass()
			require.NoError(x.t, err)
			did = did || ok
		}
		inbox := len(x.node.inbox) > 0
		x.node.step(x.t, false)
		if !did && !inbox {
			return
		}
	}
}

func (x *mixed) tick(n int) {
	for i := 0; i < n; i++ {
		for _, h := range x.hosts {
			h.Tick()
		}
		x.node.step(x.t, true)
		x.settle()
	}
}

func (x *mixed) appliedOn(id multiraft.HostID) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.applied[id]...)
}

func TestHostsAndStockEtcdNodeShareAGroup(t *testing.T) {
	x := newMixed(t, false)
	x.tick(3)

	// A host leads: the etcd node follows, its messages one per envelope.
	require.NoError(t, x.hosts[1].Campaign(1))
	x.tick(3)
	require.Equal(t, uint64(1), x.node.rn.BasicStatus().Lead)
	require.NoError(t, x.hosts[1].Propose(1, []byte("from-host")))
	x.tick(3)
	for id := multiraft.HostID(1); id <= 2; id++ {
		assert.Equal(t, []string{"from-host"}, x.appliedOn(id))
	}
	assert.Equal(t, []string{"from-host"}, x.node.applied)

	// ReadIndex at the host leader completes: heartbeats with the context
	// go coalesced to host 2 and plain to the etcd node.
	require.NoError(t, x.hosts[1].ReadIndex(1, []byte("rctx")))
	x.settle()
	x.mu.Lock()
	require.NotEmpty(t, x.reads[1])
	assert.Equal(t, []byte("rctx"), x.reads[1][len(x.reads[1])-1].RequestCtx)
	x.mu.Unlock()

	// Leadership moves to the etcd node (MsgTimeoutNow crosses plain):
	// the hosts follow it.
	require.NoError(t, x.hosts[1].TransferLeader(1, 3))
	x.tick(5)
	require.Equal(t, etcd.StateLeader, x.node.rn.BasicStatus().RaftState)
	for id := multiraft.HostID(1); id <= 2; id++ {
		st, err := x.hosts[id].Status(1)
		require.NoError(t, err)
		assert.Equal(t, uint64(3), st.Lead)
	}
	require.NoError(t, x.node.rn.Propose([]byte("from-etcd")))
	x.node.step(t, false)
	x.tick(3)
	for id := multiraft.HostID(1); id <= 2; id++ {
		assert.Equal(t, []string{"from-host", "from-etcd"}, x.appliedOn(id))
	}
	// A host forwards a proposal to the etcd leader.
	require.NoError(t, x.hosts[2].Propose(1, []byte("forwarded")))
	x.tick(3)
	assert.Equal(t, []string{"from-host", "from-etcd", "forwarded"}, x.node.applied)

	// Quiet for a while: no spurious election with the stock voter.
	term := x.node.rn.BasicStatus().Term
	x.tick(100)
	assert.Equal(t, term, x.node.rn.BasicStatus().Term)
	assert.Equal(t, etcd.StateLeader, x.node.rn.BasicStatus().RaftState)

	// The wire: to and from the etcd node, one raftpb message per
	// envelope and nothing else; between the hosts, tuples.
	for id := multiraft.HostID(1); id <= 2; id++ {
		l := x.net.Link(id, 3)
		assert.Equal(t, l.Envelopes, l.Messages, "host %d to etcd", id)
		assert.Zero(t, l.Tuples+l.Liveness)
		_, _, caps := x.hosts[id].PeerLiveness(3)
		assert.Zero(t, caps, fmt.Sprintf("host %d sees the etcd node as plain", id))
	}
	assert.Greater(t, x.net.Link(1, 2).Tuples+x.net.Link(2, 1).Tuples, uint64(0))
}

// With quiescence on in both hosts, the group with a stock etcd voter never
// quiesces, whoever leads it, and sees no spurious election over a long
// run; the groups of the two hosts alone do quiesce. Nothing but plain
// raftpb messages reaches the etcd node.
func TestGroupWithStockEtcdVoterNeverQuiesces(t *testing.T) {
	x := newMixed(t, true)
	x.tick(3)
	for g := multiraft.GroupID(1); g <= 21; g++ {
		require.NoError(t, x.hosts[1].Campaign(g))
	}
	x.tick(5)
	require.Equal(t, uint64(1), x.node.rn.BasicStatus().Lead)
	require.NoError(t, x.hosts[1].Propose(1, []byte("a")))
	x.tick(3)
	check := func(phase string, ticks int) {
		term := x.node.rn.BasicStatus().Term
		lead := x.node.rn.BasicStatus().Lead
		x.tick(ticks)
		assert.Equal(t, term, x.node.rn.BasicStatus().Term, phase)
		assert.Equal(t, lead, x.node.rn.BasicStatus().Lead, phase)
		for id := multiraft.HostID(1); id <= 2; id++ {
			st := x.hosts[id].Stats()
			assert.Equal(t, 20, st.Quiet, "%s: host %d quiets the 20 groups without the etcd node", phase, id)
			assert.Equal(t, 1, st.Awake, "%s: host %d keeps the mixed group awake", phase, id)
			assert.Zero(t, st.ElectionsAfterWake, phase)
			bs, err := x.hosts[id].Status(1)
			require.NoError(t, err)
			assert.Equal(t, term, bs.Term, "%s: host %d", phase, id)
		}
	}
	check("a host leads", 2000)

	require.NoError(t, x.hosts[1].TransferLeader(1, 3))
	x.tick(5)
	require.Equal(t, etcd.StateLeader, x.node.rn.BasicStatus().RaftState)
	check("the etcd node leads", 2000)

	require.NoError(t, x.hosts[2].Propose(1, []byte("b")))
	x.tick(3)
	assert.Equal(t, []string{"a", "b"}, x.node.applied)
	for id := multiraft.HostID(1); id <= 2; id++ {
		assert.Equal(t, []string{"a", "b"}, x.appliedOn(id))
		l := x.net.Link(id, 3)
		assert.Equal(t, l.Envelopes, l.Messages, "host %d to etcd: one raftpb message per envelope", id)
		assert.Zero(t, l.Tuples+l.Liveness)
	}
}
