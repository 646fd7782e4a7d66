package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// dropLogTail deletes the last n entries of a stopped member's log and
// keeps its HardState: a disk whose fsyncs lied about the end of the log.
// It returns the new last index and the HardState's commit index.
func dropLogTail(t *testing.T, dir string, n uint64) (last, commit uint64) {
	t.Helper()
	st, err := openBoltStorage(filepath.Join(dir, "raft.db"))
	require.NoError(t, err)
	defer st.Close()
	hs, _, err := st.InitialState()
	require.NoError(t, err)
	last, err = st.LastIndex()
	require.NoError(t, err)
	first, err := st.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, last-first, n, "the log holds more than the entries to drop")
	require.NoError(t, st.db.Update(func(tx *bolt.Tx) error { return deleteRange(tx.Bucket(bucketEntries), last-n+1, last+1) }))
	return last - n, hs.Commit
}

// waitRecovery polls member id's status until cond holds for its
// quarantine (nil when it has none).
func (c *testCluster) waitRecovery(ctx context.Context, id uint64, what string, cond func(*recoveryView) bool) *recoveryView {
	c.t.Helper()
	for {
		st, err := c.status(ctx, id)
		if err == nil && cond(st.Recovery) {
			return st.Recovery
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("member %d: %s: %v (last status %+v, %v)", id, what, ctx.Err(), st, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeKeys writes n keys named prefix00.. through the members in turn
// and records them in acked.
func (c *testCluster) writeKeys(ctx context.Context, prefix string, n int, via []uint64, acked map[string]string) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("%s%02d", prefix, i), fmt.Sprintf("v-%s%02d", prefix, i)
		require.True(c.t, c.put(ctx, via[i%len(via)], k, v), "write %s", k)
		acked[k] = v
	}
}

// others returns the members of a three-member cluster other than id.
func others(id uint64) []uint64 { return []uint64{id%3 + 1, (id+1)%3 + 1} }

// TestMemberWhoseLogLostItsTailRejoinsQuarantined is the restart procedure
// after an fsync that lied: the member's log ends below the commit index
// its HardState records. etcd raft panics at restart ("tocommit(N) is out
// of range"); the member starts quarantined instead, persists the
// quarantine, and leaves it through the leader's fence (a raftkit leader
// appends an entry after the loss and commits it without the member); the
// cluster never loses an acknowledged write.
func TestMemberWhoseLogLostItsTailRejoinsQuarantined(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newTestCluster(t)
	c.tune = func(cfg *memberConfig) { cfg.SnapshotCount = 1000 }
	c.startAll(1, 2, 3)
	leader := c.waitLeader(ctx, 1, 2, 3)
	acked := make(map[string]string)
	c.writeKeys(ctx, "a", 12, []uint64{1, 2, 3}, acked)

	// The whole cluster stops; the victim's disk lost the end of its log.
	victim := leader%3 + 1
	for id := uint64(1); id <= 3; id++ {
		c.members[id].Crash()
	}
	last, commit := dropLogTail(t, c.members[victim].cfg.DataDir, 4)
	require.Greater(t, commit, last, "the HardState commits beyond the log that is left")

	// The victim comes back first: alone, it cannot be fenced.
	c.restart(victim, false)
	rec := c.waitRecovery(ctx, victim, "quarantined at restart", func(r *recoveryView) bool { return r != nil })
	assert.Equal(t, "StateLoss", rec.Kind, "bbolt writes the HardState with the entries: the vote may be lost too")
	assert.Equal(t, "CauseRestart", rec.Cause)
	assert.Equal(t, last+1, rec.LostFrom)
	assert.Equal(t, commit, rec.LostTo)
	assert.NotEmpty(t, rec.WaitingFor)
	saved, err := c.members[victim].storage.Recovery()
	require.NoError(t, err)
	require.NotNil(t, saved)
	assert.True(t, saved.Quarantined, "the quarantine is on disk: a crash now resumes it")

	// The others come back and elect a leader without the victim, whose
	// handshake fences it; it catches up and the cluster keeps serving.
	for _, id := range others(victim) {
		c.restart(id, false)
	}
	c.waitRecovery(ctx, victim, "fenced by the leader", func(r *recoveryView) bool { return r == nil })
	saved, err = c.members[victim].storage.Recovery()
	require.NoError(t, err)
	assert.False(t, saved.Quarantined, "the end of the quarantine is on disk too")
	c.writeKeys(ctx, "b", 6, []uint64{1, 2, 3}, acked)
	for k, v := range acked {
		c.eventuallyGet(ctx, victim, k, v, true)
	}
	for k, v := range acked {
		c.eventuallyGet(ctx, c.waitLeader(ctx, 1, 2, 3), k, v, false)
	}
}

// TestWipedMemberDeclaresItsLossInsteadOfBootstrapping is the procedure
// for a data directory wiped (or restored from a backup) under the same
// member ID: raft cannot see that loss, so the operator restarts the
// member with --declare-lost-state. Without it, an empty directory would
// bootstrap a new cluster; with it, the member rejoins quarantined, the
// declaration survives a restart without the flag, and the leader's fence
// ends it once the member has caught up.
func TestWipedMemberDeclaresItsLossInsteadOfBootstrapping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newTestCluster(t)
	c.startAll(1, 2, 3)
	leader := c.waitLeader(ctx, 1, 2, 3)
	acked := make(map[string]string)
	c.writeKeys(ctx, "a", 12, []uint64{1, 2, 3}, acked)

	victim := leader%3 + 1
	for id := uint64(1); id <= 3; id++ {
		c.members[id].Crash()
	}
	require.NoError(t, os.RemoveAll(c.members[victim].cfg.DataDir))

	c.tune = func(cfg *memberConfig) { cfg.DeclareLostState = cfg.ID == victim }
	c.restart(victim, false)
	c.tune = nil
	rec := c.waitRecovery(ctx, victim, "quarantined as declared", func(r *recoveryView) bool { return r != nil })
	assert.Equal(t, "StateLoss", rec.Kind)
	assert.Equal(t, "CauseDeclared", rec.Cause)

	// The declaration is on disk: a restart without the flag resumes it.
	c.members[victim].Crash()
	c.restart(victim, false)
	rec = c.waitRecovery(ctx, victim, "quarantine resumed", func(r *recoveryView) bool { return r != nil })
	assert.Equal(t, "CauseDeclared", rec.Cause)

	for _, id := range others(victim) {
		c.restart(id, false)
	}
	c.waitRecovery(ctx, victim, "fenced by the leader", func(r *recoveryView) bool { return r == nil })
	c.writeKeys(ctx, "b", 4, others(victim), acked)
	for k, v := range acked {
		c.eventuallyGet(ctx, victim, k, v, true)
	}
	st, err := c.status(ctx, victim)
	require.NoError(t, err)
	assert.Len(t, st.Members, 3, "the member rejoined the cluster it had left, not a new one of its own")
}
