package multiraft_test

import (
	"fmt"
	"sort"
	"sync"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// Three hosts on an in-memory network hold a replica each of 100 groups.
// The hosts are driven step by step: Tick, then Pass until no host has
// work.
func Example() {
	net := multiraft.NewMemNetwork()
	var mu sync.Mutex
	applied := map[multiraft.HostID]int{}
	hosts := map[multiraft.HostID]*multiraft.Host{}
	for id := multiraft.HostID(1); id <= 3; id++ {
		id := id
		h, err := multiraft.NewHost(multiraft.HostConfig{
			ID: id, Epoch: 1, // persist the epoch and add one on every start
			Transport: net.Transport(id),
			LogStore:  multiraft.NewMemoryLogStore(),
			Apply: func(g multiraft.GroupID, ents []pb.Entry) {
				mu.Lock()
				defer mu.Unlock()
				for _, e := range ents {
					if e.Type == pb.EntryNormal && len(e.Data) > 0 {
						applied[id]++
					}
				}
			},
		})
		if err != nil {
			panic(err)
		}
		for g := multiraft.GroupID(1); g <= 100; g++ {
			err := h.AddGroup(multiraft.GroupConfig{
				ID:        g,
				Raft:      raft.Config{ID: uint64(id), ElectionTick: 10, HeartbeatTick: 1, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true, Logger: discard{}},
				Replicas:  map[uint64]multiraft.HostID{1: 1, 2: 2, 3: 3},
				Bootstrap: []uint64{1, 2, 3},
			})
			if err != nil {
				panic(err)
			}
		}
		hosts[id] = h
	}
	settle := func() {
		for busy := true; busy; {
			busy = false
			for id := multiraft.HostID(1); id <= 3; id++ {
				did, err := hosts[id].Pass()
				if err != nil {
					panic(err)
				}
				busy = busy || did
			}
		}
	}
	tick := func(n int) {
		for i := 0; i < n; i++ {
			for _, h := range hosts {
				h.Tick()
			}
			settle()
		}
	}
	tick(1)
	for g := multiraft.GroupID(1); g <= 100; g++ {
		_ = hosts[multiraft.HostID(1+g%3)].Campaign(g) // spread the leaders
	}
	tick(3)
	for g := multiraft.GroupID(1); g <= 100; g++ {
		if err := hosts[multiraft.HostID(1+g%3)].Propose(g, []byte("hello")); err != nil {
			panic(err)
		}
	}
	tick(2)
	var ids []int
	for id := range hosts {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		fmt.Printf("host %d applied %d entries\n", id, applied[multiraft.HostID(id)])
	}
	l := net.Link(1, 2)
	fmt.Println("heartbeats between hosts 1 and 2 travel as tuples:", l.Tuples > 0)
	// Output:
	// host 1 applied 100 entries
	// host 2 applied 100 entries
	// host 3 applied 100 entries
	// heartbeats between hosts 1 and 2 travel as tuples: true
}

type discard struct{}

func (discard) Debug(...interface{})              {}
func (discard) Debugf(string, ...interface{})     {}
func (discard) Info(...interface{})               {}
func (discard) Infof(string, ...interface{})      {}
func (discard) Warning(...interface{})            {}
func (discard) Warningf(string, ...interface{})   {}
func (discard) Error(...interface{})              {}
func (discard) Errorf(string, ...interface{})     {}
func (discard) Fatal(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (discard) Fatalf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
func (discard) Panic(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (discard) Panicf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
