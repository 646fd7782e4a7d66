// Command shardkv is a sharded key-value service on multiraft: keys are
// hashed to -groups raft groups (1,000 by default), every group has a
// replica on each of three hosts (processes), and each process runs one
// multiraft.Host with the TCP transport and the bbolt LogStore of
// contrib/boltlogstore (one fsync per pass for all its groups). It is a
// module of its own, beside the root module, so that the library's
// importers do not pull in what it needs.
//
// Each process serves an HTTP API:
//
//	PUT /KEY  (body: the value)  204 once the write is committed and applied
//	GET /KEY                     200 and the value, or 404; linearizable (ReadIndex)
//
// Start a local cluster of three processes (ports 8101-8103 for HTTP,
// 7101-7103 for raft) with
//
//	cd examples/shardkv && go run . -cluster -dir /tmp/shardkv
//
// then
//
//	curl -X PUT -d bar http://127.0.0.1:8101/foo
//	curl http://127.0.0.1:8102/foo
//
// or start each process on its own (what -cluster does for each id):
//
//	shardkv -id 1 -dir /tmp/shardkv/1 -http 127.0.0.1:8101 \
//	    -peers 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
//
// A process killed with kill -9 and started again over the same -dir loses
// no acknowledged write: the log is durable before a write is applied,
// and on restart every group replays its committed log.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		cluster = flag.Bool("cluster", false, "start three processes of this program on 127.0.0.1 and wait")
		id      = flag.Int("id", 1, "this host's ID, 1 to 3 (the index of its address in -peers)")
		dir     = flag.String("dir", "shardkv-data", "data directory (with -cluster: one subdirectory per host)")
		httpA   = flag.String("http", "127.0.0.1:8101", "HTTP address to serve the key-value API on")
		peers   = flag.String("peers", "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103", "raft addresses of hosts 1, 2, 3, comma separated")
		groups  = flag.Int("groups", 1000, "number of raft groups (shards)")
		tick    = flag.Duration("tick", 100*time.Millisecond, "raft tick interval (election timeout: 10 ticks)")
	)
	flag.Parse()
	if *cluster {
		if err := runCluster(*dir, *groups, *tick); err != nil {
			log.Fatal(err)
		}
		return
	}
	addrs := strings.Split(*peers, ",")
	if *id < 1 || *id > len(addrs) {
		log.Fatalf("shardkv: -id %d is not in 1..%d", *id, len(addrs))
	}
	s, err := newServer(serverConfig{
		ID: *id, Dir: *dir, Peers: addrs, Groups: *groups, Tick: *tick,
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *httpA)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("shardkv: host %d serves %d groups; HTTP on %s, raft on %s", *id, *groups, ln.Addr(), addrs[*id-1])
	srv := &http.Server{Handler: s}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Print(err)
	}
	s.Close()
}

// runCluster starts three processes of this program and waits for a
// signal, which it passes on.
func runCluster(dir string, groups int, tick time.Duration) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	peers := "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
	var cmds []*exec.Cmd
	for id := 1; id <= 3; id++ {
		cmd := exec.Command(exe,
			"-id", fmt.Sprint(id),
			"-dir", filepath.Join(dir, fmt.Sprint(id)),
			"-http", fmt.Sprintf("127.0.0.1:%d", 8100+id),
			"-peers", peers,
			"-groups", fmt.Sprint(groups),
			"-tick", tick.String())
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		cmds = append(cmds, cmd)
	}
	log.Printf("shardkv: 3 hosts up; try: curl -X PUT -d bar http://127.0.0.1:8101/foo; curl http://127.0.0.1:8103/foo")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	exited := make(chan error, len(cmds))
	for _, c := range cmds {
		go func(c *exec.Cmd) { exited <- c.Wait() }(c)
	}
	select {
	case <-sig:
	case err := <-exited:
		log.Printf("shardkv: a host exited: %v", err)
	}
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	time.Sleep(500 * time.Millisecond)
	return nil
}
