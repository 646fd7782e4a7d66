package rafttest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// histInput and histOutput are the porcupine input and output of a
// client command.
type histInput struct{ cmd string }

type histOutput struct {
	result  string
	unknown bool // the client gave up: the result was never seen
}

// linearizabilityTimeout bounds the porcupine search; a search that times
// out is reported as passed, since it found no violation.
const linearizabilityTimeout = 20 * time.Second

// model returns the porcupine model of svc: the service's own state
// machine, restored from a snapshot at each step, is the sequential
// specification. The state is the snapshot string.
func model(svc Service) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			parts := map[string][]porcupine.Operation{}
			for _, o := range history {
				k := svc.Partition([]byte(o.Input.(histInput).cmd))
				parts[k] = append(parts[k], o)
			}
			keys := make([]string, 0, len(parts))
			for k := range parts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, parts[k])
			}
			return out
		},
		Init: func() interface{} { return string(svc.NewStateMachine().Snapshot()) },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			sm := svc.NewStateMachine()
			if err := sm.Restore([]byte(state.(string))); err != nil {
				return false, state
			}
			res := sm.Apply([]byte(input.(histInput).cmd))
			next := string(sm.Snapshot())
			out := output.(histOutput)
			return out.unknown || out.result == string(res), next
		},
		DescribeOperation: func(input, output interface{}) string {
			out := output.(histOutput)
			if out.unknown {
				return fmt.Sprintf("%s -> ?", input.(histInput).cmd)
			}
			return fmt.Sprintf("%s -> %q", input.(histInput).cmd, out.result)
		},
		DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", state) },
	}
}

// checkHistory checks that the clients' history is linearizable, and
// writes porcupine's visualization when it is not.
func (s *sim) checkHistory() {
	for _, c := range s.clients {
		if c.pending != nil {
			s.abandon(c)
		}
	}
	end := s.clock + 1
	ops := make([]porcupine.Operation, 0, len(s.history))
	for _, h := range s.history {
		ret := h.ret
		if h.unknown {
			ret = end
		}
		ops = append(ops, porcupine.Operation{
			ClientId: h.client,
			Input:    histInput{cmd: string(h.cmd)},
			Call:     h.call,
			Output:   histOutput{result: string(h.result), unknown: h.unknown},
			Return:   ret,
		})
	}
	s.res.Ops = len(ops)
	m := model(s.svc)
	res, info := porcupine.CheckOperationsVerbose(m, ops, linearizabilityTimeout)
	if res != porcupine.Illegal {
		return
	}
	v := s.violation("linearizable history", fmt.Sprintf("the history of %d client operations is not linearizable", len(ops)))
	dir := s.opts.OutDir
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("rafttest-seed-%d.html", s.opts.Seed))
	if err := porcupine.VisualizePath(m, info, path); err != nil {
		v.Detail += fmt.Sprintf(" (visualization failed: %v)", err)
	} else {
		v.Visualization = path
	}
	panic(v)
}
