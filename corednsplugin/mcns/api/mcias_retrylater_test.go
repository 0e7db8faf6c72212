package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestMCIASRetryLaterIsUnavailable: MCIAS answering 408, 425 or 429 has
// not judged the token: the request is denied as auth_unavailable, nothing
// is cached, and the client is not charged a failed attempt.
func TestMCIASRetryLaterIsUnavailable(t *testing.T) {
	for _, status := range []int{http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			f := newFakeMCIAS(t)
			h := newHarness(t, newFakeStore(), &Config{
				MCIAS: &MCIASConfig{URL: f.srv.URL, CACert: f.caFile, ValidatePath: defaultValidatePath},
			})
			now := time.Unix(1_800_000_000, 0)
			h.srv.auth.fails.now = func() time.Time { return now }
			h.srv.auth.mcias.now = func() time.Time { return now }
			f.status.Store(int32(status))
			const tries = failBurst + 2
			for i := range tries {
				r := h.do("GET", "/v1/zones", "alice-token", "")
				if r.status != http.StatusUnauthorized || r.code() != "auth_unavailable" {
					t.Fatalf("attempt %d: %d %s, want 401 auth_unavailable", i, r.status, r.body)
				}
			}
			if n := f.calls.Load(); n != tries {
				t.Errorf("%d calls to MCIAS for %d attempts: the answer was cached", n, tries)
			}
			f.status.Store(0)
			if r := h.do("GET", "/v1/zones", "alice-token", ""); r.status != http.StatusOK {
				t.Errorf("after MCIAS recovered: %d %s", r.status, r.body)
			}
		})
	}
}
