package mcns

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/forward"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestCacheBypass runs the real cache plugin in front of mcns, as the
// shipped Corefile does, in a "." block and in a block naming the zone.
// A third block caches what it forwards to the first one and stands as the
// control: it keeps answering the old data for the cache's TTL, which shows
// the cache would have served stale data had mcns not been bypassed.
func TestCacheBypass(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mcns.db")
	seeds := writeZones(t, exampleOrg)
	rootPort, zonePort, ctlPort, apiPort := freePort(t), freePort(t), freePort(t), freePort(t)
	inst, _ := startServer(t, fmt.Sprintf(`.:%[1]d {
	bind 127.0.0.1
	cache 3600
	mcns %[5]s {
		seed %[6]s
		refresh 1s
		api 127.0.0.1:%[4]d {
			insecure_plaintext
			tokens %[7]s
		}
	}
}
example.org:%[2]d {
	bind 127.0.0.1
	cache 3600
	mcns %[5]s {
		refresh 50ms
	}
}
.:%[3]d {
	bind 127.0.0.1
	cache 3600
	forward . 127.0.0.1:%[1]d
}`, rootPort, zonePort, ctlPort, apiPort, db, seeds[0], writeTokenFile(t)))
	defer inst.Stop()
	root, zoneBlock, control := fmt.Sprintf("127.0.0.1:%d", rootPort), fmt.Sprintf("127.0.0.1:%d", zonePort), fmt.Sprintf("127.0.0.1:%d", ctlPort)

	addrOf := func(addr, name string) string {
		t.Helper()
		resp := exchange(t, addr, name, dns.TypeA)
		if len(resp.Answer) != 1 {
			return fmt.Sprintf("%s %v", dns.RcodeToString[resp.Rcode], resp.Answer)
		}
		return resp.Answer[0].(*dns.A).A.String()
	}
	const www = "www.example.org."
	// Fill every cache, twice so a second answer could come from it.
	for i := 0; i < 2; i++ {
		for _, a := range []string{root, zoneBlock, control} {
			if got := addrOf(a, www); got != "192.0.2.10" {
				t.Fatalf("%s from %s: %s", www, a, got)
			}
		}
	}

	// A change through the API: the "." block answers it with the first
	// query after the 2xx, the zone block within its refresh interval.
	c := newAPIClient(fmt.Sprintf("127.0.0.1:%d", apiPort))
	var list struct {
		Records []apiRecord `json:"records"`
	}
	if _, err := c.do("GET", "/v1/zones/example.org/records?name=www&type=A", nil, &list); err != nil || len(list.Records) != 1 {
		t.Fatalf("www record: %v %v", list.Records, err)
	}
	if _, err := c.do("PUT", fmt.Sprintf("/v1/zones/example.org/records/%d", list.Records[0].ID), map[string]any{"value": "192.0.2.11"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := addrOf(root, www); got != "192.0.2.11" {
		t.Errorf(". block with cache: first answer after the API write: %s, want 192.0.2.11", got)
	}
	eventually(t, 2*time.Second, "zone block with cache sees the API write", func() bool { return addrOf(zoneBlock, www) == "192.0.2.11" })
	if got := addrOf(control, www); got != "192.0.2.10" {
		t.Fatalf("control block: %s; it should still answer from its cache, so this test shows nothing", got)
	}

	// A change through the store from another handle, as another process
	// would make: both blocks pick it up with their poller, cache or not.
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UpdateRecord(context.Background(), "example.org", list.Records[0].ID, store.RecordSpec{Name: "www", Type: "A", Value: "192.0.2.12", TTL: 3600}); err != nil {
		t.Fatal(err)
	}
	// A name that was NXDOMAIN (and so negatively cached if cached at all).
	const fresh = "fresh.example.org."
	for _, a := range []string{root, zoneBlock} {
		if resp := exchange(t, a, fresh, dns.TypeA); resp.Rcode != dns.RcodeNameError {
			t.Fatalf("%s from %s: %v", fresh, a, resp)
		}
	}
	if _, err := st.AddRecord(context.Background(), "example.org", store.RecordSpec{Name: "fresh", Type: "A", Value: "192.0.2.13", TTL: 300}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{root, zoneBlock} {
		eventually(t, 3*time.Second, "store write through cache at "+a, func() bool {
			return addrOf(a, www) == "192.0.2.12" && addrOf(a, fresh) == "192.0.2.13"
		})
	}
	if got := addrOf(control, www); got != "192.0.2.10" {
		t.Errorf("control block: %s, want the cached 192.0.2.10", got)
	}
}
