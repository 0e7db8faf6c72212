// Package geofilter is Caddy's firewall for who may connect and how often:
// it refuses clients by address, network, GeoIP country or autonomous
// system, and rate limits them per address (IPv4) or network (IPv6).
//
// It provides the HTTP handler http.handlers.geofilter, the request matcher
// http.matchers.geo and the listener wrapper caddy.listeners.geofilter.
package geofilter

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/metacircular/edge/internal/clientaddr"
	"github.com/metacircular/edge/internal/version"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler refuses requests from blocked clients with an HTTP error (403 by
// default) and over-rate clients with 429 Too Many Requests and a
// Retry-After header. Both are returned as handler errors, so handle_errors
// routes can render them.
//
// The client address is Caddy's client IP: the connection's peer, or the
// address from the forwarding headers when the peer is one of the server's
// trusted_proxies.
type Handler struct {
	Filter
	// HTTP status for blocked requests. Default 403.
	Status int `json:"status,omitempty"`
	// When set, only requests whose response has one of these statuses
	// count against the rate limit (e.g. 401 on a login route); the
	// request over the limit after them is refused. Default: every request
	// counts.
	RateLimitStatus []int `json:"rate_limit_status,omitempty"`
	// Send the RateLimit and RateLimit-Policy response headers (IETF
	// httpapi ratelimit-headers draft).
	RateLimitHeaders bool `json:"rate_limit_headers,omitempty"`
	// Keeps the rate limit counters, bans and runtime blocks in Redis or
	// Valkey, shared by every instance using it.
	Store *Store `json:"store,omitempty"`

	logger  *zap.Logger
	policy  *policy
	blocked *prometheus.CounterVec

	countStatus [10]uint64 // bitmap of RateLimitStatus
	limitName   string     // quota policy name for the RateLimit headers
	limitPolicy []string   // RateLimit-Policy value
	noVars      bool       // leave the geo placeholders unset (benchmarks)
	storeKey    string     // the acquired store; "" without one
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.geofilter",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the databases and builds the lookup tables.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	warnLaxTrustedProxies(ctx, h.logger)
	if h.Status == 0 {
		h.Status = http.StatusForbidden
	}
	if err := h.validateStatus(); err != nil {
		return err
	}
	p, err := h.Filter.provision(h.logger, "http", filterNames)
	if err != nil {
		return fmt.Errorf("geofilter: %w", err)
	}
	h.policy = p
	if err := p.joinBlockList(ctx); err != nil {
		return err
	}
	if err := h.provisionStore(ctx); err != nil {
		return err
	}
	h.provisionResponseOptions()
	version.Announce("geofilter", ctx.GetMetricsRegistry(), h.logger.Sugar().Infof)
	if err := registerCollector(ctx, dbBuildCollector{}); err != nil {
		return err
	}
	h.blocked, err = registerCounter(ctx, newBlockedRequests())
	return err
}

func (h *Handler) validateStatus() error {
	if h.Status != 0 && (h.Status < 400 || h.Status > 599) {
		return fmt.Errorf("status: want a 4xx or 5xx code, got %d", h.Status)
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if err := h.validateStatus(); err != nil {
		return err
	}
	if err := h.validateResponseOptions(); err != nil {
		return err
	}
	if h.Store != nil {
		if err := h.Store.validate(); err != nil {
			return err
		}
	}
	return h.Filter.validate()
}

// Cleanup releases the databases and the limiter state.
func (h *Handler) Cleanup() error {
	if h.policy != nil {
		h.policy.cleanup()
	}
	if h.storeKey != "" {
		releaseStore(h.storeKey)
		h.storeKey = ""
	}
	return nil
}

// ServeHTTP passes allowed requests on and refuses the others.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Before the TLS handshake completes (0-RTT), the forwarding headers
	// cannot be trusted yet; the client retries after the handshake.
	if r.TLS != nil && !r.TLS.HandshakeComplete {
		return caddyhttp.Error(http.StatusTooEarly, errors.New("geofilter: TLS handshake not complete, client address cannot be verified"))
	}
	vars := clientaddr.Vars(r)
	ip, ok := clientaddr.FromVars(vars, r.RemoteAddr)
	if !ok {
		v := verdict{reason: reasonBadAddress, country: noCountry}
		return h.refuse(w, ip, v)
	}
	var v verdict
	if h.noVars {
		v = h.policy.check(ip)
	} else {
		h.policy.locate(ip, &v)
		h.policy.setGeoVars(vars, &v)
		h.policy.judge(ip, &v)
	}
	if h.limitPolicy != nil {
		h.setRateLimitHeaders(w, ip, &v)
	}
	switch {
	case v.reason != "":
		return h.refuse(w, ip, v)
	case h.policy.countLater:
		return h.serveCounted(w, r, next, ip)
	}
	return next.ServeHTTP(w, r)
}

func (h *Handler) refuse(w http.ResponseWriter, ip netip.Addr, v verdict) error {
	status := h.Status
	switch v.reason {
	case reasonRateLimit:
		status = http.StatusTooManyRequests
	case reasonStoreDown:
		status = http.StatusServiceUnavailable
	}
	if v.reason == reasonRateLimit || v.reason == reasonBanned || v.reason == reasonStoreDown {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(v.retryAfter.Seconds())))
	}
	h.logger.Info("request blocked",
		zap.String("reason", v.reason),
		zap.Stringer("client", ip),
		zap.String("country", v.country.String()),
		zap.Uint32("asn", v.asn))
	count(h.blocked, v)
	return caddyhttp.Error(status, fmt.Errorf("geofilter: client %s refused: %s", ip, v.reason))
}

// retryAfterSeconds rounds up, so a client that waits as told is allowed.
func retryAfterSeconds(s float64) int {
	return max(1, int(math.Ceil(s)))
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
