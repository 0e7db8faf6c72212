package geofilter

import (
	"context"
	"encoding/json"
	"maps"
	"net/netip"

	"go.uber.org/zap"
)

// The runtime block list kept in step with a store: writes through the
// admin API go to the store first, and every instance applies the store's
// list when its version changes (redisStore.syncOnce).

// attach makes rs the store the list is shared through.
func (b *blockList) attach(rs *redisStore) { b.remote.Store(rs) }

// detach stops sharing through rs, unless another store took over.
func (b *blockList) detach(rs *redisStore) { b.remote.CompareAndSwap(rs, nil) }

// syncer returns the store the list is shared through, or nil.
func (b *blockList) syncer() *redisStore { return b.remote.Load() }

func (b *blockList) blocksSnapshot() map[netip.Prefix]runtimeBlock {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.blocks)
}

func (b *blockList) hasBlocks() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.blocks) > 0
}

// expiredBlocks returns the networks of blocks no longer in force.
func expiredBlocks(blocks map[netip.Prefix]runtimeBlock, now int64) []netip.Prefix {
	var out []netip.Prefix
	for p, e := range blocks {
		if e.until <= now {
			out = append(out, p)
		}
	}
	return out
}

// storedEntry is a runtime block as the store holds it.
func storedEntry(p netip.Prefix, e runtimeBlock) ([]byte, error) {
	be := e.entry(p)
	be.Kind = ""
	return json.Marshal(be)
}

// putBlocks writes blocks into the shared list, drops the expired
// networks from it and bumps its version, in one transaction.
func (rs *redisStore) putBlocks(ctx context.Context, blocks map[netip.Prefix]runtimeBlock, expired []netip.Prefix) error {
	pipe := rs.client.TxPipeline()
	for p, e := range blocks {
		data, err := storedEntry(p, e)
		if err != nil {
			return err
		}
		pipe.HSet(ctx, rs.blocksKey(), p.String(), data)
	}
	for _, p := range expired {
		pipe.HDel(ctx, rs.blocksKey(), p.String())
	}
	pipe.Incr(ctx, rs.versionKey())
	_, err := pipe.Exec(ctx)
	return err
}

// removeShared lifts the shared runtime block and ban on exactly p and
// reports which there were.
func (rs *redisStore) removeShared(ctx context.Context, p netip.Prefix) (block, ban bool, err error) {
	pipe := rs.client.TxPipeline()
	del := pipe.HDel(ctx, rs.blocksKey(), p.String())
	pipe.Incr(ctx, rs.versionKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return false, false, err
	}
	ban, err = rs.liftBan(ctx, p)
	return del.Val() > 0, ban, err
}

// reseed writes the list into a store that has lost it.
func (b *blockList) reseed(ctx context.Context, rs *redisStore) error {
	blocks := b.blocksSnapshot()
	now := wallNow()
	expired := expiredBlocks(blocks, now)
	for _, p := range expired {
		delete(blocks, p)
	}
	if err := rs.putBlocks(ctx, blocks, nil); err != nil {
		return err
	}
	rs.log().Info("runtime block list restored into the store", zap.Int("entries", len(blocks)))
	return nil
}

// replaceBlocks makes the store's list (network -> stored entry) the
// runtime blocks in force here, and persists it.
func (b *blockList) replaceBlocks(entries map[string]string) {
	now := wallNow()
	next := make(map[netip.Prefix]runtimeBlock, len(entries))
	for k, v := range entries {
		var be blockEntry
		p, err := parseCIDR(k)
		if err == nil {
			err = json.Unmarshal([]byte(v), &be)
		}
		if err != nil {
			b.log().Warn("skipping invalid shared runtime block", zap.String("cidr", k), zap.Error(err))
			continue
		}
		if rb := be.runtimeBlock(now); rb.until > now {
			next[p] = rb
		}
	}
	b.persistMu.Lock()
	defer b.persistMu.Unlock()
	b.mu.Lock()
	changed := false
	for p := range b.blocks {
		if _, ok := next[p]; !ok {
			delete(b.blocks, p)
			b.publishLocked(p)
			changed = true
		}
	}
	for p, e := range next {
		if old, ok := b.blocks[p]; !ok || old != e {
			b.blocks[p] = e
			b.publishLocked(p)
			changed = true
		}
	}
	storage := b.storage
	b.mu.Unlock()
	if changed && storage != nil {
		if err := persist(context.Background(), storage, next, now); err != nil {
			b.log().Warn("cannot persist the shared runtime block list", zap.Error(err))
		}
	}
}
