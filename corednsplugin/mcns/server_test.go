package mcns

import (
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/ready"
	"github.com/miekg/dns"
)

func init() {
	// bin/coredns gets mcns from plugin.cfg; here it is placed after file
	// in the directive list the same way.
	for i, d := range dnsserver.Directives {
		if d == "file" {
			dnsserver.Directives = append(dnsserver.Directives[:i+1], append([]string{pluginName}, dnsserver.Directives[i+1:]...)...)
			break
		}
	}
}

type corefileInput string

func (c corefileInput) Body() []byte       { return []byte(c) }
func (c corefileInput) Path() string       { return "Corefile" }
func (c corefileInput) ServerType() string { return "dns" }

const exampleNet = `$ORIGIN example.net.
$TTL 3600
@   IN SOA ns.example.net. hostmaster.example.net. 1 7200 3600 1209600 300
@   NS ns
ns  A  198.51.100.1
www A  198.51.100.80
`

// startServer runs a real CoreDNS server with corefile on a loopback port.
func startServer(t *testing.T, corefile string) (*caddy.Instance, string) {
	t.Helper()
	caddy.Quiet, dnsserver.Quiet = true, true
	inst, err := caddy.Start(corefileInput(corefile))
	if err != nil {
		t.Fatal(err)
	}
	return inst, inst.Servers()[0].LocalAddr().String()
}

// serverNotOn returns the address of inst's server that does not listen
// on port, for instances with a second server block on a fixed port.
func serverNotOn(t *testing.T, inst *caddy.Instance, port int) string {
	t.Helper()
	for _, s := range inst.Servers() {
		addr := s.LocalAddr().String()
		if _, p, _ := net.SplitHostPort(addr); p != strconv.Itoa(port) {
			return addr
		}
	}
	t.Fatalf("no server off port %d", port)
	return ""
}

func exchange(t *testing.T, addr, name string, qt uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, qt), addr)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qt], err)
	}
	return resp
}

// The cache plugin is not part of these tests: it imports the metrics
// plugin, whose dependencies this module does not carry. Its bypass is
// covered through CacheBypassZones in TestBlockZonesIntersect.
func TestServerUpstreamAndChanges(t *testing.T) {
	seeds := writeZones(t, exampleOrg, exampleNet)
	db := filepath.Join(t.TempDir(), "mcns.db")
	inst, addr := startServer(t, fmt.Sprintf(`.:0 {
	bind 127.0.0.1
	mcns %s {
		seed %s %s
		refresh 20ms
	}
}`, db, seeds[0], seeds[1]))
	defer inst.Stop()

	// An out-of-zone CNAME target in another mcns zone is resolved
	// through the server, as with the file plugin.
	resp := exchange(t, addr, "outside.example.org.", dns.TypeA)
	if len(resp.Answer) != 2 || !resp.Authoritative {
		t.Fatalf("CNAME to another zone: %v", resp)
	}
	if a, ok := resp.Answer[1].(*dns.A); !ok || a.A.String() != "198.51.100.80" {
		t.Fatalf("CNAME target: %v", resp)
	}
	// A change behind the server's back is answered within the poll
	// interval.
	if resp := exchange(t, addr, "www.example.org.", dns.TypeA); len(resp.Answer) != 1 {
		t.Fatalf("www: %v", resp)
	}
	sqldb, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	if _, err := sqldb.Exec("UPDATE records SET content = '192.0.2.222' WHERE name = 'www.example.org' AND type = 'A'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "external change", func() bool {
		resp := exchange(t, addr, "www.example.org.", dns.TypeA)
		return len(resp.Answer) == 1 && resp.Answer[0].(*dns.A).A.String() == "192.0.2.222"
	})
}

func TestServerReloadLeaksNothing(t *testing.T) {
	seeds := writeZones(t, exampleOrg)
	db := filepath.Join(t.TempDir(), "mcns.db")
	corefile := fmt.Sprintf(`.:0 {
	bind 127.0.0.1
	ready 127.0.0.1:0
	mcns %s {
		seed %s
		refresh 10ms
	}
}`, db, seeds[0])
	inst, addr := startServer(t, corefile)
	defer func() { inst.Stop() }()
	if resp := exchange(t, addr, "www.example.org.", dns.TypeA); len(resp.Answer) != 1 {
		t.Fatalf("before reload: %v", resp)
	}
	reload := func() {
		t.Helper()
		next, err := inst.Restart(corefileInput(corefile))
		if err != nil {
			t.Fatal(err)
		}
		inst = next
		addr = inst.Servers()[0].LocalAddr().String()
		if resp := exchange(t, addr, "www.example.org.", dns.TypeA); len(resp.Answer) != 1 {
			t.Fatalf("after reload: %v", resp)
		}
	}
	reload() // settle lazily created state
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	for i := 0; i < 5; i++ {
		reload()
	}
	eventually(t, 3*time.Second, "goroutines and fds back after 5 reloads", func() bool {
		runtime.GC()
		g, f := runtime.NumGoroutine(), openFDs(t)
		return g <= g0 && f <= f0
	})
}
