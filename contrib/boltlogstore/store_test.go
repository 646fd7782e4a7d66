package boltlogstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

func ents(term uint64, lo, hi uint64) []pb.Entry {
	var es []pb.Entry
	for i := lo; i <= hi; i++ {
		es = append(es, pb.Entry{Term: term, Index: i, Data: []byte(fmt.Sprintf("t%d-i%d", term, i))})
	}
	return es
}

func readAll(t *testing.T, st raft.Storage) (pb.HardState, []pb.Entry, uint64) {
	hs, _, err := st.InitialState()
	require.NoError(t, err)
	first, err := st.FirstIndex()
	require.NoError(t, err)
	last, err := st.LastIndex()
	require.NoError(t, err)
	var es []pb.Entry
	if last >= first {
		es, err = st.Entries(first, last+1, ^uint64(0))
		require.NoError(t, err)
	}
	return hs, es, first
}

func TestSaveSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Save([]multiraft.Update{
		{Group: 1, Entries: ents(1, 1, 5), HardState: pb.HardState{Term: 1, Vote: 1, Commit: 3}, MustSync: true},
		{Group: 2, Entries: ents(1, 1, 2), HardState: pb.HardState{Term: 1, Commit: 1}, MustSync: true},
	}))
	// Group 1: a new leader's entries replace the tail from index 4.
	// Group 3: starts from a snapshot.
	require.NoError(t, s.Save([]multiraft.Update{
		{Group: 1, Entries: ents(2, 4, 6), HardState: pb.HardState{Term: 2, Vote: 2, Commit: 5}, MustSync: true},
		{Group: 3, Snapshot: pb.Snapshot{Data: []byte("s"), Metadata: pb.SnapshotMetadata{Index: 10, Term: 4, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}},
			Entries: ents(4, 11, 12), HardState: pb.HardState{Term: 4, Commit: 12}, MustSync: true},
	}))
	assert.Equal(t, uint64(2), s.Saves())
	require.NoError(t, s.Compact(2, pb.Snapshot{Data: []byte("g2"), Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1}}}}))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	gs, err := s.Groups()
	require.NoError(t, err)
	assert.ElementsMatch(t, []multiraft.GroupID{1, 2, 3}, gs)

	st, err := s.Storage(1)
	require.NoError(t, err)
	hs, es, first := readAll(t, st)
	assert.Equal(t, pb.HardState{Term: 2, Vote: 2, Commit: 5}, hs)
	assert.Equal(t, uint64(1), first)
	assert.Equal(t, append(ents(1, 1, 3), ents(2, 4, 6)...), es)

	st, err = s.Storage(2)
	require.NoError(t, err)
	hs, es, first = readAll(t, st)
	assert.Equal(t, uint64(2), first, "compacted through 1")
	assert.Equal(t, ents(1, 2, 2), es)
	snap, err := st.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, []byte("g2"), snap.Data)
	assert.Equal(t, uint64(1), hs.Commit)

	st, err = s.Storage(3)
	require.NoError(t, err)
	_, es, first = readAll(t, st)
	assert.Equal(t, uint64(11), first)
	assert.Equal(t, ents(4, 11, 12), es)
	snap, err = st.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(10), snap.Metadata.Index)

	require.NoError(t, s.Remove(2))
	gs, err = s.Groups()
	require.NoError(t, err)
	assert.ElementsMatch(t, []multiraft.GroupID{1, 3}, gs)
}

// The crash test: a child process saves batches of 20 groups in a loop and
// prints each batch's number once Save returned; the parent kills it with
// SIGKILL in the middle and checks that every printed batch is in the file.
const crashEnv = "BOLTLOGSTORE_CRASH_PATH"

// TestMain runs the crash test's child instead of the tests when the
// parent started this binary for it.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashWriter(path)
	}
	os.Exit(m.Run())
}

// crashWriter is the child of TestCrashKeepsEverySavedBatch: it saves
// batches until it is killed, and exits with status 2 on any error.
func crashWriter(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := uint64(1); ; i++ {
		var ups []multiraft.Update
		for g := multiraft.GroupID(1); g <= 20; g++ {
			ups = append(ups, multiraft.Update{Group: g, Entries: ents(1, i, i), HardState: pb.HardState{Term: 1, Commit: i}, MustSync: true})
		}
		if err := s.Save(ups); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "acked %d\n", i)
		w.Flush()
	}
}

func TestCrashKeepsEverySavedBatch(t *testing.T) {
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		var acked uint64
		sc := bufio.NewScanner(out)
		target := uint64(30 * (round + 1))
		deadline := time.Now().Add(30 * time.Second)
		for sc.Scan() && time.Now().Before(deadline) {
			if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				acked, _ = strconv.ParseUint(n, 10, 64)
				if acked >= target {
					break
				}
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		require.GreaterOrEqual(t, acked, target, "the writer made progress")

		s, err := Open(path)
		require.NoError(t, err)
		for g := multiraft.GroupID(1); g <= 20; g++ {
			st, err := s.Storage(g)
			require.NoError(t, err)
			hs, es, first := readAll(t, st)
			assert.Equal(t, uint64(1), first)
			require.GreaterOrEqual(t, uint64(len(es)), acked, "group %d lost acknowledged entries", g)
			for i, e := range es {
				require.Equal(t, uint64(i+1), e.Index, "group %d: gap", g)
			}
			assert.GreaterOrEqual(t, hs.Commit, acked)
			assert.Equal(t, uint64(len(es)), hs.Commit, "entries and HardState of a batch are written together")
		}
		require.NoError(t, s.Close())
		t.Logf("round %d: killed after %d acknowledged batches", round, acked)
	}
}
