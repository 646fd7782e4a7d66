package quorum

import (
	"reflect"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// same reports whether a and b are the same map, not merely equal ones.
func same(a, b MajorityConfig) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestInternSharesEqualSets(t *testing.T) {
	a := MajorityConfig{11: {}, 12: {}, 13: {}}
	b := MajorityConfig{13: {}, 11: {}, 12: {}}
	ia, ib := Intern(a), Intern(b)
	assert.Equal(t, a, ia)
	assert.True(t, same(ia, ib), "equal sets share one map")
	assert.False(t, same(ia, a), "the shared map is a private copy, not the caller's")

	c := Intern(MajorityConfig{11: {}, 12: {}})
	assert.Equal(t, MajorityConfig{11: {}, 12: {}}, c)
	assert.False(t, same(ia, c), "a different set is not shared")
	d := Intern(MajorityConfig{0: {}, 11: {}, 12: {}})
	assert.False(t, same(c, d), "ID 0 counts as a member")
}

func TestInternLeavesEmptyAndLargeSetsAlone(t *testing.T) {
	assert.Nil(t, Intern(nil))
	empty := MajorityConfig{}
	assert.True(t, same(empty, Intern(empty)))
	big := MajorityConfig{}
	for id := uint64(1); id <= 8; id++ {
		big[id] = struct{}{}
	}
	assert.True(t, same(big, Intern(big)), "sets over seven members are not shared")
}

func TestInternStopsSharingWhenTheTableIsFull(t *testing.T) {
	for i := uint64(0); ; i++ {
		interned.RLock()
		n := len(interned.sets)
		interned.RUnlock()
		if n >= maxInterned {
			break
		}
		Intern(MajorityConfig{1 << 40: {}, 1<<40 + i: {}})
	}
	fresh := MajorityConfig{1 << 50: {}, 1<<50 + 1: {}}
	assert.True(t, same(fresh, Intern(fresh)), "a full table hands the set back")
	interned.RLock()
	assert.Equal(t, maxInterned, len(interned.sets))
	interned.RUnlock()
}

// Run with -race: groups on many goroutines intern sets at once.
func TestInternIsSafeForConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	results := make([]MajorityConfig, 8)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s := Intern(MajorityConfig{21: {}, 22: {}, uint64(23 + i%5): {}})
				_, ok := s[21]
				require.True(t, ok)
			}
			results[g] = Intern(MajorityConfig{21: {}, 22: {}, 23: {}})
		}()
	}
	wg.Wait()
	for _, r := range results[1:] {
		assert.Equal(t, results[0], r)
	}
}
