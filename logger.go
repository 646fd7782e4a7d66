package raft

import (
	"fmt"
	"log"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Logger is the logging interface raft writes through. Set the one a node
// uses with Config.Logger, or the package default with SetLogger.
//
// Fatal and Fatalf must terminate the process; Panic and Panicf must panic
// after logging. Raft calls Panic only for broken local invariants, such as a
// storage that lost entries it had acknowledged.
type Logger interface {
	// Debug logs its arguments, formatted as by fmt.Sprint, at debug level.
	Debug(v ...interface{})
	// Debugf logs a message formatted as by fmt.Sprintf at debug level.
	Debugf(format string, v ...interface{})

	// Error logs its arguments, formatted as by fmt.Sprint, at error level.
	Error(v ...interface{})
	// Errorf logs a message formatted as by fmt.Sprintf at error level.
	Errorf(format string, v ...interface{})

	// Info logs its arguments, formatted as by fmt.Sprint, at info level.
	Info(v ...interface{})
	// Infof logs a message formatted as by fmt.Sprintf at info level.
	Infof(format string, v ...interface{})

	// Warning logs its arguments, formatted as by fmt.Sprint, at warning
	// level.
	Warning(v ...interface{})
	// Warningf logs a message formatted as by fmt.Sprintf at warning level.
	Warningf(format string, v ...interface{})

	// Fatal logs its arguments, formatted as by fmt.Sprint, and exits the
	// process.
	Fatal(v ...interface{})
	// Fatalf logs a message formatted as by fmt.Sprintf and exits the
	// process.
	Fatalf(format string, v ...interface{})

	// Panic logs its arguments, formatted as by fmt.Sprint, and panics.
	Panic(v ...interface{})
	// Panicf logs a message formatted as by fmt.Sprintf and panics.
	Panicf(format string, v ...interface{})
}

var (
	raftLoggerMu sync.Mutex
	raftLogger   = newDefaultLogger()
)

// SetLogger sets the package default logger, used by nodes whose Config has
// no Logger.
func SetLogger(l Logger) {
	raftLoggerMu.Lock()
	raftLogger = l
	raftLoggerMu.Unlock()
}

// ResetDefaultLogger restores the package default logger that SetLogger
// replaced.
func ResetDefaultLogger() {
	SetLogger(newDefaultLogger())
}

// getLogger returns the package default logger.
func getLogger() Logger {
	raftLoggerMu.Lock()
	defer raftLoggerMu.Unlock()
	return raftLogger
}

// newDefaultLogger returns the package default logger: zap with a
// production-style configuration at info level, writing JSON to stderr. If
// zap cannot be set up, it falls back to a DefaultLogger on stderr.
func newDefaultLogger() Logger {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(zapcore.InfoLevel)
	// Consensus logs are rare and each one matters: do not sample.
	cfg.Sampling = nil
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	l, err := cfg.Build()
	if err != nil {
		return &DefaultLogger{Logger: log.New(os.Stderr, "raft", log.LstdFlags)}
	}
	return NewZapLogger(l)
}

// zapLogger adapts a zap logger to Logger.
type zapLogger struct {
	s *zap.SugaredLogger
}

// NewZapLogger returns a Logger that writes through l. Call sites are
// reported as the raft code that logged, not this adapter. Messages below
// l's level are not formatted.
func NewZapLogger(l *zap.Logger) Logger {
	return &zapLogger{s: l.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

func (l *zapLogger) Debug(v ...interface{})                   { l.s.Debug(v...) }
func (l *zapLogger) Debugf(format string, v ...interface{})   { l.s.Debugf(format, v...) }
func (l *zapLogger) Error(v ...interface{})                   { l.s.Error(v...) }
func (l *zapLogger) Errorf(format string, v ...interface{})   { l.s.Errorf(format, v...) }
func (l *zapLogger) Info(v ...interface{})                    { l.s.Info(v...) }
func (l *zapLogger) Infof(format string, v ...interface{})    { l.s.Infof(format, v...) }
func (l *zapLogger) Warning(v ...interface{})                 { l.s.Warn(v...) }
func (l *zapLogger) Warningf(format string, v ...interface{}) { l.s.Warnf(format, v...) }
func (l *zapLogger) Fatal(v ...interface{})                   { l.s.Fatal(v...) }
func (l *zapLogger) Fatalf(format string, v ...interface{})   { l.s.Fatalf(format, v...) }
func (l *zapLogger) Panic(v ...interface{})                   { l.s.Panic(v...) }
func (l *zapLogger) Panicf(format string, v ...interface{})   { l.s.Panicf(format, v...) }

// DefaultLogger is a Logger on top of the standard library's log.Logger,
// kept for compatibility with code written against etcd raft. Debug output
// is off until EnableDebug is called. Each line carries a level tag such as
// "INFO: ".
type DefaultLogger struct {
	*log.Logger
	debug bool
}

// calldepth makes log.Logger report the caller of a DefaultLogger method
// (with Lshortfile or Llongfile).
const calldepth = 2

// EnableTimestamps adds the date and time to every line.
func (l *DefaultLogger) EnableTimestamps() {
	l.SetFlags(l.Flags() | log.Ldate | log.Ltime)
}

// EnableDebug turns on output from Debug and Debugf.
func (l *DefaultLogger) EnableDebug() {
	l.debug = true
}

// Debug logs at debug level, if enabled.
func (l *DefaultLogger) Debug(v ...interface{}) {
	if l.debug {
		l.Output(calldepth, header("DEBUG", fmt.Sprint(v...)))
	}
}

// Debugf logs at debug level, if enabled.
func (l *DefaultLogger) Debugf(format string, v ...interface{}) {
	if l.debug {
		l.Output(calldepth, header("DEBUG", fmt.Sprintf(format, v...)))
	}
}

// Info logs at info level.
func (l *DefaultLogger) Info(v ...interface{}) {
	l.Output(calldepth, header("INFO", fmt.Sprint(v...)))
}

// Infof logs at info level.
func (l *DefaultLogger) Infof(format string, v ...interface{}) {
	l.Output(calldepth, header("INFO", fmt.Sprintf(format, v...)))
}

// Error logs at error level.
func (l *DefaultLogger) Error(v ...interface{}) {
	l.Output(calldepth, header("ERROR", fmt.Sprint(v...)))
}

// Errorf logs at error level.
func (l *DefaultLogger) Errorf(format string, v ...interface{}) {
	l.Output(calldepth, header("ERROR", fmt.Sprintf(format, v...)))
}

// Warning logs at warning level.
func (l *DefaultLogger) Warning(v ...interface{}) {
	l.Output(calldepth, header("WARN", fmt.Sprint(v...)))
}

// Warningf logs at warning level.
func (l *DefaultLogger) Warningf(format string, v ...interface{}) {
	l.Output(calldepth, header("WARN", fmt.Sprintf(format, v...)))
}

// Fatal logs at fatal level and exits the process with status 1.
func (l *DefaultLogger) Fatal(v ...interface{}) {
	l.Output(calldepth, header("FATAL", fmt.Sprint(v...)))
	os.Exit(1)
}

// Fatalf logs at fatal level and exits the process with status 1.
func (l *DefaultLogger) Fatalf(format string, v ...interface{}) {
	l.Output(calldepth, header("FATAL", fmt.Sprintf(format, v...)))
	os.Exit(1)
}

// Panic logs at panic level and panics with the message.
func (l *DefaultLogger) Panic(v ...interface{}) {
	s := fmt.Sprint(v...)
	l.Output(calldepth, header("PANIC", s))
	panic(s)
}

// Panicf logs at panic level and panics with the message.
func (l *DefaultLogger) Panicf(format string, v ...interface{}) {
	s := fmt.Sprintf(format, v...)
	l.Output(calldepth, header("PANIC", s))
	panic(s)
}

func header(lvl, msg string) string {
	return lvl + ": " + msg
}

// discardLogger drops everything without formatting it, except that Panic
// still panics and Fatal still exits. Tests and benchmarks use it to stay
// quiet and cheap.
var discardLogger Logger = nopLogger{}

type nopLogger struct{}

func (nopLogger) Debug(...interface{})            {}
func (nopLogger) Debugf(string, ...interface{})   {}
func (nopLogger) Error(...interface{})            {}
func (nopLogger) Errorf(string, ...interface{})   {}
func (nopLogger) Info(...interface{})             {}
func (nopLogger) Infof(string, ...interface{})    {}
func (nopLogger) Warning(...interface{})          {}
func (nopLogger) Warningf(string, ...interface{}) {}
func (nopLogger) Fatal(...interface{})            { os.Exit(1) }
func (nopLogger) Fatalf(string, ...interface{})   { os.Exit(1) }
func (nopLogger) Panic(v ...interface{})          { panic(fmt.Sprint(v...)) }
func (nopLogger) Panicf(format string, v ...interface{}) {
	panic(fmt.Sprintf(format, v...))
}
