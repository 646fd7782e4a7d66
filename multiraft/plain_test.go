package multiraft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// plainNode is a bare RawNode behind a plain MemNetwork endpoint: the way a
// stock etcd raft node, with its own transport, joins a group.
type plainNode struct {
	id      HostID
	group   GroupID
	net     *MemNetwork
	rn      *raft.RawNode
	ms      *raft.MemoryStorage
	inbox   [][]byte
	applied []string
}

func (p *plainNode) deliver(from HostID, g GroupID, b []byte) {
	if g == p.group {
		p.inbox = append(p.inbox, b)
	}
}

func (p *plainNode) step(t *testing.T, tick bool) {
	for _, b := range p.inbox {
		var m pb.Message
		require.NoError(t, m.Unmarshal(b), "a plain peer gets bare raftpb messages")
		_ = p.rn.Step(m)
	}
	p.inbox = nil
	if tick {
		p.rn.Tick()
	}
	for p.rn.HasReady() {
		rd := p.rn.Ready()
		if !raft.IsEmptyHardState(rd.HardState) {
			require.NoError(t, p.ms.SetHardState(rd.HardState))
		}
		require.NoError(t, p.ms.Append(rd.Entries))
		for _, m := range rd.Messages {
			p.net.SendPlain(p.id, HostID(m.To), p.group, m)
		}
		for _, e := range rd.CommittedEntries {
			switch e.Type {
			case pb.EntryNormal:
				if len(e.Data) > 0 {
					p.applied = append(p.applied, string(e.Data))
				}
			case pb.EntryConfChange:
				var cc pb.ConfChange
				require.NoError(t, cc.Unmarshal(e.Data))
				p.rn.ApplyConfChange(cc)
			}
		}
		p.rn.Advance(rd)
	}
}

func TestGroupWithPlainPeerCommits(t *testing.T) {
	c := newTestCluster(t, 2, 1, nil)
	// Hosts 1 and 2 hold replicas 1 and 2; replica 3 is a plain node.
	for id, h := range c.hosts {
		h.Stop()
		delete(c.hosts, id)
	}
	c.n = 2
	c.net = NewMemNetwork()
	c.net.Strict = true
	for id := HostID(1); id <= 2; id++ {
		c.stores[id] = NewMemoryLogStore()
		c.epochs[id] = 0
	}
	ms := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(&raft.Config{ID: 3, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true, Logger: quietLogger{}})
	require.NoError(t, err)
	require.NoError(t, rn.Bootstrap([]raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}))
	p := &plainNode{id: 3, group: 1, net: c.net, rn: rn, ms: ms}
	c.net.AddPlain(3, p.deliver)
	for id := HostID(1); id <= 2; id++ {
		c.epochs[id]++
		h, err := NewHost(HostConfig{ID: id, Epoch: 1, Transport: c.net.Transport(id), LogStore: c.stores[id], Logger: quietLogger{},
			Apply: func(g GroupID, ents []pb.Entry) {
				c.mu.Lock()
				defer c.mu.Unlock()
				for _, e := range ents {
					if e.Type == pb.EntryNormal && len(e.Data) > 0 {
						c.applied[id][g] = append(c.applied[id][g], string(e.Data))
					}
				}
			}})
		require.NoError(t, err)
		c.applied[id] = map[GroupID][]string{}
		require.NoError(t, h.AddGroup(groupConfig(1, uint64(id), 3)))
		c.hosts[id] = h
	}
	run := func(ticks int) {
		for i := 0; i < ticks; i++ {
			for _, h := range c.hosts {
				h.Tick()
			}
			for r := 0; r < 5; r++ {
				c.settle()
				p.step(t, r == 0)
			}
		}
	}
	run(2)
	require.NoError(t, c.hosts[1].Campaign(1))
	run(5)
	require.Equal(t, HostID(1), c.leader(1))
	require.Equal(t, uint64(1), rn.BasicStatus().Lead, "the plain node follows host 1")
	require.NoError(t, c.hosts[1].Propose(1, []byte("x")))
	run(5)
	assert.Equal(t, []string{"x"}, c.appliedOn(1, 1))
	assert.Equal(t, []string{"x"}, c.appliedOn(2, 1))
	assert.Equal(t, []string{"x"}, p.applied)

	// The plain peer got only raftpb messages, one per envelope: no tuples,
	// no liveness. Between the hosts, heartbeats were coalesced.
	for id := HostID(1); id <= 2; id++ {
		l := c.net.Link(id, 3)
		assert.Equal(t, l.Envelopes, l.Messages, "host %d to the plain peer", id)
		assert.Zero(t, l.Tuples+l.Liveness)
		st, _, caps := c.hosts[id].PeerLiveness(3)
		assert.Equal(t, LivenessUnknown, st)
		assert.Zero(t, caps)
	}
	assert.Greater(t, c.net.Link(1, 3).Messages, uint64(0))
	assert.Greater(t, c.net.Link(1, 2).Tuples+c.net.Link(2, 1).Tuples, uint64(0))
}
