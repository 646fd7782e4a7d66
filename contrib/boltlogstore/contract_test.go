package boltlogstore

import (
	"path/filepath"
	"testing"

	"github.com/raftkit/raft/multiraft"
	"github.com/raftkit/raft/multiraft/logstoretest"
	pb "github.com/raftkit/raft/raftpb"
)

func TestStoreKeepsTheStorageContract(t *testing.T) {
	logstoretest.Run(t, logstoretest.Harness{
		Open:  func(dir string) (multiraft.LogStore, error) { return Open(filepath.Join(dir, "log.db")) },
		Close: func(s multiraft.LogStore) error { return s.(*Store).Close() },
		Compact: func(s multiraft.LogStore, g multiraft.GroupID, i uint64, cs pb.ConfState, data []byte) error {
			st, err := s.Storage(g)
			if err != nil {
				return err
			}
			term, err := st.Term(i)
			if err != nil {
				return err
			}
			return s.(*Store).Compact(g, pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: i, Term: term, ConfState: cs}})
		},
	})
}
