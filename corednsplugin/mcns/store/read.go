package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"modernc.org/sqlite"
)

// rowHashFunc names a SQL function hashing one records row. Summing it per
// zone gives a fingerprint that changes with any insert, delete or edit of
// the zone's rows, by any writer, at the cost of one scan inside SQLite.
const rowHashFunc = "mcns_rowhash"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(rowHashFunc, -1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		h := fnv.New32a()
		var b [20]byte
		for _, a := range args {
			switch v := a.(type) {
			case nil:
				h.Write([]byte{0})
			case int64:
				h.Write(strconv.AppendInt(b[:0], v, 10))
			case float64:
				h.Write(strconv.AppendUint(b[:0], math.Float64bits(v), 16))
			case string:
				h.Write([]byte(v))
			case []byte:
				h.Write(v)
			case bool:
				h.Write(strconv.AppendBool(b[:0], v))
			default:
				h.Write([]byte(fmt.Sprint(v)))
			}
			h.Write([]byte{0xff})
		}
		// 32 bits per row keeps the per-zone SUM far from int64 overflow.
		return int64(h.Sum32()), nil
	})
}

// rowHashSQL hashes a records row r; every column that can change an answer
// or its serving is included.
const rowHashSQL = rowHashFunc + "(r.id, r.name, r.type, r.content, r.ttl, r.prio, r.disabled, r.auth)"

// Fingerprint summarises a zone's rows, so a changed zone can be told from an
// unchanged one without loading it.
type Fingerprint struct {
	ID   int64 // domains.id: a zone deleted and created again differs
	Rows int64
	Sum  int64
}

// Fingerprints returns the fingerprint of every zone, keyed by lower-case FQDN.
func (s *Store) Fingerprints(ctx context.Context) (map[string]Fingerprint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, d.name, count(r.id), coalesce(sum(`+rowHashSQL+`), 0)
		FROM domains d LEFT JOIN records r ON r.domain_id = d.id GROUP BY d.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Fingerprint{}
	for rows.Next() {
		var (
			fp   Fingerprint
			name string
		)
		if err := rows.Scan(&fp.ID, &name, &fp.Rows, &fp.Sum); err != nil {
			return nil, err
		}
		out[fqdnOf(name)] = fp
	}
	return out, rows.Err()
}

// ZoneData is a zone as loaded for serving.
type ZoneData struct {
	Name        string // lower-case FQDN
	Records     []dns.RR
	Fingerprint Fingerprint
	// Skipped counts rows that could not be served (unparsable content,
	// owner outside the zone); BadRow describes the first of them.
	Skipped int
	BadRow  error
}

// LoadZone reads every served record of zone, with its fingerprint, from one
// consistent read transaction. Disabled rows and rows without a type
// (PowerDNS's empty non-terminals) are left out, as PowerDNS does.
func (s *Store) LoadZone(ctx context.Context, name string) (*ZoneData, error) {
	zone, err := zoneName(name)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	zd := &ZoneData{Name: zone}
	err = tx.QueryRowContext(ctx, `SELECT d.id, count(r.id), coalesce(sum(`+rowHashSQL+`), 0)
		FROM domains d LEFT JOIN records r ON r.domain_id = d.id WHERE d.name = ? GROUP BY d.id`, dbName(zone)).
		Scan(&zd.Fingerprint.ID, &zd.Fingerprint.Rows, &zd.Fingerprint.Sum)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: zone %s", ErrNotFound, zone)
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, type, content, ttl, prio FROM records
		WHERE domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != '' ORDER BY id`, zd.Fingerprint.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	zd.Records = make([]dns.RR, 0, zd.Fingerprint.Rows)
	for rows.Next() {
		var (
			owner, typ string
			content    sql.NullString
			ttl, prio  sql.NullInt64
		)
		if err := rows.Scan(&owner, &typ, &content, &ttl, &prio); err != nil {
			return nil, err
		}
		rr, err := parseRow(owner, strings.ToUpper(typ), content.String, ttl.Int64, prio.Int64)
		if err == nil {
			if n := rr.Header().Name; n != zone && !dns.IsSubDomain(zone, n) {
				err = errors.New("owner outside the zone")
			}
		}
		if err != nil {
			if zd.Skipped == 0 {
				zd.BadRow = fmt.Errorf("zone %s: row %s %s %q: %w", zone, owner, typ, content.String, err)
			}
			zd.Skipped++
			continue
		}
		zd.Records = append(zd.Records, rr)
	}
	return zd, rows.Err()
}
