package raftpb

import "strconv"

// The String methods of the wire types render a value in the compact
// protobuf text format, exactly as etcd raft's generated String methods do
// (they call golang/protobuf's proto.CompactTextString), so that log lines
// and golden files read the same with either library:
//
//	type:MsgApp to:2 from:1 term:3 entries:<Term:3 Index:4 Data:"x" > commit:3
//
// The rules, which are those of golang/protobuf's text encoder for gogo
// structs with non-nullable fields:
//   - fields come in the order of their declaration in raft.proto, each as
//     name:value followed by one space (so a non-empty result ends in a
//     space, and a value with no field set renders as "");
//   - a scalar or enum field is shown when it is not zero; an enum shows its
//     name, or its number when it has none;
//   - a bytes field is shown when it is not nil (an empty non-nil slice
//     shows as ""), quoted with \n, \r, \t, \", \\ and octal \NNN escapes
//     for bytes outside printable ASCII;
//   - a repeated field shows one name:value per element, and nothing when
//     empty;
//   - a nested message shows as name:<fields> when it is a non-nil pointer,
//     or a struct value with any field not zero (a nil and an empty slice
//     differ here, as they do in etcd);
//   - a nil pointer receiver renders as "<nil>".
//
// Nothing here is generated: raft.proto turns gogo's stringer off.

// textBuf accumulates the compact text of a message.
type textBuf []byte

func (b *textBuf) name(name string) {
	*b = append(*b, name...)
	*b = append(*b, ':')
}

func (b *textBuf) uint(name string, v uint64) {
	if v == 0 {
		return
	}
	b.name(name)
	*b = strconv.AppendUint(*b, v, 10)
	*b = append(*b, ' ')
}

func (b *textBuf) bool(name string, v bool) {
	if !v {
		return
	}
	b.name(name)
	*b = append(*b, "true "...)
}

func (b *textBuf) enum(name string, v int32, names map[int32]string) {
	if v == 0 {
		return
	}
	b.name(name)
	if s, ok := names[v]; ok {
		*b = append(*b, s...)
	} else {
		*b = strconv.AppendInt(*b, int64(v), 10)
	}
	*b = append(*b, ' ')
}

func (b *textBuf) bytes(name string, v []byte) {
	if v == nil {
		return
	}
	b.name(name)
	*b = append(*b, '"')
	for _, c := range v {
		switch c {
		case '\n':
			*b = append(*b, `\n`...)
		case '\r':
			*b = append(*b, `\r`...)
		case '\t':
			*b = append(*b, `\t`...)
		case '"':
			*b = append(*b, `\"`...)
		case '\\':
			*b = append(*b, `\\`...)
		default:
			if c >= 0x20 && c < 0x7f {
				*b = append(*b, c)
			} else {
				*b = append(*b, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
			}
		}
	}
	*b = append(*b, '"', ' ')
}

func (b *textBuf) uints(name string, vs []uint64) {
	for _, v := range vs {
		b.name(name)
		*b = strconv.AppendUint(*b, v, 10)
		*b = append(*b, ' ')
	}
}

// open starts a nested message; close ends it.
func (b *textBuf) open(name string) {
	b.name(name)
	*b = append(*b, '<')
}

func (b *textBuf) close() { *b = append(*b, '>', ' ') }

func (b *textBuf) entry(e *Entry) {
	b.uint("Term", e.Term)
	b.uint("Index", e.Index)
	b.enum("Type", int32(e.Type), EntryType_name)
	b.bytes("Data", e.Data)
}

func (b *textBuf) confState(cs *ConfState) {
	b.uints("voters", cs.Voters)
	b.uints("learners", cs.Learners)
	b.uints("voters_outgoing", cs.VotersOutgoing)
	b.uints("learners_next", cs.LearnersNext)
	b.bool("auto_leave", cs.AutoLeave)
}

func (b *textBuf) snapshotMetadata(m *SnapshotMetadata) {
	if !confStateIsZero(&m.ConfState) {
		b.open("conf_state")
		b.confState(&m.ConfState)
		b.close()
	}
	b.uint("index", m.Index)
	b.uint("term", m.Term)
}

func (b *textBuf) snapshot(s *Snapshot) {
	b.bytes("data", s.Data)
	if !snapshotMetadataIsZero(&s.Metadata) {
		b.open("metadata")
		b.snapshotMetadata(&s.Metadata)
		b.close()
	}
}

func (b *textBuf) message(m *Message) {
	b.enum("type", int32(m.Type), MessageType_name)
	b.uint("to", m.To)
	b.uint("from", m.From)
	b.uint("term", m.Term)
	b.uint("logTerm", m.LogTerm)
	b.uint("index", m.Index)
	for i := range m.Entries {
		b.open("entries")
		b.entry(&m.Entries[i])
		b.close()
	}
	b.uint("commit", m.Commit)
	b.uint("vote", m.Vote)
	if m.Snapshot != nil {
		b.open("snapshot")
		b.snapshot(m.Snapshot)
		b.close()
	}
	b.bool("reject", m.Reject)
	b.uint("rejectHint", m.RejectHint)
	b.bytes("context", m.Context)
	for i := range m.Responses {
		b.open("responses")
		b.message(&m.Responses[i])
		b.close()
	}
}

func (b *textBuf) confChangeSingle(cc *ConfChangeSingle) {
	b.enum("type", int32(cc.Type), ConfChangeType_name)
	b.uint("node_id", cc.NodeID)
}

// confStateIsZero reports whether every field of cs is its Go zero value
// (nil slices, not merely empty ones), which is when the text format
// leaves a non-pointer ConfState field out.
func confStateIsZero(cs *ConfState) bool {
	return cs.Voters == nil && cs.Learners == nil && cs.VotersOutgoing == nil &&
		cs.LearnersNext == nil && !cs.AutoLeave
}

func snapshotMetadataIsZero(m *SnapshotMetadata) bool {
	return confStateIsZero(&m.ConfState) && m.Index == 0 && m.Term == 0
}

// String renders the entry in the compact protobuf text format, like
// `Term:2 Index:5 Data:"x" ` (see the rules at the top of text.go).
func (m *Entry) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.entry(m)
	return string(b)
}

// String renders the snapshot metadata in the compact protobuf text
// format, like "conf_state:<voters:1 > index:5 term:2 ".
func (m *SnapshotMetadata) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.snapshotMetadata(m)
	return string(b)
}

// String renders the snapshot in the compact protobuf text format, like
// `data:"..." metadata:<index:5 term:2 > `.
func (m *Snapshot) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.snapshot(m)
	return string(b)
}

// String renders the message in the compact protobuf text format, like
// "type:MsgHeartbeat to:2 from:1 term:3 commit:5 ". Fields that are zero
// are left out; nested entries, snapshot and responses are shown in full.
func (m *Message) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.message(m)
	return string(b)
}

// String renders the hard state in the compact protobuf text format, like
// "term:2 vote:1 commit:5 ".
func (m *HardState) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.uint("term", m.Term)
	b.uint("vote", m.Vote)
	b.uint("commit", m.Commit)
	return string(b)
}

// String renders the configuration in the compact protobuf text format,
// like "voters:1 voters:2 learners:3 ".
func (m *ConfState) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.confState(m)
	return string(b)
}

// String renders the conf change in the compact protobuf text format, like
// "type:ConfChangeRemoveNode node_id:3 id:7 ".
func (m *ConfChange) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.enum("type", int32(m.Type), ConfChangeType_name)
	b.uint("node_id", m.NodeID)
	b.bytes("context", m.Context)
	b.uint("id", m.ID)
	return string(b)
}

// String renders the change in the compact protobuf text format, like
// "type:ConfChangeAddLearnerNode node_id:4 ".
func (m *ConfChangeSingle) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.confChangeSingle(m)
	return string(b)
}

// String renders the conf change in the compact protobuf text format, like
// "transition:ConfChangeTransitionJointExplicit changes:<node_id:2 > ".
func (m *ConfChangeV2) String() string {
	if m == nil {
		return "<nil>"
	}
	var b textBuf
	b.enum("transition", int32(m.Transition), ConfChangeTransition_name)
	for i := range m.Changes {
		b.open("changes")
		b.confChangeSingle(&m.Changes[i])
		b.close()
	}
	b.bytes("context", m.Context)
	return string(b)
}
