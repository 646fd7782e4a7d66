package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftkit/raft"
	"github.com/raftkit/raft/contrib/boltlogstore"
	"github.com/raftkit/raft/multiraft"
	pb "github.com/raftkit/raft/raftpb"
)

// serverConfig configures one host of the service.
type serverConfig struct {
	ID     int           // host ID, 1..len(Peers); also the raft node ID of its replicas
	Dir    string        // data directory
	Peers  []string      // raft address of each host, by ID
	Groups int           // number of groups
	Tick   time.Duration // tick interval
}

// server is one host: a multiraft.Host holding a replica of every group,
// the groups' key-value state machines, and the HTTP API.
type server struct {
	cfg   serverConfig
	host  *multiraft.Host
	store *boltlogstore.Store
	sms   []*shard // by group ID - 1

	mu      sync.Mutex
	writes  map[uint64]chan struct{} // proposals waiting to be applied, by request ID
	reads   map[uint64]chan uint64   // ReadIndex requests waiting for their index
	rng     *rand.Rand
	timeout time.Duration
}

// shard is the state machine of one group.
type shard struct {
	mu      sync.Mutex
	kv      map[string]string
	applied uint64        // index of the last entry applied
	changed chan struct{} // closed and replaced when applied grows
}

// readEpoch reads the host's last epoch from dir, adds one and persists it.
func readEpoch(dir string) (uint64, error) {
	path := filepath.Join(dir, "epoch")
	var epoch uint64
	if b, err := os.ReadFile(path); err == nil {
		epoch, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	epoch++
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintln(f, epoch); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return epoch, os.Rename(path+".tmp", path)
}

func newServer(cfg serverConfig) (*server, error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	epoch, err := readEpoch(cfg.Dir)
	if err != nil {
		return nil, err
	}
	store, err := boltlogstore.Open(filepath.Join(cfg.Dir, "raft.db"))
	if err != nil {
		return nil, err
	}
	s := &server{
		cfg: cfg, store: store,
		writes:  make(map[uint64]chan struct{}),
		reads:   make(map[uint64]chan uint64),
		rng:     rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(cfg.ID)<<48)),
		timeout: 20 * cfg.Tick,
	}
	for g := 0; g < cfg.Groups; g++ {
		s.sms = append(s.sms, &shard{kv: make(map[string]string), changed: make(chan struct{})})
	}
	tr, err := multiraft.NewTCPTransport(multiraft.TCPConfig{
		Listen: cfg.Peers[cfg.ID-1], MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	for i, addr := range cfg.Peers {
		if i+1 != cfg.ID {
			tr.SetPeer(multiraft.HostID(i+1), addr)
		}
	}
	h, err := multiraft.NewHost(multiraft.HostConfig{
		ID: multiraft.HostID(cfg.ID), Epoch: epoch, Transport: tr, LogStore: store,
		TickInterval: cfg.Tick, HeartbeatTicks: 1, LivenessTicks: 2, LivenessTimeoutTicks: 10,
		Apply: s.apply, ReadStates: s.readStates,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	s.host = h
	var voters []uint64
	replicas := make(map[uint64]multiraft.HostID)
	for i := range cfg.Peers {
		voters = append(voters, uint64(i+1))
		replicas[uint64(i+1)] = multiraft.HostID(i + 1)
	}
	for g := 1; g <= cfg.Groups; g++ {
		err := h.AddGroup(multiraft.GroupConfig{
			ID: multiraft.GroupID(g),
			Raft: raft.Config{
				ID: uint64(cfg.ID), ElectionTick: 10, HeartbeatTick: 1,
				MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
				CheckQuorum: true, PreVote: true, Logger: quietLogger{},
			},
			Replicas:  replicas,
			Bootstrap: voters,
		})
		if err != nil {
			h.Stop()
			store.Close()
			return nil, err
		}
	}
	h.Start()
	return s, nil
}

// Close stops the host and closes the store.
func (s *server) Close() {
	s.host.Stop()
	s.store.Close()
}

// groupOf maps a key to its group.
func (s *server) groupOf(key string) multiraft.GroupID {
	f := fnv.New32a()
	f.Write([]byte(key))
	return multiraft.GroupID(f.Sum32()%uint32(s.cfg.Groups) + 1)
}

// A put entry is: request ID (8 bytes), key length (uvarint), key, value.
func encodePut(id uint64, key, value string) []byte {
	b := make([]byte, 8, 8+binary.MaxVarintLen64+len(key)+len(value))
	binary.BigEndian.PutUint64(b, id)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

func decodePut(b []byte) (id uint64, key, value string, ok bool) {
	if len(b) < 9 {
		return 0, "", "", false
	}
	id = binary.BigEndian.Uint64(b)
	n, k := binary.Uvarint(b[8:])
	if k <= 0 || uint64(len(b)-8-k) < n {
		return 0, "", "", false
	}
	rest := b[8+k:]
	return id, string(rest[:n]), string(rest[n:]), true
}

// apply is HostConfig.Apply: it runs the group's committed entries.
func (s *server) apply(g multiraft.GroupID, ents []pb.Entry) {
	if len(ents) == 0 {
		return
	}
	sm := s.sms[g-1]
	var done []uint64
	sm.mu.Lock()
	for _, e := range ents {
		if e.Type != pb.EntryNormal || len(e.Data) == 0 {
			continue
		}
		id, key, value, ok := decodePut(e.Data)
		if !ok {
			log.Printf("shardkv: group %d: malformed entry %d", g, e.Index)
			continue
		}
		sm.kv[key] = value
		done = append(done, id)
	}
	sm.applied = ents[len(ents)-1].Index
	close(sm.changed)
	sm.changed = make(chan struct{})
	sm.mu.Unlock()
	if len(done) == 0 {
		return
	}
	s.mu.Lock()
	for _, id := range done {
		if ch := s.writes[id]; ch != nil {
			close(ch)
			delete(s.writes, id)
		}
	}
	s.mu.Unlock()
}

// readStates is HostConfig.ReadStates: it hands each read its index.
func (s *server) readStates(_ multiraft.GroupID, rs []raft.ReadState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		if len(r.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(r.RequestCtx)
		if ch := s.reads[id]; ch != nil {
			ch <- r.Index
			delete(s.reads, id)
		}
	}
}

func (s *server) newID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Uint64()
}

var errTimeout = errors.New("shardkv: no answer from the group in time (no leader?)")

// put proposes key=value and waits until this host applied it, retrying
// while the group has no leader.
func (s *server) put(key, value string, deadline time.Time) error {
	g := s.groupOf(key)
	for time.Now().Before(deadline) {
		id := s.newID()
		ch := make(chan struct{})
		s.mu.Lock()
		s.writes[id] = ch
		s.mu.Unlock()
		err := s.host.Propose(g, encodePut(id, key, value))
		if err == nil {
			select {
			case <-ch:
				return nil
			case <-time.After(s.timeout):
			}
		} else {
			time.Sleep(s.cfg.Tick)
		}
		s.mu.Lock()
		delete(s.writes, id)
		s.mu.Unlock()
	}
	return errTimeout
}

// get reads key linearizably: it asks the group for a read index, waits
// until this replica applied that far, and reads its state machine.
func (s *server) get(key string, deadline time.Time) (string, bool, error) {
	g := s.groupOf(key)
	sm := s.sms[g-1]
	for time.Now().Before(deadline) {
		id := s.newID()
		ch := make(chan uint64, 1)
		s.mu.Lock()
		s.reads[id] = ch
		s.mu.Unlock()
		var rctx [8]byte
		binary.BigEndian.PutUint64(rctx[:], id)
		if err := s.host.ReadIndex(g, rctx[:]); err != nil {
			return "", false, err
		}
		select {
		case index := <-ch:
			for {
				sm.mu.Lock()
				if sm.applied >= index {
					v, ok := sm.kv[key]
					sm.mu.Unlock()
					return v, ok, nil
				}
				changed := sm.changed
				sm.mu.Unlock()
				select {
				case <-changed:
				case <-time.After(time.Until(deadline)):
					return "", false, errTimeout
				}
			}
		case <-time.After(s.timeout):
			s.mu.Lock()
			delete(s.reads, id)
			s.mu.Unlock()
		}
	}
	return "", false, errTimeout
}

// ServeHTTP serves PUT /KEY and GET /KEY.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/")
	if key == "" {
		http.Error(w, "no key", http.StatusBadRequest)
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	switch r.Method {
	case http.MethodPut:
		v, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.put(key, string(v), deadline); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		v, ok, err := s.get(key, deadline)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case !ok:
			http.Error(w, "not found", http.StatusNotFound)
		default:
			io.WriteString(w, v)
		}
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// quietLogger drops the groups' raft logs (1,000 groups elect at start)
// but errors.
type quietLogger struct{}

func (quietLogger) Debug(...interface{})              {}
func (quietLogger) Debugf(string, ...interface{})     {}
func (quietLogger) Info(...interface{})               {}
func (quietLogger) Infof(string, ...interface{})      {}
func (quietLogger) Warning(...interface{})            {}
func (quietLogger) Warningf(string, ...interface{})   {}
func (quietLogger) Error(v ...interface{})            { log.Print(v...) }
func (quietLogger) Errorf(f string, v ...interface{}) { log.Printf(f, v...) }
func (quietLogger) Fatal(v ...interface{})            { log.Fatal(v...) }
func (quietLogger) Fatalf(f string, v ...interface{}) { log.Fatalf(f, v...) }
func (quietLogger) Panic(v ...interface{})            { log.Panic(v...) }
func (quietLogger) Panicf(f string, v ...interface{}) { log.Panicf(f, v...) }
