package integration

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The ACME rehearsal's own addresses: svc faces the CA over a link of its
// own.
const (
	svcToCA    = "192.0.2.1"  // svc, facing the ACME CA
	pebbleAddr = "192.0.2.14" // the ACME CA (pebble)
	// pebbleVersion is the ACME test CA the rehearsal runs.
	pebbleVersion = "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3"
	// certLifetime is the validity of pebble's certificates here, short
	// so that Caddy renews one while the test watches.
	certLifetime = 90 * time.Second
)

// TestACMEDNS01 rehearses certificates by DNS-01 through mcns: Caddy on
// svc obtains a wildcard certificate under svc.mcp.metacircular.net from
// an ACME CA (pebble, in a namespace of its own) that checks the challenge
// by asking svc's DNS; Caddy writes the challenge into mcns through the
// management API with the dns.providers.mcns module. The site also has
// the zone's apex, whose certificate is validated at the same time at the
// same challenge name. A client then gets the certificates over TLS, no
// challenge record is left behind, and Caddy renews the wildcard's without
// a restart.
func TestACMEDNS01(t *testing.T) {
	bin := binDir(t)
	root := repoRoot(t)
	pebble := pebbleBinary(t)
	l := newLab(t)
	for _, h := range []string{"client", "svc", "ca"} {
		l.host(h)
	}
	l.link("client", []string{clientAddr + "/24"}, "svc", []string{svcPublic + "/24"})
	l.link("svc", []string{svcToCA + "/24"}, "ca", []string{pebbleAddr + "/24"})

	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if out, err := run(t, nil, filepath.Join(bin, "devca"), "-dir", pki,
		"-cert", "api=localhost,127.0.0.1", "-cert", "pebble="+pebbleAddr); err != nil {
		t.Fatalf("devca: %v\n%s", err, out)
	}
	devCA := filepath.Join(pki, "ca.pem")
	minted, err := run(t, nil, filepath.Join(bin, "mcns-token"), "-name", "caddy", "-roles", "admin")
	if err != nil {
		t.Fatalf("mcns-token: %v\n%s", err, minted)
	}
	token, tokenLine := mintedToken(t, minted)
	writeFile(t, filepath.Join(dir, "api-tokens"), tokenLine+"\n")

	// ca: pebble, resolving challenges through svc's DNS. Authorizations
	// are never reused, so the renewal is validated by DNS-01 again.
	writeFile(t, filepath.Join(dir, "pebble.json"), fmt.Sprintf(`{"pebble": {
	"listenAddress": "%[1]s:14000",
	"managementListenAddress": "%[1]s:15000",
	"certificate": %[2]q,
	"privateKey": %[3]q,
	"httpPort": 5002,
	"tlsPort": 5001,
	"ocspResponderURL": "",
	"externalAccountBindingRequired": false,
	"keyAlgorithm": "ecdsa",
	"profiles": {"default": {"description": "short-lived", "validityPeriod": %[4]d}}
}}`, pebbleAddr, filepath.Join(pki, "pebble.pem"), filepath.Join(pki, "pebble-key.pem"), int(certLifetime/time.Second)))
	l.start(t, "ca", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		pebble, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", svcToCA+":53")

	// svc: mcns serving svc.mcp.metacircular.net, writable there only.
	writeFile(t, filepath.Join(dir, "Corefile"), fmt.Sprintf(`.:53 {
	errors
	mcns %s {
		seed %s
		api 127.0.0.1:8444 {
			tls %s %s
			tokens %s
		}
		allow_zones svc.mcp.metacircular.net
		recursion_allow 127.0.0.0/8
	}
}
`, filepath.Join(dir, "mcns.db"), filepath.Join(root, "examples", "zones", "svc.mcp.metacircular.net.zone"),
		filepath.Join(pki, "api.pem"), filepath.Join(pki, "api-key.pem"), filepath.Join(dir, "api-tokens")))
	coredns := l.start(t, "svc", nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile"))
	waitFor(t, 20*time.Second, "svc's DNS and pebble", func() error {
		if out, _ := l.output("svc", "dig", "@127.0.0.1", "+norec", "+time=1", "+tries=1", "svc.mcp.metacircular.net", "SOA"); !strings.Contains(out, "status: NOERROR") {
			return fmt.Errorf("dig:\n%s", out)
		}
		if out, err := l.output("svc", "curl", "-sS", "--max-time", "2", "--cacert", devCA, "https://"+pebbleAddr+":14000/dir"); err != nil {
			return fmt.Errorf("pebble: %v: %s", err, out)
		}
		return nil
	})

	// Caddy on svc: the wildcard certificate by DNS-01 through mcns. The
	// propagation check asks svc's own DNS, not public resolvers.
	caddyfile := filepath.Join(dir, "Caddyfile")
	writeFile(t, caddyfile, fmt.Sprintf(`{
	acme_ca https://%s:14000/dir
	acme_ca_root %s
	renew_interval 2s
}

svc.mcp.metacircular.net, *.svc.mcp.metacircular.net {
	tls {
		dns mcns {
			endpoint https://localhost:8444
			token {env.MCNS_TOKEN}
			ca_cert %s
		}
		resolvers 127.0.0.1:53
	}
	respond "served {host}"
}
`, pebbleAddr, devCA, devCA))
	caddyEnv := []string{"MCNS_TOKEN=" + token,
		"XDG_DATA_HOME=" + filepath.Join(dir, "caddy-data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "caddy-config")}
	started := time.Now()
	caddy := l.start(t, "svc", caddyEnv, filepath.Join(bin, "caddy"), "run", "--config", caddyfile, "--adapter", "caddyfile")

	// The CA's issuing root, from its management interface.
	rootPEM, err := l.output("svc", "curl", "-sS", "--fail", "--max-time", "5", "--cacert", devCA, "https://"+pebbleAddr+":15000/roots/0")
	if err != nil || !strings.Contains(rootPEM, "BEGIN CERTIFICATE") {
		t.Fatalf("pebble's root: %v\n%s", err, rootPEM)
	}
	acmeRoot := filepath.Join(dir, "acme-root.pem")
	writeFile(t, acmeRoot, rootPEM)

	// served fetches a page of host from the client, verifying the
	// certificate against the ACME root, and returns the leaf.
	const host = "metacrypt.svc.mcp.metacircular.net"
	served := func(host string) (*x509.Certificate, error) {
		out, err := l.output("client", "curl", "-sS", "--max-time", "5", "--resolve", host+":443:"+svcPublic,
			"--cacert", acmeRoot, "-w", "\n%{certs}", "https://"+host+"/")
		if err != nil {
			return nil, fmt.Errorf("%v: %s", err, out)
		}
		if !strings.HasPrefix(out, "served "+host+"\n") {
			return nil, fmt.Errorf("page: %q", out)
		}
		block, _ := pem.Decode([]byte(out[strings.Index(out, "\n"):]))
		if block == nil {
			return nil, fmt.Errorf("no certificate in curl's output: %q", out)
		}
		return x509.ParseCertificate(block.Bytes)
	}
	noChallengeLeft := func() error {
		out, err := l.output("svc", "curl", "-sS", "--fail", "--max-time", "5", "--cacert", devCA,
			"-H", "Authorization: Bearer "+token, "https://localhost:8444/v1/zones/svc.mcp.metacircular.net/records")
		if err != nil {
			return fmt.Errorf("API: %v: %s", err, out)
		}
		var answer struct {
			Records []struct{ Name, Type, Value string }
		}
		if err := json.Unmarshal([]byte(out), &answer); err != nil {
			return fmt.Errorf("API answer %q: %v", out, err)
		}
		for _, r := range answer.Records {
			if strings.HasPrefix(r.Name, "_acme-challenge") {
				return fmt.Errorf("API still lists %s %s %s", r.Name, r.Type, r.Value)
			}
		}
		dig, _ := l.output("client", "dig", "@"+svcPublic, "+norec", "+time=2", "+tries=1", "_acme-challenge.svc.mcp.metacircular.net", "TXT")
		if !strings.Contains(dig, "status: NXDOMAIN") {
			return fmt.Errorf("DNS still answers the challenge name:\n%s", dig)
		}
		return nil
	}

	var first *x509.Certificate
	t.Run("wildcard certificate by DNS-01 through mcns", func(t *testing.T) {
		var apex *x509.Certificate
		waitFor(t, 90*time.Second, "both certificates served", func() error {
			var err error
			if first, err = served(host); err != nil {
				return err
			}
			apex, err = served("svc.mcp.metacircular.net")
			return err
		})
		t.Logf("issued and served %v after Caddy started (serial %x, valid until %s)",
			time.Since(started).Round(100*time.Millisecond), first.SerialNumber, first.NotAfter.Format(time.TimeOnly))
		if len(first.DNSNames) != 1 || first.DNSNames[0] != "*.svc.mcp.metacircular.net" {
			t.Errorf("wildcard certificate names %v", first.DNSNames)
		}
		if len(apex.DNSNames) != 1 || apex.DNSNames[0] != "svc.mcp.metacircular.net" {
			t.Errorf("apex certificate names %v", apex.DNSNames)
		}
		if !strings.Contains(caddy.out.String(), `"added record"`) {
			t.Errorf("Caddy's log has no record added through mcns")
		}
	})
	if first == nil {
		t.FailNow()
	}
	t.Run("no challenge record left in the zone", func(t *testing.T) {
		// A renewal may be under way by now; its record is gone again
		// within seconds.
		waitFor(t, 30*time.Second, "challenge records removed", noChallengeLeft)
	})
	t.Run("renewed without a restart", func(t *testing.T) {
		renewStart := time.Now()
		var next *x509.Certificate
		waitFor(t, certLifetime+30*time.Second, "a renewed certificate served", func() error {
			var err error
			if next, err = served(host); err != nil {
				return err
			}
			if next.SerialNumber.Cmp(first.SerialNumber) == 0 {
				return fmt.Errorf("still serving serial %x", first.SerialNumber)
			}
			return nil
		})
		t.Logf("renewed certificate served %v after the first was (serial %x, valid until %s); challenge records written through mcns so far: %d",
			time.Since(renewStart).Round(100*time.Millisecond), next.SerialNumber, next.NotAfter.Format(time.TimeOnly),
			strings.Count(caddy.out.String(), `"added record"`))
		if !next.NotAfter.After(first.NotAfter) {
			t.Errorf("renewed certificate expires %v, not after the first's %v", next.NotAfter, first.NotAfter)
		}
		waitFor(t, 30*time.Second, "challenge records removed after the renewal", noChallengeLeft)
	})
	if t.Failed() {
		t.Logf("CoreDNS on svc:\n%s", coredns.out.String())
	}
}

// pebbleBinary returns the ACME test CA's binary: $PEBBLE_BIN (.ci/run
// builds it), or else one built here with go install; the test skips when
// neither is possible.
func pebbleBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PEBBLE_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PEBBLE_BIN: %v", err)
		}
		return p
	}
	gobin := t.TempDir()
	if out, err := run(t, []string{"GOBIN=" + gobin, "CGO_ENABLED=0"}, "go", "install", pebbleVersion); err != nil {
		t.Skipf("cannot build the ACME test CA (%s): %v\n%s", pebbleVersion, err, out)
	}
	return filepath.Join(gobin, "pebble")
}
