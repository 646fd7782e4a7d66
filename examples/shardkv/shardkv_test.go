package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	var addrs []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

// proc is one shardkv process of the test's cluster.
type proc struct {
	t    *testing.T
	bin  string
	args []string
	http string
	cmd  *exec.Cmd
	log  *os.File
}

func (p *proc) start() {
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	require.NoError(p.t, cmd.Start())
	p.cmd = cmd
}

// kill sends SIGKILL: no shutdown, no flush.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

var client = &http.Client{Timeout: 10 * time.Second}

func put(addr, key, value string) error {
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/"+key, strings.NewReader(value))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT %s: %s: %s", key, resp.Status, b)
	}
	return nil
}

func get(addr, key string) (string, int, error) {
	resp, err := client.Get("http://" + addr + "/" + key)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// Three real processes, 1,000 groups: writes go to every process while one
// of them is killed with SIGKILL and started again over its data
// directory; afterwards every acknowledged write is read back, through
// ReadIndex, from every process (the restarted one included).
func TestKilledHostLosesNoAcknowledgedWrite(t *testing.T) {
	groups, keys := 1000, 600
	if testing.Short() {
		keys = 300
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "shardkv")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	addrs := freeAddrs(t, 6)
	peers := strings.Join(addrs[:3], ",")
	var procs []*proc
	for id := 1; id <= 3; id++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("host%d.log", id)))
		require.NoError(t, err)
		p := &proc{t: t, bin: bin, http: addrs[2+id], log: f, args: []string{
			"-id", fmt.Sprint(id), "-dir", filepath.Join(dir, fmt.Sprint(id)),
			"-http", addrs[2+id], "-peers", peers, "-groups", fmt.Sprint(groups), "-tick", "50ms",
		}}
		p.start()
		procs = append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			p.kill()
			p.log.Close()
		}
		if t.Failed() {
			for id := 1; id <= 3; id++ {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("host%d.log", id)))
				t.Logf("host %d log:\n%s", id, b)
			}
		}
	}()
	// Wait until the service answers: a write through each process.
	for _, p := range procs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := put(p.http, "ready-"+p.http, "1"); err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "process on %s never took a write", p.http)
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Writers put distinct keys through all three processes; halfway,
	// process 2 is killed, and started again a moment later.
	var mu sync.Mutex
	acked := map[string]string{}
	var wg sync.WaitGroup
	const writers = 6
	next := make(chan int)
	go func() {
		for i := 0; i < keys; i++ {
			next <- i
			if i == keys/3 {
				procs[1].kill()
			}
			if i == 2*keys/3 {
				procs[1].start()
			}
		}
		close(next)
	}()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range next {
				key, value := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d-%d", i, w)
				// Try the processes in turn; one of them may be down.
				for a := 0; a < 3; a++ {
					if put(procs[(i+a)%3].http, key, value) == nil {
						mu.Lock()
						acked[key] = value
						mu.Unlock()
						break
					}
				}
			}
		}(w)
	}
	wg.Wait()
	require.Greater(t, len(acked), keys*9/10, "most writes are acknowledged")

	// Every acknowledged write is readable from every process.
	for _, p := range procs {
		for key, want := range acked {
			var got string
			var code int
			for try := 0; try < 20; try++ {
				got, code, err = get(p.http, key)
				if err == nil && code != http.StatusServiceUnavailable {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, "GET %s from %s", key, p.http)
			assert.Equal(t, want, got, "GET %s from %s", key, p.http)
		}
	}
	t.Logf("%d of %d writes acknowledged, all read back from 3 processes", len(acked), keys)
}
