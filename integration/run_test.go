package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestMakeRun runs what `make run` runs (scripts/run.sh) on free ports and
// checks the demo end to end: DNS answers from the seeded zones, a page
// through Caddy from the demo backend over verified TLS, a blocked User-Agent
// refused; then Ctrl-C stops every process.
func TestMakeRun(t *testing.T) {
	bin := binDir(t)
	root := repoRoot(t)
	runDir := t.TempDir()
	dnsPort, httpsPort := freePort(t), freePort(t)
	env := []string{
		"EDGE_BIN_DIR=" + bin,
		"RUN_DIR=" + runDir,
		"DNS_PORT=" + strconv.Itoa(dnsPort),
		"HTTPS_PORT=" + strconv.Itoa(httpsPort),
		"HTTP_PORT=" + strconv.Itoa(freePort(t)),
		"HEALTH_PORT=" + strconv.Itoa(freePort(t)),
		"READY_PORT=" + strconv.Itoa(freePort(t)),
		"METRICS_PORT=" + strconv.Itoa(freePort(t)),
		"CADDY_ADMIN_PORT=" + strconv.Itoa(freePort(t)),
		"BACKEND_PORT=" + strconv.Itoa(freePort(t)),
		"API_PORT=" + strconv.Itoa(freePort(t)),
	}
	p := start(t, root, env, filepath.Join(root, "scripts", "run.sh"))
	dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)

	var answer *dns.Msg
	waitFor(t, 30*time.Second, "DNS answer", func() (err error) {
		answer, err = query(dnsAddr, "rift.mcp.metacircular.net", dns.TypeA)
		return err
	})
	checkSeededAnswer(t, answer)
	if _, err := exec.LookPath("dig"); err == nil {
		out, err := run(t, nil, "dig", "@127.0.0.1", "-p", strconv.Itoa(dnsPort), "+norec", "+time=2", "+tries=1", "rift.mcp.metacircular.net", "A")
		if err != nil || !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, " aa") {
			t.Errorf("dig: %v\n%s", err, out)
		}
	}

	url := fmt.Sprintf("https://localhost:%d/", httpsPort)
	var client *http.Client
	waitFor(t, 30*time.Second, "Caddy's local CA", func() error {
		pem, err := os.ReadFile(filepath.Join(runDir, "caddy-data", "caddy", "pki", "authorities", "local", "root.crt"))
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		return nil
	})
	var body string
	waitFor(t, 30*time.Second, "page through Caddy", func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		body = string(b)
		return nil
	})
	if !strings.HasPrefix(body, "metacrypt-web: GET /") {
		t.Errorf("page = %q, want the demo backend's", body)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 zgrab/0.x")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("zgrab User-Agent: status %d, want 403", resp.StatusCode)
	}

	p.interrupt(t, 20*time.Second)
	waitFor(t, 10*time.Second, "every process gone after Ctrl-C", func() error {
		if p.groupAlive() {
			return fmt.Errorf("processes of the group still running")
		}
		return nil
	})
}

// checkSeededAnswer wants the example zone's two A records, authoritative.
func checkSeededAnswer(t *testing.T, m *dns.Msg) {
	t.Helper()
	if m.Rcode != dns.RcodeSuccess || !m.Authoritative {
		t.Fatalf("rift.mcp.metacircular.net A: rcode %s, aa=%v, want NOERROR aa:\n%v", dns.RcodeToString[m.Rcode], m.Authoritative, m)
	}
	got := map[string]bool{}
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			got[a.A.String()] = true
		}
	}
	if !got["192.168.88.181"] || !got["100.95.252.120"] || len(got) != 2 {
		t.Errorf("answer = %v, want the LAN and VPN addresses", m.Answer)
	}
}
