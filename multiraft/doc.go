// Package multiraft runs many raft groups on one host: thousands of
// RawNodes that share one tick source, one worker pool, one durable write
// per pass and one connection per peer host. It is the layer that
// CockroachDB, TiKV and dragonboat each wrote on etcd raft, built above
// RawNode with nothing changed below: every raft message keeps its raftpb
// bytes, so a group may include replicas run by plain etcd raft.
//
// # Hosts and groups
//
// A Host owns groups. AddGroup creates one from a GroupConfig: its raft
// Config (the host fills in Storage from the LogStore), which host runs
// each replica, and the voters to bootstrap with when its storage is
// empty. RemoveGroup drops one. Both may be called at any time.
//
// The host works in passes. A pass visits only the groups that have work:
// a message, a proposal, a queued liveness event, a Ready left over from
// the previous pass, or a tick. Workers (HostConfig.Workers, default
// GOMAXPROCS) step the groups in parallel and take their Readies; then the
// host
//
//  1. routes the leaders' MsgApp and MsgSnap (they may leave before the
//     leader's own write, as the raft thesis §10.2.1 allows),
//  2. writes every group's entries, HardState and snapshot with one
//     LogStore.Save call: one batch, at most one fsync,
//  3. routes every other message (votes and acknowledgements vouch for
//     durable state, so they leave only now) and flushes the outbox,
//  4. applies committed entries (conf changes by the host, the rest
//     through HostConfig.Apply) and advances each group.
//
// Routine work, groups visited only for a due tick or for coalesced
// heartbeats, is visited at most HostConfig.MaxRoutineVisits groups a
// pass, after the other work, so that thousands of idle groups'
// heartbeat rounds never hold up a proposal for long; every group still
// takes every tick and steps every message in order. A Ready that
// carries only messages (a leader's heartbeats) is advanced in the visit
// that took it; its messages leave with the others. A plain heartbeat or
// response that changes nothing a Ready would hand out is stepped when it
// arrives, through raft.RawNode.StepHeartbeat, without a visit, and an
// idle leader's tick hands its heartbeats out through
// raft.RawNode.TickHeartbeat, without a Ready: an idle group's heartbeat
// round costs its leader's tick visit only, with no Ready in it.
//
// Start runs passes on a goroutine whenever there is work, and ticks every
// HostConfig.TickInterval. Tests may instead leave the host stopped and
// call Tick and Pass themselves, which makes a run step by step.
//
// # Envelopes, lanes and heartbeats
//
// Messages to a peer host queue in two bounded lanes: control (votes,
// heartbeats, responses, ReadIndex, liveness) and data (appends,
// snapshots, forwarded proposals). At the end of a pass each lane drains
// into Envelopes of at most MaxEnvelopeMessages messages and about
// MaxEnvelopeBytes bytes, control first, and the Transport sends them.
//
// Between two capable hosts, MsgHeartbeat and MsgHeartbeatResp travel as
// compact Heartbeat tuples (group, from, to, term, commit, context) and are
// rebuilt on arrival into the same messages, Context included, because
// ReadIndex matches acknowledgements by it. Tuples wait for the host's
// heartbeat flush (every HeartbeatTicks host ticks), so an idle host pair
// exchanges one envelope each way per interval whatever the number of
// groups; tuples carrying a Context leave at once.
//
// A Transport tells the host each peer's capabilities after a handshake
// (Hello). A peer with none, or not yet known, gets one message per
// envelope and no tuples: this is how plain etcd raft peers are served.
// Transports report lost peers (HandleUnreachable, which the host turns
// into ReportUnreachable) and the fate of every MsgSnap (ReportSnapshot).
//
// MemTransport, on a MemNetwork, is the in-memory Transport for tests and
// simulation: it marshals every envelope, cuts and heals links, counts
// what crosses each link, and serves plain (etcd-style) endpoints.
// TCPTransport is the real one: one connection per peer host and lane,
// optional TLS, chunked streaming of large envelopes (snapshots), bounded
// queues and reconnection with backoff.
//
// # Liveness
//
// Each pair of hosts runs one failure detector on the control lane: pings
// every LivenessTicks, a peer is Down after LivenessTimeoutTicks without a
// pong, and a higher epoch in a ping or pong means the peer restarted
// (HostConfig.Epoch must grow on every restart). When a peer host goes
// Down, groups that lead replicas there call ReportUnreachable, and groups
// whose leader is there forget it and campaign after a random delay, at
// most MaxWakesPerPass groups per pass: a lost host wakes only its groups,
// spread over time.
//
// A peer host that shares groups with this one but was never contacted
// (both follow a leader elsewhere) is probed with an empty envelope on
// the liveness tick, so the handshake happens and liveness runs.
//
// # Quiescence
//
// With HostConfig.Quiescence, idle groups go quiet and cost nothing per
// tick. A leader that has been idle for QuiesceAfterTicks ticks, whose
// followers are caught up (RawNode.MayQuiesce), tells them so with a flag
// on the heartbeat tuple and leaves the tick list; followers that agree
// leave it too, one that does not answers and keeps the group awake. Any
// message, any local request (Propose, ReadIndex, conf change, transfer,
// Campaign) and the liveness events of the group's hosts wake a group; a
// follower that wakes on its own pokes its leader. A group quiesces only if
// every host of its replicas advertised CapQuiesce (a stock etcd member
// keeps it awake, with plain heartbeats) and its raft Config has PreVote,
// CheckQuorum and ReadOnlySafe. When the leader's host is lost, the groups
// it led wake and elect, spread over time; a lost follower host leaves its
// groups quiet, and they catch it up when it returns. Host.Stats counts
// awake and quiet groups, wakes by cause, flaps and elections after wakes.
//
// # Storage
//
// A LogStore holds the storage of all groups: Storage(g) is the read side
// a RawNode uses, Save persists a pass's Updates in one batch.
// MemoryLogStore keeps them in memory and counts saves and syncs; it
// outlives a Host, so dropping a Host and building a new one over the same
// store models a restart. Two durable stores are modules of their own:
// contrib/pebblelogstore (the one to use for a host) keeps all groups in
// one pebble database, one batch and one WAL fdatasync per Save;
// contrib/boltlogstore keeps them in one bbolt file, one transaction (two
// fdatasyncs) per Save. Package multiraft/logstoretest holds the contract
// tests every LogStore runs.
//
// Committed entries reach the state machine through HostConfig.Apply,
// received snapshots through HostConfig.ApplySnapshot, and answered
// ReadIndex requests through HostConfig.ReadStates.
//
// # In tests
//
// Leave the hosts stopped, put them on a MemNetwork, and drive them: Tick
// each host, then call Pass on each until none reports work. Every step
// is then in the test's hands, and a failure replays. Started hosts
// (Start, TickInterval) run the same code on their own goroutines.
//
// # Metrics
//
// HostConfig.Metrics, if set, hears about passes, saves (with their
// duration), envelopes (lane, messages, bytes), queue depths, drops and
// liveness transitions. Host.Stats returns the same counters at any time.
//
// The design, its rules and what breaks without each are in
// docs/design/multiraft.md.
package multiraft
