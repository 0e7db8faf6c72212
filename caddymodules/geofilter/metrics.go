package geofilter

import (
	"errors"
	"strings"

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

// dbBuildTime exports, for every loaded database, the build time its
// metadata records (MaxMind's build_epoch), so that a database that stopped
// being updated can raise an alert. Read at scrape time from dbPool.
var dbBuildTime = prometheus.NewDesc("caddy_geofilter_database_build_timestamp_seconds",
	"Build time (Unix seconds) recorded in each loaded GeoIP database's metadata.", []string{"db"}, nil)

type dbBuildCollector struct{}

func (dbBuildCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dbBuildTime }

func (dbBuildCollector) Collect(ch chan<- prometheus.Metric) {
	dbPool.Range(func(key, val any) bool {
		if d, ok := val.(*database); ok {
			if v := d.cur.Load(); v != nil {
				path := strings.TrimPrefix(key.(string), "geofilter.db:")
				ch <- prometheus.MustNewConstMetric(dbBuildTime, prometheus.GaugeValue, float64(v.reader.Metadata.BuildEpoch), path)
			}
		}
		return true
	})
}

// registerCollector adds c to ctx's registry once: registering it again
// (another module of the same config) is not an error.
func registerCollector(ctx caddy.Context, c prometheus.Collector) error {
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := reg.Register(c); err != nil {
			if _, dup := errors.AsType[prometheus.AlreadyRegisteredError](err); !dup {
				return err
			}
		}
	}
	return nil
}

func count(c *prometheus.CounterVec, v verdict) {
	if c != nil {
		c.WithLabelValues(v.reason, v.country.String()).Inc()
	}
}
