package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

// kind is what a generated name holds, by its index: a fixed mix so every
// run of the same size serves and asks the same data.
type kind int

const (
	kindA kind = iota
	kindAAAA
	kindDual // A and AAAA
	kindCNAME
	kindMX
	kindTXT
)

// kindOf spreads names over the kinds: 40% A, 15% AAAA, 10% both, 10%
// CNAME, 10% MX, 15% TXT.
func kindOf(i int) kind {
	switch r := i % 20; {
	case r < 8:
		return kindA
	case r < 11:
		return kindAAAA
	case r < 13:
		return kindDual
	case r < 15:
		return kindCNAME
	case r < 17:
		return kindMX
	default:
		return kindTXT
	}
}

func hostName(i int) string { return fmt.Sprintf("host-%d", i) }

// aTarget is a name with an A record for CNAME and MX targets: index i
// rounded down to a multiple of 20 is always kindA.
func aTarget(i int) string { return hostName(i / 20 * 20) }

func genCmd(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	n := fs.Int("n", 1000, "names in the zone")
	zone := fs.String("zone", "bench.test.", "zone name")
	zoneFile := fs.String("zonefile", "", "zone file to write (required)")
	queryFile := fs.String("queries", "", "dnsperf query file to write (required)")
	nq := fs.Int("nq", 50000, "query lines")
	fs.Parse(args)
	if *zoneFile == "" || *queryFile == "" || *n < 20 || *nq < 1 {
		return errors.New("gen: -zonefile and -queries are required, -n at least 20")
	}
	origin := strings.TrimSuffix(*zone, ".") + "."
	if err := writeFile(*zoneFile, func(w *bufio.Writer) { writeZone(w, origin, *n) }); err != nil {
		return err
	}
	return writeFile(*queryFile, func(w *bufio.Writer) { writeQueries(w, origin, *n, *nq) })
}

func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeZone(w *bufio.Writer, origin string, n int) {
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL 300\n", origin)
	fmt.Fprintf(w, "@ IN SOA ns1 hostmaster 2026010100 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n")
	for i := 0; i < n; i++ {
		h := hostName(i)
		v4 := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		v6 := fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff)
		switch kindOf(i) {
		case kindA:
			fmt.Fprintf(w, "%s IN A %s\n", h, v4)
		case kindAAAA:
			fmt.Fprintf(w, "%s IN AAAA %s\n", h, v6)
		case kindDual:
			fmt.Fprintf(w, "%s IN A %s\n%s IN AAAA %s\n", h, v4, h, v6)
		case kindCNAME:
			fmt.Fprintf(w, "%s IN CNAME %s\n", h, aTarget(i))
		case kindMX:
			fmt.Fprintf(w, "%s IN MX 10 %s\n", h, aTarget(i))
		case kindTXT:
			fmt.Fprintf(w, "%s IN TXT \"v=bench1 id=%d\"\n", h, i)
		}
	}
}

// writeQueries writes nq lines: 70% names that exist with a type they have
// (CNAMEs asked for A, so the chain is followed), 15% names that do not
// exist (NXDOMAIN), 15% existing names with a type they lack (NODATA).
func writeQueries(w *bufio.Writer, origin string, n, nq int) {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for j := 0; j < nq; j++ {
		i := rng.IntN(n)
		name := hostName(i) + "." + origin
		k := kindOf(i)
		switch r := rng.IntN(100); {
		case r < 15:
			fmt.Fprintf(w, "nx-%d-%d.%s A\n", j, i, origin)
		case r < 30:
			fmt.Fprintf(w, "%s %s\n", name, missingType(k))
		default:
			fmt.Fprintf(w, "%s %s\n", name, presentType(k))
		}
	}
}

func presentType(k kind) string {
	switch k {
	case kindAAAA:
		return "AAAA"
	case kindMX:
		return "MX"
	case kindTXT:
		return "TXT"
	}
	return "A" // A, both, and CNAME (chased to its A target)
}

func missingType(k kind) string {
	switch k {
	case kindA, kindDual, kindAAAA:
		return "TXT"
	case kindTXT, kindMX:
		return "AAAA"
	}
	// An alias has no NODATA of its own: this asks the chain to end in
	// the target's NODATA.
	return "TXT"
}
