#!/usr/bin/env bash
# HTTP benchmark of geofilter's rate limit with the shared Redis store
# against the in-process limiter, with wrk over loopback. It:
#   1. starts a redis-server of its own (a free loopback port, its own
#      directory, no persistence);
#   2. starts ONE bin/caddy with two plain-HTTP loopback sites answering a
#      static `respond`, both behind geofilter with a rate limit far above
#      what wrk sends (so every request is counted and none is refused):
#      one with the in-process limiter, one with `store redis` pointing at
#      that redis-server;
#   3. checks that both sites answer 200 and that the store site's counter
#      is in Redis, then runs wrk against them alternately (in process,
#      store, in process, store) and prints requests per second of each,
#      the ratio store/in-process and the p50/p99 latencies, PASS or FAIL
#      against the target ratio (0.8), and what one script call cost
#      redis-server (usec_per_call of EVALSHA in INFO commandstats). Any
#      non-2xx answer, or a store that became unreachable, is an error;
#   4. with taskset and at least two CPUs, does it all again on fresh
#      servers, pinned: redis-server on CPU 0, caddy and wrk on the other
#      CPUs, for both sites alike, and prints those figures too.
# Unpinned, redis-server, caddy and wrk share every CPU, so the store's
# figures also pay for Redis's own CPU time, taken from caddy and wrk.
# Pinned, they pay for the store's latency but not for its CPU: the ratio
# is what the store costs caddy per request. Each pass measures its own
# in-process baseline in the same run.
# The figures are printed only: the script exits 0 unless something failed
# to start or answered wrongly.
# Usage: scripts/bench-caddy.sh   (EDGE_BIN_DIR selects the binaries,
# default ./bin; GO the go command; BENCH_CADDY_SECONDS the length of each
# wrk run, default 10; BENCH_CADDY_CONNECTIONS wrk's connections, default
# 32; BENCH_CADDY_TARGET the ratio to reach, default 0.8;
# BENCH_CADDY_STORE_TIMEOUT the store's timeout, default 1s, since on a
# machine as loaded as this a scheduling stall can outlast the 50ms
# default and the store would be skipped for a while; BENCH_CADDY_PIN=0
# skips the pinned pass).
# Without wrk or redis-server it prints why and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${EDGE_BIN_DIR:-$PWD/bin}
caddy=$bin/caddy
seconds=${BENCH_CADDY_SECONDS:-10}
connections=${BENCH_CADDY_CONNECTIONS:-32}
target=${BENCH_CADDY_TARGET:-0.8}
store_timeout=${BENCH_CADDY_STORE_TIMEOUT:-1s}

for tool in wrk redis-server; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench-caddy: $tool is not installed; skipping the HTTP benchmark (apt-get install wrk redis-server)"
		exit 0
	fi
done
for tool in curl awk redis-cli; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench-caddy: $tool is required" >&2; exit 1; }
done
[ -x "$caddy" ] || { echo "bench-caddy: $caddy not found; run make caddy or set EDGE_BIN_DIR" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-caddy.XXXXXX")
caddy_pid= redis_pid=
# stop: stops the caddy and redis-server this script started.
stop() {
	for p in $caddy_pid $redis_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	caddy_pid= redis_pid=
}
cleanup() {
	stop
	rm -rf "$work"
}
trap cleanup EXIT
"${GO:-go}" build -o "$work/benchzone" ./cmd/benchzone
read -r port_inproc port_store port_redis < <("$work/benchzone" ports -n 3 | xargs)

# fail MESSAGE LOG: prints MESSAGE and the log, and exits 1.
fail() {
	echo "bench-caddy: $1; the log:" >&2
	cat "$2" >&2
	exit 1
}

# pinned CPUS CMD...: becomes CMD on CPUS (a taskset list), or anywhere
# when CPUS is empty. It execs, so that $! is CMD's own pid: call it only
# in a subshell (with & or in $(...)).
pinned() {
	local cpus=$1
	shift
	if [ -n "$cpus" ]; then
		exec taskset -c "$cpus" "$@"
	fi
	exec "$@"
}

# The limit (10,000,000 per 10 s, i.e. 1,000,000 requests/s for the one
# client wrk is) is never reached, so both sites count every request and
# refuse none; the zones keep the two counts apart.
conf=$work/Caddyfile
cat >"$conf" <<-EOF
	{
		admin off
		auto_https off
		persist_config off
		storage file_system $work/data
	}
	http://127.0.0.1:$port_inproc {
		geofilter {
			rate_limit 10000000 10s
			rate_limit_zone bench-inproc
		}
		respond "ok"
	}
	http://127.0.0.1:$port_store {
		geofilter {
			rate_limit 10000000 10s
			rate_limit_zone bench-store
			store redis redis://127.0.0.1:$port_redis/0 {
				prefix bench:
				timeout $store_timeout
			}
		}
		respond "ok"
	}
EOF

# start_redis CPUS: starts a fresh redis-server on CPUS and waits for it.
start_redis() {
	rm -rf "$work/redis"
	mkdir "$work/redis"
	pinned "$1" redis-server --port "$port_redis" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$work/redis" >"$work/redis.log" 2>&1 &
	redis_pid=$!
	local deadline=$((SECONDS + 10))
	until redis-cli -p "$port_redis" ping >/dev/null 2>&1; do
		kill -0 "$redis_pid" 2>/dev/null || fail "redis-server exited" "$work/redis.log"
		[ $SECONDS -le $deadline ] || fail "redis-server not up after 10s" "$work/redis.log"
		sleep 0.05
	done
}

# start_caddy CPUS: starts caddy on CPUS and waits until both sites
# answer 200 and the store site's counter is in Redis.
start_caddy() {
	HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data \
		pinned "$1" "$caddy" run --adapter caddyfile --config "$conf" >"$work/caddy.log" 2>&1 &
	caddy_pid=$!
	local port deadline=$((SECONDS + 30))
	for port in "$port_inproc" "$port_store"; do
		until [ "$(curl -so /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)" = 200 ]; do
			kill -0 "$caddy_pid" 2>/dev/null || fail "caddy exited" "$work/caddy.log"
			[ $SECONDS -le $deadline ] || fail "caddy not answering 200 on port $port after 30s" "$work/caddy.log"
			sleep 0.05
		done
	done
	local keys
	keys=$(redis-cli -p "$port_redis" --scan --pattern 'bench:*' | wc -l)
	[ "$keys" -gt 0 ] || fail "no bench:* key in redis after a request to the store site" "$work/caddy.log"
}

# run PORT CPUS: one wrk run (on CPUS) against PORT; prints "RPS P50_MS
# P99_MS".
run() {
	local out
	out=$(pinned "$2" wrk -t 2 -c "$connections" -d "${seconds}s" --latency "http://127.0.0.1:$1/" 2>&1) || {
		echo "bench-caddy: wrk failed: $out" >&2
		exit 1
	}
	if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
		echo "bench-caddy: wrk saw errors against port $1:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk '
		function ms(v) {
			if (v ~ /us$/) return v / 1000
			if (v ~ /ms$/) return v + 0
			if (v ~ /m$/) return v * 60000
			if (v ~ /s$/) return v * 1000
			return v
		}
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/^Requests\/sec:/ { rps = $2 }
		END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' <<<"$out"
}

# pass TITLE REDIS_CPUS CADDY_CPUS: the runs against fresh servers, redis
# on REDIS_CPUS, caddy and wrk on CADDY_CPUS (anywhere when empty), and
# their figures.
pass() {
	local out i1 i2 s1 s2 ip50_1 ip50_2 ip99_1 ip99_2 sp50_1 sp50_2 sp99_1 sp99_2 usec
	stop
	start_redis "$2"
	start_caddy "$3"
	redis-cli -p "$port_redis" config resetstat >/dev/null
	echo "== geofilter rate_limit: in process vs store redis, $1 (wrk, $connections connections, ${seconds}s per run)"
	out=$(run "$port_inproc" "$3"); read -r i1 ip50_1 ip99_1 <<<"$out"
	out=$(run "$port_store" "$3"); read -r s1 sp50_1 sp99_1 <<<"$out"
	out=$(run "$port_inproc" "$3"); read -r i2 ip50_2 ip99_2 <<<"$out"
	out=$(run "$port_store" "$3"); read -r s2 sp50_2 sp99_2 <<<"$out"
	if grep -q 'store unreachable' "$work/caddy.log"; then
		fail "the store became unreachable during the runs (the store figures are not the store's)" "$work/caddy.log"
	fi
	usec=$(redis-cli -p "$port_redis" info commandstats | awk -F'[=,]' '/^cmdstat_evalsha:/ { print $6 }')
	awk -v i1="$i1" -v i2="$i2" -v s1="$s1" -v s2="$s2" -v target="$target" -v usec="${usec:-?}" \
		-v ip50_1="$ip50_1" -v ip50_2="$ip50_2" -v ip99_1="$ip99_1" -v ip99_2="$ip99_2" \
		-v sp50_1="$sp50_1" -v sp50_2="$sp50_2" -v sp99_1="$sp99_1" -v sp99_2="$sp99_2" 'BEGIN {
		i = (i1 + i2) / 2; s = (s1 + s2) / 2; r = s / i
		printf "RPS in process %d (%d, %d), p50 %.3f/%.3f ms, p99 %.3f/%.3f ms\n", i, i1, i2, ip50_1, ip50_2, ip99_1, ip99_2
		printf "RPS store redis %d (%d, %d), p50 %.3f/%.3f ms, p99 %.3f/%.3f ms\n", s, s1, s2, sp50_1, sp50_2, sp99_1, sp99_2
		printf "redis-server: %s usec per script call (EVALSHA)\n", usec
		printf "store/in-process %.3f: %s (target >= %s)\n", r, (r >= target ? "PASS" : "FAIL"), target
	}'
}

pass "unpinned" "" ""
cpus=$(nproc 2>/dev/null || echo 1)
if [ "${BENCH_CADDY_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1 && [ "$cpus" -ge 2 ]; then
	pass "pinned: redis-server on CPU 0, caddy and wrk on CPU 1-$((cpus - 1))" 0 "1-$((cpus - 1))"
fi
