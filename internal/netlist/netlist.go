// Package netlist is a short list of client networks read from a config
// line, as the CoreDNS plugins take them (mcns's recursion_allow, rrl's
// exempt): CIDR prefixes or bare addresses, where one argument may hold
// several separated by spaces so a single {$PLACEHOLDER} can carry the
// whole list.
package netlist

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// List is a set of networks, checked in order. It is meant for a handful
// of entries: Contains is a linear scan without allocation.
type List []netip.Prefix

// Parse reads args. A bare address is a /32 or /128; prefixes are masked.
// No network at all is an error: an empty placeholder must not silently
// mean "nobody" or "everybody".
func Parse(args []string) (List, error) {
	var l List
	for _, arg := range args {
		for _, f := range strings.Fields(arg) {
			p, err := parseOne(f)
			if err != nil {
				return nil, err
			}
			l = append(l, p)
		}
	}
	if len(l) == 0 {
		return nil, errors.New("no networks given (is its placeholder empty?)")
	}
	return l, nil
}

func parseOne(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR) or address", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR) or address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Contains reports whether a (IPv4-mapped IPv6 counts as IPv4) is in l.
func (l List) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ContainsIP is Contains for a net.IP; an unreadable address is not.
func (l List) ContainsIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && l.Contains(a)
}
