package integration

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metacircular/edge/internal/testutil"
)

// redisPassword is the test store's password; it must never be logged.
const redisPassword = "s3cret-redis-pw"

// startRedisServer runs a redis-server of the test's own (password
// protected, no persistence) on port, or skips when there is none.
func startRedisServer(t *testing.T, dir string, port int) *process {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server); skipping the shared store test")
	}
	p := start(t, dir, nil, path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--requirepass", redisPassword)
	waitFor(t, 10*time.Second, "redis-server listens", func() error {
		if !strings.Contains(p.out.String(), "Ready to accept connections") {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	return p
}

// kill stops p's process group at once and waits for it.
func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// edgeInstance is one bin/caddy sharing the store.
type edgeInstance struct {
	proc                 *process
	site, admin, metrics string
}

// TestSharedRedisStore runs three bin/caddy processes whose geofilter
// shares one redis-server and sends one client's requests to them in
// turn: the shared rate limit, ban and runtime block list must hold
// exactly across them, also through a store outage and restart.
func TestSharedRedisStore(t *testing.T) {
	bin := binDir(t)
	dir := t.TempDir()
	port := testutil.DistinctPorts(t)
	redisPort := port()
	rds := startRedisServer(t, dir, redisPort)
	redisURL := fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", redisPassword, redisPort)

	onError := []string{"allow", "block", "local"}
	inst := make([]*edgeInstance, len(onError))
	for i, mode := range onError {
		idir := filepath.Join(dir, "caddy"+strconv.Itoa(i))
		adminPort, httpPort, metricsPort := port(), port(), port()
		caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	http_port %[2]d
	auto_https off
	storage file_system %[4]s
	metrics
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}

http://127.0.0.1:%[2]d {
	geofilter {
		rate_limit 20 1m
		ban 3 1h
		store redis {env.REDIS_URL} {
			prefix edge:
			timeout 50ms
			on_error %[5]s
		}
	}
	respond "ok"
}

http://127.0.0.1:%[3]d {
	bind 127.0.0.1
	metrics
}
`, adminPort, httpPort, metricsPort, filepath.Join(idir, "storage"), mode)
		if err := exec.Command("mkdir", "-p", idir).Run(); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(idir, "Caddyfile"), caddyfile)
		env := []string{"REDIS_URL=" + redisURL,
			"XDG_DATA_HOME=" + filepath.Join(idir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(idir, "config")}
		inst[i] = &edgeInstance{
			proc:    start(t, idir, env, filepath.Join(bin, "caddy"), "run", "--config", filepath.Join(idir, "Caddyfile"), "--adapter", "caddyfile"),
			site:    fmt.Sprintf("http://127.0.0.1:%d/", httpPort),
			admin:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(e *edgeInstance, ip string) (int, http.Header, error) {
		req, _ := http.NewRequest("GET", e.site, nil)
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, nil
	}
	mustGet := func(e *edgeInstance, ip string) (int, http.Header) {
		t.Helper()
		code, hdr, err := get(e, ip)
		if err != nil {
			t.Fatal(err)
		}
		return code, hdr
	}
	for i, e := range inst {
		waitFor(t, 20*time.Second, fmt.Sprintf("caddy %d serves", i), func() error {
			_, _, err := get(e, "192.0.2.254")
			return err
		})
	}
	storeUp := func(e *edgeInstance) string {
		m := regexp.MustCompile(`\ncaddy_geofilter_store_up\{[^}]*\} (\S+)\n`).FindStringSubmatch(scrape(t, e.metrics))
		if m == nil {
			return "absent"
		}
		return m[1]
	}

	// Exactness: 20 requests in turn pass, the 21st is refused wherever it
	// goes.
	for n := range 20 {
		if code, _ := mustGet(inst[n%3], "192.0.2.1"); code != http.StatusOK {
			t.Fatalf("request %d (caddy %d): status %d", n+1, n%3, code)
		}
	}
	if code, _ := mustGet(inst[20%3], "192.0.2.1"); code != http.StatusTooManyRequests {
		t.Fatalf("21st request: status %d, want 429", code)
	}
	// Ban 3 1h: the third refusal bans, and every instance honours it.
	if code, _ := mustGet(inst[0], "192.0.2.1"); code != http.StatusTooManyRequests {
		t.Fatalf("22nd request: status %d, want 429", code)
	}
	if code, _ := mustGet(inst[1], "192.0.2.1"); code != http.StatusForbidden {
		t.Fatalf("23rd request (third refusal): status %d, want 403 (banned)", code)
	}
	for i, e := range inst {
		code, hdr := mustGet(e, "192.0.2.1")
		ra, _ := strconv.Atoi(hdr.Get("Retry-After"))
		if code != http.StatusForbidden || ra < 3000 {
			t.Errorf("banned client on caddy %d: status %d, Retry-After %q; want 403 and about an hour", i, code, hdr.Get("Retry-After"))
		}
	}

	// A runtime block set through one instance's admin API refuses the
	// client on all three within 100 ms.
	for _, e := range inst {
		if code, _ := mustGet(e, "192.0.2.2"); code != http.StatusOK {
			t.Fatalf("client before the block: status %d", code)
		}
	}
	resp, err := client.Post(inst[0].admin+"/geofilter/blocks", "application/json",
		strings.NewReader(`{"cidr": "192.0.2.0/28", "ttl": "1h", "reason": "shared store test"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST block: status %d: %s", resp.StatusCode, body)
	}
	set := time.Now()
	// Polling counts against the rate limit: spread it over the block's
	// addresses, so that none of them is rate limited or banned.
	polls := 0
	blockedIP := func() string {
		polls++
		return fmt.Sprintf("192.0.2.%d", 2+polls%13)
	}
	for i, e := range inst {
		for {
			if code, _ := mustGet(e, blockedIP()); code == http.StatusForbidden {
				break
			}
			if time.Since(set) > 100*time.Millisecond {
				t.Fatalf("runtime block not in force on caddy %d within 100ms", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("runtime block in force on all three after %v", time.Since(set))
	req, _ := http.NewRequest("DELETE", inst[2].admin+"/geofilter/blocks/192.0.2.0/28", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE block: status %d", resp.StatusCode)
	}
	for i, e := range inst {
		waitFor(t, time.Second, fmt.Sprintf("block lifted on caddy %d", i), func() error {
			if code, _ := mustGet(e, blockedIP()); code != http.StatusOK {
				return fmt.Errorf("status %d", code)
			}
			return nil
		})
		if up := storeUp(e); up != "1" {
			t.Errorf("caddy %d: caddy_geofilter_store_up %s, want 1", i, up)
		}
	}

	// The store goes away: each instance follows its on_error, answers
	// within the timeout, logs the change once and sets the metric.
	rds.kill()
	want := map[string][]int{
		"allow": {200, 200, 200},
		"block": {503, 503, 503},
		"local": {200, 200, 200}, // the in-process limit starts from nothing
	}
	for i, e := range inst {
		for n, w := range want[onError[i]] {
			start := time.Now()
			code, _ := mustGet(e, "192.0.2.3")
			if el := time.Since(start); el > time.Second {
				t.Errorf("caddy %d (on_error %s): request %d took %v with the store down", i, onError[i], n+1, el)
			}
			if code != w {
				t.Errorf("caddy %d (on_error %s): request %d with the store down: status %d, want %d", i, onError[i], n+1, code, w)
			}
		}
		waitFor(t, 2*time.Second, fmt.Sprintf("caddy %d reports the store down", i), func() error {
			if up := storeUp(e); up != "0" {
				return fmt.Errorf("caddy_geofilter_store_up %s", up)
			}
			return nil
		})
	}
	// on_error local: the in-process limit applies in full.
	for n := 3; n < 20; n++ {
		mustGet(inst[2], "192.0.2.3")
	}
	if code, _ := mustGet(inst[2], "192.0.2.3"); code != http.StatusTooManyRequests {
		t.Errorf("on_error local: 21st request with the store down: status %d, want 429", code)
	}

	// The store comes back empty on the same port: the instances notice
	// without a restart, the counters start over, and sharing resumes.
	startRedisServer(t, dir, redisPort)
	for i, e := range inst {
		waitFor(t, 5*time.Second, fmt.Sprintf("caddy %d reports the store up", i), func() error {
			if up := storeUp(e); up != "1" {
				return fmt.Errorf("caddy_geofilter_store_up %s", up)
			}
			return nil
		})
	}
	if code, _ := mustGet(inst[2], "192.0.2.1"); code != http.StatusOK {
		t.Errorf("client banned before the store restart: status %d, want 200 (the store is empty)", code)
	}
	for n := range 20 {
		if code, _ := mustGet(inst[n%3], "192.0.2.4"); code != http.StatusOK {
			t.Fatalf("after the restart, request %d (caddy %d): status %d", n+1, n%3, code)
		}
	}
	if code, _ := mustGet(inst[1], "192.0.2.4"); code != http.StatusTooManyRequests {
		t.Errorf("after the restart, 21st request: status %d, want 429", code)
	}

	for i, e := range inst {
		out := e.proc.out.String()
		if strings.Contains(out, redisPassword) {
			t.Errorf("caddy %d logged the store password", i)
		}
		if n := strings.Count(out, `"store unreachable"`); n != 1 {
			t.Errorf("caddy %d logged the store going down %d times, want once", i, n)
		}
		if n := strings.Count(out, `"store reachable again`); n != 1 {
			t.Errorf("caddy %d logged the store coming back %d times, want once", i, n)
		}
	}
}
