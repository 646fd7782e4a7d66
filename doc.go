// Package raft implements the Raft consensus algorithm as an embeddable
// library, API- and wire-compatible with etcd's go.etcd.io/raft/v3 v3.6.0.
// It is the algorithm only: a deterministic state machine that takes
// messages, ticks and proposals in and hands out messages to send, entries
// and state to persist, and committed entries to apply. It is not a server,
// a network transport, a storage engine, a clock or a state machine: the
// caller owns the transport, the disk, the clock and the application's
// state machine, and drives the library through RawNode (synchronous) or
// Node (a goroutine around a RawNode).
package raft
