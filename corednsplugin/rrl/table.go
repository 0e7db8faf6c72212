package rrl

import (
	"sync"
	"time"
)

// The rate table holds one account per (client prefix, category, name/type)
// key. It is split into shards, each with its own lock, a fixed array of
// accounts and an open-addressing index into it; nothing is allocated after
// construction, so spoofed sources can churn the table but never grow it.
// When a shard is full, a new key takes the place of an account found by a
// hand sweeping round the shard (see victim).

// verdict is what the limiter decides for one response.
type verdict uint8

const (
	allow verdict = iota // send it
	drop                 // send nothing
	slip                 // send a truncated reply instead
)

// account is the state of one key. tat is the generic cell rate algorithm's
// theoretical arrival time: the balance of BIND's credit model is
// (now - tat) / interval, so tat moving into the future means debt.
type account struct {
	key     uint64
	tat     int64  // nanoseconds on the limiter's clock
	slips   uint32 // suppressed responses so far, for the slip cadence
	limited bool   // the last response was suppressed
}

type shard struct {
	mu       sync.Mutex
	slots    []int32 // index+1 into accounts; 0 is an empty slot
	mask     uint64
	accounts []account // len is the number in use, cap the shard's capacity
	hand     int
	_        [64]byte // keep neighbouring shards' locks off one cache line
}

// table is the sharded account table.
type table struct {
	shards []shard
	shift  uint // key >> shift selects the shard
}

// maxShards bounds the number of shards; smaller tables get fewer so each
// shard still holds a useful number of accounts.
const maxShards = 64

// victimSample is how many accounts the hand looks at to find one to
// replace.
const victimSample = 8

func newTable(size int) *table {
	n := 1
	for n < maxShards && n*2*16 <= size {
		n *= 2
	}
	per := (size + n - 1) / n
	slots := 1
	for slots < 2*per {
		slots *= 2
	}
	t := &table{shards: make([]shard, n), shift: 64}
	for n > 1 {
		t.shift--
		n /= 2
	}
	for i := range t.shards {
		s := &t.shards[i]
		s.slots = make([]int32, slots)
		s.mask = uint64(slots - 1)
		s.accounts = make([]account, 0, per)
	}
	return t
}

// capacity is the number of accounts the table holds at most.
func (t *table) capacity() int { return len(t.shards) * cap(t.shards[0].accounts) }

// len is the number of accounts in use.
func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.accounts)
		s.mu.Unlock()
	}
	return n
}

// find returns the slot holding key, or the empty slot where it belongs
// and false.
func (s *shard) find(key uint64) (uint64, bool) {
	i := key & s.mask
	for {
		v := s.slots[i]
		if v == 0 {
			return i, false
		}
		if s.accounts[v-1].key == key {
			return i, true
		}
		i = (i + 1) & s.mask
	}
}

// remove empties slot i, shifting later entries of the probe sequence back
// so lookups never need tombstones.
func (s *shard) remove(i uint64) {
	j := i
	for {
		j = (j + 1) & s.mask
		v := s.slots[j]
		if v == 0 {
			break
		}
		home := s.accounts[v-1].key & s.mask
		// Leave the entry at j if its home lies cyclically in (i, j].
		if (i <= j && i < home && home <= j) || (i > j && (i < home || home <= j)) {
			continue
		}
		s.slots[i] = v
		i = j
	}
	s.slots[i] = 0
}

// add inserts a fresh account for key into the empty slot found by find,
// evicting one when the shard is full. It returns the account's index and
// whether an account was evicted.
func (s *shard) add(key uint64, slot uint64, fresh int64) (int, bool) {
	idx, evicted := len(s.accounts), false
	if idx < cap(s.accounts) {
		s.accounts = s.accounts[:idx+1]
	} else {
		idx, evicted = s.victim(fresh), true
		at, _ := s.find(s.accounts[idx].key)
		s.remove(at)
		slot, _ = s.find(key) // the removal may have moved the free slot
	}
	s.accounts[idx] = account{key: key, tat: fresh}
	s.slots[slot] = int32(idx + 1)
	return idx, evicted
}

// victim returns the account to replace when the shard is full. The hand
// moves round the shard looking at up to victimSample accounts: the first
// idle one (tat <= fresh: full credit, the same as a new account) is taken
// at once, otherwise the one with the earliest tat, which holds the most
// credit and was touched least recently. Accounts deep in debt, those of
// an ongoing flood, are therefore the last to go, so a flood of spoofed
// sources cannot wipe out the debt of a real one.
func (s *shard) victim(fresh int64) int {
	best := -1
	for range min(victimSample, len(s.accounts)) {
		i := s.hand
		s.hand++
		if s.hand == len(s.accounts) {
			s.hand = 0
		}
		if s.accounts[i].tat <= fresh {
			return i
		}
		if best < 0 || s.accounts[i].tat < s.accounts[best].tat {
			best = i
		}
	}
	return best
}

// limits are one category's parameters, as intervals on the limiter's
// clock. A zero interval means the category is not limited.
type limits struct {
	interval int64 // 1s / rate: the cost of one response
	burst    int64 // how far tat may lag behind now: the balance's cap of rate responses
	window   int64 // how far tat may run ahead of now: the debt's floor of window*rate responses
}

func newLimits(rate int, window time.Duration) limits {
	if rate <= 0 {
		return limits{}
	}
	iv := int64(time.Second) / int64(rate)
	return limits{interval: iv, burst: iv * int64(rate), window: int64(window)}
}

// check debits one response from key's account at time now and says what
// to do with it. started is true when this response begins a run of
// suppressed ones (for logging), evicted when a new account replaced
// another, added when it took a free place.
func (t *table) check(key uint64, lim limits, slipEvery uint32, now int64) (v verdict, started, added, evicted bool) {
	s := &t.shards[key>>t.shift]
	s.mu.Lock()
	slot, ok := s.find(key)
	var idx int
	if ok {
		idx = int(s.slots[slot] - 1)
	} else {
		idx, evicted = s.add(key, slot, now-lim.burst)
		added = !evicted
	}
	a := &s.accounts[idx]
	tat := max(a.tat, now-lim.burst) + lim.interval
	if tat > now+lim.window {
		tat = now + lim.window
	}
	a.tat = tat
	if tat <= now {
		a.limited = false
		s.mu.Unlock()
		return allow, false, added, evicted
	}
	started = !a.limited
	a.limited = true
	a.slips++
	v = drop
	if slipEvery > 0 && a.slips%slipEvery == 0 {
		v = slip
	}
	s.mu.Unlock()
	return v, started, added, evicted
}
