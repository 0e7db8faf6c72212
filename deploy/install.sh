#!/bin/sh
# Installs the edge on a Debian host: binaries from bin/ (run `make build`
# first), dedicated users, configuration skeletons (never overwriting what an
# operator has edited), systemd units and the database backup timer.
#
#   sudo deploy/install.sh            # install or upgrade
#   sudo deploy/install.sh --dry-run  # print what would be done
set -eu
# Nothing this script writes is ever readable by others unless its mode says
# so: every file gets its final mode and group as install(1) creates it.
umask 077
cd "$(dirname "$0")/.."

run=
[ "${1:-}" = "--dry-run" ] && run=echo

need() { [ -e "$1" ] || { echo "install.sh: $1 missing (run make build)" >&2; exit 1; }; }
need bin/caddy
need bin/coredns

# Dedicated system users without a shell or home.
for u in caddy coredns; do
	id "$u" >/dev/null 2>&1 || $run useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
done

# Keep the previous binaries for roll-back (docs/RUNBOOK.md).
for b in caddy coredns; do
	[ -e /usr/local/bin/$b ] && $run cp -p /usr/local/bin/$b /usr/local/bin/$b.previous
	$run install -m 0755 bin/$b /usr/local/bin/$b
done
$run install -d -m 0755 /usr/local/lib/edge /usr/local/share/doc/edge
$run install -m 0755 deploy/mcns-backup.sh /usr/local/lib/edge/mcns-backup.sh
$run install -m 0755 deploy/caddy-bot-ranges.sh /usr/local/lib/edge/caddy-bot-ranges.sh
$run install -m 0644 docs/RUNBOOK.md /usr/local/share/doc/edge/RUNBOOK.md

# Configuration: installed once, then the operator's.
$run install -d -m 0755 /etc/caddy /etc/coredns /etc/coredns/zones
$run install -d -m 0750 -o coredns -g coredns /var/backups/mcns
conf() { # conf SRC DST MODE GROUP
	if [ -e "$2" ]; then echo "install.sh: keeping $2"; else $run install -m "$3" -g "$4" "$1" "$2"; fi
}
conf Caddyfile.example /etc/caddy/Caddyfile 0644 root
conf Corefile.example /etc/coredns/Corefile 0644 root
conf deploy/coredns.env /etc/coredns/coredns.env 0640 coredns
# The API's tokens file, empty until the first token is minted (runbook).
conf /dev/null /etc/coredns/api-tokens 0640 coredns
for z in examples/zones/*.zone; do conf "$z" "/etc/coredns/zones/$(basename "$z")" 0644 root; done

for u in caddy.service coredns.service mcns-backup.service mcns-backup.timer caddy-bot-ranges.service caddy-bot-ranges.timer; do
	$run install -m 0644 "deploy/$u" "/etc/systemd/system/$u"
done
$run systemctl daemon-reload
$run systemctl enable coredns.service caddy.service mcns-backup.timer caddy-bot-ranges.timer
echo "install.sh: done; edit /etc/caddy/Caddyfile and /etc/coredns/coredns.env, then see the runbook's First start"
