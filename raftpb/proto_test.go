package raftpb

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/gogo/protobuf/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The generic gogo entry points (proto.Marshal, proto.Unmarshal, proto.Merge,
// proto.Size) go through the generated XXX_ methods; they must agree with
// the direct methods, since applications use both.
func TestGogoProtoEntryPointsAgreeWithGeneratedMethods(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	values := []func() (proto.Message, proto.Message){
		func() (proto.Message, proto.Message) { v := g.entry(); return &v, &Entry{} },
		func() (proto.Message, proto.Message) { v := g.snapshotMetadata(); return &v, &SnapshotMetadata{} },
		func() (proto.Message, proto.Message) { v := g.snapshot(); return &v, &Snapshot{} },
		func() (proto.Message, proto.Message) { v := g.message(1); return &v, &Message{} },
		func() (proto.Message, proto.Message) { v := g.hardState(); return &v, &HardState{} },
		func() (proto.Message, proto.Message) { v := g.confState(); return &v, &ConfState{} },
		func() (proto.Message, proto.Message) { v := g.confChange(); return &v, &ConfChange{} },
		func() (proto.Message, proto.Message) { v := g.confChangeSingle(); return &v, &ConfChangeSingle{} },
		func() (proto.Message, proto.Message) { v := g.confChangeV2(); return &v, &ConfChangeV2{} },
	}
	for _, mk := range values {
		v, dst := mk()
		name := proto.MessageName(v)
		direct, err := v.(wireMessage).Marshal()
		require.NoError(t, err)
		generic, err := proto.Marshal(v)
		require.NoError(t, err, name)
		assert.Equal(t, direct, generic, name)
		assert.Equal(t, len(direct), proto.Size(v), name)

		require.NoError(t, proto.Unmarshal(generic, dst), name)
		assert.Equal(t, v, dst, name)

		// Merging into a zero value yields the same encoding.
		merged := reflect.New(reflect.TypeOf(v).Elem()).Interface().(proto.Message)
		proto.Merge(merged, v)
		assert.Equal(t, direct, mustMarshal(t, merged.(wireMessage)), name)

		// proto.DiscardUnknown is not called: gogo's reflection walker
		// panics on non-nullable embedded messages (Message, Snapshot,
		// SnapshotMetadata, ConfChangeV2), and nothing is ever retained to
		// discard since the decoders skip unknown fields.

		dst.Reset()
		assert.Equal(t, reflect.New(reflect.TypeOf(dst).Elem()).Interface(), dst, name)
		desc, idx := dst.(interface{ Descriptor() ([]byte, []int) }).Descriptor()
		assert.NotEmpty(t, desc, name)
		assert.Len(t, idx, 1, name)
	}
}

func TestTypesAreRegisteredUnderTheRaftkitPackage(t *testing.T) {
	// Our own protobuf package name keeps the registry free of clashes with
	// etcd raft's "raftpb" names when both are linked.
	assert.Equal(t, "raftkit.raftpb.Message", proto.MessageName(&Message{}))
	assert.NotNil(t, proto.MessageType("raftkit.raftpb.Entry"))
	assert.Equal(t, MessageType_value, proto.EnumValueMap("raftkit.raftpb.MessageType"))
}
