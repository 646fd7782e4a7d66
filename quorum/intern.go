package quorum

import "sync"

// Interning: a process that runs many Raft groups (one per shard, say)
// usually gives them few distinct member sets, and every group would
// otherwise hold its own copy of the same small map. Intern hands out one
// shared map per distinct set instead.
//
// A set obtained from Intern is shared between groups, possibly running on
// different goroutines, so it must never be modified: code that changes a
// configuration copies it first (confchange does so, and documents that it
// never changes its input), and whatever hands a configuration out to
// users hands out a copy (raft's Status clones it).

const (
	// maxInternedSet is the size of the largest set that Intern shares.
	// Bigger sets are rare, and comparing them would cost more than they
	// save.
	maxInternedSet = 7
	// maxInterned bounds the number of distinct sets shared. Past it,
	// Intern returns its argument: a set that is not shared costs some
	// memory, never correctness.
	maxInterned = 4096
)

// internKey identifies a set of up to maxInternedSet IDs: the IDs in
// ascending order, padded with zeros, and their count.
type internKey struct {
	n   int
	ids [maxInternedSet]uint64
}

var interned struct {
	sync.RWMutex
	sets map[internKey]MajorityConfig
}

// Intern returns a set equal to c that is shared with every other caller
// interning an equal set, or c itself when c is empty, has more than seven
// members, or the table of shared sets is full. The result must never be
// modified; neither may c be once it was passed here, if the caller keeps
// using it alongside the result. Intern is safe for concurrent use.
func Intern(c MajorityConfig) MajorityConfig {
	if len(c) == 0 || len(c) > maxInternedSet {
		return c
	}
	k := internKey{n: len(c)}
	i := 0
	for id := range c {
		k.ids[i] = id
		i++
	}
	// Insertion sort: n is small, and it keeps the key on the stack.
	for i := 1; i < k.n; i++ {
		for j := i; j > 0 && k.ids[j-1] > k.ids[j]; j-- {
			k.ids[j-1], k.ids[j] = k.ids[j], k.ids[j-1]
		}
	}

	interned.RLock()
	s, ok := interned.sets[k]
	interned.RUnlock()
	if ok {
		return s
	}

	interned.Lock()
	defer interned.Unlock()
	if s, ok := interned.sets[k]; ok {
		return s
	}
	if len(interned.sets) >= maxInterned {
		return c
	}
	if interned.sets == nil {
		interned.sets = make(map[internKey]MajorityConfig)
	}
	// A private copy: the caller's map stays the caller's.
	s = make(MajorityConfig, k.n)
	for _, id := range k.ids[:k.n] {
		s[id] = struct{}{}
	}
	interned.sets[k] = s
	return s
}
