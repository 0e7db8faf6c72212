package mcns

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// answerKey is what an mcns reply depends on besides the zone's data: the
// name (lower case; the question's case is put back per query), the type,
// and the DO bit (RRSIGs stored in the zone are sent only with DO).
type answerKey struct {
	name  string
	qtype uint16
	do    bool
}

// answerShards spreads one zone's cache over locks, so queries on both
// cores rarely wait on each other.
const answerShards = 16

// Without an answer_cache line a zone keeps up to two replies per record
// (enough for every name and a NODATA type or two) within these bounds.
const (
	minAnswerCache = 4096
	maxAnswerCache = 262144
)

// answerCacheSize is the number of replies a zone of records records keeps:
// setting > 0 is answer_cache's fixed number, < 0 turns the cache off, 0
// sizes it to the zone.
func answerCacheSize(setting, records int) int {
	if setting != 0 {
		return setting
	}
	return min(max(2*records, minAnswerCache), maxAnswerCache)
}

// answerCache keeps the replies built for one zone, so a repeated question
// costs a map lookup instead of file's tree walk, RRset copies and reply
// assembly. It outlives the zone's generations: a write drops only the
// replies it can change (answercarry.go), so a zone written to many times
// a second still answers most queries from here. At most limit replies
// are kept; a full shard drops an arbitrary name for the new one, so a
// flood of distinct names costs bounded memory and cannot pin stale
// entries. NXDOMAIN replies are never cached (see answer).
type answerCache struct {
	seed  maphash.Seed
	limit int // replies per shard
	// since is the generation of the zone's last change. Replies built
	// from an older generation are not stored (a query that started
	// before the change would put back what it dropped), and fleeting
	// replies from before it are not served.
	since atomic.Uint64
	// negative is the authority section of negative replies in generation
	// since (the zone's SOA, its TTL capped): a kept NODATA reply is
	// served with it (see serveIn).
	negative atomic.Pointer[[]dns.RR]
	shards   [answerShards]answerShard
	deps     dependents
}

type answerShard struct {
	mu      sync.RWMutex
	names   map[string][]*cachedReply // by question name
	replies int
}

// cachedReply is one reply template and what decides how long it holds.
type cachedReply struct {
	qtype    uint16
	do       bool
	lifetime replyLifetime
	built    uint64 // the generation the reply was built from
	msg      *dns.Msg
	// current is msg with a later generation's SOA (negativeReply).
	current atomic.Pointer[resoaed]
}

// resoaed is a negative reply template with generation since's SOA.
type resoaed struct {
	since uint64
	msg   *dns.Msg
}

// replyLifetime says which changes a cached reply outlives besides those
// of other names.
type replyLifetime uint8

const (
	// lastingReply depends on nothing a change of another name alters.
	lastingReply replyLifetime = iota
	// negativeReply is NODATA for a name the zone holds, whose only other
	// part a change alters is the SOA in its authority section: it is
	// served with the current one.
	negativeReply
	// fleetingReply carries more of the zone's apex than its SOA (NSEC,
	// signatures) or was synthesized for a name the zone does not hold
	// (wildcard, DNAME, an empty non-terminal), which any new name on the
	// way can change: it is served only in the generation it was built
	// from.
	fleetingReply
)

// newAnswerCache returns a cache of about entries replies, or nil (no
// caching) for entries <= 0.
func newAnswerCache(entries int) *answerCache {
	if entries <= 0 {
		return nil
	}
	c := &answerCache{seed: maphash.MakeSeed(), limit: max(1, entries/answerShards)}
	for i := range c.shards {
		c.shards[i].names = make(map[string][]*cachedReply)
	}
	c.deps = dependents{names: map[string][]string{}, limit: 4 * entries}
	return c
}

func (c *answerCache) shard(name string) *answerShard {
	return &c.shards[maphash.String(c.seed, name)%answerShards]
}

// get returns the reply template for k, or nil.
func (c *answerCache) get(k answerKey) *dns.Msg {
	if c == nil {
		return nil
	}
	s := c.shard(k.name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.names[k.name] {
		if r.qtype == k.qtype && r.do == k.do {
			return c.serve(r)
		}
	}
	return nil
}

// serve is r's template as the current generation serves it, or nil.
func (c *answerCache) serve(r *cachedReply) *dns.Msg {
	since := c.since.Load()
	if r.built >= since || r.lifetime == lastingReply {
		return r.msg
	}
	if r.lifetime != negativeReply {
		return nil
	}
	if p := r.current.Load(); p != nil && p.since == since {
		return p.msg
	}
	ns := c.negative.Load()
	if ns == nil {
		return nil
	}
	m := *r.msg
	m.Ns = *ns
	// Queries racing on a new generation may both build it; either copy
	// is right.
	r.current.Store(&resoaed{since: since, msg: &m})
	return &m
}

// put keeps reply for k, built from generation built; deps are the other
// names whose change can alter it (replyDependencies). The template must
// not be changed afterwards.
func (c *answerCache) put(k answerKey, reply *dns.Msg, built uint64, lifetime replyLifetime, deps []string) {
	if c == nil {
		return
	}
	// The names it depends on are recorded first: a change that reads
	// them before this reply is stored has raised since already, which
	// the check below then sees.
	if !c.deps.add(k.name, deps) {
		return
	}
	s := c.shard(k.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if built < c.since.Load() {
		return
	}
	r := &cachedReply{qtype: k.qtype, do: k.do, lifetime: lifetime, built: built, msg: reply}
	rs := s.names[k.name]
	for i := range rs {
		if rs[i].qtype == k.qtype && rs[i].do == k.do {
			rs[i] = r
			return
		}
	}
	if s.replies >= c.limit {
		s.evictOne()
	}
	s.names[k.name] = append(rs, r)
	s.replies++
}

// evictOne drops the replies of an arbitrary name. The caller holds mu.
func (s *answerShard) evictOne() {
	for name, rs := range s.names {
		delete(s.names, name)
		s.replies -= len(rs)
		return
	}
}

// drop removes every reply to a question for name. The caller holds mu.
func (s *answerShard) drop(name string) {
	if rs, ok := s.names[name]; ok {
		delete(s.names, name)
		s.replies -= len(rs)
	}
}

// forget removes the replies to questions for names, and to questions
// whose replies depend on them, once the zone's generation gen, with SOA
// soa, is served. The caller serialises changes (the zone maintainer's
// lock).
func (c *answerCache) forget(gen uint64, names []string, soa *dns.SOA) {
	// The SOA first: a query seeing the new since must find it.
	ns := negativeSOA([]dns.RR{soa})
	c.negative.Store(&ns)
	c.since.Store(gen)
	for _, name := range names {
		for _, q := range append(c.deps.take(name), name) {
			s := c.shard(q)
			s.mu.Lock()
			s.drop(q)
			s.mu.Unlock()
		}
	}
}

// len is the number of replies kept.
func (c *answerCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.replies
		s.mu.RUnlock()
	}
	return n
}

// dependents maps a name to the question names whose cached replies
// depend on it without being owned by it (a CNAME's target, an MX
// exchange, glue below a delegation). Entries of replies evicted since
// are left until the name changes: dropping a reply twice is harmless.
// When limit entries are recorded, replies with dependencies are no longer
// cached; the zone's next flush (a new cache) starts over.
type dependents struct {
	mu    sync.Mutex
	names map[string][]string
	n     int
	limit int
}

// add records that question depends on deps; false: the table is full and
// the reply must not be cached.
func (d *dependents) add(question string, deps []string) bool {
	if len(deps) == 0 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n+len(deps) > d.limit {
		return false
	}
	for _, dep := range deps {
		d.names[dep] = append(d.names[dep], question)
	}
	d.n += len(deps)
	return true
}

// take returns and forgets the questions depending on name.
func (d *dependents) take(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	qs := d.names[name]
	delete(d.names, name)
	d.n -= len(qs)
	return qs
}
