package version

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// series returns the edge_build_info series in reg as name{labels} value.
func series(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != MetricName {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s{%s} %g", MetricName, strings.Join(labels, ","), m.GetGauge().GetValue()))
		}
	}
	return out
}

func TestAnnounceRegistersOnceAndLogsOncePerPlugin(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var lines []string
	logf := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	for range 3 {
		Announce("a", reg, logf)
		Announce("b", reg, logf)
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "edge devel (commit unknown)") {
		t.Errorf("log lines = %q, want one per plugin naming the version", lines)
	}
	if got := series(t, reg); len(got) != 1 || got[0] != "edge_build_info{commit=unknown,version=devel} 1" {
		t.Errorf("series = %q", got)
	}
	// A second registry (Caddy's next config) gets the gauge too.
	other := prometheus.NewRegistry()
	Announce("a", other, logf)
	if got := series(t, other); len(got) != 1 {
		t.Errorf("second registry: series = %q", got)
	}
}

func TestRegisterNilRegistry(t *testing.T) {
	var r *prometheus.Registry
	if err := Register(r); err != nil {
		t.Error(err)
	}
	if err := Register(nil); err != nil {
		t.Error(err)
	}
}
