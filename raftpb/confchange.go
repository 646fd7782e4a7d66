package raftpb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ConfChangeI abstracts over ConfChange and ConfChangeV2 so that code can
// accept either and convert it to the form it needs.
type ConfChangeI interface {
	// AsV1 returns the change as a ConfChange and true, or false if it
	// cannot be expressed as one.
	AsV1() (ConfChange, bool)
	// AsV2 returns the change as a ConfChangeV2; every change has one.
	AsV2() ConfChangeV2
}

var (
	_ ConfChangeI = ConfChange{}
	_ ConfChangeI = ConfChangeV2{}
)

// AsV1 returns c itself and true: a ConfChange is always a valid V1 change.
func (c ConfChange) AsV1() (ConfChange, bool) {
	return c, true
}

// AsV2 returns the ConfChangeV2 equivalent to c: a single change with the
// automatic transition, carrying c's Context. The ID has no V2 counterpart
// and is dropped.
func (c ConfChange) AsV2() ConfChangeV2 {
	return ConfChangeV2{
		Changes: []ConfChangeSingle{{Type: c.Type, NodeID: c.NodeID}},
		Context: c.Context,
	}
}

// AsV1 returns false: a ConfChangeV2 is never turned back into a V1 change,
// so that MarshalConfChange encodes it as the caller wrote it.
func (c ConfChangeV2) AsV1() (ConfChange, bool) {
	return ConfChange{}, false
}

// AsV2 returns c itself.
func (c ConfChangeV2) AsV2() ConfChangeV2 {
	return c
}

// EnterJoint reports whether applying c must go through a joint
// configuration (ok), and if so whether the joint configuration is left
// automatically (autoLeave). A joint configuration is needed when the
// transition is not ConfChangeTransitionAuto or when c holds more than one
// change. autoLeave is true unless the transition is
// ConfChangeTransitionJointExplicit, in which case the application leaves the
// joint configuration by proposing an empty ConfChangeV2.
func (c ConfChangeV2) EnterJoint() (autoLeave bool, ok bool) {
	if c.Transition == ConfChangeTransitionAuto && len(c.Changes) <= 1 {
		return false, false
	}
	return c.Transition != ConfChangeTransitionJointExplicit, true
}

// LeaveJoint reports whether c asks to leave a joint configuration, which is
// the case for an empty ConfChangeV2: automatic transition and no changes.
// The Context is ignored, so that the application can still attach data to
// the leave request.
func (c ConfChangeV2) LeaveJoint() bool {
	return c.Transition == ConfChangeTransitionAuto && len(c.Changes) == 0
}

// MarshalConfChange encodes c for a log entry and returns the entry type
// that goes with the encoding: EntryConfChange when c is a V1 change
// (AsV1 succeeds), EntryConfChangeV2 otherwise.
func MarshalConfChange(c ConfChangeI) (EntryType, []byte, error) {
	if c == nil {
		return 0, nil, errors.New("raftpb: MarshalConfChange of a nil ConfChangeI")
	}
	if ccv1, ok := c.AsV1(); ok {
		data, err := ccv1.Marshal()
		return EntryConfChange, data, err
	}
	ccv2 := c.AsV2()
	data, err := ccv2.Marshal()
	return EntryConfChangeV2, data, err
}

// confChangeLetters maps each ConfChangeType to the letter that names it in
// the compact text form of ConfChangesFromString and ConfChangesToString.
var confChangeLetters = map[ConfChangeType]byte{
	ConfChangeAddNode:        'v',
	ConfChangeAddLearnerNode: 'l',
	ConfChangeRemoveNode:     'r',
	ConfChangeUpdateNode:     'u',
}

// ConfChangesFromString parses a space-separated list of changes such as
// "v1 v2 r3 l4 u5", where each token is a letter followed by a node ID:
// v adds a voter, l adds a learner, r removes a node and u updates one.
// An empty or blank string yields no changes. A malformed token gives an
// error that names it.
func ConfChangesFromString(s string) ([]ConfChangeSingle, error) {
	var ccs []ConfChangeSingle
	for _, tok := range strings.Fields(s) {
		var typ ConfChangeType
		switch tok[0] {
		case 'v':
			typ = ConfChangeAddNode
		case 'l':
			typ = ConfChangeAddLearnerNode
		case 'r':
			typ = ConfChangeRemoveNode
		case 'u':
			typ = ConfChangeUpdateNode
		default:
			return nil, fmt.Errorf("raftpb: unknown conf change %q: want v, l, r or u followed by a node ID", tok)
		}
		id, err := strconv.ParseUint(tok[1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("raftpb: bad node ID in conf change %q: %w", tok, err)
		}
		ccs = append(ccs, ConfChangeSingle{Type: typ, NodeID: id})
	}
	return ccs, nil
}

// ConfChangesToString is the inverse of ConfChangesFromString: it writes
// each change as its letter and node ID, separated by single spaces. A type
// without a letter is written as "unknown" followed by the node ID (as etcd
// raft writes it), which ConfChangesFromString rejects.
func ConfChangesToString(ccs []ConfChangeSingle) string {
	var b strings.Builder
	for i, cc := range ccs {
		if i > 0 {
			b.WriteByte(' ')
		}
		if letter, ok := confChangeLetters[cc.Type]; ok {
			b.WriteByte(letter)
		} else {
			b.WriteString("unknown")
		}
		b.WriteString(strconv.FormatUint(cc.NodeID, 10))
	}
	return b.String()
}
