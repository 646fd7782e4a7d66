package rafttest

import (
	"encoding/binary"
	"errors"
	"sort"
)

// A command travels in an entry's data as an envelope: a tag byte, the
// client and its sequence number (uvarints), then the service's command.
// The envelope lets a replica drop a command it already applied (the
// network may duplicate a forwarded proposal) and lets the simulator find
// the client waiting for the result.
const envelopeTag = 'C'

// envelope is a decoded command envelope.
type envelope struct {
	client int
	seq    uint64
	cmd    []byte
}

func encodeEnvelope(e envelope) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(e.cmd))
	b = append(b, envelopeTag)
	b = binary.AppendUvarint(b, uint64(e.client))
	b = binary.AppendUvarint(b, e.seq)
	return append(b, e.cmd...)
}

func decodeEnvelope(data []byte) (envelope, bool) {
	if len(data) == 0 || data[0] != envelopeTag {
		return envelope{}, false
	}
	data = data[1:]
	c, n := binary.Uvarint(data)
	if n <= 0 {
		return envelope{}, false
	}
	data = data[n:]
	s, n := binary.Uvarint(data)
	if n <= 0 {
		return envelope{}, false
	}
	return envelope{client: int(c), seq: s, cmd: data[n:]}, true
}

// replica is a node's service state: the state machine plus the last
// sequence number applied for each client, which makes applying a
// duplicated command a no-op. Both are volatile and come back from the
// disk's snapshot and log on restart.
type replica struct {
	sm       StateMachine
	sessions map[int]uint64
}

func newReplica(svc Service) *replica {
	return &replica{sm: svc.NewStateMachine(), sessions: map[int]uint64{}}
}

// apply applies a command envelope. It returns the result and false when
// the command was a duplicate.
func (r *replica) apply(e envelope, probeClient int) ([]byte, bool) {
	if e.seq <= r.sessions[e.client] {
		return nil, false
	}
	r.sessions[e.client] = e.seq
	if e.client == probeClient {
		return nil, true
	}
	return r.sm.Apply(e.cmd), true
}

// snapshot serializes the sessions and the state machine.
func (r *replica) snapshot() []byte {
	clients := make([]int, 0, len(r.sessions))
	for c := range r.sessions {
		clients = append(clients, c)
	}
	sort.Ints(clients)
	b := binary.AppendUvarint(nil, uint64(len(clients)))
	for _, c := range clients {
		b = binary.AppendUvarint(b, uint64(c))
		b = binary.AppendUvarint(b, r.sessions[c])
	}
	return append(b, r.sm.Snapshot()...)
}

var errBadSnapshot = errors.New("rafttest: malformed replica snapshot")

// restore replaces the replica's state with a snapshot's; empty data is
// the empty state.
func (r *replica) restore(svc Service, data []byte) error {
	r.sm = svc.NewStateMachine()
	r.sessions = map[int]uint64{}
	if len(data) == 0 {
		return nil
	}
	n, k := binary.Uvarint(data)
	if k <= 0 {
		return errBadSnapshot
	}
	data = data[k:]
	for i := uint64(0); i < n; i++ {
		c, k := binary.Uvarint(data)
		if k <= 0 {
			return errBadSnapshot
		}
		data = data[k:]
		s, k := binary.Uvarint(data)
		if k <= 0 {
			return errBadSnapshot
		}
		data = data[k:]
		r.sessions[int(c)] = s
	}
	return r.sm.Restore(data)
}
