#!/bin/sh
# run.sh runs the comparison suite, raftkit and etcd raft v3.6.0
# interleaved inside every count, then prints benchstat's comparison and
# the table of median ratios raftkit/etcd.
#
#   compat/bench/run.sh [count] [test binary flags, e.g. -test.benchtime=2s]
#
# count defaults to 6. The raw output is kept in compat/bench/out/.
set -e
cd "$(dirname "$0")"
count=${1:-6}
[ $# -gt 0 ] && shift
mkdir -p out
./gen.sh
git diff --quiet -- lib_etcd.go 2>/dev/null || echo "note: lib_etcd.go was regenerated" >&2
out=out/bench.txt
echo "load before: $(uptime)" >&2
# One binary, run count times: inside each run every scenario runs raftkit
# then etcd, so the two alternate count times (go test -count would run
# each sub-benchmark count times in a row).
go test -c -o out/bench.test .
: > "$out"
i=0
while [ "$i" -lt "$count" ]; do
	i=$((i + 1))
	echo "run $i of $count: $(uptime)" >&2
	out/bench.test -test.run '^$' -test.bench . -test.benchmem -test.timeout 60m "$@" | tee -a "$out"
done
echo "load after: $(uptime)" >&2
echo
echo "== benchstat (columns: lib) =="
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /lib "$out"
echo
echo "== medians and ratios raftkit/etcd =="
go run ./ratio < "$out"
