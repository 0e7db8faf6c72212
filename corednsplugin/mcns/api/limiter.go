package api

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed authentication is allowed in a burst of failBurst per client, then
// refills at one attempt per failEvery; beyond that the client gets 429
// without its token being checked at all.
const (
	failBurst      = 10
	failEvery      = 3 * time.Second
	maxFailClients = 1 << 16
)

// failLimiter slows down repeated failed authentication per client address
// (an IPv6 client by its /64, which one host usually controls whole).
type failLimiter struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[netip.Prefix]*rate.Limiter
	swept   time.Time
}

func newFailLimiter() *failLimiter {
	return &failLimiter{now: time.Now, clients: make(map[netip.Prefix]*rate.Limiter)}
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

// blocked reports whether the client has used up its failed attempts, and
// how long until it may try again.
func (l *failLimiter) blocked(key netip.Prefix) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.clients[key]
	if lim == nil {
		return false, 0
	}
	now := l.now()
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) * float64(failEvery))
}

// fail records a failed attempt.
func (l *failLimiter) fail(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim := l.clients[key]
	if lim == nil {
		l.sweepLocked(now)
		lim = rate.NewLimiter(rate.Every(failEvery), failBurst)
		l.clients[key] = lim
	}
	lim.AllowN(now, 1)
}

// sweepLocked forgets clients whose allowance has refilled, so the map holds
// only recent offenders; if a flood of addresses still fills it, they start
// over rather than grow memory without bound.
func (l *failLimiter) sweepLocked(now time.Time) {
	if len(l.clients) < maxFailClients && now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, lim := range l.clients {
		if lim.TokensAt(now) >= failBurst {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxFailClients {
		clear(l.clients)
	}
}
