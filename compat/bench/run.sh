#!/bin/sh
# run.sh runs the comparison suite, raftkit and etcd raft v3.6.0
# interleaved inside every count, then prints benchstat's comparison and
# the table of median ratios raftkit/etcd.
#
#   compat/bench/run.sh [count] [extra go test flags...]
#
# count defaults to 6. The raftwip tag is needed while Node is behind it
# in the root package; it is harmless after. The raw output is kept in compat/bench/out/.
set -e
cd "$(dirname "$0")"
count=${1:-6}
[ $# -gt 0 ] && shift
mkdir -p out
./gen.sh
git diff --quiet -- lib_etcd.go 2>/dev/null || echo "note: lib_etcd.go was regenerated" >&2
out=out/bench.txt
echo "load before: $(uptime)" >&2
go test -tags raftwip -run '^$' -bench . -benchmem -count "$count" -timeout 60m "$@" . | tee "$out"
echo "load after: $(uptime)" >&2
echo
echo "== benchstat (columns: lib) =="
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /lib "$out"
echo
echo "== medians and ratios raftkit/etcd =="
go run ./ratio < "$out"
