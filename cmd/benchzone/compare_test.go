package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// fakeServer answers every query on loopback with answer's output; it
// returns the server's address.
func fakeServer(t *testing.T, answer func(r *dns.Msg) *dns.Msg) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { w.WriteMsg(answer(r)) })}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// negative answers NXDOMAIN with an SOA of the given TTL, or one A record
// for names starting with "a".
func negative(soaTTL uint32, addr string) func(r *dns.Msg) *dns.Msg {
	return func(r *dns.Msg) *dns.Msg {
		m := new(dns.Msg).SetReply(r)
		m.Authoritative = true
		if strings.HasPrefix(r.Question[0].Name, "a") {
			rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A " + addr)
			m.Answer = append(m.Answer, rr)
			return m
		}
		m.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("bench.test. 3600 IN SOA ns1.bench.test. hm.bench.test. 1 2 3 4 300")
		soa.Header().Ttl = soaTTL
		m.Ns = append(m.Ns, soa)
		return m
	}
}

func TestCompare(t *testing.T) {
	q := filepath.Join(t.TempDir(), "q")
	os.WriteFile(q, []byte("a.bench.test. A\nnx.bench.test. A\n"), 0o600)
	file := fakeServer(t, negative(3600, "192.0.2.1"))
	mcns := fakeServer(t, negative(300, "192.0.2.1")) // RFC 2308 TTL: not a difference
	wrong := fakeServer(t, negative(300, "192.0.2.2"))
	if err := compareCmd([]string{"-a", file, "-b", mcns, "-queries", q}); err != nil {
		t.Fatalf("same answers reported different: %v", err)
	}
	if err := compareCmd([]string{"-a", file, "-b", wrong, "-queries", q}); err == nil {
		t.Fatal("different answers not reported")
	}
}
