package api

import (
	"fmt"
	"strings"
	"testing"
)

// TestPDNSACMEStaleCleanUp pins down what a stale clean-up does today (the
// API README, "Two ACME clients at once"). lego's CleanUp reads the RRset
// and sends DELETE when its value is the only one, else REPLACE with the
// values it read minus its own. Neither carries anything new, so both are
// applied exactly: a value another client added after that read is
// removed with it. Present is safe (TestPDNSConcurrentACME); clean-up
// after a concurrent Present is not, and that client's validation fails
// and must be retried.
func TestPDNSACMEStaleCleanUp(t *testing.T) {
	h, _ := pdnsZoneHarness(t)
	const owner = "_acme-challenge.example.org."
	patch := func(body string) { h.pdnsMust(204, "PATCH", pz+"/example.org.", adminToken, body) }
	values := func() string {
		return strings.Join(rrsetOf(getZone(h, "example.org."), owner, "TXT"), " ")
	}
	cleanUp := func(keep ...string) {
		if len(keep) == 0 {
			patch(`{"rrsets":[{"name":"` + owner + `","type":"TXT","changetype":"DELETE"}]}`)
			return
		}
		var recs []string
		for _, v := range keep {
			recs = append(recs, fmt.Sprintf(`{"content":%q,"disabled":false}`, fmt.Sprintf("%q", v)))
		}
		patch(`{"rrsets":[{"name":"` + owner + `","type":"TXT","changetype":"REPLACE","ttl":120,"records":[` + strings.Join(recs, ",") + `]}]}`)
	}

	// A presents and reads {a}; B presents b; A's stale DELETE removes b.
	patch(legoPresent(nil, "a"))
	patch(legoPresent(nil, "b"))
	if got := values(); got != `"a" "b"` {
		t.Fatalf("after two presents: %s", got)
	}
	cleanUp()
	if got := values(); got != "" {
		t.Errorf("stale DELETE: %q left, want the RRset gone (b with it)", got)
	}

	// A and C present; A reads {a c}; B presents b; A's stale REPLACE with
	// {c} removes b too.
	patch(legoPresent(nil, "a"))
	patch(legoPresent(nil, "c"))
	patch(legoPresent(nil, "b"))
	cleanUp("c")
	if got := values(); got != `"c"` {
		t.Errorf("stale REPLACE: %q left, want only \"c\" (b removed)", got)
	}
}
