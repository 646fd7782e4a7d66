package mixed

import (
	crand "crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft/rafttest"
)

// TestRunReplaysMixedClusters runs seeds twice on splits with etcd nodes:
// etcd raft draws its election timeouts from crypto/rand.Reader, which Run
// points at the run's seeded source, so each seed replays; and Run puts
// the process's reader back.
func TestRunReplaysMixedClusters(t *testing.T) {
	prev := crand.Reader
	for _, seed := range []int64{1, 2, 3} {
		for _, split := range []uint64{0b111, 0b101, 0b010} {
			var res [2]rafttest.Result
			var led [2]Stats
			for i := range res {
				c := &Cluster{KindOf: Split{Etcd: split}.KindOf}
				res[i] = Run(rafttest.Options{Seed: seed, NewNode: c.Factory()})
				led[i] = c.Stats
				require.Nil(t, res[i].Violation)
				require.True(t, crand.Reader == prev, "crypto/rand.Reader is put back")
			}
			assert.Equal(t, res[0].TraceHash, res[1].TraceHash, "seed %d, split %b", seed, split)
			assert.Equal(t, led[0].Led, led[1].Led, "seed %d, split %b", seed, split)
		}
	}
}
