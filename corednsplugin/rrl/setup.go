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
	cfg := config{
		window:       defaultWindow,
		slip:         defaultSlip,
		ipv4Bits:     defaultIPv4Bits,
		ipv6Bits:     defaultIPv6Bits,
		maxTableSize: defaultTableSize,
	}
	var zones []string
	rates := [numCategories]int{catResponse: defaultRate}
	ratesSet := [numCategories]bool{}
	seen := map[string]bool{}
	i := 0
	for c.Next() {
		if i > 0 {
			return cfg, nil, plugin.ErrOnce
		}
		i++
		zones = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for c.NextBlock() {
			prop := c.Val()
			if prop == "slip-ratio" {
				prop = "slip"
			}
			if _, ok := rateKeywords[prop]; !ok && !otherKeywords[prop] {
				return cfg, nil, c.Errf("unknown property %q", c.Val())
			}
			if seen[prop] && prop != "exempt" {
				return cfg, nil, c.Errf("%s given twice", prop)
			}
			seen[prop] = true
			if prop == "report-only" {
				if c.NextArg() {
					return cfg, nil, c.ArgErr()
				}
				cfg.reportOnly = true
				continue
			}
			args := c.RemainingArgs()
			if prop == "exempt" {
				nets, err := netlist.Parse(args)
				if err != nil {
					return cfg, nil, c.Errf("exempt: %v", err)
				}
				cfg.exempt = append(cfg.exempt, nets...)
				continue
			}
			if len(args) != 1 {
				return cfg, nil, c.ArgErr()
			}
			if cat, ok := rateKeywords[prop]; ok {
				n, err := intIn(args[0], 0, maxRate)
				if err != nil {
					return cfg, nil, c.Errf("%s: %v", prop, err)
				}
				rates[cat], ratesSet[cat] = n, true
				continue
			}
			var err error
			switch prop {
			case "window":
				cfg.window, err = parseWindow(args[0])
			case "slip":
				cfg.slip, err = intIn(args[0], 0, maxSlip)
			case "ipv4-prefix-length":
				cfg.ipv4Bits, err = intIn(args[0], 0, 32)
			case "ipv6-prefix-length":
				cfg.ipv6Bits, err = intIn(args[0], 0, 128)
			case "max-table-size":
				cfg.maxTableSize, err = intIn(args[0], 1, maxTableSize)
			}
			if err != nil {
				return cfg, nil, c.Errf("%s: %v", prop, err)
			}
		}
	}
	for cat := range numCategories {
		cfg.rates[cat] = rates[cat]
		if !ratesSet[cat] && cat != catResponse {
			cfg.rates[cat] = rates[catResponse]
		}
	}
	return cfg, zones, nil
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
