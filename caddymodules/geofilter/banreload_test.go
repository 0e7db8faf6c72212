package geofilter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// banReloadCaddyfile is a site behind geofilter (filter: its options)
// answering body, whose refusals render the handler error's message.
func banReloadCaddyfile(filter, body string) string {
	return globalOptions + fmt.Sprintf(`
:%d {
	geofilter {
%s
	}
	respond %q
	handle_errors {
		respond "refused {err.status_code}: {err.message}"
	}
}
`, httpPort, filter, body)
}

// TestBanSurvivesReload checks that a ban earned through the rate limit
// stays in force across config reloads: one that leaves geofilter's
// options as they are, and one that changes them, the rate limit
// included (a fresh limiter that would let the client through).
func TestBanSurvivesReload(t *testing.T) {
	const client, other = "203.0.113.120", "203.0.113.121"
	t.Cleanup(func() { adminDo(t, "DELETE", blocksPath+"/"+client+"%2F32", "") })
	tc := newTester(t)

	// banned asserts that client is refused with status, reason banned
	// and the ban's Retry-After (about an hour: the rate limit's own is at
	// most two 10-minute windows).
	banned := func(t *testing.T, step string, status int) {
		t.Helper()
		r := get(t, tc, client)
		if r.status != status || !strings.HasSuffix(r.body, "refused: banned") {
			t.Errorf("%s: got %d %q, want %d and reason banned", step, r.status, r.body, status)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 3500 || s > 3600 {
			t.Errorf("%s: Retry-After %q, want the ban's (3500-3600 s)", step, r.header.Get("Retry-After"))
		}
	}
	// answers asserts that the config with body is the one in force.
	answers := func(t *testing.T, step, body string) {
		t.Helper()
		if r := get(t, tc, other); r.status != http.StatusOK || r.body != body {
			t.Fatalf("%s: other client got %d %q, want 200 %q (config not loaded)", step, r.status, r.body, body)
		}
	}

	filter := "\t\trate_limit 1 10m\n\t\trate_limit_zone ban-reload\n\t\tban 2 1h\n\t\tstatus 451"
	tc.InitServer(banReloadCaddyfile(filter, "ok-1"), "caddyfile")
	if r := get(t, tc, client); r.status != http.StatusOK || r.body != "ok-1" {
		t.Fatalf("first request: %d %q", r.status, r.body)
	}
	if r := get(t, tc, client); r.status != http.StatusTooManyRequests || !strings.HasSuffix(r.body, "refused: rate_limit") {
		t.Fatalf("second request (first strike): %d %q", r.status, r.body)
	}
	banned(t, "second strike", 451)
	if l := listBlocks(t); !contains(l, "ban "+client+"/32 banned") {
		t.Fatalf("ban not listed: %v", l)
	}

	// The same geofilter options; only the site's answer differs, so the
	// config is really replaced.
	tc.InitServer(banReloadCaddyfile(filter, "ok-2"), "caddyfile")
	answers(t, "equal options", "ok-2")
	banned(t, "after a reload with equal options", 451)

	// Other options and another rate limit: the client has a fresh budget
	// of 5 there, so only the ban refuses it.
	changed := "\t\trate_limit 5 10m\n\t\trate_limit_zone ban-reload-2\n\t\tban 2 1h\n\t\tblock_ips 192.0.2.9\n\t\tstatus 403"
	tc.InitServer(banReloadCaddyfile(changed, "ok-3"), "caddyfile")
	answers(t, "changed options", "ok-3")
	banned(t, "after a reload with changed options", 403)
	if l := listBlocks(t); !contains(l, "ban "+client+"/32 banned") {
		t.Errorf("ban not listed after the reloads: %v", l)
	}

	// Lifting it lets the client through under the new limit.
	if status, body := adminDo(t, "DELETE", blocksPath+"/"+client+"%2F32", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	if r := get(t, tc, client); r.status != http.StatusOK || r.body != "ok-3" {
		t.Errorf("after lifting the ban: %d %q", r.status, r.body)
	}
}
