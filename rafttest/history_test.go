package rafttest

import (
	"os"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/raftkit/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func kvOp(client int, cmd, result string, call, ret int64, unknown bool) porcupine.Operation {
	return porcupine.Operation{
		ClientId: client,
		Input:    histInput{cmd: cmd},
		Output:   histOutput{result: result, unknown: unknown},
		Call:     call,
		Return:   ret,
	}
}

func TestKVModelJudgesHistories(t *testing.T) {
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"read sees the write before it", []porcupine.Operation{
			kvOp(0, "put k0 a", "ok", 1, 2, false),
			kvOp(1, "get k0", "a", 3, 4, false),
		}, porcupine.Ok},
		{"stale read after a write returned", []porcupine.Operation{
			kvOp(0, "put k0 a", "ok", 1, 2, false),
			kvOp(1, "get k0", "", 3, 4, false),
		}, porcupine.Illegal},
		{"concurrent read may see either", []porcupine.Operation{
			kvOp(0, "put k0 a", "ok", 1, 4, false),
			kvOp(1, "get k0", "", 2, 3, false),
		}, porcupine.Ok},
		{"write of unknown outcome may take effect late", []porcupine.Operation{
			kvOp(0, "put k0 a", "", 1, 10, true),
			kvOp(1, "get k0", "", 2, 3, false),
			kvOp(1, "get k0", "a", 4, 5, false),
		}, porcupine.Ok},
		{"a value comes back after being overwritten", []porcupine.Operation{
			kvOp(0, "put k0 a", "ok", 1, 2, false),
			kvOp(0, "put k0 b", "ok", 3, 4, false),
			kvOp(1, "get k0", "a", 5, 6, false),
		}, porcupine.Illegal},
		{"keys are independent", []porcupine.Operation{
			kvOp(0, "put k0 a", "ok", 1, 2, false),
			kvOp(1, "get k1", "", 3, 4, false),
		}, porcupine.Ok},
	}
	m := model(&KV{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := porcupine.CheckOperationsVerbose(m, tt.ops, 0)
			assert.Equal(t, tt.want, res)
		})
	}
}

// localReadNode is a buggy node: it answers ReadIndex at once from its
// own state, without asking the leader, so reads can be stale.
type localReadNode struct {
	Node
	reads []raft.ReadState
}

func (n *localReadNode) ReadIndex(rctx []byte) {
	n.reads = append(n.reads, raft.ReadState{Index: 0, RequestCtx: rctx})
}

func (n *localReadNode) Ready() (Update, bool) {
	u, ok := n.Node.Ready()
	if len(n.reads) > 0 {
		u.ReadStates = append(u.ReadStates, n.reads...)
		n.reads = nil
		ok = true
	}
	return u, ok
}

func TestLinearizabilityCheckCatchesStaleReadsAndDrawsThem(t *testing.T) {
	dir := t.TempDir()
	factory := func(cfg NodeConfig) (Node, error) {
		n, err := NewRawNode(cfg)
		if err != nil {
			return nil, err
		}
		return &localReadNode{Node: n}, nil
	}
	v, seeds := hunt(200, func(v *Violation) bool { return v.Invariant == "linearizable history" },
		func(seed int64) Options {
			return Options{Seed: seed, NewNode: factory, OutDir: dir, skipReadFloor: true}
		})
	require.NotNil(t, v, "no stale read caught in %d seeds", seeds)
	t.Logf("caught at seed %d: %s", v.Seed, v.Detail)
	require.NotEmpty(t, v.Visualization)
	assert.Contains(t, v.Error(), v.Visualization, "the report prints the visualization's path")
	html, err := os.ReadFile(v.Visualization)
	require.NoError(t, err)
	assert.Contains(t, string(html), "<html")
}

// The direct check of read indexes catches the same stale reads, without
// porcupine: a read answered below an index applied before it began.
func TestReadFloorCheckCatchesStaleReads(t *testing.T) {
	factory := func(cfg NodeConfig) (Node, error) {
		n, err := NewRawNode(cfg)
		if err != nil {
			return nil, err
		}
		return &localReadNode{Node: n}, nil
	}
	v, seeds := hunt(200, func(v *Violation) bool { return v.Invariant == "read index covers earlier writes" },
		func(seed int64) Options { return Options{Seed: seed, NewNode: factory} })
	require.NotNil(t, v, "no stale read caught in %d seeds", seeds)
	t.Logf("caught at seed %d: %s", v.Seed, v.Detail)
}
