package mcns

import (
	"strings"

	"github.com/coredns/coredns/plugin/file"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// A zone's answer cache survives its writes (answercache.go): a write
// drops the replies it can change and keeps the rest. What a reply
// depends on follows from file's lookup:
//   - the records at the question's name: dropped when they change;
//   - the names it reaches (CNAME targets and the records there; NS, MX,
//     SRV, SVCB and HTTPS targets whose addresses go in the additional
//     section; a delegation's NS names and glue): recorded as its
//     dependencies and dropped when they change;
//   - the SOA, in every negative reply, whose serial every write bumps: a
//     NODATA reply for a name the zone holds is served with the current
//     SOA;
//   - the closest encloser, for a reply synthesized from a wildcard or a
//     DNAME, or for NODATA at an empty non-terminal, and the NSEC records
//     and signatures of a negative reply: such replies are fleeting,
//     served only in their generation;
//   - the apex NS RRset (and its signature), sent in every positive reply,
//     and the records that redirect whole subtrees (NS cuts, DNAME,
//     wildcards): a change of any of them starts the zone's cache afresh.

// maxForgetNames bounds the work a write does on the cache: a change of
// more names starts the cache afresh instead.
const maxForgetNames = 64

// builtReply is a reply answer built and what caching it needs: whether
// it may be cached at all (answer's verdict), whether it is fleeting, and
// the other names it depends on.
type builtReply struct {
	msg       *dns.Msg
	cacheable bool
	lifetime  replyLifetime
	deps      []string
}

// replyDependencies returns how long reply, the answer to qname from z,
// lives (replyLifetime), and which names other than qname it depends on,
// lower case. apex is the zone's name. The caller holds the copy's read
// lock.
func replyDependencies(reply *dns.Msg, qname, apex string, z *file.Zone) (lifetime replyLifetime, deps []string) {
	fleeting := false
	add := func(name string) {
		if name = strings.ToLower(name); name != qname {
			deps = append(deps, name)
		}
	}
	for _, rr := range reply.Answer {
		owner := strings.ToLower(rr.Header().Name)
		if owner != apex && !holds(z, owner) {
			fleeting = true // synthesized from a wildcard or a DNAME
		}
		add(owner)
		switch x := rr.(type) {
		case *dns.SOA:
			fleeting = true
		case *dns.CNAME:
			add(x.Target)
		case *dns.NS:
			add(x.Ns) // glue in the additional section
		case *dns.MX:
			add(x.Mx)
		case *dns.SRV:
			add(x.Target)
		case *dns.SVCB:
			add(x.Target)
		case *dns.HTTPS:
			add(x.Target)
		}
	}
	negative := false
	for _, rr := range reply.Ns {
		owner := strings.ToLower(rr.Header().Name)
		switch x := rr.(type) {
		case *dns.SOA:
			negative = true
		case *dns.NS:
			if owner != apex { // a delegation's
				add(owner)
				add(x.Ns)
			}
		default:
			if owner != apex { // the apex's NS signature starts afresh
				add(owner)
			}
		}
	}
	for _, rr := range reply.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			add(rr.Header().Name)
		}
	}
	switch {
	case fleeting || negative && (len(reply.Ns) != 1 || !holds(z, qname)):
		return fleetingReply, deps
	case negative:
		return negativeReply, deps
	}
	return lastingReply, deps
}

// holds reports whether name owns records in z's tree (file keeps the
// apex's SOA and NS outside it).
func holds(z *file.Zone, name string) bool {
	_, ok := z.Search(name)
	return ok
}

// changedNames returns the names whose records run adds or removes, lower
// case, or all=true when the run can change replies throughout the zone
// (see above) or touches more than maxForgetNames names.
func changedNames(zone string, run []store.Change) (names []string, all bool) {
	seen := map[string]bool{}
	for i := range run {
		for _, rrs := range [][]dns.RR{run[i].Removed, run[i].Added} {
			for _, rr := range rrs {
				name := strings.ToLower(rr.Header().Name)
				if redirects(rr, name, zone) {
					return nil, true
				}
				if !seen[name] {
					seen[name] = true
					names = append(names, name)
				}
			}
		}
	}
	return names, len(names) > maxForgetNames
}

// redirects reports whether a change of rr, owned by name in zone, can
// change replies to names other than its own and the ones depending on
// them.
func redirects(rr dns.RR, name, zone string) bool {
	switch rr.Header().Rrtype {
	case dns.TypeNS, dns.TypeDNAME:
		return true
	case dns.TypeRRSIG:
		return name == zone
	}
	return strings.HasPrefix(name, "*.")
}

// answersAfter returns the answer cache of the generation gen, with SOA
// soa, that run makes of sz: sz's own, without the replies run can change, or a new one
// when run can change any of them. It runs before gen is published.
func (zm *zoneMaintainer) answersAfter(sz *servedZone, gen uint64, soa *dns.SOA, run []store.Change, records int) *answerCache {
	if sz.answers != nil {
		if names, all := changedNames(run[0].Zone, run); !all {
			sz.answers.forget(gen, names, soa)
			return sz.answers
		}
		answerFlushes.Inc()
	}
	return newAnswerCache(answerCacheSize(zm.answerCache, records))
}
