package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCluster runs members in this process on ephemeral loopback ports,
// each with its own data directory.
type testCluster struct {
	t       *testing.T
	dir     string
	peers   map[uint64]memberInfo
	members map[uint64]*member
	client  *http.Client
	// tune adjusts every member's configuration.
	tune func(*memberConfig)
}

func newTestCluster(t *testing.T) *testCluster {
	c := &testCluster{
		t:       t,
		dir:     t.TempDir(),
		peers:   make(map[uint64]memberInfo),
		members: make(map[uint64]*member),
		client:  &http.Client{Timeout: 5 * time.Second},
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			m.Crash()
		}
	})
	return c
}

// reserve picks the ports of a member: the listeners are kept open and
// handed to the member when it starts.
func (c *testCluster) reserve(id uint64) (raftL, clientL net.Listener) {
	c.t.Helper()
	raftL, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(c.t, err)
	clientL, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(c.t, err)
	c.peers[id] = memberInfo{RaftURL: "http://" + raftL.Addr().String(), ClientURL: "http://" + clientL.Addr().String()}
	return raftL, clientL
}

func (c *testCluster) config(id uint64, raftL, clientL net.Listener) memberConfig {
	cfg := memberConfig{
		ID:             id,
		Peers:          c.peers,
		DataDir:        filepath.Join(c.dir, fmt.Sprintf("member-%d", id)),
		RaftListener:   raftL,
		ClientListener: clientL,
		TickInterval:   20 * time.Millisecond,
		ElectionTicks:  10,
		SnapshotCount:  8,
		CatchUpEntries: 2,
		RequestTimeout: 2 * time.Second,
		LogOutput:      io.Discard,
	}
	if testing.Verbose() {
		cfg.LogOutput = os.Stderr
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// startAll reserves ports for ids, then starts every one of them.
func (c *testCluster) startAll(ids ...uint64) {
	c.t.Helper()
	ls := make(map[uint64][2]net.Listener)
	for _, id := range ids {
		r, cl := c.reserve(id)
		ls[id] = [2]net.Listener{r, cl}
	}
	for _, id := range ids {
		m, err := startMember(c.config(id, ls[id][0], ls[id][1]))
		require.NoError(c.t, err)
		c.members[id] = m
	}
}

// restart starts id again from its data directory on its old addresses.
func (c *testCluster) restart(id uint64, join bool) {
	c.t.Helper()
	listen := func(u string) net.Listener {
		addr := strings.TrimPrefix(u, "http://")
		deadline := time.Now().Add(3 * time.Second)
		for {
			l, err := net.Listen("tcp", addr)
			if err == nil {
				return l
			}
			require.True(c.t, time.Now().Before(deadline), "listen on %s again: %v", addr, err)
			time.Sleep(20 * time.Millisecond)
		}
	}
	p := c.peers[id]
	cfg := c.config(id, listen(p.RaftURL), listen(p.ClientURL))
	cfg.Join = join
	m, err := startMember(cfg)
	require.NoError(c.t, err)
	c.members[id] = m
}

func (c *testCluster) url(id uint64, path string) string {
	return c.peers[id].ClientURL + path
}

func (c *testCluster) do(ctx context.Context, method, url string, body []byte) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

func (c *testCluster) status(ctx context.Context, id uint64) (statusView, error) {
	var st statusView
	code, _, body, err := c.do(ctx, http.MethodGet, c.url(id, "/status"), nil)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("status %d: %s", code, body)
	}
	return st, json.Unmarshal([]byte(body), &st)
}

// waitLeader waits until every member in ids names the same leader, one of
// ids, and returns it.
func (c *testCluster) waitLeader(ctx context.Context, ids ...uint64) uint64 {
	c.t.Helper()
	for {
		var leader uint64
		agreed := true
		for _, id := range ids {
			st, err := c.status(ctx, id)
			if err != nil || st.Leader == 0 || (leader != 0 && st.Leader != leader) {
				agreed = false
				break
			}
			leader = st.Leader
		}
		if agreed && contains(ids, leader) {
			return leader
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("members %v agreed on no leader: %v", ids, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// put writes key=value through member id, retrying while the cluster is
// between leaders (503) or the write timed out (504). It reports whether
// the write was acknowledged.
func (c *testCluster) put(ctx context.Context, id uint64, key, value string) bool {
	for ctx.Err() == nil {
		code, _, _, err := c.do(ctx, http.MethodPut, c.url(id, "/keys/"+key), []byte(value))
		if err == nil && code == http.StatusNoContent {
			return true
		}
		if err == nil && code != http.StatusServiceUnavailable && code != http.StatusGatewayTimeout {
			c.t.Fatalf("PUT %s via %d: unexpected status %d", key, id, code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// eventuallyGet reads key from member id until it has value want.
func (c *testCluster) eventuallyGet(ctx context.Context, id uint64, key, want string, serializable bool) {
	c.t.Helper()
	path := "/keys/" + key
	if serializable {
		path += "?serializable=true"
	}
	var last string
	for {
		code, _, body, err := c.do(ctx, http.MethodGet, c.url(id, path), nil)
		if err == nil && code == http.StatusOK && body == want {
			return
		}
		last = fmt.Sprintf("status %d body %q err %v", code, body, err)
		select {
		case <-ctx.Done():
			c.t.Fatalf("member %d never returned %s=%q: last %s", id, key, want, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAcknowledgedWritesSurviveALeaderCrashAndTheOldLeaderCatchesUp is the
// end-to-end scenario: three members, writes, the leader dies abruptly,
// every acknowledged write is on the new leader, the old leader restarts
// from its bbolt file and catches up (by snapshot: the log it missed has
// been compacted).
func TestAcknowledgedWritesSurviveALeaderCrashAndTheOldLeaderCatchesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	c := newTestCluster(t)
	c.startAll(1, 2, 3)
	leader := c.waitLeader(ctx, 1, 2, 3)

	acked := make(map[string]string)
	for i := 0; i < 15; i++ {
		k, v := fmt.Sprintf("k%02d", i), fmt.Sprintf("v%02d", i)
		require.True(t, c.put(ctx, uint64(i%3+1), k, v), "write %s", k)
		acked[k] = v
	}
	// A linearizable read sees every acknowledged write on every member.
	for id := uint64(1); id <= 3; id++ {
		for k, v := range acked {
			code, h, body, err := c.do(ctx, http.MethodGet, c.url(id, "/keys/"+k), nil)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, code, "GET %s on %d", k, id)
			assert.Equal(t, v, body, "GET %s on %d", k, id)
			assert.NotEmpty(t, h.Get(headerIndex))
		}
	}
	crashedAt, err := c.members[leader].storage.LastIndex()
	require.NoError(t, err)

	c.members[leader].Crash()
	var survivors []uint64
	for id := uint64(1); id <= 3; id++ {
		if id != leader {
			survivors = append(survivors, id)
		}
	}
	// Writes go on during and after the election; each one acknowledged
	// counts.
	for i := 15; i < 40; i++ {
		k, v := fmt.Sprintf("k%02d", i), fmt.Sprintf("v%02d", i)
		if c.put(ctx, survivors[i%2], k, v) {
			acked[k] = v
		}
	}
	newLeader := c.waitLeader(ctx, survivors...)
	require.NotEqual(t, leader, newLeader)
	for k, v := range acked {
		c.eventuallyGet(ctx, newLeader, k, v, false)
	}
	require.Len(t, acked, 40, "every write was eventually acknowledged")

	// The graphs an operator looks at show the election.
	text := c.metricsText(ctx, newLeader)
	requireMetricsFormat(t, text)
	assert.GreaterOrEqual(t, metricValue(t, text, `raft_leader_changes_total`), 2.0, "the first leader, then this one")
	assert.Equal(t, 1.0, metricValue(t, text, `raft_state{state="leader"}`))
	assert.GreaterOrEqual(t, metricValue(t, text, `raft_elections_won_total{kind="vote"}`), 1.0)
	assert.Equal(t, 2.0, metricValue(t, text, `raft_followers{state="probe"}`)+
		metricValue(t, text, `raft_followers{state="replicate"}`)+metricValue(t, text, `raft_followers{state="snapshot"}`))
	t.Logf("metrics of the new leader %d after the old leader %d was killed:\n%s", newLeader, leader, nonZero(text))

	c.restart(leader, false)
	c.waitLeader(ctx, 1, 2, 3)
	for k, v := range acked {
		c.eventuallyGet(ctx, leader, k, v, true)
	}
	// The entries the old leader missed were compacted away on the new
	// leader: it caught up through a snapshot it received.
	first, err := c.members[leader].storage.FirstIndex()
	require.NoError(t, err)
	assert.Greater(t, first, crashedAt+1, "the restarted member's log starts after what it had when it crashed")

	// And it serves linearizable reads again.
	c.eventuallyGet(ctx, leader, "k39", "v39", false)
}

// TestMemberRestartsFromItsDataDirectory stops a single-member cluster and
// starts it again from disk: its snapshot and the log after it give back
// the same state.
func TestMemberRestartsFromItsDataDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := newTestCluster(t)
	c.startAll(1)
	c.waitLeader(ctx, 1)
	for i := 0; i < 20; i++ {
		require.True(t, c.put(ctx, 1, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)))
	}
	code, _, _, err := c.do(ctx, http.MethodDelete, c.url(1, "/keys/k3"), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, code)
	before, err := c.status(ctx, 1)
	require.NoError(t, err)
	require.NotZero(t, before.SnapshotIndex, "snapshots were taken")

	c.members[1].Stop()
	c.restart(1, false)
	c.waitLeader(ctx, 1)

	after, err := c.status(ctx, 1)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after.Term, before.Term)
	assert.GreaterOrEqual(t, after.Applied, before.Applied)
	for i := 0; i < 20; i++ {
		if i == 3 {
			continue
		}
		c.eventuallyGet(ctx, 1, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), false)
	}
	code, _, _, err = c.do(ctx, http.MethodGet, c.url(1, "/keys/k3"), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, code, "the delete survived the restart")
	assert.True(t, c.put(ctx, 1, "after", "restart"))
}

// TestRequestsAreAnsweredWithClearErrors covers the answers that are not a
// plain success: malformed requests, a member without a leader, a write to
// a follower.
func TestRequestsAreAnsweredWithClearErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	t.Run("malformed requests are answered 400 with the reason", func(t *testing.T) {
		c := newTestCluster(t)
		c.startAll(1)
		c.waitLeader(ctx, 1)
		tests := []struct {
			method, path, body string
			code               int
			reason             string
		}{
			{http.MethodGet, "/keys/", "", http.StatusBadRequest, "missing key"},
			{http.MethodPut, "/keys", "v", http.StatusBadRequest, "missing key"},
			{http.MethodGet, "/keys/a?serializable=maybe", "", http.StatusBadRequest, `serializable="maybe": want true or false`},
			{http.MethodPut, "/keys/a?ttl=5", "v", http.StatusBadRequest, `unknown query parameter "ttl"`},
			{http.MethodPut, "/keys/" + strings.Repeat("k", maxKeyBytes+1), "v", http.StatusBadRequest, "limit is 1024"},
			{http.MethodPost, "/keys/a", "v", http.StatusMethodNotAllowed, "use GET, PUT or DELETE"},
			{http.MethodPost, "/members/x", "{}", http.StatusBadRequest, `invalid member ID "x"`},
			{http.MethodPost, "/members/0", "{}", http.StatusBadRequest, "positive integer"},
			{http.MethodPost, "/members/4", "", http.StatusBadRequest, "missing body"},
			{http.MethodPost, "/members/4", "{", http.StatusBadRequest, "invalid body"},
			{http.MethodPost, "/members/4", `{"raftURL":"http://h:1","port":3}`, http.StatusBadRequest, `unknown field "port"`},
			{http.MethodPost, "/members/4", `{"clientURL":"http://h:1"}`, http.StatusBadRequest, "raftURL is required"},
			{http.MethodPost, "/members/4", `{"raftURL":"h:1"}`, http.StatusBadRequest, "want an http:// or https:// URL"},
			{http.MethodPost, "/members/4?learner=perhaps", `{"raftURL":"http://h:1"}`, http.StatusBadRequest, "want true or false"},
			{http.MethodPost, "/members/1", `{"raftURL":"http://h:1"}`, http.StatusConflict, "already in the cluster"},
			{http.MethodDelete, "/members/9", "", http.StatusNotFound, "member 9 is not in the cluster"},
			{http.MethodGet, "/keys/nothing", "", http.StatusNotFound, `key "nothing" not found`},
			{http.MethodGet, "/nowhere", "", http.StatusNotFound, "no such endpoint"},
		}
		for _, tt := range tests {
			code, _, body, err := c.do(ctx, tt.method, c.url(1, tt.path), []byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.code, code, "%s %s", tt.method, tt.path)
			assert.Contains(t, body, tt.reason, "%s %s", tt.method, tt.path)
		}
	})

	t.Run("without a leader requests get 503 with Retry-After", func(t *testing.T) {
		c := newTestCluster(t)
		// Three members are configured, one runs: no election can succeed.
		r1, c1 := c.reserve(1)
		r2, c2 := c.reserve(2)
		r3, c3 := c.reserve(3)
		for _, l := range []net.Listener{r2, c2, r3, c3} {
			l.Close()
		}
		m, err := startMember(c.config(1, r1, c1))
		require.NoError(t, err)
		c.members[1] = m
		time.Sleep(300 * time.Millisecond) // past an election timeout
		for _, req := range []struct{ method, path string }{
			{http.MethodPut, "/keys/a"},
			{http.MethodDelete, "/keys/a"},
			{http.MethodGet, "/keys/a"},
			{http.MethodPost, "/members/4"},
		} {
			body := []byte("v")
			if req.method == http.MethodPost {
				body = []byte(`{"raftURL":"http://127.0.0.1:1"}`)
			}
			code, h, msg, err := c.do(ctx, req.method, c.url(1, req.path), body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusServiceUnavailable, code, "%s %s", req.method, req.path)
			assert.Equal(t, "1", h.Get("Retry-After"), "%s %s", req.method, req.path)
			assert.Contains(t, msg, "no leader", "%s %s", req.method, req.path)
		}
		code, _, _, err := c.do(ctx, http.MethodGet, c.url(1, "/keys/a?serializable=true"), nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, code, "a serializable read needs no leader")
	})

	t.Run("a write to a follower is forwarded to the leader", func(t *testing.T) {
		c := newTestCluster(t)
		c.startAll(1, 2, 3)
		leader := c.waitLeader(ctx, 1, 2, 3)
		follower := leader%3 + 1
		require.True(t, c.put(ctx, leader, "warm", "up")) // followers learn the leader's client URL
		code, h, _, err := c.do(ctx, http.MethodPut, c.url(follower, "/keys/fwd"), []byte("ok"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusNoContent, code)
		assert.Equal(t, fmt.Sprint(follower), h.Get(headerForwardedBy))
		c.eventuallyGet(ctx, follower, "fwd", "ok", false)
	})
}

// TestMembersAreAddedPromotedAndRemovedOverHTTP grows a one-member cluster
// by a learner that joins with empty storage, promotes it to voter and
// removes it again.
func TestMembersAreAddedPromotedAndRemovedOverHTTP(t *testing.T) {
	for _, tt := range []struct {
		name    string
		catchUp uint64
	}{
		{"new member catches up by snapshot", 2},
		{"new member catches up by replaying the log", 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testMembershipChanges(t, tt.catchUp)
		})
	}
}

func testMembershipChanges(t *testing.T, catchUp uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := newTestCluster(t)
	c.tune = func(cfg *memberConfig) { cfg.CatchUpEntries = catchUp }
	c.startAll(1)
	c.waitLeader(ctx, 1)
	for i := 0; i < 12; i++ {
		require.True(t, c.put(ctx, 1, fmt.Sprintf("k%d", i), "v"))
	}

	r2, c2 := c.reserve(2)
	body, err := json.Marshal(c.peers[2])
	require.NoError(t, err)
	code, _, msg, err := c.do(ctx, http.MethodPost, c.url(1, "/members/2?learner=true"), body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, msg)
	var views []memberView
	require.NoError(t, json.Unmarshal([]byte(msg), &views))
	assert.Equal(t, []memberView{
		{ID: 1, RaftURL: c.peers[1].RaftURL, ClientURL: c.peers[1].ClientURL},
		{ID: 2, RaftURL: c.peers[2].RaftURL, ClientURL: c.peers[2].ClientURL, Learner: true},
	}, views)

	cfg := c.config(2, r2, c2)
	cfg.Join = true
	m2, err := startMember(cfg)
	require.NoError(t, err)
	c.members[2] = m2
	c.eventuallyGet(ctx, 2, "k11", "v", true)
	st, err := c.status(ctx, 2)
	require.NoError(t, err)
	assert.False(t, st.Removed)
	assert.Len(t, st.Members, 2)

	code, _, msg, err = c.do(ctx, http.MethodPost, c.url(2, "/members/2"), body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "promote: %s", msg)
	assert.Equal(t, c.waitLeader(ctx, 1, 2), uint64(1))
	require.True(t, c.put(ctx, 2, "two", "voters"))

	code, _, msg, err = c.do(ctx, http.MethodDelete, c.url(1, "/members/2"), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "remove: %s", msg)
	require.NoError(t, json.Unmarshal([]byte(msg), &views))
	assert.Len(t, views, 1)
	require.Eventually(t, func() bool {
		st, err := c.status(ctx, 2)
		return err == nil && st.Removed
	}, 5*time.Second, 20*time.Millisecond)
	code, _, _, err = c.do(ctx, http.MethodPut, c.url(2, "/keys/x"), []byte("y"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusGone, code)
	require.True(t, c.put(ctx, 1, "alone", "again"))
}

func TestParseClusterNamesWhatIsWrong(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{"", "--cluster is empty"},
		{"1", "want id=http://host:port"},
		{"x=http://h:1", `"x" is not a positive integer ID`},
		{"0=http://h:1", "positive integer"},
		{"1=h:1", "http://"},
		{"1=http://h:1,1=http://h:2", "names member 1 twice"},
	}
	for _, tt := range tests {
		_, err := parseCluster(tt.in)
		assert.ErrorContains(t, err, tt.err, "%q", tt.in)
	}
	got, err := parseCluster("1=http://127.0.0.1:1/, 2=http://127.0.0.1:2")
	require.NoError(t, err)
	assert.Equal(t, map[uint64]memberInfo{1: {RaftURL: "http://127.0.0.1:1"}, 2: {RaftURL: "http://127.0.0.1:2"}}, got)
}

// metricsText returns what GET /metrics on member id serves.
func (c *testCluster) metricsText(ctx context.Context, id uint64) string {
	code, h, body, err := c.do(ctx, http.MethodGet, c.url(id, "/metrics"), nil)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, code)
	require.Contains(c.t, h.Get("Content-Type"), "version=0.0.4")
	return body
}

var (
	metricSample = regexp.MustCompile(`^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+$`)
	metricType   = regexp.MustCompile(`^# TYPE ([a-z_]+) (counter|gauge|histogram)$`)
)

// requireMetricsFormat checks the text exposition format: every sample
// well formed and preceded by the TYPE of its family.
func requireMetricsFormat(t *testing.T, text string) {
	typed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if m := metricType.FindStringSubmatch(line); m != nil {
			typed[m[1]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := metricSample.FindStringSubmatch(line)
		require.NotNil(t, m, "malformed sample %q", line)
		family := m[1]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base := strings.TrimSuffix(family, suffix); base != family && typed[base] {
				family = base
			}
		}
		require.True(t, typed[family], "sample %q before its TYPE", line)
	}
}

// metricValue returns the value of the sample named series (name and
// labels as written), failing if there is none.
func metricValue(t *testing.T, text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no sample %s in\n%s", series, text)
	return 0
}

// nonZero keeps the samples with a value other than 0.
func nonZero(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasSuffix(line, " 0") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestLogFlagSelectsZapOrSlog(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "zap", o.logFormat, "zap stays the default")
	o, err = parseFlags([]string{"--log=slog"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "slog", o.logFormat)
	_, err = parseFlags([]string{"--log=json"}, io.Discard)
	assert.ErrorContains(t, err, "--log must be zap or slog")

	var buf bytes.Buffer
	l := newRaftLogger(memberConfig{ID: 7, LogOutput: &buf, LogFormat: "slog"})
	l.Warningf("disk is %s", "slow")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "disk is slow", rec["msg"])
	assert.Equal(t, "WARN", rec["level"])
}
