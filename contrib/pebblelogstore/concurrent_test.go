package pebblelogstore

import (
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// Readers of a group's Storage, while Saves replace its tail and
// compactions drop its head, get either what the log held at some moment
// (contiguous entries with the data written for their index and term) or
// ErrCompacted / ErrUnavailable for a range that moved between two calls;
// never another error, never an entry from two states mixed.
func TestReadersDuringWritesSeeOneState(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	const groups = 3
	data := func(term, index uint64) []byte { return []byte(fmt.Sprintf("t%d i%d", term, index)) }

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(r)))
			for !stop.Load() {
				st, err := s.Storage(multiraft.GroupID(rng.Intn(groups) + 1))
				if !assert.NoError(t, err) {
					return
				}
				first, _ := st.FirstIndex()
				last, _ := st.LastIndex()
				ents, err := st.Entries(first, last+1, uint64(rng.Intn(2000)))
				if err == nil {
					for k, e := range ents {
						if !assert.Equal(t, first+uint64(k), e.Index) || !assert.Equal(t, data(e.Term, e.Index), e.Data) {
							return
						}
					}
				} else if !errors.Is(err, raft.ErrCompacted) && !errors.Is(err, raft.ErrUnavailable) {
					assert.NoError(t, err, "Entries(%d, %d)", first, last+1)
					return
				}
				if _, err := st.Term(last); err != nil && !errors.Is(err, raft.ErrCompacted) && !errors.Is(err, raft.ErrUnavailable) {
					assert.NoError(t, err)
					return
				}
				reads.Add(1)
			}
		}(r)
	}

	rng := rand.New(rand.NewSource(1))
	last := map[multiraft.GroupID]uint64{}
	term := map[multiraft.GroupID]uint64{}
	steps := 600
	if testing.Short() {
		steps = 200
	}
	for step := 0; step < steps; step++ {
		var ups []multiraft.Update
		for g := multiraft.GroupID(1); g <= groups; g++ {
			st, err := s.Storage(g)
			require.NoError(t, err)
			first, _ := st.FirstIndex()
			at := last[g] + 1
			if rng.Intn(4) == 0 && at > first+3 {
				at -= 3 // replace the tail
				term[g]++
			}
			term[g] = max(term[g], 1)
			var es []pb.Entry
			for i := at; i < at+uint64(rng.Intn(4)+1); i++ {
				es = append(es, pb.Entry{Term: term[g], Index: i, Data: data(term[g], i)})
			}
			last[g] = es[len(es)-1].Index
			ups = append(ups, multiraft.Update{Group: g, Entries: es, MustSync: rng.Intn(8) == 0})
		}
		require.NoError(t, s.Save(ups))
		if step%15 == 14 {
			g := multiraft.GroupID(rng.Intn(groups) + 1)
			i := last[g] - 4
			_, err := s.CreateSnapshot(g, i, &pb.ConfState{Voters: []uint64{1}}, nil)
			require.NoError(t, err)
			require.NoError(t, s.Compact(g, i))
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads during %d Saves", reads.Load(), steps)
}
