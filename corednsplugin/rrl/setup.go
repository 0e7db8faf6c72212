package rrl

import (
	"fmt"
	"strconv"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/metacircular/edge/internal/netlist"
	"github.com/metacircular/edge/internal/version"
)

const pluginName = "rrl"

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	cfg, zones, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	r := New(cfg, zones)
	c.OnShutdown(func() error {
		// The table goes with this instance (a reload builds a new one).
		tableEntries.Sub(float64(r.used.Swap(0)))
		return nil
	})
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		r.Next = next
		return r
	})
	version.AnnounceDefault(pluginName, log.Infof)
	return nil
}

// Defaults, as BIND's where BIND has one.
const (
	defaultRate      = 10
	defaultWindow    = 15 * time.Second
	defaultSlip      = 2
	defaultIPv4Bits  = 24
	defaultIPv6Bits  = 56
	defaultTableSize = 100000

	maxRate      = 1000000
	maxSlip      = 10
	maxWindow    = time.Hour
	maxTableSize = 10000000
)

// config is what the Corefile says about one rrl instance.
type config struct {
	rates        [numCategories]int // responses per second; 0: not limited
	window       time.Duration
	slip         int
	ipv4Bits     int
	ipv6Bits     int
	maxTableSize int
	exempt       netlist.List
	reportOnly   bool
}

// rateKeywords are the properties setting each category's rate.
var rateKeywords = map[string]category{
	"responses-per-second": catResponse,
	"nodata-per-second":    catNodata,
	"nxdomains-per-second": catNXDomain,
	"referrals-per-second": catReferral,
	"errors-per-second":    catError,
}

// otherKeywords are the other properties; slip-ratio is read as slip.
var otherKeywords = map[string]bool{
	"window": true, "slip": true, "ipv4-prefix-length": true, "ipv6-prefix-length": true,
	"max-table-size": true, "exempt": true, "report-only": true,
}

// parse reads:
//
//	rrl [ZONES...] {
//	    responses-per-second N
//	    nodata-per-second N
//	    nxdomains-per-second N
//	    referrals-per-second N
//	    errors-per-second N
//	    window SECONDS
//	    slip N
//	    ipv4-prefix-length BITS
//	    ipv6-prefix-length BITS
//	    max-table-size N
//	    exempt NET...
//	    report-only
//	}
//
// The per-category rates default to responses-per-second.
func parse(c *caddy.Controller) (config, []string, error) {
	p := newRRLParse()
	var zones []string
	i := 0
	for c.Next() {
		if i > 0 {
			return p.cfg, nil, plugin.ErrOnce
		}
		i++
		zones = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for c.NextBlock() {
			if err := p.property(c); err != nil {
				return p.cfg, nil, err
			}
		}
	}
	return p.finish(), zones, nil
}

// rrlParse is a config being read: the rates given so far, kept apart
// until finish fills in the defaults, and the properties seen.
type rrlParse struct {
	cfg      config
	rates    [numCategories]int
	ratesSet [numCategories]bool
	seen     map[string]bool
}

func newRRLParse() *rrlParse {
	return &rrlParse{
		cfg: config{
			window:       defaultWindow,
			slip:         defaultSlip,
			ipv4Bits:     defaultIPv4Bits,
			ipv6Bits:     defaultIPv6Bits,
			maxTableSize: defaultTableSize,
		},
		rates: [numCategories]int{catResponse: defaultRate},
		seen:  map[string]bool{},
	}
}

// property reads the block property at c. Each may be given once, except
// exempt, whose networks add up.
func (p *rrlParse) property(c *caddy.Controller) error {
	prop := c.Val()
	if prop == "slip-ratio" {
		prop = "slip"
	}
	if _, ok := rateKeywords[prop]; !ok && !otherKeywords[prop] {
		return c.Errf("unknown property %q", c.Val())
	}
	if p.seen[prop] && prop != "exempt" {
		return c.Errf("%s given twice", prop)
	}
	p.seen[prop] = true
	if prop == "report-only" {
		if c.NextArg() {
			return c.ArgErr()
		}
		p.cfg.reportOnly = true
		return nil
	}
	args := c.RemainingArgs()
	if prop == "exempt" {
		nets, err := netlist.Parse(args)
		if err != nil {
			return c.Errf("exempt: %v", err)
		}
		p.cfg.exempt = append(p.cfg.exempt, nets...)
		return nil
	}
	if len(args) != 1 {
		return c.ArgErr()
	}
	if err := p.value(prop, args[0]); err != nil {
		return c.Errf("%s: %v", prop, err)
	}
	return nil
}

// value sets the property prop that takes the single argument arg.
func (p *rrlParse) value(prop, arg string) error {
	if cat, ok := rateKeywords[prop]; ok {
		n, err := intIn(arg, 0, maxRate)
		if err != nil {
			return err
		}
		p.rates[cat], p.ratesSet[cat] = n, true
		return nil
	}
	var err error
	switch prop {
	case "window":
		p.cfg.window, err = parseWindow(arg)
	case "slip":
		p.cfg.slip, err = intIn(arg, 0, maxSlip)
	case "ipv4-prefix-length":
		p.cfg.ipv4Bits, err = intIn(arg, 0, 32)
	case "ipv6-prefix-length":
		p.cfg.ipv6Bits, err = intIn(arg, 0, 128)
	case "max-table-size":
		p.cfg.maxTableSize, err = intIn(arg, 1, maxTableSize)
	}
	return err
}

// finish returns the config, each category's rate not given defaulting
// to responses-per-second.
func (p *rrlParse) finish() config {
	for cat := range numCategories {
		p.cfg.rates[cat] = p.rates[cat]
		if !p.ratesSet[cat] && cat != catResponse {
			p.cfg.rates[cat] = p.rates[catResponse]
		}
	}
	return p.cfg
}

// intIn parses s as an integer from lo to hi.
func intIn(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

// parseWindow reads a window in whole seconds, as BIND's, or as a
// duration such as 15s.
func parseWindow(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if n, aerr := strconv.Atoi(s); aerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < time.Second || d > maxWindow {
		return 0, fmt.Errorf("%q is not a number of seconds from 1 to %d", s, int(maxWindow/time.Second))
	}
	return d, nil
}
