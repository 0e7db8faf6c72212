package mcns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// benchZone is a zone of n hosts with one A record each.
func benchZone(n int) string {
	var b strings.Builder
	b.WriteString("$ORIGIN bench.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "h%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	return b.String()
}

// benchHandlers returns the file plugin and mcns over the same zone, and
// the time mcns took to seed and to load it.
func benchHandlers(b *testing.B, n int) (fp, m plugin.Handler, seedAndLoad, load time.Duration, heapMB float64) {
	text := benchZone(n)
	z, err := file.Parse(strings.NewReader(text), "bench.test.", "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	fp = file.File{Next: nextHandler(), Zones: file.Zones{Z: map[string]*file.Zone{"bench.test.": z}, Names: []string{"bench.test."}}}
	path := filepath.Join(b.TempDir(), "bench.zone")
	os.WriteFile(path, []byte(text), 0o600)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cfg := config{dbPath: filepath.Join(b.TempDir(), "mcns.db"), seeds: []string{path}, refresh: time.Second}
	start := time.Now()
	mc := New(cfg, []string{"."})
	mc.Next = nextHandler()
	if err := mc.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mc.Stop() })
	seedAndLoad = time.Since(start)
	start = time.Now()
	reloadZone(mc.zoneMaintainer, "bench.test.")
	load = time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	return fp, mc, seedAndLoad, load, (float64(ms1.HeapAlloc) - float64(ms0.HeapAlloc)) / (1 << 20)
}

// packingWriter packs every reply, as the server's writer does, so the
// benchmark includes building the wire message.
type packingWriter struct{ test.ResponseWriter }

func (w *packingWriter) WriteMsg(m *dns.Msg) error {
	_, err := m.Pack()
	return err
}

func BenchmarkServeDNS(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		var (
			fp, m             plugin.Handler
			seedAndLoad, load time.Duration
			heapMB            float64
		)
		for _, impl := range []string{"file", "mcns"} {
			b.Run(fmt.Sprintf("%s/%d", impl, n), func(b *testing.B) {
				if fp == nil {
					fp, m, seedAndLoad, load, heapMB = benchHandlers(b, n)
				}
				h := fp
				if impl == "mcns" {
					h = m
				}
				qs := make([]*dns.Msg, 1024)
				for i := range qs {
					name := fmt.Sprintf("h%d.bench.test.", (i*7919)%n)
					if i%8 == 0 {
						name = fmt.Sprintf("nx%d.bench.test.", i) // NXDOMAIN share
					}
					qs[i] = new(dns.Msg).SetQuestion(name, dns.TypeA)
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					rec := dnstest.NewRecorder(&packingWriter{})
					h.ServeDNS(ctx, rec, qs[i%len(qs)])
				}
				if impl == "mcns" {
					// Loading the zone from SQLite into a snapshot.
					b.ReportMetric(load.Seconds(), "load-s")
					b.ReportMetric(seedAndLoad.Seconds(), "seed+load-s")
					b.ReportMetric(heapMB, "snapshot-heap-MB")
				}
			})
		}
	}
}

// BenchmarkWrite measures one write as the API makes it: the store
// transaction, after which the served zone already answers with the change
// (the commit callback applies it). The first write of a zone makes its
// second copy (zonecopy.go) and is left out.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			_, h, _, _, _ := benchHandlers(b, n)
			mc := h.(*MCNS)
			ctx := context.Background()
			write := func(i int) {
				spec := store.RecordSpec{Name: fmt.Sprintf("w%d", i), Type: "A", Value: "192.0.2.1", TTL: 60}
				if _, err := mc.st.AddRecord(ctx, "bench.test.", spec); err != nil {
					b.Fatal(err)
				}
			}
			write(-1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				write(i)
			}
			b.StopTimer()
			q := new(dns.Msg).SetQuestion(fmt.Sprintf("w%d.bench.test.", b.N-1), dns.TypeA)
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			mc.ServeDNS(ctx, rec, q)
			if rec.Msg == nil || len(rec.Msg.Answer) != 1 {
				b.Fatalf("last write not served: %v", rec.Msg)
			}
		})
	}
}

// BenchmarkManyZones measures starting on a database of 2,000 zones of 25
// records (the load of every zone) and one write there (each generation
// copies the zone map: O(zones) pointer copies).
func BenchmarkManyZones(b *testing.B) {
	const zones, hosts = 2000, 22 // + SOA, NS and the NS's address
	dir := b.TempDir()
	var seeds []string
	for z := range zones {
		var t strings.Builder
		fmt.Fprintf(&t, "$ORIGIN z%d.test.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n", z)
		for h := range hosts {
			fmt.Fprintf(&t, "h%d A 10.0.%d.%d\n", h, z%250, h)
		}
		path := filepath.Join(dir, fmt.Sprintf("z%d.zone", z))
		os.WriteFile(path, []byte(t.String()), 0o600)
		seeds = append(seeds, path)
	}
	cfg := config{dbPath: filepath.Join(dir, "mcns.db"), seeds: seeds, refresh: time.Second}
	seeded := New(cfg, []string{"."})
	if err := seeded.Start(); err != nil {
		b.Fatal(err)
	}
	seeded.Stop()
	cfg.seeds = nil
	b.Run("start", func(b *testing.B) {
		for range b.N {
			m := New(cfg, []string{"."})
			if err := m.Start(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if n := len(m.snap.Load().names); n != zones {
				b.Fatalf("%d zones served", n)
			}
			m.Stop()
			b.StartTimer()
		}
	})
	seq := 0 // names stay new across the benchmark's runs
	b.Run("write", func(b *testing.B) {
		m := New(cfg, []string{"."})
		if err := m.Start(); err != nil {
			b.Fatal(err)
		}
		defer m.Stop()
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			seq++
			spec := store.RecordSpec{Name: fmt.Sprintf("w%d", seq), Type: "A", Value: "192.0.2.1", TTL: 60}
			if _, err := m.st.AddRecord(ctx, fmt.Sprintf("z%d.test.", seq%zones), spec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reloadZone reloads one zone from the database right away, timing a full
// load of it apart from seeding.
func reloadZone(zm *zoneMaintainer, zone string) {
	zm.mu.Lock()
	defer zm.mu.Unlock()
	if zm.st == nil {
		return
	}
	zm.reloadLocked(canonicalZone(zone))
}
