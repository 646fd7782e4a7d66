package multiraft

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The hosts run on their own goroutines with real tickers: the run loop,
// the workers and the transport's callbacks race for real here.
func TestStartedHostsCommitInEveryGroup(t *testing.T) {
	c := newTestCluster(t, 3, 50, func(hc *HostConfig) { hc.TickInterval = 2 * time.Millisecond })
	for _, h := range c.hosts {
		h.Start()
	}
	defer func() {
		for _, h := range c.hosts {
			h.Stop()
		}
	}()
	// A proposal a leader accepted can still be lost (the leader steps down
	// before it commits, on a loaded machine): one that has not committed
	// everywhere within a second is made again, so a group may apply it
	// more than once, each replica the same times.
	proposed := map[GroupID]time.Time{}
	committed := func(g GroupID) bool {
		for id := range c.hosts {
			if len(c.appliedOn(id, g)) == 0 {
				return false
			}
		}
		return true
	}
	require.Eventually(t, func() bool {
		done := true
		for _, g := range c.groups {
			if committed(g) {
				continue
			}
			done = false
			if at, ok := proposed[g]; ok && time.Since(at) < time.Second {
				continue
			}
			for _, h := range c.hosts {
				st, err := h.Status(g)
				require.NoError(t, err)
				if st.RaftState.String() == "StateLeader" && h.Propose(g, []byte(fmt.Sprint(g))) == nil {
					proposed[g] = time.Now()
				}
			}
		}
		return done
	}, 10*time.Second, 5*time.Millisecond)
	for _, g := range c.groups {
		require.Eventually(t, func() bool {
			var first []string
			seen := false
			for id := range c.hosts {
				if !seen {
					first, seen = c.appliedOn(id, g), true
				} else if !slices.Equal(first, c.appliedOn(id, g)) {
					return false
				}
			}
			return true
		}, 10*time.Second, 5*time.Millisecond, "group %d: every replica applies the same entries", g)
		for id := range c.hosts {
			applied := c.appliedOn(id, g)
			require.NotEmpty(t, applied)
			for _, a := range applied {
				require.Equal(t, fmt.Sprint(g), a, "group %d applies only its own proposal", g)
			}
		}
	}
	for _, h := range c.hosts {
		require.NoError(t, h.Err())
	}
}

// Started hosts with quiescence: groups go quiet, and proposals made from
// other goroutines (at leaders and followers) wake them and commit.
func TestStartedHostsQuiesceAndWake(t *testing.T) {
	c := newTestCluster(t, 3, 30**scale, func(hc *HostConfig) {
		hc.TickInterval = 2 * time.Millisecond
		hc.Quiescence = true
	})
	for _, h := range c.hosts {
		h.Start()
	}
	defer func() {
		for _, h := range c.hosts {
			h.Stop()
		}
	}()
	allQuiet := func() bool {
		for _, h := range c.hosts {
			if h.Stats().Awake != 0 {
				return false
			}
		}
		return true
	}
	// Every replica knows its leader before the first round, so that no
	// forwarded proposal is lost to an election.
	require.Eventually(t, func() bool {
		for _, g := range c.groups {
			for _, h := range c.hosts {
				if st, err := h.Status(g); err != nil || st.Lead == 0 {
					return false
				}
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	for round := 0; round < 3; round++ {
		for _, g := range c.groups {
			d := fmt.Sprintf("g%d-%d", g, round)
			require.Eventually(t, func() bool {
				return c.hosts[HostID(1+(int(g)+round)%3)].Propose(g, []byte(d)) == nil
			}, 10*time.Second, time.Millisecond)
		}
		require.Eventually(t, func() bool {
			for _, g := range c.groups {
				for id := range c.hosts {
					if len(c.appliedOn(id, g)) < round+1 {
						return false
					}
				}
			}
			return true
		}, 10*time.Second, 5*time.Millisecond)
		require.Eventually(t, allQuiet, 10*time.Second, 5*time.Millisecond)
	}
	for _, h := range c.hosts {
		require.NoError(t, h.Err())
	}
}
