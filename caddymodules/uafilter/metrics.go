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
// "inline", "regexp", "empty", "preset:<name>", "file:<path>" or
// "spoofed:<crawler>", crawler a name of the built-in crawler table; the
// raw User-Agent and the client address are never labels.
var (
	blockedOpts     = counterOpts("blocked_total", "Requests refused by the uafilter handler, by the list that matched.")
	matchedOpts     = counterOpts("matched_total", "Requests matched by the user_agent matcher, by the list that matched.")
	reloadsOpts     = counterOpts("list_reloads_total", "Reloads of User-Agent list files and crawler range files, by result (success or error).")
	claimsOpts      = counterOpts("crawler_claims_total", "User-Agent claims of well-known crawlers checked against the client address, by crawler and result (verified or spoofed).")
	rdnsLookupsOpts = counterOpts("rdns_lookups_total", "Reverse-DNS verifications of crawler addresses, by result (confirmed, unconfirmed, error, limited).")
	rdnsSecondsOpts = prometheus.HistogramOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "rdns_lookup_seconds",
		Help:      "Duration of reverse-DNS verifications of crawler addresses (PTR and forward lookups).",
		Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}
)

func counterOpts(name, help string) prometheus.CounterOpts {
	return prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
}

// register registers c in the metrics registry of ctx and returns it. Every
// config load gets a fresh registry; within one registry, the first
// handler or matcher registers the collector and later ones (and
// re-provisioned ones) reuse it, so registration is safe to repeat.
func register[C prometheus.Collector](ctx caddy.Context, c C, name string) (C, error) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("registering metric %s: %v", name, err)
	}
	return c, nil
}

func fullName(namespace, subsystem, name string) string {
	return namespace + "_" + subsystem + "_" + name
}

// counterVec returns the counter vector described by opts in the metrics
// registry of ctx.
func counterVec(ctx caddy.Context, opts prometheus.CounterOpts, labels ...string) (*prometheus.CounterVec, error) {
	return register(ctx, prometheus.NewCounterVec(opts, labels), fullName(opts.Namespace, opts.Subsystem, opts.Name))
}

// provisionEngine is the Provision step the handler and the matcher share:
// their counters (selected requests counted under opts) and the engine.
func provisionEngine(ctx caddy.Context, rules Rules, logger *zap.Logger, opts prometheus.CounterOpts) (*engine, error) {
	sel, reloads, err := provisionMetrics(ctx, opts)
	if err != nil {
		return nil, err
	}
	var vm *verifyMetrics
	if rules.VerifyBots != nil {
		if vm, err = provisionVerifyMetrics(ctx); err != nil {
			return nil, err
		}
	}
	return newEngineWith(ctx, rules, logger, sel, reloads, vm)
}

// provisionMetrics returns the selection counter and the reload counter.
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

// verifyMetrics are the metrics of crawler verification. Their labels are
// bounded: crawler names come from the built-in table.
type verifyMetrics struct {
	claims  *prometheus.CounterVec // by crawler, result
	lookups *prometheus.CounterVec // by result
	latency prometheus.Observer
}

func provisionVerifyMetrics(ctx caddy.Context) (*verifyMetrics, error) {
	var vm verifyMetrics
	var err error
	if vm.claims, err = counterVec(ctx, claimsOpts, "crawler", "result"); err != nil {
		return nil, err
	}
	if vm.lookups, err = counterVec(ctx, rdnsLookupsOpts, "result"); err != nil {
		return nil, err
	}
	h, err := register(ctx, prometheus.NewHistogram(rdnsSecondsOpts), fullName(metricsNamespace, metricsSubsystem, rdnsSecondsOpts.Name))
	if err != nil {
		return nil, err
	}
	vm.latency = h
	return &vm, nil
}

// unregisteredVerifyMetrics are verification metrics outside any registry.
func unregisteredVerifyMetrics() *verifyMetrics {
	return &verifyMetrics{
		claims:  prometheus.NewCounterVec(claimsOpts, []string{"crawler", "result"}),
		lookups: prometheus.NewCounterVec(rdnsLookupsOpts, []string{"result"}),
		latency: prometheus.NewHistogram(rdnsSecondsOpts),
	}
}
