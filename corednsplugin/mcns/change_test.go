package mcns

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// eventually retries cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func aOf(t *testing.T, m *MCNS, name string) (rcode int, addrs []string) {
	resp := ask(t, m, new(dns.Msg).SetQuestion(name, dns.TypeA))
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			addrs = append(addrs, a.A.String())
		}
	}
	return resp.Rcode, addrs
}

func TestExternalChangesArePickedUp(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	db, err := sql.Open("sqlite", m.config.dbPath+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Within a few poll intervals (20ms here; 1s by default).
	const within = 2 * time.Second

	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) SELECT id, 'new.example.org', 'A', '192.0.2.99', 60, 0, 0, 1 FROM domains WHERE name = 'example.org'")
	eventually(t, within, "inserted row", func() bool {
		_, a := aOf(t, m, "new.example.org.")
		return len(a) == 1 && a[0] == "192.0.2.99"
	})
	// An edit that keeps the row count, as the sqlite3 shell would make.
	exec("UPDATE records SET content = '192.0.2.100' WHERE name = 'new.example.org'")
	eventually(t, within, "edited row", func() bool {
		_, a := aOf(t, m, "new.example.org.")
		return len(a) == 1 && a[0] == "192.0.2.100"
	})
	exec("UPDATE records SET disabled = 1 WHERE name = 'new.example.org'")
	eventually(t, within, "disabled row", func() bool {
		rc, _ := aOf(t, m, "new.example.org.")
		return rc == dns.RcodeNameError
	})
	// A zone created the way pdnsutil create-zone does.
	exec("INSERT INTO domains(name, type) VALUES ('example.net', 'NATIVE')")
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) SELECT id, 'example.net', 'SOA', 'ns.example.net hostmaster.example.net 1 10800 3600 604800 300', 300, 0, 0, 1 FROM domains WHERE name = 'example.net'")
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) SELECT id, 'example.net', 'NS', 'ns.example.net', 300, 0, 0, 1 FROM domains WHERE name = 'example.net'")
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) SELECT id, 'www.example.net', 'A', '198.51.100.1', 300, 0, 0, 1 FROM domains WHERE name = 'example.net'")
	eventually(t, within, "new zone", func() bool {
		_, a := aOf(t, m, "www.example.net.")
		return len(a) == 1
	})
	exec("DELETE FROM domains WHERE name = 'example.net'")
	eventually(t, within, "deleted zone", func() bool {
		rc, _ := aOf(t, m, "www.example.net.")
		return rc == nextMarker
	})
}

func TestAPIChangeIsImmediate(t *testing.T) {
	cfg := config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: writeZones(t, exampleOrg), refresh: time.Second}
	m := startWith(t, cfg, []string{"."})
	// A second store stands in for the API, which shares the plugin's.
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	before, appliedBefore := testutilRebuilds(), counterValue(applied)
	for i, ip := range []string{"203.0.113.7", "203.0.113.8"} {
		if _, err := st.AddRecord(context.Background(), "example.org", store.RecordSpec{Name: "ns", Type: "A", Value: ip, TTL: 300}); err != nil {
			t.Fatal(err)
		}
		if _, a := aOf(t, m, "ns.example.org."); len(a) != i+1 {
			t.Fatalf("after write %d: %v", i, a)
		}
	}
	// Both writes were applied as differences, without reloading.
	if got := testutilRebuilds() - before; got != 0 {
		t.Fatalf("%v rebuilds, want 0", got)
	}
	if got := counterValue(applied) - appliedBefore; got != 2 {
		t.Fatalf("%v changes applied, want 2", got)
	}
	// The poller sees data_version move but the zone versions the
	// store's own writes left: no rebuild.
	if err := m.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutilRebuilds() - before; got != 0 {
		t.Fatalf("%v rebuilds after poll, want 0", got)
	}
	if _, err := st.CreateZone(context.Background(), store.Zone{Name: "example.net", PrimaryNS: "ns.example.net"}); err != nil {
		t.Fatal(err)
	}
	if resp := ask(t, m, new(dns.Msg).SetQuestion("example.net.", dns.TypeSOA)); len(resp.Answer) != 1 {
		t.Fatalf("new zone: %v", resp)
	}
	st.DeleteZone(context.Background(), "example.net")
	if rc, _ := aOf(t, m, "example.net."); rc != nextMarker {
		t.Fatalf("deleted zone still answered: %s", dns.RcodeToString[rc])
	}
}

func TestServesLastSnapshotWhenDatabaseFails(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	m.mu.Lock()
	m.st.Close()
	m.mu.Unlock()
	if err := m.refresh(context.Background()); err == nil {
		t.Fatal("refresh on a closed database succeeded")
	}
	if !m.failing {
		t.Fatal("failure not noted")
	}
	if _, a := aOf(t, m, "www.example.org."); len(a) != 1 {
		t.Fatalf("last snapshot not served: %v", a)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	m := New(config{dbPath: filepath.Join(plain, "x.db"), refresh: time.Second}, []string{"."})
	if err := m.Start(); err == nil {
		t.Fatal("start under a file succeeded")
	}
	if m.Ready() {
		t.Fatal("ready after a failed start")
	}
	bad := writeZones(t, "$ORIGIN example.org.\n@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN NS ns\nwww 300 IN CNAME a\nwww 300 IN A 192.0.2.1\n")
	m = New(config{dbPath: filepath.Join(dir, "y.db"), seeds: bad, refresh: time.Second}, []string{"."})
	if err := m.Start(); err == nil {
		t.Fatal("start with a seed violating CNAME exclusivity succeeded")
	}
	m.Stop()
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func TestReloadLeaksNothing(t *testing.T) {
	seeds := writeZones(t, exampleOrg)
	path := filepath.Join(t.TempDir(), "mcns.db")
	cycle := func() {
		m := New(config{dbPath: path, seeds: seeds, refresh: 10 * time.Millisecond}, []string{"."})
		m.Next = nextHandler()
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		m.CacheBypassZones()
		time.Sleep(30 * time.Millisecond) // let the poller run
		if _, a := aOf(t, m, "www.example.org."); len(a) != 1 {
			t.Fatalf("not serving: %v", a)
		}
		if err := m.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // warm up lazily created runtime and package state
	runtime.GC()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	for i := 0; i < 5; i++ {
		cycle()
	}
	eventually(t, 2*time.Second, "goroutines and fds back to their start", func() bool {
		runtime.GC()
		return runtime.NumGoroutine() <= g0 && openFDs(t) <= f0
	})
}

func testutilRebuilds() float64 { return counterValue(rebuilds) }
