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
// refused; a record added through the management API is served at once
// without any NOTIFY warning (no secondary runs locally); then Ctrl-C stops
// every process.
func TestMakeRun(t *testing.T) {
	bin := binDir(t)
	root := repoRoot(t)
	runDir := t.TempDir()
	dnsPort, httpsPort, apiPort := freePort(t), freePort(t), freePort(t)
	env := []string{
		"EDGE_BIN_DIR=" + bin,
		"RUN_DIR=" + runDir,
		"DNS_PORT=" + strconv.Itoa(dnsPort),
		"HTTPS_PORT=" + strconv.Itoa(httpsPort),
		"HTTP_PORT=" + strconv.Itoa(freePort(t)),
		"HEALTH_PORT=" + strconv.Itoa(freePort(t)),
		"READY_PORT=" + strconv.Itoa(freePort(t)),
		"METRICS_PORT=" + strconv.Itoa(freePort(t)),
		"CADDY_ADMIN_PORT=" + strconv.Itoa(freePort(t)), "CADDY_METRICS_PORT=" + strconv.Itoa(freePort(t)),
		"BACKEND_PORT=" + strconv.Itoa(freePort(t)),
		"API_PORT=" + strconv.Itoa(apiPort),
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
	body := getOK(t, client, url, 30*time.Second)
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

	checkAPIChangeQuiet(t, p, runDir, apiPort, dnsAddr)

	// The demo secrets are owner-only.
	for _, f := range []string{"api-token", "api-tokens", "tsig.keys"} {
		fi, err := os.Stat(filepath.Join(runDir, f))
		if err != nil {
			t.Error(err)
		} else if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable beyond its owner", f, fi.Mode())
		}
	}

	p.interrupt(t, 20*time.Second)
	waitFor(t, 10*time.Second, "every process gone after Ctrl-C", func() error {
		if p.groupAlive() {
			return fmt.Errorf("processes of the group still running")
		}
		return nil
	})
}

// getOK returns url's body once a GET of it answers 200 OK.
func getOK(t *testing.T, client *http.Client, url string, within time.Duration) string {
	t.Helper()
	var body string
	waitFor(t, within, "200 OK from "+url, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		body = string(b)
		return err
	})
	return body
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

// checkAPIChangeQuiet adds a record with curl through the demo's
// management API, as the script's instructions show, waits until DNS
// serves it and past the NOTIFY round that follows, and wants no NOTIFY
// warning in the log: the local run has no secondary.
func checkAPIChangeQuiet(t *testing.T, p *process, runDir string, apiPort int, dnsAddr string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("curl is not installed: API change not checked")
		return
	}
	token, err := os.ReadFile(filepath.Join(runDir, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, nil, "curl", "-sS", "--max-time", "10", "--cacert", filepath.Join(runDir, "pki", "ca.pem"),
		fmt.Sprintf("https://localhost:%d/v1/zones/mcp.metacircular.net/records", apiPort),
		"-H", "Authorization: Bearer "+strings.TrimSpace(string(token)), "-H", "Content-Type: application/json",
		"-d", `{"name": "quiet", "type": "A", "value": "192.0.2.77"}`, "-w", "\n%{http_code}")
	if err != nil || !strings.HasSuffix(out, "201") {
		t.Fatalf("API add quiet.mcp.metacircular.net: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "the new record served", func() error {
		got, _, err := answerAt(dnsAddr, "quiet.mcp.metacircular.net", dns.TypeA)
		if err != nil || len(got) != 1 {
			return fmt.Errorf("answer %v, %v", got, err)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // the NOTIFY round runs 250 ms after a change
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(strings.ToLower(l), "notify") && (strings.Contains(l, "[WARNING]") || strings.Contains(l, "[ERROR]")) {
			t.Errorf("NOTIFY warning after an API change: %s", l)
		}
	}
}
