// Command kvstore is a small replicated key-value service built on the
// public API of github.com/raftkit/raft: a raft.Node per member, a
// raft.Storage kept in bbolt, raft messages over HTTP, and an HTTP API for
// clients.
//
// With no flags it starts a three-member cluster inside one process on
// 127.0.0.1 and serves until interrupted:
//
//	go run ./examples/kvstore
//
// With --id it runs one member per process (see README.md):
//
//	go run ./examples/kvstore --id 1 --cluster 1=http://127.0.0.1:12380,2=http://127.0.0.1:12381,3=http://127.0.0.1:12382 --client-addr 127.0.0.1:9121 --data-dir ./kvstore-data/1
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kvstore:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	id             uint64
	cluster        string
	clientAddr     string
	dataDir        string
	join           bool
	snapshotCount  uint64
	catchUp        uint64
	tick           time.Duration
	requestTimeout time.Duration
	verbose        bool
	logFormat      string
	declareLost    bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kvstore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&o.id, "id", 0, "this member's ID; without it, a three-member cluster runs in this process")
	fs.StringVar(&o.cluster, "cluster", "", "the members' raft URLs: id=http://host:port,... (this member included)")
	fs.StringVar(&o.clientAddr, "client-addr", "127.0.0.1:9121", "address for the client API (with --id)")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the member's data (with --id: default ./kvstore-data/<id>; without: a temporary directory)")
	fs.BoolVar(&o.join, "join", false, "join an existing cluster that has added this member (POST /members/{id}) instead of bootstrapping")
	fs.Uint64Var(&o.snapshotCount, "snapshot-count", 1000, "applied entries between snapshots (each snapshot compacts the log)")
	fs.Uint64Var(&o.catchUp, "catch-up-entries", 100, "entries kept behind a snapshot for slightly lagging followers")
	fs.DurationVar(&o.tick, "tick", 100*time.Millisecond, "raft tick; the election timeout is 10 ticks")
	fs.DurationVar(&o.requestTimeout, "request-timeout", 5*time.Second, "how long a request waits for its write to apply (then 504)")
	fs.BoolVar(&o.verbose, "v", false, "log raft's info messages too")
	fs.BoolVar(&o.declareLost, "declare-lost-state", false, "this member's data directory was wiped, restored from a backup or repaired (with --id): rejoin quarantined under the same ID instead of bootstrapping or voting with a log that may lack committed entries")
	fs.StringVar(&o.logFormat, "log", "zap", "raft's logger: zap (console text) or slog (JSON, with node, term and state as attributes)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.logFormat != "zap" && o.logFormat != "slog" {
		return o, fmt.Errorf("--log must be zap or slog, not %q", o.logFormat)
	}
	if o.snapshotCount == 0 {
		return o, errors.New("--snapshot-count must be positive")
	}
	if o.tick <= 0 || o.requestTimeout <= 0 {
		return o, errors.New("--tick and --request-timeout must be positive")
	}
	if o.id == 0 && (o.cluster != "" || o.join || o.declareLost) {
		return o, errors.New("--cluster, --join and --declare-lost-state need --id")
	}
	return o, nil
}

// parseCluster parses "1=http://127.0.0.1:12380,2=...".
func parseCluster(s string) (map[uint64]memberInfo, error) {
	out := make(map[uint64]memberInfo)
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, u, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("--cluster entry %q: want id=http://host:port", part)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("--cluster entry %q: %q is not a positive integer ID", part, idStr)
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("--cluster entry %q: %v", part, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("--cluster names member %d twice", id)
		}
		out[id] = memberInfo{RaftURL: strings.TrimSuffix(u, "/")}
	}
	if len(out) == 0 {
		return nil, errors.New("--cluster is empty")
	}
	return out, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	var members []*member
	if o.id == 0 {
		members, err = startDemo(o, stdout, stderr)
	} else {
		var m *member
		m, err = startOne(o, stdout, stderr)
		members = []*member{m}
	}
	if err != nil {
		return err
	}
	s := <-sig
	fmt.Fprintf(stdout, "\n%s: shutting down\n", s)
	for _, m := range members {
		m.Stop()
	}
	if o.id == 0 && o.dataDir == "" && len(members) > 0 {
		_ = os.RemoveAll(filepath.Dir(members[0].cfg.DataDir))
	}
	return nil
}

func baseConfig(o options, stderr io.Writer) memberConfig {
	return memberConfig{
		TickInterval:   o.tick,
		SnapshotCount:  o.snapshotCount,
		CatchUpEntries: o.catchUp,
		RequestTimeout: o.requestTimeout,
		LogOutput:      stderr,
		Verbose:        o.verbose,
		LogFormat:      o.logFormat,
	}
}

// startOne starts the single member --id of a multi-process cluster.
func startOne(o options, stdout, stderr io.Writer) (*member, error) {
	if o.cluster == "" {
		return nil, errors.New("--id needs --cluster (id=raftURL,... for every member, this one included)")
	}
	peers, err := parseCluster(o.cluster)
	if err != nil {
		return nil, err
	}
	self, ok := peers[o.id]
	if !ok {
		return nil, fmt.Errorf("--cluster does not name this member (%d)", o.id)
	}
	u, _ := url.Parse(self.RaftURL)
	rl, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", u.Host, err)
	}
	cl, err := net.Listen("tcp", o.clientAddr)
	if err != nil {
		rl.Close()
		return nil, fmt.Errorf("listen for clients on %s: %w", o.clientAddr, err)
	}
	cfg := baseConfig(o, stderr)
	cfg.ID = o.id
	cfg.Peers = peers
	cfg.Join = o.join
	cfg.DeclareLostState = o.declareLost
	cfg.DataDir = o.dataDir
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join("kvstore-data", strconv.FormatUint(o.id, 10))
	}
	cfg.RaftListener, cfg.ClientListener = rl, cl
	cfg.RaftURL = self.RaftURL
	m, err := startMember(cfg)
	if err != nil {
		rl.Close()
		cl.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "member %d: client %s  raft %s  data %s\n", o.id, m.cfg.ClientURL, m.cfg.RaftURL, cfg.DataDir)
	return m, nil
}

// listenPreferred listens on 127.0.0.1:port, or on an ephemeral port if
// that one is taken.
func listenPreferred(port int) (net.Listener, error) {
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		return l, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// startDemo starts three members in this process.
func startDemo(o options, stdout, stderr io.Writer) ([]*member, error) {
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "kvstore-"); err != nil {
			return nil, err
		}
	}
	const n = 3
	var raftLs, clientLs []net.Listener
	closeAll := func() {
		for _, l := range append(raftLs, clientLs...) {
			l.Close()
		}
	}
	peers := make(map[uint64]memberInfo)
	for i := 0; i < n; i++ {
		rl, err := listenPreferred(12380 + i)
		if err != nil {
			closeAll()
			return nil, err
		}
		raftLs = append(raftLs, rl)
		cl, err := listenPreferred(9121 + i)
		if err != nil {
			closeAll()
			return nil, err
		}
		clientLs = append(clientLs, cl)
		peers[uint64(i+1)] = memberInfo{RaftURL: "http://" + rl.Addr().String(), ClientURL: "http://" + cl.Addr().String()}
	}
	var members []*member
	for i := 0; i < n; i++ {
		cfg := baseConfig(o, stderr)
		cfg.ID = uint64(i + 1)
		cfg.Peers = peers
		cfg.DataDir = filepath.Join(dir, fmt.Sprintf("member-%d", i+1))
		cfg.RaftListener, cfg.ClientListener = raftLs[i], clientLs[i]
		m, err := startMember(cfg)
		if err != nil {
			for _, m := range members {
				m.Stop()
			}
			closeAll()
			return nil, err
		}
		members = append(members, m)
	}
	ids := make([]int, 0, n)
	for id := range peers {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	fmt.Fprintf(stdout, "kvstore: a %d-member cluster on 127.0.0.1, data in %s\n", n, dir)
	for _, id := range ids {
		p := peers[uint64(id)]
		fmt.Fprintf(stdout, "  member %d: client %s  (raft %s)\n", id, p.ClientURL, p.RaftURL)
	}
	c1, c2 := peers[1].ClientURL, peers[2].ClientURL
	fmt.Fprintf(stdout, "try: curl -X PUT -d world %s/keys/hello && curl %s/keys/hello && curl %s/status\n", c1, c2, c1)
	fmt.Fprintln(stdout, "Ctrl-C to stop.")
	return members, nil
}
