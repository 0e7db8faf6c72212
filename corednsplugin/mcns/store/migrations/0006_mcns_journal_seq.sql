-- Each zone's journal entries are numbered 1, 2, ... in the order written,
-- so keeping a zone's newest N entries is one indexed range delete instead
-- of a walk over N of them on every write. Existing entries are numbered
-- in id order.
ALTER TABLE mcns_journal ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE mcns_journal SET seq = r.rn
	FROM (SELECT id, row_number() OVER (PARTITION BY zone ORDER BY id) AS rn FROM mcns_journal) AS r
	WHERE r.id = mcns_journal.id;
CREATE INDEX IF NOT EXISTS mcns_journal_zone_seq ON mcns_journal(zone, seq);
