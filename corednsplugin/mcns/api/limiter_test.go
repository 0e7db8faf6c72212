package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedMCIAS is an identity service that holds every call until released,
// standing for a slow one; tokens starting "good-" are valid.
type gatedMCIAS struct {
	srv     *httptest.Server
	calls   atomic.Int32
	release chan struct{}
}

func newGatedMCIAS(t *testing.T) *gatedMCIAS {
	g := &gatedMCIAS{release: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		<-g.release
		var body mciasRequest
		json.NewDecoder(r.Body).Decode(&body)
		if !strings.HasPrefix(body.Token, "good-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"username": body.Token, "roles": []string{"admin"}})
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// TestFailLimiterHoldsParallelGuesses: guesses sent all at once from one
// address, against a slow identity service, are checked no more than the
// burst allows; the rest are answered 429 without reaching the service.
func TestFailLimiterHoldsParallelGuesses(t *testing.T) {
	g := newGatedMCIAS(t)
	h := newHarness(t, newFakeStore(), &Config{
		TokensFile: writeTokens(t, t.TempDir()),
		MCIAS:      &MCIASConfig{URL: g.srv.URL, ValidatePath: "/v"},
	})
	// A stopped clock: no attempt refills while the test runs.
	now := time.Unix(1_800_000_000, 0)
	h.srv.auth.fails.now = func() time.Time { return now }
	const guesses = 200
	const attacker = "198.51.100.7:1234"
	var wg sync.WaitGroup
	var limited, unauth atomic.Int32
	for i := range guesses {
		wg.Go(func() {
			r := h.doFrom(attacker, "GET", "/v1/zones", fmt.Sprintf("guess-%d", i), "")
			switch r.status {
			case http.StatusTooManyRequests:
				if r.header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				limited.Add(1)
			case http.StatusUnauthorized:
				unauth.Add(1)
			default:
				t.Errorf("guess %d: status %d", i, r.status)
			}
		})
	}
	// Every guess is either refused or waiting at the service; then the
	// service answers.
	deadline := time.Now().Add(10 * time.Second)
	for g.calls.Load()+limited.Load() < guesses && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(g.release)
	wg.Wait()
	if n := g.calls.Load(); n > failBurst {
		t.Errorf("%d guesses reached the identity service, want at most %d", n, failBurst)
	}
	if n := unauth.Load(); n > failBurst {
		t.Errorf("%d guesses were checked, want at most %d", n, failBurst)
	}
	if n := limited.Load(); n < guesses-failBurst {
		t.Errorf("%d guesses answered 429, want at least %d", n, guesses-failBurst)
	}
	// The address has used its allowance; others have not.
	if r := h.doFrom(attacker, "GET", "/v1/zones", "guess-more", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("further guess: %d", r.status)
	}
	if r := h.doFrom("198.51.100.8:1", "GET", "/v1/zones", adminToken, ""); r.status != 200 {
		t.Errorf("another address: %d", r.status)
	}
}

// TestFailLimiterSparesValidTokens: valid tokens cost a client nothing,
// whether checked by the identity service one after another or presented
// from the tokens file many at once, so a busy client is never slowed by
// the limiter.
func TestFailLimiterSparesValidTokens(t *testing.T) {
	g := newGatedMCIAS(t)
	close(g.release)
	h := newHarness(t, newFakeStore(), &Config{
		TokensFile: writeTokens(t, t.TempDir()),
		MCIAS:      &MCIASConfig{URL: g.srv.URL, ValidatePath: "/v"},
	})
	// A stopped clock: no attempt refills while the test runs.
	now := time.Unix(1_800_000_000, 0)
	h.srv.auth.fails.now = func() time.Time { return now }
	const client = "198.51.100.9:1"
	// Some failures first, leaving one attempt.
	for range failBurst - 1 {
		if r := h.doFrom(client, "GET", "/v1/zones", "bad", ""); r.status != 401 {
			t.Fatalf("bad token: %d", r.status)
		}
	}
	for i := range 3 * failBurst {
		if r := h.doFrom(client, "GET", "/v1/zones", fmt.Sprintf("good-%d", i), ""); r.status != 200 {
			t.Fatalf("valid identity-service token %d: %d", i, r.status)
		}
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if r := h.doFrom(client, "GET", "/v1/zones", adminToken, ""); r.status != 200 {
				t.Errorf("valid tokens-file token, in parallel: %d", r.status)
			}
		})
	}
	wg.Wait()
	// The one attempt left is still there; then the client is held.
	if r := h.doFrom(client, "GET", "/v1/zones", "bad", ""); r.status != 401 {
		t.Errorf("last allowed failure: %d", r.status)
	}
	if r := h.doFrom(client, "GET", "/v1/zones", "bad", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("after the allowance: %d", r.status)
	}
}
