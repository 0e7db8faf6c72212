package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/metacircular/edge/internal/geoiptest"
)

// The rehearsal's addresses, from the documentation ranges, used only
// inside the lab's namespaces.
const (
	svcPublic   = "203.0.113.1"  // svc, facing the client
	clientAddr  = "203.0.113.10" // an ordinary client
	foreignAddr = "203.0.113.66" // a client the GeoIP database puts in KP
	burstAddr   = "203.0.113.20" // a client used for the rate limit
	reloadAddr  = "203.0.113.30" // a client blocked by the reload
	svcVPN      = "198.51.100.1" // svc, facing rift over the "VPN"
	riftVPN     = "198.51.100.2" // rift: backend and secondary DNS
	svcUp       = "192.0.2.1"    // svc, facing the upstream resolver
	upstream    = "192.0.2.53"   // stand-in public resolver
	site        = "metacrypt.metacircular.net"
	backendName = "rift.mcp.metacircular.net"
)

// TestEndToEnd rehearses the deployment across network namespaces: the
// example configurations on "svc" in front of "rift", checked from a
// "client" the way the deployment plan's verification phase does.
func TestEndToEnd(t *testing.T) {
	bin := binDir(t)
	root := repoRoot(t)
	l := newLab(t)
	for _, h := range []string{"client", "svc", "rift", "up"} {
		l.host(h)
	}
	l.link("client", []string{clientAddr + "/24", foreignAddr + "/24", burstAddr + "/24", reloadAddr + "/24"}, "svc", []string{svcPublic + "/24"})
	l.link("svc", []string{svcVPN + "/24"}, "rift", []string{riftVPN + "/24"})
	l.link("svc", []string{svcUp + "/24"}, "up", []string{upstream + "/24"})

	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if out, err := run(t, nil, filepath.Join(bin, "devca"), "-dir", pki,
		"-cert", "backend="+backendName+","+riftVPN, "-cert", "api=localhost,127.0.0.1"); err != nil {
		t.Fatalf("devca: %v\n%s", err, out)
	}
	geoDB := filepath.Join(dir, "GeoLite2-Country.mmdb")
	if err := geoiptest.Write(geoDB, "GeoLite2-Country", map[string]mmdbtype.Map{
		"203.0.113.0/24":    geoiptest.Country("US"),
		foreignAddr + "/32": geoiptest.Country("KP"),
		"198.51.100.0/24":   geoiptest.Country("US"),
	}); err != nil {
		t.Fatal(err)
	}
	minted, err := run(t, nil, filepath.Join(bin, "mcns-token"), "-name", "e2e", "-roles", "admin")
	if err != nil {
		t.Fatalf("mcns-token: %v\n%s", err, minted)
	}
	token, tokenLine := mintedToken(t, minted)
	writeFile(t, filepath.Join(dir, "api-tokens"), tokenLine+"\n")
	writeFile(t, filepath.Join(dir, "tsig.keys"), `key "update.mcp.metacircular.net." {
	algorithm hmac-sha256;
	secret "c2VjcmV0LWZvci10aGUtZW5kLXRvLWVuZC10ZXN0IQ==";
};
`)

	// rift: the backend, and the secondary DNS following svc.
	l.start(t, "rift", nil, filepath.Join(bin, "demobackend"), "-addr", riftVPN+":18080",
		"-cert", filepath.Join(pki, "backend.pem"), "-key", filepath.Join(pki, "backend-key.pem"))
	writeFile(t, filepath.Join(dir, "Corefile.secondary"), fmt.Sprintf(`mcp.metacircular.net svc.mcp.metacircular.net {
	bind %s
	secondary {
		transfer from %s
	}
}
`, riftVPN, svcVPN))
	l.start(t, "rift", nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile.secondary"))

	// up: a stand-in public resolver.
	writeFile(t, filepath.Join(dir, "Corefile.upstream"), `. {
	template IN A example.org {
		answer "{{ .Name }} 60 IN A 192.0.2.99"
	}
}
`)
	l.start(t, "up", nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile.upstream"))

	// svc: the example configurations, changed only through placeholders.
	svcEnv := []string{
		"DNS_PORT=53", "DNS_BIND=0.0.0.0",
		"HEALTH_ADDR=127.0.0.1:8080", "READY_ADDR=127.0.0.1:8181", "METRICS_ADDR=127.0.0.1:9153",
		"MCNS_DB=" + filepath.Join(dir, "mcns.db"),
		"ZONES_DIR=" + filepath.Join(root, "examples", "zones"),
		"API_ADDR=127.0.0.1:8444",
		"API_CERT=" + filepath.Join(pki, "api.pem"), "API_KEY=" + filepath.Join(pki, "api-key.pem"),
		"API_TOKENS=" + filepath.Join(dir, "api-tokens"), "API_SNAPSHOTS=" + filepath.Join(dir, "snapshots"),
		"SECONDARY=" + riftVPN,
		"TSIG_KEYS=" + filepath.Join(dir, "tsig.keys"), "TSIG_UPDATE_KEY=update.mcp.metacircular.net.",
		"UPSTREAM_A=" + upstream + ":53", "UPSTREAM_B=" + upstream + ":53",
		// Our zones, and a lab zone created through the API below; the
		// VPN side may recurse, the public side may not.
		"ALLOW_ZONES=mcp.metacircular.net lab.example",
		"RECURSION_ALLOW=127.0.0.0/8 ::1/128 " + svcVPN + "/24",
		// Caddy: the site's own name, a local CA instead of ACME (no
		// network), the lab's backend and GeoIP database.
		"SITE_TLS=tls internal", "CADDY_EXTRA_GLOBAL=skip_install_trust",
		// The lab has no /run/caddy for the production admin socket.
		"CADDY_ADMIN=localhost:2019",
		"CADDY_METRICS=127.0.0.1:9180",
		"BACKEND=https://" + riftVPN + ":18080",
		"BACKEND_CA=" + filepath.Join(pki, "ca.pem"),
		"GEOIP_DB=" + geoDB,
		"XDG_DATA_HOME=" + filepath.Join(dir, "caddy-data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "caddy-config"),
	}
	l.start(t, "svc", svcEnv, filepath.Join(bin, "coredns"), "-conf", filepath.Join(root, "Corefile.example"))
	caddyfile := filepath.Join(dir, "Caddyfile")
	copyFile(t, filepath.Join(root, "Caddyfile.example"), caddyfile)
	l.start(t, "svc", svcEnv, filepath.Join(bin, "caddy"), "run", "--config", caddyfile, "--adapter", "caddyfile")

	caRoot := filepath.Join(dir, "caddy-data", "caddy", "pki", "authorities", "local", "root.crt")
	curl := func(from string, args ...string) (code string, body string) {
		argv := append([]string{"-sS", "--max-time", "10", "--interface", from,
			"--resolve", site + ":443:" + svcPublic, "--cacert", caRoot,
			"-o", "-", "-w", "\n%{http_code}"}, args...)
		out, _ := l.output("client", "curl", argv...)
		i := strings.LastIndex(out, "\n")
		return strings.TrimSpace(out[i+1:]), out[:max(i, 0)]
	}
	url := "https://" + site + "/"

	t.Run("backend page through the edge over TLS", func(t *testing.T) {
		var code, body string
		waitFor(t, 60*time.Second, "page through Caddy", func() error {
			if _, err := os.Stat(caRoot); err != nil {
				return err
			}
			if code, body = curl(clientAddr, url); code != "200" {
				return fmt.Errorf("status %s: %s", code, body)
			}
			return nil
		})
		if !strings.HasPrefix(body, "metacrypt-web: GET / via HTTP/") {
			t.Errorf("page = %q", body)
		}
	})
	t.Run("blocked country gets 403", func(t *testing.T) {
		if code, body := curl(foreignAddr, url); code != "403" {
			t.Errorf("from %s: %s %s", foreignAddr, code, body)
		}
	})
	t.Run("blocked User-Agents get 403", func(t *testing.T) {
		for _, ua := range []string{"Mozilla/5.0 zgrab/0.x", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"} {
			if code, _ := curl(clientAddr, "-A", ua, url); code != "403" {
				t.Errorf("User-Agent %q: %s, want 403", ua, code)
			}
		}
	})
	t.Run("21st request in 10 s gets 429", func(t *testing.T) {
		var codes []string
		for range 21 {
			code, _ := curl(burstAddr, url)
			codes = append(codes, code)
		}
		for i, c := range codes[:20] {
			if c != "200" {
				t.Errorf("request %d: %s", i+1, c)
			}
		}
		if codes[20] != "429" {
			t.Errorf("request 21: %s, want 429", codes[20])
		}
	})

	dig := func(server string, args ...string) string {
		out, err := l.output("client", "dig", append([]string{"@" + server, "+norec", "+time=2", "+tries=2"}, args...)...)
		if err != nil {
			t.Errorf("dig %v: %v\n%s", args, err, out)
		}
		return out
	}
	t.Run("zones answered authoritatively by svc", func(t *testing.T) {
		for _, name := range []string{"rift.mcp.metacircular.net", "metacrypt.svc.mcp.metacircular.net"} {
			out := dig(svcPublic, name, "A")
			if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "flags: qr aa") ||
				!strings.Contains(out, "192.168.88.181") || !strings.Contains(out, "100.95.252.120") {
				t.Errorf("%s:\n%s", name, out)
			}
		}
	})
	t.Run("no open resolver: outside names refused to the public, forwarded for the VPN", func(t *testing.T) {
		out, _ := l.output("client", "dig", "@"+svcPublic, "+time=2", "+tries=2", "www.example.org", "A")
		if !strings.Contains(out, "status: REFUSED") || strings.Contains(out, "192.0.2.99") {
			t.Errorf("public client, www.example.org:\n%s", out)
		}
		// Only the upstream knows this address.
		out, err := l.output("rift", "dig", "@"+svcVPN, "+time=2", "+tries=2", "www.example.org", "A")
		if err != nil || !strings.Contains(out, "192.0.2.99") {
			t.Errorf("VPN client, www.example.org: %v\n%s", err, out)
		}
	})
	api := func(method, path, body string) string {
		t.Helper()
		out, err := l.output("svc", "curl", "-sS", "--max-time", "10", "--cacert", filepath.Join(pki, "ca.pem"),
			"-X", method, "https://localhost:8444"+path,
			"-H", "Authorization: Bearer "+token, "-H", "Content-Type: application/json",
			"-d", body, "-w", "\n%{http_code}")
		if err != nil {
			t.Fatalf("API %s %s: %v\n%s", method, path, err, out)
		}
		return out
	}
	t.Run("a zone created later is never answered from the cache", func(t *testing.T) {
		if out := api("POST", "/v1/zones", `{"name": "lab.example", "primary_ns": "ns.mcp.metacircular.net."}`); !strings.HasSuffix(out, "201") {
			t.Fatalf("create lab.example: %s", out)
		}
		// Through the recursive path (mcns, cache, forward): the first
		// answer is NXDOMAIN, which the cache would keep for 30 s.
		vpnDig := func() string {
			out, _ := l.output("rift", "dig", "@"+svcVPN, "+time=2", "+tries=2", "www.lab.example", "A")
			return out
		}
		if out := vpnDig(); !strings.Contains(out, "status: NXDOMAIN") || !strings.Contains(out, " aa") {
			t.Fatalf("www.lab.example before the record:\n%s", out)
		}
		if out := api("POST", "/v1/zones/lab.example/records", `{"name": "www", "type": "A", "value": "192.0.2.150"}`); !strings.HasSuffix(out, "201") {
			t.Fatalf("add www.lab.example: %s", out)
		}
		if out := vpnDig(); !strings.Contains(out, "192.0.2.150") {
			t.Errorf("www.lab.example right after the API call:\n%s", out)
		}
	})
	t.Run("API change answered by svc and the secondary", func(t *testing.T) {
		out, err := l.output("svc", "curl", "-sS", "--max-time", "10", "--cacert", filepath.Join(pki, "ca.pem"),
			"-X", "POST", "https://localhost:8444/v1/zones/mcp.metacircular.net/records",
			"-H", "Authorization: Bearer "+token, "-H", "Content-Type: application/json",
			"-d", `{"name": "ns", "type": "A", "value": "203.0.113.7", "ttl": 300}`,
			"-w", "\n%{http_code}")
		if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "201") {
			t.Fatalf("API POST: %v\n%s", err, out)
		}
		if out := dig(svcPublic, "ns.mcp.metacircular.net", "A"); !strings.Contains(out, "203.0.113.7") {
			t.Errorf("svc right after the API call:\n%s", out)
		}
		waitFor(t, 2*time.Second, "secondary follows within 2 s", func() error {
			out, _ := l.output("svc", "dig", "@"+riftVPN, "+norec", "+time=1", "+tries=1", "ns.mcp.metacircular.net", "A")
			if !strings.Contains(out, "203.0.113.7") {
				return fmt.Errorf("secondary:\n%s", out)
			}
			return nil
		})
	})
	t.Run("caddy reload with a changed block list keeps requests in flight", func(t *testing.T) {
		if code, _ := curl(reloadAddr, url); code != "200" {
			t.Fatalf("before reload: %s", code)
		}
		var wg sync.WaitGroup
		codes := make([]string, 5)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = curl(clientAddr, url+"?delay=2s&n="+strconv.Itoa(i))
			}()
		}
		time.Sleep(500 * time.Millisecond) // let them reach the backend
		data, err := os.ReadFile(caddyfile)
		if err != nil {
			t.Fatal(err)
		}
		changed := strings.Replace(string(data), "block_ips 192.0.2.66", "block_ips 192.0.2.66 "+reloadAddr, 1)
		if changed == string(data) {
			t.Fatal("Caddyfile.example has no `block_ips 192.0.2.66` line to extend")
		}
		writeFile(t, caddyfile, changed)
		if out, err := l.outputEnv("svc", svcEnv, filepath.Join(bin, "caddy"), "reload", "--config", caddyfile, "--adapter", "caddyfile", "--address", "localhost:2019"); err != nil {
			t.Fatalf("caddy reload: %v\n%s", err, out)
		}
		wg.Wait()
		for i, c := range codes {
			if c != "200" {
				t.Errorf("in-flight request %d: %s", i, c)
			}
		}
		if code, _ := curl(reloadAddr, url); code != "403" {
			t.Errorf("after reload, %s: %s, want 403", reloadAddr, code)
		}
	})
}

func mintedToken(t *testing.T, out string) (token, line string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "token: "); ok {
			token = v
		}
		if v, ok := strings.CutPrefix(l, "tokens file line: "); ok {
			line = v
		}
	}
	if token == "" || line == "" {
		t.Fatalf("mcns-token output: %q", out)
	}
	return token, line
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data))
}
