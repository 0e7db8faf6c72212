package mcnsdns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestChallengeLifecycle drives the provider as certmagic's DNS-01 solver
// does: append an RR with a name relative to the zone, then delete the
// very record that AppendRecords returned.
func TestChallengeLifecycle(t *testing.T) {
	m := startMCNS(t)
	p := m.provider(t, adminToken)
	ctx := context.Background()
	const value = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
	got, err := p.AppendRecords(ctx, testZone, []libdns.Record{libdns.RR{Type: "TXT", Name: "_acme-challenge.svc", Data: value, TTL: 60 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("AppendRecords returned %v", got)
	}
	txt, ok := got[0].(libdns.TXT)
	if !ok || txt.Name != "_acme-challenge.svc" || txt.Text != value || txt.TTL != 60*time.Second {
		t.Fatalf("AppendRecords returned %#v", got[0])
	}
	if s := m.stored(t, "_acme-challenge.svc.example.com.", "TXT"); !slices.Equal(s, []string{`TXT "` + value + `"`}) {
		t.Fatalf("store holds %q", s)
	}
	all, err := p.GetRecords(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range all {
		types = append(types, r.RR().Type+" "+r.RR().Name)
	}
	for _, want := range []string{"SOA @", "NS @", "TXT _acme-challenge.svc"} {
		if !slices.Contains(types, want) {
			t.Errorf("GetRecords lacks %s: %v", want, types)
		}
	}
	zones, err := p.ListZones(ctx)
	if err != nil || len(zones) != 1 || zones[0].Name != testZone {
		t.Errorf("ListZones: %v %v", zones, err)
	}
	deleted, err := p.DeleteRecords(ctx, testZone, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0].RR().Data != value {
		t.Errorf("DeleteRecords returned %v", deleted)
	}
	if s := m.stored(t, "_acme-challenge.svc.example.com.", ""); len(s) != 0 {
		t.Errorf("left behind: %q", s)
	}
	// Deleting again is no error and deletes nothing.
	if deleted, err := p.DeleteRecords(ctx, testZone, got); err != nil || len(deleted) != 0 {
		t.Errorf("second delete: %v %v", deleted, err)
	}
}

// TestConcurrentAppendsSameName: two certificates for the same name (or a
// name and its wildcard) put their challenges at one name at once; both
// must survive, and each clean-up removes only its own value.
func TestConcurrentAppendsSameName(t *testing.T) {
	m := startMCNS(t)
	p := m.provider(t, adminToken)
	ctx := context.Background()
	values := []string{"first-challenge-value", "second-challenge-value", "third-challenge-value"}
	added := make([][]libdns.Record, len(values))
	errs := make([]error, len(values))
	var wg sync.WaitGroup
	for i, v := range values {
		wg.Add(1)
		go func() {
			defer wg.Done()
			added[i], errs[i] = p.AppendRecords(ctx, testZone, []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: v}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	const name = "_acme-challenge.example.com."
	if s := m.stored(t, name, "TXT"); len(s) != 3 {
		t.Fatalf("store holds %q, want all three values", s)
	}
	// Deleting by value (no TTL, as a caller that only remembers the
	// value would) removes only that one.
	deleted, err := p.DeleteRecords(ctx, testZone, []libdns.Record{libdns.RR{Name: "_acme-challenge", Type: "TXT", Data: values[1]}})
	if err != nil || len(deleted) != 1 {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	s := m.stored(t, name, "TXT")
	slices.Sort(s)
	if want := []string{`TXT "first-challenge-value"`, `TXT "third-challenge-value"`}; !slices.Equal(s, want) {
		t.Errorf("after deleting the second value: %q, want %q", s, want)
	}
	// A value nobody added, and another type at that name, delete nothing.
	for _, rec := range []libdns.Record{
		libdns.TXT{Name: "_acme-challenge", Text: "never-added"},
		libdns.Address{Name: "_acme-challenge", IP: netip.MustParseAddr("192.0.2.1")},
	} {
		if d, err := p.DeleteRecords(ctx, testZone, []libdns.Record{rec}); err != nil || len(d) != 0 {
			t.Errorf("delete %v: %v %v", rec, d, err)
		}
	}
	if s := m.stored(t, name, "TXT"); len(s) != 2 {
		t.Errorf("store holds %q", s)
	}
	// The same value twice is refused, and the first copy stays.
	if _, err := p.AppendRecords(ctx, testZone, []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: values[0]}}); err == nil || !containsAll(err.Error(), "409", "conflict") {
		t.Errorf("duplicate append: %v", err)
	}
	// Delete with only the name (libdns's wildcard form) removes the rest.
	if d, err := p.DeleteRecords(ctx, testZone, []libdns.Record{libdns.RR{Name: "_acme-challenge"}}); err != nil || len(d) != 2 {
		t.Errorf("delete by name: %v %v", d, err)
	}
}

// TestNames checks the mapping of libdns's relative names: "@" is the
// apex, dots inside a relative name stay relative, and a relative name
// that happens to end in the zone's name is still relative.
func TestNames(t *testing.T) {
	m := startMCNS(t)
	p := m.provider(t, adminToken)
	ctx := context.Background()
	for _, tc := range []struct{ name, fqdn string }{
		{"@", "example.com."},
		{"_acme-challenge.a.b", "_acme-challenge.a.b.example.com."},
		{"www.example.com", "www.example.com.example.com."},
		{"Mixed.Case", "mixed.case.example.com."},
	} {
		got, err := p.AppendRecords(ctx, "example.com", []libdns.Record{libdns.TXT{Name: tc.name, Text: "v=" + tc.name}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s := m.stored(t, tc.fqdn, "TXT"); len(s) != 1 {
			t.Errorf("%s: at %s the store holds %q", tc.name, tc.fqdn, s)
		}
		if n := got[0].RR().Name; !strings.EqualFold(n, tc.name) {
			t.Errorf("%s: returned name %q", tc.name, n)
		}
		if d, err := p.DeleteRecords(ctx, "example.com.", got); err != nil || len(d) != 1 {
			t.Errorf("%s: delete: %v %v", tc.name, d, err)
		}
	}
}

// TestSetRecords replaces an RRset, keeping values that stay and leaving
// other names and types alone.
func TestSetRecords(t *testing.T) {
	m := startMCNS(t)
	p := m.provider(t, adminToken)
	ctx := context.Background()
	a := func(ip string) libdns.Record {
		return libdns.Address{Name: "www", IP: netip.MustParseAddr(ip), TTL: 300 * time.Second}
	}
	if _, err := p.AppendRecords(ctx, testZone, []libdns.Record{a("192.0.2.1"), a("192.0.2.2"), libdns.TXT{Name: "www", Text: "keep me"}}); err != nil {
		t.Fatal(err)
	}
	before := m.stored(t, "www.example.com.", "A")
	got, err := p.SetRecords(ctx, testZone, []libdns.Record{a("192.0.2.2"), a("192.0.2.3")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("SetRecords returned %v", got)
	}
	if ad, ok := got[0].(libdns.Address); !ok || ad.IP.String() != "192.0.2.2" {
		t.Errorf("SetRecords returned %#v", got[0])
	}
	s := m.stored(t, "www.example.com.", "A")
	slices.Sort(s)
	if want := []string{"A 192.0.2.2", "A 192.0.2.3"}; !slices.Equal(s, want) {
		t.Errorf("A at www: %q (before %q), want %q", s, before, want)
	}
	if s := m.stored(t, "www.example.com.", "TXT"); len(s) != 1 {
		t.Errorf("TXT at www: %q", s)
	}
	// A changed TTL is applied to the record in place.
	if _, err := p.SetRecords(ctx, testZone, []libdns.Record{libdns.Address{Name: "www", IP: netip.MustParseAddr("192.0.2.3"), TTL: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	recs, _ := m.store.Records(ctx, testZone, store.Filter{Name: "www.example.com.", Type: "A"})
	if len(recs) != 1 || recs[0].TTL != 60 || recs[0].Content != "192.0.2.3" {
		t.Errorf("after setting one A with TTL 60: %+v", recs)
	}
}

// TestAuthErrors: a bad token (401) and a read-only token (403) end in
// errors that name the call and what to fix, never the token.
func TestAuthErrors(t *testing.T) {
	m := startMCNS(t)
	ctx := context.Background()
	rec := []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "x"}}
	_, err := m.provider(t, "not-a-token-anyone-minted").AppendRecords(ctx, testZone, rec)
	url := m.endpoint + "/v1/zones/example.com/records"
	if err == nil || !containsAll(err.Error(), "POST "+url, "401", "check the token") {
		t.Errorf("bad token: %v", err)
	}
	if err != nil && containsAll(err.Error(), "not-a-token-anyone-minted") {
		t.Errorf("the error shows the token: %v", err)
	}
	_, err = m.provider(t, readerToken).AppendRecords(ctx, testZone, rec)
	if err == nil || !containsAll(err.Error(), "POST "+url, "403", "admin role") {
		t.Errorf("read-only token: %v", err)
	}
	if _, err := m.provider(t, readerToken).GetRecords(ctx, testZone); err != nil {
		t.Errorf("read-only token may read: %v", err)
	}
	_, err = m.provider(t, adminToken).GetRecords(ctx, "example.org")
	if err == nil || !containsAll(err.Error(), "GET "+m.endpoint+"/v1/zones/example.org/records", "404") {
		t.Errorf("unknown zone: %v", err)
	}
}

// TestCAMismatch: the API's certificate must chain to ca_cert; another CA
// or the system roots are refused.
func TestCAMismatch(t *testing.T) {
	m := startMCNS(t)
	other, _, _ := writePKI(t, t.TempDir(), "some other CA")
	ctx := context.Background()
	for name, ca := range map[string]string{"other CA": other, "system roots": ""} {
		p := &Provider{Endpoint: m.endpoint, Token: adminToken, CACert: ca}
		if err := p.setup(nil); err != nil {
			t.Fatal(err)
		}
		_, err := p.GetRecords(ctx, testZone)
		if err == nil || !containsAll(err.Error(), m.endpoint, "certificate") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestContextDeadline: a call to an API that never answers returns when
// the caller's deadline passes, with that deadline as the cause.
func TestContextDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held sync.WaitGroup
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() { // accept, then say nothing
				defer held.Done()
				<-done
				c.Close()
			}()
		}
	}()
	m := startMCNS(t) // only for a CA file
	p := &Provider{Endpoint: "https://" + ln.Addr().String(), Token: adminToken, CACert: m.caFile}
	if err := p.setup(nil); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context) error{
		"get": func(ctx context.Context) error { _, err := p.GetRecords(ctx, testZone); return err },
		"append": func(ctx context.Context) error {
			_, err := p.AppendRecords(ctx, testZone, []libdns.Record{libdns.TXT{Name: "x", Text: "y"}})
			return err
		},
		"delete": func(ctx context.Context) error {
			_, err := p.DeleteRecords(ctx, testZone, []libdns.Record{libdns.TXT{Name: "x", Text: "y"}})
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		cancel()
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: returned after %v", name, took)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want the context's deadline", name, err)
		}
	}
	// Against the real API, a cancelled context stops the call too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.provider(t, adminToken).GetRecords(ctx, testZone); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestSetupErrors covers configurations refused before any call.
func TestSetupErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := dir + "/not.pem"
	writeTestFile(t, notPEM, "hello")
	for _, tc := range []struct {
		p    Provider
		want string
	}{
		{Provider{Token: "t"}, "endpoint is required"},
		{Provider{Endpoint: "ftp://x", Token: "t"}, "scheme must be https"},
		{Provider{Endpoint: "http://192.0.2.1:8444", Token: "t"}, "only to a loopback address"},
		{Provider{Endpoint: "https://x:8444?a=b", Token: "t"}, "want https://HOST"},
		{Provider{Endpoint: "https://x:8444"}, "token is empty"},
		{Provider{Endpoint: "https://x:8444", Token: "t", CACert: dir + "/missing.pem"}, "missing.pem"},
		{Provider{Endpoint: "https://x:8444", Token: "t", CACert: notPEM}, "no PEM certificate"},
	} {
		err := tc.p.setup(nil)
		if err == nil || !containsAll(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	if err := (&Provider{Endpoint: "http://127.0.0.1:8444", Token: "t"}).setup(nil); err != nil {
		t.Errorf("plain http to loopback: %v", err)
	}
	var p Provider
	if _, err := p.GetRecords(context.Background(), testZone); err == nil {
		t.Error("unprovisioned provider answered")
	}
}
