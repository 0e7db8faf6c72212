-- Change journal for incremental zone transfers (RFC 1995): one row per
-- serial change made through mcns, written in the same transaction as the
-- change itself. Records are presentation-format lines.
CREATE TABLE IF NOT EXISTS mcns_journal (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  zone        TEXT NOT NULL,
  from_serial INTEGER NOT NULL,
  to_serial   INTEGER NOT NULL,
  old_soa     TEXT NOT NULL,
  new_soa     TEXT NOT NULL,
  removed     TEXT NOT NULL,
  added       TEXT NOT NULL,
  -- The change to the zone's fingerprint (row count, sum of row hashes),
  -- so a reader can tell whether the journal explains a change it sees.
  rows_delta  INTEGER NOT NULL,
  sum_delta   INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mcns_journal_zone ON mcns_journal(zone, id);
