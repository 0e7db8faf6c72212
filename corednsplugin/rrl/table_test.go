package rrl

import (
	"hash/maphash"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const sec = int64(time.Second)

// run checks key n times, dt apart from start, and returns the verdicts.
func run(tb *table, key uint64, lim limits, slipEvery uint32, start, dt int64, n int) []verdict {
	out := make([]verdict, n)
	for i := range n {
		out[i], _, _, _ = tb.check(key, lim, slipEvery, start+int64(i)*dt)
	}
	return out
}

func count(vs []verdict, want verdict) int {
	n := 0
	for _, v := range vs {
		if v == want {
			n++
		}
	}
	return n
}

func TestRateBurstThenLimit(t *testing.T) {
	lim := newLimits(5, 15*time.Second)
	tb := newTable(1000)
	// A burst at one instant: the balance holds rate responses.
	vs := run(tb, 1, lim, 0, 0, 0, 20)
	if got := count(vs[:5], allow); got != 5 {
		t.Fatalf("first 5 of a burst: %d allowed, want 5 (%v)", got, vs)
	}
	if got := count(vs[5:], allow); got != 0 {
		t.Fatalf("beyond the burst: %d allowed, want 0 (%v)", got, vs)
	}
}

func TestSteadyRateNeverLimited(t *testing.T) {
	lim := newLimits(5, 15*time.Second)
	tb := newTable(1000)
	vs := run(tb, 1, lim, 2, 0, sec/5, 500) // exactly 5/s for 100s
	if got := count(vs, allow); got != len(vs) {
		t.Fatalf("a client at the rate: %d of %d allowed", got, len(vs))
	}
}

func TestFloodLimitedUntilWindowPasses(t *testing.T) {
	const window = 15 * time.Second
	lim := newLimits(5, window)
	// A flood at 10 times the rate for 10s gets only the initial burst
	// (plus nothing: dropped responses are debited too, down to the
	// window's floor).
	flood := func(tb *table) int64 {
		vs := run(tb, 7, lim, 0, 0, sec/50, 500)
		if got := count(vs, allow); got < 5 || got > 6 {
			t.Fatalf("flood at 50/s: %d allowed, want the burst of 5", got)
		}
		return 500 * sec / 50
	}
	tb := newTable(1000)
	end := flood(tb)
	if v, _, _, _ := tb.check(7, lim, 0, end+int64(window)/2); v == allow {
		t.Error("half a window after the flood: allowed, want still limited")
	}
	tb = newTable(1000)
	end = flood(tb)
	if v, _, _, _ := tb.check(7, lim, 0, end+int64(window)+sec); v != allow {
		t.Error("a window after the flood: limited, want allowed")
	}
	// A shorter window forgives sooner.
	lim = newLimits(5, time.Second)
	tb = newTable(1000)
	vs := run(tb, 7, lim, 0, 0, sec/50, 500)
	if v, _, _, _ := tb.check(7, lim, 0, 10*sec+2*sec); v != allow || count(vs, allow) > 6 {
		t.Errorf("window 1s: %v after 2s, %d allowed during the flood", v, count(vs, allow))
	}
}

func TestSlipCadence(t *testing.T) {
	lim := newLimits(1, 15*time.Second)
	for _, tc := range []struct {
		slip uint32
		want []verdict // the verdicts after the one allowed response
	}{
		{0, []verdict{drop, drop, drop, drop, drop, drop}},
		{1, []verdict{slip, slip, slip, slip, slip, slip}},
		{2, []verdict{drop, slip, drop, slip, drop, slip}},
		{3, []verdict{drop, drop, slip, drop, drop, slip}},
	} {
		tb := newTable(100)
		vs := run(tb, 3, lim, tc.slip, 0, 0, 7)
		if vs[0] != allow {
			t.Fatalf("slip %d: first response %v", tc.slip, vs[0])
		}
		for i, want := range tc.want {
			if vs[i+1] != want {
				t.Errorf("slip %d: suppressed response %d: %v, want %v (%v)", tc.slip, i+1, vs[i+1], want, vs)
				break
			}
		}
	}
}

func TestUnlimitedCategory(t *testing.T) {
	if l := newLimits(0, time.Second); l.interval != 0 {
		t.Fatalf("rate 0: %+v, want no limit", l)
	}
}

func TestTableCapacityAndEviction(t *testing.T) {
	lim := newLimits(1, 15*time.Second)
	tb := newTable(8)
	if tb.capacity() != 8 || len(tb.shards) != 1 {
		t.Fatalf("table of 8: capacity %d in %d shards", tb.capacity(), len(tb.shards))
	}
	const hot = 1 << 40
	// The hot key floods; thousands of other keys pass by, as spoofed
	// sources would. The table never grows and the hot key, touched
	// between every two new keys, keeps its debt.
	evictions := 0
	for i := range uint64(5000) {
		if v, _, _, _ := tb.check(hot, lim, 0, 0); i > 0 && v == allow {
			t.Fatalf("hot key allowed again after %d other keys: its account was evicted", i)
		}
		_, _, added, evicted := tb.check(i+1, lim, 0, 0)
		if evicted {
			evictions++
		} else if !added {
			t.Fatalf("key %d: neither added nor evicted", i+1)
		}
		if n := tb.len(); n > 8 {
			t.Fatalf("table holds %d accounts, capacity 8", n)
		}
	}
	if evictions != 5000-7 {
		t.Errorf("%d evictions, want %d", evictions, 5000-7)
	}
	checkIndex(t, tb)
}

func TestTableShardsBounded(t *testing.T) {
	tb := newTable(100000)
	if len(tb.shards) != maxShards || tb.capacity() < 100000 || tb.capacity() > 100000+maxShards {
		t.Fatalf("table of 100000: %d shards, capacity %d", len(tb.shards), tb.capacity())
	}
	lim := newLimits(10, time.Second)
	for i := range 300000 {
		tb.check(rand.Uint64(), lim, 0, int64(i))
	}
	if n := tb.len(); n > tb.capacity() {
		t.Fatalf("%d accounts, capacity %d", n, tb.capacity())
	}
	checkIndex(t, tb)
}

// TestTableIndex churns a small table with random keys and checks that
// every account stays reachable through the index after the deletions'
// backward shifts.
func TestTableIndex(t *testing.T) {
	lim := newLimits(1, time.Second)
	tb := newTable(200)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		// Few distinct low bits: long probe sequences that wrap around.
		k := r.Uint64()&^0xffff | uint64(r.IntN(40))
		tb.check(k, lim, 0, int64(i)*sec/100)
		if i%997 == 0 {
			checkIndex(t, tb)
		}
	}
	checkIndex(t, tb)
}

func checkIndex(t *testing.T, tb *table) {
	t.Helper()
	for si := range tb.shards {
		s := &tb.shards[si]
		used := 0
		for _, v := range s.slots {
			if v != 0 {
				used++
			}
		}
		if used != len(s.accounts) {
			t.Fatalf("shard %d: %d slots used for %d accounts", si, used, len(s.accounts))
		}
		for i, a := range s.accounts {
			slot, ok := s.find(a.key)
			if !ok || int(s.slots[slot]-1) != i {
				t.Fatalf("shard %d: account %d (key %x) not found through the index", si, i, a.key)
			}
		}
	}
}

func TestKeyOfLongNames(t *testing.T) {
	seed := maphash.MakeSeed()
	ip := net.ParseIP("192.0.2.1").To4()
	long := strings.Repeat(`\065bc.`, 200) // 1200 bytes in presentation format
	k := keyOf(seed, catResponse, ip, false, 24, dns.TypeA, long)
	if k != keyOf(seed, catResponse, ip, false, 24, dns.TypeA, strings.ToUpper(long)) {
		t.Error("long names differing in case have different keys")
	}
	if k == keyOf(seed, catResponse, ip, false, 24, dns.TypeA, long[:len(long)-3]+"x.") {
		t.Error("long names differing in their last bytes share a key")
	}
	if k == keyOf(seed, catResponse, ip, false, 24, dns.TypeAAAA, long) {
		t.Error("positive answers of different types share a key")
	}
	if keyOf(seed, catNodata, ip, false, 24, dns.TypeA, "a.") != keyOf(seed, catNodata, ip, false, 24, dns.TypeMX, "A.") {
		t.Error("NODATA keys depend on the type")
	}
}
