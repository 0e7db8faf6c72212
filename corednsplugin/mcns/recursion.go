package mcns

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/internal/netlist"
)

// The client networks whose queries for names outside mcns's zones go on
// to the next plugin (cache and forward) are config.recursion. Everyone
// else gets REFUSED for those names, so a server on a public address is not
// an open resolver (reflection, amplification, cache snooping), while
// authoritative answers for our zones go to everyone.

// defaultRecursionNets is loopback only: without a recursion_allow line,
// opening recursion to more than the host itself must be asked for.
var defaultRecursionNets = netlist.List{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// mayRecurse reports whether the client at addr may have other names
// resolved. An address that cannot be read may not.
func (c config) mayRecurse(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.UDPAddr:
		return c.recursion.ContainsIP(a.IP)
	case *net.TCPAddr:
		return c.recursion.ContainsIP(a.IP)
	}
	return false
}

// refuseRecursion answers r with REFUSED, as the acl plugin does, and
// counts it.
func refuseRecursion(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeRefused)
	w.WriteMsg(m)
	recursionRefused.Inc()
}
