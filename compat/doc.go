// Package compat holds tests that link raftkit and etcd raft
// (go.etcd.io/raft/v3) into one binary. It is a module of its own so that
// the library itself never depends on etcd raft.
package compat
