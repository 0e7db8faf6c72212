-- The last SOA serial of each zone deleted through mcns, so a zone created
-- again under the same name continues after it instead of starting over at
-- today's YYYYMMDD00, which secondaries still holding the old zone would
-- take for an older version and ignore.
CREATE TABLE IF NOT EXISTS mcns_deleted_zones (
  zone        TEXT PRIMARY KEY,
  last_serial INTEGER NOT NULL,
  deleted_at  INTEGER NOT NULL
);
