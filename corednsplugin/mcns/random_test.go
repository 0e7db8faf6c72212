package mcns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/coredns/coredns/plugin/transfer" // registers the transfer directive
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// randomZones are the zones the randomized test writes to.
var randomZones = []string{"example.org.", "example.net."}

const randomSeedOrg = `$ORIGIN example.org.
$TTL 3600
@   IN SOA ns.example.org. hostmaster.example.org. 1 7200 3600 1209600 300
@   NS ns
ns  A  192.0.2.1
n0  A  192.0.2.10
`

const randomSeedNet = `$ORIGIN example.net.
$TTL 3600
@   IN SOA ns.example.net. hostmaster.example.net. 1 7200 3600 1209600 300
@   NS ns
ns  A  198.51.100.1
n1  TXT "seed"
`

const randomKey = "random-key."

// randomHarness is one CoreDNS server with the API, UPDATE and transfers
// over a database the test also reads directly.
type randomHarness struct {
	t       *testing.T
	rnd     *rand.Rand
	dnsAddr string
	api     *apiClient
	db      *store.Store
	// history maps each zone to its AXFRs by serial, every state seen.
	history map[string]map[uint32][]string
	applied int
	refused int
}

// TestRandomWritesStayConsistent makes thousands of random changes through
// the API and RFC 2136 UPDATE, and after each one checks that the served
// zone equals a fresh read of the database, that a query right after the
// success sees the change, that refusals changed nothing, and that IXFR
// from earlier serials rebuilds the current zone.
func TestRandomWritesStayConsistent(t *testing.T) {
	seed := randomSeed(t)
	// Thousands of steps when the server is fast enough; the time bound
	// keeps slow machines and -race within the package's test budget.
	steps, budget := 3000, 25*time.Second
	if testing.Short() {
		steps = 300
	}
	h := newRandomHarness(t, seed)
	deadline := time.Now().Add(budget)
	done := 0
	for ; done < steps && time.Now().Before(deadline); done++ {
		i := done
		zone := randomZones[h.rnd.IntN(len(randomZones))]
		if h.rnd.IntN(2) == 0 {
			h.apiStep(i, zone)
		} else {
			h.updateStep(i, zone)
		}
	}
	for _, zone := range randomZones {
		h.checkAllIXFR(zone)
	}
	t.Logf("%d steps: %d changes applied, %d refused", done, h.applied, h.refused)
	if h.applied == 0 || h.refused == 0 {
		t.Fatalf("the random mix must both apply and refuse changes: %d applied, %d refused", h.applied, h.refused)
	}
}

// randomSeed is the seed of a randomized test: MCNS_RANDOM_SEED, to rerun
// a failure, or a new one, logged.
func randomSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MCNS_RANDOM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MCNS_RANDOM_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (rerun with MCNS_RANDOM_SEED=%d)", seed, seed)
	return seed
}

func newRandomHarness(t *testing.T, seed uint64) *randomHarness {
	seeds := writeZones(t, randomSeedOrg, randomSeedNet)
	dbPath := filepath.Join(t.TempDir(), "mcns.db")
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// A fixed port: with port 0, TCP (transfers, UPDATE) and UDP would
	// listen on different ports.
	dnsPort := freePort(t)
	inst, _ := startServer(t, fmt.Sprintf(`.:%d {
	bind 127.0.0.1
	tsig {
		secret %s c2VjcmV0c2VjcmV0c2VjcmV0
	}
	transfer {
		to *
	}
	mcns %s {
		seed %s %s
		refresh 1s
		journal 100000 0
		update example.org %s
		update example.net %s
		allow_zones example.org example.net
		api %s {
			insecure_plaintext
			tokens %s
		}
	}
}`, dnsPort, randomKey, dbPath, seeds[0], seeds[1], randomKey, randomKey, apiAddr, writeTokenFile(t)))
	t.Cleanup(func() { inst.Stop() })
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatalf("open the served database a second time: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	h := &randomHarness{
		t: t, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		dnsAddr: dnsAddr, api: newAPIClient(apiAddr), db: db,
		history: map[string]map[uint32][]string{},
	}
	for _, z := range randomZones {
		h.history[z] = map[uint32][]string{}
		h.remember(z, h.axfr(z))
	}
	return h
}

// Random names, types and values: few enough that changes collide, so
// replacements, deletions of what exists and CNAME/DNAME conflicts happen.
var (
	randomNames = []string{"n0", "n1", "n2", "n3", "n4", "d", "x.d", "y.x.d"}
	randomTypes = []string{"A", "AAAA", "TXT", "MX", "CNAME", "DNAME"}
)

func (h *randomHarness) value(zone, typ string) string {
	n := h.rnd.IntN(4)
	switch typ {
	case "A":
		return fmt.Sprintf("192.0.2.%d", 100+n)
	case "AAAA":
		return fmt.Sprintf("2001:db8::%d", n+1)
	case "TXT":
		return fmt.Sprintf(`"v%d"`, n)
	case "MX":
		return fmt.Sprintf("%d mail%d.%s", 10*(n+1), n, zone)
	default: // CNAME, DNAME
		return fmt.Sprintf("t%d.example.com.", n)
	}
}

// apiStep makes one random API call: add, change or delete a record.
func (h *randomHarness) apiStep(i int, zone string) {
	t := h.t
	before := h.axfr(zone)
	api := strings.TrimSuffix(zone, ".")
	var (
		status int
		err    error
		what   string
		check  string // owner whose answers must show the change at once
		ctype  string
	)
	var list struct {
		Records []apiRecord `json:"records"`
	}
	op := h.rnd.IntN(10)
	if op >= 6 {
		if _, err := h.api.do("GET", "/v1/zones/"+api+"/records", nil, &list); err != nil {
			t.Fatalf("step %d: list records: %v", i, err)
		}
		list.Records = slices.DeleteFunc(list.Records, func(r apiRecord) bool { return r.Type == "SOA" || r.Type == "NS" })
		if len(list.Records) == 0 {
			op = 0
		}
	}
	switch {
	case op < 6:
		name, typ := randomNames[h.rnd.IntN(len(randomNames))], randomTypes[h.rnd.IntN(len(randomTypes))]
		val := h.value(zone, typ)
		what = fmt.Sprintf("POST %s %s %s", name, typ, val)
		status, err = h.api.do("POST", "/v1/zones/"+api+"/records", map[string]any{"name": name, "type": typ, "value": val, "ttl": 300}, nil)
		check, ctype = name+"."+zone, typ
	case op < 8:
		r := list.Records[h.rnd.IntN(len(list.Records))]
		val := h.value(zone, r.Type)
		what = fmt.Sprintf("PUT %d (%s %s) %s", r.ID, r.FQDN, r.Type, val)
		status, err = h.api.do("PUT", fmt.Sprintf("/v1/zones/%s/records/%d", api, r.ID), map[string]any{"value": val}, nil)
		check, ctype = dns.Fqdn(r.FQDN), r.Type
	default:
		r := list.Records[h.rnd.IntN(len(list.Records))]
		what = fmt.Sprintf("DELETE %d (%s %s)", r.ID, r.FQDN, r.Type)
		status, err = h.api.do("DELETE", fmt.Sprintf("/v1/zones/%s/records/%d", api, r.ID), nil, nil)
		check, ctype = dns.Fqdn(r.FQDN), r.Type
	}
	if status >= 500 || status == 0 {
		t.Fatalf("step %d %s %s: %d %v", i, zone, what, status, err)
	}
	h.settle(i, zone, what, status/100 == 2, before, check, ctype)
}

// updateStep sends one random RFC 2136 UPDATE, sometimes with a
// prerequisite, sometimes with two changes.
func (h *randomHarness) updateStep(i int, zone string) {
	t := h.t
	before := h.axfr(zone)
	u := new(dns.Msg).SetUpdate(zone)
	name := randomNames[h.rnd.IntN(len(randomNames))] + "." + zone
	typ := randomTypes[h.rnd.IntN(len(randomTypes))]
	x := h.mustRR(fmt.Sprintf("%s 300 IN %s %s", name, typ, h.value(zone, typ)))
	var what string
	switch h.rnd.IntN(6) {
	case 0, 1:
		u.Insert([]dns.RR{x})
		what = "add " + x.String()
	case 2:
		u.RemoveRRset([]dns.RR{x})
		what = "delete rrset " + name + " " + typ
	case 3:
		u.Remove([]dns.RR{x})
		what = "delete rr " + x.String()
	case 4:
		u.RemoveName([]dns.RR{x})
		what = "delete name " + name
	default:
		y := h.mustRR(fmt.Sprintf("%s 300 IN A %s", name, h.value(zone, "A")))
		u.Insert([]dns.RR{y, x})
		what = "add " + y.String() + " and " + x.String()
	}
	switch h.rnd.IntN(4) {
	case 0:
		u.NameUsed([]dns.RR{h.mustRR(name + " A")})
		what += " if name used"
	case 1:
		u.RRsetNotUsed([]dns.RR{h.mustRR(name + " " + typ)})
		what += " if no " + typ + " rrset"
	}
	u.SetTsig(randomKey, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{randomKey: "c2VjcmV0c2VjcmV0c2VjcmV0"}}
	resp, _, err := c.Exchange(u, h.dnsAddr)
	if err != nil {
		t.Fatalf("step %d %s UPDATE %s: %v", i, zone, what, err)
	}
	switch resp.Rcode {
	case dns.RcodeServerFailure, dns.RcodeFormatError, dns.RcodeNotAuth, dns.RcodeNotZone:
		t.Fatalf("step %d %s UPDATE %s: %s", i, zone, what, dns.RcodeToString[resp.Rcode])
	}
	h.settle(i, zone, "UPDATE "+what, resp.Rcode == dns.RcodeSuccess, before, name, typ)
}

func (h *randomHarness) mustRR(s string) dns.RR {
	x, err := dns.NewRR(s)
	if err != nil {
		h.t.Fatalf("%s: %v", s, err)
	}
	return x
}

// settle runs the checks after one write: the first query's answer, the
// served zone against the database, refusals changing nothing, CNAME
// exclusivity, and IXFR from a few earlier serials.
func (h *randomHarness) settle(i int, zone, what string, ok bool, before []string, name, typ string) {
	t := h.t
	var first []string
	if ok {
		first = h.query(name, typ)
	}
	after := h.axfr(zone)
	if !ok {
		h.refused++
		if !slices.Equal(before, after) {
			t.Fatalf("step %d %s %s was refused but changed the zone:\n%s", i, zone, what, diffLines(before, after))
		}
		return
	}
	h.applied++
	if want := expectedAnswer(after, name, typ); !slices.Equal(first, want) {
		t.Fatalf("step %d %s %s: first query after success %s %s answered %v, the zone holds %v", i, zone, what, name, typ, first, want)
	}
	if fresh := h.fromDB(zone); !slices.Equal(after, fresh) {
		t.Fatalf("step %d %s %s: served zone differs from a fresh load of the database:\n%s", i, zone, what, diffLines(fresh, after))
	}
	if err := cnameExclusive(after); err != nil {
		t.Fatalf("step %d %s %s: %v", i, zone, what, err)
	}
	h.remember(zone, after)
	serials := make([]uint32, 0, len(h.history[zone]))
	for s := range h.history[zone] {
		serials = append(serials, s)
	}
	for k := 0; k < 3 && len(serials) > 0; k++ {
		h.checkIXFR(zone, serials[h.rnd.IntN(len(serials))], after)
	}
}

func (h *randomHarness) remember(zone string, axfr []string) {
	h.history[zone][soaSerialOf(h.t, axfr)] = axfr
}

// checkAllIXFR checks IXFR from every serial the zone has had.
func (h *randomHarness) checkAllIXFR(zone string) {
	cur := h.axfr(zone)
	for s := range h.history[zone] {
		h.checkIXFR(zone, s, cur)
	}
}

// checkIXFR asks IXFR from serial and applies the answer to the AXFR kept
// for serial: it must give cur.
func (h *randomHarness) checkIXFR(zone string, serial uint32, cur []string) {
	t := h.t
	old := h.history[zone][serial]
	m := new(dns.Msg).SetIxfr(zone, serial, "ns."+zone, "hostmaster."+zone)
	rrs := h.transfer(m)
	got, err := applyIXFRAnswer(old, rrs)
	if err != nil {
		t.Fatalf("%s IXFR from %d: %v\nthe AXFR at %d:\n%s\nthe IXFR answer:\n%s", zone, serial, err, serial, strings.Join(old, "\n"), strings.Join(rrLines(rrs), "\n"))
	}
	if !slices.Equal(got, cur) {
		t.Fatalf("%s IXFR from %d applied to that AXFR differs from the current AXFR:\n%s", zone, serial, diffLines(cur, got))
	}
}

func (h *randomHarness) axfr(zone string) []string {
	m := new(dns.Msg).SetAxfr(zone)
	rrs := h.transfer(m)
	if len(rrs) < 2 {
		h.t.Fatalf("AXFR %s: %d records", zone, len(rrs))
	}
	return canonical(rrs[:len(rrs)-1])
}

func (h *randomHarness) transfer(m *dns.Msg) []dns.RR {
	tr := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second}
	ch, err := tr.In(m, h.dnsAddr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", dns.TypeToString[m.Question[0].Qtype], m.Question[0].Name, err)
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			h.t.Fatalf("%s %s: %v", dns.TypeToString[m.Question[0].Qtype], m.Question[0].Name, env.Error)
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs
}

// fromDB reads the zone from the database with the store package, as a
// restarted server would load it.
func (h *randomHarness) fromDB(zone string) []string {
	zd, err := h.db.LoadZone(context.Background(), zone)
	if err != nil {
		h.t.Fatalf("load %s from the database: %v", zone, err)
	}
	if zd.Skipped != 0 {
		h.t.Fatalf("load %s: %d rows skipped: %v", zone, zd.Skipped, zd.BadRow)
	}
	return canonical(zd.Records)
}

// query asks name/typ over UDP and returns the answers of that type owned
// by name, canonical.
func (h *randomHarness) query(name, typ string) []string {
	c := &dns.Client{Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, dns.StringToType[typ]), h.dnsAddr)
	if err != nil {
		h.t.Fatalf("query %s %s: %v", name, typ, err)
	}
	var own []dns.RR
	for _, rr := range resp.Answer {
		if strings.EqualFold(rr.Header().Name, name) && rr.Header().Rrtype == dns.StringToType[typ] {
			own = append(own, rr)
		}
	}
	return canonical(own)
}

// canonical renders records one per line, lower-case owner, sorted, so
// two sets compare with slices.Equal.
func canonical(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		x := dns.Copy(rr)
		x.Header().Name = strings.ToLower(x.Header().Name)
		out = append(out, x.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func rrsetOf(zone []string, name, typ string) []string {
	var out []string
	for _, line := range zone {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == strings.ToLower(name) && f[3] == typ {
			out = append(out, line)
		}
	}
	return out
}

// expectedAnswer is the RRset a query for name and typ must answer: the
// zone's own records, or, for a CNAME query at a name below a DNAME, the
// CNAME synthesized from it (RFC 6672 §3.1), since nothing else may
// exist there.
func expectedAnswer(zone []string, name, typ string) []string {
	if typ != "CNAME" {
		return rrsetOf(zone, name, typ)
	}
	lower := strings.ToLower(dns.Fqdn(name))
	for _, line := range zone {
		f := strings.Fields(line)
		if len(f) < 5 || f[3] != "DNAME" || f[0] == lower || !dns.IsSubDomain(f[0], lower) {
			continue
		}
		prefix := strings.TrimSuffix(lower, f[0])
		rr, err := dns.NewRR(fmt.Sprintf("%s %s IN CNAME %s%s", lower, f[1], prefix, f[4]))
		if err != nil {
			return []string{"bad synthesis: " + err.Error()}
		}
		return canonical([]dns.RR{rr})
	}
	return rrsetOf(zone, name, typ)
}

func soaSerialOf(t *testing.T, zone []string) uint32 {
	for _, line := range zone {
		f := strings.Fields(line)
		if len(f) >= 7 && f[3] == "SOA" {
			n, err := strconv.ParseUint(f[6], 10, 32)
			if err != nil {
				t.Fatalf("SOA %q: %v", line, err)
			}
			return uint32(n)
		}
	}
	t.Fatalf("no SOA in %v", zone)
	return 0
}

// cnameExclusive checks RFC 1034 §3.6.2 and RFC 6672 §2.4 on a zone: no
// CNAME beside other data, nothing below a DNAME.
func cnameExclusive(zone []string) error {
	types := map[string][]string{}
	for _, line := range zone {
		f := strings.Fields(line)
		types[f[0]] = append(types[f[0]], f[3])
	}
	for owner, ts := range types {
		if slices.Contains(ts, "CNAME") && len(ts) > 1 {
			return fmt.Errorf("CNAME beside other data at %s: %v", owner, ts)
		}
		if slices.Contains(ts, "DNAME") {
			for other := range types {
				if other != owner && dns.IsSubDomain(owner, other) {
					return fmt.Errorf("%s exists below the DNAME at %s", other, owner)
				}
			}
		}
	}
	return nil
}

// applyIXFRAnswer applies an IXFR answer (RFC 1995 §4: incremental, a full zone,
// or only the current SOA when up to date) to old and returns the result.
func applyIXFRAnswer(old []string, rrs []dns.RR) ([]string, error) {
	if len(rrs) == 0 {
		return nil, fmt.Errorf("empty answer")
	}
	last, ok := rrs[0].(*dns.SOA)
	if !ok {
		return nil, fmt.Errorf("answer starts with %s, not SOA", rrs[0])
	}
	if len(rrs) == 1 {
		return old, nil
	}
	if _, incremental := rrs[1].(*dns.SOA); !incremental {
		return canonical(rrs[:len(rrs)-1]), nil
	}
	set := map[string]bool{}
	for _, l := range old {
		set[l] = true
	}
	// Each difference is the old SOA, the deleted records, the new SOA and
	// the added records: every SOA flips between deleting and adding.
	adding := true
	for _, rr := range rrs[1 : len(rrs)-1] {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			adding = !adding
			if !adding {
				continue
			}
			// The new SOA of this difference replaces the old one.
			for l := range set {
				if f := strings.Fields(l); f[3] == "SOA" {
					delete(set, l)
				}
			}
			set[canonical([]dns.RR{soa})[0]] = true
			continue
		}
		line := canonical([]dns.RR{rr})[0]
		if adding {
			set[line] = true
		} else if !set[line] {
			return nil, fmt.Errorf("deletes %s, which the old zone does not hold", line)
		} else {
			delete(set, line)
		}
	}
	if end, isSOA := rrs[len(rrs)-1].(*dns.SOA); !isSOA || end.Serial != last.Serial {
		return nil, fmt.Errorf("answer does not end with the SOA it started with")
	}
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	slices.Sort(out)
	return out, nil
}

// diffLines shows the lines only in want (-) and only in got (+).
func diffLines(want, got []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

func rrLines(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	return out
}
