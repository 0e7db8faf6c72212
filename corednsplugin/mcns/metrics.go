package mcns

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics carry no per-zone or per-name labels: their number must not grow
// with the data. Gauges sum over all mcns instances of the process.
var (
	zonesGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "zones",
		Help:      "Zones currently served from the database.",
	})
	recordsGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "records",
		Help:      "Records currently served from the database.",
	})
	rebuilds = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "rebuilds_total",
		Help:      "Zone snapshots rebuilt from the database.",
	})
	applied = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "changes_applied_total",
		Help:      "Writes made through mcns applied to the served zones as differences, without reloading the zone.",
	})
	answerHits = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "answer_cache_hits_total",
		Help:      "Queries answered from a zone's answer cache.",
	})
	answerMisses = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "answer_cache_misses_total",
		Help:      "Queries for a zone with an answer cache whose reply was built from the zone's data.",
	})
	answerFlushes = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "answer_cache_flushes_total",
		Help:      "Writes that started a zone's answer cache afresh (apex NS, delegation, DNAME or wildcard changes, or many names at once).",
	})
	writePhaseSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "write_phase_duration_seconds",
		Help:      "Time of each phase of a write: statements (one group commit's SQL, begin to last savepoint), commit (SQLite's WAL write and fsync, once per group) and apply (serving the committed changes).",
		Buckets:   prometheus.ExponentialBuckets(0.00005, 4, 9), // 50µs .. ~3.3s
	}, []string{"phase"})
	rebuildSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "rebuild_duration_seconds",
		Help:      "Time to load one zone from the database and build its snapshot.",
		Buckets:   prometheus.ExponentialBuckets(0.0005, 4, 9), // 0.5ms .. ~33s
	})
	updates = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "updates_total",
		Help:      "RFC 2136 UPDATE requests answered, by response code.",
	}, []string{"rcode"})
	notifies = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "notify_rounds_total",
		Help:      "NOTIFY rounds sent to secondaries after zone changes, by result (ok, failed).",
	}, []string{"result"})
	recursionRefused = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "recursion_refused_total",
		Help:      "Queries for names outside mcns's zones refused because the client is not in recursion_allow.",
	})
	databaseFailing = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "database_failing",
		Help:      "mcns instances whose database cannot be read; they serve the last loaded data meanwhile.",
	})
	lastLoad = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "last_load_timestamp_seconds",
		Help:      "Unix time of the last successful load from the database.",
	})
)
