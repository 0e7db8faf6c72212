package geofilter

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
)

// hammer sends n requests from ip through hs (in turn per goroutine),
// from workers goroutines at once, running during meanwhile, and returns
// how many were allowed; any status but 200 and 429 fails the test.
func hammer(t *testing.T, hs []*Handler, ip string, workers, n int, during func()) int64 {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			h := hs[w%len(hs)]
			for range n {
				switch s := serveStatus(t, h, ip); s {
				case http.StatusOK:
					allowed.Add(1)
				case http.StatusTooManyRequests:
				default:
					t.Errorf("status %d", s)
				}
			}
		})
	}
	if during != nil {
		during()
	}
	wg.Wait()
	return allowed.Load()
}

// Concurrent requests share pipelines, yet each is counted once: two
// instances, 40 goroutines, exactly the limit allowed.
func TestStorePipelineExactUnderConcurrency(t *testing.T) {
	r := startRedis(t)
	rl := &RateLimit{Requests: 500, Window: caddy.Duration(time.Hour)}
	hs := []*Handler{
		storeHandler(t, r.url(), time.Second, "block", rl, nil),
		storeHandler(t, r.url(), time.Second+time.Millisecond, "block", rl, nil),
	}
	if got := hammer(t, hs, "192.0.2.80", 40, 25, nil); got != 500 {
		t.Fatalf("%d of 1000 requests allowed, want exactly 500", got)
	}
}

// A script cache flushed under load (as after a restart, or SCRIPT
// FLUSH) makes EVALSHA fail with NOSCRIPT; those calls were not run and
// are sent again as EVAL, so none is lost or counted twice.
func TestStorePipelineNoScript(t *testing.T) {
	r := startRedis(t)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	rl := &RateLimit{Requests: 700, Window: caddy.Duration(time.Hour)}
	hs := []*Handler{storeHandler(t, r.url(), time.Second, "block", rl, nil)}
	flush := func() {
		for range 5 {
			if err := c.ScriptFlush(context.Background()).Err(); err != nil {
				t.Error(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if got := hammer(t, hs, "192.0.2.81", 20, 50, flush); got != 700 {
		t.Fatalf("%d of 1000 requests allowed, want exactly 700", got)
	}
	if !hs[0].policy.store.rs.up.Load() {
		t.Error("store marked down by NOSCRIPT answers")
	}
}

// A server that takes the commands but never answers: each request gets
// its on_error verdict after about the timeout, and the store is marked
// down.
func TestStorePipelineTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			// Read and drop the commands; answer nothing.
			go func() { _, _ = io.Copy(io.Discard, conn) }()
		}
	}()
	rl := &RateLimit{Requests: 5, Window: caddy.Duration(time.Minute)}
	h := storeHandler(t, "redis://"+l.Addr().String()+"/0", 50*time.Millisecond, "block", rl, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			start := time.Now()
			if s := serveStatus(t, h, "192.0.2.82"); s != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", s)
			}
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Errorf("request took %v with a 50ms timeout", el)
			}
		})
	}
	wg.Wait()
	if h.policy.store.rs.up.Load() {
		t.Error("store still marked up")
	}
}

// BenchmarkStoreParallel is the handler with its rate limit (and a ban)
// in a redis-server on loopback, under concurrent requests as a busy
// server sees them. Skipped without redis-server.
func BenchmarkStoreParallel(b *testing.B) {
	r := startRedis(b)
	limit := &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "store-par"}
	ban := &Ban{Strikes: 3, Duration: caddy.Duration(time.Hour)}
	h := storeHandler(b, r.url(), time.Second, "block", limit, ban)
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/", nil)
		vars := map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.1"}
		req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			if err := h.ServeHTTP(w, req, next); err != nil {
				b.Fatal(err)
			}
		}
	})
}
