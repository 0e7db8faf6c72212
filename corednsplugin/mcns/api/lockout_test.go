package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestKnownTokensPassAnExhaustedLimiter: failures sent from an address
// (loopback, say, which every local process shares) use up its attempts,
// yet tokens known valid are still accepted from that same address: tokens
// from the tokens file, and one MCIAS said is valid a moment ago. Guesses,
// and tokens that would need MCIAS, are still held back.
func TestKnownTokensPassAnExhaustedLimiter(t *testing.T) {
	f := newFakeMCIAS(t)
	h := newHarness(t, newFakeStore(), &Config{
		TokensFile: writeTokens(t, t.TempDir()),
		MCIAS:      &MCIASConfig{URL: f.srv.URL, CACert: f.caFile, ValidatePath: defaultValidatePath},
	})
	// A stopped clock: no attempt refills and no verdict expires.
	now := time.Unix(1_800_000_000, 0)
	h.srv.auth.fails.now = func() time.Time { return now }
	h.srv.auth.mcias.now = func() time.Time { return now }
	const admin, attacker = "127.0.0.1:40001", "127.0.0.1:40002"
	if r := h.doFrom(admin, "GET", "/v1/zones", "alice-token", ""); r.status != http.StatusOK {
		t.Fatalf("MCIAS token: %d %s", r.status, r.body)
	}
	for i := range failBurst {
		if r := h.doFrom(attacker, "GET", "/v1/zones", fmt.Sprintf("bad-%d", i), ""); r.status != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d", i, r.status)
		}
	}
	if r := h.doFrom(attacker, "GET", "/v1/zones", "bad-more", ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("limiter not exhausted: %d", r.status)
	}
	calls := f.calls.Load()
	cases := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"tokens-file admin writes", "POST", "/v1/zones", adminToken, `{"name":"example.com","primary_ns":"ns.example.com."}`, http.StatusCreated},
		{"tokens-file reader reads", "GET", "/v1/zones", readerToken, "", http.StatusOK},
		{"cached MCIAS admin writes", "DELETE", "/v1/zones/example.com", "alice-token", "", http.StatusNoContent},
	}
	for _, c := range cases {
		if r := h.doFrom(admin, c.method, c.path, c.token, c.body); r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
	for _, tok := range []string{"bob-token", "bad-again", ""} {
		if r := h.doFrom(attacker, "GET", "/v1/zones", tok, ""); r.status != http.StatusTooManyRequests {
			t.Errorf("token %q needing a check: %d, want 429", tok, r.status)
		}
	}
	if n := f.calls.Load() - calls; n != 0 {
		t.Errorf("%d calls to MCIAS after the limiter was exhausted", n)
	}
}
