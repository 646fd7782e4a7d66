// Package bench runs the same benchmark scenarios against raftkit and
// against etcd raft v3.6.0, in one binary and one run, so that the ratios
// between the two are measured under the same conditions.
//
// Each library is reached through a Lib adapter. The adapters are thin: the
// two libraries have the same API shape, so lib_etcd.go is generated from
// lib_raftkit.go by gen.sh, changing only the import paths and the names.
// The scenarios in bench_test.go are written once against the interfaces
// below. Messages cross the adapters as wire bytes (both libraries produce
// the same bytes) or as opaque native values built by the adapter.
package bench

import "context"

// Options configures one node of a scenario.
type Options struct {
	// ID is the node's ID; Voters is the configuration it starts with.
	ID     uint64
	Voters []uint64
	// ElectionTick and HeartbeatTick default to 10 and 1.
	ElectionTick, HeartbeatTick int
	// PreVote and CheckQuorum set the Config fields of those names.
	PreVote, CheckQuorum bool
	// MaxSizePerMsg defaults to 1 MiB; MaxInflightMsgs to 256.
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	// Lend sets raftkit's Config.LendReadyMessages: each Ready's Messages
	// array is lent until Advance. etcd has no such option and ignores
	// it; the adapters' code is the same for both (see HandleReadyNative
	// and Delivered), so the two libraries run the same harness.
	Lend bool
}

func (o Options) withDefaults() Options {
	if o.ElectionTick == 0 {
		o.ElectionTick = 10
	}
	if o.HeartbeatTick == 0 {
		o.HeartbeatTick = 1
	}
	if o.MaxSizePerMsg == 0 {
		o.MaxSizePerMsg = 1 << 20
	}
	if o.MaxInflightMsgs == 0 {
		o.MaxInflightMsgs = 256
	}
	return o
}

// compactEvery and keepEntries bound the MemoryStorage of long runs: once
// compactEvery entries are applied beyond the first index, all but the
// last keepEntries are compacted away.
const (
	compactEvery = 8192
	keepEntries  = 2048
)

// Stats says what one Ready carried.
type Stats struct {
	// Entries, Committed, Messages and ReadStates count the entries to
	// persist, the committed entries, the messages and the read states.
	Entries, Committed, Messages, ReadStates int
}

// Lib is one library under test.
type Lib interface {
	// Name is "raftkit" or "etcd"; it becomes the lib= part of the
	// benchmark names.
	Name() string
	// NewRawNode creates a RawNode over a fresh MemoryStorage holding a
	// snapshot at index 1, term 1, with o.Voters as the configuration.
	NewRawNode(o Options) RawNode
	// StartNode starts a Node over the same kind of storage and a
	// goroutine that handles its Readies: it persists, passes each message
	// marshaled to send, reports the number of applied entries to apply,
	// and advances.
	StartNode(o Options, send func(to uint64, m []byte), apply func(n int)) Node

	// MsgApp builds a native append message carrying n entries, at
	// consecutive indexes after index, of term term, each sharing data.
	MsgApp(from, to, term, logTerm, index, commit uint64, n int, data []byte) any
	// MsgAppResp builds a native acknowledgement of index.
	MsgAppResp(from, to, term, index uint64) any
	// NewMessage returns an empty native *Message, and MsgAppMessage one
	// carrying n entries of size bytes.
	NewMessage() Message
	MsgAppMessage(n, size int) Message
}

// Message is what both libraries' generated *raftpb.Message offer.
type Message interface {
	// Marshal, MarshalTo, Unmarshal, Size and Reset are the generated
	// methods of those names.
	Marshal() ([]byte, error)
	MarshalTo([]byte) (int, error)
	Unmarshal([]byte) error
	Size() int
	Reset()
}

// RawNode is the part of the RawNode API that the scenarios use.
type RawNode interface {
	// Tick, Campaign, Propose and ReadIndex call the RawNode methods of
	// those names.
	Tick()
	Campaign() error
	Propose(data []byte) error
	ReadIndex(rctx []byte)
	// Step decodes wire bytes and steps the message; StepNative steps a
	// value built by the Lib.
	Step(m []byte) error
	StepNative(m any) error
	// HasReady calls RawNode.HasReady.
	HasReady() bool
	// HandleReady processes one Ready synchronously: it persists entries
	// and state in the MemoryStorage, passes each message marshaled to send
	// (or drops them when send is nil), applies the committed entries
	// (compacting the storage now and then) and advances.
	HandleReady(send func(to uint64, m []byte)) Stats
	// HandleReadyNative is HandleReady passing each message as a native
	// value for StepNative, not marshaled.
	// With Options.Lend, the values passed are copies the adapter keeps
	// until Delivered, since the Ready's array is reused after Advance.
	HandleReadyNative(send func(to uint64, m any)) Stats
	// Delivered says that every message HandleReadyNative passed to send
	// so far has been stepped: with Options.Lend the adapter reuses the
	// copies it made of them.
	Delivered()
	// Leader reports whether this node leads.
	Leader() bool
}

// Node is the part of the Node API that the scenarios use.
type Node interface {
	// Propose, ReadIndex, Campaign, Step, Lead, Tick and Stop call the
	// Node methods of those names; Step decodes wire bytes first.
	Propose(ctx context.Context, data []byte) error
	ReadIndex(ctx context.Context, rctx []byte) error
	Campaign(ctx context.Context) error
	Step(ctx context.Context, m []byte) error
	Lead() uint64
	Tick()
	Stop()
}
