package rrl

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/metacircular/edge/internal/netlist"
)

// udpWriter records what is written to one client; RemoteAddr allocates
// nothing, so benchmarks measure the plugin alone.
type udpWriter struct {
	test.ResponseWriter
	addr   net.Addr
	msgs   []*dns.Msg
	raw    map[*dns.Msg]bool // the msgs written packed, through Write
	record bool
}

func newWriter(ip string, tcp bool) *udpWriter {
	w := &udpWriter{record: true}
	if tcp {
		w.addr = &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}
	} else {
		w.addr = &net.UDPAddr{IP: net.ParseIP(ip), Port: 40000}
	}
	return w
}

func (w *udpWriter) RemoteAddr() net.Addr { return w.addr }

func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	if w.record {
		w.msgs = append(w.msgs, m)
	}
	return nil
}

func (w *udpWriter) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	if w.raw == nil {
		w.raw = map[*dns.Msg]bool{}
	}
	w.raw[m] = true
	return len(b), w.WriteMsg(m)
}

const testZone = "example.org."

var testSOA = test.SOA("example.org. 300 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300")

// backend answers like an authoritative server for example.org: names
// starting "nx" do not exist, "nodata." has no records of any type,
// "sub." is delegated, "refused." gets REFUSED without a reply written
// (as plugins returning an rcode do), "raw." is written packed, anything
// else has an A record.
var backend = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := r.Question[0]
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch {
	case strings.HasPrefix(q.Name, "refused."):
		return dns.RcodeRefused, nil
	case strings.HasPrefix(q.Name, "servfail."):
		return dns.RcodeServerFailure, nil
	case strings.HasPrefix(q.Name, "nx"):
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{testSOA}
	case strings.HasPrefix(q.Name, "nodata."):
		m.Ns = []dns.RR{testSOA}
	case strings.HasSuffix(q.Name, "sub.example.org."):
		m.Authoritative = false
		m.Ns = []dns.RR{test.NS("sub.example.org. 300 IN NS ns.sub.example.org.")}
		m.Extra = []dns.RR{test.A("ns.sub.example.org. 300 IN A 192.0.2.53")}
	default:
		m.Answer = []dns.RR{test.A(q.Name + " 300 IN A 192.0.2.1")}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "abcd"}}
	}
	if strings.HasPrefix(q.Name, "raw.") {
		b, err := m.Pack()
		if err != nil {
			return dns.RcodeServerFailure, err
		}
		_, err = w.Write(b)
		return dns.RcodeSuccess, err
	}
	return dns.RcodeSuccess, w.WriteMsg(m)
})

// clock is a settable time for the limiter.
type clock struct{ t int64 }

func (c *clock) advance(d time.Duration) { c.t += int64(d) }

func testConfig() config {
	cfg := config{window: 15 * time.Second, slip: 2, ipv4Bits: 24, ipv6Bits: 56, maxTableSize: 1000}
	for c := range numCategories {
		cfg.rates[c] = 5
	}
	return cfg
}

func newTestRRL(cfg config, zones ...string) (*RRL, *clock) {
	if len(zones) == 0 {
		zones = []string{"."}
	}
	r := New(cfg, zones)
	r.Next = backend
	c := new(clock)
	r.now = func() int64 { return c.t }
	return r, c
}

var serverCtx = context.WithValue(context.Background(), dnsserver.Key{}, &dnsserver.Server{Addr: "dns://:1053"})

// serve runs one query through the plugin as CoreDNS's server does,
// including writing the error reply when the chain returns an rcode it
// did not write, and returns what the client received (nil: nothing).
func serve(t testing.TB, r *RRL, w *udpWriter, name string, qtype uint16) *dns.Msg {
	t.Helper()
	req := new(dns.Msg).SetQuestion(name, qtype)
	before := len(w.msgs)
	rc, _ := r.ServeDNS(serverCtx, w, req)
	if !plugin.ClientWrite(rc) {
		m := new(dns.Msg).SetRcode(req, rc)
		w.WriteMsg(m)
	}
	switch len(w.msgs) - before {
	case 0:
		return nil
	case 1:
		return w.msgs[len(w.msgs)-1]
	}
	t.Fatalf("%s: %d replies written", name, len(w.msgs)-before)
	return nil
}

// tally sends n identical queries at one instant and counts full
// answers, truncated replies and silence.
func tally(t testing.TB, r *RRL, w *udpWriter, name string, qtype uint16, n int) (full, tc, none int) {
	t.Helper()
	for range n {
		switch m := serve(t, r, w, name, qtype); {
		case m == nil:
			none++
		case m.Truncated:
			tc++
		default:
			full++
		}
	}
	return full, tc, none
}

func TestServeDNSLimitsUDP(t *testing.T) {
	r, _ := newTestRRL(testConfig())
	w := newWriter("198.51.100.7", false)
	full, tc, none := tally(t, r, w, "www.example.org.", dns.TypeA, 25)
	if full != 5 || tc != 10 || none != 10 {
		t.Fatalf("25 queries at rate 5, slip 2: %d answered, %d truncated, %d dropped; want 5, 10, 10", full, tc, none)
	}
	srv := "dns://:1053"
	if got := value(t, dropped.WithLabelValues(srv, "response")); got < 10 {
		t.Errorf("dropped metric %v, want >= 10", got)
	}
	if got := value(t, slipped.WithLabelValues(srv, "response")); got < 10 {
		t.Errorf("slipped metric %v, want >= 10", got)
	}
	// Another type of the same name is a different account.
	if m := serve(t, r, w, "www.example.org.", dns.TypeAAAA); m == nil || m.Truncated {
		t.Errorf("AAAA after the A flood: %v, want an answer", m)
	}
}

func TestServeDNSRecoversAfterWindow(t *testing.T) {
	cfg := testConfig()
	cfg.window = 2 * time.Second
	r, c := newTestRRL(cfg)
	w := newWriter("198.51.100.7", false)
	for range 100 {
		serve(t, r, w, "www.example.org.", dns.TypeA)
		c.advance(10 * time.Millisecond) // 100/s for 1s
	}
	if m := serve(t, r, w, "www.example.org.", dns.TypeA); m != nil && !m.Truncated {
		t.Fatal("right after the flood: answered, want limited")
	}
	c.advance(3 * time.Second)
	if m := serve(t, r, w, "www.example.org.", dns.TypeA); m == nil || m.Truncated {
		t.Fatalf("a window after the flood: %v, want an answer", m)
	}
}

func TestTruncatedReply(t *testing.T) {
	cfg := testConfig()
	cfg.rates[catResponse], cfg.slip = 1, 1
	r, _ := newTestRRL(cfg)
	w := newWriter("198.51.100.7", false)
	for _, name := range []string{"www.example.org.", "raw.example.org."} {
		req := new(dns.Msg).SetQuestion(name, dns.TypeA)
		req.SetEdns0(1232, true)
		r.ServeDNS(serverCtx, w, req)
		r.ServeDNS(serverCtx, w, req)
		m := w.msgs[len(w.msgs)-1]
		if !m.Truncated || m.Id != req.Id || !m.Response || len(m.Question) != 1 || m.Question[0] != req.Question[0] ||
			len(m.Answer) != 0 || len(m.Ns) != 0 {
			t.Fatalf("%s: slipped reply\n%v", name, m)
		}
		opt := m.IsEdns0()
		if len(m.Extra) != 1 || opt == nil || len(opt.Option) != 0 || !opt.Do() || opt.UDPSize() != 1232 {
			t.Errorf("%s: slipped reply's additional section %v, want a bare OPT", name, m.Extra)
		}
	}
}

func TestTCPNeverLimited(t *testing.T) {
	r, _ := newTestRRL(testConfig())
	w := newWriter("198.51.100.7", true)
	if full, tc, none := tally(t, r, w, "www.example.org.", dns.TypeA, 100); full != 100 {
		t.Fatalf("100 TCP queries: %d answered, %d truncated, %d dropped", full, tc, none)
	}
	if n := r.table.len(); n != 0 {
		t.Errorf("TCP queries created %d accounts", n)
	}
}

func TestPrefixGrouping(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bits4      int
		bits6      int
		a, same, b string // a and same share an account, b does not
	}{
		{"v4 /24", 24, 56, "192.0.2.1", "192.0.2.254", "192.0.3.1"},
		{"v4 /32", 32, 56, "192.0.2.1", "192.0.2.1", "192.0.2.2"},
		{"v4 /16", 16, 56, "192.0.2.1", "192.0.200.1", "192.1.2.1"},
		{"v4-mapped", 24, 56, "::ffff:192.0.2.1", "192.0.2.9", "::ffff:192.0.3.1"},
		{"v6 /56", 24, 56, "2001:db8:0:ff00::1", "2001:db8:0:ffaa::2", "2001:db8:0:fe00::1"},
		{"v6 /64", 24, 64, "2001:db8::1", "2001:db8::ffff:1", "2001:db8:0:1::1"},
		{"v6 /60", 24, 60, "2001:db8:0:a0::1", "2001:db8:0:af::1", "2001:db8:0:b0::1"},
	} {
		cfg := testConfig()
		cfg.ipv4Bits, cfg.ipv6Bits = tc.bits4, tc.bits6
		r, _ := newTestRRL(cfg)
		wa, wsame, wb := newWriter(tc.a, false), newWriter(tc.same, false), newWriter(tc.b, false)
		tally(t, r, wa, "www.example.org.", dns.TypeA, 5)
		if m := serve(t, r, wsame, "www.example.org.", dns.TypeA); m != nil && !m.Truncated {
			t.Errorf("%s: %s after %s used the rate: answered, want limited", tc.name, tc.same, tc.a)
		}
		if m := serve(t, r, wb, "www.example.org.", dns.TypeA); m == nil || m.Truncated {
			t.Errorf("%s: %s limited with %s, want its own account", tc.name, tc.b, tc.a)
		}
	}
}

func TestCategoriesAndNames(t *testing.T) {
	for _, tc := range []struct {
		name      string
		flood     []string // query names, cycled, all sharing one account
		qtype     uint16
		other     string // a name with an account of its own
		otherType uint16
	}{
		{"nxdomain per zone", []string{"nx1.example.org.", "nx2.example.org.", "nxa.b.example.org."}, dns.TypeA, "www.example.org.", dns.TypeA},
		{"nodata per name, any type", []string{"nodata.example.org."}, dns.TypeMX, "nodata2.example.org.", dns.TypeMX},
		{"referral per delegation", []string{"a.sub.example.org.", "b.c.sub.example.org."}, dns.TypeA, "www.example.org.", dns.TypeA},
		{"errors per client", []string{"refused.example.org.", "refused.other.test.", "servfail.example.org."}, dns.TypeA, "www.example.org.", dns.TypeA},
	} {
		r, _ := newTestRRL(testConfig())
		w := newWriter("203.0.113.9", false)
		full := 0
		for i := range 20 {
			qt := tc.qtype
			if tc.name == "nodata per name, any type" {
				qt = []uint16{dns.TypeMX, dns.TypeTXT, dns.TypeA}[i%3]
			}
			if m := serve(t, r, w, tc.flood[i%len(tc.flood)], qt); m != nil && !m.Truncated {
				full++
			}
		}
		if full != 5 {
			t.Errorf("%s: %d of 20 answered, want 5 (one account)", tc.name, full)
		}
		if m := serve(t, r, w, tc.other, tc.otherType); m == nil || m.Truncated {
			t.Errorf("%s: %s limited too, want its own account", tc.name, tc.other)
		}
	}
}

func TestClassify(t *testing.T) {
	reply := func(rcode int, aa bool, ns ...dns.RR) *dns.Msg {
		m := new(dns.Msg)
		m.Rcode, m.Authoritative, m.Ns = rcode, aa, ns
		return m
	}
	ans := reply(dns.RcodeSuccess, true)
	ans.Answer = []dns.RR{test.A("www.example.org. 300 IN A 192.0.2.1")}
	delegation := test.NS("sub.example.org. 300 IN NS ns.sub.example.org.")
	for _, tc := range []struct {
		m     *dns.Msg
		qname string
		cat   category
		name  string
	}{
		{ans, "www.example.org.", catResponse, "www.example.org."},
		{reply(dns.RcodeSuccess, true, testSOA), "www.example.org.", catNodata, "www.example.org."},
		{reply(dns.RcodeSuccess, true), "www.example.org.", catNodata, "www.example.org."},
		{reply(dns.RcodeSuccess, false, delegation), "a.sub.example.org.", catReferral, "sub.example.org."},
		{reply(dns.RcodeSuccess, true, delegation), "sub.example.org.", catNodata, "sub.example.org."},
		{reply(dns.RcodeNameError, true, testSOA), "x.y.example.org.", catNXDomain, "example.org."},
		{reply(dns.RcodeNameError, false), "x.y.example.org.", catNXDomain, "y.example.org."},
		{reply(dns.RcodeNameError, false), "org.", catNXDomain, "."},
		{reply(dns.RcodeNameError, false), ".", catNXDomain, "."},
		{reply(dns.RcodeRefused, false), "www.example.org.", catError, ""},
		{reply(dns.RcodeServerFailure, false), "www.example.org.", catError, ""},
		{reply(dns.RcodeFormatError, false), "", catError, ""},
	} {
		cat, name := classify(tc.m, tc.qname)
		if cat != tc.cat || name != tc.name {
			t.Errorf("%s rcode %d: %v %q, want %v %q", tc.qname, tc.m.Rcode, cat, name, tc.cat, tc.name)
		}
	}
}

func TestKeyFoldsCase(t *testing.T) {
	r, _ := newTestRRL(testConfig())
	w := newWriter("198.51.100.7", false)
	names := []string{"www.example.org.", "WWW.Example.ORG.", "wWw.eXample.org."}
	full := 0
	for i := range 20 {
		if m := serve(t, r, w, names[i%3], dns.TypeA); m != nil && !m.Truncated {
			full++
		}
	}
	if full != 5 {
		t.Errorf("0x20 variants of one name: %d answered, want 5", full)
	}
}

func TestUnwrittenErrorsWrittenOnce(t *testing.T) {
	r, _ := newTestRRL(testConfig())
	w := newWriter("198.51.100.7", false)
	req := new(dns.Msg).SetQuestion("refused.example.org.", dns.TypeA)
	req.SetEdns0(4096, false)
	rc, err := r.ServeDNS(serverCtx, w, req)
	if err != nil || !plugin.ClientWrite(rc) {
		t.Fatalf("rcode %d, err %v: the server would write a second reply", rc, err)
	}
	if len(w.msgs) != 1 || w.msgs[0].Rcode != dns.RcodeRefused || w.msgs[0].IsEdns0() == nil {
		t.Fatalf("replies %v, want one REFUSED with EDNS", w.msgs)
	}
	// Over the rate the server still must not write: nothing goes out.
	for range 10 {
		rc, _ = r.ServeDNS(serverCtx, w, req)
		if !plugin.ClientWrite(rc) {
			t.Fatalf("rcode %d returned while limited: the server would reply", rc)
		}
	}
	if len(w.msgs) >= 11 {
		t.Errorf("%d replies to 11 REFUSED queries at rate 5", len(w.msgs))
	}
}

func TestRatesExemptZonesReportOnly(t *testing.T) {
	exempt, _ := netlist.Parse([]string{"10.0.0.0/8", "2001:db8::/32"})
	for _, tc := range []struct {
		what   string
		config func(*config)
		zones  []string
		client string
		qname  string
		want   int // of 30 answered
	}{
		{"errors-per-second 0", func(c *config) { c.rates[catError] = 0 }, nil, "198.51.100.7", "refused.example.org.", 30},
		{"responses with errors unlimited", func(c *config) { c.rates[catError] = 0 }, nil, "198.51.100.7", "www.example.org.", 5},
		{"report-only", func(c *config) { c.reportOnly = true }, nil, "198.51.100.8", "nx.example.org.", 30},
		{"exempt v4", func(c *config) { c.exempt = exempt }, nil, "10.1.2.3", "www.example.org.", 30},
		{"exempt v4-mapped", func(c *config) { c.exempt = exempt }, nil, "::ffff:10.9.9.9", "www.example.org.", 30},
		{"exempt v6", func(c *config) { c.exempt = exempt }, nil, "2001:db8::5", "www.example.org.", 30},
		{"not exempt", func(c *config) { c.exempt = exempt }, nil, "192.0.2.1", "www.example.org.", 5},
		{"outside the zones", func(*config) {}, []string{"example.org."}, "192.0.2.1", "www.other.test.", 30},
		{"inside the zones", func(*config) {}, []string{"example.org."}, "192.0.2.1", "www.example.org.", 5},
	} {
		cfg := testConfig()
		tc.config(&cfg)
		r, _ := newTestRRL(cfg, tc.zones...)
		before := value(t, wouldLimit.WithLabelValues("dns://:1053", "nxdomain"))
		if full, _, _ := tally(t, r, newWriter(tc.client, false), tc.qname, dns.TypeA, 30); full != tc.want {
			t.Errorf("%s: %d of 30 answered, want %d", tc.what, full, tc.want)
		}
		if !cfg.reportOnly {
			continue
		}
		if got := value(t, wouldLimit.WithLabelValues("dns://:1053", "nxdomain")) - before; got != 25 {
			t.Errorf("%s: would-limit metric grew by %v, want 25", tc.what, got)
		}
	}
}

func TestTableMetrics(t *testing.T) {
	cfg := testConfig()
	cfg.maxTableSize = 4
	r, _ := newTestRRL(cfg)
	entries, evictions := value(t, tableEntries), value(t, tableEvictions)
	for i := range 10 {
		serve(t, r, newWriter(net.IPv4(192, 0, byte(i), 1).String(), false), "www.example.org.", dns.TypeA)
	}
	if got := value(t, tableEntries) - entries; got != 4 {
		t.Errorf("table_entries grew by %v, want 4", got)
	}
	if got := value(t, tableEvictions) - evictions; got != 6 {
		t.Errorf("table_evictions_total grew by %v, want 6", got)
	}
}

// TestServeDNSZeroAllocs checks the hot path: for an existing account,
// an answer allowed or dropped costs the plugin no allocation. CoreDNS's
// plugin.NextOrFailure allocates one small writer per plugin in the chain,
// so the plugin's count is compared with a plugin that only passes the
// query on.
func TestServeDNSAllocs(t *testing.T) {
	r, _ := newTestRRL(testConfig())
	reply := new(dns.Msg)
	reply.Answer = []dns.RR{test.A("www.example.org. 300 IN A 192.0.2.1")}
	r.Next = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, _ *dns.Msg) (int, error) {
		return dns.RcodeSuccess, w.WriteMsg(reply)
	})
	pass := plugin.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) (int, error) {
		return plugin.NextOrFailure("pass", r.Next, ctx, w, req)
	})
	req := new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)
	w := newWriter("198.51.100.7", false)
	w.record = false
	base := testing.AllocsPerRun(100, func() { pass.ServeDNS(serverCtx, w, req) })
	r.cfg.slip = 0 // slipped replies are built per reply; drops are not
	for _, what := range []string{"allowed", "dropped"} {
		if what == "allowed" {
			r.limits[catResponse] = newLimits(maxRate, time.Second)
		} else {
			r.limits[catResponse] = newLimits(1, time.Second)
		}
		r.ServeDNS(serverCtx, w, req)
		// One more than passing on: the per-query writer (not pooled, see
		// ServeDNS).
		if n := testing.AllocsPerRun(1000, func() { r.ServeDNS(serverCtx, w, req) }); n != base+1 {
			t.Errorf("%s: %v allocations per query, a plugin passing queries on makes %v (+1 for rrl's writer)", what, n, base)
		}
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
