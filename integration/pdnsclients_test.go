package integration

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// pdnsLab is mcns serving zones on loopback with its PowerDNS-compatible
// API over TLS, for clients written against PowerDNS.
type pdnsLab struct {
	dir     string
	devCA   string // CA file of the API's certificate (and pebble's)
	pki     string
	dnsAddr string // mcns's DNS, host:port
	apiURL  string // https://localhost:port
	token   string
	coredns *process
}

// startPDNSLab seeds each zone (name -> zone file text) into a fresh mcns
// that may write under allow, and waits until it answers.
func startPDNSLab(t *testing.T, allow string, zones map[string]string) *pdnsLab {
	t.Helper()
	bin := binDir(t)
	l := &pdnsLab{dir: t.TempDir()}
	l.pki = filepath.Join(l.dir, "pki")
	if out, err := run(t, nil, filepath.Join(bin, "devca"), "-dir", l.pki,
		"-cert", "api=localhost,127.0.0.1", "-cert", "pebble=localhost,127.0.0.1"); err != nil {
		t.Fatalf("devca: %v\n%s", err, out)
	}
	l.devCA = filepath.Join(l.pki, "ca.pem")
	minted, err := run(t, nil, filepath.Join(bin, "mcns-token"), "-name", "pdns-client", "-roles", "admin")
	if err != nil {
		t.Fatalf("mcns-token: %v\n%s", err, minted)
	}
	var tokenLine string
	l.token, tokenLine = mintedToken(t, minted)
	writeFile(t, filepath.Join(l.dir, "api-tokens"), tokenLine+"\n")

	var seeds []string
	for name, text := range zones {
		f := filepath.Join(l.dir, name+".zone")
		writeFile(t, f, text)
		seeds = append(seeds, f)
	}
	dnsPort, apiPort := freePort(t), freePort(t)
	l.dnsAddr = fmt.Sprintf("127.0.0.1:%d", dnsPort)
	l.apiURL = fmt.Sprintf("https://localhost:%d", apiPort)
	writeFile(t, filepath.Join(l.dir, "Corefile"), fmt.Sprintf(`.:%d {
	bind 127.0.0.1
	errors
	mcns %s {
		seed %s
		api 127.0.0.1:%d {
			tls %s %s
			tokens %s
		}
		allow_zones %s
	}
}
`, dnsPort, filepath.Join(l.dir, "mcns.db"), strings.Join(seeds, " "), apiPort,
		filepath.Join(l.pki, "api.pem"), filepath.Join(l.pki, "api-key.pem"), filepath.Join(l.dir, "api-tokens"), allow))
	l.coredns = start(t, l.dir, nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(l.dir, "Corefile"))
	waitFor(t, 20*time.Second, "mcns answering", func() error {
		for name := range zones {
			if r, err := query(l.dnsAddr, name, dns.TypeSOA); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				return fmt.Errorf("SOA %s: %v %v", name, r, err)
			}
		}
		if out, err := run(t, nil, "curl", "-sS", "--fail", "--max-time", "2", "--cacert", l.devCA,
			"-H", "X-API-Key: "+l.token, l.apiURL+"/api/v1/servers/localhost"); err != nil {
			return fmt.Errorf("API: %v: %s", err, out)
		}
		return nil
	})
	return l
}

// minimalZone is a zone file with only the SOA and NS records; its name
// server is outside the zone, so the zone holds no A record to start with.
func minimalZone(origin string) string {
	return fmt.Sprintf(`$ORIGIN %s.
$TTL 300
@  IN SOA ns.example.org. hostmaster.example.org. 2026112800 10800 3600 1209600 300
   IN NS  ns.example.org.
`, origin)
}

// answers returns the record data mcns answers for name and type, sorted
// as served, and the response code.
func (l *pdnsLab) answers(t *testing.T, name string, qtype uint16) ([]string, int) {
	t.Helper()
	r, err := query(l.dnsAddr, name, qtype)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	var out []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	return out, r.Rcode
}

// clientBinary returns the client built by .ci/run: $env, else the same
// path under _build; the test skips when it is missing.
func clientBinary(t *testing.T, env, buildPath, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = filepath.Join(repoRoot(t), "_build", buildPath)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not available (%v); .ci/run builds it and sets $%s", what, err, env)
	}
	return p
}

// TestLegoPDNSProvider: lego, with its PowerDNS DNS provider pointed at
// mcns's /api/v1, obtains a certificate for a zone's apex and its wildcard
// from an ACME CA (pebble) that validates DNS-01 by asking mcns. The
// challenge TXT records are seen in mcns's answers while lego waits for
// them and are gone afterwards.
func TestLegoPDNSProvider(t *testing.T) {
	lego := clientBinary(t, "LEGO_BIN", "lego/lego", "lego")
	pebble := pebbleBinary(t)
	const zone = "clients.example.net"
	l := startPDNSLab(t, zone, map[string]string{zone: minimalZone(zone)})

	acmePort, mgmtPort := freePort(t), freePort(t)
	writeFile(t, filepath.Join(l.dir, "pebble.json"), fmt.Sprintf(`{"pebble": {
	"listenAddress": "127.0.0.1:%d",
	"managementListenAddress": "127.0.0.1:%d",
	"certificate": %q,
	"privateKey": %q,
	"httpPort": %d,
	"tlsPort": %d,
	"ocspResponderURL": "",
	"externalAccountBindingRequired": false
}}`, acmePort, mgmtPort, filepath.Join(l.pki, "pebble.pem"), filepath.Join(l.pki, "pebble-key.pem"), freePort(t), freePort(t)))
	start(t, l.dir, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		pebble, "-config", filepath.Join(l.dir, "pebble.json"), "-dnsserver", l.dnsAddr)
	acmeDir := fmt.Sprintf("https://localhost:%d/dir", acmePort)
	waitFor(t, 20*time.Second, "pebble", func() error {
		out, err := run(t, nil, "curl", "-sS", "--fail", "--max-time", "2", "--cacert", l.devCA, acmeDir)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	// Watch mcns's answers for the challenge while lego runs.
	challenge := "_acme-challenge." + zone
	var seen atomic.Int32 // most TXT values answered at once
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if r, err := query(l.dnsAddr, challenge, dns.TypeTXT); err == nil {
				if n := int32(len(r.Answer)); n > seen.Load() {
					seen.Store(n)
				}
			}
		}
	}()

	legoDir := filepath.Join(l.dir, "lego")
	env := []string{
		"PDNS_API_URL=" + l.apiURL, "PDNS_API_KEY=" + l.token, "PDNS_SERVER_NAME=localhost",
		"PDNS_PROPAGATION_TIMEOUT=60", "PDNS_POLLING_INTERVAL=1",
		// The PowerDNS provider's HTTP client trusts the system roots;
		// the ACME client trusts LEGO_CA_CERTIFICATES.
		"SSL_CERT_FILE=" + l.devCA, "LEGO_CA_CERTIFICATES=" + l.devCA,
	}
	started := time.Now()
	out, err := run(t, env, lego, "run",
		"--server", acmeDir, "--accept-tos", "--email", "hostmaster@"+zone, "--path", legoDir,
		"--domains", zone, "--domains", "*."+zone,
		"--dns", "pdns", "--dns.resolvers", l.dnsAddr, "--dns.propagation.disable-ans")
	close(stop)
	<-watched
	if err != nil {
		t.Fatalf("lego: %v\n%s\nmcns:\n%s", err, out, l.coredns.out.String())
	}
	t.Logf("lego obtained the certificate in %v", time.Since(started).Round(100*time.Millisecond))

	t.Run("certificate files", func(t *testing.T) {
		certs, _ := filepath.Glob(filepath.Join(legoDir, "certificates", "*.crt"))
		var leaf string
		for _, c := range certs {
			if !strings.HasSuffix(c, ".issuer.crt") {
				leaf = c
			}
		}
		if leaf == "" {
			t.Fatalf("no certificate under %s: %v\n%s", legoDir, certs, out)
		}
		chain := readCertChain(t, leaf)
		names := chain[0].DNSNames
		if !reflect.DeepEqual(sortedCopy(names), []string{"*." + zone, zone}) {
			t.Errorf("certificate names %v, want %s and *.%s", names, zone, zone)
		}
		if time.Now().After(chain[0].NotAfter) {
			t.Errorf("certificate expired at %v", chain[0].NotAfter)
		}
		key := strings.TrimSuffix(leaf, ".crt") + ".key"
		if b, err := os.ReadFile(key); err != nil || !strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("private key %s: %v", key, err)
		}
	})
	t.Run("challenge answered during validation", func(t *testing.T) {
		// The apex and the wildcard share the challenge name: both
		// values sit in one TXT RRset.
		if n := seen.Load(); n != 2 {
			t.Errorf("mcns answered at most %d TXT records at %s during the run, want 2", n, challenge)
		}
	})
	t.Run("challenge gone afterwards", func(t *testing.T) {
		if got, rcode := l.answers(t, challenge, dns.TypeTXT); len(got) != 0 || rcode != dns.RcodeNameError {
			t.Errorf("%s TXT after lego: %v %s, want NXDOMAIN", challenge, got, dns.RcodeToString[rcode])
		}
	})
}

// TestExternalDNSPDNSProvider: external-dns's PowerDNS provider, run the
// way external-dns's controller runs it (records, plan with the sync
// policy, apply), creates records in mcns, finds nothing to change on a
// second run with the same desired records, and deletes them when they are
// no longer desired; each step is checked in mcns's DNS answers.
func TestExternalDNSPDNSProvider(t *testing.T) {
	tool := clientBinary(t, "EXTERNALDNS_PDNS_BIN", "externaldns-pdns/externaldns-pdns", "the external-dns PowerDNS tool")
	const zone = "ext.example.net"
	l := startPDNSLab(t, zone, map[string]string{zone: minimalZone(zone)})

	reconcile := func(t *testing.T, desired ...string) externalDNSChanges {
		t.Helper()
		args := append([]string{"-server", l.apiURL, "-ca", l.devCA, "-domain", zone}, desired...)
		out, err := run(t, []string{"PDNS_API_KEY=" + l.token}, tool, args...)
		if err != nil {
			t.Fatalf("externaldns-pdns: %v\n%s", err, out)
		}
		var c externalDNSChanges
		if err := json.Unmarshal([]byte(lastLine(out)), &c); err != nil {
			t.Fatalf("externaldns-pdns output %q: %v", out, err)
		}
		return c
	}
	desired := []string{
		"-a", "www." + zone + "=192.0.2.10",
		"-a", "api." + zone + "=192.0.2.11",
		// TXT targets are record content, quoted as external-dns's TXT
		// registry writes them and PowerDNS returns them.
		"-txt", "www." + zone + `="owner=edge"`,
	}
	checkServed := func(t *testing.T) {
		t.Helper()
		if got, _ := l.answers(t, "www."+zone, dns.TypeA); !reflect.DeepEqual(got, []string{"192.0.2.10"}) {
			t.Errorf("www A: %v", got)
		}
		if got, _ := l.answers(t, "api."+zone, dns.TypeA); !reflect.DeepEqual(got, []string{"192.0.2.11"}) {
			t.Errorf("api A: %v", got)
		}
		if got, _ := l.answers(t, "www."+zone, dns.TypeTXT); !reflect.DeepEqual(got, []string{`"owner=edge"`}) {
			t.Errorf("www TXT: %v", got)
		}
	}

	t.Run("first run creates the records", func(t *testing.T) {
		c := reconcile(t, desired...)
		want := []string{"A api." + zone, "A www." + zone, "TXT www." + zone}
		if !reflect.DeepEqual(sortedCopy(c.Create), want) || len(c.Delete)+len(c.UpdateNew) != 0 {
			t.Errorf("changes %+v, want creations %v only", c, want)
		}
		checkServed(t)
	})
	t.Run("second run changes nothing", func(t *testing.T) {
		soaBefore, _ := l.answers(t, zone, dns.TypeSOA)
		if c := reconcile(t, desired...); c.any() {
			t.Errorf("second run planned changes %+v", c)
		}
		checkServed(t)
		if soaAfter, _ := l.answers(t, zone, dns.TypeSOA); !reflect.DeepEqual(soaBefore, soaAfter) {
			t.Errorf("SOA changed by a run with nothing to do: %v -> %v", soaBefore, soaAfter)
		}
	})
	t.Run("run without them deletes them", func(t *testing.T) {
		c := reconcile(t)
		if len(c.Delete) != 3 || len(c.Create)+len(c.UpdateNew) != 0 {
			t.Errorf("changes %+v, want 3 deletions", c)
		}
		for _, name := range []string{"www." + zone, "api." + zone} {
			if got, rcode := l.answers(t, name, dns.TypeA); len(got) != 0 || rcode != dns.RcodeNameError {
				t.Errorf("%s after deletion: %v %s", name, got, dns.RcodeToString[rcode])
			}
		}
		if got, _ := l.answers(t, zone, dns.TypeNS); len(got) != 1 {
			t.Errorf("zone's NS after deletion: %v", got)
		}
	})
	if t.Failed() {
		t.Logf("mcns:\n%s", l.coredns.out.String())
	}
}

// externalDNSChanges is what the external-dns tool prints: the records
// each kind of change touched, as "TYPE name".
type externalDNSChanges struct {
	Create    []string `json:"create"`
	UpdateOld []string `json:"updateOld"`
	UpdateNew []string `json:"updateNew"`
	Delete    []string `json:"delete"`
}

func (c externalDNSChanges) any() bool {
	return len(c.Create)+len(c.UpdateOld)+len(c.UpdateNew)+len(c.Delete) != 0
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// readCertChain parses the PEM certificates of a file, leaf first.
func readCertChain(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		t.Fatalf("%s holds no certificate", path)
	}
	return chain
}
