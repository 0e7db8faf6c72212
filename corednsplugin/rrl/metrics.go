package rrl

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are the server and the response category (response, nodata,
// nxdomain, referral, error): never the client or the name, so the number
// of series does not grow with the traffic. The table gauges sum over all
// rrl instances of the process.
var (
	dropped = categoryCounter("responses_dropped_total",
		"UDP responses not sent because their client network exceeded its rate.")
	slipped = categoryCounter("responses_slipped_total",
		"UDP responses over the rate replaced by a truncated (TC=1) reply.")
	wouldLimit = categoryCounter("responses_would_limit_total",
		"UDP responses over the rate that report-only mode sent anyway (dropped or truncated otherwise).")
	tableEntries = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "table_entries",
		Help:      "Accounts (client network, category, name) held in the rate tables.",
	})
	tableEvictions = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "table_evictions_total",
		Help:      "Accounts replaced by new ones because the rate table was full.",
	})
)

func categoryCounter(name, help string) *prometheus.CounterVec {
	return promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      name,
		Help:      help,
	}, []string{"server", "category"})
}

// serverCounters are the per-category counters of one server, looked up
// once so the drop path allocates nothing.
type serverCounters struct {
	dropped, slipped, wouldLimit [numCategories]prometheus.Counter
}

// serverCounters returns the counters for server. The map is copied on
// write, so lookups take no lock: there are only a few servers.
func (r *RRL) serverCounters(server string) *serverCounters {
	if sc, ok := (*r.counters.Load())[server]; ok {
		return sc
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.counters.Load()
	if sc, ok := old[server]; ok {
		return sc
	}
	sc := new(serverCounters)
	for c := range numCategories {
		sc.dropped[c] = dropped.WithLabelValues(server, c.String())
		sc.slipped[c] = slipped.WithLabelValues(server, c.String())
		sc.wouldLimit[c] = wouldLimit.WithLabelValues(server, c.String())
	}
	m := make(map[string]*serverCounters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[server] = sc
	r.counters.Store(&m)
	return sc
}
