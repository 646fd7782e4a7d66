package raft

import (
	"encoding/binary"

	"github.com/raftkit/raft/quorum"
	pb "github.com/raftkit/raft/raftpb"
)

// Safe ReadIndex (thesis §6.4) confirms that the leader is still the leader
// after a read arrived, by a heartbeat round that a quorum acknowledges.
//
// etcd raft v3.6 keys the rounds by the request's context, so a retried or
// duplicated context can be confirmed by acknowledgements of a heartbeat
// sent before the retry arrived: a stale read. Here every read gets a round
// number of its own, which the heartbeat carries in its Context and the
// follower echoes back (followers echo any Context, so etcd raft peers
// interoperate unchanged). An acknowledgement of round n proves leadership
// after every read registered at a round <= n; a read is answered once a
// quorum acknowledged its round or a later one.

// readRoundPrefix marks a heartbeat Context that carries a read round.
var readRoundPrefix = [4]byte{'r', 'k', 'r', 'i'}

const readRoundLen = len(readRoundPrefix) + 8

func encodeReadRound(seq uint64) []byte {
	b := make([]byte, readRoundLen)
	copy(b, readRoundPrefix[:])
	binary.BigEndian.PutUint64(b[len(readRoundPrefix):], seq)
	return b
}

func decodeReadRound(ctx []byte) (uint64, bool) {
	if len(ctx) != readRoundLen || [4]byte(ctx[:4]) != readRoundPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(ctx[len(readRoundPrefix):]), true
}

// readIndexStatus is a read waiting for its heartbeat round.
type readIndexStatus struct {
	req   pb.Message // the MsgReadIndex
	index uint64     // the commit index when it arrived
	seq   uint64     // its heartbeat round
	tick  uint64     // when its round started, for Metrics (else 0)
}

// readOnly holds the reads a leader has not answered yet. A leader
// allocates it at the first read of its term and keeps it for the term:
// round numbers must not restart within a term, or an acknowledgement of an
// old round could confirm a newer read.
type readOnly struct {
	// waiting are reads that arrived before this leader committed an entry
	// of its own term; they wait for it.
	waiting []pb.Message
	// pending reads, in ascending round order.
	pending []readIndexStatus
	// seq is the last round number handed out.
	seq uint64
	// acks holds, per peer, the highest round it acknowledged.
	acks map[uint64]uint64
}

// addRequest registers a read at the given commit index and returns the
// heartbeat round that must confirm it.
func (ro *readOnly) addRequest(index uint64, m pb.Message) uint64 {
	ro.seq++
	ro.pending = append(ro.pending, readIndexStatus{req: m, index: index, seq: ro.seq})
	return ro.seq
}

// recvAck records that id acknowledged the heartbeat round seq (and so all
// rounds before it). Acknowledgements of rounds never handed out are
// ignored.
func (ro *readOnly) recvAck(id uint64, seq uint64) {
	if seq > ro.seq || seq == 0 {
		return
	}
	if ro.acks == nil {
		ro.acks = make(map[uint64]uint64)
	}
	if seq > ro.acks[id] {
		ro.acks[id] = seq
	}
}

// AckedIndex implements quorum.AckedIndexer over the acknowledged rounds, so
// that the configuration's CommittedIndex yields the highest round a quorum
// acknowledged, for majority and joint configurations alike.
func (ro *readOnly) AckedIndex(id uint64) (quorum.Index, bool) {
	seq, ok := ro.acks[id]
	return quorum.Index(seq), ok
}

// advance removes and returns the reads whose round is at or below the
// confirmed one.
func (ro *readOnly) advance(confirmed uint64) []readIndexStatus {
	n := 0
	for n < len(ro.pending) && ro.pending[n].seq <= confirmed {
		n++
	}
	if n == 0 {
		return nil
	}
	done := ro.pending[:n:n]
	ro.pending = ro.pending[n:]
	if len(ro.pending) == 0 {
		ro.pending = nil
	}
	return done
}

// lastPendingCtx returns the heartbeat Context of the newest pending read's
// round, or nil when no read is pending (or ro is nil: no read this term).
func (ro *readOnly) lastPendingCtx() []byte {
	if ro == nil || len(ro.pending) == 0 {
		return nil
	}
	return encodeReadRound(ro.pending[len(ro.pending)-1].seq)
}
