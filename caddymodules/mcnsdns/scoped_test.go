package mcnsdns

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// TestScopedToken: a token scoped to ZONE:_acme-challenge.*:TXT, as the
// README has operators mint, carries the DNS-01 challenge at the apex and
// at a host; any other write is refused with an error naming the endpoint
// and changes nothing.
func TestScopedToken(t *testing.T) {
	m := startMCNS(t)
	p := m.provider(t, acmeToken)
	ctx := context.Background()
	for _, name := range []string{"_acme-challenge", "_acme-challenge.svc"} {
		got, err := p.AppendRecords(ctx, testZone, []libdns.Record{libdns.TXT{Name: name, Text: "v-" + name, TTL: time.Minute}})
		if err != nil {
			t.Fatalf("append at %s: %v", name, err)
		}
		fqdn := name + "." + testZone
		if s := m.stored(t, fqdn, "TXT"); !slices.Equal(s, []string{`TXT "v-` + name + `"`}) {
			t.Fatalf("store holds %q at %s", s, fqdn)
		}
		if deleted, err := p.DeleteRecords(ctx, testZone, got); err != nil || len(deleted) != 1 {
			t.Fatalf("delete at %s: %v %v", name, deleted, err)
		}
		if s := m.stored(t, fqdn, ""); len(s) != 0 {
			t.Errorf("left behind at %s: %q", fqdn, s)
		}
	}

	url := m.endpoint + "/v1/zones/example.com/records"
	for _, rec := range []libdns.Record{
		libdns.TXT{Name: "www", Text: "x"},
		libdns.TXT{Name: "x._acme-challenge", Text: "x"},
		libdns.RR{Type: "A", Name: "_acme-challenge", Data: "192.0.2.1"},
	} {
		_, err := p.AppendRecords(ctx, testZone, []libdns.Record{rec})
		if err == nil || !containsAll(err.Error(), "POST "+url, "403", "scope") {
			t.Errorf("append %v outside the scope: %v, want 403 from POST %s", rec.RR(), err, url)
		}
		if s := m.stored(t, rec.RR().Name+"."+testZone, ""); len(s) != 0 {
			t.Errorf("refused append left %q", s)
		}
	}
}
