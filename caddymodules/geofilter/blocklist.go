package geofilter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/gaissmai/bart"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Reasons for refusals by the shared block list.
const (
	reasonBlockList = "block_list" // a runtime block set through the admin API
	reasonBanned    = "banned"     // a ban earned by repeated rate limiting
)

// blocksStorageKey is where runtime blocks are kept in Caddy's storage.
const blocksStorageKey = "geofilter/blocks.json"

// Caps on the shared block list, so that neither an attack (bans) nor an
// operator's script (runtime blocks) can grow it without bound.
const (
	maxBans   = 100000
	maxBlocks = 100000
)

// sweepInterval is how often expired entries are dropped from memory; they
// stop applying the moment they expire, whether swept or not.
const sweepInterval = 10 * time.Second

// clockSkew moves the clock of bans, runtime blocks and rate limits forward,
// so tests can let time pass without waiting. Always 0 outside tests.
var clockSkew atomic.Int64

// wallNow returns the current Unix time in nanoseconds.
func wallNow() int64 { return time.Now().UnixNano() + clockSkew.Load() }

// never marks an entry without expiry.
const never = math.MaxInt64

// listHit is what the lookup table holds per network: until when a runtime
// block and a ban on exactly that network apply (Unix ns; 0 when there is
// none, never when it does not expire).
type listHit struct {
	blockUntil int64
	banUntil   int64
}

// runtimeBlock is a block set through the admin API.
type runtimeBlock struct {
	reason  string
	created int64
	until   int64
}

type ban struct {
	until int64
	seq   uint64
}

// blockList holds the runtime blocks and the bans, shared by every handler,
// matcher and listener wrapper of the process and kept across config
// reloads. Changes are rare and take a lock; requests only load the
// current immutable lookup table.
type blockList struct {
	table  atomic.Pointer[bart.Table[listHit]] // nil when empty
	filter atomic.Pointer[listFilter]          // never nil

	mu       sync.Mutex
	blocks   map[netip.Prefix]runtimeBlock
	bans     map[netip.Prefix]ban
	banOrder []banRef // bans in the order they were set, with stale entries
	banSeq   uint64
	storage  kvStorage

	persistMu sync.Mutex // serialises writes to storage

	remote atomic.Pointer[redisStore] // shares the runtime blocks; nil if none

	stop, done chan struct{}
}

type banRef struct {
	prefix netip.Prefix
	seq    uint64
}

// kvStorage is the part of Caddy's storage (certmagic.Storage) the list
// needs.
type kvStorage interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Store(ctx context.Context, key string, value []byte) error
}

// contextStorage returns the storage of ctx's config, or nil for a context
// that belongs to no config (as in unit tests).
func contextStorage(ctx caddy.Context) (s kvStorage) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	if cs := ctx.Storage(); cs != nil {
		return cs
	}
	return nil
}

var blockListPool = caddy.NewUsagePool()

const blockListKey = "geofilter.blocklist"

// acquireBlockList returns the process's block list, loading the persisted
// runtime blocks from ctx's storage when it is first created. The caller
// must call releaseBlockList when done.
func acquireBlockList(ctx caddy.Context) (*blockList, error) {
	storage := contextStorage(ctx)
	val, _, err := blockListPool.LoadOrNew(blockListKey, func() (caddy.Destructor, error) {
		b := newBlockList()
		b.load(ctx, storage)
		go b.sweep()
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	b := val.(*blockList)
	if storage != nil {
		b.mu.Lock()
		b.storage = storage
		b.mu.Unlock()
	}
	return b, nil
}

func newBlockList() *blockList {
	b := &blockList{
		blocks: make(map[netip.Prefix]runtimeBlock),
		bans:   make(map[netip.Prefix]ban),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	b.filter.Store(new(listFilter))
	return b
}

func releaseBlockList() { _, _ = blockListPool.Delete(blockListKey) }

// Destruct stops the sweeper once no config uses the list any more.
func (b *blockList) Destruct() error {
	close(b.stop)
	<-b.done
	return nil
}

func (b *blockList) log() *zap.Logger { return caddy.Log().Named("geofilter") }

// check returns the reason a client is refused by the list, and for bans
// how long the ban still lasts; reason is "" when the client is not on it.
func (b *blockList) check(ip netip.Addr) (string, time.Duration) {
	t := b.table.Load()
	if t == nil || !b.filter.Load().mayContain(ip) {
		return "", 0
	}
	h, ok := t.Lookup(ip)
	if !ok {
		return "", 0
	}
	now := wallNow()
	if r, d := h.judge(now); r != "" {
		return r, d
	}
	// The most specific entry has expired but is not swept yet; a wider
	// one may still hold.
	for _, h := range t.Supernets(netip.PrefixFrom(ip, ip.BitLen())) {
		if r, d := h.judge(now); r != "" {
			return r, d
		}
	}
	return "", 0
}

func (h listHit) judge(now int64) (string, time.Duration) {
	if h.blockUntil > now {
		return reasonBlockList, 0
	}
	if h.banUntil > now {
		return reasonBanned, time.Duration(h.banUntil - now)
	}
	return "", 0
}

// publishLocked updates the lookup table for p from the maps; b.mu is held.
func (b *blockList) publishLocked(p netip.Prefix) {
	var h listHit
	if e, ok := b.blocks[p]; ok {
		h.blockUntil = e.until
	}
	if e, ok := b.bans[p]; ok {
		h.banUntil = e.until
	}
	if h != (listHit{}) {
		b.filter.Load().add(p) // before the entry can be found
	}
	t := b.table.Load()
	switch {
	case h == (listHit{}) && t == nil:
		return
	case h == (listHit{}):
		t = t.DeletePersist(p)
	case t == nil:
		t = new(bart.Table[listHit])
		t.Insert(p, h)
	default:
		t = t.InsertPersist(p, h)
	}
	if t.Size() == 0 {
		t = nil
	}
	b.table.Store(t)
}

// ban refuses the network p until the given Unix ns time, lifting the
// oldest ban when the list is full. A longer ban already in place stays.
func (b *blockList) ban(p netip.Prefix, until int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.bans[p]; ok && e.until >= until {
		return
	}
	for len(b.bans) >= maxBans && len(b.banOrder) > 0 {
		old := b.banOrder[0]
		b.banOrder = b.banOrder[1:]
		if e, ok := b.bans[old.prefix]; ok && e.seq == old.seq {
			delete(b.bans, old.prefix)
			b.publishLocked(old.prefix)
		}
	}
	b.banSeq++
	b.bans[p] = ban{until: until, seq: b.banSeq}
	b.banOrder = append(b.banOrder, banRef{p, b.banSeq})
	if len(b.banOrder) > 2*len(b.bans)+1024 {
		b.compactBanOrderLocked()
	}
	b.publishLocked(p)
}

// compactBanOrderLocked drops references to lifted or replaced bans.
func (b *blockList) compactBanOrderLocked() {
	b.banOrder = slices.DeleteFunc(b.banOrder, func(r banRef) bool {
		e, ok := b.bans[r.prefix]
		return !ok || e.seq != r.seq
	})
}

// errListFull is returned when maxBlocks runtime blocks are set.
var errListFull = fmt.Errorf("the runtime block list is full (%d entries)", maxBlocks)

// block adds or replaces a runtime block and persists the list. On error
// nothing changes.
func (b *blockList) block(ctx context.Context, p netip.Prefix, reason string, ttl time.Duration) (blockEntry, error) {
	b.persistMu.Lock()
	defer b.persistMu.Unlock()
	now := wallNow()
	e := runtimeBlock{reason: reason, created: now, until: never}
	if ttl > 0 {
		e.until = now + int64(ttl)
	}
	b.mu.Lock()
	if _, ok := b.blocks[p]; !ok && len(b.blocks) >= maxBlocks {
		b.mu.Unlock()
		return blockEntry{}, errListFull
	}
	next := make(map[netip.Prefix]runtimeBlock, len(b.blocks)+1)
	for k, v := range b.blocks {
		next[k] = v
	}
	next[p] = e
	storage := b.storage
	b.mu.Unlock()
	if rs := b.remote.Load(); rs != nil {
		if err := rs.putBlocks(ctx, map[netip.Prefix]runtimeBlock{p: e}, expiredBlocks(next, now)); err != nil {
			return blockEntry{}, fmt.Errorf("store: %w", err)
		}
	}
	if err := persist(ctx, storage, next, now); err != nil {
		return blockEntry{}, err
	}
	b.mu.Lock()
	b.blocks[p] = e
	b.publishLocked(p)
	b.mu.Unlock()
	return e.entry(p), nil
}

// remove lifts the runtime block and the ban on exactly p, persisting the
// list when a runtime block was removed. It reports whether anything was
// lifted.
func (b *blockList) remove(ctx context.Context, p netip.Prefix) (bool, error) {
	b.persistMu.Lock()
	defer b.persistMu.Unlock()
	now := wallNow()
	b.mu.Lock()
	_, isBlock := b.blocks[p]
	_, isBan := b.bans[p]
	storage := b.storage
	var next map[netip.Prefix]runtimeBlock
	if isBlock {
		next = make(map[netip.Prefix]runtimeBlock, len(b.blocks))
		for k, v := range b.blocks {
			if k != p {
				next[k] = v
			}
		}
	}
	b.mu.Unlock()
	if rs := b.remote.Load(); rs != nil {
		sharedBlock, sharedBan, err := rs.removeShared(ctx, p)
		if err != nil {
			return false, fmt.Errorf("store: %w", err)
		}
		isBan = isBan || sharedBan
		if sharedBlock && !isBlock {
			isBlock, next = true, b.blocksSnapshot()
			delete(next, p)
		}
	}
	if isBlock {
		if err := persist(ctx, storage, next, now); err != nil {
			return false, err
		}
	}
	b.mu.Lock()
	delete(b.blocks, p)
	delete(b.bans, p)
	b.publishLocked(p)
	b.mu.Unlock()
	if isBan {
		forgetStrikes(p)
	}
	return isBlock || isBan, nil
}

// blockEntry is one entry as the admin API shows it and as runtime blocks
// are stored.
type blockEntry struct {
	CIDR    string     `json:"cidr"`
	Kind    string     `json:"kind,omitempty"` // "block" or "ban"; not stored
	Reason  string     `json:"reason,omitempty"`
	Created *time.Time `json:"created,omitempty"`
	Expires *time.Time `json:"expires,omitempty"` // absent: never
}

func unixTime(ns int64) *time.Time {
	t := time.Unix(0, ns).UTC()
	return &t
}

func (e runtimeBlock) entry(p netip.Prefix) blockEntry {
	be := blockEntry{CIDR: p.String(), Kind: "block", Reason: e.reason, Created: unixTime(e.created)}
	if e.until != never {
		be.Expires = unixTime(e.until)
	}
	return be
}

// runtimeBlock is the stored entry e as a runtime block; now stands in
// for a missing creation time.
func (e blockEntry) runtimeBlock(now int64) runtimeBlock {
	rb := runtimeBlock{reason: e.Reason, created: now, until: never}
	if e.Created != nil {
		rb.created = e.Created.UnixNano()
	}
	if e.Expires != nil {
		rb.until = e.Expires.UnixNano()
	}
	return rb
}

// list returns the entries in force, runtime blocks first, each kind
// sorted by network.
func (b *blockList) list() []blockEntry {
	now := wallNow()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]blockEntry, 0, len(b.blocks)+len(b.bans))
	for _, p := range sortedPrefixes(b.blocks) {
		if e := b.blocks[p]; e.until > now {
			out = append(out, e.entry(p))
		}
	}
	for _, p := range sortedPrefixes(b.bans) {
		if e := b.bans[p]; e.until > now {
			out = append(out, blockEntry{CIDR: p.String(), Kind: "ban", Reason: reasonBanned, Expires: unixTime(e.until)})
		}
	}
	return out
}

func sortedPrefixes[V any](m map[netip.Prefix]V) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return ps
}

// counts returns the number of runtime blocks and bans in force.
func (b *blockList) counts() (blocks, bans int) {
	now := wallNow()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.blocks {
		if e.until > now {
			blocks++
		}
	}
	for _, e := range b.bans {
		if e.until > now {
			bans++
		}
	}
	return blocks, bans
}

// storedBlocks is the stored form of the runtime blocks.
type storedBlocks struct {
	Blocks []blockEntry `json:"blocks"`
}

// persist writes the runtime blocks still in force to storage.
func persist(ctx context.Context, storage kvStorage, blocks map[netip.Prefix]runtimeBlock, now int64) error {
	if storage == nil {
		return errors.New("no storage configured")
	}
	var s storedBlocks
	s.Blocks = make([]blockEntry, 0, len(blocks))
	for _, p := range sortedPrefixes(blocks) {
		if e := blocks[p]; e.until > now {
			be := e.entry(p)
			be.Kind = ""
			s.Blocks = append(s.Blocks, be)
		}
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	if err := storage.Store(ctx, blocksStorageKey, data); err != nil {
		return fmt.Errorf("storing %s: %w", blocksStorageKey, err)
	}
	return nil
}

// load reads the persisted runtime blocks; a missing file is an empty
// list, an unreadable one is logged and ignored.
func (b *blockList) load(ctx context.Context, storage kvStorage) {
	b.storage = storage
	if storage == nil {
		return
	}
	data, err := storage.Load(ctx, blocksStorageKey)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		b.log().Error("cannot load the runtime block list; starting without it", zap.String("key", blocksStorageKey), zap.Error(err))
		return
	}
	var s storedBlocks
	if err := json.Unmarshal(data, &s); err != nil {
		b.log().Error("invalid runtime block list; starting without it", zap.String("key", blocksStorageKey), zap.Error(err))
		return
	}
	now := wallNow()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range s.Blocks {
		p, err := parseCIDR(e.CIDR)
		if err != nil {
			b.log().Warn("skipping invalid stored runtime block", zap.String("cidr", e.CIDR), zap.Error(err))
			continue
		}
		rb := e.runtimeBlock(now)
		if rb.until <= now {
			continue
		}
		b.blocks[p] = rb
		b.publishLocked(p)
	}
	if len(b.blocks) > 0 {
		b.log().Info("runtime block list loaded", zap.Int("entries", len(b.blocks)))
	}
}

// sweep drops expired entries from memory now and then.
func (b *blockList) sweep() {
	defer close(b.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.sweepOnce()
		}
	}
}

func (b *blockList) sweepOnce() {
	now := wallNow()
	b.mu.Lock()
	defer b.mu.Unlock()
	for p, e := range b.blocks {
		if e.until <= now {
			delete(b.blocks, p)
			b.publishLocked(p)
		}
	}
	for p, e := range b.bans {
		if e.until <= now {
			delete(b.bans, p)
			b.publishLocked(p)
		}
	}
	if len(b.banOrder) > 2*len(b.bans)+1024 {
		b.compactBanOrderLocked()
	}
	// Rebuild the filter, dropping the bits of removed entries.
	f := new(listFilter)
	for p := range b.blocks {
		f.add(p)
	}
	for p := range b.bans {
		f.add(p)
	}
	b.filter.Store(f)
}

// listFilter tells quickly that an address is on no list, so that the
// lookup table is only searched for the few that might be: one bit per
// IPv4 /16, and per hash of an IPv6 /32. Bits are only ever set, then
// dropped by rebuilding the filter when entries expire or are removed.
type listFilter struct {
	v4, v6       [1 << 16 / 64]atomic.Uint64
	v4all, v6all atomic.Bool // an entry wider than the bits cover
}

func v6FilterBit(a [16]byte) uint32 {
	x := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	return (x * 0x9E3779B1) >> 16
}

func (f *listFilter) add(p netip.Prefix) {
	a := p.Addr()
	switch {
	case a.Is4() && p.Bits() < 8:
		f.v4all.Store(true)
	case a.Is4():
		b := a.As4()
		first := uint32(b[0])<<8 | uint32(b[1])
		for i := range uint32(1) << max(0, 16-p.Bits()) {
			setBit(&f.v4, first+i)
		}
	case p.Bits() < 32:
		f.v6all.Store(true)
	default:
		setBit(&f.v6, v6FilterBit(a.As16()))
	}
}

func setBit(bits *[1 << 16 / 64]atomic.Uint64, i uint32) {
	bits[i/64].Or(1 << (i % 64))
}

func (f *listFilter) mayContain(ip netip.Addr) bool {
	if ip.Is4() {
		b := ip.As4()
		i := uint32(b[0])<<8 | uint32(b[1])
		return f.v4all.Load() || f.v4[i/64].Load()&(1<<(i%64)) != 0
	}
	i := v6FilterBit(ip.As16())
	return f.v6all.Load() || f.v6[i/64].Load()&(1<<(i%64)) != 0
}

// Gauges of the shared block list, read at scrape time.
var (
	runtimeBlocksDesc = prometheus.NewDesc("caddy_geofilter_runtime_blocks",
		"Runtime blocks in force, set through the admin API.", nil, nil)
	bansActiveDesc = prometheus.NewDesc("caddy_geofilter_bans_active",
		"Clients (addresses or IPv6 networks) currently banned for repeated rate limiting.", nil, nil)
)

type blockListCollector struct{}

func (blockListCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- runtimeBlocksDesc
	ch <- bansActiveDesc
}

func (blockListCollector) Collect(ch chan<- prometheus.Metric) {
	blockListPool.Range(func(_, val any) bool {
		if b, ok := val.(*blockList); ok {
			blocks, bans := b.counts()
			ch <- prometheus.MustNewConstMetric(runtimeBlocksDesc, prometheus.GaugeValue, float64(blocks))
			ch <- prometheus.MustNewConstMetric(bansActiveDesc, prometheus.GaugeValue, float64(bans))
		}
		return true
	})
}
