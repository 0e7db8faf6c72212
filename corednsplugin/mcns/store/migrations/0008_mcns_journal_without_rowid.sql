-- A zone's journal entries are found by (zone, seq) alone, so the table is
-- keyed by it. Before, each entry written dirtied three pages: the table's
-- leaf, the leaf of its (zone, seq) index and, for AUTOINCREMENT, the
-- sqlite_sequence row; keyed by (zone, seq) without a rowid it is one. Entries
-- are renumbered in their order, which also makes (zone, seq) unique where an
-- older build could have left two entries with one number.
CREATE TABLE mcns_journal_keyed (
  zone        TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  from_serial INTEGER NOT NULL,
  to_serial   INTEGER NOT NULL,
  old_soa     TEXT NOT NULL,
  new_soa     TEXT NOT NULL,
  removed     TEXT NOT NULL,
  added       TEXT NOT NULL,
  -- The zone's version (mcns_zone_changes) right after the entry's change.
  to_changes  INTEGER NOT NULL DEFAULT -1,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (zone, seq)
) WITHOUT ROWID;
INSERT INTO mcns_journal_keyed(zone, seq, from_serial, to_serial, old_soa, new_soa, removed, added, to_changes, created_at)
	SELECT zone, row_number() OVER (PARTITION BY zone ORDER BY seq, id),
		from_serial, to_serial, old_soa, new_soa, removed, added, to_changes, created_at
	FROM mcns_journal;
DROP TABLE mcns_journal;
ALTER TABLE mcns_journal_keyed RENAME TO mcns_journal;
