package mcns

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
)

const (
	manyZones       = 2000
	manyZoneRecords = 25
)

// writeSmallZones writes count zones z-N.test. of records names each.
func writeSmallZones(b *testing.B, dir string, count, records int) []string {
	b.Helper()
	paths := make([]string, 0, count)
	for z := 0; z < count; z++ {
		origin := fmt.Sprintf("z-%d.test.", z)
		p := filepath.Join(dir, origin+"zone")
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		fmt.Fprintf(w, "$ORIGIN %s\n$TTL 3600\n@ IN SOA ns.%s hostmaster.%s 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n", origin, origin, origin)
		for i := 0; i < records-3; i++ {
			fmt.Fprintf(w, "host-%d A 10.0.%d.%d\n", i, z&255, i)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// startSeeded runs a CoreDNS server seeded with files and the API, on a
// fixed port so UDP queries and the API reach it, and returns the DNS
// address, an API client and how long the start took.
func startSeeded(b *testing.B, dir string, allow string, files []string) (string, *apiClient, time.Duration) {
	b.Helper()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	port := freePort(b)
	caddy.Quiet, dnsserver.Quiet = true, true
	start := time.Now()
	inst, err := caddy.Start(corefileInput(fmt.Sprintf(`.:%d {
	bind 127.0.0.1
	mcns %s {
		seed %s
		refresh 1s
		allow_zones %s
		api %s {
			insecure_plaintext
			tokens %s
		}
	}
}`, port, filepath.Join(dir, "mcns.db"), strings.Join(files, " "), allow, apiAddr, writeTokenFile(b))))
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.Cleanup(func() { inst.Stop() })
	return "127.0.0.1:" + strconv.Itoa(port), newAPIClient(apiAddr), took
}

// vmRSS is this process's resident set size in MiB, from /proc.
func vmRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Skip("no VmRSS in /proc/self/status")
	return 0
}

// queryRate sends queries for names from 4 clients for d and returns the
// answers per second; every answer must be NOERROR.
func queryRate(b *testing.B, addr string, names []string, d time.Duration) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := &dns.Client{Timeout: 2 * time.Second}
			for i := w; time.Now().Before(stop); i += 4 {
				resp, _, err := c.Exchange(new(dns.Msg).SetQuestion(names[i%len(names)], dns.TypeA), addr)
				if err != nil || resp.Rcode != dns.RcodeSuccess {
					b.Errorf("query %s: %v %v", names[i%len(names)], resp, err)
					return
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// BenchmarkManyZonesServed serves 2,000 zones of 25 records and, against a
// server with one zone of the same 50,000 records, reports: time from
// start to serving, the process's RSS before and after starting it, API write latency (p50) to one of the
// many zones vs the one zone, and query throughput spread over all zones
// vs over the one zone. One operation is one write to each server.
func BenchmarkManyZonesServed(b *testing.B) {
	dir := b.TempDir()
	rssBefore := vmRSS(b)
	manyAddr, manyAPI, manyStart := startSeeded(b, dir, "test", writeSmallZones(b, dir, manyZones, manyZoneRecords))
	rssMany := vmRSS(b)
	oneDir := b.TempDir()
	oneAddr, oneAPI, oneStart := startSeeded(b, oneDir, "one.test",
		[]string{writeBenchZone(b, oneDir, "one.test.", manyZones*manyZoneRecords-3)})

	var many, one []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		many = append(many, postA(b, manyAPI, fmt.Sprintf("z-%d.test", i%manyZones), i))
		one = append(one, postA(b, oneAPI, "one.test", i))
	}
	b.StopTimer()

	var manyNames, oneNames []string
	for i := 0; i < 5000; i++ {
		manyNames = append(manyNames, fmt.Sprintf("host-%d.z-%d.test.", i%(manyZoneRecords-3), (i*7919)%manyZones))
		oneNames = append(oneNames, fmt.Sprintf("host-%d.one.test.", (i*7919)%(manyZones*manyZoneRecords-3)))
	}
	manyQPS := queryRate(b, manyAddr, manyNames, 2*time.Second)
	oneQPS := queryRate(b, oneAddr, oneNames, 2*time.Second)

	slices.Sort(many)
	slices.Sort(one)
	b.ReportMetric(manyStart.Seconds(), "start-2000zones-s")
	b.ReportMetric(oneStart.Seconds(), "start-1zone-s")
	// Absolute figures: a difference is blurred by the collector returning
	// memory between the two readings.
	b.ReportMetric(rssBefore, "rss-before-MiB")
	b.ReportMetric(rssMany, "rss-2000zones-MiB")
	b.ReportMetric(percentile(many, 0.5), "write-2000zones-p50-ms")
	b.ReportMetric(percentile(one, 0.5), "write-1zone-p50-ms")
	b.ReportMetric(manyQPS, "qps-2000zones")
	b.ReportMetric(oneQPS, "qps-1zone")
	if oneQPS > 0 {
		b.ReportMetric(manyQPS/oneQPS, "qps-2000zones/1zone")
	}
}
