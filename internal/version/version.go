// Package version holds this project's version and commit, stamped into
// bin/caddy and bin/coredns by the build drivers (cmd/xcaddybuild,
// cmd/corednsbuild) with -ldflags -X, and lets each of our plugins report
// them: one log line at startup and the edge_build_info metric.
//
// Without stamping (go test, go build by hand) Version is "devel" and
// Commit "unknown".
package version

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Set with -ldflags "-X github.com/metacircular/edge/internal/version.Version=..."
// (see package stamp).
var (
	// Version is `git describe --tags --always --dirty` of the build.
	Version = "devel"
	// Commit is the commit the binary was built from.
	Commit = "unknown"
)

// MetricName is the gauge, always 1, whose labels carry Version and Commit.
const MetricName = "edge_build_info"

// String is the version as the log line and `coredns -version` show it.
func String() string { return "edge " + Version + " (commit " + Commit + ")" }

var (
	infoOnce sync.Once
	info     prometheus.Gauge

	announced sync.Map // plugin name -> struct{}
)

// buildInfo is the process's one edge_build_info gauge, created on first
// use so that its labels see the stamped values.
func buildInfo() prometheus.Gauge {
	infoOnce.Do(func() {
		info = prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        MetricName,
			Help:        "The edge build running: version and commit of this project; always 1.",
			ConstLabels: prometheus.Labels{"version": Version, "commit": Commit},
		})
		info.Set(1)
	})
	return info
}

// Register adds edge_build_info to reg; registering it again in the same
// registry is not an error. A nil reg (or a nil *prometheus.Registry, as a
// caddy.Context without metrics has) is ignored.
func Register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	if r, ok := reg.(*prometheus.Registry); ok && r == nil {
		return nil
	}
	if err := reg.Register(buildInfo()); err != nil {
		if _, dup := errors.AsType[prometheus.AlreadyRegisteredError](err); !dup {
			return err
		}
	}
	return nil
}

// Announce is what each plugin calls at the end of its setup or Provision:
// it registers edge_build_info with reg (the registry the process serves
// its metrics from) and, the first time per plugin in this process, logs
// the version through logf (the plugin's own logger, which names it).
func Announce(plugin string, reg prometheus.Registerer, logf func(format string, args ...any)) {
	if err := Register(reg); err != nil && logf != nil {
		logf("registering %s: %v", MetricName, err)
	}
	if _, seen := announced.LoadOrStore(plugin, struct{}{}); !seen && logf != nil {
		logf("running %s", String())
	}
}

// AnnounceDefault is Announce with Prometheus's default registry, the one
// CoreDNS's prometheus plugin serves.
func AnnounceDefault(plugin string, logf func(format string, args ...any)) {
	Announce(plugin, prometheus.DefaultRegisterer, logf)
}
