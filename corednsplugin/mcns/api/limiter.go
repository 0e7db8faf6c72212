package api

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Authentication that may fail is allowed in a burst of failBurst per
// client, refilling at one attempt per failEvery; beyond that the client
// gets 429 without its token being sent to MCIAS. Each attempt takes its
// allowance before it is checked, so parallel guesses cannot all be in
// flight at once, and a success gives it back. Tokens known valid without
// asking anyone (tokens file, cached MCIAS verdict) never meet the limiter:
// see require.
const (
	failBurst      = 10
	failEvery      = 3 * time.Second
	maxFailClients = 1 << 16
)

// failLimiter slows down repeated failed authentication per client address
// (an IPv6 client by its /64, which one host usually controls whole).
//
// It keeps its own token buckets rather than golang.org/x/time/rate's
// Limiter: an attempt's allowance must be taken before the (slow) check and
// given back when the token proves valid, and rate can only cancel a
// reservation that has not yet come due, which an immediate one always has.
type failLimiter struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[netip.Prefix]*bucket
	swept   time.Time
}

// bucket is one client's allowance: tokens as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// level is the allowance at now, refilled since at up to failBurst.
func (b *bucket) level(now time.Time) float64 {
	refill := max(now.Sub(b.at), 0).Seconds() / failEvery.Seconds()
	return min(b.tokens+refill, failBurst)
}

func newFailLimiter() *failLimiter {
	return &failLimiter{now: time.Now, clients: make(map[netip.Prefix]*bucket)}
}

// clientKey is the limiter's key for a RemoteAddr; no proxy headers are
// trusted, since the API is reached directly.
func clientKey(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p
}

// exhausted reports whether an allowance at level has no attempt left, and
// how long until it has one.
func exhausted(level float64) (bool, time.Duration) {
	if level >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - level) * float64(failEvery))
}

// take uses one attempt of the client's allowance before its token is
// checked. When none is left it reports false and how long to wait.
func (l *failLimiter) take(key netip.Prefix) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.clients[key]
	if b == nil {
		l.sweepLocked(now)
		b = &bucket{tokens: failBurst, at: now}
		l.clients[key] = b
	}
	level := b.level(now)
	if blocked, d := exhausted(level); blocked {
		return false, d
	}
	b.tokens, b.at = level-1, now
	return true, 0
}

// refund gives back an attempt taken for a check that did not fail: the
// token was valid, or the identity service could not say.
func (l *failLimiter) refund(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[key]
	if b == nil {
		return // forgotten meanwhile: it starts full anyway
	}
	now := l.now()
	b.tokens, b.at = min(b.level(now)+1, failBurst), now
}

// sweepLocked forgets clients whose allowance has refilled, so the map holds
// only recent offenders; if a flood of addresses still fills it, they start
// over rather than grow memory without bound.
func (l *failLimiter) sweepLocked(now time.Time) {
	if len(l.clients) < maxFailClients && now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.clients {
		if b.level(now) >= failBurst {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxFailClients {
		clear(l.clients)
	}
}
