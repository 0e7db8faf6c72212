package geofilter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
)

// testRedis is a redis-server of the test's own, on a free loopback port,
// that the test can stop and start again (empty).
type testRedis struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
	args []string // extra server options
}

func startRedis(t testing.TB, args ...string) *testRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed; skipping the shared store tests")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &testRedis{t: t, port: l.Addr().(*net.TCPAddr).Port, args: args}
	l.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *testRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *testRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir()}, r.args...)...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	// Up when it answers, be it with an error (a server that wants a login).
	for err := c.Ping(context.Background()).Err(); err != nil; err = c.Ping(context.Background()).Err() {
		if _, answered := errors.AsType[redis.Error](err); answered {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *testRedis) stop() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// storeHandler provisions a handler using the store at url; timeouts tell
// handlers apart that are to act as separate instances.
func storeHandler(t testing.TB, url string, timeout time.Duration, onError string, rl *RateLimit, ban *Ban) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	h := &Handler{Filter: Filter{RateLimit: rl, Ban: ban}, noVars: true,
		Store: &Store{Type: "redis", URL: url, Prefix: "test:", Timeout: caddy.Duration(timeout), OnError: onError}}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return h
}

// serveStatus runs one request from ip through h and returns its status.
func serveStatus(t testing.TB, h *Handler, ip string) int {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	vars := map[string]any{caddyhttp.ClientIPVarKey: ip}
	req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	if err == nil {
		return http.StatusOK
	}
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); ok {
		return he.StatusCode
	}
	t.Fatal(err)
	return 0
}

func TestStoreSharedRateLimit(t *testing.T) {
	r := startRedis(t)
	rl := &RateLimit{Requests: 20, Window: caddy.Duration(time.Minute)}
	hs := []*Handler{
		storeHandler(t, r.url(), 50*time.Millisecond, "", rl, nil),
		storeHandler(t, r.url(), 51*time.Millisecond, "", rl, nil),
		storeHandler(t, r.url(), 52*time.Millisecond, "", rl, nil),
	}
	for i := range 20 {
		if s := serveStatus(t, hs[i%3], "192.0.2.1"); s != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, s)
		}
	}
	for i, h := range hs {
		if s := serveStatus(t, h, "192.0.2.1"); s != http.StatusTooManyRequests {
			t.Fatalf("request over the limit on handler %d: status %d", i, s)
		}
	}
	if s := serveStatus(t, hs[0], "192.0.2.2"); s != http.StatusOK {
		t.Fatalf("another client: status %d", s)
	}
	// IPv6 clients are counted per /64.
	for i := range 20 {
		serveStatus(t, hs[i%3], fmt.Sprintf("2001:db8::%x", i+1))
	}
	if s := serveStatus(t, hs[1], "2001:db8::ffff"); s != http.StatusTooManyRequests {
		t.Fatalf("21st request from one /64: status %d", s)
	}
}

func TestStoreSharedBan(t *testing.T) {
	r := startRedis(t)
	rl := &RateLimit{Requests: 2, Window: caddy.Duration(time.Minute)}
	ban := &Ban{Strikes: 2, Duration: caddy.Duration(time.Hour)}
	h1 := storeHandler(t, r.url(), 50*time.Millisecond, "", rl, ban)
	h2 := storeHandler(t, r.url(), 51*time.Millisecond, "", rl, ban)
	want := []int{200, 200, 429, 403}
	for i, w := range want {
		if s := serveStatus(t, h1, "198.51.100.7"); s != w {
			t.Fatalf("request %d: status %d, want %d", i+1, s, w)
		}
	}
	if s := serveStatus(t, h2, "198.51.100.7"); s != http.StatusForbidden {
		t.Fatalf("banned client on the other handler: status %d", s)
	}
	found, err := h2.policy.blocks.remove(context.Background(), netip.MustParsePrefix("198.51.100.7/32"))
	if err != nil || !found {
		t.Fatalf("lifting the ban: found %v, %v", found, err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	if n, _ := c.Exists(context.Background(), "test:ban:198.51.100.7/32").Result(); n != 0 {
		t.Fatal("ban key still in the store")
	}
	// Bans and counters expire by themselves.
	for _, pattern := range []string{"test:rl:*", "test:st:*"} {
		keys, _ := c.Keys(context.Background(), pattern).Result()
		for _, k := range keys {
			if ttl, _ := c.PTTL(context.Background(), k).Result(); ttl <= 0 {
				t.Errorf("%s has no expiry (%v)", k, ttl)
			}
		}
	}
}

func TestStoreRuntimeBlocks(t *testing.T) {
	r := startRedis(t)
	var lists [2]*blockList
	for i := range lists {
		lists[i] = newBlockList()
		lists[i].storage = memStorage{}
		rs, key, err := acquireStore(Store{Type: "redis", URL: r.url(), Prefix: "test:", Timeout: caddy.Duration(time.Duration(50+i) * time.Millisecond)}, lists[i])
		if err != nil {
			t.Fatal(err)
		}
		_ = rs
		t.Cleanup(func() { releaseStore(key) })
	}
	ip := netip.MustParseAddr("203.0.113.9")
	p := netip.MustParsePrefix("203.0.113.0/24")
	if _, err := lists[0].block(context.Background(), p, "test", time.Hour); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		if reason, _ := lists[1].check(ip); reason == reasonBlockList {
			break
		}
		if time.Since(start) > 100*time.Millisecond {
			t.Fatal("runtime block not visible on the other list within 100ms")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if found, err := lists[1].remove(context.Background(), p); err != nil || !found {
		t.Fatalf("remove: %v %v", found, err)
	}
	start = time.Now()
	for {
		if reason, _ := lists[0].check(ip); reason == "" {
			break
		}
		if time.Since(start) > 100*time.Millisecond {
			t.Fatal("lifted block still applies on the other list after 100ms")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// A store restarted empty gets the list back from the instances.
	if _, err := lists[0].block(context.Background(), p, "again", time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	r.stop()
	r.start()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	waitUntil(t, 3*time.Second, "list restored into the store", func() bool {
		n, _ := c.HLen(context.Background(), "test:blocks").Result()
		return n == 1
	})
}

func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStoreFaults(t *testing.T) {
	r := startRedis(t)
	rl := &RateLimit{Requests: 2, Window: caddy.Duration(time.Minute)}
	hs := map[string]*Handler{
		"allow": storeHandler(t, r.url(), 50*time.Millisecond, "allow", rl, nil),
		"block": storeHandler(t, r.url(), 50*time.Millisecond, "block", rl, nil),
		"local": storeHandler(t, r.url(), 50*time.Millisecond, "local", rl, nil),
	}
	for _, h := range hs {
		serveStatus(t, h, "192.0.2.50")
	}
	r.stop()
	// on_error    requests 1..3 while down
	want := map[string][]int{
		"allow": {200, 200, 200},
		"block": {503, 503, 503},
		"local": {200, 200, 429},
	}
	for mode, h := range hs {
		for i, w := range want[mode] {
			start := time.Now()
			s := serveStatus(t, h, "192.0.2.60")
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Errorf("%s: request %d took %v with the store down", mode, i+1, el)
			}
			if s != w {
				t.Errorf("%s: request %d while down: status %d, want %d", mode, i+1, s, w)
			}
		}
		if h.policy.store.rs.up.Load() {
			t.Errorf("%s: store still marked up", mode)
		}
	}
	r.start()
	ips := map[string]string{"allow": "192.0.2.71", "block": "192.0.2.72", "local": "192.0.2.73"}
	for mode, h := range hs {
		waitUntil(t, 3*time.Second, mode+": store up again", h.policy.store.rs.up.Load)
		// Restarted empty: the count starts over, shared again.
		for i, w := range []int{200, 200, 429} {
			if s := serveStatus(t, h, ips[mode]); s != w {
				t.Errorf("%s: request %d after the restart: status %d, want %d", mode, i+1, s, w)
			}
		}
	}
}

// memStorage is storage in memory, for block lists outside a config.
type memStorage map[string][]byte

func (m memStorage) Load(_ context.Context, key string) ([]byte, error) { return m[key], nil }

func (m memStorage) Store(_ context.Context, key string, value []byte) error {
	m[key] = value
	return nil
}

func TestStoreCaddyfile(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser(`geofilter {
		rate_limit 20 10s
		store redis {env.REDIS_URL} {
			prefix edge:
			timeout 20ms
			on_error local
		}
	}`)
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := Store{Type: "redis", URL: "{env.REDIS_URL}", Prefix: "edge:", Timeout: caddy.Duration(20 * time.Millisecond), OnError: "local"}
	if h.Store == nil || *h.Store != want {
		t.Fatalf("store = %+v, want %+v", h.Store, want)
	}
	for _, bad := range []string{
		"store memcached redis://x",
		"store redis",
		"store redis redis://x {\n on_error maybe\n}",
		"store redis redis://x {\n timeout -1s\n}",
		"store redis redis://x {\n colour blue\n}",
		"rate_limit 5 1m\nrate_limit_status 401\nstore redis redis://x",
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("geofilter {\n" + bad + "\n}"))
		if err == nil {
			err = h.Validate()
		}
		if err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestStoreURLNeverShown(t *testing.T) {
	const pw = "hunter2-secret"
	if got := redactURL("rediss://edge:" + pw + "@redis.example:6380/1"); strings.Contains(got, pw) || !strings.Contains(got, "redis.example") {
		t.Errorf("redacted URL %q", got)
	}
	_, _, err := acquireStore(Store{Type: "redis", URL: "redis://u:" + pw + "@host:notaport/x"}, nil)
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("invalid URL error %v", err)
	}
}

func TestStoreRateLimitHeaders(t *testing.T) {
	r := startRedis(t)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := &Handler{Filter: Filter{RateLimit: &RateLimit{Requests: 3, Window: caddy.Duration(time.Minute)}},
		RateLimitHeaders: true, noVars: true,
		Store: &Store{Type: "redis", URL: r.url(), Prefix: "hdr:"}}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	for i, want := range []string{"r=2", "r=1", "r=0", "r=0"} {
		req := httptest.NewRequest("GET", "/", nil)
		vars := map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.9"}
		req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
		if got := w.Header().Get("RateLimit"); !strings.Contains(got, want) {
			t.Errorf("request %d: RateLimit %q, want %s", i+1, got, want)
		}
	}
}

// An ACL user with a password, from the URL; a wrong password is a store
// that is down.
func TestStoreACLUser(t *testing.T) {
	r := startRedis(t, "--user", "default", "off", "--user", "edge", "on", ">acl-pw", "~test:*", "&*", "+@all")
	rl := &RateLimit{Requests: 1, Window: caddy.Duration(time.Minute)}
	url := fmt.Sprintf("redis://edge:acl-pw@127.0.0.1:%d/0", r.port)
	h := storeHandler(t, url, 50*time.Millisecond, "block", rl, nil)
	for i, want := range []int{200, 429} {
		if s := serveStatus(t, h, "192.0.2.30"); s != want {
			t.Fatalf("request %d: status %d, want %d", i+1, s, want)
		}
	}
	wrong := storeHandler(t, fmt.Sprintf("redis://edge:wrong@127.0.0.1:%d/0", r.port), 51*time.Millisecond, "block", rl, nil)
	if s := serveStatus(t, wrong, "192.0.2.31"); s != http.StatusServiceUnavailable {
		t.Fatalf("wrong password: status %d, want 503", s)
	}
}
