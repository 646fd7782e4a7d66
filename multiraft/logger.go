package multiraft

import (
	"fmt"
	"log"
	"os"
)

// stdLogger is the host's default logger: the standard library's log
// package, with Debug and Info dropped (a host with thousands of groups
// would drown its log in them).
type stdLogger struct{ l *log.Logger }

func newStdLogger() *stdLogger {
	return &stdLogger{log.New(os.Stderr, "multiraft ", log.LstdFlags)}
}

func (s *stdLogger) Debug(v ...interface{})                 {}
func (s *stdLogger) Debugf(format string, v ...interface{}) {}
func (s *stdLogger) Info(v ...interface{})                  {}
func (s *stdLogger) Infof(format string, v ...interface{})  {}
func (s *stdLogger) Warning(v ...interface{})               { s.l.Output(2, "WARN "+fmt.Sprint(v...)) }
func (s *stdLogger) Warningf(format string, v ...interface{}) {
	s.l.Output(2, "WARN "+fmt.Sprintf(format, v...))
}
func (s *stdLogger) Error(v ...interface{}) { s.l.Output(2, "ERROR "+fmt.Sprint(v...)) }
func (s *stdLogger) Errorf(format string, v ...interface{}) {
	s.l.Output(2, "ERROR "+fmt.Sprintf(format, v...))
}
func (s *stdLogger) Fatal(v ...interface{}) { s.l.Fatal(v...) }
func (s *stdLogger) Fatalf(format string, v ...interface{}) {
	s.l.Fatalf(format, v...)
}
func (s *stdLogger) Panic(v ...interface{}) { s.l.Panic(v...) }
func (s *stdLogger) Panicf(format string, v ...interface{}) {
	s.l.Panicf(format, v...)
}
