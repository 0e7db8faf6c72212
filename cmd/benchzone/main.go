// Command benchzone supports scripts/bench-dns.sh, which compares the
// queries per second of mcns and CoreDNS's file plugin with dnsperf:
//
//	benchzone gen -n 100000 -zone bench.test. -zonefile Z -queries Q
//	    writes a zone of n names (A, AAAA, CNAME, MX, TXT) and a dnsperf
//	    query file mixing existing names, NXDOMAIN and NODATA;
//	benchzone ports -n 4
//	    prints n loopback ports free for both UDP and TCP;
//	benchzone compare -a 127.0.0.1:P1 -b 127.0.0.1:P2 -queries Q
//	    sends the same queries to two servers and fails when their answers
//	    differ, so a throughput figure never comes from wrong answers;
//	benchzone tokens -token T -out F
//	    writes an API tokens file granting T the admin role;
//	benchzone writes -api URL -token T -zone Z -dns 127.0.0.1:P [-read]
//	    posts A records at -rate from -clients API clients and checks each
//	    with a DNS query; -read sends GETs of the zone instead (the control).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = genCmd(os.Args[2:])
	case "ports":
		err = portsCmd(os.Args[2:])
	case "compare":
		err = compareCmd(os.Args[2:])
	case "tokens":
		err = tokensCmd(os.Args[2:])
	case "writes":
		err = writesCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchzone:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchzone gen|ports|compare|tokens|writes [flags]; see -h of each")
	os.Exit(2)
}
