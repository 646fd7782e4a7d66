package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcdraft "go.etcd.io/raft/v3"
	etcdpb "go.etcd.io/raft/v3/raftpb"

	ourraft "github.com/raftkit/raft"
	ourpb "github.com/raftkit/raft/raftpb"
	"github.com/raftkit/raft/rafttest"
)

// Issue 16: a quarantined raftkit follower (Config.RecoverLostState) under
// an etcd raft v3.6 leader. Its heartbeat responses carry the recovery
// signal of the raftkit handshake, which the etcd leader cannot take for
// a read acknowledgement (docs/design/recovery.md, rules S2 and E2).

// etcdDrain handles the leader's Readies and returns its messages and the
// number of reads answered.
func etcdDrain(t *testing.T, rn *etcdraft.RawNode, s *etcdraft.MemoryStorage) (msgs []etcdpb.Message, reads int) {
	for rn.HasReady() {
		rd := rn.Ready()
		if !etcdraft.IsEmptyHardState(rd.HardState) {
			require.NoError(t, s.SetHardState(rd.HardState))
		}
		require.NoError(t, s.Append(rd.Entries))
		msgs = append(msgs, rd.Messages...)
		reads += len(rd.ReadStates)
		rn.Advance(rd)
	}
	return msgs, reads
}

func TestEtcdLeaderTakesNoReadAckFromAQuarantinedRaftkitFollower(t *testing.T) {
	for _, tail := range []bool{false, true} {
		es := etcdraft.NewMemoryStorage()
		require.NoError(t, es.ApplySnapshot(etcdpb.Snapshot{Metadata: etcdpb.SnapshotMetadata{Index: 1, Term: 1,
			ConfState: etcdpb.ConfState{Voters: []uint64{1, 2, 3}}}}))
		lead, err := etcdraft.NewRawNode(&etcdraft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: es,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, Logger: rafttest.QuietLogger{}})
		require.NoError(t, err)
		require.NoError(t, lead.Campaign())
		etcdDrain(t, lead, es)
		term := lead.Status().Term
		require.NoError(t, lead.Step(etcdpb.Message{From: 2, To: 1, Term: term, Type: etcdpb.MsgVoteResp}))
		etcdDrain(t, lead, es)
		require.Equal(t, etcdraft.StateLeader, lead.Status().RaftState)
		last, _ := es.LastIndex()
		require.NoError(t, lead.Step(etcdpb.Message{From: 2, To: 1, Term: term, Type: etcdpb.MsgAppResp, Index: last}))
		etcdDrain(t, lead, es)

		// 3's storage lost entries below its commit index: quarantined.
		os := ourraft.NewMemoryStorage()
		require.NoError(t, os.ApplySnapshot(ourpb.Snapshot{Metadata: ourpb.SnapshotMetadata{Index: 1, Term: 1,
			ConfState: ourpb.ConfState{Voters: []uint64{1, 2, 3}}}}))
		require.NoError(t, os.SetHardState(ourpb.HardState{Term: term, Vote: 1, Commit: 5}))
		f, err := ourraft.NewRawNode(&ourraft.Config{ID: 3, ElectionTick: 10, HeartbeatTick: 1, Storage: os,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, Logger: rafttest.QuietLogger{},
			RecoverLostState: true, HardStateIndependentlyDurable: tail})
		require.NoError(t, err)
		require.True(t, f.Status().Recovery.Quarantined)

		// A read round: the leader's heartbeats carry an 8-byte context.
		lead.ReadIndex([]byte("12345678"))
		msgs, reads := etcdDrain(t, lead, es)
		require.Zero(t, reads)
		for _, m := range msgs {
			if m.To != 3 {
				continue
			}
			data, err := m.Marshal()
			require.NoError(t, err)
			var om ourpb.Message
			require.NoError(t, om.Unmarshal(data))
			require.NoError(t, f.Step(om))
		}
		var answered int
		for f.HasReady() {
			rd := f.Ready()
			if !ourraft.IsEmptyHardState(rd.HardState) {
				require.NoError(t, os.SetHardState(rd.HardState))
			}
			require.NoError(t, os.Append(rd.Entries))
			for _, m := range rd.Messages {
				data, err := m.Marshal()
				require.NoError(t, err)
				var em etcdpb.Message
				require.NoError(t, em.Unmarshal(data))
				assert.NotPanics(t, func() { require.NoError(t, lead.Step(em)) })
				answered++
			}
			f.Advance(rd)
		}
		require.NotZero(t, answered, "tail %v: 3 answers", tail)
		_, reads = etcdDrain(t, lead, es)
		if tail {
			assert.Equal(t, 1, reads, "after a TailLoss the etcd leader's read context is echoed: the read is confirmed")
		} else {
			assert.Zero(t, reads, "after a StateLoss the signal confirms no read")
		}
		assert.Equal(t, etcdraft.StateLeader, lead.Status().RaftState)
	}
}
