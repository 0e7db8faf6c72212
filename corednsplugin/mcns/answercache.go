package mcns

import (
	"hash/maphash"
	"sync"

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

// answerCache keeps the replies built for one generation of one zone, so a
// repeated question costs a map lookup instead of file's tree walk, RRset
// copies and reply assembly. It lives in the zone's servedZone and is
// dropped with it: a change makes a new generation with an empty cache, so
// the next query already sees the change. At most limit replies are kept;
// a full shard drops an arbitrary entry for the new one, so a flood of
// distinct names costs bounded memory and cannot pin stale entries.
// NXDOMAIN replies are never cached (see answer).
type answerCache struct {
	seed   maphash.Seed
	limit  int // per shard
	shards [answerShards]answerShard
}

type answerShard struct {
	mu sync.RWMutex
	m  map[answerKey]*dns.Msg
}

// newAnswerCache returns a cache of about entries replies, or nil (no
// caching) for entries <= 0.
func newAnswerCache(entries int) *answerCache {
	if entries <= 0 {
		return nil
	}
	c := &answerCache{seed: maphash.MakeSeed(), limit: max(1, entries/answerShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[answerKey]*dns.Msg)
	}
	return c
}

func (c *answerCache) shard(k answerKey) *answerShard {
	return &c.shards[maphash.String(c.seed, k.name)%answerShards]
}

// get returns the reply template for k, or nil.
func (c *answerCache) get(k answerKey) *dns.Msg {
	if c == nil {
		return nil
	}
	s := c.shard(k)
	s.mu.RLock()
	m := s.m[k]
	s.mu.RUnlock()
	return m
}

// put keeps reply for k. The template must not be changed afterwards.
func (c *answerCache) put(k answerKey, reply *dns.Msg) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.limit {
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[k] = reply
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
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
