package mcns

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// secondaryKey identifies a record as RFC 1995 deletions match it: by
// owner, type and data, TTL aside.
func secondaryKey(r dns.RR) string {
	c := dns.Copy(r)
	c.Header().Ttl = 0
	c.Header().Name = canonicalZone(c.Header().Name)
	return c.String()
}

// secondaryState is a secondary's copy of a zone: record -> TTL.
type secondaryState map[string]uint32

// axfrState is the zone as a full transfer delivers it.
func axfrState(rrs []dns.RR) secondaryState {
	out := secondaryState{}
	for _, r := range rrs[1 : len(rrs)-1] {
		out[secondaryKey(r)] = r.Header().Ttl
	}
	return out
}

// applyIXFR replays an incremental transfer in RFC 1995's form (new SOA,
// then per change old SOA, deletions, new SOA, additions, then new SOA) on
// a copy of base.
func applyIXFR(t *testing.T, base secondaryState, ix []dns.RR) secondaryState {
	t.Helper()
	if len(ix) < 2 {
		t.Fatalf("IXFR too short: %v", ix)
	}
	out := maps.Clone(base)
	deleting := false
	for _, r := range ix[1 : len(ix)-1] {
		if _, ok := r.(*dns.SOA); ok {
			deleting = !deleting
			continue
		}
		if deleting {
			delete(out, secondaryKey(r))
		} else {
			out[secondaryKey(r)] = r.Header().Ttl
		}
	}
	return out
}

// TestIXFRAfterUpdateMatchesZone: whatever steps one UPDATE message takes,
// a secondary applying the IXFR for it ends up with the primary's zone.
func TestIXFRAfterUpdateMatchesZone(t *testing.T) {
	h, m := updateChain(t)
	for _, tc := range []struct {
		name  string
		build func(u *dns.Msg)
	}{
		{"add then delete", func(u *dns.Msg) {
			u.Insert([]dns.RR{rr(t, "nd1.example.org. 60 IN A 192.0.2.99")})
			u.Remove([]dns.RR{rr(t, "nd1.example.org. 60 IN A 192.0.2.99")})
		}},
		{"add with two TTLs", func(u *dns.Msg) {
			u.Insert([]dns.RR{rr(t, "nd2.example.org. 60 IN A 192.0.2.98"), rr(t, "nd2.example.org. 120 IN A 192.0.2.98")})
		}},
		{"add then delete RRset", func(u *dns.Msg) {
			u.Insert([]dns.RR{rr(t, "nd3.example.org. 60 IN A 192.0.2.97"), rr(t, "nd3.example.org. 60 IN A 192.0.2.96")})
			u.RemoveRRset([]dns.RR{rr(t, "nd3.example.org. 0 IN A 0.0.0.0")})
		}},
		{"add then delete name", func(u *dns.Msg) {
			u.Insert([]dns.RR{rr(t, "nd4.example.org. 60 IN A 192.0.2.95"), rr(t, "nd4.example.org. 60 IN TXT \"x\"")})
			u.RemoveName([]dns.RR{rr(t, "nd4.example.org. 0 IN ANY")})
		}},
		{"delete then add back", func(u *dns.Msg) {
			// nd2 exists from the second case.
			u.Remove([]dns.RR{rr(t, "nd2.example.org. 120 IN A 192.0.2.98")})
			u.Insert([]dns.RR{rr(t, "nd2.example.org. 120 IN A 192.0.2.98"), rr(t, "nd5.example.org. 60 IN A 192.0.2.94")})
		}},
		{"change TTL and back", func(u *dns.Msg) {
			u.Insert([]dns.RR{rr(t, "nd2.example.org. 30 IN A 192.0.2.98"), rr(t, "nd2.example.org. 120 IN A 192.0.2.98")})
			u.Insert([]dns.RR{rr(t, "nd6.example.org. 60 IN A 192.0.2.93")})
		}},
	} {
		s0 := zoneSerial(t, m, "example.org.")
		before := axfrState(collect(t, m, "example.org.", 0))
		u := new(dns.Msg)
		u.SetUpdate("example.org.")
		tc.build(u)
		if got := sendUpdate(t, h, u, updateKey); got.Rcode != dns.RcodeSuccess {
			t.Fatalf("%s: rcode %s", tc.name, dns.RcodeToString[got.Rcode])
		}
		s1 := zoneSerial(t, m, "example.org.")
		if s1 == s0 {
			t.Fatalf("%s: serial did not move", tc.name)
		}
		ix := collect(t, m, "example.org.", s0)
		if _, ok := ix[1].(*dns.SOA); !ok {
			t.Fatalf("%s: not an incremental transfer: %v", tc.name, ix)
		}
		after := axfrState(collect(t, m, "example.org.", 0))
		if got := applyIXFR(t, before, ix); !maps.Equal(got, after) {
			t.Errorf("%s: secondary after IXFR differs from the primary:\n%s", tc.name, stateDiff(got, after))
		}
	}
}

func stateDiff(sec, pri secondaryState) string {
	var d []string
	for k, ttl := range sec {
		if p, ok := pri[k]; !ok || p != ttl {
			d = append(d, fmt.Sprintf("secondary has %s (TTL %d)", k, ttl))
		}
	}
	for k, ttl := range pri {
		if s, ok := sec[k]; !ok || s != ttl {
			d = append(d, fmt.Sprintf("primary has %s (TTL %d)", k, ttl))
		}
	}
	slices.Sort(d)
	return fmt.Sprint(d)
}
