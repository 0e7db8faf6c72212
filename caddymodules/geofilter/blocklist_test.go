package geofilter

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestListFilter(t *testing.T) {
	var f listFilter
	for _, p := range []string{"10.0.0.0/12", "192.0.2.7/32", "2001:db8:5::/48"} {
		f.add(netip.MustParsePrefix(p))
	}
	for ip, want := range map[string]bool{
		"10.0.0.1": true, "10.15.255.255": true, "10.16.0.0": false,
		"192.0.3.1": true, "192.1.0.1": false, // per /16
		"2001:db8:5::1": true, "2001:db8:ffff::1": true, "2001:db9::1": false,
	} {
		if got := f.mayContain(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
	f.add(netip.MustParsePrefix("0.0.0.0/0"))
	f.add(netip.MustParsePrefix("2000::/3"))
	if !f.mayContain(netip.MustParseAddr("8.8.8.8")) || !f.mayContain(netip.MustParseAddr("2a00::1")) {
		t.Error("wide entries not covered")
	}
}

func TestBlockListOverlapAndExpiry(t *testing.T) {
	b := newBlockList() // private: no storage, no sweeper
	now := wallNow()
	b.mu.Lock()
	b.blocks[netip.MustParsePrefix("198.18.0.0/16")] = runtimeBlock{until: now + int64(time.Hour)}
	b.publishLocked(netip.MustParsePrefix("198.18.0.0/16"))
	b.mu.Unlock()
	// A shorter ban inside the block: when it expires, the block still holds.
	b.ban(netip.MustParsePrefix("198.18.1.1/32"), now+int64(time.Minute))
	ip := netip.MustParseAddr("198.18.1.1")
	if r, d := b.check(ip); r != reasonBanned || d <= 0 || d > time.Minute {
		t.Errorf("banned: %q %v", r, d)
	}
	advanceClock(t, 2*time.Minute)
	if r, _ := b.check(ip); r != reasonBlockList {
		t.Errorf("after the ban: %q", r)
	}
	b.sweepOnce()
	if _, bans := b.counts(); bans != 0 {
		t.Errorf("expired ban not swept: %d", bans)
	}
	if r, _ := b.check(netip.MustParseAddr("198.19.0.1")); r != "" {
		t.Errorf("outside: %q", r)
	}
	// Without storage, a runtime block cannot be set, and nothing changes.
	if _, err := b.block(context.Background(), netip.MustParsePrefix("198.20.0.0/16"), "", 0); err == nil {
		t.Error("block without storage succeeded")
	}
	if r, _ := b.check(netip.MustParseAddr("198.20.0.1")); r != "" {
		t.Errorf("unstored block applies: %q", r)
	}
}

func TestLimiterResponseCounting(t *testing.T) {
	l := newLimiter(RateLimit{Requests: 3, Window: caddy.Duration(time.Hour), IPv6Prefix: 64, MaxClients: 100})
	ip := netip.MustParseAddr("192.0.2.1")
	if n, reset := l.quota(ip); n != 3 || reset <= 0 || reset > time.Hour {
		t.Errorf("fresh quota %d %v", n, reset)
	}
	for i := range 3 {
		if ok, _ := l.peek(ip); !ok {
			t.Fatalf("peek %d refused", i)
		}
		l.record(ip)
	}
	if n, _ := l.quota(ip); n != 0 {
		t.Errorf("quota after 3: %d", n)
	}
	if ok, wait := l.peek(ip); ok || wait <= 0 {
		t.Errorf("over the limit: %v %v", ok, wait)
	}
	l.forget(ip)
	if n, _ := l.quota(ip); n != 3 {
		t.Errorf("quota after forget: %d", n)
	}
	if p := l.prefix(netip.MustParseAddr("2001:db8:1:2:3::4")); p.String() != "2001:db8:1:2::/64" {
		t.Errorf("prefix %s", p)
	}
}
