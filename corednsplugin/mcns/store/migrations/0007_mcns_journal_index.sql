-- Every reader of the journal now orders a zone's entries by seq, which
-- follows id within a zone, so the index on (zone, id) only cost every
-- write and trim a page of its own.
DROP INDEX IF EXISTS mcns_journal_zone;
