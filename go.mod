module github.com/raftkit/raft

go 1.23

require github.com/gogo/protobuf v1.3.2
