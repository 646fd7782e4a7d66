package raftpb

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wireMessage is what every generated type offers for the wire tests.
type wireMessage interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
	Size() int
}

// wireVector is one entry of testdata/wire-vectors.json: a value, as JSON
// with the proto field names, and the exact bytes that etcd raft v3.6.0
// produced for it.
type wireVector struct {
	Name  string          `json:"name"`
	Kind  string          `json:"kind"`
	Value json.RawMessage `json:"value"`
	Hex   string          `json:"hex"`
}

// newWireMessage returns a new zero value of the type a vector's kind names.
func newWireMessage(kind string) (wireMessage, error) {
	switch kind {
	case "Entry":
		return &Entry{}, nil
	case "SnapshotMetadata":
		return &SnapshotMetadata{}, nil
	case "Snapshot":
		return &Snapshot{}, nil
	case "Message":
		return &Message{}, nil
	case "HardState":
		return &HardState{}, nil
	case "ConfState":
		return &ConfState{}, nil
	case "ConfChange":
		return &ConfChange{}, nil
	case "ConfChangeSingle":
		return &ConfChangeSingle{}, nil
	case "ConfChangeV2":
		return &ConfChangeV2{}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// jsonFixups restores what the vectors' JSON cannot say: encoding/json
// omits an empty []byte under omitempty, so a present-but-empty bytes field
// (non-nil, zero length) reads back as nil. The vector's name says which
// field it was, and its hex carries the field (key, length 0).
var jsonFixups = map[string]func(wireMessage){
	"message/empty-context-non-nil": func(m wireMessage) { m.(*Message).Context = []byte{} },
}

func loadWireVectors(t testing.TB) []wireVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/wire-vectors.json")
	require.NoError(t, err)
	var vs []wireVector
	require.NoError(t, json.Unmarshal(raw, &vs))
	require.NotEmpty(t, vs)
	return vs
}

// decodeVectorValue turns the vector's JSON value into the raftpb value it
// describes.
func decodeVectorValue(t testing.TB, v wireVector) wireMessage {
	t.Helper()
	m, err := newWireMessage(v.Kind)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(v.Value, m))
	if fix := jsonFixups[v.Name]; fix != nil {
		fix(m)
	}
	return m
}

func TestWireVectorsMarshalToReferenceBytes(t *testing.T) {
	for _, v := range loadWireVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			want, err := hex.DecodeString(v.Hex)
			require.NoError(t, err)
			m := decodeVectorValue(t, v)
			got, err := m.Marshal()
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))
			assert.Equal(t, len(want), m.Size())
		})
	}
}

func TestWireVectorsUnmarshalToReferenceValue(t *testing.T) {
	for _, v := range loadWireVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			data, err := hex.DecodeString(v.Hex)
			require.NoError(t, err)
			want := decodeVectorValue(t, v)
			got, err := newWireMessage(v.Kind)
			require.NoError(t, err)
			require.NoError(t, got.Unmarshal(data))
			// assert.Equal compares with reflect.DeepEqual, so nil and
			// empty slices and pointers must match exactly.
			assert.Equal(t, want, got)
		})
	}
}

func TestWireVectorsCoverEveryType(t *testing.T) {
	kinds := map[string]bool{}
	for _, v := range loadWireVectors(t) {
		kinds[v.Kind] = true
	}
	for _, k := range []string{"Entry", "SnapshotMetadata", "Snapshot", "Message", "HardState",
		"ConfState", "ConfChange", "ConfChangeSingle", "ConfChangeV2"} {
		assert.True(t, kinds[k], "no vector for %s", k)
	}
}

func TestWireNilVersusEmptyIsPreserved(t *testing.T) {
	// Message.Snapshot: nil is not encoded; an empty non-nil snapshot is,
	// as etcd 3.5-era peers send it on every message.
	var m Message
	require.NoError(t, m.Unmarshal(mustMarshal(t, &Message{Type: MsgHeartbeat})))
	assert.Nil(t, m.Snapshot)
	assert.Nil(t, m.Context)
	m = Message{}
	require.NoError(t, m.Unmarshal(mustMarshal(t, &Message{Type: MsgHeartbeat, Snapshot: &Snapshot{}, Context: []byte{}})))
	assert.NotNil(t, m.Snapshot)
	assert.Equal(t, Snapshot{}, *m.Snapshot)
	assert.NotNil(t, m.Context)
	assert.Empty(t, m.Context)

	// Entry.Data: same rule.
	var e Entry
	require.NoError(t, e.Unmarshal(mustMarshal(t, &Entry{Data: []byte{}})))
	assert.NotNil(t, e.Data)
	e = Entry{}
	require.NoError(t, e.Unmarshal(mustMarshal(t, &Entry{})))
	assert.Nil(t, e.Data)
}

func TestWireReferenceSamples(t *testing.T) {
	// The samples listed with the reference API's wire table.
	tests := []struct {
		name string
		m    wireMessage
		hex  string
	}{
		{"zero Entry", &Entry{}, "080010001800"},
		{"zero SnapshotMetadata", &SnapshotMetadata{}, "0a02280010001800"},
		{"zero Snapshot", &Snapshot{}, "12080a02280010001800"},
		{"zero Message", &Message{}, "0800100018002000280030004000500058006800"},
		{"zero HardState", &HardState{}, "080010001800"},
		{"zero ConfState", &ConfState{}, "2800"},
		{"zero ConfChange", &ConfChange{}, "080010001800"},
		{"zero ConfChangeSingle", &ConfChangeSingle{}, "08001000"},
		{"zero ConfChangeV2", &ConfChangeV2{}, "0800"},
		{"Entry with data", &Entry{Term: 1, Index: 2, Data: []byte("x")}, "080010011802220178"},
		{"Entry V2 no data", &Entry{Term: 5, Index: 300, Type: EntryConfChangeV2}, "0802100518ac02"},
		{"Entry empty data", &Entry{Data: []byte{}}, "0800100018002200"},
		{"HardState", &HardState{Term: 1, Vote: 2, Commit: 3}, "080110021803"},
		{"ConfState", &ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, "08010802080310042800"},
		{"MsgApp", &Message{Type: MsgApp, To: 2, From: 1, Term: 3, LogTerm: 2, Index: 10, Commit: 9,
			Entries: []Entry{{Term: 3, Index: 11, Data: []byte("a")}}},
			"08031002180120032802300a3a0908001003180b2201614009500058006800"},
		{"MsgHeartbeat", &Message{Type: MsgHeartbeat, To: 2, From: 1, Term: 3, Commit: 9, Context: []byte("rc")},
			"080810021801200328003000400950005800620272636800"},
		{"MsgSnap", &Message{Type: MsgSnap, To: 2, From: 1, Term: 3, Snapshot: &Snapshot{Data: []byte("s"),
			Metadata: SnapshotMetadata{Index: 10, Term: 2, ConfState: ConfState{Voters: []uint64{1, 2}}}}},
			"08071002180120032800300040004a110a0173120c0a06080108022800100a1802500058006800"},
		{"ConfChange", &ConfChange{ID: 7, Type: ConfChangeAddNode, NodeID: 4}, "080710001804"},
		{"ConfChangeV2", &ConfChangeV2{Transition: ConfChangeTransitionJointExplicit,
			Changes: []ConfChangeSingle{{Type: ConfChangeAddLearnerNode, NodeID: 5}, {Type: ConfChangeRemoveNode, NodeID: 2}}},
			"0802120408031005120408011002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.hex, hex.EncodeToString(mustMarshal(t, tt.m)))
		})
	}
}

func TestWireDecoderAcceptsPackedRepeatedIDs(t *testing.T) {
	// voters as one packed field (key 0x0a) rather than one key per ID.
	data, err := hex.DecodeString("0a03010203120504050607082801")
	require.NoError(t, err)
	var cs ConfState
	require.NoError(t, cs.Unmarshal(data))
	assert.Equal(t, ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4, 5, 6, 7, 8}, AutoLeave: true}, cs)
}

func TestWireDecoderSkipsUnknownFields(t *testing.T) {
	// A HardState followed by field 15 varint, field 16 bytes and field 17
	// fixed64 and fixed32: all skipped, not retained.
	data, err := hex.DecodeString("080110021803" + "7801" + "820102abcd" + "89010102030405060708" + "950101020304")
	require.NoError(t, err)
	var hs HardState
	require.NoError(t, hs.Unmarshal(data))
	assert.Equal(t, HardState{Term: 1, Vote: 2, Commit: 3}, hs)
	assert.Equal(t, "080110021803", hex.EncodeToString(mustMarshal(t, &hs)))
}

func TestWireRepeatedMessagesAppendAcrossUnmarshals(t *testing.T) {
	// Unmarshal merges into the receiver like the generated code of the
	// reference: repeated fields append, scalars are overwritten.
	var m Message
	require.NoError(t, m.Unmarshal(mustMarshal(t, &Message{Term: 1, Entries: []Entry{{Index: 1}}})))
	require.NoError(t, m.Unmarshal(mustMarshal(t, &Message{Term: 2, Entries: []Entry{{Index: 2}}})))
	assert.Equal(t, uint64(2), m.Term)
	assert.Equal(t, []Entry{{Index: 1}, {Index: 2}}, m.Entries)
}

func mustMarshal(t testing.TB, m wireMessage) []byte {
	t.Helper()
	b, err := m.Marshal()
	require.NoError(t, err)
	return b
}
