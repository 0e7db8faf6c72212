package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// TSIG keys of the transfer and update tests (base64 secrets).
const (
	xfrKeyName   = "xfr-key."
	xfrKeySecret = "eGZyLXNlY3JldC14ZnItc2VjcmV0LXhmci1zZWNyZXQ="
	updKeyName   = "upd-key."
	updKeySecret = "dXBkLXNlY3JldC11cGQtc2VjcmV0LXVwZC1zZWNyZXQ="
	othKeyName   = "other-key."
	othKeySecret = "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg=="
	badKeySecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="
	apiToken     = "xfr-test-token-0123456789abcdef"
)

// The primary's zones: example.test is transferred to 127.0.0.1 and may be
// updated with upd-key; other.test is transferred only to ::1 (so a client
// on 127.0.0.1 is refused) and may be updated with other-key.
const (
	xfrZone   = "example.test."
	otherZone = "other.test."
	xfrSerial = 2024010101
)

const exampleTestZone = `$ORIGIN example.test.
$TTL 300
@     IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300
@     NS    ns1
ns1   A     127.0.0.1
www   A     192.0.2.10
mail  A     192.0.2.20
@     MX    10 mail
@     TXT   "v=spf1 -all"
`

const otherTestZone = `$ORIGIN other.test.
$TTL 300
@     IN SOA ns1.other.test. hostmaster.other.test. 1 7200 3600 1209600 300
@     NS    ns1
ns1   A     127.0.0.1
`

// needTool returns the path of a client program or skips the test.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: dnsutils/bind9-dnsutils, knot-dnsutils, knot)", name)
	}
	return p
}

// primary is a running bin/coredns serving the two zones from mcns.
type primary struct {
	dir     string
	addr    string // host:port of DNS
	port    int
	apiURL  string
	process *process
}

// startPrimary starts the primary. notifyPorts are the 127.0.0.1 ports of
// secondaries: the transfer plugin's `to` lists them, which both allows
// their transfers and sends them NOTIFY.
func startPrimary(t *testing.T, bin string, notifyPorts ...int) *primary {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "example.test.zone"), exampleTestZone)
	writeFile(t, filepath.Join(dir, "other.test.zone"), otherTestZone)
	writeFile(t, filepath.Join(dir, "tokens"), api.TokenLine(apiToken, "xfr", []string{"admin"})+"\n")
	p := &primary{dir: dir, port: freePort(t)}
	p.addr = "127.0.0.1:" + strconv.Itoa(p.port)
	apiPort := freePort(t)
	p.apiURL = "http://127.0.0.1:" + strconv.Itoa(apiPort)
	to := "127.0.0.1:" + strconv.Itoa(freePort(t)) // a secondary that is not running
	for _, port := range notifyPorts {
		to += " 127.0.0.1:" + strconv.Itoa(port)
	}
	corefile := fmt.Sprintf(`example.test:%[1]d other.test:%[1]d {
	bind 127.0.0.1
	log
	tsig {
		secret %[2]s %[3]s
		secret %[4]s %[5]s
		secret %[6]s %[7]s
	}
	transfer example.test {
		to %[8]s
	}
	transfer other.test {
		to [::1]:%[9]d
	}
	mcns %[10]s {
		seed %[11]s %[12]s
		refresh 100ms
		update example.test %[4]s
		update other.test %[6]s
		journal 100 24h
		api 127.0.0.1:%[13]d {
			insecure_plaintext
			tokens %[14]s
		}
	}
}
`, p.port, xfrKeyName, xfrKeySecret, updKeyName, updKeySecret, othKeyName, othKeySecret, to, freePort(t),
		filepath.Join(dir, "zones.db"), filepath.Join(dir, "example.test.zone"), filepath.Join(dir, "other.test.zone"),
		apiPort, filepath.Join(dir, "tokens"))
	writeFile(t, filepath.Join(dir, "Corefile"), corefile)
	p.process = start(t, dir, nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile"))
	waitFor(t, 10*time.Second, "primary answers", func() error {
		select {
		case err := <-p.process.done:
			p.process.done <- err
			t.Fatalf("coredns exited: %v\n%s", err, p.process.out.String())
		default:
		}
		_, err := soaSerialAt(p.addr, xfrZone)
		return err
	})
	return p
}

// soaSerialAt asks addr for zone's SOA serial.
func soaSerialAt(addr, zone string) (uint32, error) {
	r, err := query(addr, zone, dns.TypeSOA)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("no SOA for %s from %s: %s", zone, addr, dns.RcodeToString[r.Rcode])
}

// answerAt returns the answer RDATA for name/type at addr, sorted as sent.
func answerAt(addr, name string, qtype uint16) ([]string, int, error) {
	r, err := query(addr, name, qtype)
	if err != nil {
		return nil, 0, err
	}
	var out []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	return out, r.Rcode, nil
}

// apiAddRecord adds a record through the management API.
func (p *primary) apiAddRecord(t *testing.T, zone, name, typ, value string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "type": typ, "value": value, "ttl": 60})
	req, err := http.NewRequest("POST", p.apiURL+"/v1/zones/"+strings.TrimSuffix(zone, ".")+"/records", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("API add %s %s %s: %d %s", name, typ, value, resp.StatusCode, b.String())
	}
}

// dig runs dig against the primary and returns its output.
func (p *primary) dig(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := run(t, nil, needTool(t, "dig"), append([]string{"@127.0.0.1", "-p", strconv.Itoa(p.port), "+tries=1", "+time=5"}, args...)...)
	return out
}

// answerLines is dig/kdig output without comments and blank lines.
func answerLines(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// startKnotSecondary runs knotd as a secondary of example.test on
// 127.0.0.1:knotPort: NOTIFY accepted from the primary's address, transfers
// signed with the TSIG key (knotd checks every signed response), zone kept
// in a storage directory of its own. It returns knotd's address.
func startKnotSecondary(t *testing.T, knotd string, knotPort, primaryPort int) string {
	t.Helper()
	kdir := t.TempDir()
	if err := os.Mkdir(filepath.Join(kdir, "storage"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(kdir, "knot.conf"), fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]d
log:
  - target: stdout
    any: info
database:
    storage: "%[1]s/storage"
control:
    listen: "%[1]s/knot.sock"
key:
  - id: %[4]s
    algorithm: hmac-sha256
    secret: %[5]s
remote:
  - id: primary
    address: 127.0.0.1@%[3]d
    key: %[4]s
acl:
  - id: notify-from-primary
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "%[1]s/storage"
zone:
  - domain: example.test
    master: primary
    acl: notify-from-primary
`, kdir, knotPort, primaryPort, xfrKeyName, xfrKeySecret))
	start(t, kdir, nil, knotd, "-c", filepath.Join(kdir, "knot.conf"))
	return "127.0.0.1:" + strconv.Itoa(knotPort)
}
