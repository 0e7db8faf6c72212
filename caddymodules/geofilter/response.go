package geofilter

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// validateResponseOptions checks rate_limit_status and rate_limit_headers.
func (h *Handler) validateResponseOptions() error {
	if (len(h.RateLimitStatus) > 0 || h.RateLimitHeaders) && h.RateLimit == nil {
		return errors.New("rate_limit_status and rate_limit_headers need rate_limit")
	}
	if len(h.RateLimitStatus) > 0 && h.Store != nil {
		// Asking first and counting after the response would cost the
		// store two round trips per request.
		return errors.New("rate_limit_status cannot be combined with store")
	}
	for _, s := range h.RateLimitStatus {
		if s < 100 || s > 599 {
			return fmt.Errorf("rate_limit_status: want HTTP status codes, got %d", s)
		}
	}
	return nil
}

// provisionResponseOptions prepares response-aware counting and the
// RateLimit headers; h.policy is provisioned.
func (h *Handler) provisionResponseOptions() {
	for _, s := range h.RateLimitStatus {
		h.countStatus[s/64] |= 1 << (s % 64)
	}
	h.policy.countLater = len(h.RateLimitStatus) > 0
	if h.RateLimitHeaders && h.RateLimit != nil {
		h.limitName = policyName(h.RateLimit.Zone)
		w := int64(math.Ceil(time.Duration(h.RateLimit.Window).Seconds()))
		h.limitPolicy = []string{fmt.Sprintf("%s;q=%d;w=%d", h.limitName, h.RateLimit.Requests, w)}
	}
}

// policyName is the quota policy's name in the RateLimit headers: the zone
// when it is a plain token, else "geofilter", as a structured-field string.
func policyName(zone string) string {
	ok := zone != ""
	for _, c := range zone {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			ok = false
		}
	}
	if !ok {
		zone = "geofilter"
	}
	return `"` + zone + `"`
}

// setRateLimitHeaders adds the RateLimit and RateLimit-Policy fields of
// the IETF httpapi ratelimit-headers draft for a request the rate limit
// judged.
func (h *Handler) setRateLimitHeaders(w http.ResponseWriter, ip netip.Addr, v *verdict) {
	var remaining uint64
	var reset time.Duration
	switch v.reason {
	case "":
		if v.stored {
			remaining, reset = uint64(max(v.quota, 0)), v.reset
		} else {
			remaining, reset = h.policy.limiter.quota(ip)
		}
	case reasonRateLimit, reasonBanned:
		reset = v.retryAfter
	default:
		return // refused before the rate limit looked at it
	}
	hdr := w.Header()
	hdr["Ratelimit-Policy"] = h.limitPolicy
	hdr.Set("RateLimit", h.limitName+";r="+strconv.FormatUint(remaining, 10)+";t="+strconv.Itoa(retryAfterSeconds(reset.Seconds())))
}

// statusRecorder watches the status a response is sent with; everything
// else goes straight to the wrapped writer, bodies are not touched.
type statusRecorder struct {
	caddyhttp.ResponseWriterWrapper
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

var recorderPool = sync.Pool{New: func() any { return new(statusRecorder) }}

// serveCounted passes the request on and counts it against the client's
// rate limit when its response status is one of rate_limit_status.
func (h *Handler) serveCounted(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, ip netip.Addr) error {
	rec := recorderPool.Get().(*statusRecorder)
	rec.ResponseWriter, rec.status = w, 0
	err := next.ServeHTTP(rec, r)
	status := rec.status
	rec.ResponseWriter = nil
	recorderPool.Put(rec)
	if status == 0 {
		status = http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			if he, ok := errors.AsType[caddyhttp.HandlerError](err); ok && he.StatusCode != 0 {
				status = he.StatusCode
			}
		}
	}
	if status < 600 && h.countStatus[status/64]&(1<<(status%64)) != 0 {
		h.policy.limiter.record(ip)
	}
	return err
}
