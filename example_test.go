package raft_test

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// exampleConfig returns the configuration of a node of the examples. A
// real application would log through a production zap logger.
func exampleConfig(id uint64, storage raft.Storage) *raft.Config {
	return &raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          raft.NewZapLogger(zap.NewNop()),
	}
}

// This example starts a one-node cluster with the channel API and commits
// a proposal. The application's loop ticks the node, persists what each
// Ready asks for, sends its messages, applies its committed entries and
// calls Advance.
func ExampleStartNode() {
	storage := raft.NewMemoryStorage()
	n := raft.StartNode(exampleConfig(1, storage), []raft.Peer{{ID: 1}})

	committed := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				n.Tick()
			case rd := <-n.Ready():
				// 1. Persist: entries, hard state, snapshot.
				if err := storage.Append(rd.Entries); err != nil {
					panic(err)
				}
				if !raft.IsEmptyHardState(rd.HardState) {
					if err := storage.SetHardState(rd.HardState); err != nil {
						panic(err)
					}
				}
				// 2. Send rd.Messages to the peers (there are none here).
				// 3. Apply the committed entries, in order.
				for _, e := range rd.CommittedEntries {
					switch e.Type {
					case pb.EntryNormal:
						if len(e.Data) > 0 {
							committed <- string(e.Data)
						}
					case pb.EntryConfChange:
						var cc pb.ConfChange
						if err := cc.Unmarshal(e.Data); err != nil {
							panic(err)
						}
						n.ApplyConfChange(cc)
					}
				}
				// 4. Ask for the next Ready.
				n.Advance()
			case <-done:
				return
			}
		}
	}()

	// Propose blocks until the node has elected itself (after an election
	// timeout of ticks).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Propose(ctx, []byte("hello")); err != nil {
		panic(err)
	}
	fmt.Println("committed:", <-committed)

	close(done)
	n.Stop()
	// Output: committed: hello
}

// exampleProcess runs the Ready loop of a RawNode until nothing is ready:
// persist, send, apply, Advance. apply is called for each committed entry,
// and must call ApplyConfChange for conf changes.
func exampleProcess(rn *raft.RawNode, storage *raft.MemoryStorage, apply func(rd raft.Ready, e pb.Entry)) {
	for rn.HasReady() {
		rd := rn.Ready()
		if !raft.IsEmptySnap(rd.Snapshot) {
			if err := storage.ApplySnapshot(rd.Snapshot); err != nil {
				panic(err)
			}
		}
		if err := storage.Append(rd.Entries); err != nil {
			panic(err)
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			if err := storage.SetHardState(rd.HardState); err != nil {
				panic(err)
			}
		}
		// Send rd.Messages to the peers here, after persisting.
		for _, e := range rd.CommittedEntries {
			apply(rd, e)
		}
		rn.Advance(rd)
	}
}

// applyConfChange decodes and applies the conf change of an entry.
func applyConfChange(rn *raft.RawNode, e pb.Entry) *pb.ConfState {
	var cc pb.ConfChangeI
	switch e.Type {
	case pb.EntryConfChange:
		var c pb.ConfChange
		if err := c.Unmarshal(e.Data); err != nil {
			panic(err)
		}
		cc = c
	case pb.EntryConfChangeV2:
		var c pb.ConfChangeV2
		if err := c.Unmarshal(e.Data); err != nil {
			panic(err)
		}
		cc = c
	default:
		return nil
	}
	return rn.ApplyConfChange(cc)
}

// exampleLeader returns a RawNode that leads a one-node cluster.
func exampleLeader() (*raft.RawNode, *raft.MemoryStorage) {
	storage := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(exampleConfig(1, storage))
	if err != nil {
		panic(err)
	}
	if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		panic(err)
	}
	apply := func(_ raft.Ready, e pb.Entry) { applyConfChange(rn, e) }
	exampleProcess(rn, storage, apply)
	if err := rn.Campaign(); err != nil {
		panic(err)
	}
	exampleProcess(rn, storage, apply)
	return rn, storage
}

// This example drives a RawNode through the Ready loop in one goroutine:
// bootstrap, election and a proposal, printing what each step commits.
func ExampleRawNode_Ready() {
	storage := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(exampleConfig(1, storage))
	if err != nil {
		panic(err)
	}
	if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		panic(err)
	}
	apply := func(rd raft.Ready, e pb.Entry) {
		fmt.Println("apply", raft.DescribeEntry(e, nil))
		applyConfChange(rn, e)
	}
	step := func(what string) {
		fmt.Println(what)
		exampleProcess(rn, storage, apply)
	}

	step("bootstrap")
	if err := rn.Campaign(); err != nil {
		panic(err)
	}
	step("campaign")
	fmt.Println(raft.DescribeSoftState(rn.BasicStatus().SoftState))
	if err := rn.Propose([]byte("hello")); err != nil {
		panic(err)
	}
	step("propose")
	// Output:
	// bootstrap
	// apply 1/1 EntryConfChange v1
	// campaign
	// apply 2/2 EntryNormal ""
	// Lead:1 State:StateLeader
	// propose
	// apply 2/3 EntryNormal "hello"
}

// This example adds a learner to a one-node cluster. The new configuration
// takes effect when the committed entry is applied with ApplyConfChange,
// which returns it for the application to store with its snapshots.
func ExampleRawNode_ProposeConfChange() {
	rn, storage := exampleLeader()

	cc := pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: 2}}}
	if err := rn.ProposeConfChange(cc); err != nil {
		panic(err)
	}
	exampleProcess(rn, storage, func(_ raft.Ready, e pb.Entry) {
		if cs := applyConfChange(rn, e); cs != nil {
			fmt.Println("applied", raft.DescribeEntry(e, nil))
			fmt.Println(raft.DescribeConfState(*cs))
		}
	})
	// Output:
	// applied 2/3 EntryConfChangeV2 l2
	// Voters:[1] VotersOutgoing:[] Learners:[2] LearnersNext:[] AutoLeave:false
}

// This example serves a linearizable read. ReadIndex returns at once; the
// answer is a ReadState in a later Ready, and the read may be served once
// the applied index reaches ReadState.Index.
func ExampleRawNode_ReadIndex() {
	rn, storage := exampleLeader()

	rn.ReadIndex([]byte("read-1"))
	applied := rn.BasicStatus().Applied
	for rn.HasReady() {
		rd := rn.Ready()
		if err := storage.Append(rd.Entries); err != nil {
			panic(err)
		}
		for _, e := range rd.CommittedEntries {
			applied = e.Index
		}
		for _, rs := range rd.ReadStates {
			// A real application would wait until applied reaches
			// rs.Index; here the state machine is already there.
			if applied >= rs.Index {
				fmt.Printf("serve %s at index %d\n", rs.RequestCtx, rs.Index)
			}
		}
		rn.Advance(rd)
	}
	// Output: serve read-1 at index 2
}
