package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// compareCmd sends the first -n queries of a dnsperf file to two servers
// and reports every difference in rcode, flags and sections. The SOA of a
// negative answer is compared without its TTL: mcns caps it at the SOA
// MINIMUM (RFC 2308 §3) where the file plugin does not.
func compareCmd(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	a := fs.String("a", "", "first server host:port (required)")
	b := fs.String("b", "", "second server host:port (required)")
	queries := fs.String("queries", "", "dnsperf query file (required)")
	n := fs.Int("n", 2000, "queries to compare")
	fs.Parse(args)
	if *a == "" || *b == "" || *queries == "" {
		return errors.New("compare: -a, -b and -queries are required")
	}
	f, err := os.Open(*queries)
	if err != nil {
		return err
	}
	defer f.Close()
	c := &dns.Client{Timeout: 2 * time.Second}
	sc := bufio.NewScanner(f)
	asked, diffs := 0, 0
	rcodes := map[string]int{}
	for asked < *n && sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		qt, ok := dns.StringToType[fields[1]]
		if !ok {
			return fmt.Errorf("compare: %s: unknown type %q", *queries, fields[1])
		}
		q := new(dns.Msg).SetQuestion(dns.Fqdn(fields[0]), qt)
		ra, _, err := c.Exchange(q, *a)
		if err != nil {
			return fmt.Errorf("compare: %s %s to %s: %w", fields[0], fields[1], *a, err)
		}
		rb, _, err := c.Exchange(q, *b)
		if err != nil {
			return fmt.Errorf("compare: %s %s to %s: %w", fields[0], fields[1], *b, err)
		}
		asked++
		kind := dns.RcodeToString[ra.Rcode]
		if ra.Rcode == dns.RcodeSuccess && len(ra.Answer) == 0 {
			kind = "NODATA"
		}
		rcodes[kind]++
		if da, db := canonical(ra), canonical(rb); da != db {
			diffs++
			if diffs <= 5 {
				fmt.Fprintf(os.Stderr, "differs: %s %s\n--- %s\n%s\n--- %s\n%s\n", fields[0], fields[1], *a, da, *b, db)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if diffs > 0 {
		return fmt.Errorf("compare: %d of %d answers differ", diffs, asked)
	}
	fmt.Printf("%d answers identical (%d NOERROR with data, %d NODATA, %d NXDOMAIN)\n", asked, rcodes["NOERROR"], rcodes["NODATA"], rcodes["NXDOMAIN"])
	return nil
}

// canonical is a reply in comparable text: header bits that matter and
// each section sorted.
func canonical(m *dns.Msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rcode=%s aa=%t\n", dns.RcodeToString[m.Rcode], m.Authoritative)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		var lines []string
		for _, rr := range sec {
			if _, ok := rr.(*dns.OPT); ok {
				continue
			}
			rr = dns.Copy(rr)
			if _, ok := rr.(*dns.SOA); ok && len(m.Answer) == 0 {
				rr.Header().Ttl = 0
			}
			lines = append(lines, rr.String())
		}
		slices.Sort(lines)
		b.WriteString(strings.Join(lines, "\n"))
		b.WriteString("\n;\n")
	}
	return b.String()
}
