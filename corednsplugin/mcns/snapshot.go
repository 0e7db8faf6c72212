package mcns

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/file/tree"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// snapshot is an immutable view of every zone. A query loads one pointer
// and sees either the old or the new generation of a zone, never a mix.
type snapshot struct {
	names []string // zones that can be served (they have an SOA)
	zones map[string]*servedZone
}

// servedZone is one generation of one zone: its data, SOA and the zone
// version (store.ZoneVersion) of the rows it reflects. Nothing in it changes once
// published; the copy it names may be reused for a later generation, which
// read detects. A zone without an SOA is kept with data == nil, so it is
// not reloaded on every poll, but it is not served.
type servedZone struct {
	gen     uint64
	data    *zoneCopy
	soa     *dns.SOA
	version store.ZoneVersion
	records int
	answers *answerCache // shared with the generations before it (answercarry.go); nil: off
}

// zoneOf returns the served zone holding name, the longest if zones nest,
// or "" if none does. It looks up each of name's label suffixes in the
// zone map, longest first: a query costs its name's label count in map
// lookups (substrings, so no allocation), whatever the number of zones.
// name is lower case and fully qualified, as request.Request.Name gives it.
func (s *snapshot) zoneOf(name string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if s.zones[name[off:]].served() {
			return name[off:]
		}
	}
	// NextLabel ends before the root, which may be a zone too.
	if s.zones["."].served() {
		return "."
	}
	return ""
}

// served reports whether the zone has an SOA and is answered for.
func (sz *servedZone) served() bool { return sz != nil && sz.data != nil }

// read runs fn on this generation's data under its copy's read lock. It
// returns false, without running fn, when the copy has been reused for a
// newer generation since the caller loaded its snapshot: the caller starts
// over with the current one.
func (sz *servedZone) read(fn func(*file.Zone)) bool {
	sz.data.mu.RLock()
	defer sz.data.mu.RUnlock()
	if sz.data.gen != sz.gen {
		return false
	}
	fn(sz.data.z)
	return true
}

// answer is answer (answer.go) on this generation's data, under its
// copy's read lock, with what caching the reply needs to know when the
// zone has a cache; read is false when the copy holds a newer generation
// (see read). A method rather than a closure passed to read: this is the
// path of every uncached query.
func (sz *servedZone) answer(ctx context.Context, state request.Request, zone string, snap *snapshot) (b builtReply, read bool) {
	sz.data.mu.RLock()
	defer sz.data.mu.RUnlock()
	if sz.data.gen != sz.gen {
		return b, false
	}
	b.msg, b.cacheable = answer(ctx, state, sz.data.z, zone, snap)
	if b.msg != nil && b.cacheable && sz.answers != nil {
		b.lifetime, b.deps = replyDependencies(b.msg, state.Name(), zone, sz.data.z)
	}
	return b, true
}

// transferRecords returns the generation's records in AXFR order, minus
// the closing SOA: the apex first, then every name in canonical order.
// They are collected under the read lock and streamed without it, so a
// slow secondary never holds up writes.
func (sz *servedZone) transferRecords() ([][]dns.RR, bool) {
	var out [][]dns.RR
	ok := sz.read(func(z *file.Zone) {
		apex := make([]dns.RR, 0, 1+len(z.SIGSOA)+len(z.NS)+len(z.SIGNS))
		apex = append(append(append(append(apex, z.SOA), z.SIGSOA...), z.NS...), z.SIGNS...)
		out = make([][]dns.RR, 0, z.Tree.Count+1)
		out = append(out, apex)
		z.Tree.Walk(func(e *tree.Elem, _ map[uint16][]dns.RR) error {
			out = append(out, e.All())
			return nil
		})
	})
	return out, ok
}

// with returns a copy of s with the given zones replaced (nil removes).
// The map copy is O(zones) pointer copies; the sorted name list is only
// rebuilt when the set of served zones changed.
func (s *snapshot) with(changes map[string]*servedZone) *snapshot {
	n := &snapshot{zones: make(map[string]*servedZone, len(s.zones)+len(changes)), names: s.names}
	for k, v := range s.zones {
		n.zones[k] = v
	}
	membership := false
	for k, v := range changes {
		if s.zones[k].served() != v.served() {
			membership = true
		}
		if v == nil {
			delete(n.zones, k)
		} else {
			n.zones[k] = v
		}
	}
	if membership {
		n.names = make([]string, 0, len(n.zones))
		for k, v := range n.zones {
			if v.served() {
				n.names = append(n.names, k)
			}
		}
		slices.Sort(n.names)
	}
	return n
}

// buildZone loads zone from the store into a new file.Zone, as CoreDNS's
// dynupdate plugin builds its views, so file's lookup logic serves it.
func buildZone(ctx context.Context, st *store.Store, zone string, gen uint64, cacheSetting int) (*servedZone, error) {
	start := time.Now()
	zd, err := st.LoadZone(ctx, zone)
	if err != nil {
		return nil, err
	}
	z := newZone(zd.Name)
	skipped, firstBad, inserted := zd.Skipped, zd.BadRow, 0
	for _, rr := range zd.Records {
		if err := z.Insert(rr); err != nil {
			if skipped == 0 {
				firstBad = fmt.Errorf("zone %s: %w", zd.Name, err)
			}
			skipped++
			continue
		}
		inserted++
	}
	if skipped > 0 {
		log.Warningf("Zone %s: %d rows not served; first: %v", zd.Name, skipped, firstBad)
	}
	sz := &servedZone{gen: gen, version: zd.Version, records: inserted}
	if z.SOA == nil {
		log.Warningf("Zone %s has no SOA record; not serving it", zd.Name)
	} else {
		sz.data, sz.soa = &zoneCopy{gen: gen, z: z}, z.SOA
		sz.answers = newAnswerCache(answerCacheSize(cacheSetting, inserted))
	}
	rebuilds.Inc()
	rebuildSeconds.Observe(time.Since(start).Seconds())
	return sz, nil
}
