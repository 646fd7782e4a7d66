package raft

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slogRecords decodes the JSON lines a slog.JSONHandler wrote.
func slogRecords(t *testing.T, buf *bytes.Buffer) []map[string]interface{} {
	var out []map[string]interface{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]interface{}
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		out = append(out, rec)
	}
	return out
}

func TestSlogLoggerAddsNodeTermAndStateAsAttributes(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	cfg := newTestConfig(0x1a, 10, 1, newTestStorage(t, voters(0x1a)))
	cfg.Logger = NewSlogHandlerLogger(h)
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	require.NoError(t, rn.Campaign())
	for rn.HasReady() {
		rd := rn.Ready()
		require.NoError(t, cfg.Storage.(*MemoryStorage).Append(rd.Entries))
		rn.Advance(rd)
	}

	var leader map[string]interface{}
	for _, rec := range slogRecords(t, &buf) {
		assert.Equal(t, "1a", rec["raft.node"], "record %v", rec)
		assert.Contains(t, rec, "raft.term")
		assert.Contains(t, rec, "raft.state")
		if rec["msg"] == "1a became leader at term 1" {
			leader = rec
		}
	}
	require.NotNil(t, leader, "the election was logged")
	assert.Equal(t, "INFO", leader["level"])
	assert.Equal(t, float64(1), leader["raft.term"])
	assert.Equal(t, "StateLeader", leader["raft.state"])
}

func TestSlogLoggerFormatsNothingBelowItsLevel(t *testing.T) {
	var buf bytes.Buffer
	l := NewSlogHandlerLogger(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	formatted := false
	l.Infof("%v", stringerFunc(func() string { formatted = true; return "x" }))
	l.Debug(stringerFunc(func() string { formatted = true; return "x" }))
	assert.False(t, formatted)
	assert.Empty(t, buf.String())
	l.Warningf("disk %s", "slow")
	assert.Contains(t, buf.String(), "level=WARN")
	assert.Contains(t, buf.String(), `msg="disk slow"`)
	assert.NotContains(t, buf.String(), "raft.node", "unbound: no node attributes")
}

func TestSlogLoggerPanicsAfterLogging(t *testing.T) {
	var buf bytes.Buffer
	l := NewSlogLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	assert.PanicsWithValue(t, "broken 7", func() { l.Panicf("broken %d", 7) })
	assert.Contains(t, buf.String(), "level=ERROR")
	assert.Contains(t, buf.String(), `msg="broken 7"`)
}

type stringerFunc func() string

func (f stringerFunc) String() string { return f() }
