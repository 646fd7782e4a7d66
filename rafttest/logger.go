package rafttest

import "fmt"

// QuietLogger is a raft.Logger that discards every line but those of
// Panic and Fatal, which panic with the message instead of exiting. It
// suits simulations and tests: a run of thousands of seeds would drown in
// raft's log lines, and a panic, unlike an exit, can be recovered and
// reported with the seed and the trace. It also satisfies etcd raft's
// Logger, whose methods are the same.
type QuietLogger struct{}

// Debug discards its arguments.
func (QuietLogger) Debug(...interface{}) {}

// Debugf discards its arguments.
func (QuietLogger) Debugf(string, ...interface{}) {}

// Error discards its arguments.
func (QuietLogger) Error(...interface{}) {}

// Errorf discards its arguments.
func (QuietLogger) Errorf(string, ...interface{}) {}

// Info discards its arguments.
func (QuietLogger) Info(...interface{}) {}

// Infof discards its arguments.
func (QuietLogger) Infof(string, ...interface{}) {}

// Warning discards its arguments.
func (QuietLogger) Warning(...interface{}) {}

// Warningf discards its arguments.
func (QuietLogger) Warningf(string, ...interface{}) {}

// Fatal panics with its arguments formatted as by fmt.Sprint.
func (QuietLogger) Fatal(v ...interface{}) { panic(fmt.Sprint(v...)) }

// Fatalf panics with its arguments formatted as by fmt.Sprintf.
func (QuietLogger) Fatalf(format string, v ...interface{}) { panic(fmt.Sprintf(format, v...)) }

// Panic panics with its arguments formatted as by fmt.Sprint.
func (QuietLogger) Panic(v ...interface{}) { panic(fmt.Sprint(v...)) }

// Panicf panics with its arguments formatted as by fmt.Sprintf.
func (QuietLogger) Panicf(format string, v ...interface{}) { panic(fmt.Sprintf(format, v...)) }
