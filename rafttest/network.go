package rafttest

import (
	"container/heap"
	"math/rand"

	pb "github.com/raftkit/raft/raftpb"
)

// packet is a marshaled message in flight.
type packet struct {
	from, to uint64
	typ      pb.MessageType
	data     []byte
	due      int    // tick of delivery
	seq      uint64 // send order, to break ties deterministically
}

// packetQueue is a min-heap of packets by (due, seq).
type packetQueue []*packet

func (q packetQueue) Len() int { return len(q) }
func (q packetQueue) Less(i, j int) bool {
	if q[i].due != q[j].due {
		return q[i].due < q[j].due
	}
	return q[i].seq < q[j].seq
}
func (q packetQueue) Swap(i, j int)       { q[i], q[j] = q[j], q[i] }
func (q *packetQueue) Push(x interface{}) { *q = append(*q, x.(*packet)) }
func (q *packetQueue) Pop() interface{} {
	old := *q
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return p
}

// network delivers marshaled messages between nodes 1..n with a delay per
// link, random jitter (which reorders messages), loss, duplication and
// cuts: a cut link drops everything sent over it, in one direction, so a
// symmetric partition is two cuts per pair of nodes.
type network struct {
	n      int
	delay  [][]int  // delay per link, in ticks (>= 1; >= 0 under the clock model)
	base   [][]int  // the delays the scenario drew, restored when faults end
	cut    [][]bool // cut[from][to]
	jitter int      // extra random delay in [0, jitter]
	loss   float64  // probability that a packet is lost
	dup    float64  // probability that a packet is duplicated
	queue  packetQueue
	seq    uint64
}

func newNetwork(n int) *network {
	nw := &network{n: n}
	nw.delay = make([][]int, n+1)
	nw.cut = make([][]bool, n+1)
	for i := range nw.delay {
		nw.delay[i] = make([]int, n+1)
		nw.cut[i] = make([]bool, n+1)
		for j := range nw.delay[i] {
			nw.delay[i][j] = 1
		}
	}
	return nw
}

// send queues data from from to to, at tick now. It returns the number of
// copies queued: 0 when the packet was lost or the link is cut.
func (nw *network) send(r *rand.Rand, now int, from, to uint64, typ pb.MessageType, data []byte) int {
	if nw.cut[from][to] || (nw.loss > 0 && r.Float64() < nw.loss) {
		return 0
	}
	copies := 1
	if nw.dup > 0 && r.Float64() < nw.dup {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		d := nw.delay[from][to]
		if nw.jitter > 0 {
			d += r.Intn(nw.jitter + 1)
		}
		nw.seq++
		heap.Push(&nw.queue, &packet{from: from, to: to, typ: typ, data: data, due: now + d, seq: nw.seq})
	}
	return copies
}

// due reports whether a packet is due at or before now.
func (nw *network) due(now int) bool {
	return len(nw.queue) > 0 && nw.queue[0].due <= now
}

// next pops the next packet due at or before now, or returns nil.
func (nw *network) next(now int) *packet {
	if len(nw.queue) == 0 || nw.queue[0].due > now {
		return nil
	}
	return heap.Pop(&nw.queue).(*packet)
}

// partition cuts every link between the nodes in group and the others,
// in both directions.
func (nw *network) partition(group []bool) {
	for i := 1; i <= nw.n; i++ {
		for j := 1; j <= nw.n; j++ {
			if group[i] != group[j] {
				nw.cut[i][j] = true
			}
		}
	}
}

// setBase records the current delays as the ones restoreDelays returns to.
func (nw *network) setBase() {
	nw.base = make([][]int, len(nw.delay))
	for i := range nw.delay {
		nw.base[i] = append([]int(nil), nw.delay[i]...)
	}
}

// restoreDelays undoes the delay faults: every link gets back the delay
// the scenario drew for it.
func (nw *network) restoreDelays() {
	for i := range nw.base {
		copy(nw.delay[i], nw.base[i])
	}
}

// heal removes every cut and reports whether there was any.
func (nw *network) heal() bool {
	healed := false
	for i := range nw.cut {
		for j := range nw.cut[i] {
			healed = healed || nw.cut[i][j]
			nw.cut[i][j] = false
		}
	}
	return healed
}
