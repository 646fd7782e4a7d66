package raft

import (
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seqSource is a rand.Source that yields vals in turn and counts the draws.
type seqSource struct {
	vals  []uint64
	draws int
}

func (s *seqSource) Uint64() uint64 {
	v := s.vals[s.draws%len(s.vals)]
	s.draws++
	return v
}

// countingReader is an io.Reader of zeros that counts its reads.
type countingReader struct{ reads int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.reads++
	clear(p)
	return len(p), nil
}

// withCryptoReader replaces crypto/rand.Reader with r for the rest of the
// test. Tests that call it must not run in parallel.
func withCryptoReader(t *testing.T, r *countingReader) {
	prev := crand.Reader
	crand.Reader = r
	t.Cleanup(func() { crand.Reader = prev })
}

func newRandTestNode(t *testing.T, src rand.Source) *RawNode {
	cfg := newTestConfig(1, 10, 1, newTestStorage(t, voters(1, 2, 3)))
	cfg.Rand = src
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	return rn
}

func TestConfigRandDrawsTheRandomizedElectionTimeout(t *testing.T) {
	src := &seqSource{vals: []uint64{7, 13, 1<<63 + 4}}
	rn := newRandTestNode(t, src)
	require.Equal(t, 1, src.draws, "the node drew its first timeout at start")
	assert.Equal(t, 10+7, rn.raft.randomizedElectionTimeout)

	rn.raft.becomeCandidate()
	assert.Equal(t, 10+13%10, rn.raft.randomizedElectionTimeout)
	rn.raft.becomeFollower(rn.raft.Term, None)
	assert.Equal(t, 10+int((1<<63+4)%10), rn.raft.randomizedElectionTimeout)
	assert.Equal(t, 3, src.draws, "one draw per reset of the election timer")
}

func TestConfigRandSeededSourcesReplayTheSameTimeouts(t *testing.T) {
	timeouts := func() []int {
		rn := newRandTestNode(t, rand.NewPCG(1, 2))
		var out []int
		for i := 0; i < 50; i++ {
			rn.raft.becomeFollower(rn.raft.Term+1, None)
			out = append(out, rn.raft.randomizedElectionTimeout)
		}
		return out
	}
	a := timeouts()
	assert.Equal(t, a, timeouts())
	seen := map[int]bool{}
	for _, to := range a {
		require.GreaterOrEqual(t, to, 10)
		require.Less(t, to, 20)
		seen[to] = true
	}
	assert.Greater(t, len(seen), 5, "the timeouts are spread over [ElectionTick, 2*ElectionTick)")
}

// TestConfigRandMatchesTheCryptoReaderItReplaces pins the compatibility of
// the two sources: a Rand that yields, as little-endian words, the bytes a
// substituted crypto/rand.Reader would have yielded gives the same
// timeouts, so simulations that moved from substituting the reader to
// Config.Rand replay the same runs.
func TestConfigRandMatchesTheCryptoReaderItReplaces(t *testing.T) {
	words := []uint64{3, 0xfedcba9876543210, 12345, 1<<64 - 1, 99}
	var stream []byte
	for _, w := range words {
		stream = binary.LittleEndian.AppendUint64(stream, w)
	}
	viaSource := newRandTestNode(t, &seqSource{vals: words})
	viaReader := newRandTestNode(t, &seqSource{vals: []uint64{0}})
	r := &byteReader{b: stream}
	viaReader.raft.setRandIntn(func(n int) int {
		prev := crand.Reader
		crand.Reader = r
		defer func() { crand.Reader = prev }()
		return randIntn(n)
	})
	viaReader.raft.resetRandomizedElectionTimeout()
	assert.Equal(t, viaReader.raft.randomizedElectionTimeout, viaSource.raft.randomizedElectionTimeout, "draw 0")
	for i := 1; i < len(words); i++ {
		viaSource.raft.becomeFollower(uint64(i), None)
		viaReader.raft.becomeFollower(uint64(i), None)
		assert.Equal(t, viaReader.raft.randomizedElectionTimeout, viaSource.raft.randomizedElectionTimeout, "draw %d", i)
	}
}

// byteReader reads b, then fails.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestConfigRandLeavesCryptoRandAlone(t *testing.T) {
	cr := &countingReader{}
	withCryptoReader(t, cr)
	rn := newRandTestNode(t, rand.NewPCG(3, 4))
	for i := 0; i < 30; i++ {
		rn.Tick()
	}
	require.Equal(t, StateCandidate, rn.raft.state, "the node campaigned")
	rn.raft.becomeFollower(rn.raft.Term, None)
	assert.Zero(t, cr.reads, "crypto/rand.Reader was not read")
}

func TestNilConfigRandReadsCryptoRandAtEveryDraw(t *testing.T) {
	cr := &countingReader{}
	withCryptoReader(t, cr)
	rn := newRandTestNode(t, nil)
	require.Equal(t, 1, cr.reads, "the first timeout came from crypto/rand.Reader")
	assert.Equal(t, 10, rn.raft.randomizedElectionTimeout, "zero bytes draw no extra ticks")
	rn.raft.becomeFollower(rn.raft.Term+1, None)
	assert.Equal(t, 2, cr.reads)
}

// BenchmarkElectionTimeoutDraw measures one reset of the randomized
// election timeout, drawn from crypto/rand.Reader (Config.Rand nil) and
// from a math/rand/v2 source.
func BenchmarkElectionTimeoutDraw(b *testing.B) {
	for _, bc := range []struct {
		name string
		src  rand.Source
	}{{"crypto", nil}, {"pcg", rand.NewPCG(1, 2)}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := newTestConfig(1, 10, 1, NewMemoryStorage())
			cfg.Rand = bc.src
			rn, err := NewRawNode(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rn.raft.resetRandomizedElectionTimeout()
			}
		})
	}
}
