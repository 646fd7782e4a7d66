package raft

import (
	"bytes"
	"log"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func newBufferLogger() (*DefaultLogger, *bytes.Buffer) {
	var buf bytes.Buffer
	return &DefaultLogger{Logger: log.New(&buf, "raft", 0)}, &buf
}

func TestDefaultLoggerWritesLevelTaggedLines(t *testing.T) {
	for _, tt := range []struct {
		name string
		log  func(l *DefaultLogger)
		want string
	}{
		{"Info", func(l *DefaultLogger) { l.Info("a", 1) }, "raftINFO: a1\n"},
		{"Infof", func(l *DefaultLogger) { l.Infof("a=%d", 1) }, "raftINFO: a=1\n"},
		{"Error", func(l *DefaultLogger) { l.Error("e") }, "raftERROR: e\n"},
		{"Errorf", func(l *DefaultLogger) { l.Errorf("e%d", 2) }, "raftERROR: e2\n"},
		{"Warning", func(l *DefaultLogger) { l.Warning("w") }, "raftWARN: w\n"},
		{"Warningf", func(l *DefaultLogger) { l.Warningf("w%s", "x") }, "raftWARN: wx\n"},
		{"Debug is off by default", func(l *DefaultLogger) { l.Debug("d") }, ""},
		{"Debugf is off by default", func(l *DefaultLogger) { l.Debugf("d%d", 1) }, ""},
		{"Debug when enabled", func(l *DefaultLogger) { l.EnableDebug(); l.Debug("d") }, "raftDEBUG: d\n"},
		{"Debugf when enabled", func(l *DefaultLogger) { l.EnableDebug(); l.Debugf("d%d", 1) }, "raftDEBUG: d1\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, buf := newBufferLogger()
			tt.log(l)
			assert.Equal(t, tt.want, buf.String())
		})
	}
}

func TestDefaultLoggerPanicLogsThenPanics(t *testing.T) {
	l, buf := newBufferLogger()
	assert.PanicsWithValue(t, "boom 1", func() { l.Panic("boom ", 1) })
	assert.Equal(t, "raftPANIC: boom 1\n", buf.String())

	buf.Reset()
	assert.PanicsWithValue(t, "boom 2", func() { l.Panicf("boom %d", 2) })
	assert.Equal(t, "raftPANIC: boom 2\n", buf.String())
}

func TestDefaultLoggerEnableTimestamps(t *testing.T) {
	l, buf := newBufferLogger()
	require.Equal(t, 0, l.Flags())
	l.EnableTimestamps()
	assert.Equal(t, log.Ldate|log.Ltime, l.Flags())
	l.Info("x")
	assert.Regexp(t, `^raft\d{4}/\d\d/\d\d \d\d:\d\d:\d\d INFO: x\n$`, buf.String())
}

func TestDefaultLoggerReportsTheCaller(t *testing.T) {
	l, buf := newBufferLogger()
	l.SetFlags(log.Lshortfile)
	l.Info("x")
	assert.True(t, strings.HasPrefix(buf.String(), "raftlogger_test.go:"), buf.String())
}

func newObservedZapLogger(level zapcore.Level) (Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return NewZapLogger(zap.New(core, zap.AddCaller())), logs
}

func TestZapLoggerWritesAtTheRightLevel(t *testing.T) {
	for _, tt := range []struct {
		name  string
		log   func(Logger)
		level zapcore.Level
		msg   string
	}{
		{"Debug", func(l Logger) { l.Debug("d", 1) }, zapcore.DebugLevel, "d1"},
		{"Debugf", func(l Logger) { l.Debugf("d%d", 1) }, zapcore.DebugLevel, "d1"},
		{"Info", func(l Logger) { l.Info("i") }, zapcore.InfoLevel, "i"},
		{"Infof", func(l Logger) { l.Infof("i%s", "x") }, zapcore.InfoLevel, "ix"},
		{"Warning", func(l Logger) { l.Warning("w") }, zapcore.WarnLevel, "w"},
		{"Warningf", func(l Logger) { l.Warningf("w%d", 2) }, zapcore.WarnLevel, "w2"},
		{"Error", func(l Logger) { l.Error("e") }, zapcore.ErrorLevel, "e"},
		{"Errorf", func(l Logger) { l.Errorf("e%d", 3) }, zapcore.ErrorLevel, "e3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, logs := newObservedZapLogger(zapcore.DebugLevel)
			tt.log(l)
			entries := logs.AllUntimed()
			require.Len(t, entries, 1)
			assert.Equal(t, tt.level, entries[0].Level)
			assert.Equal(t, tt.msg, entries[0].Message)
			assert.True(t, strings.HasSuffix(entries[0].Caller.File, "logger_test.go"),
				"caller should be the code that logged, got %s", entries[0].Caller.File)
		})
	}
}

// stringer counts how often it is formatted.
type stringer struct{ calls *int }

func (s stringer) String() string { *s.calls++; return "s" }

func TestZapLoggerDoesNotFormatDisabledDebug(t *testing.T) {
	l, logs := newObservedZapLogger(zapcore.InfoLevel)
	calls := 0
	l.Debugf("%v", stringer{&calls})
	l.Debug(stringer{&calls})
	assert.Equal(t, 0, calls)
	assert.Equal(t, 0, logs.Len())

	l.Infof("%v", stringer{&calls})
	assert.Equal(t, 1, calls)
	assert.Equal(t, 1, logs.Len())
}

func TestZapLoggerPanicLogsThenPanics(t *testing.T) {
	l, logs := newObservedZapLogger(zapcore.InfoLevel)
	assert.PanicsWithValue(t, "boom 1", func() { l.Panicf("boom %d", 1) })
	assert.Panics(t, func() { l.Panic("boom") })
	entries := logs.AllUntimed()
	require.Len(t, entries, 2)
	assert.Equal(t, zapcore.PanicLevel, entries[0].Level)
	assert.Equal(t, "boom 1", entries[0].Message)
}

func TestSetLoggerAndResetDefaultLogger(t *testing.T) {
	t.Cleanup(ResetDefaultLogger)
	initial := getLogger()
	require.NotNil(t, initial)
	_, isZap := initial.(*zapLogger)
	assert.True(t, isZap, "the package default logger is backed by zap")

	l, _ := newBufferLogger()
	SetLogger(l)
	assert.Same(t, l, getLogger())

	ResetDefaultLogger()
	_, isZap = getLogger().(*zapLogger)
	assert.True(t, isZap)
	assert.NotSame(t, l, getLogger())
}

func TestDiscardLoggerIsSilentButStillPanics(t *testing.T) {
	l := discardLogger
	l.Debug("x")
	l.Debugf("x")
	l.Info("x")
	l.Infof("x")
	l.Warning("x")
	l.Warningf("x")
	l.Error("x")
	l.Errorf("x")
	assert.PanicsWithValue(t, "x1", func() { l.Panic("x", 1) })
	assert.PanicsWithValue(t, "x 1", func() { l.Panicf("x %d", 1) })
}

// TestLoggersFatalExits runs each Fatal variant in a child process, which
// must log (where the logger writes) and exit with status 1.
func TestLoggersFatalExits(t *testing.T) {
	if name := os.Getenv("RAFT_TEST_FATAL"); name != "" {
		var l Logger
		switch {
		case strings.HasPrefix(name, "default"):
			l = &DefaultLogger{Logger: log.New(os.Stderr, "raft", 0)}
		case strings.HasPrefix(name, "zap"):
			l = NewZapLogger(zap.NewExample())
		default:
			l = discardLogger
		}
		if strings.HasSuffix(name, "f") {
			l.Fatalf("fatal %s", name)
		} else {
			l.Fatal("fatal ", name)
		}
		return // not reached
	}
	for _, name := range []string{"default", "defaultf", "zap", "zapf", "discard", "discardf"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLoggersFatalExits$")
			cmd.Env = append(os.Environ(), "RAFT_TEST_FATAL="+name)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "output: %s", out)
			assert.Equal(t, 1, ee.ExitCode())
			if !strings.HasPrefix(name, "discard") {
				assert.Contains(t, string(out), "fatal "+name)
			}
		})
	}
}
