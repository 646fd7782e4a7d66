package pebblelogstore

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/raftkit/raft/contrib/boltlogstore"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// BenchmarkSave measures the multiraft write path on both engines: one
// op is one Save of a pass in which G groups each append k entries of the
// given payload size and a HardState, synced (MustSync). The two engines
// of one case run one after the other, so that
//
//	for i in 1 2 3 4 5 6; do go test -run '^$' -bench BenchmarkSave -count 1; done
//
// interleaves them, and benchstat -col /engine compares them.
func BenchmarkSave(b *testing.B) {
	for _, c := range []struct{ groups, k, size int }{
		{48, 1, 128}, {48, 1, 1024},
		{1000, 1, 128}, {1000, 1, 1024},
		{48, 16, 128}, {48, 16, 1024},
	} {
		for _, engine := range []string{"pebble", "bolt"} {
			name := fmt.Sprintf("G=%d/k=%d/size=%d/engine=%s", c.groups, c.k, c.size, engine)
			b.Run(name, func(b *testing.B) { benchSave(b, engine, c.groups, c.k, c.size) })
		}
	}
}

func benchSave(b *testing.B, engine string, groups, k, size int) {
	dir := b.TempDir()
	var s multiraft.LogStore
	var closeStore func() error
	switch engine {
	case "pebble":
		ps, err := Open(filepath.Join(dir, "pebble"), nil)
		if err != nil {
			b.Fatal(err)
		}
		s, closeStore = ps, ps.Close
	case "bolt":
		bs, err := boltlogstore.Open(filepath.Join(dir, "bolt.db"))
		if err != nil {
			b.Fatal(err)
		}
		s, closeStore = bs, bs.Close
	}
	defer func() {
		if err := closeStore(); err != nil {
			b.Error(err)
		}
	}()
	rng := rand.New(rand.NewSource(1))
	payload := make([]byte, size) // random, so that nothing compresses
	rng.Read(payload)
	// The updates and their entries are built once; each op moves their
	// indexes on, as raft's next Ready would.
	ups := make([]multiraft.Update, groups)
	for g := range ups {
		ups[g] = multiraft.Update{Group: multiraft.GroupID(g + 1), Entries: make([]pb.Entry, k), MustSync: true}
		for j := range ups[g].Entries {
			ups[g].Entries[j] = pb.Entry{Term: 1, Type: pb.EntryNormal, Data: payload}
		}
	}
	next := uint64(1)
	b.SetBytes(int64(groups * k * size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for g := range ups {
			for j := range ups[g].Entries {
				ups[g].Entries[j].Index = next + uint64(j)
			}
			ups[g].HardState = pb.HardState{Term: 1, Vote: 1, Commit: next + uint64(k) - 1}
		}
		if err := s.Save(ups); err != nil {
			b.Fatal(err)
		}
		next += uint64(k)
	}
	b.StopTimer()
	if secs := b.Elapsed().Seconds(); secs > 0 {
		b.ReportMetric(float64(b.N*groups*k)/secs, "entries/s")
	}
}
