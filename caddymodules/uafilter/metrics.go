package uafilter

import (
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

const metricsNamespace, metricsSubsystem = "caddy", "uafilter"

// Metric options. Labels are bounded by the configuration: list is
// "inline", "regexp", "empty", "preset:<name>" or "file:<path>"; the raw
// User-Agent is never a label.
var (
	blockedOpts = prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "blocked_total",
		Help:      "Requests refused by the uafilter handler, by the list that matched.",
	}
	matchedOpts = prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "matched_total",
		Help:      "Requests matched by the user_agent matcher, by the list that matched.",
	}
	reloadsOpts = prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "list_reloads_total",
		Help:      "Reloads of User-Agent list files, by result (success or error).",
	}
)

// counterVec returns the counter vector described by opts in the metrics
// registry of ctx. Every config load gets a fresh registry; within one
// registry, the first handler or matcher registers the vector and later
// ones (and re-provisioned ones) reuse it, so registration is safe to
// repeat.
func counterVec(ctx caddy.Context, opts prometheus.CounterOpts, label string) (*prometheus.CounterVec, error) {
	vec := prometheus.NewCounterVec(opts, []string{label})
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return vec, nil
	}
	if err := reg.Register(vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("registering metric %s_%s_%s: %v", opts.Namespace, opts.Subsystem, opts.Name, err)
	}
	return vec, nil
}

// provisionMetrics returns the selection counter and the reload counter.
// provisionEngine is the Provision step the handler and the matcher share:
// their counters (selected requests counted under opts) and the engine.
func provisionEngine(ctx caddy.Context, rules Rules, logger *zap.Logger, opts prometheus.CounterOpts) (*engine, error) {
	sel, reloads, err := provisionMetrics(ctx, opts)
	if err != nil {
		return nil, err
	}
	return newEngine(ctx, rules, logger, sel, reloads)
}

func provisionMetrics(ctx caddy.Context, opts prometheus.CounterOpts) (sel, reloads *prometheus.CounterVec, err error) {
	sel, err = counterVec(ctx, opts, "list")
	if err != nil {
		return nil, nil, err
	}
	reloads, err = counterVec(ctx, reloadsOpts, "result")
	if err != nil {
		return nil, nil, err
	}
	return sel, reloads, nil
}
