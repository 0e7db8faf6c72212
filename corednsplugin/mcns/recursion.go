package mcns

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// recursionNets are the client networks whose queries for names outside
// mcns's zones go on to the next plugin (cache and forward). Everyone else
// gets REFUSED for those names, so a server on a public address is not an
// open resolver (reflection, amplification, cache snooping), while
// authoritative answers for our zones go to everyone.
type recursionNets []netip.Prefix

// defaultRecursionNets is loopback only: without a recursion_allow line,
// opening recursion to more than the host itself must be asked for.
var defaultRecursionNets = recursionNets{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// parseRecursionNets reads recursion_allow's arguments. Each argument may
// hold several space-separated networks, so one Corefile placeholder such
// as {$RECURSION_ALLOW} can carry the whole list. A bare address is a /32
// or /128.
func parseRecursionNets(args []string) (recursionNets, error) {
	var nets recursionNets
	for _, arg := range args {
		for _, f := range strings.Fields(arg) {
			p, err := parseNet(f)
			if err != nil {
				return nil, err
			}
			nets = append(nets, p)
		}
	}
	if len(nets) == 0 {
		return nil, fmt.Errorf("recursion_allow needs at least one network (is its placeholder empty?)")
	}
	return nets, nil
}

func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("recursion_allow: bad network %q: %v", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("recursion_allow: bad address %q: %v", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// allows reports whether the client at addr may recurse. An address that
// cannot be read is refused.
func (n recursionNets) allows(addr net.Addr) bool {
	var ip net.IP
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return false
	}
	client, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	client = client.Unmap()
	for _, p := range n {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// refuse answers r with REFUSED, as the acl plugin does, and counts it.
func refuseRecursion(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeRefused)
	w.WriteMsg(m)
	recursionRefused.Inc()
}
