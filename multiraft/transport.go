package multiraft

import (
	"sync"

	pb "github.com/raftkit/raft/raftpb"
)

// Transport moves envelopes between hosts. The Host calls Start once, then
// Send from its pass goroutine; the transport calls the Handler from any
// goroutine.
//
// A transport holds one connection (per lane, if it likes) to each peer
// host, and runs a handshake on each: it sends the local Hello and reports
// the peer's with Handler.HandleHello, again after every reconnection. A
// peer that does not speak the handshake (plain etcd raft, older raftkit)
// is reported with a Hello whose Caps are 0; the host then sends it
// envelopes of exactly one message and nothing else, and the transport
// writes each as a plain raftpb message.
type Transport interface {
	// Start binds the transport to the local host.
	Start(local Hello, h Handler) error
	// Send sends env to env.To, or drops it. An envelope with nothing in
	// it is a probe: the transport connects (and so runs the handshake) if
	// it is not connected; it need not deliver the probe itself. It must not block on the
	// network: a transport queues (bounded) or drops, and reports a peer it
	// cannot reach with Handler.HandleUnreachable. The transport owns env
	// after the call.
	Send(env *Envelope)
	// Close releases the transport's connections.
	Close() error
}

// Handler receives what a Transport delivers. Host implements it. Its
// methods only queue work and return quickly.
type Handler interface {
	// HandleEnvelope delivers an envelope from a peer host. The envelope
	// and its arrays are the transport's again when it returns (a
	// transport reuses them for the next envelope); the messages' own
	// contents (entries, contexts, snapshots) are the handler's to keep.
	HandleEnvelope(env *Envelope)
	// HandleHello reports the peer's Hello after a handshake.
	HandleHello(peer Hello)
	// HandleUnreachable reports that sending to peer failed.
	HandleUnreachable(peer HostID)
	// HandleSnapshotStatus reports the fate of a MsgSnap of group g to
	// replica to: delivered (failed false) or lost. Every MsgSnap handed
	// to Send is reported once.
	HandleSnapshotStatus(g GroupID, to uint64, failed bool)
}

// MemNetwork connects MemTransports in memory, for tests and simulation.
// Envelopes are marshaled and unmarshaled on the way, as on a real wire,
// and delivered synchronously into the receiver's queues. The network can
// cut links between hosts and count what crosses each link.
//
// A plain endpoint (AddPlain) stands for a peer that is not a multiraft
// host, such as a single etcd raft node: it takes and sends one raftpb
// message at a time and answers the handshake with no capabilities.
type MemNetwork struct {
	mu     sync.Mutex
	hosts  map[HostID]*MemTransport
	plain  map[HostID]func(from HostID, g GroupID, msg []byte)
	cut    map[[2]HostID]bool
	conns  map[[2]HostID]bool // handshake done, by (from, to)
	links  map[[2]HostID]*LinkStats
	Strict bool // if set, a malformed envelope panics (tests of the encoder)
}

// LinkStats counts what crossed one directed link.
type LinkStats struct {
	Envelopes uint64 // envelopes delivered (a plain peer's count one per message)
	Bytes     uint64 // their encoded size
	Messages  uint64 // raft messages in them
	Tuples    uint64 // coalesced heartbeats in them
	Liveness  uint64 // liveness messages in them
	Dropped   uint64 // envelopes dropped on a cut link or to no one
	Hellos    uint64 // handshakes (new connections)
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{
		hosts: make(map[HostID]*MemTransport),
		plain: make(map[HostID]func(HostID, GroupID, []byte)),
		cut:   make(map[[2]HostID]bool),
		conns: make(map[[2]HostID]bool),
		links: make(map[[2]HostID]*LinkStats),
	}
}

// Transport returns a new transport for host id. A host that restarts gets
// a new transport; its connections are set up again, with a handshake.
func (n *MemNetwork) Transport(id HostID) *MemTransport {
	return &MemTransport{net: n, id: id}
}

// AddPlain registers a plain endpoint: deliver is called with each raftpb
// message (marshaled) sent to host id.
func (n *MemNetwork) AddPlain(id HostID, deliver func(from HostID, g GroupID, msg []byte)) {
	n.mu.Lock()
	n.plain[id] = deliver
	n.resetLocked(id)
	n.mu.Unlock()
}

// SendPlain sends one raftpb message of group g from the plain endpoint
// from to host to, as one plain-peer envelope. It reports whether it was
// delivered.
func (n *MemNetwork) SendPlain(from, to HostID, g GroupID, m pb.Message) bool {
	n.mu.Lock()
	dst := n.hosts[to]
	if dst == nil || n.cut[[2]HostID{from, to}] {
		n.mu.Unlock()
		return false
	}
	st := n.linkLocked(from, to)
	st.Envelopes++
	st.Messages++
	n.mu.Unlock()
	b, err := m.Marshal()
	if err != nil {
		return false
	}
	var back pb.Message
	if err := back.Unmarshal(b); err != nil {
		return false
	}
	dst.h.HandleEnvelope(&Envelope{From: from, To: to, Lane: laneOf(m.Type), Messages: []GroupMessage{{Group: g, Message: back}}})
	return true
}

// Partition cuts the links between a and b in both directions; their
// connections close.
func (n *MemNetwork) Partition(a, b HostID) {
	n.mu.Lock()
	n.cut[[2]HostID{a, b}] = true
	n.cut[[2]HostID{b, a}] = true
	delete(n.conns, [2]HostID{a, b})
	delete(n.conns, [2]HostID{b, a})
	n.mu.Unlock()
}

// Isolate cuts every link of host a.
func (n *MemNetwork) Isolate(a HostID) {
	n.mu.Lock()
	var others []HostID
	for id := range n.hosts {
		others = append(others, id)
	}
	for id := range n.plain {
		others = append(others, id)
	}
	n.mu.Unlock()
	for _, b := range others {
		if b != a {
			n.Partition(a, b)
		}
	}
}

// Heal restores every link.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	n.cut = make(map[[2]HostID]bool)
	n.mu.Unlock()
}

// Link returns a copy of the counters of the link from → to.
func (n *MemNetwork) Link(from, to HostID) LinkStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	if st := n.links[[2]HostID{from, to}]; st != nil {
		return *st
	}
	return LinkStats{}
}

// ResetStats zeroes every link's counters.
func (n *MemNetwork) ResetStats() {
	n.mu.Lock()
	n.links = make(map[[2]HostID]*LinkStats)
	n.mu.Unlock()
}

func (n *MemNetwork) linkLocked(from, to HostID) *LinkStats {
	k := [2]HostID{from, to}
	st := n.links[k]
	if st == nil {
		st = &LinkStats{}
		n.links[k] = st
	}
	return st
}

// resetLocked closes every connection of host id.
func (n *MemNetwork) resetLocked(id HostID) {
	for k := range n.conns {
		if k[0] == id || k[1] == id {
			delete(n.conns, k)
		}
	}
}

// MemTransport is the Transport of one host on a MemNetwork.
type MemTransport struct {
	net   *MemNetwork
	id    HostID
	hello Hello
	h     Handler
}

// Start implements Transport: the host joins the network, replacing any
// earlier transport of the same id (a restart).
func (t *MemTransport) Start(local Hello, h Handler) error {
	t.hello, t.h = local, h
	n := t.net
	n.mu.Lock()
	n.hosts[t.id] = t
	n.resetLocked(t.id)
	n.mu.Unlock()
	return nil
}

// Close implements Transport: the host leaves the network.
func (t *MemTransport) Close() error {
	n := t.net
	n.mu.Lock()
	if n.hosts[t.id] == t {
		delete(n.hosts, t.id)
		n.resetLocked(t.id)
	}
	n.mu.Unlock()
	return nil
}

// Send implements Transport. The envelope is marshaled and unmarshaled (as
// a bare raftpb message for a plain peer) and handed to the receiver.
func (t *MemTransport) Send(env *Envelope) {
	t.send(env)
	releaseEnvelope(env) // nothing refers to it now: its arrays serve the next flush
}

func (t *MemTransport) send(env *Envelope) {
	n := t.net
	to := env.To
	n.mu.Lock()
	if n.hosts[t.id] != t {
		n.mu.Unlock()
		return // closed
	}
	dst, plain := n.hosts[to], n.plain[to]
	if (dst == nil && plain == nil) || n.cut[[2]HostID{t.id, to}] {
		n.linkLocked(t.id, to).Dropped++
		n.mu.Unlock()
		t.h.HandleUnreachable(to)
		reportSnapshots(t.h, env, true)
		return
	}
	// Handshake on a new connection: both sides learn the other's Hello.
	var hello, back Hello
	handshake := !n.conns[[2]HostID{t.id, to}]
	if handshake {
		n.conns[[2]HostID{t.id, to}] = true
		n.linkLocked(t.id, to).Hellos++
		if dst != nil {
			hello = dst.hello
			back = t.hello
		} else {
			hello = Hello{Host: to}
		}
	}
	probe := len(env.Messages)+len(env.Heartbeats)+len(env.Liveness) == 0
	if probe {
		n.mu.Unlock()
		if handshake {
			t.h.HandleHello(hello)
			if dst != nil {
				dst.h.HandleHello(back)
			}
		}
		return
	}
	st := n.linkLocked(t.id, to)
	st.Envelopes++
	st.Messages += uint64(len(env.Messages))
	st.Tuples += uint64(len(env.Heartbeats))
	st.Liveness += uint64(len(env.Liveness))
	n.mu.Unlock()

	if handshake {
		t.h.HandleHello(hello)
		if dst != nil {
			dst.h.HandleHello(back)
		}
	}
	if dst == nil {
		for i := range env.Messages {
			b, err := env.Messages[i].Message.Marshal()
			if err != nil {
				continue
			}
			n.count(t.id, to, len(b))
			plain(t.id, env.Messages[i].Group, b)
		}
		reportSnapshots(t.h, env, false)
		return
	}
	sc, _ := memScratches.Get().(*memScratch)
	if sc == nil {
		sc = new(memScratch)
	}
	defer func() {
		sc.dec.done()
		if cap(sc.buf) <= 1<<20 && sc.dec.small() {
			memScratches.Put(sc)
		}
	}()
	b, err := env.appendMarshal(sc.buf)
	if err != nil {
		reportSnapshots(t.h, env, true)
		return
	}
	sc.buf = b[:0]
	n.count(t.id, to, len(b))
	got, err := sc.dec.decode(b)
	if err != nil {
		if n.Strict {
			panic(err)
		}
		reportSnapshots(t.h, env, true)
		return
	}
	dst.h.HandleEnvelope(got)
	reportSnapshots(t.h, env, false)
}

// memScratch is what a MemTransport's Send reuses from one envelope to
// the next: the encoding's buffer (the decoded envelope refers to none of
// it) and the decoder's arrays.
type memScratch struct {
	dec envelopeDecoder
	buf []byte
}

var memScratches sync.Pool

// reportSnapshots reports the fate of the envelope's MsgSnap messages.
func reportSnapshots(h Handler, env *Envelope, failed bool) {
	for i := range env.Messages {
		if m := &env.Messages[i].Message; m.Type == pb.MsgSnap {
			h.HandleSnapshotStatus(env.Messages[i].Group, m.To, failed)
		}
	}
}

func (n *MemNetwork) count(from, to HostID, bytes int) {
	n.mu.Lock()
	n.linkLocked(from, to).Bytes += uint64(bytes)
	n.mu.Unlock()
}
