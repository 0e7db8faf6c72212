package geofilter

import (
	"encoding/binary"
	"math"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
)

func testLimiter(requests int, window time.Duration, maxClients int) *limiter {
	rl := RateLimit{Requests: requests, Window: caddy.Duration(window), MaxClients: maxClients}
	rl.setDefaults()
	return newLimiter(rl)
}

// TestLimiterWindow checks the contract: at most requests per window, the
// next one refused, however the allowed ones are spread inside the window.
func TestLimiterWindow(t *testing.T) {
	const sec = int64(time.Second)
	l := testLimiter(20, 10*time.Second, 0)
	k := l.key(netip.MustParseAddr("192.0.2.1"))
	start := 100 * 10 * sec // a window boundary
	// 20 requests spread over 9 of the window's 10 seconds pass.
	for i := range int64(20) {
		if ok, _ := l.allowAt(k, start+i*9*sec/19); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.allowAt(k, start+9500*int64(time.Millisecond))
	if ok {
		t.Fatal("21st request inside the window allowed")
	}
	// In the next window the 20 count for (10-e)/10; one more fits once
	// 20*(10-e)/10 + 1 <= 20, at e = 0.5s, which is 1s from 9.5s.
	if wait != time.Second {
		t.Fatalf("retry after %s, want 1s", wait)
	}
	// Refused requests are not counted.
	for range 10 {
		l.allowAt(k, start+9999*int64(time.Millisecond))
	}
	next := start + 10*sec
	if ok, _ := l.allowAt(k, next+sec/2-1); ok {
		t.Fatal("allowed before retry-after elapsed")
	}
	// Other clients are unaffected.
	if ok, _ := l.allowAt(l.key(netip.MustParseAddr("192.0.2.3")), start+9*sec); !ok {
		t.Fatal("unrelated client refused")
	}
}

// TestLimiterRecovery checks that the allowance comes back during the next
// window as the weighted estimate predicts: with 20 counted in the previous
// window, floor(20*e/10s) requests fit by elapsed time e, and each refusal's
// wait is exact.
func TestLimiterRecovery(t *testing.T) {
	const sec = int64(time.Second)
	l := testLimiter(20, 10*time.Second, 0)
	k := l.key(netip.MustParseAddr("192.0.2.1"))
	start := 50 * 10 * sec
	for range 20 {
		if ok, _ := l.allowAt(k, start); !ok {
			t.Fatal("burst refused")
		}
	}
	next := start + 10*sec
	allowed := int64(0)
	for e := int64(0); e < 10*sec; e += sec / 8 {
		// Greedy client: as many as fit at this instant.
		for {
			ok, wait := l.allowAt(k, next+e)
			if !ok {
				if wait <= 0 {
					t.Fatalf("at %s: refused with wait %s", time.Duration(e), wait)
				}
				// One nanosecond early is refused, on time is allowed.
				probe := testLimiter(20, 10*time.Second, 0)
				replay(t, probe, k, start, next, allowed, e)
				if ok, _ := probe.allowAt(k, next+e+int64(wait)-1); ok {
					t.Fatalf("at %s: allowed before the %s wait", time.Duration(e), wait)
				}
				if ok, _ := probe.allowAt(k, next+e+int64(wait)); !ok {
					t.Fatalf("at %s: refused after the %s wait", time.Duration(e), wait)
				}
				break
			}
			allowed++
		}
		if want := 20 * e / (10 * sec); allowed != want {
			t.Fatalf("at %s into the window: %d allowed, want %d", time.Duration(e), allowed, want)
		}
	}
	// Two windows later everything is forgotten.
	for i := range 20 {
		if ok, _ := l.allowAt(k, next+20*sec+int64(i)); !ok {
			t.Fatalf("request %d refused after two quiet windows", i)
		}
	}
}

// replay puts l in the state TestLimiterRecovery's limiter is in: a burst of
// 20 at start and n requests in the next window by elapsed time e.
func replay(t *testing.T, l *limiter, k clientKey, start, next, n, e int64) {
	t.Helper()
	for range 20 {
		l.allowAt(k, start)
	}
	for range n {
		if ok, _ := l.allowAt(k, next+e); !ok {
			t.Fatal("replay refused")
		}
	}
}

// TestLimiterShortBurst sends 21 requests over 0.7s at many phases of the
// window, including across a window boundary: the 21st is always refused.
func TestLimiterShortBurst(t *testing.T) {
	const window = 10 * time.Second
	for phase := range int64(200) {
		l := testLimiter(20, window, 0)
		k := l.key(netip.MustParseAddr("198.51.100.1"))
		t0 := 30*int64(window) + phase*int64(window)/200
		allowed := 0
		for i := range int64(21) {
			if ok, _ := l.allowAt(k, t0+i*int64(700*time.Millisecond)/20); ok {
				allowed++
			}
		}
		if allowed != 20 {
			t.Fatalf("phase %d/200: %d of 21 allowed", phase, allowed)
		}
	}
}

// TestLimiterSteady checks that a client spacing its requests evenly just
// under the limit is never refused.
func TestLimiterSteady(t *testing.T) {
	l := testLimiter(20, 10*time.Second, 0)
	k := l.key(netip.MustParseAddr("192.0.2.2"))
	gap := int64(10*time.Second) / 19
	for i := range int64(500) {
		if ok, _ := l.allowAt(k, 12345+i*gap); !ok {
			t.Fatalf("steady request %d refused", i)
		}
	}
}

func TestLimiterWaitLongWindow(t *testing.T) {
	// Counts times nanoseconds overflow 64 bits here.
	l := testLimiter(1<<31, 24*time.Hour, 0)
	k := l.key(netip.MustParseAddr("192.0.2.9"))
	if !l.fits(1<<31, 1, int64(time.Hour)) || l.fits(1<<31, 1<<31, 1) {
		t.Fatal("128-bit comparison wrong")
	}
	if ok, _ := l.allowAt(k, 0); !ok {
		t.Fatal("first request refused")
	}
	l1 := testLimiter(1, time.Hour, 0)
	l1.allowAt(k, 0)
	// Limit 1, used at the start: the next fits at the start of the window
	// after the next one.
	if ok, wait := l1.allowAt(k, int64(time.Minute)); ok || wait != 119*time.Minute {
		t.Fatalf("got %v, retry after %s; want refused, 1h59m", ok, wait)
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
	// A /64 shares one allowance.
	for i, s := range []string{"2001:db8:7:1::1", "2001:db8:7:1:aaaa::2"} {
		ok, _ := l.allow(netip.MustParseAddr(s))
		if ok != (i == 0) {
			t.Fatalf("%s: allowed %v", s, ok)
		}
	}
	if ok, _ := l.allow(netip.MustParseAddr("2001:db8:7:2::1")); !ok {
		t.Fatal("neighbouring /64 refused")
	}
	l128 := testLimiter(1, time.Minute, 0)
	l128.v6bits = 128
	if l128.key(netip.MustParseAddr("2001:db8::1")) == l128.key(netip.MustParseAddr("2001:db8::2")) {
		t.Error("prefix 128 merged hosts")
	}
}

func TestLimiterCap(t *testing.T) {
	if n := unsafe.Sizeof(limiterSlot{}); n != 32 {
		t.Errorf("limiterSlot is %d bytes, want 32", n)
	}
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
	l.allowAt(fresh, int64(2*time.Second)) // two windows later
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
	// 12 clients with 100 each; the run is far shorter than the first
	// one-minute window, so no more is earned back.
	if total != 1200 {
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

// BenchmarkLimiterAllow measures an allowed request (the limit is never
// reached) and BenchmarkLimiterRefused a refused one, Retry-After included.
func BenchmarkLimiterAllow(b *testing.B) {
	l := testLimiter(math.MaxUint32, time.Second, 0)
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := l.allow(ip); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkLimiterRefused(b *testing.B) {
	l := testLimiter(20, time.Hour, 0)
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		l.allow(ip)
	}
}

// TestLimiterStaleTime checks that a request carrying a time from before
// the client's current window (read before a concurrent request moved the
// client on) does not clear the client's counts.
func TestLimiterStaleTime(t *testing.T) {
	const sec = int64(time.Second)
	l := testLimiter(5, 10*time.Second, 0)
	k := l.key(netip.MustParseAddr("192.0.2.1"))
	boundary := 100 * 10 * sec
	allowed := 0
	for i := range int64(5) { // fill the budget just after the boundary
		if ok, _ := l.allowAt(k, boundary+1+i); ok {
			allowed++
		}
	}
	if ok, _ := l.allowAt(k, boundary-1); ok { // the straggler
		allowed++
	}
	for i := range int64(5) {
		if ok, _ := l.allowAt(k, boundary+100+i); ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("allowed %d requests within a few nanoseconds, limit 5", allowed)
	}
}
