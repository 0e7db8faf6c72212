package rrl

import (
	"encoding/binary"
	"hash/maphash"
	"net"

	"github.com/miekg/dns"
)

// category is the kind of a response; each has its own rate.
type category uint8

const (
	catResponse category = iota // NOERROR with answers
	catNodata                   // NOERROR, no answer, not a referral
	catNXDomain                 // NXDOMAIN
	catReferral                 // NOERROR, no answer, NS records in the authority section and no SOA
	catError                    // any other rcode: REFUSED, SERVFAIL, FORMERR, NOTIMP...
	numCategories
)

var categoryNames = [numCategories]string{"response", "nodata", "nxdomain", "referral", "error"}

func (c category) String() string { return categoryNames[c] }

// classify returns the category of response m to a query for qname and
// the name it is accounted under: the query name for answers and NODATA,
// the delegation point for referrals, the zone for NXDOMAIN (the SOA owner
// of the authority section, else the query name's parent), and none for
// errors, which are counted per client prefix only.
func classify(m *dns.Msg, qname string) (category, string) {
	switch m.Rcode {
	case dns.RcodeSuccess:
		if len(m.Answer) > 0 {
			return catResponse, qname
		}
		var ns string
		for _, rr := range m.Ns {
			switch rr.Header().Rrtype {
			case dns.TypeSOA:
				return catNodata, qname
			case dns.TypeNS:
				ns = rr.Header().Name
			}
		}
		if ns != "" && !m.Authoritative {
			return catReferral, ns
		}
		return catNodata, qname
	case dns.RcodeNameError:
		for _, rr := range m.Ns {
			if rr.Header().Rrtype == dns.TypeSOA {
				return catNXDomain, rr.Header().Name
			}
		}
		if off, end := dns.NextLabel(qname, 0); !end {
			return catNXDomain, qname[off:]
		}
		return catNXDomain, "."
	}
	return catError, ""
}

// keyOf hashes an account's key: the category, the client's prefix (ip
// masked to bits; v6 marks the address family), the query type for
// positive answers and the name folded to lower case, so 0x20-randomised
// queries share an account. Only the 64-bit hash is stored: with a random
// seed per process, a collision merges two accounts with probability
// 2^-64 and cannot be aimed at.
func keyOf(seed maphash.Seed, cat category, ip net.IP, v6 bool, bits int, qtype uint16, name string) uint64 {
	var buf [2 + 16 + 2 + 256]byte
	buf[0] = byte(cat)
	if v6 {
		buf[1] = 6
	} else {
		buf[1] = 4
	}
	n := copy(buf[2:18], ip)
	maskBits(buf[2:2+n], bits)
	if cat == catResponse {
		buf[18], buf[19] = byte(qtype>>8), byte(qtype)
	}
	k := 20
	for len(name) > 0 {
		if k == len(buf) {
			// A name longer than the buffer (escapes in presentation
			// format): carry the hash so far on into the next chunk.
			binary.LittleEndian.PutUint64(buf[:8], maphash.Bytes(seed, buf[:k]))
			k = 8
		}
		n := copy(buf[k:], name)
		name = name[n:]
		chunk := buf[k : k+n]
		for i, c := range chunk {
			if 'A' <= c && c <= 'Z' {
				chunk[i] = c + 'a' - 'A'
			}
		}
		k += n
	}
	return maphash.Bytes(seed, buf[:k])
}

// maskBits zeroes every bit of b after the first bits.
func maskBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			b[i] &= ^byte(0xff >> bits)
			bits = 0
		default:
			b[i] = 0
		}
	}
}
