package raftpb

import (
	"encoding/hex"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeTargets are the types a peer's bytes are decoded into; each names a
// varint field and a length-delimited field by their keys.
var decodeTargets = []struct {
	kind        string
	varint      string // key of a known varint field
	varintWrong string // the same field number with wire type 2
	bytesKey    string // key of a known length-delimited field
	bytesWrong  string // the same field number with wire type 0
}{
	{"Message", "08", "0a", "62", "60"},
	{"Entry", "08", "0a", "22", "20"},
	{"HardState", "08", "0a", "", ""},
	{"Snapshot", "", "", "0a", "08"},
	{"ConfChange", "08", "0a", "22", "20"},
	{"ConfChangeV2", "08", "0a", "1a", "18"},
}

const (
	overflowVarint = "ffffffffffffffffffff01" // 11 bytes: past 64 bits
	negativeLength = "80808080808080808001"   // 1<<63: negative as an int
	hugeLength     = "8080808080808001"       // 1<<49 bytes claimed in a short input
)

func TestMalformedInputIsAnErrorNotAPanic(t *testing.T) {
	for _, tgt := range decodeTargets {
		type tc struct {
			name, hex string
			want      error // nil: any error
		}
		cases := []tc{
			{"key varint overflows", overflowVarint, ErrIntOverflowRaft},
			{"key truncated", "80", io.ErrUnexpectedEOF},
			{"field number zero", "0000", nil},
			{"end group without start", "0c", nil},
			{"wire type 6", "0e", nil},
			{"wire type 7", "0f", nil},
			{"unknown varint overflows", "78" + overflowVarint, ErrIntOverflowRaft},
			{"unknown varint truncated", "78ff", io.ErrUnexpectedEOF},
			{"unknown bytes truncated", "7a0501", io.ErrUnexpectedEOF},
			{"unknown bytes negative length", "7a" + negativeLength, ErrInvalidLengthRaft},
			{"unknown bytes huge length", "7a" + hugeLength, io.ErrUnexpectedEOF},
			{"unknown fixed64 truncated", "790102", io.ErrUnexpectedEOF},
			{"unknown fixed32 truncated", "7d01", io.ErrUnexpectedEOF},
			{"unknown group never closed", "7b", nil},
		}
		if tgt.varint != "" {
			cases = append(cases,
				tc{"known varint overflows", tgt.varint + overflowVarint, ErrIntOverflowRaft},
				tc{"known varint truncated", tgt.varint + "8080", io.ErrUnexpectedEOF},
				tc{"known varint field with bytes wire type", tgt.varintWrong + "0101", nil},
			)
		}
		if tgt.bytesKey != "" {
			cases = append(cases,
				tc{"known bytes truncated", tgt.bytesKey + "0561", io.ErrUnexpectedEOF},
				tc{"known bytes length truncated", tgt.bytesKey + "80", io.ErrUnexpectedEOF},
				tc{"known bytes negative length", tgt.bytesKey + negativeLength, ErrInvalidLengthRaft},
				tc{"known bytes huge length", tgt.bytesKey + hugeLength, io.ErrUnexpectedEOF},
				tc{"known bytes field with varint wire type", tgt.bytesWrong + "01", nil},
			)
		}
		for _, c := range cases {
			t.Run(tgt.kind+"/"+c.name, func(t *testing.T) {
				data, err := hex.DecodeString(c.hex)
				require.NoError(t, err)
				m, err := newWireMessage(tgt.kind)
				require.NoError(t, err)
				require.NotPanics(t, func() { err = m.Unmarshal(data) })
				require.Error(t, err)
				if c.want != nil {
					assert.ErrorIs(t, err, c.want)
				}
			})
		}
	}
}

func TestWrongWireTypeErrorNamesTheField(t *testing.T) {
	var e Entry
	err := e.Unmarshal([]byte{0x0a, 0x00}) // field 1 (Type) as bytes
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wrong wireType = 2 for field Type")
}

func TestMalformedNestedMessagesAreErrors(t *testing.T) {
	tests := []struct{ name, hex string }{
		// Message.entries holding an Entry whose Data length overruns it.
		{"entry overruns its envelope", "3a04" + "22056869"},
		// Message.snapshot holding metadata whose conf_state is truncated.
		{"snapshot conf state truncated", "4a04" + "1202" + "0a05"},
		// Message.responses holding a Message with an overflowing varint.
		{"response varint overflows", "720c08" + overflowVarint},
		// ConfState voters packed with a truncated varint inside.
		{"packed voters truncated", "4a08" + "1206" + "0a04" + "0a0280"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := hex.DecodeString(tt.hex)
			require.NoError(t, err)
			var m Message
			require.NotPanics(t, func() { err = m.Unmarshal(data) })
			assert.Error(t, err)
		})
	}
}

func TestEveryTruncationOfTheVectorsDecodesOrFailsCleanly(t *testing.T) {
	for _, v := range loadWireVectors(t) {
		data, err := hex.DecodeString(v.Hex)
		require.NoError(t, err)
		for n := 0; n < len(data); n++ {
			m, err := newWireMessage(v.Kind)
			require.NoError(t, err)
			require.NotPanics(t, func() { _ = m.Unmarshal(data[:n]) }, "%s cut at %d", v.Name, n)
		}
		// Dropping the last byte is always an error: in a well-formed
		// encoding it ends a varint or a payload (or is a zero length).
		m, err := newWireMessage(v.Kind)
		require.NoError(t, err)
		assert.Error(t, m.Unmarshal(data[:len(data)-1]), "%s without its last byte", v.Name)
	}
}
