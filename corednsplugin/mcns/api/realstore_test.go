package api

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// openStore opens a real SQLite store in a temporary directory.
func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcns.sqlite3")
	st, err := store.Open(path)
	if err != nil {
		if strings.Contains(err.Error(), "not implemented") {
			t.Skip("store not implemented yet")
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// dump is every row of every table of the database at path, in a stable
// order, read over a connection of its own.
func dump(t testing.TB, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		fmt.Fprintf(&b, "== %s\n", tbl)
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM %q ORDER BY rowid", tbl))
		if err != nil {
			rows, err = db.Query(fmt.Sprintf("SELECT * FROM %q", tbl)) // WITHOUT ROWID
			if err != nil {
				t.Fatal(err)
			}
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String()
}

// storeHarness is a server over a real store holding zone example.com with
// a few records.
func storeHarness(t testing.TB, cfg *Config) (*harness, *store.Store, string) {
	t.Helper()
	st, path := openStore(t)
	h := newHarness(t, st, cfg)
	h.mustDo(201, "POST", "/v1/zones", adminToken, `{"name":"example.com","primary_ns":"ns.example.com.","admin_email":"hostmaster@example.com"}`)
	for _, rec := range []string{
		`{"name":"ns","type":"A","value":"192.0.2.53"}`,
		`{"name":"www","type":"A","value":"192.0.2.1","ttl":300}`,
		`{"name":"alias","type":"CNAME","value":"www"}`,
		`{"name":"@","type":"MX","value":"10 mail"}`,
	} {
		h.mustDo(201, "POST", "/v1/zones/example.com/records", adminToken, rec)
	}
	return h, st, path
}

func (h *harness) mustDo(status int, method, path, token, body string) reply {
	h.t.Helper()
	r := h.do(method, path, token, body)
	if r.status != status {
		h.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, r.status, r.body, status)
	}
	return r
}

func (h *harness) serial(zone string) uint32 {
	h.t.Helper()
	r := h.mustDo(200, "GET", "/v1/zones/"+zone, readerToken, "")
	return uint32(r.json(h.t)["serial"].(float64))
}

func ctxb() context.Context { return context.Background() }
