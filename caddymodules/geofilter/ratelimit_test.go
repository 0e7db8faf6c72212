package geofilter

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func testLimiter(requests int, window time.Duration, maxClients int) *limiter {
	rl := RateLimit{Requests: requests, Window: caddy.Duration(window), MaxClients: maxClients}
	rl.setDefaults()
	return newLimiter(rl)
}

func TestLimiterGCRA(t *testing.T) {
	l := testLimiter(5, 10*time.Second, 0)
	k := l.key(netip.MustParseAddr("192.0.2.1"))
	sec := int64(time.Second)
	now := 100 * sec
	// A full burst is allowed, the next request is not.
	for i := range 5 {
		if ok, _ := l.allowAt(k, now); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.allowAt(k, now)
	if ok {
		t.Fatal("request over the burst allowed")
	}
	// One request is earned back every window/requests = 2s.
	if wait != 2*time.Second {
		t.Fatalf("retry after %s, want 2s", wait)
	}
	if ok, _ := l.allowAt(k, now+2*sec-1); ok {
		t.Fatal("allowed before retry-after elapsed")
	}
	if ok, _ := l.allowAt(k, now+2*sec); !ok {
		t.Fatal("refused after retry-after elapsed")
	}
	// Refused requests do not push the client further back.
	for range 10 {
		l.allowAt(k, now+2*sec)
	}
	if ok, _ := l.allowAt(k, now+4*sec); !ok {
		t.Fatal("refused requests were charged")
	}
	// Steady traffic at the limit is allowed indefinitely.
	k2 := l.key(netip.MustParseAddr("192.0.2.2"))
	for i := range int64(100) {
		if ok, _ := l.allowAt(k2, now+i*2*sec); !ok {
			t.Fatalf("steady request %d refused", i)
		}
	}
	// Other clients are unaffected.
	if ok, _ := l.allowAt(l.key(netip.MustParseAddr("192.0.2.3")), now); !ok {
		t.Fatal("unrelated client refused")
	}
}

func TestLimiterKeys(t *testing.T) {
	l := testLimiter(1, time.Minute, 0)
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
	}
	for _, p := range same {
		if l.key(netip.MustParseAddr(p[0])) != l.key(netip.MustParseAddr(p[1])) {
			t.Errorf("%s and %s counted separately", p[0], p[1])
		}
	}
	differ := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
	}
	for _, p := range differ {
		if l.key(netip.MustParseAddr(p[0])) == l.key(netip.MustParseAddr(p[1])) {
			t.Errorf("%s and %s counted together", p[0], p[1])
		}
	}
	l128 := testLimiter(1, time.Minute, 0)
	l128.v6bits = 128
	if l128.key(netip.MustParseAddr("2001:db8::1")) == l128.key(netip.MustParseAddr("2001:db8::2")) {
		t.Error("prefix 128 merged hosts")
	}
}

func TestLimiterCap(t *testing.T) {
	const maxClients = 1000
	l := testLimiter(1, time.Hour, maxClients)
	now := int64(time.Hour)
	for i := range uint32(5 * maxClients) {
		var k clientKey
		binary.BigEndian.PutUint32(k[12:], i)
		l.allowAt(k, now)
		if n := l.clients(); i%499 == 0 && n > maxClients {
			t.Fatalf("%d clients tracked, cap %d", n, maxClients)
		}
	}
	if n := l.clients(); n > maxClients || n < maxClients/2 {
		t.Fatalf("%d clients tracked, cap %d", n, maxClients)
	}
	// The most recent client is still tracked and limited.
	var k clientKey
	binary.BigEndian.PutUint32(k[12:], 5*maxClients-1)
	if ok, _ := l.allowAt(k, now); ok {
		t.Fatal("recent client forgotten")
	}
	// Expired clients are reused before live ones are evicted.
	l = testLimiter(1, time.Second, 4)
	for i := range uint32(4) {
		var k clientKey
		binary.BigEndian.PutUint32(k[12:], i)
		l.allowAt(k, 0)
	}
	var fresh clientKey
	fresh[0] = 1
	l.allowAt(fresh, int64(2*time.Second))
	if n := l.clients(); n != 4 {
		t.Fatalf("%d clients tracked, want 4", n)
	}
	// A tiny cap is honoured exactly.
	l = testLimiter(1, time.Hour, 1)
	for i := range uint32(10) {
		var k clientKey
		binary.BigEndian.PutUint32(k[12:], i)
		l.allowAt(k, now)
	}
	if n := l.clients(); n != 1 {
		t.Fatalf("%d clients tracked, want 1", n)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := testLimiter(100, time.Minute, 10000)
	done := make(chan int)
	for g := range 4 {
		go func() {
			allowed := 0
			for i := range 2000 {
				ip := netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 3)})
				if ok, _ := l.allow(ip); ok {
					allowed++
				}
			}
			done <- allowed
		}()
	}
	total := 0
	for range 4 {
		total += <-done
	}
	// 12 clients with a burst of 100 each; the run is far shorter than a
	// minute, so at most a few extra requests are earned back.
	if total < 1200 || total > 1300 {
		t.Fatalf("%d requests allowed, want about 1200", total)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for in, want := range map[float64]int{0: 1, 0.001: 1, 1: 1, 1.01: 2, 9.5: 10} {
		if got := retryAfterSeconds(in); got != want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", in, got, want)
		}
	}
}

// BenchmarkLimiterMillionClients feeds 1,000,000 distinct clients (twice the
// cap) through the limiter and reports the memory it holds per client.
func BenchmarkLimiterMillionClients(b *testing.B) {
	const clients, maxClients = 1000000, 500000
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		l := testLimiter(20, 10*time.Second, maxClients)
		now := l.now()
		for i := range uint32(clients) {
			var k clientKey
			binary.BigEndian.PutUint32(k[12:], i)
			l.allowAt(k, now)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		n := l.clients()
		if n > maxClients {
			b.Fatalf("%d clients tracked, cap %d", n, maxClients)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/client")
		b.ReportMetric(float64(n), "clients")
		runtime.KeepAlive(l)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := testLimiter(1000000, time.Second, 0)
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		l.allow(ip)
	}
}
