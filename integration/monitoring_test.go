package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// monitoringDir holds the Prometheus configuration, alert rules and
// Grafana dashboards.
func monitoringDir(t *testing.T) string { return filepath.Join(repoRoot(t), "deploy", "monitoring") }

// TestMonitoringPromtool checks the scrape configuration (with the rule
// files it names) and the rules with promtool.
func TestMonitoringPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: prometheus)")
	}
	dir := monitoringDir(t)
	for _, args := range [][]string{{"check", "config", filepath.Join(dir, "prometheus.yml")}, {"check", "rules", filepath.Join(dir, "rules.yml")}} {
		if out, err := run(t, nil, promtool, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestMonitoringBlackboxConfig checks blackbox.yml with the Blackbox
// exporter's own validation, and that the validation refuses a broken
// config (so a pass means something).
func TestMonitoringBlackboxConfig(t *testing.T) {
	exporter := ""
	for _, name := range []string{"prometheus-blackbox-exporter", "blackbox_exporter"} {
		if p, err := exec.LookPath(name); err == nil {
			exporter = p
			break
		}
	}
	if exporter == "" {
		t.Skip("the Blackbox exporter is not installed (Debian: prometheus-blackbox-exporter)")
	}
	if out, err := run(t, nil, exporter, "--config.check", "--config.file="+filepath.Join(monitoringDir(t), "blackbox.yml")); err != nil {
		t.Errorf("blackbox.yml: %v\n%s", err, out)
	}
	broken := filepath.Join(t.TempDir(), "broken.yml")
	writeFile(t, broken, "modules:\n  soa:\n    prober: dns\n    dns:\n      query_type: SOA\n      no_such_option: true\n")
	if out, err := run(t, nil, exporter, "--config.check", "--config.file="+broken); err == nil {
		t.Errorf("a broken config passed the check:\n%s", out)
	}
}

// TestMonitoringMetricsExported runs bin/coredns (mcns, forward, cache,
// transfer, prometheus; rrl in a second server block) and bin/caddy
// (geofilter, uafilter, metrics),
// drives enough traffic that the lazily created series exist, scrapes both
// and wants every metric the alert rules and dashboards use among what they
// export: a renamed metric fails here. It also wants both to report the
// same build (edge_build_info, and each plugin's startup log line) as
// their version commands.
func TestMonitoringMetricsExported(t *testing.T) {
	bin := binDir(t)
	used := monitoringMetrics(t)
	if len(used) < 20 {
		t.Fatalf("only %d metric names found in deploy/monitoring: extraction broken?", len(used))
	}
	dnsProc, dnsMetrics := scrapeCoreDNS(t, bin)
	caddyProc, caddyMetrics := scrapeCaddy(t, bin)
	exported := exportedMetrics(dnsMetrics + caddyMetrics)
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if externalMetric(name) {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !exported[name] && !exported[base] {
			t.Errorf("%s (used in %s) is exported by neither bin/coredns nor bin/caddy", name, strings.Join(used[name], ", "))
		}
	}

	version, commit := stampOf(t, bin)
	info := fmt.Sprintf(`edge_build_info{commit="%s",version="%s"} 1`, commit, version)
	line := fmt.Sprintf("running edge %s (commit %s)", version, commit)
	for _, c := range []struct {
		name, metrics string
		p             *process
		plugins       []string
	}{
		{"coredns", dnsMetrics, dnsProc, []string{"plugin/mcns: "}},
		{"caddy", caddyMetrics, caddyProc, []string{"http.handlers.geofilter", "http.handlers.uafilter"}},
	} {
		if n := strings.Count(c.metrics, "\nedge_build_info{"); n != 1 || !strings.Contains(c.metrics, "\n"+info+"\n") {
			t.Errorf("%s: %d edge_build_info series, want one: %s", c.name, n, info)
		}
		out := c.p.out.String()
		for _, plugin := range c.plugins {
			if !logHas(out, plugin, line) {
				t.Errorf("%s: no %q line of %s in the log:\n%s", c.name, line, plugin, out)
			}
		}
	}
}

// logHas reports whether one line of out has both a and b.
func logHas(out, a, b string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}

// externalMetric reports whether Prometheus itself (up) or the Blackbox
// exporter (probe_*) exports name, not our binaries.
func externalMetric(name string) bool { return name == "up" || strings.HasPrefix(name, "probe_") }

// monitoringMetrics returns the metric names the alert rules and the
// dashboards query, each with the files that use it.
func monitoringMetrics(t *testing.T) map[string][]string {
	t.Helper()
	dir := monitoringDir(t)
	used := map[string][]string{}
	add := func(file, expr string) {
		for _, n := range promqlMetrics(expr) {
			if !slices.Contains(used[n], file) {
				used[n] = append(used[n], file)
			}
		}
	}
	rules, err := os.ReadFile(filepath.Join(dir, "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range yamlExprs(string(rules)) {
		add("rules.yml", e)
	}
	dashboards, _ := filepath.Glob(filepath.Join(dir, "grafana", "*.json"))
	if len(dashboards) == 0 {
		t.Fatal("no dashboards in deploy/monitoring/grafana")
	}
	for _, f := range dashboards {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var exprs []string
		jsonExprs(v, &exprs)
		if len(exprs) == 0 {
			t.Errorf("%s: no queries", f)
		}
		for _, e := range exprs {
			add(filepath.Base(f), e)
		}
	}
	return used
}

// yamlExprs returns the values of the rules file's expr keys, plain or as
// a "|" block.
func yamlExprs(doc string) []string {
	var exprs []string
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		key, val, ok := strings.Cut(strings.TrimSpace(lines[i]), ":")
		if !ok || key != "expr" {
			continue
		}
		val = strings.TrimSpace(val)
		if val != "|" {
			exprs = append(exprs, val)
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		var block []string
		for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent) {
			i++
			block = append(block, lines[i])
		}
		exprs = append(exprs, strings.Join(block, "\n"))
	}
	return exprs
}

// jsonExprs collects every "expr" string of a decoded dashboard.
func jsonExprs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				*out = append(*out, s)
			} else {
				jsonExprs(x, out)
			}
		}
	case []any:
		for _, x := range v {
			jsonExprs(x, out)
		}
	}
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// promqlMetrics returns the metric names in a PromQL expression: the
// identifiers left once strings, label matchers, ranges and grouping
// labels are gone, that are neither keywords nor called as functions.
func promqlMetrics(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(e, -1) {
		name := e[loc[0]:loc[1]]
		if loc[0] > 0 && (e[loc[0]-1] >= '0' && e[loc[0]-1] <= '9' || e[loc[0]-1] == '.') {
			continue // a number's exponent or unit, as in 1e3
		}
		if promqlKeywords[strings.ToLower(name)] || strings.HasPrefix(strings.TrimLeft(e[loc[1]:], " \t\n"), "(") {
			continue
		}
		names = append(names, name)
	}
	return names
}

// exportedMetrics returns the metric families in Prometheus text output.
func exportedMetrics(text string) map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
		}
	}
	return names
}

// scrape returns url's Prometheus text, from a newline on so that every
// line, the first too, can be found as "\nNAME".
func scrape(t *testing.T, url string) string {
	t.Helper()
	return "\n" + getOK(t, http.DefaultClient, url, 10*time.Second)
}

// scrapeCoreDNS runs bin/coredns with mcns ahead of cache and forward (to
// a stub upstream and to a port nobody serves), a transfer to a secondary
// that is not running, and the prometheus plugin; it makes a change, an
// UPDATE, a transfer and forwarded queries, and returns the process and
// its metrics once the NOTIFY round and a forward health check failed.
func scrapeCoreDNS(t *testing.T, bin string) (*process, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "example.test.zone"), exampleTestZone)
	writeFile(t, filepath.Join(dir, "tokens"), api.TokenLine(apiToken, "monitoring", []string{"admin"})+"\n")
	port, metricsPort, apiPort, rrlPort := freePort(t), freePort(t), freePort(t), freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	upstream := stubUpstream(t)
	corefile := fmt.Sprintf(`.:%[1]d {
	bind 127.0.0.1
	prometheus 127.0.0.1:%[2]d
	errors
	reload
	tsig {
		secret %[3]s %[4]s
	}
	transfer example.test {
		to 127.0.0.1:%[5]d
	}
	mcns %[6]s {
		seed %[7]s
		refresh 100ms
		update example.test %[3]s
		recursion_allow 127.0.0.0/8
		api 127.0.0.1:%[8]d {
			insecure_plaintext
			tokens %[9]s
		}
	}
	cache 30
	forward . %[10]s 127.0.0.1:%[11]d
}
rrl.test:%[12]d {
	bind 127.0.0.1
	prometheus 127.0.0.1:%[2]d
	rrl {
		responses-per-second 1
		window 1
		slip 2
	}
	template IN A rrl.test {
		answer "{{ .Name }} 60 IN A 192.0.2.1"
	}
}
`, port, metricsPort, updKeyName, updKeySecret, freePort(t), filepath.Join(dir, "zones.db"),
		filepath.Join(dir, "example.test.zone"), apiPort, filepath.Join(dir, "tokens"), upstream, freePort(t), rrlPort)
	writeFile(t, filepath.Join(dir, "Corefile"), corefile)
	p := start(t, dir, nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile"))
	waitFor(t, 10*time.Second, "coredns answers", func() error {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("coredns exited: %v\n%s", err, p.out.String())
		default:
		}
		_, err := soaSerialAt(addr, xfrZone)
		return err
	})
	(&primary{apiURL: "http://127.0.0.1:" + strconv.Itoa(apiPort)}).apiAddRecord(t, xfrZone, "monitoring", "A", "192.0.2.44")
	upd := new(dns.Msg).SetUpdate(xfrZone)
	rr, _ := dns.NewRR("unsigned.example.test. 60 IN A 192.0.2.45")
	upd.Insert([]dns.RR{rr})
	if _, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(upd, addr); err != nil {
		t.Errorf("UPDATE: %v", err)
	}
	if _, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(new(dns.Msg).SetAxfr(xfrZone), addr); err != nil {
		t.Logf("AXFR: %v", err) // refused or not, it is counted
	}
	for i := range 10 {
		name := fmt.Sprintf("n%d.example.org", i)
		for range 2 { // the second one from the cache
			if _, err := query(addr, name, dns.TypeA); err != nil {
				t.Logf("forwarded query %s: %v", name, err)
			}
		}
	}
	// A burst over rrl's 1 response/s: after the first answer, responses
	// are dropped and every second one slipped (truncated), so both
	// counters have series. Dropped ones time out at once.
	rrlAddr := "127.0.0.1:" + strconv.Itoa(rrlPort)
	for range 10 {
		m := new(dns.Msg).SetQuestion("burst.rrl.test.", dns.TypeA)
		_, _, _ = (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, rrlAddr)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	var text string
	waitFor(t, 30*time.Second, "NOTIFY round, forward health check and rrl drops counted", func() error {
		text = scrape(t, url)
		for _, want := range []string{"\ncoredns_mcns_notify_rounds_total{", "\ncoredns_proxy_healthcheck_failures_total{",
			"\ncoredns_rrl_responses_dropped_total{", "\ncoredns_rrl_responses_slipped_total{"} {
			if !strings.Contains(text, want) {
				return fmt.Errorf("no %s yet", strings.TrimSpace(want))
			}
		}
		return nil
	})
	return p, text
}

// stubUpstream serves every name with one A record on a loopback UDP port
// and returns its address.
func stubUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2.99")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// scrapeCaddy runs bin/caddy with geofilter (a low rate limit), uafilter
// and the metrics option over plain HTTP, sends allowed, scanner and
// over-rate requests, and returns the process and what its loopback
// metrics site (as in Caddyfile.example: the admin endpoint is a unix
// socket in production) serves.
func scrapeCaddy(t *testing.T, bin string) (*process, string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "country.mmdb")
	if out, err := run(t, nil, filepath.Join(bin, "geoipgen"), "-o", db, "127.0.0.0/8=US"); err != nil {
		t.Fatalf("geoipgen: %v\n%s", err, out)
	}
	adminPort, httpPort, metricsPort := freePort(t), freePort(t), freePort(t)
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	http_port %[2]d
	auto_https off
	metrics
}

http://127.0.0.1:%[2]d {
	geofilter {
		db %[3]s
		rate_limit 5 10s
	}
	uafilter {
		preset scanners
	}
	respond "ok"
}

http://127.0.0.1:%[4]d {
	bind 127.0.0.1
	metrics
}
`, adminPort, httpPort, db, metricsPort)
	writeFile(t, filepath.Join(dir, "Caddyfile"), caddyfile)
	env := []string{"XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	p := start(t, dir, env, filepath.Join(bin, "caddy"), "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	site := fmt.Sprintf("http://127.0.0.1:%d/", httpPort)
	get := func(ua string) (int, error) {
		req, _ := http.NewRequest("GET", site, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	waitFor(t, 15*time.Second, "caddy serves", func() error {
		_, err := get("monitoring-test")
		return err
	})
	codes := map[int]int{}
	for _, ua := range []string{"Mozilla/5.0 zgrab/0.x", "curl/8", "curl/8", "curl/8", "curl/8", "curl/8", "curl/8"} {
		code, err := get(ua)
		if err != nil {
			t.Fatal(err)
		}
		codes[code]++
	}
	if codes[http.StatusOK] == 0 || codes[http.StatusForbidden] == 0 || codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("status codes %v: want 200, 403 (scanner) and 429 (rate limit)", codes)
	}
	text := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	// geoipgen stamps the database with its build time: just now.
	m := regexp.MustCompile(`\ncaddy_geofilter_database_build_timestamp_seconds\{db="([^"]+)"\} (\S+)\n`).FindStringSubmatch(text)
	if m == nil {
		t.Error("no caddy_geofilter_database_build_timestamp_seconds series")
	} else if built, _ := strconv.ParseFloat(m[2], 64); m[1] != db || time.Since(time.Unix(int64(built), 0)) > time.Hour {
		t.Errorf("database build time %s of %s, want %s built just now", m[2], m[1], db)
	}
	return p, text
}
