#!/bin/sh
# Online, consistent snapshot of the mcns database while CoreDNS serves it:
# VACUUM INTO reads one transaction's view, so writers are never blocked for
# long and the copy is never torn. Keeps the newest MCNS_BACKUP_KEEP copies.
set -eu
db=${MCNS_DB:?MCNS_DB is not set}
dir=${MCNS_BACKUP_DIR:-/var/backups/mcns}
keep=${MCNS_BACKUP_KEEP:-28}

mkdir -p "$dir"
out=$dir/mcns-$(date -u +%Y%m%dT%H%M%S.%NZ).db
sqlite3 "$db" "VACUUM INTO '$out'"
# A snapshot that does not pass its own integrity check is not a backup.
if [ "$(sqlite3 "$out" 'PRAGMA integrity_check')" != ok ]; then
	echo "mcns-backup: $out failed its integrity check" >&2
	rm -f "$out"
	exit 1
fi
# Newest first; drop everything after the first $keep.
ls -1t "$dir"/mcns-*.db | tail -n +"$((keep + 1))" | while read -r old; do rm -f "$old"; done
echo "mcns-backup: wrote $out"
