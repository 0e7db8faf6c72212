package mcns

import (
	"fmt"
	"slices"
	"sync"

	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/file/tree"
	"github.com/coredns/coredns/plugin/pkg/upstream"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// A zone's data lives in file.Zone, so file's lookup serves it. file.Zone
// is mutable, but its Lookup and Transfer take the apex and tree under the
// zone's lock and then walk the tree without it: changing a tree in place
// would race with every query in flight. Copying the tree for each write is
// O(zone). So each zone written to has two copies ("left-right"): queries
// read the one the current generation names, the maintainer changes the
// other one, which only readers of the previous generation may still hold,
// after they let go of it, then publishes it as the next generation. The
// copy just retired lags by the changes of one write; they are applied to it
// at the next write. A write therefore costs O(change · log n) and the
// readers never wait for it.

// zoneCopy is one copy of a zone's data. gen is the generation it holds;
// a reader that finds another generation than it looked for (the copy was
// reused for a newer one meanwhile) starts over with the current snapshot.
type zoneCopy struct {
	mu  sync.RWMutex
	gen uint64 // guarded by mu
	z   *file.Zone
}

// standby is a zone's copy not being served: it holds the generation
// before the served one, which lag turns into the served one.
type standby struct {
	copy *zoneCopy
	lag  []store.Change
	of   *servedZone // the generation lag leads to
}

// newZone returns an empty file.Zone for origin that resolves out-of-zone
// CNAME targets through the server itself, as the file plugin does.
func newZone(origin string) *file.Zone {
	z := file.NewZone(origin, "")
	z.Upstream = upstream.New()
	return z
}

// cloneZone copies src's data into a new zone sharing its records (they
// are never changed in place, see applyChange). The caller holds the
// source copy's read lock.
func cloneZone(origin string, src *file.Zone) *file.Zone {
	z := newZone(origin)
	z.Apex = src.Apex
	z.NS = slices.Clone(src.NS)
	z.SIGSOA = slices.Clone(src.SIGSOA)
	z.SIGNS = slices.Clone(src.SIGNS)
	src.Tree.Walk(func(e *tree.Elem, _ map[uint16][]dns.RR) error {
		for _, rr := range e.All() {
			z.Tree.Insert(rr)
		}
		return nil
	})
	return z
}

// applyChange applies a committed change to z: removals, additions, then
// the new SOA. Records are inserted as copies, because file.Zone.Insert
// normalises the record it is given and the change's records are shared
// with the other copy. It returns the number of records that could not be
// served (file refuses NSEC3). The caller holds the copy's write lock.
func applyChange(z *file.Zone, c *store.Change) (skipped int, firstErr error) {
	for _, rr := range c.Removed {
		removeRR(z, c.Zone, rr)
	}
	for _, rr := range c.Added {
		if err := z.Insert(dns.Copy(rr)); err != nil {
			if skipped == 0 {
				firstErr = fmt.Errorf("zone %s: %w", c.Zone, err)
			}
			skipped++
		}
	}
	if c.NewSOA != nil {
		z.Insert(dns.Copy(c.NewSOA))
	}
	return skipped, firstErr
}

// removeRR removes the record equal to rr (owner, type, data; TTL aside)
// from z. tree.Delete drops a whole RRset, so the rest of the set is put
// back. Slices read by the other copy are never written: new ones are made.
func removeRR(z *file.Zone, origin string, rr dns.RR) {
	h := rr.Header()
	if h.Rrtype == dns.TypeNS && equalNames(h.Name, origin) {
		z.NS = withoutRR(z.NS, rr)
		return
	}
	if sig, ok := rr.(*dns.RRSIG); ok && equalNames(h.Name, origin) {
		switch sig.TypeCovered {
		case dns.TypeSOA:
			z.SIGSOA = withoutRR(z.SIGSOA, rr)
			return
		case dns.TypeNS:
			z.SIGNS = withoutRR(z.SIGNS, rr)
			return
		}
	}
	e, ok := z.Tree.Search(h.Name)
	if !ok {
		return
	}
	keep := withoutRR(e.Type(h.Rrtype), rr)
	z.Tree.Delete(rr)
	for _, k := range keep {
		z.Tree.Insert(k)
	}
}

// withoutRR returns a new slice of the records of rrs other than rr.
func withoutRR(rrs []dns.RR, rr dns.RR) []dns.RR {
	out := make([]dns.RR, 0, len(rrs))
	for _, x := range rrs {
		if !store.SameRecord(x, rr) {
			out = append(out, x)
		}
	}
	return out
}

func equalNames(a, b string) bool { return dns.CanonicalName(a) == dns.CanonicalName(b) }
