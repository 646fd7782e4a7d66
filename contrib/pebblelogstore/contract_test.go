package pebblelogstore

import (
	"testing"

	"github.com/raftkit/raft/multiraft"
	"github.com/raftkit/raft/multiraft/logstoretest"
	pb "github.com/raftkit/raft/raftpb"
)

// harness opens Stores for the contract tests of multiraft/logstoretest.
var harness = logstoretest.Harness{
	Open:  func(dir string) (multiraft.LogStore, error) { return Open(dir, nil) },
	Close: func(s multiraft.LogStore) error { return s.(*Store).Close() },
	Compact: func(s multiraft.LogStore, g multiraft.GroupID, i uint64, cs pb.ConfState, data []byte) error {
		if _, err := s.(*Store).CreateSnapshot(g, i, &cs, data); err != nil {
			return err
		}
		return s.(*Store).Compact(g, i)
	},
}

func TestStoreKeepsTheStorageContract(t *testing.T) {
	logstoretest.Run(t, harness)
}
