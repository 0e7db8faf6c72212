// Package uafilter is a Caddy HTTP handler (http.handlers.uafilter) that
// refuses requests by User-Agent, and a request matcher
// (http.matchers.user_agent) that selects them with the same rules.
//
// All patterns — inline, presets by category, list files (plain or
// ai.robots.txt's robots.json) and the tokens of well-known crawlers — are
// compiled into one Aho-Corasick automaton with ASCII case folding built
// into its byte classes, so a User-Agent is scanned once, byte by byte,
// whatever the number of patterns, without allocating; patterns match
// whole words, checked only where the automaton reports a match.
// Regular expressions are combined into one. With verify_bots, a claim to
// be a crawler of the table is believed only when the client address is
// in the crawler's published ranges or its forward-confirmed reverse DNS
// name ends in one of the crawler's suffixes. List and range files are
// polled and the compiled rules swapped atomically.
package uafilter

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/metacircular/edge/internal/version"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler refuses requests whose User-Agent is selected by its rules with
// a caddyhttp error carrying Status (default 403), which the server's
// handle_errors routes can render. Each refusal is logged with the list
// and pattern that matched and counted in the caddy_uafilter_blocked_total
// metric by list.
type Handler struct {
	Rules

	// HTTP status of refused requests, 400-599 (default 403).
	Status int `json:"status,omitempty"`

	eng    *engine
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.uafilter",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the rules, reads list files and starts watching them.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.Status == 0 {
		h.Status = http.StatusForbidden
	}
	if h.Status < 400 || h.Status > 599 {
		return fmt.Errorf("status: %d is not an HTTP error status (400-599)", h.Status)
	}
	eng, err := provisionEngine(ctx, h.Rules, h.logger, blockedOpts)
	if err != nil {
		return err
	}
	h.eng = eng
	version.Announce("uafilter", ctx.GetMetricsRegistry(), h.logger.Sugar().Infof)
	return nil
}

// Cleanup stops watching list files.
func (h *Handler) Cleanup() error {
	h.eng.close()
	return nil
}

// ServeHTTP refuses selected requests and passes the others on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rs, hit := h.eng.matchRequest(r)
	if hit.list < 0 {
		return next.ServeHTTP(w, r)
	}
	rs.counters[hit.list].Inc()
	name, pattern := rs.lists[hit.list], hit.pattern
	setVars(r, name, pattern, hit.category)
	if c := h.logger.Check(zapcore.InfoLevel, "blocked request by User-Agent"); c != nil {
		c.Write(
			zap.String("list", name),
			zap.String("pattern", pattern),
			zap.String("category", hit.category),
			zap.Int("status", h.Status),
			zap.String("user_agent", r.Header.Get("User-Agent")),
			zap.String("client_ip", clientIP(r)),
			zap.String("uri", r.RequestURI),
		)
	}
	return caddyhttp.Error(h.Status, blockedError(name, pattern))
}

// Request variables set when a request is selected, for use in responses,
// handle_errors routes and access logs as {http.vars.uafilter.list},
// {http.vars.uafilter.pattern} and {http.vars.uafilter.category}.
const (
	varList     = "uafilter.list"
	varPattern  = "uafilter.pattern"
	varCategory = "uafilter.category"
)

func setVars(r *http.Request, list, pattern, category string) {
	caddyhttp.SetVar(r.Context(), varList, list)
	caddyhttp.SetVar(r.Context(), varPattern, pattern)
	caddyhttp.SetVar(r.Context(), varCategory, category)
}

// clientIP is the client address as Caddy determined it (honouring
// trusted_proxies), or the connection's remote address.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	return r.RemoteAddr
}

// blockedError describes a refusal.
func blockedError(list, pattern string) error {
	if list == "empty" && pattern == "" {
		return fmt.Errorf("uafilter: empty User-Agent blocked")
	}
	return fmt.Errorf("uafilter: User-Agent blocked by list %s (pattern %q)", list, pattern)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
