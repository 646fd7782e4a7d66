package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

// The raft transport: every member POSTs batches of raftpb messages to
// raftPath on its peers' raft URLs. A batch is a sequence of messages, each
// preceded by its length as a uvarint.
const (
	raftPath = "/raft"
	// headerFrom and headerTo name the sending and receiving member, so that
	// a message that reached the wrong process is refused as a whole.
	headerFrom = "X-Raft-From"
	headerTo   = "X-Raft-To"
	// headerClientURL advertises the sender's client URL: followers learn
	// where to forward writes from the leader's heartbeats.
	headerClientURL = "X-Kvstore-Client-URL"

	// peerQueueLen bounds the messages waiting for one peer. When it is
	// full, new messages are dropped and raft is told the peer is
	// unreachable; raft resends what matters.
	peerQueueLen = 1024
	// maxBatchBytes bounds the payload of one POST (a snapshot may exceed
	// it on its own; it then travels alone).
	maxBatchBytes = 4 << 20
	// maxBodyBytes bounds what a member accepts in one POST.
	maxBodyBytes = 256 << 20
)

// reporter is the part of raft.Node the transport reports to.
type reporter interface {
	ReportUnreachable(id uint64)
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
}

// transport sends raft messages to peers: one goroutine, one bounded queue
// and one keep-alive HTTP connection per peer.
type transport struct {
	id        uint64
	clientURL string
	report    reporter
	logger    *log.Logger
	// removedSelf is called when a peer answers 410 Gone: this member
	// was removed from the cluster.
	removedSelf func()

	mu    sync.Mutex
	peers map[uint64]*peer
}

func newTransport(id uint64, clientURL string, r reporter, logger *log.Logger) *transport {
	return &transport{id: id, clientURL: clientURL, report: r, logger: logger, peers: make(map[uint64]*peer)}
}

// peer is the sending side of the connection to one member.
type peer struct {
	id     uint64
	url    string
	queue  chan pb.Message
	client *http.Client
	// ctx is cancelled by stop, to abort a POST in flight.
	ctx    context.Context
	cancel context.CancelFunc
	stopc  chan struct{}
	donec  chan struct{}
}

// AddPeer starts sending to id at raftURL. Adding a known peer with a new
// URL replaces it; adding itself or a known peer at the same URL does
// nothing.
func (t *transport) AddPeer(id uint64, raftURL string) {
	if id == t.id || raftURL == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.peers[id]; ok {
		if p.url == raftURL {
			return
		}
		p.stop()
	}
	p := &peer{
		id:    id,
		url:   raftURL,
		queue: make(chan pb.Message, peerQueueLen),
		client: &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
				MaxConnsPerHost:     1,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     time.Minute,
			},
		},
		stopc: make(chan struct{}),
		donec: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t.peers[id] = p
	go p.run(t)
}

// RemovePeer stops sending to id and drops what was queued for it.
func (t *transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p, ok := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if ok {
		p.stop()
	}
}

// Stop stops every peer's goroutine.
func (t *transport) Stop() {
	t.mu.Lock()
	peers := t.peers
	t.peers = make(map[uint64]*peer)
	t.mu.Unlock()
	for _, p := range peers {
		p.stop()
	}
}

// Send queues msgs for their peers without blocking. A message for an
// unknown peer, or one that does not fit in its peer's queue, is dropped
// and reported; a dropped MsgSnap is also reported as a failed snapshot.
func (t *transport) Send(msgs []pb.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		p, ok := t.peers[m.To]
		if ok {
			select {
			case p.queue <- m:
				continue
			default:
			}
		}
		t.dropped(m)
	}
}

// dropped reports a message that could not be delivered. It runs
// ReportUnreachable/ReportSnapshot in a goroutine: they block on the node's
// goroutine, which may be waiting for the caller of Send.
func (t *transport) dropped(m pb.Message) {
	go func() {
		t.report.ReportUnreachable(m.To)
		if m.Type == pb.MsgSnap {
			t.report.ReportSnapshot(m.To, raft.SnapshotFailure)
		}
	}()
}

func (p *peer) stop() {
	close(p.stopc)
	p.cancel()
	<-p.donec
	p.client.CloseIdleConnections()
}

// run sends the queued messages in batches, one POST at a time.
func (p *peer) run(t *transport) {
	defer close(p.donec)
	var batch []pb.Message
	var buf bytes.Buffer
	for {
		select {
		case m := <-p.queue:
			batch = append(batch[:0], m)
		case <-p.stopc:
			return
		}
		size := batch[0].Size()
	drain:
		for size < maxBatchBytes {
			select {
			case m := <-p.queue:
				batch = append(batch, m)
				size += m.Size()
			default:
				break drain
			}
		}
		buf.Reset()
		encodeBatch(&buf, batch)
		err := p.post(t, buf.Bytes())
		failed := false
		if err != nil {
			failed = true
			t.logger.Printf("send %d message(s) to %d at %s: %v", len(batch), p.id, p.url, err)
			t.report.ReportUnreachable(p.id)
		}
		for _, m := range batch {
			if m.Type == pb.MsgSnap {
				if failed {
					t.report.ReportSnapshot(p.id, raft.SnapshotFailure)
				} else {
					t.report.ReportSnapshot(p.id, raft.SnapshotFinish)
				}
			}
		}
		if failed {
			// Do not spin against a dead peer: what is queued meanwhile is
			// sent (or dropped by Send) after a short pause.
			select {
			case <-time.After(50 * time.Millisecond):
			case <-p.stopc:
				return
			}
		}
	}
}

func (p *peer) post(t *transport, body []byte) error {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.url+raftPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(headerFrom, strconv.FormatUint(t.id, 10))
	req.Header.Set(headerTo, strconv.FormatUint(p.id, 10))
	req.Header.Set(headerClientURL, t.clientURL)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode == http.StatusGone && t.removedSelf != nil {
		t.removedSelf()
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("peer answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func encodeBatch(buf *bytes.Buffer, batch []pb.Message) {
	var lenBuf [binary.MaxVarintLen64]byte
	for i := range batch {
		b, err := batch[i].Marshal()
		if err != nil {
			// Marshal fails only for values raft never produces.
			panic(fmt.Sprintf("kvstore: marshal %s to %d: %v", batch[i].Type, batch[i].To, err))
		}
		buf.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(b)))])
		buf.Write(b)
	}
}

// decodeBatch splits a POST body into messages.
func decodeBatch(body []byte) ([]pb.Message, error) {
	var msgs []pb.Message
	for len(body) > 0 {
		n, k := binary.Uvarint(body)
		if k <= 0 {
			return nil, fmt.Errorf("message %d: bad length prefix", len(msgs))
		}
		body = body[k:]
		if n > uint64(len(body)) {
			return nil, fmt.Errorf("message %d: length %d exceeds the %d bytes left", len(msgs), n, len(body))
		}
		var m pb.Message
		if err := m.Unmarshal(body[:n]); err != nil {
			return nil, fmt.Errorf("message %d: %w", len(msgs), err)
		}
		msgs = append(msgs, m)
		body = body[n:]
	}
	return msgs, nil
}

// raftHandler receives the batches sent by peers' transports.
type raftHandler struct {
	id uint64
	// step hands one message to the local node.
	step func(ctx context.Context, m pb.Message) error
	// learn records a peer's advertised client URL.
	learn func(id uint64, clientURL string)
	// isRemoved reports whether a member was removed from the cluster.
	isRemoved func(id uint64) bool
}

func (h *raftHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "raft endpoint accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	from, err := strconv.ParseUint(r.Header.Get(headerFrom), 10, 64)
	if err != nil || from == 0 {
		http.Error(w, "missing or invalid "+headerFrom+" header", http.StatusBadRequest)
		return
	}
	if to := r.Header.Get(headerTo); to != strconv.FormatUint(h.id, 10) {
		http.Error(w, fmt.Sprintf("this is member %d, not %q", h.id, to), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	msgs, err := decodeBatch(body)
	if err != nil {
		http.Error(w, "decode batch: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, m := range msgs {
		if m.From != from || m.To != h.id {
			http.Error(w, fmt.Sprintf("message %s from %d to %d in a batch from %d to %d", m.Type, m.From, m.To, from, h.id), http.StatusBadRequest)
			return
		}
	}
	if h.isRemoved(from) {
		http.Error(w, fmt.Sprintf("member %d was removed from the cluster", from), http.StatusGone)
		return
	}
	if u := r.Header.Get(headerClientURL); u != "" {
		h.learn(from, u)
	}
	for _, m := range msgs {
		if err := h.step(r.Context(), m); err != nil {
			if errors.Is(err, raft.ErrStopped) {
				http.Error(w, "member is stopped", http.StatusServiceUnavailable)
				return
			}
			// A message raft refuses (a local type, a response from a
			// removed member) is dropped; the rest of the batch is fine.
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
