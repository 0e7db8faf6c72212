package mcns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/internal/syncbuf"
)

const pdnsServer = "/usr/sbin/pdns_server"

// TestInteropPowerDNS serves the database mcns seeded with pdns_server's
// gsqlite3 backend on a loopback port and requires the same records from
// both, including the negative-answer SOA TTL of RFC 2308 §3.
func TestInteropPowerDNS(t *testing.T) {
	if _, err := os.Stat(pdnsServer); err != nil {
		t.Skipf("%s not installed (Debian pdns-server and pdns-backend-sqlite3)", pdnsServer)
	}
	if testing.Short() {
		t.Skip("starts pdns_server")
	}
	root := repoRoot(t)
	seeds := []string{
		filepath.Join(root, "examples", "zones", "mcp.metacircular.net.zone"),
		filepath.Join(root, "examples", "zones", "svc.mcp.metacircular.net.zone"),
	}
	seeds = append(seeds, writeZones(t, exampleOrg, reverseZone)...)
	m := startMCNS(t, []string{"."}, seeds...)

	dir := t.TempDir()
	addr := startPDNS(t, dir, m.config.dbPath)
	c := &dns.Client{Timeout: time.Second}

	names := []string{"mcp.metacircular.net.", "rift.mcp.metacircular.net.", "ns.mcp.metacircular.net.", "nx.mcp.metacircular.net.",
		"svc.mcp.metacircular.net.", "metacrypt.svc.mcp.metacircular.net.", "mcr.svc.mcp.metacircular.net.",
		"sgard.svc.mcp.metacircular.net.", "mcp-agent.svc.mcp.metacircular.net.", "nx.svc.mcp.metacircular.net.",
		"example.org.", "www.example.org.", "alias.example.org.", "mail.example.org.", "_sip._tcp.example.org.",
		"x.wild.example.org.", "nope.example.org.", "10.2.0.192.in-addr.arpa.", "9.2.0.192.in-addr.arpa."}
	qtypes := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeSRV, dns.TypeCAA, dns.TypePTR,
		dns.TypeNS, dns.TypeSOA, dns.TypeCNAME}
	compared := 0
	for _, name := range names {
		for _, qt := range qtypes {
			if name == "alias.example.org." && (qt == dns.TypeNS || qt == dns.TypeSOA) {
				// file.Zone resolves these CNAME targets through the
				// running server, which this in-process test lacks.
				continue
			}
			q := new(dns.Msg).SetQuestion(name, qt)
			q.RecursionDesired = false
			theirs, _, err := c.Exchange(q.Copy(), addr)
			if err != nil {
				t.Fatalf("pdns %s %s: %v", name, dns.TypeToString[qt], err)
			}
			ours := ask(t, m, q.Copy())
			if w, g := recordsOf(theirs), recordsOf(ours); w != g {
				t.Errorf("%s %s:\npdns_server:\n%s\nmcns:\n%s", name, dns.TypeToString[qt], w, g)
			}
			compared++
		}
	}
	t.Logf("%d queries: same records from pdns_server and mcns", compared)

	// pdnsutil accepts the rows mcns wrote, and its edits reach mcns.
	const pdnsutil = "/usr/bin/pdnsutil"
	if _, err := os.Stat(pdnsutil); err != nil {
		t.Skipf("%s not installed", pdnsutil)
	}
	for _, z := range []string{"mcp.metacircular.net", "svc.mcp.metacircular.net", "example.org", "2.0.192.in-addr.arpa"} {
		out, err := exec.Command(pdnsutil, "--config-dir="+dir, "check-zone", z).CombinedOutput()
		if err != nil || !strings.Contains(string(out), " 0 errors") {
			t.Errorf("pdnsutil check-zone %s: %v\n%s", z, err, out)
		}
	}
	added, err := exec.Command(pdnsutil, "--config-dir="+dir, "add-record", "mcp.metacircular.net", "added", "A", "300", "192.0.2.77").CombinedOutput()
	if err != nil {
		t.Fatalf("pdnsutil add-record: %v\n%s", err, added)
	}
	eventually(t, 2*time.Second, "record added by pdnsutil", func() bool {
		resp := ask(t, m, new(dns.Msg).SetQuestion("added.mcp.metacircular.net.", dns.TypeA))
		return len(resp.Answer) == 1
	})
}

// recordsOf is what both servers must agree on: the rcode, the answer, and
// for negative answers the SOA (with its TTL). Other sections follow each
// server's own conventions (PowerDNS adds no NS to positive answers).
func recordsOf(m *dns.Msg) string {
	var s []string
	for _, rr := range m.Answer {
		s = append(s, "AN "+strings.ToLower(rr.String()))
	}
	if len(m.Answer) == 0 {
		for _, rr := range m.Ns {
			if _, ok := rr.(*dns.SOA); ok {
				s = append(s, "NS "+strings.ToLower(rr.String()))
			}
		}
	}
	sort.Strings(s)
	return dns.RcodeToString[m.Rcode] + fmt.Sprintf(" aa=%v\n", m.Authoritative) + strings.Join(s, "\n")
}

// startPDNS starts pdns_server on the database and returns its address once
// it answers. A port taken by another test between picking and binding
// makes pdns_server exit; it is then started again on another port.
func startPDNS(t *testing.T, dir, db string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freeDNSPort(t)
		conf := fmt.Sprintf(`launch=gsqlite3
gsqlite3-database=%s
local-address=127.0.0.1
local-port=%d
socket-dir=%s
daemon=no
guardian=no
disable-syslog=yes
write-pid=no
webserver=no
api=no
loglevel=3
`, db, port, dir)
		if err := os.WriteFile(filepath.Join(dir, "pdns.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(pdnsServer, "--config-dir="+dir)
		out := new(syncbuf.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { cmd.Process.Kill(); <-exited }
		addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
		c := &dns.Client{Timeout: time.Second}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, _, err := c.Exchange(new(dns.Msg).SetQuestion("mcp.metacircular.net.", dns.TypeSOA), addr)
			if err == nil {
				t.Cleanup(stop)
				return addr
			}
			select {
			case <-exited:
				if attempt < 3 {
					t.Logf("pdns_server exited (attempt %d), retrying on another port:\n%s", attempt, out)
					break
				}
				t.Fatalf("pdns_server exited:\n%s", out)
			default:
				if time.Now().After(deadline) {
					stop()
					t.Fatalf("pdns_server not answering on %s: %v\n%s", addr, err, out)
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			break
		}
	}
}

// freeDNSPort returns a loopback port free for both UDP and TCP now.
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
