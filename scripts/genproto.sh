#!/usr/bin/env bash
# Regenerates raftpb/raft.pb.go from raftpb/raft.proto.
#
# Needs: protoc (Debian package protobuf-compiler; installed here when
# missing and apt-get is available) and protoc-gen-gogofast at the version
# pinned below, installed with `go install`. The gogo .proto includes come
# from the module cache, so the result depends only on go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."

GOGO_VERSION=v1.3.2

if ! command -v protoc >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
  else
    echo "genproto: protoc not found; install Debian's protobuf-compiler" >&2
    exit 1
  fi
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN="$bin" go install "github.com/gogo/protobuf/protoc-gen-gogofast@${GOGO_VERSION}"
go mod download github.com/gogo/protobuf
gogo=$(go list -m -f '{{.Dir}}' github.com/gogo/protobuf)

PATH="$bin:$PATH" protoc \
  -I raftpb -I "$gogo" -I "$gogo/protobuf" \
  --gogofast_out=paths=source_relative:raftpb \
  raftpb/raft.proto
# Entry and Message are encoded and decoded by hand (raftpb/codec.go,
# raftpb/decode.go); with marshaler, sizer and unmarshaler off, gogo routes
# their XXX_ methods, which proto.Marshal, proto.Unmarshal and proto.Size
# use, to its reflection-based code, which is slower and more lenient with
# bad input. Point them at the hand-written methods.
sed -i -E \
  -e 's/return xxx_messageInfo_(Entry|Message)\.Unmarshal\(m, b\)/return m.Unmarshal(b)/' \
  -e 's/return xxx_messageInfo_(Entry|Message)\.Marshal\(b, m, deterministic\)/return appendMarshal(b, m)/' \
  -e 's/return xxx_messageInfo_(Entry|Message)\.Size\(m\)/return m.Size()/' \
  raftpb/raft.pb.go
gofmt -w raftpb/raft.pb.go
echo "genproto: wrote raftpb/raft.pb.go"
