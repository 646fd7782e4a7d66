package multiraft

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/raftkit/raft/raftpb"
)

// tcpCluster runs started hosts over TCPTransports on the loopback.
type tcpCluster struct {
	*testCluster
	trs   map[HostID]*TCPTransport
	addrs map[HostID]string
	tls   *tls.Config
}

func newTCPCluster(t *testing.T, hosts, groups int, tlsCfg *tls.Config) *tcpCluster {
	tc := &tcpCluster{trs: map[HostID]*TCPTransport{}, addrs: map[HostID]string{}, tls: tlsCfg}
	for id := HostID(1); id <= HostID(hosts); id++ {
		tr, err := NewTCPTransport(TCPConfig{Listen: "127.0.0.1:0", TLS: tlsCfg, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		require.NoError(t, err)
		tc.trs[id] = tr
		tc.addrs[id] = tr.Addr()
	}
	for _, tr := range tc.trs {
		for id, a := range tc.addrs {
			tr.SetPeer(id, a)
		}
	}
	tc.testCluster = newTestCluster(t, hosts, groups, func(hc *HostConfig) {
		hc.TickInterval = 3 * time.Millisecond
		hc.LivenessTimeoutTicks = 100 // loaded test machines stall for tens of ms
		hc.Transport = tc.transport(hc.ID)
	})
	for _, h := range tc.hosts {
		h.Start()
	}
	t.Cleanup(func() {
		for _, h := range tc.hosts {
			h.Stop()
		}
	})
	return tc
}

// transport returns host id's transport: the first one, or a new one on
// the same address after a restart.
func (tc *tcpCluster) transport(id HostID) Transport {
	if tr := tc.trs[id]; tr != nil {
		delete(tc.trs, id)
		return tr
	}
	var tr *TCPTransport
	var err error
	for i := 0; i < 100; i++ { // the old listener may linger a moment
		tr, err = NewTCPTransport(TCPConfig{Listen: tc.addrs[id], TLS: tc.tls, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(tc.t, err)
	for pid, a := range tc.addrs {
		tr.SetPeer(pid, a)
	}
	return tr
}

// proposeAll proposes data in every group at its leader and waits until
// every running host applied it.
func (tc *tcpCluster) proposeAll(data string) {
	done := map[GroupID]bool{}
	require.Eventually(tc.t, func() bool {
		all := true
		for _, g := range tc.groups {
			if done[g] {
				continue
			}
			ok := true
			for id := range tc.hosts {
				got := tc.appliedOn(id, g)
				if len(got) == 0 || got[len(got)-1] != data {
					ok = false
				}
			}
			if ok {
				done[g] = true
				continue
			}
			all = false
			for _, h := range tc.hosts {
				if st, err := h.Status(g); err == nil && st.RaftState.String() == "StateLeader" {
					applied := tc.appliedOn(h.ID(), g)
					if len(applied) == 0 || applied[len(applied)-1] != data {
						_ = h.Propose(g, []byte(data))
					}
				}
			}
		}
		return all
	}, 20*time.Second, 20*time.Millisecond)
}

func TestTCPClusterCommitsInEveryGroup(t *testing.T) {
	tc := newTCPCluster(t, 3, 20, nil)
	tc.proposeAll("a")
	for id, h := range tc.hosts {
		require.NoError(t, h.Err())
		for pid := range tc.hosts {
			if pid != id {
				require.Eventually(t, func() bool {
					st, _, _ := h.PeerLiveness(pid)
					return st == LivenessLive
				}, 10*time.Second, 5*time.Millisecond)
				_, epoch, caps := h.PeerLiveness(pid)
				assert.Equal(t, uint64(1), epoch)
				assert.Equal(t, AllCaps&^CapQuiesce, caps, "quiescence is off unless asked for")
			}
		}
		assert.Greater(t, h.Stats().Tuples, uint64(0), "heartbeats coalesced over TCP")
	}
}

func TestTCPReconnectsAfterPeerRestart(t *testing.T) {
	tc := newTCPCluster(t, 3, 10, nil)
	tc.proposeAll("before")
	tc.stop(2)
	tc.proposeAll("while-down")
	tc.start(2)
	tc.hosts[2].Start()
	tc.proposeAll("after")
	require.Eventually(t, func() bool {
		st, epoch, _ := tc.hosts[1].PeerLiveness(2)
		return st == LivenessLive && epoch == 2
	}, 10*time.Second, 10*time.Millisecond)
	for _, g := range tc.groups {
		assert.Equal(t, []string{"before", "while-down", "after"}, dedup(tc.appliedOn(2, g)), "group %d", g)
	}
}

// dedup drops repeats (a proposal retried by proposeAll may commit twice).
func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func TestTCPWithTLS(t *testing.T) {
	tc := newTCPCluster(t, 3, 5, selfSignedTLS(t))
	tc.proposeAll("secure")
}

// recHandler records what a transport delivers.
type recHandler struct {
	mu     sync.Mutex
	envs   []*Envelope
	hellos []Hello
	unr    int
	snaps  []bool
}

func (r *recHandler) HandleEnvelope(env *Envelope) {
	// The transport reuses the envelope's arrays once this returns.
	cp := *env
	cp.Liveness = slices.Clone(env.Liveness)
	cp.Heartbeats = slices.Clone(env.Heartbeats)
	cp.Messages = slices.Clone(env.Messages)
	r.mu.Lock()
	r.envs = append(r.envs, &cp)
	r.mu.Unlock()
}
func (r *recHandler) HandleHello(h Hello) { r.mu.Lock(); r.hellos = append(r.hellos, h); r.mu.Unlock() }
func (r *recHandler) HandleUnreachable(HostID) {
	r.mu.Lock()
	r.unr++
	r.mu.Unlock()
}
func (r *recHandler) HandleSnapshotStatus(g GroupID, to uint64, failed bool) {
	r.mu.Lock()
	r.snaps = append(r.snaps, failed)
	r.mu.Unlock()
}

func TestTCPStreamsLargeSnapshotInChunks(t *testing.T) {
	a, err := NewTCPTransport(TCPConfig{Listen: "127.0.0.1:0", ChunkBytes: 1000})
	require.NoError(t, err)
	b, err := NewTCPTransport(TCPConfig{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	ha, hb := &recHandler{}, &recHandler{}
	require.NoError(t, a.Start(Hello{Host: 1, Epoch: 1, Version: Version, Caps: AllCaps}, ha))
	require.NoError(t, b.Start(Hello{Host: 2, Epoch: 7, Version: Version, Caps: AllCaps}, hb))
	defer a.Close()
	defer b.Close()
	a.SetPeer(2, b.Addr())
	data := bytes.Repeat([]byte("snapshot"), 100000)
	snap := pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: 9, Term: 3}}}
	a.Send(&Envelope{From: 1, To: 2, Lane: LaneData, Messages: []GroupMessage{{Group: 4, Message: snap}}})
	a.Send(&Envelope{From: 1, To: 2, Lane: LaneControl, Messages: []GroupMessage{{Group: 4, Message: pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2}}}})
	require.Eventually(t, func() bool {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		return len(hb.envs) == 2
	}, 5*time.Second, 5*time.Millisecond)
	hb.mu.Lock()
	defer hb.mu.Unlock()
	var got *pb.Message
	for _, env := range hb.envs {
		if env.Lane == LaneData {
			got = &env.Messages[0].Message
		}
	}
	require.NotNil(t, got)
	want, _ := snap.Marshal()
	have, _ := got.Marshal()
	assert.Equal(t, want, have, "the snapshot arrives byte for byte")
	assert.Contains(t, hb.hellos, Hello{Host: 1, Epoch: 1, Version: Version, Caps: AllCaps})
	require.Eventually(t, func() bool {
		ha.mu.Lock()
		defer ha.mu.Unlock()
		return len(ha.snaps) == 1
	}, 5*time.Second, 5*time.Millisecond)
	ha.mu.Lock()
	assert.Equal(t, []bool{false}, ha.snaps, "ReportSnapshot(finish)")
	assert.Contains(t, ha.hellos, Hello{Host: 2, Epoch: 7, Version: Version, Caps: AllCaps})
	ha.mu.Unlock()
}

func TestTCPUnreachablePeerIsReported(t *testing.T) {
	a, err := NewTCPTransport(TCPConfig{Listen: "127.0.0.1:0", MinBackoff: time.Millisecond, QueueEnvelopes: 4})
	require.NoError(t, err)
	ha := &recHandler{}
	require.NoError(t, a.Start(Hello{Host: 1, Epoch: 1, Version: Version, Caps: AllCaps}, ha))
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	a.SetPeer(2, addr)
	for i := 0; i < 20; i++ {
		a.Send(&Envelope{From: 1, To: 2, Lane: LaneData, Messages: []GroupMessage{{Group: 1, Message: pb.Message{Type: pb.MsgSnap, To: 2, Snapshot: &pb.Snapshot{}}}}})
	}
	require.Eventually(t, func() bool {
		ha.mu.Lock()
		defer ha.mu.Unlock()
		return ha.unr > 0 && len(ha.snaps) == 20
	}, 5*time.Second, 5*time.Millisecond)
	ha.mu.Lock()
	defer ha.mu.Unlock()
	for _, failed := range ha.snaps {
		assert.True(t, failed, "every lost snapshot is reported failed")
	}
}

func TestTCPRefusesAPeerThatIsNotMultiraft(t *testing.T) {
	a, err := NewTCPTransport(TCPConfig{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	ha := &recHandler{}
	require.NoError(t, a.Start(Hello{Host: 1, Epoch: 1, Version: Version, Caps: AllCaps}, ha))
	defer a.Close()
	c, err := net.Dial("tcp", a.Addr())
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(c).ReadByte()
	assert.Error(t, err, "the connection is closed without an answer")
	ha.mu.Lock()
	defer ha.mu.Unlock()
	assert.Empty(t, ha.hellos)
	assert.Empty(t, ha.envs)
}

// selfSignedTLS returns a config that serves and trusts one self-signed
// certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "multiraft test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13,
	}
}

// A peer that accepts and then never reads fills the socket; Close must
// not wait for the blocked writer.
func TestTCPCloseDoesNotHangOnAPeerThatStopsReading(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		if _, _, err := readHello(r); err != nil {
			return
		}
		_ = writeHello(c, Hello{Host: 2, Epoch: 1, Version: Version, Caps: AllCaps}, 0)
		<-quit // never read again
	}()
	a, err := NewTCPTransport(TCPConfig{Listen: "127.0.0.1:0", QueueEnvelopes: 8})
	require.NoError(t, err)
	ha := &recHandler{}
	require.NoError(t, a.Start(Hello{Host: 1, Epoch: 1, Version: Version, Caps: AllCaps}, ha))
	a.SetPeer(2, ln.Addr().String())
	big := pb.Message{Type: pb.MsgApp, To: 2, Entries: []pb.Entry{{Data: make([]byte, 1<<20)}}}
	// Send until the queue overflows: the writer is then stuck.
	require.Eventually(t, func() bool {
		a.Send(&Envelope{From: 1, To: 2, Lane: LaneData, Messages: []GroupMessage{{Group: 1, Message: big}}})
		ha.mu.Lock()
		defer ha.mu.Unlock()
		return ha.unr > 0
	}, 10*time.Second, time.Millisecond)
	done := make(chan struct{})
	go func() { a.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a blocked writer")
	}
}
