package uafilter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/gaissmai/bart"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// VerifyBots makes the rules believe a crawler's User-Agent only when the
// client's address proves it. A request whose User-Agent names a crawler
// of the built-in table (googlebot, bingbot, gptbot, ...) that has a
// verification method is checked against Caddy's client IP: the address
// must be in one of the crawler's range files, or its reverse DNS (PTR)
// name must end in one of the crawler's suffixes and resolve back (A/AAAA)
// to the address. A verified crawler is refused only when a preset of its
// own category is configured; a claim that fails is spoofed.
type VerifyBots struct {
	// Range files by crawler name: the JSON files the operators publish
	// ({"prefixes": [{"ipv4Prefix": "66.249.64.0/27"}, {"ipv6Prefix":
	// ...}]}). Watched and reloaded like list files.
	Ranges map[string][]string `json:"ranges,omitempty"`

	// Reverse-DNS suffixes by crawler name, replacing the built-in ones.
	// An empty list turns reverse DNS off for that crawler.
	RDNS map[string][]string `json:"rdns,omitempty"`

	// DNS server (host:port, port 53 by default) for reverse DNS; default:
	// the system's resolver.
	Resolver string `json:"resolver,omitempty"`

	// Time budget for verifying one address by reverse DNS (PTR and
	// forward lookups together). Default 1s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// What to do with a spoofed claim: "block" (default) refuses the
	// request, "log" logs it and applies the other rules, "allow" only
	// counts it. A resolver failure or timeout leaves a claim unverified,
	// which counts as spoofed.
	Spoofed string `json:"spoofed,omitempty"`
}

// Spoofed-claim policies.
const (
	spoofedBlock = "block"
	spoofedAllow = "allow"
	spoofedLog   = "log"
)

// Reverse DNS bounds.
const (
	defaultRDNSTimeout = time.Second
	// verdictTTL is how long a reverse-DNS answer is trusted.
	verdictTTL = time.Hour
	// failureTTL is how long a resolver failure is remembered, so that a
	// broken resolver is not asked again by every request.
	failureTTL = 30 * time.Second
	// maxRDNSInFlight bounds concurrent lookups per handler; an address
	// that finds them all busy stays unverified (and is not cached).
	maxRDNSInFlight = 32
	// maxVerdicts bounds the cache of verdicts per handler.
	maxVerdicts = 100000
	// maxPTRNames bounds the PTR names forward-confirmed per address.
	maxPTRNames = 4
)

func (v *VerifyBots) policy() string {
	if v.Spoofed == "" {
		return spoofedBlock
	}
	return v.Spoofed
}

// validate checks the verify_bots options.
func (v *VerifyBots) validate() error {
	for name, files := range v.Ranges {
		if crawlerIndex(name) < 0 {
			return fmt.Errorf("verify_bots: ranges: unknown crawler %q (known: %s)", name, strings.Join(crawlerNames(), ", "))
		}
		if len(files) == 0 {
			return fmt.Errorf("verify_bots: ranges %s: no file", name)
		}
		for _, f := range files {
			if strings.TrimSpace(f) == "" {
				return fmt.Errorf("verify_bots: ranges %s: empty file name", name)
			}
		}
	}
	for name, sfx := range v.RDNS {
		if crawlerIndex(name) < 0 {
			return fmt.Errorf("verify_bots: rdns: unknown crawler %q (known: %s)", name, strings.Join(crawlerNames(), ", "))
		}
		for _, s := range sfx {
			if err := validateSuffix(s); err != nil {
				return fmt.Errorf("verify_bots: rdns %s: %v", name, err)
			}
		}
	}
	if v.Resolver != "" {
		if _, err := resolverAddr(v.Resolver); err != nil {
			return fmt.Errorf("verify_bots: resolver: %v", err)
		}
	}
	if v.Timeout < 0 {
		return errors.New("verify_bots: timeout: must not be negative")
	}
	switch v.Spoofed {
	case "", spoofedBlock, spoofedAllow, spoofedLog:
	default:
		return fmt.Errorf("verify_bots: spoofed: %q is not block, allow or log", v.Spoofed)
	}
	return nil
}

// validateSuffix checks a reverse-DNS suffix such as googlebot.com.
func validateSuffix(s string) error {
	n := normalizeName(s)
	if n == "" || !strings.Contains(n, ".") || strings.ContainsAny(n, " \t/*") {
		return fmt.Errorf("suffix %q is not a domain name such as googlebot.com", s)
	}
	return nil
}

// normalizeName lower-cases a domain name and drops leading and trailing
// dots.
func normalizeName(s string) string {
	return strings.Trim(strings.ToLower(strings.TrimSpace(s)), ".")
}

// resolverAddr returns host:port for a resolver option.
func resolverAddr(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	if s == "" || strings.ContainsAny(s, " /") {
		return "", fmt.Errorf("%q is not host:port", s)
	}
	return net.JoinHostPort(s, "53"), nil
}

// parseRangeFile parses a published range file.
func parseRangeFile(name string, data []byte) ([]netip.Prefix, error) {
	var doc struct {
		Prefixes []struct {
			IPv4 string `json:"ipv4Prefix"`
			IPv6 string `json:"ipv6Prefix"`
		} `json:"prefixes"`
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, listParseError{fmt.Errorf("ranges %s: %v", name, err)}
	}
	if doc.Prefixes == nil {
		return nil, listParseError{fmt.Errorf("ranges %s: no \"prefixes\" array", name)}
	}
	out := make([]netip.Prefix, 0, len(doc.Prefixes))
	for i, p := range doc.Prefixes {
		s := p.IPv4
		if s == "" {
			s = p.IPv6
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, listParseError{fmt.Errorf("ranges %s: prefix %d: %v", name, i+1, err)}
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// prefixTable builds a lookup table of prefixes.
func prefixTable(prefixes []netip.Prefix) *bart.Lite {
	t := new(bart.Lite)
	for _, p := range prefixes {
		t.Insert(p)
	}
	return t
}

// rdnsVerifier checks addresses by forward-confirmed reverse DNS. Each
// address is looked up at most once at a time (singleflight), at most
// maxInFlight addresses at once, and the forward-confirmed names are
// cached; the names are checked against a crawler's suffixes per request.
type rdnsVerifier struct {
	resolver *net.Resolver
	timeout  time.Duration
	suffixes [][]string // by crawler index
	all      []string   // every suffix, to skip unrelated PTR names

	sem     chan struct{}
	flights singleflight.Group
	cache   verdictCache

	lookups *prometheus.CounterVec // by result
	latency prometheus.Observer
	now     func() time.Time
	// clock is a coarse now (unix nanoseconds) for cache expiry, advanced
	// by the engine's watcher every reload_interval, so that a cached
	// verdict costs no clock read.
	clock atomic.Int64
}

// tick advances the coarse clock.
func (v *rdnsVerifier) tick() { v.clock.Store(v.now().UnixNano()) }

// verdict is a cached reverse-DNS answer: the PTR names of an address that
// resolve back to it.
type verdict struct {
	names   []string
	expires int64 // unix nanoseconds
}

// verdictCache is a size-capped map of verdicts by address.
type verdictCache struct {
	mu  sync.RWMutex
	m   map[netip.Addr]verdict
	max int
}

func (c *verdictCache) get(ip netip.Addr, now int64) ([]string, bool) {
	c.mu.RLock()
	v, ok := c.m[ip]
	c.mu.RUnlock()
	if !ok || now >= v.expires {
		return nil, false
	}
	return v.names, true
}

// put stores a verdict. A full cache first drops expired verdicts, then,
// if still full, an arbitrary eighth of the rest.
func (c *verdictCache) put(ip netip.Addr, v verdict, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[netip.Addr]verdict)
	}
	if _, ok := c.m[ip]; !ok && len(c.m) >= c.max {
		for k, old := range c.m {
			if now >= old.expires {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max-c.max/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[ip] = v
}

func (c *verdictCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// newRDNSVerifier sets up reverse DNS for the crawlers of the table, with
// the built-in suffixes or those of v.RDNS.
func newRDNSVerifier(v *VerifyBots, lookups *prometheus.CounterVec, latency prometheus.Observer) *rdnsVerifier {
	rv := &rdnsVerifier{
		resolver: net.DefaultResolver,
		timeout:  time.Duration(v.Timeout),
		suffixes: make([][]string, len(crawlers)),
		sem:      make(chan struct{}, maxRDNSInFlight),
		cache:    verdictCache{max: maxVerdicts},
		lookups:  lookups,
		latency:  latency,
		now:      time.Now,
	}
	if rv.timeout <= 0 {
		rv.timeout = defaultRDNSTimeout
	}
	rv.tick()
	if v.Resolver != "" {
		addr, _ := resolverAddr(v.Resolver)
		var d net.Dialer
		rv.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		}
	}
	seen := map[string]bool{}
	for i, c := range crawlers {
		sfx := c.rdns
		if o, ok := v.RDNS[c.name]; ok {
			sfx = o
		}
		for _, s := range sfx {
			n := normalizeName(s)
			rv.suffixes[i] = append(rv.suffixes[i], n)
			if !seen[n] {
				seen[n] = true
				rv.all = append(rv.all, n)
			}
		}
	}
	return rv
}

// hasSuffix reports whether name is suffix or a name under it.
func hasSuffix(name, suffix string) bool {
	return name == suffix || len(name) > len(suffix) && name[len(name)-len(suffix)-1] == '.' && strings.HasSuffix(name, suffix)
}

// claimVerdict is what checking a crawler claim found.
type claimVerdict int

const (
	claimSpoofed   claimVerdict = iota // the address is not the crawler's
	claimVerified                      // in its ranges, or confirmed by reverse DNS
	claimUndecided                     // every lookup slot was busy: not looked at
)

// errLookupsBusy marks a lookup not made because every slot was busy.
var errLookupsBusy = errors.New("reverse DNS lookups all busy")

// verified checks whether ip's forward-confirmed reverse DNS name ends in
// one of crawler c's suffixes. Cached verdicts cost no allocation. When
// every lookup slot is busy the claim is undecided, not spoofed: otherwise
// anyone keeping the slots busy (claims from fresh addresses whose reverse
// DNS never answers) would get the real crawlers refused.
func (v *rdnsVerifier) verified(ip netip.Addr, c int) claimVerdict {
	if len(v.suffixes[c]) == 0 {
		return claimSpoofed
	}
	names, ok := v.cache.get(ip, v.clock.Load())
	if !ok {
		var err error
		if names, err = v.lookup(ip); err != nil {
			return claimUndecided
		}
	}
	for _, n := range names {
		for _, s := range v.suffixes[c] {
			if hasSuffix(n, s) {
				return claimVerified
			}
		}
	}
	return claimSpoofed
}

// lookup resolves ip, once at a time per address, and caches the answer.
// It fails only with errLookupsBusy.
func (v *rdnsVerifier) lookup(ip netip.Addr) ([]string, error) {
	names, err, _ := v.flights.Do(ip.String(), func() (any, error) {
		if names, ok := v.cache.get(ip, v.now().UnixNano()); ok {
			return names, nil // answered by a flight that just ended
		}
		select {
		case v.sem <- struct{}{}:
			defer func() { <-v.sem }()
		default:
			v.lookups.WithLabelValues("limited").Inc()
			return []string(nil), errLookupsBusy
		}
		ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
		defer cancel()
		start := v.now()
		names, err := v.resolve(ctx, ip)
		end := v.now()
		v.latency.Observe(end.Sub(start).Seconds())
		ttl, result := verdictTTL, "unconfirmed"
		switch {
		case err != nil:
			ttl, result = failureTTL, "error"
		case len(names) > 0:
			result = "confirmed"
		}
		v.lookups.WithLabelValues(result).Inc()
		v.clock.Store(end.UnixNano())
		v.cache.put(ip, verdict{names: names, expires: end.Add(ttl).UnixNano()}, end.UnixNano())
		return names, nil
	})
	return names.([]string), err
}

// resolve returns the PTR names of ip (those under a configured suffix)
// whose A/AAAA records contain ip. A name or address that does not exist
// is an answer; any other failure is an error.
func (v *rdnsVerifier) resolve(ctx context.Context, ip netip.Addr) ([]string, error) {
	ptrs, err := v.resolver.LookupAddr(ctx, ip.String())
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var confirmed []string
	checked := 0
	for _, p := range ptrs {
		name := normalizeName(p)
		if !v.underSuffix(name) {
			continue
		}
		if checked++; checked > maxPTRNames {
			break
		}
		addrs, err := v.resolver.LookupNetIP(ctx, "ip", name)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		for _, a := range addrs {
			if a.Unmap() == ip {
				confirmed = append(confirmed, name)
				break
			}
		}
	}
	return confirmed, nil
}

func (v *rdnsVerifier) underSuffix(name string) bool {
	for _, s := range v.all {
		if hasSuffix(name, s) {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
