package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metacircular/edge/internal/testutil"
)

// devPKI runs bin/devca into dir with a server certificate named redis
// for the loopback address, and returns dir.
func devPKI(t *testing.T, bin, dir string) string {
	t.Helper()
	if out, err := run(t, nil, filepath.Join(bin, "devca"), "-dir", dir, "-cert", "redis=127.0.0.1,localhost"); err != nil {
		t.Fatalf("devca: %v\n%s", err, out)
	}
	return dir
}

// issueClientCert signs a client certificate (devca issues server
// certificates only) with the CA in pki and returns its certificate and
// key files.
func issueClientCert(t *testing.T, pki, name string) (string, string) {
	t.Helper()
	read := func(file string) []byte {
		b, err := os.ReadFile(filepath.Join(pki, file))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", file)
		}
		return blk.Bytes
	}
	caCert, err := x509.ParseCertificate(read("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParseECPrivateKey(read("ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(pki, name+".pem"), filepath.Join(pki, name+"-key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// startTLSRedisServer runs a password-protected redis-server that listens
// with TLS only, on port, with pki's redis certificate, and that wants a
// client certificate signed by pki's CA.
func startTLSRedisServer(t *testing.T, dir, pki string, port int) *process {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server); skipping the TLS store test")
	}
	p := start(t, dir, nil, path, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(pki, "redis.pem"), "--tls-key-file", filepath.Join(pki, "redis-key.pem"),
		"--tls-ca-cert-file", filepath.Join(pki, "ca.pem"), "--tls-auth-clients", "yes",
		"--save", "", "--appendonly", "no", "--requirepass", redisPassword)
	waitFor(t, 10*time.Second, "redis-server listens with TLS", func() error {
		out := p.out.String()
		if strings.Contains(out, "Failed") || strings.Contains(out, "FATAL") {
			t.Fatalf("redis-server did not start:\n%s", out)
		}
		if !strings.Contains(out, "Ready to accept connections") {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	return p
}

// tlsStoreCaddyfile is a site on httpPort whose geofilter keeps its rate
// limit in the store at {env.REDIS_URL}, with the given TLS options.
func tlsStoreCaddyfile(adminPort, httpPort int, storage, tlsOptions string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	http_port %d
	auto_https off
	storage file_system %s
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}

http://127.0.0.1:%[2]d {
	geofilter {
		rate_limit 20 1m
		store redis {env.REDIS_URL} {
			timeout 2s
			on_error block
			%[4]s
		}
	}
	respond "ok"
}
`, adminPort, httpPort, storage, tlsOptions)
}

// TestRedisStoreTLS runs bin/caddy processes against a redis-server that
// speaks TLS only and wants client certificates: two with the private CA
// and a client certificate share one rate limit; one trusting another CA
// and one without a client certificate fail closed (on_error block) and
// say why, with the password masked. A redis:// URL with TLS options is a
// config error naming the Caddyfile's line.
func TestRedisStoreTLS(t *testing.T) {
	bin := binDir(t)
	dir := t.TempDir()
	pki := devPKI(t, bin, filepath.Join(dir, "pki"))
	otherPKI := devPKI(t, bin, filepath.Join(dir, "other-pki"))
	clientCert, clientKey := issueClientCert(t, pki, "edge-client")

	port := testutil.DistinctPorts(t)
	redisPort := port()
	startTLSRedisServer(t, dir, pki, redisPort)
	redisURL := fmt.Sprintf("rediss://:%s@127.0.0.1:%d/0", redisPassword, redisPort)

	mtls := fmt.Sprintf("tls_ca_cert %s\n\t\t\ttls_client_auth %s %s", filepath.Join(pki, "ca.pem"), clientCert, clientKey)
	configs := []struct{ name, tls string }{
		{"shared-a", mtls},
		{"shared-b", mtls},
		{"wrong-ca", fmt.Sprintf("tls_ca_cert %s\n\t\t\ttls_client_auth %s %s", filepath.Join(otherPKI, "ca.pem"), clientCert, clientKey)},
		{"no-client-cert", "tls_ca_cert " + filepath.Join(pki, "ca.pem")},
	}
	inst := map[string]*edgeInstance{}
	for _, c := range configs {
		idir := filepath.Join(dir, c.name)
		if err := os.MkdirAll(idir, 0o755); err != nil {
			t.Fatal(err)
		}
		httpPort := port()
		writeFile(t, filepath.Join(idir, "Caddyfile"), tlsStoreCaddyfile(port(), httpPort, filepath.Join(idir, "storage"), c.tls))
		env := []string{"REDIS_URL=" + redisURL,
			"XDG_DATA_HOME=" + filepath.Join(idir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(idir, "config")}
		inst[c.name] = &edgeInstance{
			proc: start(t, idir, env, filepath.Join(bin, "caddy"), "run", "--config", filepath.Join(idir, "Caddyfile"), "--adapter", "caddyfile"),
			site: fmt.Sprintf("http://127.0.0.1:%d/", httpPort),
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(e *edgeInstance, ip string) (int, error) {
		req, _ := http.NewRequest("GET", e.site, nil)
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for name, e := range inst {
		waitFor(t, 20*time.Second, name+" serves", func() error {
			_, err := get(e, "192.0.2.254")
			return err
		})
	}
	mustGet := func(name, ip string) int {
		t.Helper()
		code, err := get(inst[name], ip)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return code
	}

	// Both instances have their TLS connection to the store (a request
	// of another client passes) before the count starts.
	for _, name := range []string{"shared-a", "shared-b"} {
		waitFor(t, 10*time.Second, name+" reaches the store", func() error {
			if code := mustGet(name, "192.0.2.253"); code != http.StatusOK {
				return fmt.Errorf("status %d", code)
			}
			return nil
		})
	}
	// Mutual TLS with the private CA: 20 requests alternating between the
	// two instances pass, the 21st is refused.
	for n := range 20 {
		name := []string{"shared-a", "shared-b"}[n%2]
		if code := mustGet(name, "192.0.2.1"); code != http.StatusOK {
			t.Fatalf("request %d (%s): status %d", n+1, name, code)
		}
	}
	if code := mustGet("shared-b", "192.0.2.1"); code != http.StatusTooManyRequests {
		t.Fatalf("21st request: status %d, want 429", code)
	}

	// A server certificate from another CA, or no client certificate: the
	// store is down, and on_error block refuses.
	// With TLS 1.3 the server judges the client certificate after the
	// client has finished its handshake: the refusal reaches the client
	// as the server's alert or, when the server has closed first, as a
	// closed connection.
	for name, why := range map[string][]string{
		"wrong-ca":       {"certificate signed by unknown authority"},
		"no-client-cert": {"certificate required", "connection reset by peer", "EOF"},
	} {
		if code := mustGet(name, "192.0.2.2"); code != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503 (on_error block)", name, code)
		}
		e := inst[name]
		waitFor(t, 2*time.Second, name+" logs why the store is down", func() error {
			for _, line := range strings.Split(e.proc.out.String(), "\n") {
				if strings.Contains(line, `"store unreachable"`) && containsAny(line, why) {
					if !strings.Contains(line, fmt.Sprintf(`"url":"rediss://:xxxxx@127.0.0.1:%d/0"`, redisPort)) {
						t.Errorf("%s: the log line does not show the masked URL: %s", name, line)
					}
					t.Logf("%s: %s", name, line)
					return nil
				}
			}
			return fmt.Errorf("no store unreachable line with one of %q", why)
		})
	}
	for name, e := range inst {
		if strings.Contains(e.proc.out.String(), redisPassword) {
			t.Errorf("%s logged the store password", name)
		}
	}

	// TLS options on a plain redis:// URL: the config does not load, and
	// the error names the file and line.
	bad := filepath.Join(dir, "plain.Caddyfile")
	writeFile(t, bad, tlsStoreCaddyfile(port(), port(), filepath.Join(dir, "plain-storage"), "tls_ca_cert "+filepath.Join(pki, "ca.pem"))+"\n")
	badConfig, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bad, strings.Replace(string(badConfig), "{env.REDIS_URL}", fmt.Sprintf("redis://127.0.0.1:%d/0", redisPort), 1))
	out, err := run(t, nil, filepath.Join(bin, "caddy"), "adapt", "--config", bad, "--adapter", "caddyfile")
	if err == nil || !strings.Contains(out, "need a rediss:// URL") || !strings.Contains(out, bad+":") {
		t.Errorf("redis:// URL with TLS options: err %v, output:\n%s", err, out)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
