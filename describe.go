package raft

import (
	"fmt"
	"strconv"
	"strings"

	pb "github.com/raftkit/raft/raftpb"
)

// EntryFormatter renders the payload of a normal entry for the Describe
// functions. A nil EntryFormatter makes them quote the payload with %q.
type EntryFormatter func([]byte) string

// DescribeHardState renders a HardState on one line, like
// "Term:2 Vote:1 Commit:5". Vote is omitted when it is 0 (no vote).
func DescribeHardState(hs pb.HardState) string {
	var b strings.Builder
	writeHardState(&b, hs)
	return b.String()
}

func writeHardState(b *strings.Builder, hs pb.HardState) {
	fmt.Fprintf(b, "Term:%d", hs.Term)
	if hs.Vote != None {
		fmt.Fprintf(b, " Vote:%d", hs.Vote)
	}
	fmt.Fprintf(b, " Commit:%d", hs.Commit)
}

// DescribeSoftState renders a SoftState on one line, like
// "Lead:1 State:StateLeader".
func DescribeSoftState(ss SoftState) string {
	return fmt.Sprintf("Lead:%d State:%s", ss.Lead, ss.RaftState)
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
	return fmt.Sprintf("Index:%d Term:%d ConfState:%s", m.Index, m.Term, DescribeConfState(m.ConfState))
}

// DescribeReady renders a Ready on several lines, one per non-empty part,
// with each entry, message and read state on a line of its own, indented:
//
//	SoftState: Lead:1 State:StateLeader
//	HardState: Term:2 Vote:1 Commit:4
//	Entries:
//	  2/5 EntryNormal "foo"
//	Messages:
//	  1->2 MsgApp Term:2 Log:2/4 Commit:4 Entries:[2/5 EntryNormal "foo"]
//	MustSync: true
//
// An empty Ready renders as "<empty Ready>". f formats entry payloads.
func DescribeReady(rd Ready, f EntryFormatter) string {
	var b strings.Builder
	if rd.SoftState != nil {
		b.WriteString("SoftState: ")
		b.WriteString(DescribeSoftState(*rd.SoftState))
		b.WriteByte('\n')
	}
	if !IsEmptyHardState(rd.HardState) {
		b.WriteString("HardState: ")
		writeHardState(&b, rd.HardState)
		b.WriteByte('\n')
	}
	if len(rd.ReadStates) > 0 {
		b.WriteString("ReadStates:\n")
		for _, rs := range rd.ReadStates {
			fmt.Fprintf(&b, "  Index:%d RequestCtx:%q\n", rs.Index, rs.RequestCtx)
		}
	}
	if len(rd.Entries) > 0 {
		b.WriteString("Entries:\n")
		writeEntryLines(&b, rd.Entries, f)
	}
	if !IsEmptySnap(rd.Snapshot) {
		b.WriteString("Snapshot: ")
		b.WriteString(DescribeSnapshot(rd.Snapshot))
		b.WriteByte('\n')
	}
	if len(rd.CommittedEntries) > 0 {
		b.WriteString("CommittedEntries:\n")
		writeEntryLines(&b, rd.CommittedEntries, f)
	}
	if len(rd.Messages) > 0 {
		b.WriteString("Messages:\n")
		for _, m := range rd.Messages {
			b.WriteString("  ")
			writeMessage(&b, m, f)
			b.WriteByte('\n')
		}
	}
	if rd.MustSync {
		b.WriteString("MustSync: true\n")
	}
	if b.Len() == 0 {
		return "<empty Ready>"
	}
	return b.String()
}

func writeEntryLines(b *strings.Builder, ents []pb.Entry, f EntryFormatter) {
	for _, e := range ents {
		b.WriteString("  ")
		writeEntry(b, e, f)
		b.WriteByte('\n')
	}
}

// describeTarget renders a message endpoint: a node ID in hex, or the name
// of a local storage thread.
func describeTarget(id uint64) string {
	switch id {
	case LocalAppendThread:
		return "AppendThread"
	case LocalApplyThread:
		return "ApplyThread"
	}
	return strconv.FormatUint(id, 16)
}

// DescribeMessage renders a message on one line, like
//
//	1->2 MsgApp Term:3 Log:2/10 Commit:9 Entries:[3/11 EntryNormal "data"]
//
// Node IDs are in hex (as in the log lines); LocalAppendThread and
// LocalApplyThread appear as AppendThread and ApplyThread. Commit, Vote,
// Reject (with its hint), Entries, Snapshot and Context are shown only
// when set, and the Responses of a storage message are rendered nested,
// like Responses:[1->1 MsgAppResp Term:3 Log:0/11]. f formats entry
// payloads.
func DescribeMessage(m pb.Message, f EntryFormatter) string {
	var b strings.Builder
	writeMessage(&b, m, f)
	return b.String()
}

func writeMessage(b *strings.Builder, m pb.Message, f EntryFormatter) {
	b.WriteString(describeTarget(m.From))
	b.WriteString("->")
	b.WriteString(describeTarget(m.To))
	fmt.Fprintf(b, " %s Term:%d Log:%d/%d", m.Type, m.Term, m.LogTerm, m.Index)
	if m.Reject {
		fmt.Fprintf(b, " Rejected (Hint: %d)", m.RejectHint)
	}
	if m.Commit != 0 {
		fmt.Fprintf(b, " Commit:%d", m.Commit)
	}
	if m.Vote != 0 {
		b.WriteString(" Vote:")
		b.WriteString(describeTarget(m.Vote))
	}
	if len(m.Entries) > 0 {
		b.WriteString(" Entries:[")
		for i, e := range m.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			writeEntry(b, e, f)
		}
		b.WriteByte(']')
	}
	if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
		b.WriteString(" Snapshot: ")
		b.WriteString(DescribeSnapshot(*m.Snapshot))
	}
	if len(m.Context) > 0 {
		fmt.Fprintf(b, " Context:%q", m.Context)
	}
	if len(m.Responses) > 0 {
		b.WriteString(" Responses:[")
		for i, r := range m.Responses {
			if i > 0 {
				b.WriteString(", ")
			}
			writeMessage(b, r, f)
		}
		b.WriteByte(']')
	}
}

// DescribeEntry renders an entry on one line as term/index, type and
// payload, like `3/11 EntryNormal "data"`. Normal payloads go through f
// (quoted with %q when f is nil). Conf change payloads are decoded and
// shown in the syntax of raftpb.ConfChangesToString, like
// "3/12 EntryConfChangeV2 v2 r3"; a ConfChangeV2 with an explicit
// transition names it, and one without changes reads "leave-joint".
func DescribeEntry(e pb.Entry, f EntryFormatter) string {
	var b strings.Builder
	writeEntry(&b, e, f)
	return b.String()
}

func writeEntry(b *strings.Builder, e pb.Entry, f EntryFormatter) {
	fmt.Fprintf(b, "%d/%d %s ", e.Term, e.Index, e.Type)
	switch e.Type {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			fmt.Fprintf(b, "<cannot decode ConfChange: %v>", err)
			return
		}
		b.WriteString(pb.ConfChangesToString(cc.AsV2().Changes))
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			fmt.Fprintf(b, "<cannot decode ConfChangeV2: %v>", err)
			return
		}
		if len(cc.Changes) == 0 {
			b.WriteString("leave-joint")
			return
		}
		b.WriteString(pb.ConfChangesToString(cc.Changes))
		if cc.Transition != pb.ConfChangeTransitionAuto {
			b.WriteByte(' ')
			b.WriteString(cc.Transition.String())
		}
	default:
		if f != nil {
			b.WriteString(f(e.Data))
		} else {
			fmt.Fprintf(b, "%q", e.Data)
		}
	}
}

// DescribeEntries renders entries one per line (see DescribeEntry), each
// line ending in a newline.
func DescribeEntries(ents []pb.Entry, f EntryFormatter) string {
	var b strings.Builder
	for _, e := range ents {
		writeEntry(&b, e, f)
		b.WriteByte('\n')
	}
	return b.String()
}
