package multiraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	pb "github.com/raftkit/raft/raftpb"
)

// HostID names a host (a machine, or a process) that runs groups. 0 is not
// a valid HostID.
type HostID uint64

// GroupID names a raft group. All replicas of a group share its GroupID.
type GroupID uint64

// Lane is the class of traffic an envelope carries. Each lane has its own
// queue per peer host, so that control traffic is never stuck behind data.
type Lane uint8

const (
	// LaneControl carries votes, heartbeats, responses, ReadIndex traffic,
	// TimeoutNow and liveness: small messages that keep groups alive.
	LaneControl Lane = 0
	// LaneData carries appends, snapshots and forwarded proposals.
	LaneData Lane = 1
)

// String returns "control" or "data".
func (l Lane) String() string {
	if l == LaneData {
		return "data"
	}
	return "control"
}

// laneOf returns the lane a message travels on.
func laneOf(t pb.MessageType) Lane {
	switch t {
	case pb.MsgApp, pb.MsgSnap, pb.MsgProp:
		return LaneData
	}
	return LaneControl
}

// Caps is the set of capabilities a host advertises in its Hello. The zero
// value is a plain peer: one raftpb message per envelope, nothing else.
type Caps uint32

const (
	// CapEnvelope: the peer takes envelopes with many messages of many
	// groups.
	CapEnvelope Caps = 1 << iota
	// CapHeartbeats: the peer takes coalesced Heartbeat tuples.
	CapHeartbeats
	// CapLiveness: the peer answers liveness pings.
	CapLiveness
	// CapQuiesce: the peer's groups may quiesce (it understands the
	// Quiesce and Wake flags of Heartbeat tuples). A host advertises it
	// only when HostConfig.Quiescence is on.
	CapQuiesce
)

// AllCaps is what this version of the package supports.
const AllCaps = CapEnvelope | CapHeartbeats | CapLiveness | CapQuiesce

// Version is the envelope format version this package writes and reads.
const Version = 1

// Hello is what a transport exchanges when a connection to a peer host is
// set up: who is there, which incarnation (Epoch) and what it can take.
type Hello struct {
	Host    HostID // the host at the other end
	Epoch   uint64 // its incarnation; grows on every restart
	Version uint32 // its envelope format version
	Caps    Caps   // what it takes; 0 for a plain raftpb peer
}

// GroupMessage is a raft message of one group. Message is carried as its
// raftpb encoding, unchanged.
type GroupMessage struct {
	Group   GroupID    // the group the message belongs to
	Message pb.Message // the message, as raft produced it
}

// Heartbeat is a coalesced MsgHeartbeat (Resp false) or MsgHeartbeatResp
// (Resp true): the only fields those messages carry. Context is kept
// because ReadIndex matches acknowledgements by it, and a nil Context stays
// nil (an empty one stays empty), so the rebuilt message has the same bytes.
type Heartbeat struct {
	Group    GroupID // the group the heartbeat belongs to
	Resp     bool    // MsgHeartbeatResp rather than MsgHeartbeat
	From, To uint64  // the replicas, as in the message
	Term     uint64  // the message's Term
	Commit   uint64  // the message's Commit (0 in a response)
	Context  []byte  // the message's Context: the ReadIndex context
	// Quiesce, on a MsgHeartbeat, is the leader's notice that the group
	// goes quiet (see docs/design/multiraft.md, quiescence). It is sent
	// only to hosts that advertised CapQuiesce; the rebuilt message is the
	// plain heartbeat.
	Quiesce bool
	// Wake, on a MsgHeartbeatResp, is a follower's poke: it wakes a quiet
	// leader (a plain response to an old heartbeat does not).
	Wake bool
}

// LivenessKind is the kind of a liveness message.
type LivenessKind uint8

const (
	// LivenessPing asks the peer to answer with a pong.
	LivenessPing LivenessKind = 1
	// LivenessPong answers a ping, echoing its Seq and the pinger's Epoch.
	LivenessPong LivenessKind = 2
)

// Liveness is one message of the per-host failure detector. Epoch is the
// sender's epoch; in a pong, PeerEpoch and Seq echo the ping's.
type Liveness struct {
	Kind      LivenessKind // ping or pong
	Epoch     uint64       // the sender's epoch
	PeerEpoch uint64       // in a pong, the epoch of the ping it answers
	Seq       uint64       // the ping's sequence number, echoed by the pong
}

// Envelope is what travels between two hosts in one send: messages of
// many groups, coalesced heartbeats and liveness, all for one lane.
type Envelope struct {
	From, To   HostID         // sending and receiving host
	Lane       Lane           // the lane it travels on
	Liveness   []Liveness     // failure detector messages (control lane)
	Heartbeats []Heartbeat    // coalesced heartbeats (control lane)
	Messages   []GroupMessage // raft messages of any groups
}

// heartbeatTuple reports whether m can travel as a Heartbeat without loss,
// and returns it.
func heartbeatTuple(g GroupID, m *pb.Message) (Heartbeat, bool) {
	if m.Type != pb.MsgHeartbeat && m.Type != pb.MsgHeartbeatResp {
		return Heartbeat{}, false
	}
	if m.LogTerm != 0 || m.Index != 0 || len(m.Entries) != 0 || m.Vote != 0 ||
		m.Snapshot != nil || m.Reject || m.RejectHint != 0 || len(m.Responses) != 0 ||
		m.Entries != nil || m.Responses != nil {
		return Heartbeat{}, false
	}
	if m.Type == pb.MsgHeartbeatResp && m.Commit != 0 {
		return Heartbeat{}, false
	}
	return Heartbeat{Group: g, Resp: m.Type == pb.MsgHeartbeatResp, From: m.From, To: m.To,
		Term: m.Term, Commit: m.Commit, Context: m.Context}, true
}

// Message rebuilds the raft message the tuple stands for.
func (h *Heartbeat) Message() pb.Message {
	t := pb.MsgHeartbeat
	if h.Resp {
		t = pb.MsgHeartbeatResp
	}
	return pb.Message{Type: t, From: h.From, To: h.To, Term: h.Term, Commit: h.Commit, Context: h.Context}
}

// Wire format, all integers uvarints unless said otherwise:
//
//	magic 'M' 'R', version (byte), lane (byte), from, to,
//	nLiveness, { kind (byte), epoch, peerEpoch, seq },
//	nHeartbeats, { flags (byte: 1 resp, 2 context present, 4 quiesce,
//	              8 wake), group, from, to,
//	              term, commit, [len, context] },
//	nMessages, { group, len, raftpb bytes }
const (
	magic0, magic1 = 'M', 'R'
	hbResp         = 1
	hbContext      = 2
	hbQuiesce      = 4
	hbWake         = 8
)

// envelopeOverhead is the fixed cost of an envelope, in bytes, used for
// the size cap.
const envelopeOverhead = 4 + 3*binary.MaxVarintLen64

// livenessCost bounds what a liveness message adds to an envelope.
const livenessCost = 1 + 3*binary.MaxVarintLen64

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// cost is what the tuple adds to an envelope, in bytes.
func (h *Heartbeat) cost() int {
	n := 1 + uvarintLen(uint64(h.Group)) + uvarintLen(h.From) + uvarintLen(h.To) + uvarintLen(h.Term) + uvarintLen(h.Commit)
	if h.Context != nil {
		n += uvarintLen(uint64(len(h.Context))) + len(h.Context)
	}
	return n
}

// messageCost is what a message adds to an envelope, in bytes.
func messageCost(m *pb.Message) int { return m.Size() + 2*binary.MaxVarintLen64 }

// Marshal encodes the envelope.
func (e *Envelope) Marshal() ([]byte, error) {
	return e.appendMarshal(nil)
}

// appendMarshal encodes the envelope into b's array when it has room (a
// transport that is done with the bytes before its next send reuses one
// buffer), and returns the encoding, which starts at b[0].
func (e *Envelope) appendMarshal(b []byte) ([]byte, error) {
	n := envelopeOverhead + 3*binary.MaxVarintLen64
	n += len(e.Liveness) * (1 + 3*binary.MaxVarintLen64)
	for i := range e.Heartbeats {
		n += e.Heartbeats[i].cost()
	}
	for i := range e.Messages {
		n += messageCost(&e.Messages[i].Message)
	}
	b = slices.Grow(b[:0], n)
	b = append(b, magic0, magic1, Version, byte(e.Lane))
	b = binary.AppendUvarint(b, uint64(e.From))
	b = binary.AppendUvarint(b, uint64(e.To))
	b = binary.AppendUvarint(b, uint64(len(e.Liveness)))
	for _, l := range e.Liveness {
		b = append(b, byte(l.Kind))
		b = binary.AppendUvarint(b, l.Epoch)
		b = binary.AppendUvarint(b, l.PeerEpoch)
		b = binary.AppendUvarint(b, l.Seq)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Heartbeats)))
	for i := range e.Heartbeats {
		h := &e.Heartbeats[i]
		var f byte
		if h.Resp {
			f |= hbResp
		}
		if h.Context != nil {
			f |= hbContext
		}
		if h.Quiesce {
			f |= hbQuiesce
		}
		if h.Wake {
			f |= hbWake
		}
		b = append(b, f)
		b = binary.AppendUvarint(b, uint64(h.Group))
		b = binary.AppendUvarint(b, h.From)
		b = binary.AppendUvarint(b, h.To)
		b = binary.AppendUvarint(b, h.Term)
		b = binary.AppendUvarint(b, h.Commit)
		if h.Context != nil {
			b = binary.AppendUvarint(b, uint64(len(h.Context)))
			b = append(b, h.Context...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Messages)))
	for i := range e.Messages {
		gm := &e.Messages[i]
		b = binary.AppendUvarint(b, uint64(gm.Group))
		sz := gm.Message.Size()
		b = binary.AppendUvarint(b, uint64(sz))
		start := len(b)
		b = slices.Grow(b, sz)[:start+sz]
		if _, err := gm.Message.MarshalTo(b[start:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// ErrBadEnvelope is wrapped by every error Unmarshal returns for malformed
// input.
var ErrBadEnvelope = errors.New("multiraft: malformed envelope")

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrBadEnvelope, what)
	}
}

func (r *reader) byte(what string) byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// count reads a count of items each at least min bytes long, refusing
// counts the remaining input cannot hold (so a hostile count cannot make
// Unmarshal allocate much).
func (r *reader) count(what string, min int) int {
	n := r.uvarint(what)
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.fail(what + " count")
		return 0
	}
	return int(n)
}

// Unmarshal decodes an envelope written by Marshal. Malformed input gives
// an error wrapping ErrBadEnvelope, never a panic. The decoded messages own
// their bytes (nothing refers to b afterwards).
func (e *Envelope) Unmarshal(b []byte) error {
	return e.unmarshal(b, nil, nil)
}

// unmarshal is Unmarshal, decoding the heartbeat tuples into hbs's array
// and the messages into msgs's when they have room: a receiver that
// handles one envelope at a time reuses its arrays rather than allocating
// them per envelope (thousands of tuples each on a host of many groups,
// and a GroupMessage of 168 bytes per message).
func (e *Envelope) unmarshal(b []byte, hbs []Heartbeat, msgs []GroupMessage) error {
	*e = Envelope{}
	r := reader{b: b}
	if r.byte("magic") != magic0 || r.byte("magic") != magic1 {
		r.fail("magic")
		return r.err
	}
	if v := r.byte("version"); v != Version && r.err == nil {
		r.fail(fmt.Sprintf("version %d", v))
	}
	lane := r.byte("lane")
	if lane > byte(LaneData) {
		r.fail("lane")
	}
	e.Lane = Lane(lane)
	e.From = HostID(r.uvarint("from"))
	e.To = HostID(r.uvarint("to"))
	if n := r.count("liveness", 4); n > 0 {
		e.Liveness = make([]Liveness, n)
		for i := range e.Liveness {
			l := &e.Liveness[i]
			l.Kind = LivenessKind(r.byte("liveness kind"))
			l.Epoch = r.uvarint("liveness epoch")
			l.PeerEpoch = r.uvarint("liveness peer epoch")
			l.Seq = r.uvarint("liveness seq")
		}
	}
	if n := r.count("heartbeats", 6); n > 0 {
		e.Heartbeats = reuse(hbs, n)
		for i := range e.Heartbeats {
			h := &e.Heartbeats[i]
			f := r.byte("heartbeat flags")
			h.Resp = f&hbResp != 0
			h.Quiesce = f&hbQuiesce != 0 && !h.Resp
			h.Wake = f&hbWake != 0 && h.Resp
			h.Group = GroupID(r.uvarint("heartbeat group"))
			h.From = r.uvarint("heartbeat from")
			h.To = r.uvarint("heartbeat to")
			h.Term = r.uvarint("heartbeat term")
			h.Commit = r.uvarint("heartbeat commit")
			if f&hbContext != 0 {
				h.Context = append([]byte{}, r.bytes("heartbeat context")...)
			}
			if r.err != nil {
				return r.err
			}
		}
	}
	if n := r.count("messages", 2); n > 0 {
		e.Messages = reuse(msgs, n)
		for i := range e.Messages {
			gm := &e.Messages[i]
			gm.Group = GroupID(r.uvarint("message group"))
			mb := r.bytes("message")
			if r.err != nil {
				return r.err
			}
			if err := gm.Message.Unmarshal(mb); err != nil {
				return fmt.Errorf("%w: message %d: %v", ErrBadEnvelope, i, err)
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

// envelopeDecoder decodes envelopes into arrays it reuses from one
// envelope to the next, for a receiver that hands each envelope to
// Handler.HandleEnvelope, which keeps none of its arrays, before it
// decodes the next.
type envelopeDecoder struct {
	env  Envelope
	hbs  []Heartbeat
	msgs []GroupMessage
}

// decode decodes b into the decoder's envelope, in the arrays of the
// envelopes before it. The envelope is valid until done.
func (d *envelopeDecoder) decode(b []byte) (*Envelope, error) {
	err := d.env.unmarshal(b, d.hbs, d.msgs)
	return &d.env, err
}

// done takes the arrays of the decoded envelope back once its handler
// returned; the messages are cleared, as they refer to entries the
// groups own now.
func (d *envelopeDecoder) done() {
	if cap(d.env.Heartbeats) > cap(d.hbs) {
		d.hbs = d.env.Heartbeats[:0]
	}
	if cap(d.env.Messages) > cap(d.msgs) {
		d.msgs = d.env.Messages[:0]
	}
	clear(d.env.Messages)
	d.env = Envelope{}
}

// small reports whether the decoder's arrays are small enough to keep in
// a pool (see maxPooledItems).
func (d *envelopeDecoder) small() bool {
	return cap(d.hbs) <= maxPooledItems && cap(d.msgs) <= maxPooledItems
}

// reuse returns s's array holding n zero items when it has room for
// them, else a new one.
func reuse[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// envelopePools hold envelopes, with their arrays, that a transport of
// this package is done with (releaseEnvelope), for the host's next flush
// (getEnvelope): control envelopes, which carry the tuple arrays, apart
// from data ones. Every envelope a host sends used to allocate its
// message array, grown by appends (the busy groups' appends and
// responses: a third of the bytes a host allocated per entry), and a
// heartbeat flush its tuple arrays. A transport that keeps envelopes, or
// one written elsewhere, never releases them: they are collected as
// before.
var envelopePools [2]sync.Pool

// envelopesReused counts the envelopes getEnvelope took from the pools,
// for the tests of reuse: bytes allocated say it only without the race
// detector, which drops a share of a pool's items at random and
// allocates for itself.
var envelopesReused atomic.Uint64

// getEnvelope returns an empty envelope, with the arrays of a released
// one when there is one.
func getEnvelope(from, to HostID, lane Lane) *Envelope {
	env, _ := envelopePools[lane&1].Get().(*Envelope)
	if env == nil {
		env = new(Envelope)
	} else {
		envelopesReused.Add(1)
	}
	env.From, env.To, env.Lane = from, to, lane
	return env
}

// maxPooledItems bounds the arrays kept for reuse: one envelope of a
// heartbeat for each of 100,000 groups is not kept around.
const maxPooledItems = 1 << 14

// releaseEnvelope hands env, which its holder no longer uses, to the next
// getEnvelope. The arrays are cleared first: they refer to entries and
// contexts.
func releaseEnvelope(env *Envelope) {
	if env == nil || cap(env.Messages) > maxPooledItems || cap(env.Heartbeats) > maxPooledItems {
		return
	}
	clear(env.Messages)
	clear(env.Heartbeats)
	*env = Envelope{Lane: env.Lane, Liveness: env.Liveness[:0], Heartbeats: env.Heartbeats[:0], Messages: env.Messages[:0]}
	envelopePools[env.Lane&1].Put(env)
}
