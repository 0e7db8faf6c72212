package api

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metricsSubsystem is mcns's, so the API's metrics sit beside the plugin's
// as coredns_mcns_api_*.
const metricsSubsystem = "mcns"

// Like mcns's own metrics, these carry no labels, and gauges sum over all
// API servers of the process.
var (
	tokensFileFailing = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: metricsSubsystem,
		Name:      "api_tokens_file_failing",
		Help:      "API tokens files that currently cannot be read or parsed, and so grant nothing (0 when all are fine).",
	})
	tokensFileFailures = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: metricsSubsystem,
		Name:      "api_tokens_file_failures_total",
		Help:      "Times an API tokens file became unreadable or unparsable, or failed with a new error.",
	})
)
