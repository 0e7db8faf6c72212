package geofilter

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// RateLimit limits how often one client may be served.
type RateLimit struct {
	// Requests allowed per window for one client (or connections, in the
	// listener wrapper). The count over the last window is estimated from
	// the current and the previous fixed window (a sliding-window counter):
	// the (requests+1)th request inside one fixed window, or within
	// window/requests of the first, is refused.
	Requests int `json:"requests,omitempty"`
	// Length of the window.
	Window caddy.Duration `json:"window,omitempty"`
	// IPv6 clients are counted per network of this prefix length, since one
	// host usually holds a whole /64. Default 64.
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`
	// Hard cap on tracked clients; when full, the oldest are forgotten.
	// Default 1000000.
	MaxClients int `json:"max_clients,omitempty"`
	// Optional name; limits with equal settings and zone share their
	// per-client state (also across config reloads).
	Zone string `json:"zone,omitempty"`
}

const (
	defaultIPv6Prefix = 64
	defaultMaxClients = 1000000
)

func (rl *RateLimit) setDefaults() {
	if rl.IPv6Prefix == 0 {
		rl.IPv6Prefix = defaultIPv6Prefix
	}
	if rl.MaxClients == 0 {
		rl.MaxClients = defaultMaxClients
	}
}

func (rl *RateLimit) validate() error {
	if rl.Requests <= 0 {
		return fmt.Errorf("rate_limit: requests must be positive, got %d", rl.Requests)
	}
	if rl.Window <= 0 {
		return fmt.Errorf("rate_limit: window must be positive, got %s", time.Duration(rl.Window))
	}
	if rl.Requests > math.MaxUint32 {
		return fmt.Errorf("rate_limit: at most %d requests per window, got %d", uint32(math.MaxUint32), rl.Requests)
	}
	if time.Duration(rl.Window)/time.Duration(rl.Requests) <= 0 {
		return fmt.Errorf("rate_limit: %d requests per %s is too fine-grained", rl.Requests, time.Duration(rl.Window))
	}
	if rl.IPv6Prefix < 0 || rl.IPv6Prefix > 128 {
		return fmt.Errorf("rate_limit_ipv6_prefix: must be 1..128, got %d", rl.IPv6Prefix)
	}
	if rl.MaxClients < 0 {
		return fmt.Errorf("rate_limit_max_clients: must be positive, got %d", rl.MaxClients)
	}
	return nil
}

// poolKey identifies limiter state that may be carried over a reload: only
// an unchanged limit keeps its counters.
func (rl *RateLimit) poolKey(scope string) string {
	return fmt.Sprintf("geofilter.limit:%s:%d/%d:v6=%d:max=%d:zone=%s",
		scope, rl.Requests, int64(rl.Window), rl.IPv6Prefix, rl.MaxClients, rl.Zone)
}

// limiterPool keeps limiter state across config reloads.
var limiterPool = caddy.NewUsagePool()

// limiter is a sharded sliding-window counter, as Cloudflare describes it:
// time is cut into fixed windows, each client keeps the count of the
// current and the previous window, and a request is allowed while
//
//	prev*(window-elapsed)/window + curr + 1 <= requests
//
// i.e. the previous window's count is weighted by the part of it that still
// lies within one window of now. This is an estimate that assumes the
// previous window's requests were spread evenly: any requests+1 requests
// within window/requests of each other always meet a refusal, as does the
// (requests+1)th inside one fixed window, but a client that packs its
// requests at the end of one window and spreads more over the next can get
// up to about twice the limit through in one window's time. An exact
// sliding log would cost memory per request; this costs one key, one window
// number and two counters per client (O(1)). Refused requests are not
// counted, so a client that keeps knocking is not pushed further back.
type limiter struct {
	limit    uint64       // requests per window
	window   int64        // ns
	lastWin  atomic.Int64 // number of the window last seen, to skip a division
	v6bits   int
	epoch    time.Time
	shards   []limiterShard
	mask     uint64
	perShard int
}

type limiterShard struct {
	mu    sync.Mutex
	index map[clientKey]uint32
	slots []limiterSlot
	hand  int
	_     [64]byte // keep hot shard headers off each other's cache lines
}

// limiterSlot is one client's state: 32 bytes.
type limiterSlot struct {
	key clientKey
	// Number of the window curr counts (ns since epoch / window). Full 64
	// bits, so that it never wraps and a window before it is recognised.
	win  int64
	curr uint32 // requests allowed in window win
	prev uint32 // requests allowed in window win-1
}

// idle returns how many windows ago the slot last counted, given window n.
func (s *limiterSlot) idle(n int64) int64 { return n - s.win }

// roll moves the slot to window n >= win, shifting or clearing its counts.
func (s *limiterSlot) roll(n int64) {
	switch s.idle(n) {
	case 0:
	case 1:
		s.prev, s.curr = s.curr, 0
	default:
		s.prev, s.curr = 0, 0
	}
	s.win = n
}

// clientKey is an IPv4 address or an IPv6 network, as 16 bytes.
type clientKey [16]byte

// evictProbe is how many slots past the clock hand are searched for an
// expired client before the oldest one is evicted.
const evictProbe = 8

const (
	maxShards       = 256
	minShardClients = 1024
)

// Destruct implements caddy.Destructor; the state is simply dropped.
func (l *limiter) Destruct() error { return nil }

func newLimiter(rl RateLimit) *limiter {
	// Shard count is a power of two, so the per-shard caps add up to at
	// most MaxClients; each shard holds at least minShardClients so that
	// uneven hashing does not evict clients long before the cap is reached.
	n := 1
	for n < maxShards && n*2*minShardClients <= rl.MaxClients {
		n *= 2
	}
	l := &limiter{
		limit:    uint64(rl.Requests),
		window:   int64(rl.Window),
		v6bits:   rl.IPv6Prefix,
		epoch:    time.Now(),
		shards:   make([]limiterShard, n),
		mask:     uint64(n - 1),
		perShard: rl.MaxClients / n,
	}
	for i := range l.shards {
		l.shards[i].index = make(map[clientKey]uint32)
	}
	return l
}

func (l *limiter) key(ip netip.Addr) clientKey {
	if ip.Is4() || ip.Is4In6() {
		return ip.Unmap().As16()
	}
	if p, err := ip.Prefix(l.v6bits); err == nil {
		return p.Addr().As16()
	}
	return ip.As16()
}

func (k *clientKey) hash() uint64 {
	var lo, hi uint64
	for i := range 8 {
		lo = lo<<8 | uint64(k[i])
		hi = hi<<8 | uint64(k[8+i])
	}
	// murmur3's finalizer spreads every input bit over the shard index.
	h := lo*0x9E3779B97F4A7C15 ^ hi
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	return h
}

// now returns monotonic nanoseconds since the limiter was created.
// (clockSkew lets tests move it forward.)
func (l *limiter) now() int64 { return int64(time.Since(l.epoch)) + clockSkew.Load() }

// allow records one request from ip. When the request is over the limit it
// returns false and how long until the next one would be allowed.
func (l *limiter) allow(ip netip.Addr) (bool, time.Duration) {
	k := l.key(ip)
	s := &l.shards[k.hash()&l.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	// The clock is read under the lock: a time read before waiting for it
	// could lie in a window before the one a concurrent request has since
	// moved the client to.
	return l.allowLocked(s, k, l.now())
}

// allowAt is allow for a given key and time.
func (l *limiter) allowAt(k clientKey, now int64) (bool, time.Duration) {
	s := &l.shards[k.hash()&l.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	return l.allowLocked(s, k, now)
}

// windowAt returns the number of the window holding now and how far into
// it now is. Requests come in time order, nearly always in the window seen
// last, so the (slow) division is only done when the window changes.
func (l *limiter) windowAt(now int64) (int64, int64) {
	n := l.lastWin.Load()
	elapsed := now - n*l.window
	if elapsed < 0 || elapsed >= l.window {
		n = now / l.window
		elapsed = now - n*l.window
		l.lastWin.Store(n)
	}
	return n, elapsed
}

// allowLocked is allowAt with s, the shard of k, locked.
func (l *limiter) allowLocked(s *limiterShard, k clientKey, now int64) (bool, time.Duration) {
	n, elapsed := l.windowAt(now)
	if i, ok := s.index[k]; ok {
		slot := &s.slots[i]
		if n < slot.win {
			// A time older than the client's window (the clock is read under
			// the lock, so only a caller passing a stale time gets here):
			// count it at the start of that window, the strictest reading,
			// rather than let the window arithmetic clear the counts.
			n, elapsed = slot.win, 0
		}
		slot.roll(n)
		if !l.fits(uint64(slot.prev), uint64(slot.curr)+1, elapsed) {
			return false, l.wait(uint64(slot.prev), uint64(slot.curr), elapsed)
		}
		slot.curr++
		return true, 0
	}
	s.insert(limiterSlot{key: k, win: n, curr: 1}, n, l.perShard)
	return true, 0
}

// fits reports whether prev*(window-elapsed)/window + curr <= limit, in
// exact 128-bit arithmetic (the products of counts and nanoseconds overflow
// 64 bits for long windows).
func (l *limiter) fits(prev, curr uint64, elapsed int64) bool {
	w := uint64(l.window)
	ph, pl := bits.Mul64(prev, w-uint64(elapsed))
	ch, cl := bits.Mul64(curr, w)
	lo, carry := bits.Add64(pl, cl, 0)
	hi, _ := bits.Add64(ph, ch, carry)
	mh, ml := bits.Mul64(l.limit, w)
	return hi < mh || hi == mh && lo <= ml
}

// wait returns how long a refused client has to wait until one more request
// fits: later in this window, as the previous window's weight fades, or in
// the next one, where curr becomes the weighted count. The result is exact
// to the nanosecond, so a client that waits as told is allowed.
func (l *limiter) wait(prev, curr uint64, elapsed int64) time.Duration {
	if curr < l.limit && prev > 0 {
		// prev*(window-e) <= (limit-curr-1)*window
		if e := l.window - mulDiv(l.limit-curr-1, l.window, prev); e < l.window {
			return time.Duration(max(e-elapsed, 1))
		}
	}
	// Next window: curr*(window-e) <= (limit-1)*window, e in [0, window]
	// (e = window: the start of the window after it).
	e := int64(0)
	if curr > 0 {
		e = max(l.window-mulDiv(l.limit-1, l.window, curr), 0)
	}
	return time.Duration(l.window - elapsed + e)
}

// mulDiv returns min(a*b/c, b) for c > 0, without overflow.
func mulDiv(a uint64, b int64, c uint64) int64 {
	hi, lo := bits.Mul64(a, uint64(b))
	if hi >= c {
		return b
	}
	q, _ := bits.Div64(hi, lo, c)
	return int64(min(q, uint64(b)))
}

// insert adds a client, evicting when the shard is at its cap. A client
// whose counts lie two or more windows back behaves exactly like an absent
// one, so those are reused first; otherwise the slot under the clock hand,
// the oldest admission, is evicted.
func (s *limiterShard) insert(slot limiterSlot, n int64, capacity int) {
	if capacity <= 0 {
		return
	}
	if len(s.slots) < capacity {
		s.index[slot.key] = uint32(len(s.slots))
		s.slots = append(s.slots, slot)
		return
	}
	victim := s.hand
	for i := range evictProbe {
		j := (s.hand + i) % len(s.slots)
		if s.slots[j].idle(n) >= 2 {
			victim = j
			break
		}
	}
	if j, ok := s.index[s.slots[victim].key]; ok && int(j) == victim {
		delete(s.index, s.slots[victim].key) // not for a forgotten slot
	}
	s.slots[victim] = slot
	s.index[slot.key] = uint32(victim)
	s.hand = (victim + 1) % len(s.slots)
}

// clients returns the number of tracked clients.
func (l *limiter) clients() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

// acquireLimiter returns the limiter for rl, shared with the previous
// config when rl is unchanged.
func acquireLimiter(rl RateLimit, scope string) (*limiter, string, error) {
	key := rl.poolKey(scope)
	val, _, err := limiterPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return newLimiter(rl), nil
	})
	if err != nil {
		return nil, "", err
	}
	return val.(*limiter), key, nil
}

func releaseLimiter(key string) {
	_, _ = limiterPool.Delete(key)
}

// lockShard locks the shard of ip's client and returns it with the key.
func (l *limiter) lockShard(ip netip.Addr) (*limiterShard, clientKey) {
	k := l.key(ip)
	s := &l.shards[k.hash()&l.mask]
	s.mu.Lock()
	return s, k
}

// slotLocked returns ip's slot moved to the window of now, with the window
// number and how far into it now is; slot is nil for an unknown client.
// The shard is locked.
func (l *limiter) slotLocked(s *limiterShard, k clientKey, now int64) (*limiterSlot, int64, int64) {
	n, elapsed := l.windowAt(now)
	i, ok := s.index[k]
	if !ok {
		return nil, n, elapsed
	}
	slot := &s.slots[i]
	if n < slot.win {
		n, elapsed = slot.win, 0
	}
	slot.roll(n)
	return slot, n, elapsed
}

// peek reports whether one more request from ip fits now, like allow, but
// does not count it: with rate_limit_status, the response decides that.
func (l *limiter) peek(ip netip.Addr) (bool, time.Duration) {
	s, k := l.lockShard(ip)
	defer s.mu.Unlock()
	slot, _, elapsed := l.slotLocked(s, k, l.now())
	if slot == nil || l.fits(uint64(slot.prev), uint64(slot.curr)+1, elapsed) {
		return true, 0
	}
	return false, l.wait(uint64(slot.prev), uint64(slot.curr), elapsed)
}

// record counts one request from ip, whether or not it fits: it has been
// served already.
func (l *limiter) record(ip netip.Addr) {
	s, k := l.lockShard(ip)
	defer s.mu.Unlock()
	slot, n, _ := l.slotLocked(s, k, l.now())
	if slot == nil {
		s.insert(limiterSlot{key: k, win: n, curr: 1}, n, l.perShard)
		return
	}
	if slot.curr < math.MaxUint32 {
		slot.curr++
	}
}

// quota returns how many more requests from ip fit now, and how long until
// the current fixed window ends (when the count starts to fade).
func (l *limiter) quota(ip netip.Addr) (uint64, time.Duration) {
	s, k := l.lockShard(ip)
	defer s.mu.Unlock()
	slot, _, elapsed := l.slotLocked(s, k, l.now())
	reset := time.Duration(l.window - elapsed)
	if slot == nil {
		return l.limit, reset
	}
	// remaining = floor((limit*w - prev*(w-e)) / w) - curr
	w := uint64(l.window)
	ah, al := bits.Mul64(l.limit, w)
	bh, bl := bits.Mul64(uint64(slot.prev), w-uint64(elapsed))
	if bh > ah || bh == ah && bl > al {
		return 0, reset
	}
	dl, borrow := bits.Sub64(al, bl, 0)
	dh, _ := bits.Sub64(ah, bh, borrow)
	q, _ := bits.Div64(dh, dl, w)
	if q <= uint64(slot.curr) {
		return 0, reset
	}
	return q - uint64(slot.curr), reset
}

// prefix returns the network ip is counted as: the address for IPv4, the
// ipv6_prefix network for IPv6.
func (l *limiter) prefix(ip netip.Addr) netip.Prefix {
	k := l.key(ip)
	a := netip.AddrFrom16(k).Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	return netip.PrefixFrom(a, l.v6bits)
}

// forget drops what is known about ip's client.
func (l *limiter) forget(ip netip.Addr) {
	s, k := l.lockShard(ip)
	defer s.mu.Unlock()
	if i, ok := s.index[k]; ok {
		// The slot stays in place (it is part of the eviction ring) but
		// counts nothing; a zero key marks it free for the next insert.
		delete(s.index, k)
		s.slots[i] = limiterSlot{win: math.MinInt64 / 2}
	}
}
