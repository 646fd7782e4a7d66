package raft

import (
	pb "github.com/raftkit/raft/raftpb"
)

// isLocalMsgType holds the message types that only the node itself (its
// ticker, its application or its storage threads) produces.
var isLocalMsgType = [...]bool{
	pb.MsgHup:               true,
	pb.MsgBeat:              true,
	pb.MsgUnreachable:       true,
	pb.MsgSnapStatus:        true,
	pb.MsgCheckQuorum:       true,
	pb.MsgStorageAppend:     true,
	pb.MsgStorageAppendResp: true,
	pb.MsgStorageApply:      true,
	pb.MsgStorageApplyResp:  true,
}

// isResponseMsgType holds the message types that answer a request.
var isResponseMsgType = [...]bool{
	pb.MsgAppResp:           true,
	pb.MsgVoteResp:          true,
	pb.MsgHeartbeatResp:     true,
	pb.MsgUnreachable:       true,
	pb.MsgReadIndexResp:     true,
	pb.MsgPreVoteResp:       true,
	pb.MsgStorageAppendResp: true,
	pb.MsgStorageApplyResp:  true,
}

// IsLocalMsg reports whether a message type is local to a node: never sent
// to nor received from a peer. Unknown types are not local.
func IsLocalMsg(msgt pb.MessageType) bool {
	return msgt >= 0 && int(msgt) < len(isLocalMsgType) && isLocalMsgType[msgt]
}

// IsResponseMsg reports whether a message type is a response. Unknown types
// are not responses.
func IsResponseMsg(msgt pb.MessageType) bool {
	return msgt >= 0 && int(msgt) < len(isResponseMsgType) && isResponseMsgType[msgt]
}

// IsLocalMsgTarget reports whether id is one of the local storage threads,
// LocalAppendThread or LocalApplyThread.
func IsLocalMsgTarget(id uint64) bool {
	return id == LocalAppendThread || id == LocalApplyThread
}

// IsEmptyHardState reports whether st is the zero HardState.
func IsEmptyHardState(st pb.HardState) bool {
	return isHardStateEqual(st, pb.HardState{})
}

// IsEmptySnap reports whether sp is empty: its metadata index is 0.
func IsEmptySnap(sp pb.Snapshot) bool {
	return isEmptySnapAt(&sp)
}

// isEmptySnapAt is IsEmptySnap(*sp). Passing a snapshot by value copies
// its 144 bytes even when IsEmptySnap is inlined, some 20 instructions
// per call on the Ready path for one comparison.
func isEmptySnapAt(sp *pb.Snapshot) bool {
	return sp.Metadata.Index == 0
}

// MustSync reports whether the writes of a Ready must be durable (fsync)
// before its messages are sent: when the term or the vote changed, or there
// are entries to write. The commit index may be lost and learned again.
func MustSync(st, prevst pb.HardState, entsnum int) bool {
	return entsnum != 0 || st.Vote != prevst.Vote || st.Term != prevst.Term
}

// appendEntries appends src to dst. A single entry, a follower's usual
// append, is copied as a value, which costs less than the bulk copy of a
// slice (a call to memmove with its write barriers).
func appendEntries(dst, src []pb.Entry) []pb.Entry {
	if len(src) == 1 {
		return append(dst, src[0])
	}
	return append(dst, src...)
}
