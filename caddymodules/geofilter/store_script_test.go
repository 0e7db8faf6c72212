package geofilter

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// The script's counter, set up in each state a client's hash can be in
// (nothing, the current window, the previous one, an older one, a window
// ahead of the store's clock), against the in-process limiter's
// arithmetic at the same point of the window: the verdict, what remains,
// the hash written back and its expiry.
func TestStoreScriptCounter(t *testing.T) {
	r := startRedis(t)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	ctx := context.Background()
	const limit, window = 10, time.Hour
	win := window.Microseconds()
	l := newLimiter(RateLimit{Requests: limit, Window: caddy.Duration(window)})
	cases := []struct {
		name                string
		at                  int64 // window of the stored hash, relative to now's
		curr, prev          uint64
		stored              bool
		wantCurr, wantPrev  uint64
		wantAt, movesExpiry bool
	}{
		{name: "no hash", wantCurr: 1, movesExpiry: true},
		{name: "current window", stored: true, curr: 3, prev: 4, wantCurr: 4, wantPrev: 4},
		{name: "current window, full", stored: true, curr: 10, prev: 0, wantCurr: 10},
		{name: "previous window weighs", stored: true, curr: 5, prev: 9, wantCurr: 6, wantPrev: 9},
		{name: "window moved on", stored: true, at: -1, curr: 7, prev: 2, wantCurr: 1, wantPrev: 7, movesExpiry: true},
		{name: "window moved on, full", stored: true, at: -1, curr: 10, prev: 10, wantCurr: 1, wantPrev: 10, movesExpiry: true},
		{name: "stale", stored: true, at: -2, curr: 10, prev: 10, wantCurr: 1, movesExpiry: true},
		{name: "ahead of the clock", stored: true, at: 1, curr: 2, prev: 3, wantCurr: 3, wantPrev: 3, wantAt: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "script:rl:" + strconv.Itoa(i)
			now := storeNow(t, c)
			n, e := now/win, now%win
			if tc.stored {
				c.HSet(ctx, key, "n", n+tc.at, "c", tc.curr, "p", tc.prev)
				c.PExpire(ctx, key, 5*window)
			}
			// The oracle, at the script's point in the window.
			curr, prev, elapsed := tc.curr, tc.prev, e
			switch {
			case !tc.stored || tc.at < -1:
				curr, prev = 0, 0
			case tc.at == -1:
				curr, prev = 0, tc.curr
			case tc.at > 0:
				elapsed = 0
			}
			allow := l.fits(prev, curr+1, elapsed*1000)
			res, err := storeScript.Run(ctx, c, []string{key}, limit, win).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			if !allow {
				want := l.wait(prev, curr, elapsed*1000).Microseconds()
				if res[0] != storeLimited || res[1] < want-5e5 || res[1] > want {
					t.Fatalf("got %v, want refused with a wait of about %dµs", res, want)
				}
				assertHash(t, c, key, n+tc.at, tc.curr, tc.prev)
				return
			}
			if res[0] != 0 {
				t.Fatalf("got %v, want allowed", res)
			}
			wantRem := int64(limit - curr - 1 - (prev*uint64(win-elapsed)+uint64(win)-1)/uint64(win))
			if d := res[2] - max(wantRem, 0); d < 0 || d > 1 {
				t.Errorf("remaining %d, want %d", res[2], max(wantRem, 0))
			}
			wantN := n
			if tc.wantAt {
				wantN = n + tc.at
			}
			assertHash(t, c, key, wantN, tc.wantCurr, tc.wantPrev)
			assertExpiry(t, c, key, tc.movesExpiry, (wantN+2)*win-now, window)
		})
	}
}

// The script's counter refuses exactly the request after the limit, and
// counts none it refuses.
func TestStoreScriptExactLimit(t *testing.T) {
	r := startRedis(t)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	ctx := context.Background()
	win := time.Hour.Microseconds()
	for i := range 12 {
		res, err := storeScript.Run(ctx, c, []string{"script:exact"}, 7, win).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		if allowed := res[0] == 0; allowed != (i < 7) {
			t.Fatalf("request %d: %v", i+1, res)
		}
		if i < 7 && res[2] != int64(6-i) {
			t.Fatalf("request %d: remaining %d, want %d", i+1, res[2], 6-i)
		}
	}
	if got, _ := c.HGet(ctx, "script:exact", "c").Int(); got != 7 {
		t.Fatalf("count %d after 12 requests against a limit of 7", got)
	}
}

// storeNow is the store's clock in µs.
func storeNow(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	now, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixMicro()
}

func assertHash(t *testing.T, c *redis.Client, key string, n int64, curr, prev uint64) {
	t.Helper()
	v, err := c.HMGet(context.Background(), key, "n", "c", "p").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{strconv.FormatInt(n, 10), strconv.FormatUint(curr, 10), strconv.FormatUint(prev, 10)}
	if fmt.Sprint(v) != fmt.Sprint(want) {
		t.Errorf("hash n, c, p = %v, want %v", v, want)
	}
}

// assertExpiry checks that the counter expires a second after its counts
// stop mattering (until µs from now) when its window moved on, and that
// its expiry (five windows, as set up) is left alone otherwise.
func assertExpiry(t *testing.T, c *redis.Client, key string, moved bool, until int64, window time.Duration) {
	t.Helper()
	ttl, err := c.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := time.Duration(until)*time.Microsecond + time.Second
	if !moved {
		want = 5 * window
	}
	if ttl > want+time.Millisecond || ttl < want-time.Second {
		t.Errorf("expiry in %v, want %v", ttl, want)
	}
}
