package raft

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// NewSlogLogger returns a Logger that writes through l (log/slog). Once set
// in Config.Logger, every record of the node carries its identity and state
// as attributes: raft.node (the node ID in hex, as in the messages),
// raft.term and raft.state. Messages are formatted only when l's handler
// enables their level. Fatal logs at error level and exits; Panic logs at
// error level and panics.
//
// The default logger of the package stays zap (see SetLogger).
func NewSlogLogger(l *slog.Logger) Logger {
	return &slogLogger{l: l}
}

// NewSlogHandlerLogger returns a Logger that writes to h, as NewSlogLogger
// does for slog.New(h).
func NewSlogHandlerLogger(h slog.Handler) Logger {
	return NewSlogLogger(slog.New(h))
}

// slogLogger is the Logger of NewSlogLogger. r is the node it is bound to
// (see nodeBoundLogger), whose state it adds to each record; nil when used
// outside a node (for example by SetLogger's default before binding).
type slogLogger struct {
	l *slog.Logger
	r *raft
}

// nodeBoundLogger is a Logger that can describe the node it logs for: raft
// binds it to itself when it starts, and the bound copy reads the node's
// state at each record (on the node's goroutine, where raft logs).
type nodeBoundLogger interface {
	boundTo(r *raft) Logger
}

func (s *slogLogger) boundTo(r *raft) Logger {
	return &slogLogger{l: s.l, r: r}
}

// bindLogger returns l bound to r if l supports it, else l.
func bindLogger(l Logger, r *raft) Logger {
	if b, ok := l.(nodeBoundLogger); ok {
		return b.boundTo(r)
	}
	return l
}

// log writes a record at lvl if the handler enables it. The message is
// fmt.Sprintf(format, v...), or fmt.Sprint(v...) when sprint is set.
func (s *slogLogger) log(lvl slog.Level, sprint bool, format string, v []interface{}) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, lvl) {
		return
	}
	var msg string
	if sprint {
		msg = fmt.Sprint(v...)
	} else {
		msg = fmt.Sprintf(format, v...)
	}
	if s.r == nil {
		s.l.LogAttrs(ctx, lvl, msg)
		return
	}
	s.l.LogAttrs(ctx, lvl, msg,
		slog.String("raft.node", fmt.Sprintf("%x", s.r.id)),
		slog.Uint64("raft.term", s.r.Term),
		slog.String("raft.state", s.r.state.String()))
}

// Debug logs at slog.LevelDebug.
func (s *slogLogger) Debug(v ...interface{}) { s.log(slog.LevelDebug, true, "", v) }

// Debugf logs at slog.LevelDebug.
func (s *slogLogger) Debugf(format string, v ...interface{}) {
	s.log(slog.LevelDebug, false, format, v)
}

// Info logs at slog.LevelInfo.
func (s *slogLogger) Info(v ...interface{}) { s.log(slog.LevelInfo, true, "", v) }

// Infof logs at slog.LevelInfo.
func (s *slogLogger) Infof(format string, v ...interface{}) { s.log(slog.LevelInfo, false, format, v) }

// Warning logs at slog.LevelWarn.
func (s *slogLogger) Warning(v ...interface{}) { s.log(slog.LevelWarn, true, "", v) }

// Warningf logs at slog.LevelWarn.
func (s *slogLogger) Warningf(format string, v ...interface{}) {
	s.log(slog.LevelWarn, false, format, v)
}

// Error logs at slog.LevelError.
func (s *slogLogger) Error(v ...interface{}) { s.log(slog.LevelError, true, "", v) }

// Errorf logs at slog.LevelError.
func (s *slogLogger) Errorf(format string, v ...interface{}) {
	s.log(slog.LevelError, false, format, v)
}

// Fatal logs at slog.LevelError and exits the process.
func (s *slogLogger) Fatal(v ...interface{}) {
	s.log(slog.LevelError, true, "", v)
	os.Exit(1)
}

// Fatalf logs at slog.LevelError and exits the process.
func (s *slogLogger) Fatalf(format string, v ...interface{}) {
	s.log(slog.LevelError, false, format, v)
	os.Exit(1)
}

// Panic logs at slog.LevelError and panics.
func (s *slogLogger) Panic(v ...interface{}) {
	s.log(slog.LevelError, true, "", v)
	panic(fmt.Sprint(v...))
}

// Panicf logs at slog.LevelError and panics.
func (s *slogLogger) Panicf(format string, v ...interface{}) {
	s.log(slog.LevelError, false, format, v)
	panic(fmt.Sprintf(format, v...))
}
