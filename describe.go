package raft

import (
	"fmt"
	"strconv"
	"strings"

	pb "github.com/raftkit/raft/raftpb"
)

// The Describe functions render raft values for logs, debugging and golden
// files. Their output is the same, byte for byte, as that of etcd raft's
// functions of the same names, so that golden files written against one
// library hold for the other; compat/describe_diff_test.go checks it.

// EntryFormatter renders the payload of a normal entry for the Describe
// functions. A nil EntryFormatter makes them quote the payload with %q.
type EntryFormatter func([]byte) string

// DescribeHardState renders a HardState on one line, like
// "Term:2 Vote:1 Commit:5". Vote is omitted when it is 0 (no vote).
func DescribeHardState(hs pb.HardState) string {
	var b strings.Builder
	b.WriteString("Term:")
	b.WriteString(strconv.FormatUint(hs.Term, 10))
	if hs.Vote != None {
		b.WriteString(" Vote:")
		b.WriteString(strconv.FormatUint(hs.Vote, 10))
	}
	b.WriteString(" Commit:")
	b.WriteString(strconv.FormatUint(hs.Commit, 10))
	return b.String()
}

// DescribeSoftState renders a SoftState on one line, like
// "Lead:1 State:StateLeader".
func DescribeSoftState(ss SoftState) string {
	return "Lead:" + strconv.FormatUint(ss.Lead, 10) + " State:" + ss.RaftState.String()
}

// DescribeConfState renders a ConfState on one line, like
// "Voters:[1 2 3] VotersOutgoing:[] Learners:[4] LearnersNext:[] AutoLeave:false".
func DescribeConfState(state pb.ConfState) string {
	return fmt.Sprintf("Voters:%v VotersOutgoing:%v Learners:%v LearnersNext:%v AutoLeave:%v",
		state.Voters, state.VotersOutgoing, state.Learners, state.LearnersNext, state.AutoLeave)
}

// DescribeSnapshot renders the metadata of a snapshot on one line, like
// "Index:10 Term:2 ConfState:Voters:[1 2 3] ...". The data is not shown.
func DescribeSnapshot(snap pb.Snapshot) string {
	m := snap.Metadata
	return "Index:" + strconv.FormatUint(m.Index, 10) + " Term:" + strconv.FormatUint(m.Term, 10) +
		" ConfState:" + DescribeConfState(m.ConfState)
}

// DescribeReady renders a Ready on several lines: a header saying whether
// it must be synced, then one line per non-empty part. Entries and messages
// follow their heading one per line, unindented (see DescribeEntries and
// DescribeMessage), read states are printed with %v:
//
//	Ready MustSync=true:
//	Lead:1 State:StateLeader
//	HardState Term:2 Vote:1 Commit:4
//	ReadStates [{4 [114 49]}]
//	Entries:
//	2/5 EntryNormal "foo"
//	Snapshot Index:3 Term:1 ConfState:Voters:[1] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false
//	CommittedEntries:
//	2/4 EntryNormal ""
//	Messages:
//	1->2 MsgApp Term:2 Log:2/4 Commit:4 Entries:[2/5 EntryNormal "foo"]
//
// A Ready with none of these parts renders as "<empty Ready>", whatever its
// MustSync. f formats entry payloads.
func DescribeReady(rd Ready, f EntryFormatter) string {
	var b strings.Builder
	if rd.SoftState != nil {
		b.WriteString(DescribeSoftState(*rd.SoftState))
		b.WriteByte('\n')
	}
	if !IsEmptyHardState(rd.HardState) {
		b.WriteString("HardState ")
		b.WriteString(DescribeHardState(rd.HardState))
		b.WriteByte('\n')
	}
	if len(rd.ReadStates) > 0 {
		fmt.Fprintf(&b, "ReadStates %v\n", rd.ReadStates)
	}
	if len(rd.Entries) > 0 {
		b.WriteString("Entries:\n")
		writeEntries(&b, rd.Entries, f)
	}
	if !IsEmptySnap(rd.Snapshot) {
		b.WriteString("Snapshot ")
		b.WriteString(DescribeSnapshot(rd.Snapshot))
		b.WriteByte('\n')
	}
	if len(rd.CommittedEntries) > 0 {
		b.WriteString("CommittedEntries:\n")
		writeEntries(&b, rd.CommittedEntries, f)
	}
	if len(rd.Messages) > 0 {
		b.WriteString("Messages:\n")
		for _, m := range rd.Messages {
			writeMessage(&b, "", m, f)
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		return "<empty Ready>"
	}
	return "Ready MustSync=" + strconv.FormatBool(rd.MustSync) + ":\n" + b.String()
}

// describeTarget renders a message endpoint: a node ID in hex, "None" for
// no node, or the name of a local storage thread.
func describeTarget(id uint64) string {
	switch id {
	case None:
		return "None"
	case LocalAppendThread:
		return "AppendThread"
	case LocalApplyThread:
		return "ApplyThread"
	}
	return strconv.FormatUint(id, 16)
}

// DescribeMessage renders a message, like
//
//	1->2 MsgApp Term:3 Log:2/10 Commit:9 Entries:[3/11 EntryNormal "data"]
//
// From and To are node IDs in hex, "None" for 0, and AppendThread or
// ApplyThread for LocalAppendThread and LocalApplyThread; Vote is in
// decimal. Reject (with its hint), Commit, Vote, Entries, a non-empty
// Snapshot and Responses are shown only when set; Context never is.
//
// Only a message with at most one entry and no snapshot or responses fits
// on one line. Several entries go one per line, indented by two spaces,
// with the closing bracket on a line of its own; a snapshot goes on its own
// line, indented; each response goes on its own line, indented two spaces
// deeper than its parent, down to any depth:
//
//	1->AppendThread MsgStorageAppend Term:2 Log:0/0 Commit:1 Vote:1 Entries:[
//	  2/2 EntryNormal "a"
//	  2/3 EntryNormal "b"
//	] Responses:[
//	  1->1 MsgAppResp Term:2 Log:0/3
//	]
//
// f formats entry payloads.
func DescribeMessage(m pb.Message, f EntryFormatter) string {
	var b strings.Builder
	writeMessage(&b, "", m, f)
	return b.String()
}

func writeMessage(b *strings.Builder, indent string, m pb.Message, f EntryFormatter) {
	b.WriteString(indent)
	b.WriteString(describeTarget(m.From))
	b.WriteString("->")
	b.WriteString(describeTarget(m.To))
	b.WriteByte(' ')
	b.WriteString(m.Type.String())
	b.WriteString(" Term:")
	b.WriteString(strconv.FormatUint(m.Term, 10))
	b.WriteString(" Log:")
	b.WriteString(strconv.FormatUint(m.LogTerm, 10))
	b.WriteByte('/')
	b.WriteString(strconv.FormatUint(m.Index, 10))
	if m.Reject {
		b.WriteString(" Rejected (Hint: ")
		b.WriteString(strconv.FormatUint(m.RejectHint, 10))
		b.WriteByte(')')
	}
	if m.Commit != 0 {
		b.WriteString(" Commit:")
		b.WriteString(strconv.FormatUint(m.Commit, 10))
	}
	if m.Vote != 0 {
		b.WriteString(" Vote:")
		b.WriteString(strconv.FormatUint(m.Vote, 10))
	}
	switch len(m.Entries) {
	case 0:
	case 1:
		b.WriteString(" Entries:[")
		writeEntry(b, m.Entries[0], f)
		b.WriteByte(']')
	default:
		b.WriteString(" Entries:[")
		for _, e := range m.Entries {
			b.WriteByte('\n')
			b.WriteString(indent)
			b.WriteString("  ")
			writeEntry(b, e, f)
		}
		b.WriteByte('\n')
		b.WriteString(indent)
		b.WriteByte(']')
	}
	if s := m.Snapshot; s != nil && !IsEmptySnap(*s) {
		b.WriteByte('\n')
		b.WriteString(indent)
		b.WriteString("  Snapshot: ")
		b.WriteString(DescribeSnapshot(*s))
	}
	if len(m.Responses) > 0 {
		b.WriteString(" Responses:[")
		for _, r := range m.Responses {
			b.WriteByte('\n')
			writeMessage(b, indent+"  ", r, f)
		}
		b.WriteByte('\n')
		b.WriteString(indent)
		b.WriteByte(']')
	}
}

// DescribeEntry renders an entry on one line as term/index, type and
// payload, like `3/11 EntryNormal "data"`.
//
// A normal entry's payload goes through f (quoted with %q when f is nil).
// A conf change's payload is decoded and its changes shown in the syntax
// of raftpb.ConfChangesToString, like "3/12 EntryConfChangeV2 v2 r3"; its
// transition and context are not shown, and a payload that does not decode
// shows as the decoding error. An entry of an unknown type shows no
// payload, and neither does one whose payload renders as "" (a
// ConfChangeV2 without changes, or f returning ""), which then has no
// trailing space either: "2/6 EntryConfChangeV2".
func DescribeEntry(e pb.Entry, f EntryFormatter) string {
	var b strings.Builder
	writeEntry(&b, e, f)
	return b.String()
}

func writeEntry(b *strings.Builder, e pb.Entry, f EntryFormatter) {
	b.WriteString(strconv.FormatUint(e.Term, 10))
	b.WriteByte('/')
	b.WriteString(strconv.FormatUint(e.Index, 10))
	b.WriteByte(' ')
	b.WriteString(e.Type.String())
	if payload := describePayload(e, f); payload != "" {
		b.WriteByte(' ')
		b.WriteString(payload)
	}
}

// describePayload renders the payload of e for DescribeEntry.
func describePayload(e pb.Entry, f EntryFormatter) string {
	switch e.Type {
	case pb.EntryNormal:
		if f == nil {
			return strconv.Quote(string(e.Data))
		}
		return f(e.Data)
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return err.Error()
		}
		return pb.ConfChangesToString(cc.AsV2().Changes)
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return err.Error()
		}
		return pb.ConfChangesToString(cc.Changes)
	}
	return ""
}

// DescribeEntries renders entries one per line (see DescribeEntry), each
// line ending in a newline.
func DescribeEntries(ents []pb.Entry, f EntryFormatter) string {
	var b strings.Builder
	writeEntries(&b, ents, f)
	return b.String()
}

func writeEntries(b *strings.Builder, ents []pb.Entry, f EntryFormatter) {
	for _, e := range ents {
		writeEntry(b, e, f)
		b.WriteByte('\n')
	}
}
