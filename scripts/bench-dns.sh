#!/usr/bin/env bash
# DNS benchmark of mcns against CoreDNS's file plugin, on the same data,
# with dnsperf over loopback. For each zone size it:
#   1. generates a zone of N names (A, AAAA, CNAME, MX, TXT) and a query
#      file mixing existing names, NXDOMAIN and NODATA (cmd/benchzone);
#   2. seeds an mcns database from that zone (`mcns DB { seed FILE }`);
#   3. starts bin/coredns with mcns only, then with file only, and reports
#      the time from start to `ready` answering 200, mcns's rebuild seconds
#      (coredns_mcns_rebuild_duration_seconds) and the process RSS;
#   4. starts ONE bin/coredns with two server blocks for the same zone, one
#      served by file and one by mcns, checks that both give the same
#      answers, then runs dnsperf against them alternately (file, mcns,
#      file, mcns) and prints QPS of each and the ratio mcns/file;
#   5. starts ONE bin/coredns with two blocks serving the zone from mcns,
#      the second with the rrl plugin in front (rates far above what
#      dnsperf sends, so rrl accounts for every response and limits none),
#      runs dnsperf against them alternately and prints QPS of each and the
#      ratio rrl/plain (the cost of rate limiting), checking that rrl
#      dropped or truncated nothing;
#   6. starts bin/coredns with mcns and its management API and runs
#      dnsperf in 5 s rounds, alone and while 8 API clients post 200 A
#      records/s in total (cmd/benchzone writes), in the order alone,
#      writes, writes, alone, ... until the writes have run
#      BENCH_DNS_WRITE_SECONDS; it prints QPS with writes / QPS without
#      (ratio of the sums, and the lowest and highest of the pairs), the
#      count of writes not answered 2xx and of 2xx writes the first DNS
#      query after the answer did not see (both must be 0).
#      The same rounds follow with the clients sending authenticated GETs
#      of the zone instead, each checked with a DNS query for its SOA:
#      that ratio is what the API's HTTP path and the checks cost the
#      queries by themselves, the part of the first one not due to writing.
#      Both print the queries each request displaces (QPS lost / rate).
# Usage: scripts/bench-dns.sh   (EDGE_BIN_DIR selects the binaries, default
# ./bin; GO the go command; BENCH_DNS_SIZES and BENCH_DNS_SECONDS override
# "1000 100000" and 10; BENCH_DNS_WRITE_SECONDS the seconds of writes, default 30).
# Without dnsperf it prints why and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${EDGE_BIN_DIR:-$PWD/bin}
coredns=$bin/coredns
sizes=${BENCH_DNS_SIZES:-1000 100000}
seconds=${BENCH_DNS_SECONDS:-10}
write_seconds=${BENCH_DNS_WRITE_SECONDS:-30}
zone=bench.test

if ! command -v dnsperf >/dev/null 2>&1; then
	echo "bench-dns: dnsperf is not installed; skipping the DNS benchmark (apt-get install dnsperf)"
	exit 0
fi
for tool in curl awk; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench-dns: $tool is required" >&2; exit 1; }
done
[ -x "$coredns" ] || { echo "bench-dns: $coredns not found; run make coredns or set EDGE_BIN_DIR" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-dns.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
"${GO:-go}" build -o "$work/benchzone" ./cmd/benchzone

# start CONF: runs coredns on the Corefile CONF in the background; sets pid
# and started (the start time in seconds, as a decimal).
start() {
	started=$EPOCHREALTIME
	"$coredns" -conf "$1" >"$1.log" 2>&1 &
	pid=$!
}

# wait_ready PORT: waits for the ready plugin on PORT to answer 200 and sets
# ready_after to the seconds since start.
wait_ready() {
	local deadline=$((SECONDS + 300))
	until curl -fso /dev/null "http://127.0.0.1:$1/ready"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench-dns: coredns exited; its log:" >&2
			cat "$conf.log" >&2
			exit 1
		fi
		if [ $SECONDS -gt $deadline ]; then
			echo "bench-dns: coredns not ready after 300s" >&2
			exit 1
		fi
		sleep 0.01
	done
	ready_after=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

# rss: the running coredns's resident and peak memory, in MiB.
rss() {
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "RSS %.0f MiB (peak %.0f MiB)", r / 1024, h / 1024 }' "/proc/$pid/status"
}

# metric NAME PORT: a metric's value from the prometheus endpoint.
metric() {
	curl -fs "http://127.0.0.1:$2/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# qps PORT: one dnsperf run against PORT; prints its queries per second.
qps() {
	local out
	out=$(dnsperf -s 127.0.0.1 -p "$1" -d "$queries" -l "$seconds" -c 4 2>&1) || {
		echo "bench-dns: dnsperf failed: $out" >&2
		exit 1
	}
	awk '/Queries lost:/ && $3 + 0 > 0 { print "bench-dns: warning: " $0 > "/dev/stderr" }
		/Queries per second:/ { printf "%.0f", $4 }' <<<"$out"
}

read -r port_a port_b port_ready port_metrics port_api < <("$work/benchzone" ports -n 5 | xargs)
# The API token of the sustained-write run (admin role, loopback only).
token=bench-dns-write-token-0123456789abcdefghij
"$work/benchzone" tokens -token "$token" -out "$work/tokens"

# sustained KIND: dnsperf in 5 s rounds against port_a, alone and while 8
# API clients send api_rate requests/s in total (KIND writes: A records
# posted; reads: GETs of the zone, the control that shows what the HTTP
# path and the DNS checks cost apart from the writes), until write_seconds
# of them have run; prints the requests' outcome, QPS with / without and
# the queries each request displaces. A failed request sets api_rc.
#
# Back-to-back 5 s dnsperf runs without writes differ here by up to a
# quarter at the same CPU use: one run with writes between two without
# cannot tell 0.85 from 0.9. Short rounds in the order ABBA cancel a
# drift, and the ratio of the sums averages the rest.
api_rc=0 api_rate=200
sustained() {
	local kind=$1 flags= rounds i step writer
	[ "$kind" = reads ] && flags=-read
	seconds=5 qps "$port_a" >/dev/null
	: >"$work/$kind.out"
	rounds=$(( (write_seconds + 4) / 5 ))
	local alone=() with=()
	for ((i = 0; i < rounds; i++)); do
		for step in $( ((i % 2)) && echo "w a" || echo "a w"); do
			if [ "$step" = a ]; then
				alone+=("$(seconds=5 qps "$port_a")")
				continue
			fi
			# The client runs on one P: a client idling between 200
			# requests a second on every core spends more CPU waking
			# up than sending, taken from the server under test.
			GOMAXPROCS=1 "$work/benchzone" writes $flags -api "http://127.0.0.1:$port_api" -token "$token" -zone "$zone" \
				-dns "127.0.0.1:$port_a" -rate "$api_rate" -clients 8 -duration 5s >>"$work/$kind.out" 2>&1 &
			writer=$!
			with+=("$(seconds=5 qps "$port_a")")
			wait "$writer" || api_rc=1
		done
	done
	awk -v kind="$kind" '$1 == kind ":" { ok += $2; failed += $4; unseen += $7
			for (i = 1; i < NF; i++) if ($i == "p99") { p = $(i + 1) + 0; if (p > p99) p99 = p }
			n++ }
		END { printf "%s: %d ok, %d not 2xx, %d of the ok not seen by the first DNS query after the 2xx, in %d runs of 5 s (highest p99 %.1f ms)\n", kind, ok, failed, unseen, n, p99 }' "$work/$kind.out"
	awk -v kind="$kind" -v rate="$api_rate" -v a="${alone[*]}" -v w="${with[*]}" 'BEGIN {
		n = split(a, qa, " "); split(w, qw, " ")
		lo = 1e9; hi = 0
		for (i = 1; i <= n; i++) { sa += qa[i]; sw += qw[i]; r = qw[i] / qa[i]; if (r < lo) lo = r; if (r > hi) hi = r }
		printf "QPS without API requests %d, with %d API %s/s %d (%d rounds of 5 s each): with/without %.3f (pairs %.3f to %.3f); each request displaces %.0f queries\n", sa / n, rate, kind, sw / n, n, sw / sa, lo, hi, (sa - sw) / n / rate
	}'
}

for n in $sizes; do
	echo "== $n names"
	zonefile=$work/$n.zone queries=$work/$n.queries db=$work/$n.db
	"$work/benchzone" gen -n "$n" -zone "$zone." -zonefile "$zonefile" -queries "$queries"

	conf=$work/$n-seed.Corefile
	cat >"$conf" <<-EOF
		$zone:$port_a {
		    bind 127.0.0.1
		    mcns $db {
		        seed $zonefile
		    }
		    ready 127.0.0.1:$port_ready
		}
	EOF
	start "$conf"
	wait_ready "$port_ready"
	echo "mcns seed + first load: ${ready_after}s"
	stop

	conf=$work/$n-mcns.Corefile
	cat >"$conf" <<-EOF
		$zone:$port_a {
		    bind 127.0.0.1
		    mcns $db
		    ready 127.0.0.1:$port_ready
		    prometheus 127.0.0.1:$port_metrics
		}
	EOF
	start "$conf"
	wait_ready "$port_ready"
	sleep 1
	echo "mcns only: start to ready ${ready_after}s, zone rebuild $(metric coredns_mcns_rebuild_duration_seconds_sum "$port_metrics")s, $(rss)"
	stop

	conf=$work/$n-file.Corefile
	cat >"$conf" <<-EOF
		$zone:$port_a {
		    bind 127.0.0.1
		    file $zonefile $zone
		    ready 127.0.0.1:$port_ready
		    prometheus 127.0.0.1:$port_metrics
		}
	EOF
	start "$conf"
	wait_ready "$port_ready"
	sleep 1
	echo "file only: start to ready ${ready_after}s, $(rss)"
	stop

	# One process, two blocks: the same load on the same runtime for both.
	conf=$work/$n-both.Corefile
	cat >"$conf" <<-EOF
		$zone:$port_a {
		    bind 127.0.0.1
		    file $zonefile $zone
		}
		$zone:$port_b {
		    bind 127.0.0.1
		    mcns $db
		    ready 127.0.0.1:$port_ready
		}
	EOF
	start "$conf"
	wait_ready "$port_ready"
	echo -n "answers, file vs mcns: "
	"$work/benchzone" compare -a "127.0.0.1:$port_a" -b "127.0.0.1:$port_b" -queries "$queries" -n 2000
	f1=$(qps "$port_a"); m1=$(qps "$port_b"); f2=$(qps "$port_a"); m2=$(qps "$port_b")
	stop
	awk -v n="$n" -v f1="$f1" -v f2="$f2" -v m1="$m1" -v m2="$m2" 'BEGIN {
		f = (f1 + f2) / 2; m = (m1 + m2) / 2
		printf "QPS file %d (%d, %d), mcns %d (%d, %d): mcns/file %.3f\n", f, f1, f2, m, m1, m2, m / f
	}'

	# The same data with and without rrl, again in one process; both blocks
	# have prometheus (as production does), so they differ by rrl alone.
	conf=$work/$n-rrl.Corefile
	cat >"$conf" <<-EOF
		$zone:$port_a {
		    bind 127.0.0.1
		    mcns $db
		    prometheus 127.0.0.1:$port_metrics
		}
		$zone:$port_b {
		    bind 127.0.0.1
		    rrl {
		        responses-per-second 1000000
		    }
		    mcns $db
		    ready 127.0.0.1:$port_ready
		    prometheus 127.0.0.1:$port_metrics
		}
	EOF
	start "$conf"
	wait_ready "$port_ready"
	p1=$(qps "$port_a"); r1=$(qps "$port_b"); p2=$(qps "$port_a"); r2=$(qps "$port_b")
	limited=$(curl -fs "http://127.0.0.1:$port_metrics/metrics" |
		awk '/^coredns_rrl_responses_(dropped|slipped)_total/ { s += $2 } END { printf "%d", s }')
	stop
	if [ "$limited" != 0 ]; then
		echo "bench-dns: warning: rrl limited $limited responses; the rrl figures are not comparable" >&2
	fi
	awk -v p1="$p1" -v p2="$p2" -v r1="$r1" -v r2="$r2" 'BEGIN {
		p = (p1 + p2) / 2; r = (r1 + r2) / 2
		printf "QPS mcns %d (%d, %d), rrl+mcns %d (%d, %d): rrl/plain %.3f\n", p, p1, p2, r, r1, r2, r / p
	}'

	# Sustained API writes while dnsperf queries the same zone.
	conf=$work/$n-writes.Corefile
	cat >"$conf" <<-EOF
		$zone:$port_a {
		    bind 127.0.0.1
		    mcns $db {
		        allow_zones $zone
		        api 127.0.0.1:$port_api {
		            insecure_plaintext
		            tokens $work/tokens
		        }
		    }
		    ready 127.0.0.1:$port_ready
		}
	EOF
	start "$conf"
	wait_ready "$port_ready"
	sustained writes
	sustained reads
	stop
	if [ "$api_rc" != 0 ]; then
		echo "bench-dns: sustained API requests failed (non-2xx or a change not seen at once)" >&2
		exit 1
	fi
done
