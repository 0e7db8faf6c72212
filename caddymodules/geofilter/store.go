package geofilter

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Store keeps the rate limit counters, the bans and the runtime block list
// in Redis (or Valkey), so that several Caddy instances share them.
type Store struct {
	// Type of the store; "redis" is the only one.
	Type string `json:"type,omitempty"`
	// redis:// or rediss:// URL, with user, password and database number
	// as go-redis's ParseURL reads them. Placeholders such as
	// {env.REDIS_URL} are replaced when the config is loaded.
	URL string `json:"url,omitempty"`
	// Prefix of every key. Default "geofilter:".
	Prefix string `json:"prefix,omitempty"`
	// How long one operation may take before the store counts as down.
	// Default 50ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// What to do with requests while the store is down: "allow" (default,
	// they are not rate limited), "block" (503) or "local" (the
	// in-process rate limit applies).
	OnError string `json:"on_error,omitempty"`
	// TLS settings of a rediss:// store whose certificate is signed by a
	// private CA, or that wants a client certificate.
	TLS *StoreTLS `json:"tls,omitempty"`
}

const (
	defaultStorePrefix  = "geofilter:"
	defaultStoreTimeout = 50 * time.Millisecond
	// syncInterval is how often the shared block list's version is read.
	syncInterval = 50 * time.Millisecond
)

// reasonStoreDown refuses requests while the store is down with on_error
// block.
const reasonStoreDown = "store_down"

func (s *Store) validate() error {
	if s.Type != "redis" {
		return fmt.Errorf("store: unsupported type %q (want redis)", s.Type)
	}
	if s.URL == "" {
		return errors.New("store: a URL is required")
	}
	if s.Timeout < 0 {
		return fmt.Errorf("store: timeout must be positive, got %s", time.Duration(s.Timeout))
	}
	switch s.OnError {
	case "", "allow", "block", "local":
	default:
		return fmt.Errorf("store: on_error: want allow, block or local, got %q", s.OnError)
	}
	return s.TLS.validate(s.URL)
}

// redactURL returns u with its password masked, for logs and errors.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// redisStore is a provisioned Store, shared by every handler with the same
// settings and kept across config reloads.
type redisStore struct {
	client  *redis.Client
	pipe    *storePipe // the script calls, pipelined
	prefix  string
	onError string
	display string // the URL without its password

	up      atomic.Bool
	stateMu sync.Mutex // serialises the logged state changes

	blocks *blockList // the list this store keeps in step; nil if none
	ver    int64      // version of the shared list last applied (sync goroutine only)
	synced bool       // ver was read at least once

	stop, done chan struct{}
}

var storePool = caddy.NewUsagePool()

func init() {
	// The client library's own messages (failed dials and the like) go to
	// the debug log: the store's state changes are logged once each.
	redis.SetLogger(libraryLogger{})
}

type libraryLogger struct{}

func (libraryLogger) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("geofilter.store").Debug(fmt.Sprintf(format, v...))
}

//go:embed store.lua
var storeScriptSource string

var storeScript = redis.NewScript(storeScriptSource)

// acquireStore returns the store for s, whose URL has its placeholders
// replaced; release it with releaseStore.
func acquireStore(s Store, blocks *blockList) (*redisStore, string, error) {
	if s.Prefix == "" {
		s.Prefix = defaultStorePrefix
	}
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultStoreTimeout)
	}
	if s.OnError == "" {
		s.OnError = "allow"
	}
	tlsFiles, err := s.TLS.load()
	if err != nil {
		return nil, "", err
	}
	key := fmt.Sprintf("geofilter.store:%s|%s|%d|%s|%s", s.URL, s.Prefix, int64(s.Timeout), s.OnError, tlsFiles.fingerprint)
	val, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts, err := redis.ParseURL(s.URL)
		if err != nil {
			// The error may quote the URL; do not pass it on.
			return nil, fmt.Errorf("store: invalid URL %s", redactURL(s.URL))
		}
		tlsFiles.apply(opts.TLSConfig)
		t := time.Duration(s.Timeout)
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = t, t, t, t
		opts.MaxRetries = -1   // one attempt: a retry would double the wait
		opts.DialerRetries = 1 // likewise for connecting
		opts.ContextTimeoutEnabled = false
		if opts.Protocol == 0 {
			// RESP2 unless the URL asks for RESP3: the store uses no push
			// notifications, and under RESP3 the client peeks for one
			// before reading each reply of a pipeline.
			opts.Protocol = 2
		}
		client := redis.NewClient(opts)
		rs := &redisStore{
			client:  client,
			pipe:    newStorePipe(client, t),
			prefix:  s.Prefix,
			onError: s.OnError,
			display: redactURL(s.URL),
			blocks:  blocks,
			stop:    make(chan struct{}),
			done:    make(chan struct{}),
		}
		rs.up.Store(true)
		if blocks != nil {
			blocks.attach(rs)
		}
		go rs.syncLoop()
		return rs, nil
	})
	if err != nil {
		return nil, "", err
	}
	return val.(*redisStore), key, nil
}

func releaseStore(key string) { _, _ = storePool.Delete(key) }

// Destruct stops the sync goroutine and closes the client.
func (rs *redisStore) Destruct() error {
	close(rs.stop)
	<-rs.done
	rs.pipe.close()
	if rs.blocks != nil {
		rs.blocks.detach(rs)
	}
	return rs.client.Close()
}

func (rs *redisStore) log() *zap.Logger { return caddy.Log().Named("geofilter.store") }

// setUp records whether the store answers, logging each change once.
func (rs *redisStore) setUp(up bool, err error) {
	if rs.up.Load() == up {
		return
	}
	rs.stateMu.Lock()
	defer rs.stateMu.Unlock()
	if rs.up.Load() == up {
		return
	}
	rs.up.Store(up)
	if up {
		rs.log().Info("store reachable again; shared limits resume", zap.String("url", rs.display))
	} else {
		rs.log().Error("store unreachable", zap.String("url", rs.display), zap.String("on_error", rs.onError), zap.Error(err))
	}
}

// storeLimit is one handler's limit as the script sees it.
type storeLimit struct {
	rs      *redisStore
	counter string // key prefix of the counters
	strikes string // key prefix of the strike counters; "" without a ban
	// The script's arguments: requests and window (µs), and with a ban
	// the strikes tolerated before it and its duration (µs). Built once.
	args  []any
	local *limiter
}

func newStoreLimit(rs *redisStore, rl RateLimit, b *Ban, local *limiter) *storeLimit {
	id := fmt.Sprintf("%d/%d/%s:", rl.Requests, int64(rl.Window), rl.Zone)
	sl := &storeLimit{
		rs:      rs,
		counter: rs.prefix + "rl:" + id,
		args: []any{strconv.Itoa(rl.Requests),
			strconv.FormatInt(max(time.Duration(rl.Window).Microseconds(), 1), 10)},
		local: local,
	}
	// Without a ban the script is given neither the strike and ban keys
	// nor their arguments: each one more is parsed and copied per call.
	if b != nil {
		sl.strikes = rs.prefix + "st:" + id
		sl.args = append(sl.args, strconv.Itoa(b.Strikes-1),
			strconv.FormatInt(max(time.Duration(b.Duration).Microseconds(), 1), 10))
	}
	return sl
}

func (rs *redisStore) banKey(p netip.Prefix) string { return rs.prefix + "ban:" + p.String() }

// Script results other than 0, allowed.
const (
	storeLimited = 1
	storeBanned  = 2
)

// judge applies the shared rate limit (and ban) to ip, filling in v. It
// returns false when the in-process limiter is to decide instead
// (on_error local while the store is down).
func (sl *storeLimit) judge(ip netip.Addr, v *verdict) bool {
	rs := sl.rs
	if !rs.up.Load() {
		return rs.degraded(v)
	}
	c := getCall()
	c.setKeys(sl, rs.prefix, sl.local.prefix(ip))
	c.setCommand(sl.args)
	if err := rs.pipe.do(c); err != nil {
		if err != errStoreTimeout {
			// Still the caller's; an abandoned call is the writer's.
			putCall(c)
		}
		rs.setUp(false, err)
		return rs.degraded(v)
	}
	res := c.res
	putCall(c)
	v.stored, v.quota, v.reset = true, res[2], time.Duration(res[3])*time.Microsecond
	switch res[0] {
	case storeLimited:
		v.reason, v.retryAfter = reasonRateLimit, time.Duration(res[1])*time.Microsecond
	case storeBanned:
		v.reason, v.retryAfter = reasonBanned, time.Duration(res[1])*time.Microsecond
	}
	return true
}

// degraded applies on_error to a request while the store is down.
func (rs *redisStore) degraded(v *verdict) bool {
	switch rs.onError {
	case "local":
		return false
	case "block":
		v.reason, v.retryAfter = reasonStoreDown, time.Second
	}
	return true
}

// liftBan removes the shared ban and strike counts of exactly p.
func (rs *redisStore) liftBan(ctx context.Context, p netip.Prefix) (bool, error) {
	n, err := rs.client.Del(ctx, rs.banKey(p)).Result()
	if err != nil {
		return false, err
	}
	iter := rs.client.Scan(ctx, 0, rs.prefix+"st:*:"+p.String(), 1000).Iterator()
	for iter.Next(ctx) {
		if err := rs.client.Del(ctx, iter.Val()).Err(); err != nil {
			return n > 0, err
		}
	}
	return n > 0, iter.Err()
}

// Keys of the shared runtime block list: a hash of entries (CIDR ->
// stored JSON entry) and a version counter bumped on every change.
func (rs *redisStore) blocksKey() string  { return rs.prefix + "blocks" }
func (rs *redisStore) versionKey() string { return rs.prefix + "blocks:version" }

// syncLoop polls the version of the shared block list and applies the
// list when it changed; its answers also tell when the store is back.
func (rs *redisStore) syncLoop() {
	defer close(rs.done)
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		rs.syncOnce()
		select {
		case <-rs.stop:
			return
		case <-t.C:
		}
	}
}

func (rs *redisStore) syncOnce() {
	ctx := context.Background()
	ver, err := rs.client.Get(ctx, rs.versionKey()).Int64()
	missing := errors.Is(err, redis.Nil)
	if err != nil && !missing {
		rs.setUp(false, err)
		return
	}
	rs.setUp(true, nil)
	if rs.blocks == nil || rs.blocks.syncer() != rs {
		return
	}
	if missing && rs.blocks.hasBlocks() {
		// The store lost its data (restarted empty): give it ours back.
		if err := rs.blocks.reseed(ctx, rs); err != nil {
			rs.log().Warn("cannot restore the runtime block list into the store", zap.Error(err))
		}
		return
	}
	if rs.synced && ver == rs.ver {
		return
	}
	entries, err := rs.client.HGetAll(ctx, rs.blocksKey()).Result()
	if err != nil {
		rs.setUp(false, err)
		return
	}
	rs.blocks.replaceBlocks(entries)
	rs.ver, rs.synced = ver, true
}

// Gauge of the stores' state, read at scrape time.
var storeUpDesc = prometheus.NewDesc("caddy_geofilter_store_up",
	"Whether the shared geofilter store answers (1) or not (0).", []string{"url"}, nil)

type storeCollector struct{}

func (storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- storeUpDesc }

func (storeCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	storePool.Range(func(_, val any) bool {
		if rs, ok := val.(*redisStore); ok && !seen[rs.display] {
			seen[rs.display] = true
			up := 0.0
			if rs.up.Load() {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up, rs.display)
		}
		return true
	})
}

// provisionStore connects the handler to its store, if it has one; the
// policy and its block list are provisioned.
func (h *Handler) provisionStore(ctx caddy.Context) error {
	if h.Store == nil {
		return nil
	}
	s := *h.Store
	repl := caddy.NewReplacer()
	s.URL = repl.ReplaceAll(s.URL, "")
	s.TLS = s.TLS.withPlaceholders(repl)
	if err := s.validate(); err != nil {
		return err
	}
	rs, key, err := acquireStore(s, h.policy.blocks)
	if err != nil {
		return err
	}
	h.storeKey = key
	if h.RateLimit != nil {
		rl := *h.RateLimit
		rl.setDefaults()
		h.policy.store = newStoreLimit(rs, rl, h.Ban, h.policy.limiter)
	}
	h.logger.Info("sharing limits, bans and runtime blocks through the store",
		zap.String("url", rs.display), zap.String("prefix", rs.prefix), zap.String("on_error", rs.onError))
	return registerCollector(ctx, storeCollector{})
}
