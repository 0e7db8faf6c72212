package mcns

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// askFrom sends a UDP query to addr from the loopback address src.
func askFrom(t *testing.T, src, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}}}
	resp, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, qtype), addr)
	if err != nil {
		t.Fatalf("%s from %s: %v", name, src, err)
	}
	return resp
}

// TestCachedAnswersDependOnlyOnTheZone: a reply whose CNAME target lies
// outside the zone is resolved through the server for each client (and
// refused to clients outside recursion_allow), so it is never cached: a
// public client's bare CNAME must not be served to a VPN client. Nor is a
// reply through a nested zone that is not delegated, whose records change
// with that zone's generation.
func TestCachedAnswersDependOnlyOnTheZone(t *testing.T) {
	parent := `$ORIGIN example.org.
$TTL 300
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@       NS ns1
ns1     A 192.0.2.1
outside CNAME www.example.net.
nested  CNAME www.child.example.org.
`
	child := `$ORIGIN child.example.org.
$TTL 300
@   IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300
@   NS ns1.example.org.
www A 198.51.100.9
`
	seeds := writeZones(t, parent, child)
	upstreamPort := freePort(t)
	apiPort := freePort(t)
	inst, _ := startServer(t, fmt.Sprintf(`.:0 {
	bind 127.0.0.1
	mcns %[1]s {
		seed %[2]s %[3]s
		recursion_allow 127.0.0.2/32
		allow_zones example.org
		api 127.0.0.1:%[6]d {
			insecure_plaintext
			tokens %[7]s
		}
	}
	forward . 127.0.0.1:%[4]d
}
example.net:%[4]d {
	bind 127.0.0.1
	mcns %[5]s {
		seed %[8]s
	}
}`, filepath.Join(t.TempDir(), "a.db"), seeds[0], seeds[1], upstreamPort, filepath.Join(t.TempDir(), "b.db"), apiPort, writeTokenFile(t), writeZones(t, exampleNet)[0]))
	defer inst.Stop()
	// The instance runs two servers in no fixed order: ask the one on the
	// ephemeral port, not the example.net upstream.
	addr := serverNotOn(t, inst, upstreamPort)
	const public, vpn = "127.0.0.1", "127.0.0.2"

	if got := askFrom(t, public, addr, "outside.example.org.", dns.TypeA); len(got.Answer) != 1 {
		t.Fatalf("public client: %v, want the CNAME alone", got.Answer)
	}
	for range 2 {
		if got := askFrom(t, vpn, addr, "outside.example.org.", dns.TypeA); len(got.Answer) != 2 {
			t.Fatalf("VPN client after a public one: %v, want the CNAME and the target's A", got.Answer)
		}
	}

	if got := askFrom(t, vpn, addr, "nested.example.org.", dns.TypeA); len(got.Answer) != 2 {
		t.Fatalf("nested: %v", got.Answer)
	}
	c := newAPIClient(fmt.Sprintf("127.0.0.1:%d", apiPort))
	var recs struct{ Records []apiRecord }
	if _, err := c.do("GET", "/v1/zones/child.example.org/records?name=www&type=A", nil, &recs); err != nil || len(recs.Records) != 1 {
		t.Fatalf("records: %v %v", recs, err)
	}
	if _, err := c.do("PUT", fmt.Sprintf("/v1/zones/child.example.org/records/%d", recs.Records[0].ID), map[string]any{"name": "www", "type": "A", "value": "192.0.2.222"}, nil); err != nil {
		t.Fatal(err)
	}
	got := askFrom(t, vpn, addr, "nested.example.org.", dns.TypeA)
	if len(got.Answer) != 2 || got.Answer[1].(*dns.A).A.String() != "192.0.2.222" {
		t.Fatalf("nested after the nested zone changed: %v, want 192.0.2.222", got.Answer)
	}
}
