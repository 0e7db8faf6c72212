-- A change counter per zone, kept by triggers on PowerDNS's tables, so a
-- reader finds the zones another program (pdnsutil, pdns_server, the sqlite3
-- shell) changed by reading one row per zone instead of every record. The
-- triggers only write this table; PowerDNS's tables are left as they are.
-- Counters only grow: a zone deleted and created again under the same id
-- differs from before.
CREATE TABLE IF NOT EXISTS mcns_zone_changes (
  domain_id INTEGER PRIMARY KEY,
  changes   INTEGER NOT NULL
);
INSERT OR IGNORE INTO mcns_zone_changes(domain_id, changes) SELECT id, 1 FROM domains;

CREATE TRIGGER IF NOT EXISTS mcns_records_insert AFTER INSERT ON records BEGIN
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (NEW.domain_id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
END;
CREATE TRIGGER IF NOT EXISTS mcns_records_delete AFTER DELETE ON records BEGIN
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (OLD.domain_id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
END;
CREATE TRIGGER IF NOT EXISTS mcns_records_update AFTER UPDATE ON records BEGIN
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (OLD.domain_id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (NEW.domain_id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
END;
CREATE TRIGGER IF NOT EXISTS mcns_domains_insert AFTER INSERT ON domains BEGIN
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (NEW.id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
END;
CREATE TRIGGER IF NOT EXISTS mcns_domains_delete AFTER DELETE ON domains BEGIN
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (OLD.id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
END;
-- Only the columns that say which zone a row is and what kind: pdns_server
-- itself writes notified_serial and last_check on every NOTIFY and check,
-- which change nothing served and must not reload the zone or end its IXFR
-- journal; options and catalog are catalog-zone metadata, not served.
CREATE TRIGGER IF NOT EXISTS mcns_domains_update AFTER UPDATE OF id, name, type, master, account ON domains BEGIN
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (OLD.id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
  INSERT INTO mcns_zone_changes(domain_id, changes) VALUES (NEW.id, 1)
    ON CONFLICT(domain_id) DO UPDATE SET changes = changes + 1;
END;

-- Each journal entry records the zone's change counter after it, so a
-- reader tells whether the journal accounts for everything up to the
-- version it serves: another program's edit raises the counter without an
-- entry. Entries from before this migration match no version. Row
-- fingerprints are no longer needed for that.
ALTER TABLE mcns_journal ADD COLUMN to_changes INTEGER NOT NULL DEFAULT -1;
ALTER TABLE mcns_journal DROP COLUMN rows_delta;
ALTER TABLE mcns_journal DROP COLUMN sum_delta;
