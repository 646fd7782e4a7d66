//go:build amd64 || arm64 || ppc64 || ppc64le || s390x || riscv64 || mips64 || mips64le || loong64

package raftpb

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// The sizes below are those of 64-bit platforms, hence the build
// constraint.

func TestStructSizesArePinned(t *testing.T) {
	// These sizes are what the reference's types occupy; code written
	// against it (memory accounting, entry size estimates) relies on them,
	// and a change means a field was added or reordered.
	tests := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"Entry", unsafe.Sizeof(Entry{}), 48},
		{"SnapshotMetadata", unsafe.Sizeof(SnapshotMetadata{}), 120},
		{"Snapshot", unsafe.Sizeof(Snapshot{}), 144},
		{"Message", unsafe.Sizeof(Message{}), 160},
		{"HardState", unsafe.Sizeof(HardState{}), 24},
		{"ConfState", unsafe.Sizeof(ConfState{}), 104},
		{"ConfChange", unsafe.Sizeof(ConfChange{}), 48},
		{"ConfChangeSingle", unsafe.Sizeof(ConfChangeSingle{}), 16},
		{"ConfChangeV2", unsafe.Sizeof(ConfChangeV2{}), 56},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, tt.name)
	}
}
