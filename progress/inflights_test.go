package progress

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contents lists the window's entries from oldest to newest.
func contents(in *Inflights) []inflight {
	var out []inflight
	for i := 0; i < in.count; i++ {
		out = append(out, in.buffer[(in.start+i)%len(in.buffer)])
	}
	return out
}

func TestInflightsAllocateNothingUntilFirstAdd(t *testing.T) {
	in := NewInflights(256, 0)
	assert.Nil(t, in.buffer)
	assert.Zero(t, in.Count())
	assert.False(t, in.Full())
	in.Add(1, 10)
	assert.Len(t, in.buffer, 1)
}

func TestInflightsGrowByDoublingUpToTheLimit(t *testing.T) {
	in := NewInflights(10, 0)
	var sizes []int
	for i := uint64(1); i <= 10; i++ {
		in.Add(i, 1)
		sizes = append(sizes, len(in.buffer))
	}
	assert.Equal(t, []int{1, 2, 4, 4, 8, 8, 8, 8, 10, 10}, sizes)
	assert.True(t, in.Full())
	assert.Equal(t, 10, in.Count())
}

func TestInflightsFullByCount(t *testing.T) {
	in := NewInflights(3, 0)
	in.Add(1, 100)
	in.Add(2, 100)
	assert.False(t, in.Full())
	in.Add(3, 100)
	assert.True(t, in.Full())
	in.FreeLE(1)
	assert.False(t, in.Full())
}

func TestInflightsFullByBytes(t *testing.T) {
	in := NewInflights(10, 100)
	in.Add(1, 40)
	in.Add(2, 59)
	assert.False(t, in.Full(), "99 of 100 bytes")
	in.Add(3, 1)
	assert.True(t, in.Full(), "the sum reached the limit")
	in.FreeLE(1)
	assert.False(t, in.Full())
	assert.Equal(t, uint64(60), in.bytes)
}

func TestInflightsAdmitOversizedMessageWhenEmpty(t *testing.T) {
	in := NewInflights(10, 100)
	require.False(t, in.Full())
	in.Add(1, 1000)
	assert.True(t, in.Full())
	in.FreeLE(1)
	assert.False(t, in.Full())
	assert.Zero(t, in.bytes)
}

func TestInflightsFreeLE(t *testing.T) {
	tests := []struct {
		name    string
		to      uint64
		wantIdx []uint64
	}{
		{"below everything frees nothing", 0, []uint64{2, 4, 6, 8}},
		{"between entries frees the older ones", 5, []uint64{6, 8}},
		{"exact index frees it", 4, []uint64{6, 8}},
		{"past everything frees all", 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := NewInflights(4, 0)
			for i := uint64(2); i <= 8; i += 2 {
				in.Add(i, i)
			}
			in.FreeLE(tt.to)
			var got []uint64
			var bytes uint64
			for _, e := range contents(in) {
				got = append(got, e.index)
				bytes += e.bytes
			}
			assert.Equal(t, tt.wantIdx, got)
			assert.Equal(t, len(tt.wantIdx), in.Count())
			assert.Equal(t, bytes, in.bytes)
		})
	}
}

func TestInflightsWrapAround(t *testing.T) {
	in := NewInflights(4, 0)
	for i := uint64(1); i <= 4; i++ {
		in.Add(i, 1)
	}
	in.FreeLE(2)
	in.Add(5, 1)
	in.Add(6, 1)
	require.True(t, in.Full())
	assert.Equal(t, 2, in.start, "the ring wrapped around")
	assert.Equal(t, []inflight{{3, 1}, {4, 1}, {5, 1}, {6, 1}}, contents(in))

	in.FreeLE(5)
	assert.Equal(t, []inflight{{6, 1}}, contents(in))
	assert.Equal(t, 1, in.start)
	in.FreeLE(6)
	assert.Zero(t, in.Count())
	assert.Zero(t, in.start, "an empty window restarts at the front")
}

func TestInflightsGrowWhileWrapped(t *testing.T) {
	in := NewInflights(8, 0)
	for i := uint64(1); i <= 4; i++ {
		in.Add(i, 1)
	}
	require.Len(t, in.buffer, 4)
	in.FreeLE(2)
	in.Add(5, 1)
	in.Add(6, 1) // the ring is full at length 4 and wrapped
	in.Add(7, 1) // grows while wrapped
	assert.Len(t, in.buffer, 8)
	assert.Equal(t, []inflight{{3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1}}, contents(in))
	assert.Zero(t, in.start)
}

func TestInflightsAddToFullWindowKeepsTrack(t *testing.T) {
	in := NewInflights(2, 0)
	in.Add(1, 1)
	in.Add(2, 1)
	require.True(t, in.Full())
	in.Add(3, 1)
	assert.Equal(t, 3, in.Count())
	assert.True(t, in.Full())
	in.FreeLE(2)
	assert.Equal(t, []inflight{{3, 1}}, contents(in))
	assert.False(t, in.Full())
}

func TestInflightsCloneIsIndependent(t *testing.T) {
	in := NewInflights(4, 0)
	in.Add(1, 10)
	in.Add(2, 20)
	c := in.Clone()
	in.FreeLE(1)
	in.Add(3, 30)
	assert.Equal(t, 2, c.Count())
	assert.Equal(t, uint64(30), c.bytes)
	assert.Equal(t, []inflight{{1, 10}, {2, 20}}, contents(c))
	c.Add(9, 1)
	assert.Equal(t, []inflight{{2, 20}, {3, 30}}, contents(in))

	empty := NewInflights(4, 5).Clone()
	assert.Nil(t, empty.buffer)
	assert.Equal(t, uint64(5), empty.maxBytes)
}

func TestInflightsResetEmptiesTheWindow(t *testing.T) {
	in := NewInflights(2, 0)
	in.Add(1, 1)
	in.Add(2, 1)
	in.reset()
	assert.Zero(t, in.Count())
	assert.False(t, in.Full())
	in.Add(3, 1)
	assert.Equal(t, []inflight{{3, 1}}, contents(in))
}

func TestNilInflightsReadsAsAnEmptyWindow(t *testing.T) {
	var in *Inflights
	assert.Zero(t, in.Count())
	assert.False(t, in.Full())
	assert.Nil(t, in.Clone())
	assert.NotPanics(t, func() { in.FreeLE(10) })
	assert.PanicsWithValue(t, "raft: Inflights.Add on a nil window: the progress must get a window before it sends in StateReplicate",
		func() { in.Add(1, 1) })
}
