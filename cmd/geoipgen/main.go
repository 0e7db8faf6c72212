// Command geoipgen writes a small GeoLite2-Country-layout database for local
// runs and tests:
//
//	geoipgen -o _run/geo.mmdb 127.0.0.0/8=US 203.0.113.66/32=KP
package main

import (
	"flag"
	"log"
	"strings"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/metacircular/edge/internal/geoiptest"
)

func main() {
	out := flag.String("o", "", "output file")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("geoipgen: ")
	if *out == "" || flag.NArg() == 0 {
		log.Fatal("usage: geoipgen -o FILE CIDR=CC...")
	}
	nets := map[string]mmdbtype.Map{}
	for _, arg := range flag.Args() {
		cidr, cc, ok := strings.Cut(arg, "=")
		if !ok || len(cc) != 2 {
			log.Fatalf("%q: want CIDR=CC (ISO 3166-1 alpha-2)", arg)
		}
		nets[cidr] = geoiptest.Country(strings.ToUpper(cc))
	}
	if err := geoiptest.Write(*out, "GeoLite2-Country", nets); err != nil {
		log.Fatal(err)
	}
}
