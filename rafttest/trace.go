package rafttest

import (
	"fmt"
	"hash"
	"hash/fnv"
)

// event is one line of a run's trace: what happened, at which tick, to
// which node. A run hashes every event, so two runs of a seed can be
// compared byte for byte, and keeps the last ones to explain a violation.
type event struct {
	tick int
	node uint64
	what string
	a, b uint64
	c    string
}

func (e event) String() string {
	s := fmt.Sprintf("t=%d n=%d %s", e.tick, e.node, e.what)
	if e.a != 0 || e.b != 0 {
		s += fmt.Sprintf(" %d %d", e.a, e.b)
	}
	if e.c != "" {
		s += " " + e.c
	}
	return s
}

// trace is a ring of the last events and a running hash of all of them.
type trace struct {
	ring  []event
	next  int
	full  bool
	h     hash.Hash64
	buf   []byte
	count int
}

func newTrace(size int) *trace {
	if size <= 0 {
		size = 1
	}
	return &trace{ring: make([]event, size), h: fnv.New64a()}
}

func (t *trace) add(e event) {
	t.count++
	b := t.buf[:0]
	b = appendUint(b, uint64(e.tick))
	b = appendUint(b, e.node)
	b = append(b, e.what...)
	b = append(b, 0)
	b = appendUint(b, e.a)
	b = appendUint(b, e.b)
	b = append(b, e.c...)
	b = append(b, 0)
	t.buf = b
	_, _ = t.h.Write(b)
	t.ring[t.next] = e
	t.next++
	if t.next == len(t.ring) {
		t.next = 0
		t.full = true
	}
}

// last returns the kept events, oldest first, formatted.
func (t *trace) last() []string {
	var out []string
	if t.full {
		for _, e := range t.ring[t.next:] {
			out = append(out, e.String())
		}
	}
	for _, e := range t.ring[:t.next] {
		out = append(out, e.String())
	}
	return out
}

func appendUint(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}
