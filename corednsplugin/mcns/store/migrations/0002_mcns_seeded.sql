-- Zones imported from seed files, so a restart never imports one twice, even
-- after the zone was deleted on purpose.
CREATE TABLE IF NOT EXISTS mcns_seeded (
  zone        TEXT PRIMARY KEY,
  file        TEXT NOT NULL,
  imported_at INTEGER NOT NULL
);
