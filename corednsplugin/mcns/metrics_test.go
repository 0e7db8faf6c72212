package mcns

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	g.Write(&m)
	return m.GetGauge().GetValue()
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	z0, r0 := gaugeValue(zonesGauge), gaugeValue(recordsGauge)
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg, reverseZone)...)
	// example.org: 20 records; the reverse zone: 3.
	if z, r := gaugeValue(zonesGauge)-z0, gaugeValue(recordsGauge)-r0; z != 2 || r != 23 {
		t.Fatalf("zones %v records %v, want 2 and 23", z, r)
	}
	if gaugeValue(lastLoad) == 0 {
		t.Fatal("last load time not set")
	}
	m.Stop()
	if z, r := gaugeValue(zonesGauge)-z0, gaugeValue(recordsGauge)-r0; z != 0 || r != 0 {
		t.Fatalf("after stop: zones %v records %v", z, r)
	}
	// The names follow CoreDNS's conventions.
	for _, c := range []prometheus.Collector{zonesGauge, recordsGauge, rebuilds, rebuildSeconds, lastLoad} {
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		d := (<-ch).String()
		if want := `fqName: "coredns_mcns_`; !strings.Contains(d, want) {
			t.Errorf("metric %s not named coredns_mcns_*", d)
		}
	}
}

// TestDatabaseFailingGauge: a database that cannot be read shows in
// coredns_mcns_database_failing (the alert's source) until it recovers or
// the instance stops.
func TestDatabaseFailingGauge(t *testing.T) {
	base := gaugeValue(databaseFailing)
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	m.mu.Lock()
	m.noteHealth(errors.New("disk I/O error"))
	m.noteHealth(errors.New("disk I/O error"))
	m.mu.Unlock()
	if v := gaugeValue(databaseFailing) - base; v != 1 {
		t.Fatalf("failing: gauge %v, want 1", v)
	}
	m.mu.Lock()
	m.noteHealth(nil)
	m.noteHealth(errors.New("disk I/O error"))
	m.mu.Unlock()
	m.Stop()
	if v := gaugeValue(databaseFailing) - base; v != 0 {
		t.Fatalf("after stop: gauge %v, want 0", v)
	}
}
