#!/usr/bin/env bash
# Starts the demo backend, bin/coredns with Corefile.example and bin/caddy
# with Caddyfile.example on high ports, as an unprivileged local demo. All
# state lives under _run/. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=${RUN_DIR:-$root/_run}
mkdir -p "$run"

bin=${EDGE_BIN_DIR:-$root/bin}
"$bin"/devca -dir "$run/pki" -cert backend=localhost,127.0.0.1 -cert api=localhost,127.0.0.1

# A demo GeoIP database: loopback clients are in "US" (not blocked).
"$bin"/geoipgen -o "$run/GeoLite2-Country.mmdb" 127.0.0.0/8=US ::1/128=US

# An admin token for the management API, minted once, and a TSIG key for
# nsupdate: created owner-only from the first byte (umask in a subshell).
if [ ! -s "$run/api-token" ]; then
	minted=$("$bin"/mcns-token -name demo -roles admin)
	(
		umask 077
		sed -n 's/^token: //p' <<<"$minted" >"$run/api-token"
		sed -n 's/^tokens file line: //p' <<<"$minted" >"$run/api-tokens"
	)
fi
if [ ! -s "$run/tsig.keys" ]; then
	(
		umask 077
		printf 'key "update.mcp.metacircular.net." {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
			"$(head -c 32 /dev/urandom | base64)" >"$run/tsig.keys"
	)
fi

# Corefile.example's placeholders, set for a local run.
export DNS_PORT=${DNS_PORT:-1053}
export DNS_BIND=127.0.0.1
export HEALTH_ADDR=127.0.0.1:${HEALTH_PORT:-18080}
export READY_ADDR=127.0.0.1:${READY_PORT:-18181}
export METRICS_ADDR=127.0.0.1:${METRICS_PORT:-19153}
export MCNS_DB=$run/mcns.db
export ZONES_DIR=$root/examples/zones
export API_ADDR=127.0.0.1:${API_PORT:-8444}
export API_CERT=$run/pki/api.pem API_KEY=$run/pki/api-key.pem
export API_TOKENS=$run/api-tokens API_SNAPSHOTS=$run/snapshots
export TSIG_KEYS=$run/tsig.keys TSIG_UPDATE_KEY=update.mcp.metacircular.net.
# No secondary runs here: "*" lets any client of this loopback-only server
# transfer the zones (dig ... AXFR below) and, unlike an address, sends no
# NOTIFY, so changes log no warnings about a secondary that isn't there.
export SECONDARY='*'
# No network here: outside names go to a loopback address nobody serves,
# so they get SERVFAIL; in production these are public resolvers.
export UPSTREAM_A=127.0.0.1:1054 UPSTREAM_B=127.0.0.1:1055
export ALLOW_ZONES=mcp.metacircular.net RECURSION_ALLOW='127.0.0.0/8 ::1/128'

# Caddyfile.example's placeholders.
export CADDY_ADMIN=localhost:${CADDY_ADMIN_PORT:-2019}
export CADDY_METRICS=127.0.0.1:${CADDY_METRICS_PORT:-19180}
export HTTP_PORT=${HTTP_PORT:-8080} HTTPS_PORT=${HTTPS_PORT:-8443}
export SITE_ADDRESS=https://localhost:$HTTPS_PORT
export SITE_TLS="tls internal"
# No changes to the system's trust store, and loopback only.
export CADDY_EXTRA_GLOBAL=$'skip_install_trust\ndefault_bind 127.0.0.1'
backend_addr=127.0.0.1:${BACKEND_PORT:-18443}
export BACKEND=https://$backend_addr
export BACKEND_CA=$run/pki/ca.pem
export BACKEND_SERVER_NAME=localhost
export GEOIP_DB=$run/GeoLite2-Country.mmdb
# Caddy keeps its certificates and autosaved config here, not in $HOME.
export XDG_DATA_HOME=$run/caddy-data XDG_CONFIG_HOME=$run/caddy-config

pids=()
stop() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

"$bin"/demobackend -addr "$backend_addr" -cert "$run/pki/backend.pem" -key "$run/pki/backend-key.pem" &
pids+=($!)
"$bin"/coredns -conf Corefile.example &
pids+=($!)
"$bin"/caddy run --config Caddyfile.example --adapter caddyfile &
pids+=($!)

cat <<MSG

  DNS:   dig @127.0.0.1 -p $DNS_PORT rift.mcp.metacircular.net
         dig @127.0.0.1 -p $DNS_PORT mcp.metacircular.net AXFR
         nsupdate -k $run/tsig.keys   (server 127.0.0.1 $DNS_PORT)
  API:   curl --cacert $run/pki/ca.pem https://localhost:${API_ADDR##*:}/v1/zones \\
           -H "Authorization: Bearer \$(cat $run/api-token)"
  HTTPS: curl --cacert $run/caddy-data/caddy/pki/authorities/local/root.crt $SITE_ADDRESS/
         (or curl -k $SITE_ADDRESS/)
  Ctrl-C stops all.

MSG
# Exit (and stop the rest) as soon as any one of them exits.
wait -n
