#!/usr/bin/env bash
# run.sh builds the etcd v3.6 server, etcdctl and etcd's benchmark tool from
# the Go module proxy twice -- stock, and with go.etcd.io/raft/v3 replaced by
# this library -- then, for each build, starts a 3-member cluster on loopback
# ports and checks it with etcdctl (put/get, watch, lease, txn, learner add,
# promote, remove, move-leader, kill -9 of the leader and restart, no lost
# acknowledged write), benchmarks puts on both builds side by side, and runs
# the etcd server's own package tests that exercise raft against both builds.
# The results go to stdout and to compat/etcd/RESULTS.md.
#
#   compat/etcd/run.sh
#
# It needs Go, coreutils and access to the Go module proxy, nothing else. It
# takes about 20 minutes on a 2-core machine with cold module and build
# caches: 1.5 min to build, 1 min of functional checks, 2.5 min of benchmark
# and 2 x 7.5 min of etcd tests (RUN_TESTS=0 leaves about 5 minutes). It is
# not part of .ci/run. It exits non-zero when a build, a functional check or
# a benchmark run fails on either build, or when an etcd test fails on
# raftkit, passes on stock, and its reruns say the same.
#
# Environment knobs:
#   ETCD_VERSION   etcd server/etcdctl version (default: newest v3.6.x served)
#   BENCH_TOTAL    puts per benchmark run (default 20000)
#   BENCH_CLIENTS  benchmark clients and connections (default 16)
#   BENCH_ROUNDS   benchmark rounds per build, run ABBA-interleaved (default 6)
#   PORT_BASE      first loopback port used (default 24300; 40 ports are used)
#   RUN_TESTS      0 skips the etcd package tests (default 1)
#   TEST_PKGS      etcd packages whose tests are run
#   RESULTS        output file (default compat/etcd/RESULTS.md)
#   KEEP_WORK      1 keeps the temp dir (binaries, logs) for inspection
#   RAFT_SRC       worktree (default) or head: which library source is built
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RESULTS=${RESULTS:-$HERE/RESULTS.md}
BENCH_TOTAL=${BENCH_TOTAL:-20000}
BENCH_CLIENTS=${BENCH_CLIENTS:-16}
BENCH_ROUNDS=${BENCH_ROUNDS:-6}
PORT_BASE=${PORT_BASE:-24300}
RUN_TESTS=${RUN_TESTS:-1}
TEST_PKGS=${TEST_PKGS:-"go.etcd.io/etcd/server/v3/etcdserver/... go.etcd.io/etcd/server/v3/storage/... go.etcd.io/etcd/server/v3/etcdmain/... go.etcd.io/etcd/tests/v3/integration"}
KEEP_WORK=${KEEP_WORK:-0}
RAFT_SRC=${RAFT_SRC:-worktree}
BUILDS=(stock raftkit)

# Dependencies are resolved from the module proxy; go.sum entries are added
# as needed in the throwaway build modules.
export GOFLAGS=-mod=mod
export GOWORK=off

WORK=$(mktemp -d "${TMPDIR:-/tmp}/raftkit-etcd.XXXXXX")
START_TS=$(date +%s)

# ---------------------------------------------------------------- processes

declare -A PIDS=() # member name -> pid of its etcd
declare -a EXTRA_PIDS=()

cleanup() {
	local rc=$?
	local p
	for p in "${PIDS[@]}" "${EXTRA_PIDS[@]}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
	done
	if [ "$KEEP_WORK" = 1 ]; then
		echo "run.sh: work dir kept: $WORK" >&2
	else
		chmod -R u+w "$WORK" 2>/dev/null || true
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# has PATTERN [FILE]: grep that reads all its input. grep -q at the end of a
# pipeline may exit before the writer is done, and pipefail then reports the
# writer's SIGPIPE as a failure.
has() { grep "$@" >/dev/null; }

# --------------------------------------------------------------- versions

newest_v36() { # module -> its v3.6.x versions served, one a line
	go list -m -versions "$1" | tr ' ' '\n' | grep -E '^v3\.6\.[0-9]+$' | sort -V
}

pick_versions() {
	if [ -z "${ETCD_VERSION:-}" ]; then
		# The newest v3.6.x served for the server, etcdctl and etcd's tests.
		ETCD_VERSION=$(comm -12 <(newest_v36 go.etcd.io/etcd/server/v3 | sort) \
			<(newest_v36 go.etcd.io/etcd/etcdctl/v3 | sort) |
			comm -12 - <(newest_v36 go.etcd.io/etcd/tests/v3 | sort) | sort -V | tail -1)
	fi
	[ -n "$ETCD_VERSION" ] || {
		echo "no etcd v3.6.x served by the module proxy" >&2
		exit 1
	}
	# etcd's benchmark tool lives in the repository's root module
	# (go.etcd.io/etcd/v3/tools/benchmark); the proxy serves fewer versions
	# of it, so take the newest one not newer than the server. Minimal
	# version selection still builds it against the chosen server/client.
	BENCH_VERSION=$(newest_v36 go.etcd.io/etcd/v3 | awk -v v="$ETCD_VERSION" '
		{ split($0, a, "."); split(v, b, "."); if (a[3] + 0 <= b[3] + 0) last = $0 }
		END { print last }')
	[ -n "$BENCH_VERSION" ] || {
		echo "go.etcd.io/etcd/v3 (benchmark tool) not served at v3.6.x <= $ETCD_VERSION" >&2
		exit 1
	}
	log "etcd $ETCD_VERSION, benchmark tool from go.etcd.io/etcd/v3@$BENCH_VERSION"
}

# ----------------------------------------------------------------- builds

# make_raft_copy copies the library (without .git, compat/, examples/) into
# $WORK/raft-as-etcd (the work tree, or the commit HEAD with RAFT_SRC=head), renamed to module go.etcd.io/raft/v3 so that etcd's
# imports resolve to our code unchanged.
make_raft_copy() {
	local dst=$WORK/raft-as-etcd
	mkdir -p "$dst"
	if [ "$RAFT_SRC" = head ]; then
		(cd "$REPO" && git archive --format=tar HEAD -- . ':!compat' ':!examples') | tar -C "$dst" -xf -
	else
		(cd "$REPO" && tar --exclude=./.git --exclude=./compat --exclude=./examples -cf - .) |
			tar -C "$dst" -xf -
	fi
	sed -i 's#^module github.com/raftkit/raft$#module go.etcd.io/raft/v3#' "$dst/go.mod"
	find "$dst" -name '*.go' -exec sed -i 's#github\.com/raftkit/raft#go.etcd.io/raft/v3#g' {} +
	has '^module go.etcd.io/raft/v3$' "$dst/go.mod"
}

declare -A BUILD_OK=() BUILD_NOTE=()

# build NAME: a throwaway module in $WORK/NAME that requires etcd and builds
# bin/etcd, bin/etcdctl and bin/benchmark.
build() {
	local name=$1 dir=$WORK/$1 out
	mkdir -p "$dir/bin"
	printf 'module etcdcompat/%s\n\ngo 1.23\n' "$name" >"$dir/go.mod"
	# tests/v3 holds the in-process cluster tests run later; it is required
	# here so that the binaries and the tests share one module graph.
	(cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
		"go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" \
		"go.etcd.io/etcd/v3@$BENCH_VERSION" "go.etcd.io/etcd/tests/v3@$ETCD_VERSION" >"$dir/get.log" 2>&1) || {
		BUILD_OK[$name]=0
		BUILD_NOTE[$name]="go get failed: $(tail -3 "$dir/get.log" | tr '\n' ' ')"
		return 0
	}
	if [ "$name" = raftkit ]; then
		(cd "$dir" && go mod edit -replace "go.etcd.io/raft/v3=$WORK/raft-as-etcd")
	fi
	local t0=$SECONDS
	if out=$(cd "$dir" && go build -o bin/etcd go.etcd.io/etcd/server/v3 2>&1 &&
		go build -o bin/etcdctl go.etcd.io/etcd/etcdctl/v3 2>&1 &&
		go build -o bin/benchmark go.etcd.io/etcd/v3/tools/benchmark 2>&1); then
		BUILD_OK[$name]=1
		local raftdep
		raftdep=$(go version -m "$dir/bin/etcd" | awk '$2 == "go.etcd.io/raft/v3" { getline n; if (n ~ /=>/) { split(n, r); print $3 " => " r[2] } else print $3 }')
		BUILD_NOTE[$name]="built in $((SECONDS - t0)) s; etcd binary links go.etcd.io/raft/v3 $raftdep"
	else
		BUILD_OK[$name]=0
		BUILD_NOTE[$name]="compile errors"
		printf '%s\n' "$out" >"$dir/build-errors.txt"
		log "$name build failed:"
		printf '%s\n' "$out" | head -60 >&2
	fi
}

# ---------------------------------------------------------------- cluster

BIN=""       # bin dir of the build under test
RUN=""       # run dir (data dirs, logs) of the build under test
CPORT=()     # client port per member index 1..4
PPORT=()     # peer port per member index 1..4
CLUSTER_TOKEN=""

set_ports() { # offset
	local i
	for i in 1 2 3 4; do
		CPORT[i]=$((PORT_BASE + $1 + i))
		PPORT[i]=$((PORT_BASE + $1 + 10 + i))
	done
}

curl_ep() { echo "http://127.0.0.1:${CPORT[$1]}"; }
peer_ep() { echo "http://127.0.0.1:${PPORT[$1]}"; }
eps() { # member indexes -> comma-separated client endpoints
	local i s=""
	for i in "$@"; do s+="${s:+,}$(curl_ep "$i")"; done
	echo "$s"
}
initial_cluster() {
	local i s=""
	for i in "$@"; do s+="${s:+,}m$i=$(peer_ep "$i")"; done
	echo "$s"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_member I STATE CLUSTER: starts member mI in the background.
start_member() {
	local i=$1 state=$2 ic=$3
	local p
	for p in "${CPORT[i]}" "${PPORT[i]}"; do
		port_free "$p" || {
			log "port $p on 127.0.0.1 is in use; set PORT_BASE"
			return 1
		}
	done
	"$BIN/etcd" --name "m$i" --data-dir "$RUN/m$i.data" \
		--listen-client-urls "$(curl_ep "$i")" --advertise-client-urls "$(curl_ep "$i")" \
		--listen-peer-urls "$(peer_ep "$i")" --initial-advertise-peer-urls "$(peer_ep "$i")" \
		--initial-cluster "$ic" --initial-cluster-state "$state" \
		--initial-cluster-token "$CLUSTER_TOKEN" \
		--listen-metrics-urls "" --log-level info \
		>>"$RUN/m$i.log" 2>&1 &
	PIDS[m$i]=$!
}

stop_member() { # I [signal]
	local i=$1 sig=${2:-TERM} p=${PIDS[m$1]:-}
	[ -n "$p" ] || return 0
	kill "-$sig" "$p" 2>/dev/null || true
	local n
	for n in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	PIDS[m$i]=""
}

stop_all() {
	local k
	for k in 1 2 3 4; do stop_member "$k"; done
}

# ctl ENDPOINTS ARGS...: etcdctl with bounded dial and command time.
ctl() {
	local e=$1
	shift
	timeout 30 "$BIN/etcdctl" --endpoints="$e" --dial-timeout=3s --command-timeout=10s "$@"
}

# wait_until SECONDS CMD...: retries CMD every 0.3 s until it succeeds and
# prints the output of the successful try.
wait_until() {
	local limit=$1
	shift
	local deadline=$((SECONDS + limit)) out
	while :; do
		if out=$("$@" 2>/dev/null); then
			[ -z "$out" ] || printf '%s\n' "$out"
			return 0
		fi
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.3
	done
}

# value_is ENDPOINTS CONSISTENCY KEY WANT: the key's value read with the
# given consistency (l or s) is WANT ("" means the key does not exist).
value_is() {
	local got
	got=$(ctl "$1" get "$3" --consistency="$2" --print-value-only) || return 1
	[ "$got" = "$4" ]
}

healthy() { # member indexes
	local i
	for i in "$@"; do ctl "$(curl_ep "$i")" endpoint health || return 1; done
}

# leader_of MEMBER...: prints "index hexid" of the member that says it leads.
leader_of() {
	local i line
	for i in "$@"; do
		line=$(ctl "$(curl_ep "$i")" endpoint status 2>/dev/null) || continue
		# endpoint, ID, version, storage version, db size, in use, % not in
		# use, quota, is leader, ...
		if [ "$(echo "$line" | awk -F', ' '{print $9}')" = true ]; then
			echo "$i $(echo "$line" | awk -F', ' '{print $2}')"
			return 0
		fi
	done
	return 1
}

member_hex() { # member index -> hex ID
	ctl "$(curl_ep "$1")" endpoint status | awk -F', ' '{print $2}'
}

ACKED="" # file of "key value" lines that etcd acknowledged

put_ack() { # ENDPOINTS KEY VALUE
	ctl "$1" put "$2" "$3" >/dev/null 2>&1 || return 1
	echo "$2 $3" >>"$ACKED"
}

# ------------------------------------------------------------ the checks

declare -A CHECK=() # build:check -> PASS/FAIL[: why]
CHECK_NAMES=(start put-get watch lease lease-expiry txn learner-add promote remove move-leader kill-leader restart acked-keys)

pass() { CHECK[$B:$1]=PASS; log "$B: $1 PASS"; }
fail() {
	CHECK[$B:$1]="FAIL: $2"
	log "$B: $1 FAIL: $2"
}

check_start() {
	local ic
	ic=$(initial_cluster 1 2 3)
	start_member 1 new "$ic" && start_member 2 new "$ic" && start_member 3 new "$ic" || {
		fail start "could not start members"
		return 1
	}
	if wait_until 30 healthy 1 2 3 >/dev/null 2>&1 && wait_until 10 leader_of 1 2 3 >/dev/null; then
		pass start
	else
		fail start "3 members not healthy within 30 s"
		return 1
	fi
}

check_put_get() {
	local all v
	all=$(eps 1 2 3)
	put_ack "$all" put/k1 v1 || {
		fail put-get "put failed"
		return
	}
	v=$(ctl "$all" get put/k1 --print-value-only)
	# A serializable read from every member once it has applied the put.
	local i
	for i in 1 2 3; do
		wait_until 10 value_is "$(curl_ep "$i")" s put/k1 v1 >/dev/null || {
			fail put-get "m$i does not serve put/k1"
			return
		}
	done
	[ "$v" = v1 ] && pass put-get || fail put-get "get returned '$v'"
}

check_watch() {
	local all rev wout wpid
	all=$(eps 1 2 3)
	rev=$(ctl "$all" get watch/k -w json | grep -o '"revision":[0-9]*' | head -1 | cut -d: -f2)
	wout=$RUN/watch.out
	# Watch on a follower's endpoint from the next revision, so that the
	# event is seen however late the watch starts.
	timeout 30 "$BIN/etcdctl" --endpoints="$(curl_ep 2)" watch watch/k --rev=$((rev + 1)) >"$wout" 2>&1 &
	wpid=$!
	EXTRA_PIDS+=("$wpid")
	put_ack "$(curl_ep 1)" watch/k watched-1 && put_ack "$(curl_ep 3)" watch/k watched-2 || {
		fail watch "put failed"
		return
	}
	if wait_until 15 has watched-2 "$wout" >/dev/null 2>&1 &&
		has '^PUT$' "$wout" && has watched-1 "$wout"; then
		pass watch
	else
		fail watch "watch output: $(tr '\n' ' ' <"$wout")"
	fi
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
}

check_lease() {
	local all id ttl
	all=$(eps 1 2 3)
	id=$(ctl "$all" lease grant 120 | awk '/granted/ {print $2}')
	[ -n "$id" ] || {
		fail lease "grant failed"
		return
	}
	ctl "$all" put lease/k leased --lease="$id" >/dev/null &&
		[ "$(ctl "$all" get lease/k --print-value-only)" = leased ] &&
		ctl "$all" lease keep-alive --once "$id" | has "keepalived with TTL" &&
		ttl=$(ctl "$all" lease timetolive "$id" --keys) && echo "$ttl" | has lease/k &&
		ctl "$all" lease revoke "$id" | has revoked &&
		[ -z "$(ctl "$all" get lease/k --print-value-only)" ] &&
		[ -z "$(ctl "$(curl_ep 3)" get lease/k --consistency=s --print-value-only)" ] &&
		pass lease || fail lease "grant/put --lease/keep-alive/revoke sequence failed (ttl: ${ttl:-})"
}

check_lease_expiry() {
	local all id
	all=$(eps 1 2 3)
	id=$(ctl "$all" lease grant 2 | awk '/granted/ {print $2}')
	[ -n "$id" ] && ctl "$all" put lease/short gone-soon --lease="$id" >/dev/null || {
		fail lease-expiry "grant or put failed"
		return
	}
	if wait_until 20 value_is "$all" l lease/short "" >/dev/null; then
		pass lease-expiry
	else
		fail lease-expiry "key of a 2 s lease still there after 20 s"
	fi
}

check_txn() {
	local all out1 out2
	all=$(eps 1 2 3)
	put_ack "$all" txn/k v0 || {
		fail txn "put failed"
		return
	}
	out1=$(printf 'value("txn/k") = "v0"\n\nput txn/k v1\n\nput txn/other wrong\n\n' | ctl "$all" txn)
	out2=$(printf 'value("txn/k") = "v0"\n\nput txn/k wrong\n\nput txn/other else-branch\n\n' | ctl "$all" txn)
	if echo "$out1" | has SUCCESS && echo "$out2" | has FAILURE &&
		[ "$(ctl "$all" get txn/k --print-value-only)" = v1 ] &&
		[ "$(ctl "$all" get txn/other --print-value-only)" = else-branch ]; then
		echo "txn/k v1" >>"$ACKED"
		echo "txn/other else-branch" >>"$ACKED"
		pass txn
	else
		fail txn "outputs: $(echo "$out1" | tr '\n' ' ') / $(echo "$out2" | tr '\n' ' ')"
	fi
}

M4_HEX=""

learner_up() { # m4 answers and reports itself a learner
	ctl "$(curl_ep 4)" endpoint status | awk -F', ' '$10 == "true" { ok = 1 } END { exit !ok }'
}

check_learner_add() {
	local all out
	all=$(eps 1 2 3)
	# etcd refuses a member change ("unhealthy cluster") until the leader
	# has been connected to every member for a few seconds: retry that.
	local deadline=$((SECONDS + 30))
	while :; do
		out=$(ctl "$all" member add m4 --learner --peer-urls="$(peer_ep 4)" 2>&1) && break
		if ! echo "$out" | has "unhealthy cluster" || [ "$SECONDS" -ge "$deadline" ]; then
			fail learner-add "member add failed: $(echo "$out" | grep -v '^{' | tr '\n' ' ')"
			return 1
		fi
		sleep 1
	done
	M4_HEX=$(echo "$out" | awk '/^Member/ {print $2}')
	start_member 4 existing "$(initial_cluster 1 2 3 4)" || {
		fail learner-add "could not start m4"
		return 1
	}
	if wait_until 30 learner_up >/dev/null &&
		wait_until 10 m4_in_list_as true >/dev/null; then
		pass learner-add
	else
		fail learner-add "m4 did not start as a learner within 30 s: $(ctl "$all" member list 2>&1 | tr '\n' ' ')"
		return 1
	fi
}

promote() { ctl "$(eps 1 2 3)" member promote "$M4_HEX" | has promoted; }

m4_in_list_as() { # learner flag: m4 is listed, started, with that learner flag
	ctl "$(eps 1 2 3)" member list --consistency=l | has "^$M4_HEX, started, m4, .*, $1\$"
}

check_promote() {
	local all
	all=$(eps 1 2 3)
	# A learner is promoted only once it has caught up with the leader.
	if ! wait_until 30 promote >/dev/null; then
		fail promote "member promote not accepted within 30 s: $(promote 2>&1 | grep -v '^{' | tr '\n' ' ')"
	elif ! wait_until 10 m4_in_list_as false >/dev/null; then
		fail promote "m4 not listed as a voter: $(ctl "$all" member list 2>&1 | tr '\n' ' ')"
	elif ! wait_until 20 healthy 4 >/dev/null; then
		fail promote "m4 not healthy within 20 s of its promotion"
	elif ! wait_until 10 put_ack "$(curl_ep 4)" member/promoted yes >/dev/null; then
		fail promote "put through m4 failed"
	else
		pass promote
		return 0
	fi
	return 1
}

check_remove() {
	local all p=${PIDS[m4]}
	all=$(eps 1 2 3)
	ctl "$all" member remove "$M4_HEX" | has removed || {
		fail remove "member remove failed"
		return
	}
	# The removed member learns of its removal and stops by itself.
	local n gone=0
	for n in $(seq 1 200); do
		kill -0 "$p" 2>/dev/null || {
			gone=1
			break
		}
		sleep 0.1
	done
	stop_member 4 KILL
	if [ "$(ctl "$all" member list --consistency=l | wc -l)" = 3 ] && ! ctl "$all" member list --consistency=l | has m4 &&
		[ "$gone" = 1 ] && put_ack "$all" member/removed yes; then
		pass remove
	else
		fail remove "member list: $(ctl "$all" member list | tr '\n' ' '); m4 stopped by itself: $gone"
	fi
}

leader_is() { [ "$(leader_of 1 2 3 | awk '{print $2}')" = "$1" ]; }

check_move_leader() {
	local l lhex target thex out
	read -r l lhex < <(leader_of 1 2 3) || {
		fail move-leader "no leader"
		return
	}
	target=$((l % 3 + 1))
	thex=$(member_hex "$target")
	out=$(ctl "$(curl_ep "$l")" move-leader "$thex" 2>&1)
	if echo "$out" | has transferred && wait_until 10 leader_is "$thex" >/dev/null &&
		put_ack "$(eps 1 2 3)" leader/moved "$thex"; then
		pass move-leader
	else
		fail move-leader "asked m$l ($lhex) to hand over to m$target ($thex): $out; leader now: $(leader_of 1 2 3)"
	fi
}

KILLED=""

writer() { # background writer of acknowledged puts: bounded in count and time
	local i deadline=$((SECONDS + 25))
	for i in $(seq 1 150); do
		[ "$SECONDS" -lt "$deadline" ] || break
		timeout 5 "$BIN/etcdctl" --endpoints="$(eps 1 2 3)" --dial-timeout=2s --command-timeout=4s \
			put "load/$i" "value-$i" >/dev/null 2>&1 && echo "load/$i value-$i" >>"$ACKED"
	done
}

check_kill_leader() {
	local l lhex others=() i
	read -r l lhex < <(leader_of 1 2 3) || {
		fail kill-leader "no leader"
		return 1
	}
	for i in 1 2 3; do [ "$i" = "$l" ] || others+=("$i"); done
	writer &
	local wpid=$!
	EXTRA_PIDS+=("$wpid")
	sleep 1.5
	kill -9 "${PIDS[m$l]}"
	wait "${PIDS[m$l]}" 2>/dev/null || true
	PIDS[m$l]=""
	KILLED=$l
	local nl
	if nl=$(wait_until 20 leader_of "${others[@]}") && [ "${nl%% *}" != "$l" ] &&
		put_ack "$(eps "${others[@]}")" leader/after-kill yes; then
		wait "$wpid" 2>/dev/null || true
		pass kill-leader
	else
		wait "$wpid" 2>/dev/null || true
		fail kill-leader "no new leader among m${others[0]}, m${others[1]} within 20 s"
	fi
}

check_restart() {
	local l=$KILLED
	[ -n "$l" ] || {
		fail restart "nothing was killed"
		return
	}
	start_member "$l" new "$(initial_cluster 1 2 3)" || {
		fail restart "could not start m$l"
		return
	}
	if wait_until 30 healthy "$l" >/dev/null 2>&1 && wait_until 10 healthy 1 2 3 >/dev/null 2>&1 &&
		put_ack "$(curl_ep "$l")" leader/restarted "m$l"; then
		pass restart
	else
		fail restart "m$l not healthy within 30 s after restart"
	fi
}

# every acknowledged key has its last acknowledged value, read linearizably
# and from every member's own store.
acked_ok_on() { # ENDPOINT CONSISTENCY
	local dump
	dump=$(ctl "$1" get "" --prefix --consistency="$2" | paste - - | tr '\t' ' ')
	# the last acknowledged value of each key must be present
	awk '{ last[$1] = $0 } END { for (k in last) print last[k] }' "$ACKED" | sort >"$RUN/acked.want"
	echo "$dump" | sort >"$RUN/acked.have"
	[ -z "$(comm -23 "$RUN/acked.want" "$RUN/acked.have")" ]
}

check_acked() {
	local n i bad=""
	n=$(awk '{print $1}' "$ACKED" | sort -u | wc -l)
	acked_ok_on "$(eps 1 2 3)" l || bad+=" linearizable"
	for i in 1 2 3; do
		wait_until 15 acked_ok_on "$(curl_ep "$i")" s >/dev/null 2>&1 || bad+=" m$i"
	done
	if [ -z "$bad" ]; then
		ACKED_COUNT[$B]=$n
		pass acked-keys
	else
		fail acked-keys "missing on:$bad: $(comm -23 "$RUN/acked.want" "$RUN/acked.have" | head -5 | tr '\n' ' ')"
	fi
}

declare -A ACKED_COUNT=()

functional() { # build name
	B=$1
	BIN=$WORK/$B/bin
	RUN=$WORK/$B/run
	rm -rf "$RUN"
	mkdir -p "$RUN"
	ACKED=$RUN/acked
	: >"$ACKED"
	CLUSTER_TOKEN=raftkit-compat-$B
	[ "$B" = stock ] && set_ports 0 || set_ports 20
	local c
	for c in "${CHECK_NAMES[@]}"; do CHECK[$B:$c]="not run"; done
	log "$B: functional checks on $(eps 1 2 3)"
	# Each check is called where a failure does not stop the script (set -e
	# is off inside), and records its own outcome.
	if check_start; then
		check_put_get || true
		check_watch || true
		check_lease || true
		check_lease_expiry || true
		check_txn || true
		if check_learner_add; then
			check_promote || true
			check_remove || true
		else
			stop_member 4 KILL
		fi
		check_move_leader || true
		{ check_kill_leader && check_restart; } || true
		check_acked || true
	fi
	stop_all
}

# -------------------------------------------------------------- benchmark

declare -A BENCH=() # build:round -> "rps avg p50 p90 p99"

bench_once() { # build round
	B=$1
	BIN=$WORK/$B/bin
	RUN=$WORK/$B/bench$2
	rm -rf "$RUN"
	mkdir -p "$RUN"
	CLUSTER_TOKEN=raftkit-bench-$B-$2
	[ "$B" = stock ] && set_ports 0 || set_ports 20
	local ic out
	ic=$(initial_cluster 1 2 3)
	start_member 1 new "$ic" && start_member 2 new "$ic" && start_member 3 new "$ic" &&
		wait_until 30 healthy 1 2 3 >/dev/null 2>&1 || {
		BENCH[$B:$2]="FAIL cluster did not start"
		stop_all
		return
	}
	log "$B: benchmark round $2: $BENCH_TOTAL puts, $BENCH_CLIENTS clients"
	if out=$(timeout 600 "$BIN/benchmark" --endpoints="$(eps 1 2 3)" --conns="$BENCH_CLIENTS" \
		--clients="$BENCH_CLIENTS" put --key-size=8 --sequential-keys --val-size=256 \
		--total="$BENCH_TOTAL" 2>&1); then
		printf '%s\n' "$out" >"$RUN/benchmark.out"
		BENCH[$B:$2]=$(printf '%s\n' "$out" | awk '
			/Requests\/sec:/ { rps = $2 }
			/Average:/ { avg = $2 }
			/ 50% in / { p50 = $3 }
			/ 90% in / { p90 = $3 }
			/ 99% in / { p99 = $3 }
			END { printf "%s %s %s %s %s", rps, avg, p50, p90, p99 }')
	else
		BENCH[$B:$2]="FAIL $(printf '%s\n' "$out" | tail -3 | tr '\n' ' ')"
	fi
	stop_all
}

# ------------------------------------------------------------------ tests

declare -A TESTS=() # build -> "pass fail skip pkgok pkgfail"

run_tests() { # build
	local b=$1 dir=$WORK/$1
	log "$b: go test $TEST_PKGS"
	local t0=$SECONDS
	# shellcheck disable=SC2086
	(cd "$dir" && go test -count=1 -json -timeout 30m $TEST_PKGS >"$dir/test.json" 2>"$dir/test.stderr") || true
	local secs=$((SECONDS - t0))
	# Top-level tests only (subtests are counted with their parent).
	awk '
		/"Action":"(pass|fail|skip)"/ {
			a = $0; sub(/.*"Action":"/, "", a); sub(/".*/, "", a)
			if ($0 ~ /"Test":"/) {
				t = $0; sub(/.*"Test":"/, "", t); sub(/".*/, "", t)
				p = $0; sub(/.*"Package":"/, "", p); sub(/".*/, "", p)
				if (t ~ /\//) next
				print a, p "." t > "/dev/stderr"
				n[a]++
			} else {
				p = $0; sub(/.*"Package":"/, "", p); sub(/".*/, "", p)
				print a, p ".(package)" > "/dev/stderr"
				pk[a]++
			}
		}
		END { printf "%d %d %d %d %d", n["pass"], n["fail"], n["skip"], pk["pass"], pk["fail"] }
	' "$dir/test.json" 2>"$dir/test.results" >"$dir/test.counts"
	TESTS[$b]="$(cat "$dir/test.counts") $secs"
	grep '^fail ' "$dir/test.results" | awk '{print $2}' | sort >"$dir/test.failed" || true
}

# ------------------------------------------------------------------ main

for tool in go timeout awk sed tar comm paste; do
	command -v "$tool" >/dev/null || {
		echo "run.sh needs $tool" >&2
		exit 1
	}
done

pick_versions
make_raft_copy
for b in "${BUILDS[@]}"; do
	log "building etcd $ETCD_VERSION: $b"
	build "$b"
done

for b in "${BUILDS[@]}"; do
	[ "${BUILD_OK[$b]}" = 1 ] && functional "$b"
done

for r in $(seq 1 "$BENCH_ROUNDS"); do
	# ABBA order, so that a drift of the machine's speed cancels out.
	if [ $((r % 2)) = 1 ]; then order=(stock raftkit); else order=(raftkit stock); fi
	for b in "${order[@]}"; do
		[ "${BUILD_OK[$b]}" = 1 ] && bench_once "$b" "$r"
	done
done

if [ "$RUN_TESTS" = 1 ]; then
	for b in "${BUILDS[@]}"; do
		[ "${BUILD_OK[$b]}" = 1 ] && run_tests "$b"
	done
fi

# --------------------------------------------------------------- report

STATUS=0
report() {
	local b c r
	echo "# etcd server on raftkit: compat/etcd/run.sh results"
	echo
	echo "Generated by \`compat/etcd/run.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(go env GOVERSION)), took $(($(date +%s) - START_TS)) s."
	echo "etcd server and etcdctl $ETCD_VERSION; benchmark tool from go.etcd.io/etcd/v3@$BENCH_VERSION (tools/benchmark)."
	local dirty=""
	if [ "$RAFT_SRC" = worktree ] && ! (cd "$REPO" && git diff --quiet HEAD -- '*.go' 'go.mod' 'go.sum' ':!compat' ':!examples' 2>/dev/null); then
		dirty=" plus uncommitted changes of the work tree"
	fi
	echo "raftkit: commit $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty."
	echo
	echo "## Build"
	echo
	echo "| build | result |"
	echo "| --- | --- |"
	for b in "${BUILDS[@]}"; do
		echo "| $b | $([ "${BUILD_OK[$b]}" = 1 ] && echo ok || echo FAILED): ${BUILD_NOTE[$b]} |"
		[ "${BUILD_OK[$b]}" = 1 ] || STATUS=1
	done
	if [ -f "$WORK/raftkit/build-errors.txt" ]; then
		echo
		echo "Compile errors of etcd against raftkit:"
		echo
		echo '```'
		head -80 "$WORK/raftkit/build-errors.txt"
		echo '```'
	fi
	echo
	echo "## Functional checks (3 members on 127.0.0.1, etcdctl)"
	echo
	echo "| check | stock | raftkit |"
	echo "| --- | --- | --- |"
	for c in "${CHECK_NAMES[@]}"; do
		echo "| $c | ${CHECK[stock:$c]:-not run} | ${CHECK[raftkit:$c]:-not run} |"
		for b in "${BUILDS[@]}"; do
			[ "${CHECK[$b:$c]:-not run}" = PASS ] || STATUS=1
		done
	done
	echo
	echo "Acknowledged keys verified at the end: stock ${ACKED_COUNT[stock]:-?}, raftkit ${ACKED_COUNT[raftkit]:-?}."
	echo
	echo "## Benchmark: etcd's \`benchmark put\`, $BENCH_TOTAL puts, $BENCH_CLIENTS clients/conns, 8-byte keys, 256-byte values"
	echo
	echo "Fresh 3-member cluster per run; the builds alternate ABBA over the rounds. Latencies in ms."
	echo
	echo "| build | round | requests/s | avg | p50 | p90 | p99 |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	declare -A sum=()
	for b in "${BUILDS[@]}"; do
		for r in $(seq 1 "$BENCH_ROUNDS"); do
			local v=${BENCH[$b:$r]:-FAIL not run}
			if [ "${v%% *}" = FAIL ]; then
				echo "| $b | $r | $v | | | | |"
				STATUS=1
				continue
			fi
			echo "$v" | awk -v b="$b" -v r="$r" '{ printf "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f |\n", b, r, $1, $2*1000, $3*1000, $4*1000, $5*1000 }'
			sum[$b]+="$v"$'\n'
		done
	done
	for b in "${BUILDS[@]}"; do
		[ -n "${sum[$b]:-}" ] || continue
		printf '%s' "${sum[$b]}" | awk -v b="$b" 'NF == 5 { n++; for (i = 1; i <= 5; i++) s[i] += $i }
			END { if (n) printf "| **%s** | mean | **%.0f** | %.2f | %.2f | %.2f | %.2f |\n", b, s[1]/n, s[2]/n*1000, s[3]/n*1000, s[4]/n*1000, s[5]/n*1000 }'
	done
	if [ -n "${sum[stock]:-}" ] && [ -n "${sum[raftkit]:-}" ]; then
		local rs rk
		rs=$(printf '%s' "${sum[stock]}" | awk 'NF == 5 { n++; s += $1 } END { print s / n }')
		rk=$(printf '%s' "${sum[raftkit]}" | awk 'NF == 5 { n++; s += $1 } END { print s / n }')
		echo
		awk -v s="$rs" -v k="$rk" 'BEGIN { printf "raftkit/stock requests/s, means: %.2f\n", k / s }'
		# The machine's speed drifts between rounds (fsync-bound puts on a
		# shared disk), so the ratio of each round's neighbours counts too.
		local ratios=""
		for r in $(seq 1 "$BENCH_ROUNDS"); do
			local a=${BENCH[stock:$r]%% *} k=${BENCH[raftkit:$r]%% *}
			[ "$a" != FAIL ] && [ "$k" != FAIL ] || continue
			ratios+="$(awk -v s="$a" -v k="$k" 'BEGIN { printf "%.2f", k / s }') "
		done
		echo
		echo "raftkit/stock requests/s per round: $ratios(median $(echo "$ratios" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'))."
	fi
	if [ "$RUN_TESTS" = 1 ]; then
		echo
		echo "## etcd's own tests (\`go test -count=1\`)"
		echo
		echo "Packages: $TEST_PKGS"
		echo
		echo "| build | tests passed | failed | skipped | packages ok | packages failed | seconds |"
		echo "| --- | --- | --- | --- | --- | --- | --- |"
		for b in "${BUILDS[@]}"; do
			[ -n "${TESTS[$b]:-}" ] || {
				echo "| $b | not run | | | | | |"
				continue
			}
			echo "${TESTS[$b]}" | awk -v b="$b" '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", b, $1, $2, $3, $4, $5, $6 }'
		done
		echo
		echo "Top-level tests counted; subtests count with their parent."
		for b in "${BUILDS[@]}"; do
			if [ -s "$WORK/$b/test.failed" ]; then
				echo
				echo "Failed on $b: $(tr '\n' ' ' <"$WORK/$b/test.failed")"
			fi
		done
		if [ -s "$WORK/only-raftkit" ]; then
			echo
			echo "**Failing on raftkit only** (then rerun $RERUNS times on each build; a test is a raftkit bug when its reruns fail on raftkit and all pass on stock):"
			echo
			echo "| test | raftkit reruns passed | stock reruns passed | verdict |"
			echo "| --- | --- | --- | --- |"
			local t rk st verdict
			while read -r t rk st verdict; do
				echo "| $t | $rk | $st | $verdict |"
				[ "$verdict" = flaky ] || STATUS=1
			done <"$WORK/only-raftkit"
			echo
			echo "Output on raftkit of the first run (last lines):"
			echo
			echo '```'
			while read -r t _; do
				local pkg=${t%.*} name=${t##*.}
				echo "=== $t"
				if [ "$name" = "(package)" ]; then
					grep -F "\"Package\":\"$pkg\"" "$WORK/raftkit/test.json" | grep -v '"Test":"' |
						grep -E '"Action":"(output|build-output)"' | json_output | tail -40
				else
					grep -F "\"Package\":\"$pkg\"" "$WORK/raftkit/test.json" | grep -F "\"Test\":\"$name" |
						grep '"Action":"output"' | json_output | tail -40
				fi
			done <"$WORK/only-raftkit"
			echo '```'
		fi
	fi
}

json_output() { # the Output fields of go test -json lines, unescaped enough to read
	sed 's/.*"Output":"//; s/"[,}].*$//; s/\\n$//; s/\\t/\t/g; s/\\"/"/g'
}

# rerun_only_raftkit writes $WORK/only-raftkit: each test (or package) that
# failed on raftkit and not on stock, with its rerun outcomes on both builds.
RERUNS=${RERUNS:-3}
rerun_only_raftkit() {
	: >"$WORK/only-raftkit"
	[ -f "$WORK/raftkit/test.failed" ] && [ -f "$WORK/stock/test.failed" ] || return 0
	local t pkg name b rk st verdict
	for t in $(comm -23 "$WORK/raftkit/test.failed" "$WORK/stock/test.failed"); do
		pkg=${t%.*}
		name=${t##*.}
		if [ "$name" = "(package)" ]; then
			# A package fails with any of its tests; only a package failure
			# without a failing test (a build error, a crash) is reported.
			has "^${pkg//./\\.}\.Test" "$WORK/raftkit/test.failed" && continue
			echo "$t - - package-failure" >>"$WORK/only-raftkit"
			continue
		fi
		for b in raftkit stock; do
			log "$b: rerun $t x$RERUNS"
			(cd "$WORK/$b" && go test -count="$RERUNS" -json -timeout 10m -run "^${name}\$" "$pkg" >"$WORK/$b/rerun.json" 2>&1) || true
			local n
			n=$(grep '"Action":"pass"' "$WORK/$b/rerun.json" | grep -cF "\"Test\":\"$name\"" || true)
			[ "$b" = raftkit ] && rk=$n || st=$n
		done
		if [ "$rk" = "$RERUNS" ]; then
			verdict=flaky
		elif [ "$st" = "$RERUNS" ]; then
			verdict=RAFTKIT-BUG
		else
			verdict=flaky-on-both
		fi
		echo "$t $rk/$RERUNS $st/$RERUNS $verdict" >>"$WORK/only-raftkit"
	done
}

if [ "$RUN_TESTS" = 1 ]; then rerun_only_raftkit; fi
report >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
echo
echo "run.sh: $([ "$STATUS" = 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - START_TS)) s; results in ${RESULTS#"$REPO"/}"
exit "$STATUS"
