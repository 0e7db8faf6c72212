package geofilter

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// RateLimit limits how often one client may be served.
type RateLimit struct {
	// Requests allowed per window for one client (or connections, in the
	// listener wrapper). Up to this many may arrive in a burst.
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

// limiter is a sharded GCRA (generic cell rate algorithm) limiter: each
// client costs one key and one int64 "theoretical arrival time", so memory
// per client is constant. A request is allowed when the client's TAT,
// advanced by one emission interval, stays within one window of now.
type limiter struct {
	interval int64 // window / requests, in ns
	window   int64 // ns
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

type limiterSlot struct {
	key clientKey
	tat int64
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
		interval: int64(rl.Window) / int64(rl.Requests),
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
func (l *limiter) now() int64 { return int64(time.Since(l.epoch)) }

// allow records one request from ip. When the request is over the limit it
// returns false and how long until the next one would be allowed.
func (l *limiter) allow(ip netip.Addr) (bool, time.Duration) {
	return l.allowAt(l.key(ip), l.now())
}

func (l *limiter) allowAt(k clientKey, now int64) (bool, time.Duration) {
	s := &l.shards[k.hash()&l.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[k]; ok {
		slot := &s.slots[i]
		tat := max(slot.tat, now) + l.interval
		if tat-now > l.window {
			return false, time.Duration(tat - l.window - now)
		}
		slot.tat = tat
		return true, 0
	}
	s.insert(k, now+l.interval, now, l.perShard)
	return true, 0
}

// insert adds a client, evicting when the shard is at its cap. An expired
// client (TAT in the past) behaves exactly like an absent one, so those are
// reused first; otherwise the slot under the clock hand, the oldest
// admission, is evicted.
func (s *limiterShard) insert(k clientKey, tat, now int64, capacity int) {
	if capacity <= 0 {
		return
	}
	if len(s.slots) < capacity {
		s.index[k] = uint32(len(s.slots))
		s.slots = append(s.slots, limiterSlot{key: k, tat: tat})
		return
	}
	victim := s.hand
	for i := range evictProbe {
		j := (s.hand + i) % len(s.slots)
		if s.slots[j].tat <= now {
			victim = j
			break
		}
	}
	delete(s.index, s.slots[victim].key)
	s.slots[victim] = limiterSlot{key: k, tat: tat}
	s.index[k] = uint32(victim)
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
