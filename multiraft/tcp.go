package multiraft

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// TCPConfig configures a TCPTransport. Only Listen is required.
type TCPConfig struct {
	// Listen is the address to accept peers on, such as "127.0.0.1:0".
	Listen string
	// TLS, if set, secures every connection: the listener serves with it
	// and dials use it (set ServerName or InsecureSkipVerify as needed).
	TLS *tls.Config
	// QueueEnvelopes bounds the envelopes waiting per peer host and lane;
	// beyond it Send drops. Default 1024.
	QueueEnvelopes int
	// ChunkBytes is the largest frame written; a larger envelope (a
	// snapshot) is streamed as chunks of this size. Default 1 MiB.
	ChunkBytes int
	// MaxEnvelopeBytes bounds a reassembled envelope; a peer sending more
	// is disconnected. Default 1 GiB.
	MaxEnvelopeBytes int
	// DialTimeout bounds a dial and its handshake. Default 5 s.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between reconnection
	// attempts, which doubles from MinBackoff. Defaults 50 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
}

// TCPTransport is a Transport over TCP (optionally TLS), built on the
// standard library. It dials one connection per peer host and lane, so
// that a snapshot streamed on the data lane never delays a heartbeat, and
// accepts the peers' connections. Each connection starts with a handshake:
// the dialer sends its Hello and the lane, the acceptor answers with its
// Hello; both report the other's Hello to their host. Frames are
// length-prefixed; an envelope larger than ChunkBytes is streamed in
// chunks. A connection that fails is dialed again with exponential
// backoff; while a peer is unreachable its envelopes are dropped (raft
// retries), the host hears HandleUnreachable, and each lost MsgSnap is
// reported failed.
//
// Peers are found by address: SetPeer says where each host listens. A
// TCPTransport speaks only to multiraft hosts; a plain etcd raft peer needs
// its own transport.
type TCPTransport struct {
	cfg TCPConfig
	ln  net.Listener

	mu      sync.Mutex
	addrs   map[HostID]string
	senders map[[2]uint64]*tcpSender // by (host, lane)
	conns   map[net.Conn]bool        // open, accepted and dialed
	local   Hello
	h       Handler
	closed  bool

	stop   chan struct{}
	ctx    context.Context // canceled by Close: aborts dials
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewTCPTransport listens on cfg.Listen. The transport starts accepting
// once its host starts it (NewHost does).
func NewTCPTransport(cfg TCPConfig) (*TCPTransport, error) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.QueueEnvelopes, 1024)
	def(&cfg.ChunkBytes, 1<<20)
	def(&cfg.MaxEnvelopeBytes, 1<<30)
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Second, cfg.MinBackoff)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &TCPTransport{
		cfg: cfg, ln: ln, ctx: ctx, cancel: cancel,
		addrs:   make(map[HostID]string),
		senders: make(map[[2]uint64]*tcpSender),
		conns:   make(map[net.Conn]bool),
		stop:    make(chan struct{}),
	}, nil
}

// Addr returns the address the transport listens on.
func (t *TCPTransport) Addr() string { return t.ln.Addr().String() }

// SetPeer records where host id listens. A changed address takes effect
// at the next reconnection.
func (t *TCPTransport) SetPeer(id HostID, addr string) {
	t.mu.Lock()
	t.addrs[id] = addr
	t.mu.Unlock()
}

// Start implements Transport: it starts accepting peers.
func (t *TCPTransport) Start(local Hello, h Handler) error {
	t.mu.Lock()
	t.local, t.h = local, h
	t.mu.Unlock()
	t.wg.Add(1)
	go t.accept()
	return nil
}

// Close implements Transport: it closes the listener and every connection
// and waits for the transport's goroutines.
func (t *TCPTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.stop)
	t.cancel()
	err := t.ln.Close()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

// Send implements Transport: env joins the queue of its peer and lane.
func (t *TCPTransport) Send(env *Envelope) {
	key := [2]uint64{uint64(env.To), uint64(env.Lane)}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	s := t.senders[key]
	if s == nil {
		s = &tcpSender{t: t, to: env.To, lane: env.Lane, q: make(chan *Envelope, t.cfg.QueueEnvelopes)}
		t.senders[key] = s
		t.wg.Add(1)
		go s.run()
	}
	h := t.h
	t.mu.Unlock()
	select {
	case s.q <- env:
	default:
		h.HandleUnreachable(env.To)
		reportSnapshots(h, env, true)
	}
}

// Frames: uvarint length, then a flag byte and the payload. A whole
// envelope has flag frameWhole; a chunked one is frameChunk... frameLast.
const (
	frameWhole = 0
	frameChunk = 1
	frameLast  = 2
)

// tcpMagic starts every connection.
var tcpMagic = [4]byte{'M', 'R', 'T', '1'}

func writeHello(w io.Writer, h Hello, lane Lane) error {
	b := append([]byte{}, tcpMagic[:]...)
	b = binary.AppendUvarint(b, uint64(h.Host))
	b = binary.AppendUvarint(b, h.Epoch)
	b = binary.AppendUvarint(b, uint64(h.Version))
	b = binary.AppendUvarint(b, uint64(h.Caps))
	b = append(b, byte(lane))
	_, err := w.Write(b)
	return err
}

func readHello(r *bufio.Reader) (Hello, Lane, error) {
	var m [4]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return Hello{}, 0, err
	}
	if m != tcpMagic {
		return Hello{}, 0, fmt.Errorf("multiraft: not a multiraft peer (magic %q)", m[:])
	}
	var v [4]uint64
	for i := range v {
		x, err := binary.ReadUvarint(r)
		if err != nil {
			return Hello{}, 0, err
		}
		v[i] = x
	}
	lane, err := r.ReadByte()
	if err != nil {
		return Hello{}, 0, err
	}
	if lane > byte(LaneData) || v[2] > 1<<32-1 || v[3] > 1<<32-1 {
		return Hello{}, 0, errors.New("multiraft: bad hello")
	}
	return Hello{Host: HostID(v[0]), Epoch: v[1], Version: uint32(v[2]), Caps: Caps(v[3])}, Lane(lane), nil
}

// writeEnvelope writes b as one frame, or as chunks of at most chunk bytes.
func writeEnvelope(w *bufio.Writer, b []byte, chunk int) error {
	if len(b) <= chunk {
		return writeFrame(w, frameWhole, b)
	}
	for len(b) > chunk {
		if err := writeFrame(w, frameChunk, b[:chunk]); err != nil {
			return err
		}
		b = b[chunk:]
	}
	return writeFrame(w, frameLast, b)
}

func writeFrame(w *bufio.Writer, flag byte, p []byte) error {
	var hdr [binary.MaxVarintLen64 + 1]byte
	n := binary.PutUvarint(hdr[:], uint64(len(p)))
	hdr[n] = flag
	if _, err := w.Write(hdr[:n+1]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

// readEnvelope reads one envelope's bytes, reassembling chunks, refusing
// more than max bytes.
func readEnvelope(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		flag, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if n > uint64(max-len(buf)) || flag > frameLast || (flag == frameWhole && buf != nil) {
			return nil, fmt.Errorf("%w: frame of %d bytes, flag %d", ErrBadEnvelope, n, flag)
		}
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return nil, err
		}
		if flag != frameChunk {
			return buf, nil
		}
	}
}

func (t *TCPTransport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return // closed
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.conns[c] = true
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serve(c)
	}
}

// serve runs an accepted connection: handshake, then envelopes until it
// fails. Bad input closes the connection.
func (t *TCPTransport) serve(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		c.Close()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	c.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	peer, _, err := readHello(r)
	if err != nil {
		return
	}
	t.mu.Lock()
	local, h := t.local, t.h
	t.mu.Unlock()
	if err := writeHello(c, local, 0); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	h.HandleHello(peer)
	var dec envelopeDecoder
	for {
		b, err := readEnvelope(r, t.cfg.MaxEnvelopeBytes)
		if err != nil {
			return
		}
		env, err := dec.decode(b)
		if err != nil || env.From != peer.Host {
			return
		}
		h.HandleEnvelope(env)
		dec.done()
	}
}

// tcpSender owns the outbound connection to one peer host for one lane.
type tcpSender struct {
	t    *TCPTransport
	to   HostID
	lane Lane
	q    chan *Envelope
}

func (s *tcpSender) run() {
	t := s.t
	defer t.wg.Done()
	backoff := t.cfg.MinBackoff
	for {
		c, w, err := s.dial()
		if err != nil {
			// Unreachable: what waits is dropped, so the host hears of it
			// now and queues stay bounded.
			s.dropQueued()
			select {
			case <-t.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, t.cfg.MaxBackoff)
			continue
		}
		backoff = t.cfg.MinBackoff
		// Close closes every connection, so that a write blocked on a
		// peer that stopped reading cannot hold it up.
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.conns[c] = true
		t.mu.Unlock()
		s.pump(c, w)
		c.Close()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		select {
		case <-t.stop:
			return
		default:
		}
	}
}

func (s *tcpSender) dropQueued() {
	for {
		select {
		case env := <-s.q:
			s.t.h.HandleUnreachable(s.to)
			reportSnapshots(s.t.h, env, true)
		default:
			return
		}
	}
}

// dial connects to the peer and runs the handshake.
func (s *tcpSender) dial() (net.Conn, *bufio.Writer, error) {
	t := s.t
	t.mu.Lock()
	addr, local, h := t.addrs[s.to], t.local, t.h
	t.mu.Unlock()
	if addr == "" {
		return nil, nil, fmt.Errorf("multiraft: no address for host %d", s.to)
	}
	d := &net.Dialer{Timeout: t.cfg.DialTimeout}
	var c net.Conn
	var err error
	if t.cfg.TLS != nil {
		c, err = (&tls.Dialer{NetDialer: d, Config: t.cfg.TLS}).DialContext(t.ctx, "tcp", addr)
	} else {
		c, err = d.DialContext(t.ctx, "tcp", addr)
	}
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	w := bufio.NewWriterSize(c, 64<<10)
	err = writeHello(w, local, s.lane)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	peer, _, err := readHello(bufio.NewReader(c))
	if err != nil || peer.Host != s.to {
		c.Close()
		return nil, nil, fmt.Errorf("multiraft: handshake with host %d at %s: %v (got host %d)", s.to, addr, err, peer.Host)
	}
	c.SetDeadline(time.Time{})
	h.HandleHello(peer)
	return c, w, nil
}

// pump writes queued envelopes until the connection fails or the
// transport closes; the buffered writer is flushed whenever the queue
// runs dry.
func (s *tcpSender) pump(c net.Conn, w *bufio.Writer) {
	t := s.t
	var sent []*Envelope // written but not yet flushed
	var buf []byte       // the encoding, reused: the writer copies it
	fail := func(cur *Envelope) {
		t.h.HandleUnreachable(s.to)
		for _, env := range append(sent, cur) {
			if env != nil {
				reportSnapshots(t.h, env, true)
			}
		}
	}
	for {
		var env *Envelope
		select {
		case <-t.stop:
			return
		case env = <-s.q:
		}
		b, err := env.appendMarshal(buf)
		if err != nil {
			reportSnapshots(t.h, env, true)
			continue
		}
		if cap(b) <= 1<<20 {
			buf = b[:0]
		}
		if err := writeEnvelope(w, b, t.cfg.ChunkBytes); err != nil {
			fail(env)
			return
		}
		sent = append(sent, env)
		if len(s.q) == 0 || len(sent) >= 64 {
			if err := w.Flush(); err != nil {
				fail(nil)
				return
			}
			for i, e := range sent {
				reportSnapshots(t.h, e, false)
				releaseEnvelope(e) // its arrays serve the host's next flush
				sent[i] = nil
			}
			sent = sent[:0]
		}
	}
}
