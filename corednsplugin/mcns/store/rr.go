package store

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// canonical returns name as a lower-case FQDN.
func canonical(name string) string { return dns.CanonicalName(name) }

// dbName is how PowerDNS stores an owner name: lower case, no trailing dot.
func dbName(fqdn string) string {
	if fqdn == "." {
		return "."
	}
	return strings.TrimSuffix(strings.ToLower(fqdn), ".")
}

// fqdnOf turns a stored owner name back into an FQDN.
func fqdnOf(name string) string {
	if name == "" || name == "." {
		return "."
	}
	return strings.ToLower(name) + "."
}

// noDot strips the trailing dot of a domain name inside content, as PowerDNS
// writes it; the root stays ".".
func noDot(name string) string {
	if name == "." {
		return name
	}
	return strings.TrimSuffix(name, ".")
}

// contentOf renders rr's RDATA the way PowerDNS stores it: names without
// their trailing dot and the MX/SRV priority split off into prio.
func contentOf(rr dns.RR) (content string, prio int) {
	switch v := rr.(type) {
	case *dns.MX:
		return noDot(v.Mx), int(v.Preference)
	case *dns.SRV:
		return fmt.Sprintf("%d %d %s", v.Weight, v.Port, noDot(v.Target)), int(v.Priority)
	case *dns.NS:
		return noDot(v.Ns), 0
	case *dns.CNAME:
		return noDot(v.Target), 0
	case *dns.PTR:
		return noDot(v.Ptr), 0
	case *dns.DNAME:
		return noDot(v.Target), 0
	case *dns.SOA:
		return fmt.Sprintf("%s %s %d %d %d %d %d", noDot(v.Ns), noDot(v.Mbox), v.Serial, v.Refresh, v.Retry, v.Expire, v.Minttl), 0
	}
	return Rdata(rr), 0
}

// hasPrio reports whether PowerDNS keeps the type's priority in prio.
func hasPrio(typ string) bool { return typ == "MX" || typ == "SRV" }

// parseRow turns a records row into an RR. Content is read relative to the
// root, so PowerDNS's dotless names and fully qualified ones both work.
func parseRow(name, typ, content string, ttl int64, prio int64) (dns.RR, error) {
	owner := fqdnOf(name)
	if ttl < 0 || ttl > maxTTL {
		return nil, fmt.Errorf("TTL %d out of range", ttl)
	}
	hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: uint32(ttl)}
	// A and AAAA are most rows of most zones; building them directly keeps
	// loading a large zone well under the zone parser's cost.
	switch typ {
	case "A":
		ip := net.ParseIP(content)
		if ip == nil || ip.To4() == nil || strings.Contains(content, ":") {
			return nil, fmt.Errorf("bad A content %q", content)
		}
		hdr.Rrtype = dns.TypeA
		return &dns.A{Hdr: hdr, A: ip.To4()}, nil
	case "AAAA":
		ip := net.ParseIP(content)
		if ip == nil || !strings.Contains(content, ":") {
			return nil, fmt.Errorf("bad AAAA content %q", content)
		}
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: ip.To16()}, nil
	}
	text := content
	if hasPrio(typ) {
		text = strconv.FormatInt(prio, 10) + " " + content
	}
	return parseRR(owner+" "+strconv.FormatInt(ttl, 10)+" IN "+typ+" "+text, ".")
}

// parseRR parses exactly one RR from a line of presentation format, with
// relative names completed by origin. Anything else on the line (a second
// record, a directive) is an error rather than silently dropped.
func parseRR(line, origin string) (dns.RR, error) {
	if strings.ContainsAny(line, "\n\r\x00") {
		return nil, fmt.Errorf("line breaks are not allowed")
	}
	zp := dns.NewZoneParser(strings.NewReader(line), origin, "")
	zp.SetIncludeAllowed(false)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if !ok || rr == nil {
		return nil, fmt.Errorf("no record")
	}
	if _, more := zp.Next(); more {
		return nil, fmt.Errorf("more than one record")
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	return rr, nil
}
