package rafttest

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
)

// StateMachine is one replica of the replicated service under test. The
// simulator applies committed commands to it in log order, serves reads
// from it, and moves it through snapshots. It must be deterministic: the
// same commands give the same results and the same snapshot bytes.
type StateMachine interface {
	// Apply applies a committed command and returns its result.
	Apply(cmd []byte) []byte
	// Query answers a read-only command without changing the state.
	Query(cmd []byte) []byte
	// Snapshot serializes the state.
	Snapshot() []byte
	// Restore replaces the state with one that Snapshot produced.
	Restore(data []byte) error
}

// Service describes the service under test: how to make a replica and what
// clients ask of it. The simulator checks that the history of client
// commands and results is linearizable against the service's own state
// machine used as the sequential specification, so a service needs no
// separate model.
type Service interface {
	// NewStateMachine returns an empty replica.
	NewStateMachine() StateMachine
	// NextCommand draws the next command of a client from r. readOnly
	// tells that the command only reads: the simulator then serves it
	// through ReadIndex or through the log, at random.
	NextCommand(r *rand.Rand, client int) (cmd []byte, readOnly bool)
	// Partition returns the part of the state that cmd touches, such as
	// its key. Commands of different partitions are checked for
	// linearizability separately, which is much faster. Return "" to put
	// everything in one partition.
	Partition(cmd []byte) string
}

// KV is the default Service: a key-value store over a handful of keys with
// "put KEY VALUE" and "get KEY" commands. Every put writes a value that
// was never written before, which lets the linearizability check tell
// every write apart.
type KV struct {
	// Keys is the number of keys; 0 means 3.
	Keys int

	puts int
}

// NewStateMachine implements Service.
func (kv *KV) NewStateMachine() StateMachine { return &kvState{m: map[string]string{}} }

// NextCommand implements Service: two commands in three are puts.
func (kv *KV) NextCommand(r *rand.Rand, client int) ([]byte, bool) {
	keys := kv.Keys
	if keys <= 0 {
		keys = 3
	}
	key := fmt.Sprintf("k%d", r.Intn(keys))
	if r.Intn(3) == 0 {
		return []byte("get " + key), true
	}
	kv.puts++
	return []byte(fmt.Sprintf("put %s c%d.%d", key, client, kv.puts)), false
}

// Partition implements Service: commands are partitioned by key.
func (kv *KV) Partition(cmd []byte) string {
	f := strings.Fields(string(cmd))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// kvState is the KV state machine.
type kvState struct {
	m map[string]string
}

func (s *kvState) Apply(cmd []byte) []byte {
	f := strings.Fields(string(cmd))
	switch {
	case len(f) == 3 && f[0] == "put":
		s.m[f[1]] = f[2]
		return []byte("ok")
	case len(f) == 2 && f[0] == "get":
		return []byte(s.m[f[1]])
	}
	return []byte("bad command")
}

func (s *kvState) Query(cmd []byte) []byte {
	f := strings.Fields(string(cmd))
	if len(f) == 2 && f[0] == "get" {
		return []byte(s.m[f[1]])
	}
	return []byte("bad query")
}

func (s *kvState) Snapshot() []byte {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, s.m[k])
	}
	return []byte(b.String())
}

func (s *kvState) Restore(data []byte) error {
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("rafttest: bad kv snapshot line %q", line)
		}
		m[k] = v
	}
	s.m = m
	return nil
}
