package geofilter

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Counters are labelled by reason and country only: never by client
// address, which would let an attacker grow the series without bound.
func newBlockedRequests() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "geofilter",
		Name:      "requests_blocked_total",
		Help:      "Requests refused by the geofilter handler, by reason and client country.",
	}, []string{"reason", "country"})
}

func newClosedConnections() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "geofilter",
		Name:      "connections_closed_total",
		Help:      "Connections closed by the geofilter listener wrapper, by reason and client country.",
	}, []string{"reason", "country"})
}

// registerCounter registers c with Caddy's registry for this config, or
// returns the counter registered by another instance of the module.
// It returns nil when there is no registry.
func registerCounter(ctx caddy.Context, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil, nil
	}
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}

func count(c *prometheus.CounterVec, v verdict) {
	if c != nil {
		c.WithLabelValues(v.reason, v.country.String()).Inc()
	}
}
