package logstoretest_test

import (
	"sync"
	"testing"

	"github.com/raftkit/raft/multiraft"
	"github.com/raftkit/raft/multiraft/logstoretest"
	pb "github.com/raftkit/raft/raftpb"
)

// The contract tests hold for MemoryLogStore, whose storages are the
// model's own type: this checks the tests as much as the store.
func TestMemoryLogStoreKeepsTheContract(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*multiraft.MemoryLogStore{}
	logstoretest.Run(t, logstoretest.Harness{
		Open: func(dir string) (multiraft.LogStore, error) {
			mu.Lock()
			defer mu.Unlock()
			if stores[dir] == nil {
				stores[dir] = multiraft.NewMemoryLogStore()
			}
			return stores[dir], nil
		},
		Close: func(multiraft.LogStore) error { return nil },
		Compact: func(s multiraft.LogStore, g multiraft.GroupID, i uint64, cs pb.ConfState, data []byte) error {
			ms := s.(*multiraft.MemoryLogStore).Memory(g)
			if _, err := ms.CreateSnapshot(i, &cs, data); err != nil {
				return err
			}
			return ms.Compact(i)
		},
	})
}
