package geofilter

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Ban refuses, for a while, clients that keep running into the rate limit.
type Ban struct {
	// A client refused by the rate limit this many times within Duration is
	// banned. The count is a sliding-window estimate like the rate limit's.
	Strikes int `json:"strikes,omitempty"`
	// How long a ban lasts, and the time within which the strikes count.
	Duration caddy.Duration `json:"duration,omitempty"`
}

func (b *Ban) validate(rl *RateLimit) error {
	if rl == nil {
		return fmt.Errorf("ban needs rate_limit")
	}
	if b.Strikes <= 0 {
		return fmt.Errorf("ban: strikes must be positive, got %d", b.Strikes)
	}
	if b.Duration <= 0 {
		return fmt.Errorf("ban: duration must be positive, got %s", time.Duration(b.Duration))
	}
	if b.Strikes > 1 && time.Duration(b.Duration)/time.Duration(b.Strikes-1) <= 0 {
		return fmt.Errorf("ban: %d strikes per %s is too fine-grained", b.Strikes, time.Duration(b.Duration))
	}
	return nil
}

// strikesScope marks the limiters that count strikes.
const strikesScope = ".strikes"

// banPolicy is a provisioned Ban.
type banPolicy struct {
	duration   int64    // ns
	strikes    *limiter // counts refusals; nil when the first one bans
	strikesKey string
}

// provisionBan sets up the strike counter; rl has its defaults set. Like
// the limiter's, its state is kept across reloads while unchanged.
func (p *policy) provisionBan(b *Ban, rl RateLimit, scope string) error {
	if b == nil {
		return nil
	}
	p.ban = &banPolicy{duration: int64(b.Duration)}
	if b.Strikes == 1 {
		return nil
	}
	counter := RateLimit{
		Requests:   b.Strikes - 1,
		Window:     b.Duration,
		IPv6Prefix: rl.IPv6Prefix,
		MaxClients: rl.MaxClients,
		Zone:       fmt.Sprintf("%s/%d-%d", rl.Zone, rl.Requests, int64(rl.Window)),
	}
	var err error
	p.ban.strikes, p.ban.strikesKey, err = acquireLimiter(counter, scope+strikesScope)
	return err
}

// strike records a rate limit refusal of ip and bans the client when it has
// had too many, turning v into a ban.
func (p *policy) strike(ip netip.Addr, v *verdict) {
	if p.ban == nil || p.blocks == nil {
		return
	}
	if p.ban.strikes != nil {
		if ok, _ := p.ban.strikes.allow(ip); ok {
			return
		}
	}
	p.blocks.ban(p.limiter.prefix(ip), wallNow()+p.ban.duration)
	v.reason, v.retryAfter = reasonBanned, time.Duration(p.ban.duration)
}

// joinBlockList makes the policy apply the process's runtime blocks and
// bans; every module provisioning a policy calls it.
func (p *policy) joinBlockList(ctx caddy.Context) error {
	b, err := acquireBlockList(ctx)
	if err != nil {
		return err
	}
	p.blocks, p.joinedBlocks = b, true
	return registerCollector(ctx, blockListCollector{})
}

// forgetStrikes clears the strikes of the client banned as p in every ban
// counter, so that a lifted ban starts the client over.
func forgetStrikes(p netip.Prefix) {
	limiterPool.Range(func(key, val any) bool {
		if l, ok := val.(*limiter); ok && strings.Contains(key.(string), strikesScope+":") && l.prefix(p.Addr()) == p {
			l.forget(p.Addr())
		}
		return true
	})
}
