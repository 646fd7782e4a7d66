package rafttest_test

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"

	"github.com/raftkit/raft/rafttest"
)

// counters is the state machine under test: named counters with
// "add NAME N" (returns the new value) and "read NAME". Replace it with
// your own.
type counters struct{ m map[string]int }

func (c *counters) Apply(cmd []byte) []byte {
	f := strings.Fields(string(cmd))
	switch {
	case len(f) == 3 && f[0] == "add":
		n, _ := strconv.Atoi(f[2])
		c.m[f[1]] += n
		return []byte(strconv.Itoa(c.m[f[1]]))
	case len(f) == 2 && f[0] == "read":
		return c.Query(cmd)
	}
	return nil
}

func (c *counters) Query(cmd []byte) []byte {
	f := strings.Fields(string(cmd))
	return []byte(strconv.Itoa(c.m[f[1]]))
}

func (c *counters) Snapshot() []byte {
	names := make([]string, 0, len(c.m))
	for k := range c.m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "%s %d\n", k, c.m[k])
	}
	return []byte(b.String())
}

func (c *counters) Restore(data []byte) error {
	c.m = map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return err
			}
			c.m[f[0]] = n
		}
	}
	return nil
}

// counterService tells the simulator how to make a replica and what the
// clients ask.
type counterService struct{}

func (counterService) NewStateMachine() rafttest.StateMachine {
	return &counters{m: map[string]int{}}
}

func (counterService) NextCommand(r *rand.Rand, client int) ([]byte, bool) {
	name := []string{"a", "b"}[r.Intn(2)]
	if r.Intn(3) == 0 {
		return []byte("read " + name), true
	}
	return []byte(fmt.Sprintf("add %s %d", name, 1+r.Intn(9))), false
}

func (counterService) Partition(cmd []byte) string {
	return strings.Fields(string(cmd))[1]
}

// Example runs a state machine through simulated clusters with crashes,
// partitions, lossy networks and membership changes, and checks that its
// clients always saw a linearizable history. In a test, call t.Fatal with
// the violation: it names the seed that replays it.
func Example() {
	for seed := int64(1); seed <= 20; seed++ {
		res := rafttest.Run(rafttest.Options{Seed: seed, Service: counterService{}})
		if res.Violation != nil {
			fmt.Println(res.Violation)
			return
		}
	}
	fmt.Println("20 seeds, no violation")
	// Output: 20 seeds, no violation
}
