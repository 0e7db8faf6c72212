package geofilter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves the runtime block list on Caddy's admin endpoint:
//
//	GET    /geofilter/blocks          runtime blocks and bans in force
//	POST   /geofilter/blocks          {"cidr": "203.0.113.5/32", "ttl": "1h", "reason": "..."}
//	DELETE /geofilter/blocks/<cidr>   lift a runtime block or a ban
//
// Runtime blocks apply at once to every geofilter handler, geo matcher
// (blocked) and listener wrapper, are kept in Caddy's storage and expire
// by themselves. Caddy loads admin API modules by itself; there is nothing
// to configure.
type AdminAPI struct {
	blocks *blockList
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.geofilter",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision joins the process's block list for as long as ctx lives.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	b, err := acquireBlockList(ctx)
	if err != nil {
		return err
	}
	a.blocks = b
	a.logger = caddy.Log().Named("admin.api.geofilter")
	// The router lives as long as its config; Caddy calls no Cleanup on
	// admin routers.
	go func() {
		<-ctx.Done()
		releaseBlockList()
	}()
	return nil
}

const blocksPath = "/geofilter/blocks"

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: blocksPath, Handler: caddy.AdminHandlerFunc(a.handleBlocks)},
		{Pattern: blocksPath + "/", Handler: caddy.AdminHandlerFunc(a.handleBlock)},
	}
}

// maxBlockRequest bounds the body of a POST.
const maxBlockRequest = 64 << 10

type blockRequest struct {
	CIDR   string `json:"cidr"`
	TTL    string `json:"ttl,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err}
}

func (a *AdminAPI) handleBlocks(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet:
		return writeJSON(w, http.StatusOK, map[string]any{"blocks": a.blocks.list()})
	case http.MethodPost:
		var req blockRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBlockRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return apiError(http.StatusBadRequest, fmt.Errorf("invalid request body: %w", err))
		}
		p, err := parseCIDR(strings.TrimSpace(req.CIDR))
		if err != nil {
			return apiError(http.StatusBadRequest, err)
		}
		var ttl time.Duration
		if req.TTL != "" {
			if ttl, err = caddy.ParseDuration(req.TTL); err != nil || ttl <= 0 {
				return apiError(http.StatusBadRequest, fmt.Errorf("invalid ttl %q: want a positive duration such as 30m or 1d", req.TTL))
			}
		}
		if len(req.Reason) > 200 {
			return apiError(http.StatusBadRequest, errors.New("reason: at most 200 bytes"))
		}
		e, err := a.blocks.block(r.Context(), p, req.Reason, ttl)
		if errors.Is(err, errListFull) {
			return apiError(http.StatusConflict, err)
		}
		if err != nil {
			return apiError(http.StatusInternalServerError, fmt.Errorf("block not set: %w", err))
		}
		a.logger.Info("runtime block set", zap.String("cidr", e.CIDR), zap.String("reason", e.Reason), zap.Duration("ttl", ttl))
		return writeJSON(w, http.StatusCreated, e)
	}
	return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
}

func (a *AdminAPI) handleBlock(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodDelete {
		return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
	}
	// "203.0.113.5/32" arrives as two path segments, "203.0.113.5%2F32"
	// as one; both name the same network.
	raw := strings.TrimPrefix(r.URL.EscapedPath(), blocksPath+"/")
	s, err := url.PathUnescape(raw)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("invalid path: %w", err))
	}
	p, err := parseCIDR(s)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	found, err := a.blocks.remove(r.Context(), p)
	if err != nil {
		return apiError(http.StatusInternalServerError, fmt.Errorf("block not removed: %w", err))
	}
	if !found {
		return apiError(http.StatusNotFound, fmt.Errorf("%s is neither blocked nor banned", p))
	}
	a.logger.Info("runtime block or ban lifted", zap.Stringer("cidr", p))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
