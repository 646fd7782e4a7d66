package raftpb

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzUnmarshal seeds f with every wire vector (those of kind first, then
// the others, which are plausible bytes too) and checks, for any input,
// that Unmarshal into a fresh value either fails or yields a value that
// re-marshals (with Size equal to the length) and decodes to the same
// value, whose encoding is then a fixed point.
func fuzzUnmarshal[T any, P interface {
	*T
	wireMessage
}](f *testing.F, kind string) {
	vs := loadWireVectors(f)
	for _, own := range []bool{true, false} {
		for _, v := range vs {
			if (v.Kind == kind) != own {
				continue
			}
			data, err := hex.DecodeString(v.Hex)
			require.NoError(f, err)
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := P(new(T))
		if err := m.Unmarshal(data); err != nil {
			return
		}
		enc, err := m.Marshal()
		require.NoError(t, err)
		require.Equal(t, len(enc), m.Size())
		m2 := P(new(T))
		require.NoError(t, m2.Unmarshal(enc))
		require.Equal(t, m, m2)
		enc2, err := m2.Marshal()
		require.NoError(t, err)
		require.Equal(t, enc, enc2)
	})
}

func FuzzMessage(f *testing.F)      { fuzzUnmarshal[Message](f, "Message") }
func FuzzEntry(f *testing.F)        { fuzzUnmarshal[Entry](f, "Entry") }
func FuzzHardState(f *testing.F)    { fuzzUnmarshal[HardState](f, "HardState") }
func FuzzSnapshot(f *testing.F)     { fuzzUnmarshal[Snapshot](f, "Snapshot") }
func FuzzConfChange(f *testing.F)   { fuzzUnmarshal[ConfChange](f, "ConfChange") }
func FuzzConfChangeV2(f *testing.F) { fuzzUnmarshal[ConfChangeV2](f, "ConfChangeV2") }
