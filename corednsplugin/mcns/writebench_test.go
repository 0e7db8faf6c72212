package mcns

import (
	"bufio"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
)

// writeBenchZone writes a zone file of n names (one A record each) under
// origin and returns its path.
func writeBenchZone(b *testing.B, dir, origin string, n int) string {
	b.Helper()
	p := filepath.Join(dir, origin+"zone")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL 3600\n@ IN SOA ns.%s hostmaster.%s 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n", origin, origin, origin)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "host-%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// startWriteBenchServer runs a CoreDNS server whose mcns block serves
// large.test (100,000 names) and small.test (1,000 names) with the API,
// and returns an API client.
func startWriteBenchServer(b *testing.B) *apiClient {
	b.Helper()
	dir := b.TempDir()
	large := writeBenchZone(b, dir, "large.test.", 100000)
	small := writeBenchZone(b, dir, "small.test.", 1000)
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	caddy.Quiet, dnsserver.Quiet = true, true
	inst, err := caddy.Start(corefileInput(fmt.Sprintf(`.:0 {
	bind 127.0.0.1
	mcns %s {
		seed %s %s
		refresh 1s
		allow_zones large.test small.test
		api %s {
			insecure_plaintext
			tokens %s
		}
	}
}`, filepath.Join(dir, "mcns.db"), large, small, apiAddr, writeTokenFile(b))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inst.Stop() })
	return newAPIClient(apiAddr)
}

// postA adds one A record over the client's keep-alive connection and
// returns how long the call took.
func postA(b *testing.B, c *apiClient, zone string, i int) time.Duration {
	start := time.Now()
	if _, err := c.do("POST", "/v1/zones/"+zone+"/records",
		map[string]any{"name": fmt.Sprintf("w-%d", i), "type": "A", "value": fmt.Sprintf("192.0.2.%d", i%250+1), "ttl": 300}, nil); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// percentile is the p-th percentile (0..1) of sorted durations, in ms.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))]) / float64(time.Millisecond)
}

// BenchmarkAPIWriteLargeVsSmall posts one A record at a time to a
// 100,000-name zone and to a 1,000-name zone of the same server,
// alternately, and reports the p50 and p99 latency of each and the ratio
// large/small: a write should cost about the same whatever the zone size.
func BenchmarkAPIWriteLargeVsSmall(b *testing.B) {
	c := startWriteBenchServer(b)
	var large, small []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		large = append(large, postA(b, c, "large.test", i))
		small = append(small, postA(b, c, "small.test", i))
	}
	b.StopTimer()
	slices.Sort(large)
	slices.Sort(small)
	b.ReportMetric(percentile(large, 0.5), "large-p50-ms")
	b.ReportMetric(percentile(large, 0.99), "large-p99-ms")
	b.ReportMetric(percentile(small, 0.5), "small-p50-ms")
	b.ReportMetric(percentile(small, 0.99), "small-p99-ms")
	if p := percentile(small, 0.5); p > 0 {
		b.ReportMetric(percentile(large, 0.5)/p, "large/small-p50")
	}
}

// BenchmarkAPIWriteLargeZone posts one A record per operation to the
// 100,000-name zone; with -benchmem, allocs/op is the cost of one write to
// a large zone (client and server run in this process).
func BenchmarkAPIWriteLargeZone(b *testing.B) {
	c := startWriteBenchServer(b)
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat = append(lat, postA(b, c, "large.test", i))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(percentile(lat, 0.5), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
}

// phaseSeconds is the sum and count of writePhaseSeconds for phase.
func phaseSeconds(phase string) (sum float64, count uint64) {
	var m dto.Metric
	writePhaseSeconds.WithLabelValues(phase).(prometheus.Histogram).Write(&m)
	return m.GetHistogram().GetSampleSum(), m.GetHistogram().GetSampleCount()
}

// BenchmarkAPIWriteBreakdown posts one A record at a time to the
// 1,000-name zone and reports where a write's time goes, in ms per write:
// the API call as the client sees it, the SQL statements, SQLite's commit
// (WAL write and fsync), serving the change, and the rest (HTTP, JSON,
// authentication, reading the record back). Writes are sequential, so
// each commit holds one write.
func BenchmarkAPIWriteBreakdown(b *testing.B) {
	c := startWriteBenchServer(b)
	phases := []string{"statements", "commit", "apply"}
	before := map[string]float64{}
	for _, p := range phases {
		before[p], _ = phaseSeconds(p)
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		total += postA(b, c, "small.test", i)
	}
	b.StopTimer()
	perWrite := func(seconds float64) float64 { return seconds * 1000 / float64(b.N) }
	rest := total.Seconds()
	for _, p := range phases {
		sum, _ := phaseSeconds(p)
		b.ReportMetric(perWrite(sum-before[p]), p+"-ms/write")
		rest -= sum - before[p]
	}
	b.ReportMetric(perWrite(total.Seconds()), "api-ms/write")
	b.ReportMetric(perWrite(rest), "http-and-rest-ms/write")
}
