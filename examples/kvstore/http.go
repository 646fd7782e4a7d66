package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/raftkit/raft"
	pb "github.com/raftkit/raft/raftpb"
)

const (
	// maxKeyBytes and maxValueBytes bound what a client may store.
	maxKeyBytes   = 1024
	maxValueBytes = 1 << 20

	// headerIndex carries the raft index a write was applied at, or the
	// applied index a read was served at.
	headerIndex = "X-Raft-Index"
	// headerLeader names the current leader's ID in error answers.
	headerLeader = "X-Raft-Leader"
	// headerForwardedBy marks a request a follower forwarded to the leader:
	// it is never forwarded a second time.
	headerForwardedBy = "X-Kvstore-Forwarded-By"
)

// clientMux serves the client API:
//
//	PUT    /keys/{key}          body = value; 204 once applied
//	GET    /keys/{key}          linearizable (ReadIndex); ?serializable=true reads locally
//	DELETE /keys/{key}          204 once applied
//	GET    /members             the members, as JSON
//	POST   /members/{id}        body {"raftURL": ..., "clientURL": ...}; ?learner=true adds a learner
//	DELETE /members/{id}        removes a member
//	GET    /status              this member's view, as JSON
//	GET    /metrics             raft's metrics, Prometheus text format
func (m *member) clientMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/keys/", m.handleKeys)
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusBadRequest, "missing key: use /keys/{key}")
	})
	mux.HandleFunc("/members", m.handleMembers)
	mux.HandleFunc("/members/", m.handleMembers)
	mux.HandleFunc("/status", m.handleStatus)
	mux.HandleFunc("/metrics", m.handleMetrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %q: use /keys/{key}, /members[/{id}], /status or /metrics", r.URL.Path))
	})
	return mux
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// unavailable answers 503 with a retry hint: the cluster is between
// leaders, or this member cannot serve right now.
func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusServiceUnavailable, msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// checkQuery refuses query parameters other than the allowed ones and
// returns the boolean value of each allowed one (false when absent).
func checkQuery(r *http.Request, allowed ...string) (map[string]bool, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %v", err)
	}
	out := make(map[string]bool, len(allowed))
	for name, vals := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			if len(allowed) == 0 {
				return nil, fmt.Errorf("unknown query parameter %q: %s %s takes none", name, r.Method, r.URL.Path)
			}
			return nil, fmt.Errorf("unknown query parameter %q: %s takes %s", name, r.Method, strings.Join(allowed, ", "))
		}
		if len(vals) != 1 {
			return nil, fmt.Errorf("query parameter %q given %d times", name, len(vals))
		}
		v := vals[0]
		if v == "" {
			v = "true" // ?serializable alone means true
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("query parameter %s=%q: want true or false", name, vals[0])
		}
		out[name] = b
	}
	return out, nil
}

func (m *member) isRemoved() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.removed
}

func (m *member) handleKeys(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/keys/")
	switch {
	case key == "":
		httpError(w, http.StatusBadRequest, "missing key: use /keys/{key}")
		return
	case len(key) > maxKeyBytes:
		httpError(w, http.StatusBadRequest, fmt.Sprintf("key is %d bytes long; the limit is %d", len(key), maxKeyBytes))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q, err := checkQuery(r, "serializable")
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		m.get(w, r, key, q["serializable"])
	case http.MethodPut:
		if _, err := checkQuery(r); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxValueBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("value is larger than the limit of %d bytes", maxValueBytes))
				return
			}
			httpError(w, http.StatusBadRequest, "read value: "+err.Error())
			return
		}
		m.write(w, r, op{Kind: opPut, Key: key, Value: value}, value)
	case http.MethodDelete:
		if _, err := checkQuery(r); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		m.write(w, r, op{Kind: opDelete, Key: key}, nil)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /keys/{key}: use GET, PUT or DELETE", r.Method))
	}
}

func (m *member) get(w http.ResponseWriter, r *http.Request, key string, serializable bool) {
	if !serializable {
		ctx, cancel := context.WithTimeout(r.Context(), m.cfg.RequestTimeout)
		defer cancel()
		if code, msg := m.linearize(ctx); code != 0 {
			if code == http.StatusServiceUnavailable {
				unavailable(w, msg)
			} else {
				httpError(w, code, msg)
			}
			return
		}
	}
	m.mu.RLock()
	v, ok := m.kv[key]
	applied := m.applied
	m.mu.RUnlock()
	w.Header().Set(headerIndex, strconv.FormatUint(applied, 10))
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("key %q not found", key))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(v)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(v)
	}
}

// linearize waits until this member's state reflects every write that
// completed before the call: it asks the leader for its commit index
// (ReadIndex) and waits until that index is applied here. It returns 0 on
// success, or the HTTP status and message to answer with.
func (m *member) linearize(ctx context.Context) (int, string) {
	if m.isRemoved() {
		return http.StatusGone, fmt.Sprintf("member %d was removed from the cluster", m.cfg.ID)
	}
	if m.leader.Load() == raft.None {
		return http.StatusServiceUnavailable, "no leader: an election is in progress; retry shortly (or read with ?serializable=true)"
	}
	id := m.nextID()
	ch := m.registerRead(id)
	defer m.forget(id)
	var rctx [8]byte
	binary.BigEndian.PutUint64(rctx[:], id)
	if err := m.node.ReadIndex(ctx, rctx[:]); err != nil {
		return http.StatusServiceUnavailable, "read index: " + err.Error()
	}
	var index uint64
	select {
	case index = <-ch:
	case <-ctx.Done():
		if m.leader.Load() == raft.None {
			return http.StatusServiceUnavailable, "leader lost while confirming the read; retry shortly"
		}
		return http.StatusGatewayTimeout, fmt.Sprintf("the leader did not confirm the read within %s", m.cfg.RequestTimeout)
	case <-m.stopc:
		return http.StatusServiceUnavailable, errStopping.Error()
	}
	if err := m.waitApplied(ctx, index); err != nil {
		if errors.Is(err, errStopping) {
			return http.StatusServiceUnavailable, err.Error()
		}
		return http.StatusGatewayTimeout, fmt.Sprintf("index %d was not applied here within %s", index, m.cfg.RequestTimeout)
	}
	return 0, ""
}

// write proposes o and answers once it is applied. On a follower that knows
// the leader's client URL the request is forwarded to the leader instead;
// otherwise raft forwards the proposal.
func (m *member) write(w http.ResponseWriter, r *http.Request, o op, body []byte) {
	if m.isRemoved() {
		httpError(w, http.StatusGone, fmt.Sprintf("member %d was removed from the cluster", m.cfg.ID))
		return
	}
	leader := m.leader.Load()
	if leader == raft.None {
		unavailable(w, "no leader: an election is in progress; retry shortly")
		return
	}
	if leader != m.cfg.ID && r.Header.Get(headerForwardedBy) == "" {
		m.mu.RLock()
		u := m.clientURLs[leader]
		m.mu.RUnlock()
		if u != "" {
			m.forwardTo(w, r, leader, u, body)
			return
		}
	}
	o.ID = m.nextID()
	data, err := json.Marshal(o)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode proposal: "+err.Error())
		return
	}
	index, code, msg := m.proposeAndWait(r.Context(), o.ID, func(ctx context.Context) error {
		return m.node.Propose(ctx, data)
	})
	if code != 0 {
		m.answerError(w, code, msg)
		return
	}
	w.Header().Set(headerIndex, strconv.FormatUint(index, 10))
	w.WriteHeader(http.StatusNoContent)
}

func (m *member) answerError(w http.ResponseWriter, code int, msg string) {
	if l := m.leader.Load(); l != raft.None {
		w.Header().Set(headerLeader, strconv.FormatUint(l, 10))
	}
	if code == http.StatusServiceUnavailable {
		unavailable(w, msg)
		return
	}
	httpError(w, code, msg)
}

// proposeAndWait runs propose and waits until the entry with request ID id
// is applied. It returns the index it was applied at, or an HTTP status and
// message.
func (m *member) proposeAndWait(parent context.Context, id uint64, propose func(context.Context) error) (uint64, int, string) {
	ch := m.registerWrite(id)
	defer m.forget(id)
	ctx, cancel := context.WithTimeout(parent, m.cfg.RequestTimeout)
	defer cancel()
	if err := propose(ctx); err != nil {
		switch {
		case errors.Is(err, raft.ErrProposalDropped):
			return 0, http.StatusServiceUnavailable, "the proposal was dropped (leadership is changing); retry shortly"
		case errors.Is(err, raft.ErrStopped):
			return 0, http.StatusServiceUnavailable, errStopping.Error()
		case ctx.Err() != nil:
			return 0, http.StatusServiceUnavailable, fmt.Sprintf("no leader took the proposal within %s; retry shortly", m.cfg.RequestTimeout)
		default:
			return 0, http.StatusInternalServerError, "propose: " + err.Error()
		}
	}
	select {
	case res := <-ch:
		if res.err != nil {
			return 0, http.StatusConflict, res.err.Error()
		}
		return res.index, 0, ""
	case <-ctx.Done():
		return 0, http.StatusGatewayTimeout, fmt.Sprintf("not applied within %s; it may still be applied later", m.cfg.RequestTimeout)
	case <-m.stopc:
		return 0, http.StatusServiceUnavailable, errStopping.Error()
	}
}

// forwardTo sends the write to the leader's client API and relays its
// answer.
func (m *member) forwardTo(w http.ResponseWriter, r *http.Request, leader uint64, leaderURL string, body []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, leaderURL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		httpError(w, http.StatusInternalServerError, "build forwarded request: "+err.Error())
		return
	}
	req.Header.Set(headerForwardedBy, strconv.FormatUint(m.cfg.ID, 10))
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := m.forward.Do(req)
	if err != nil {
		w.Header().Set(headerLeader, strconv.FormatUint(leader, 10))
		unavailable(w, fmt.Sprintf("forward to leader %d at %s: %v; retry shortly", leader, leaderURL, err))
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Retry-After", headerIndex, headerLeader, "X-Content-Type-Options"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set(headerForwardedBy, strconv.FormatUint(m.cfg.ID, 10))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// memberView is one member as shown by /members and /status.
type memberView struct {
	ID        uint64 `json:"id"`
	RaftURL   string `json:"raftURL,omitempty"`
	ClientURL string `json:"clientURL,omitempty"`
	Learner   bool   `json:"learner,omitempty"`
}

// memberViews lists the members of the current configuration. Callers
// hold m.mu.
func (m *member) memberViews() []memberView {
	var out []memberView
	add := func(ids []uint64, learner bool) {
		for _, id := range ids {
			info := m.members[id]
			cu := m.clientURLs[id]
			if cu == "" {
				cu = info.ClientURL
			}
			out = append(out, memberView{ID: id, RaftURL: info.RaftURL, ClientURL: cu, Learner: learner})
		}
	}
	add(m.confState.Voters, false)
	add(m.confState.Learners, true)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *member) handleMembers(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/members"), "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /members: use GET, or POST/DELETE /members/{id}", r.Method))
			return
		}
		m.mu.RLock()
		views := m.memberViews()
		m.mu.RUnlock()
		writeJSON(w, http.StatusOK, views)
		return
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || id == 0 {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("invalid member ID %q: want a positive integer", rest))
		return
	}
	var cc pb.ConfChange
	switch r.Method {
	case http.MethodPost:
		q, err := checkQuery(r, "learner")
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		info, err := decodeMemberInfo(r)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		m.mu.RLock()
		isVoter, isLearner := contains(m.confState.Voters, id), contains(m.confState.Learners, id)
		m.mu.RUnlock()
		if m.wasRemoved(id) {
			httpError(w, http.StatusConflict, fmt.Sprintf("member %d was removed; the ID of a removed member cannot be reused", id))
			return
		}
		if isVoter || (isLearner && q["learner"]) {
			httpError(w, http.StatusConflict, fmt.Sprintf("member %d is already in the cluster", id))
			return
		}
		ctx, _ := json.Marshal(info)
		cc = pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: id, Context: ctx}
		if q["learner"] {
			cc.Type = pb.ConfChangeAddLearnerNode
		}
	case http.MethodDelete:
		if _, err := checkQuery(r); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		m.mu.RLock()
		known := inConf(m.confState, id)
		m.mu.RUnlock()
		if !known {
			httpError(w, http.StatusNotFound, fmt.Sprintf("member %d is not in the cluster", id))
			return
		}
		cc = pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: id}
	default:
		w.Header().Set("Allow", "POST, DELETE")
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /members/{id}: use POST or DELETE", r.Method))
		return
	}
	if m.isRemoved() {
		httpError(w, http.StatusGone, fmt.Sprintf("member %d was removed from the cluster", m.cfg.ID))
		return
	}
	if m.leader.Load() == raft.None {
		unavailable(w, "no leader: an election is in progress; retry shortly")
		return
	}
	cc.ID = m.nextID()
	index, code, msg := m.proposeAndWait(r.Context(), cc.ID, func(ctx context.Context) error {
		return m.node.ProposeConfChange(ctx, cc)
	})
	if code != 0 {
		if code == http.StatusGatewayTimeout {
			msg += " (a membership change is refused while another one is pending)"
		}
		m.answerError(w, code, msg)
		return
	}
	w.Header().Set(headerIndex, strconv.FormatUint(index, 10))
	m.mu.RLock()
	views := m.memberViews()
	m.mu.RUnlock()
	writeJSON(w, http.StatusOK, views)
}

func contains(ids []uint64, id uint64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// decodeMemberInfo reads and checks the body of POST /members/{id}.
func decodeMemberInfo(r *http.Request) (memberInfo, error) {
	var info memberInfo
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		if errors.Is(err, io.EOF) {
			return info, errors.New(`missing body: want {"raftURL": "http://host:port", "clientURL": "http://host:port"}`)
		}
		return info, fmt.Errorf(`invalid body: %v; want {"raftURL": "http://host:port", "clientURL": "http://host:port"}`, err)
	}
	if info.RaftURL == "" {
		return info, errors.New("raftURL is required")
	}
	if err := checkURL(info.RaftURL); err != nil {
		return info, fmt.Errorf("raftURL: %v", err)
	}
	if info.ClientURL != "" {
		if err := checkURL(info.ClientURL); err != nil {
			return info, fmt.Errorf("clientURL: %v", err)
		}
	}
	return info, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("%q: want no path", s)
	}
	return nil
}

// statusView is the JSON answer of GET /status.
type statusView struct {
	ID            uint64       `json:"id"`
	Leader        uint64       `json:"leader"`
	State         string       `json:"state"`
	Term          uint64       `json:"term"`
	Commit        uint64       `json:"commit"`
	Applied       uint64       `json:"applied"`
	SnapshotIndex uint64       `json:"snapshotIndex"`
	Removed       bool         `json:"removed,omitempty"`
	Members       []memberView `json:"members"`
	// Recovery is set while the member is quarantined after a loss of
	// persisted state.
	Recovery *recoveryView `json:"recovery,omitempty"`
}

// recoveryView is a member's quarantine in GET /status.
type recoveryView struct {
	Kind       string `json:"kind"`
	Cause      string `json:"cause"`
	LostFrom   uint64 `json:"lostFrom"`
	LostTo     uint64 `json:"lostTo"`
	WaitingFor string `json:"waitingFor"`
}

func (m *member) handleStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		httpError(w, http.StatusMethodNotAllowed, "use GET /status")
		return
	}
	if _, err := checkQuery(r); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	st := m.node.Status()
	m.mu.RLock()
	v := statusView{
		ID:            m.cfg.ID,
		Leader:        st.Lead,
		State:         st.RaftState.String(),
		Term:          st.Term,
		Commit:        st.Commit,
		Applied:       m.applied,
		SnapshotIndex: m.snapIndex,
		Removed:       m.removed,
		Members:       m.memberViews(),
	}
	if rec := st.Recovery; rec.Quarantined {
		v.Recovery = &recoveryView{Kind: rec.Kind.String(), Cause: rec.Cause.String(),
			LostFrom: rec.LostFrom, LostTo: rec.LostTo, WaitingFor: rec.WaitingFor()}
	}
	m.mu.RUnlock()
	writeJSON(w, http.StatusOK, v)
}
