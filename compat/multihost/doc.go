// Package multihost proves that a multiraft host and a stock etcd raft
// node (go.etcd.io/raft/v3 v3.6.0) serve the same group: the node stands
// behind a plain endpoint of a multiraft.MemNetwork, takes and sends bare
// raftpb bytes, and the hosts serve it one message per envelope while they
// coalesce heartbeats between themselves. It lives in the compat module so
// that the root module never links etcd raft; it holds only tests.
package multihost
