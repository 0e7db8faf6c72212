package mcns

import (
	"slices"
	"strconv"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
	"github.com/metacircular/edge/corednsplugin/mcns/store"
	"github.com/metacircular/edge/internal/netlist"
	"github.com/metacircular/edge/internal/version"
)

const pluginName = "mcns"

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	m := New(cfg, plugin.OriginsFromArgsOrServerBlock(nil, c.ServerBlockKeys))
	if len(cfg.updates) > 0 {
		// The server drops opcodes no plugin asked for before any plugin
		// (tsig included) sees them.
		dnsserver.GetConfig(c).AllowOpcode(dns.OpcodeUpdate)
	}
	// NOTIFY goes out through the transfer plugin of this server block, as
	// the file and dynupdate plugins do. Registered before Start, so the
	// first load already finds it.
	c.OnStartup(func() error {
		if h := dnsserver.GetConfig(c).Handler("transfer"); h != nil {
			if t, ok := h.(*transfer.Transfer); ok {
				m.xfer.Store(t)
			}
		}
		return nil
	})
	// The database is opened on startup, not here, so a Corefile that fails
	// to load leaves no handle open; OnShutdown closes it on reload and
	// exit, and a reload that fails after Start stops it (see reload.go).
	g := groupFor(c)
	c.OnStartup(func() error {
		if err := m.Start(); err != nil {
			return err
		}
		g.started(m)
		return nil
	})
	c.OnShutdown(m.Stop)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
	version.AnnounceDefault(pluginName, log.Infof)
	return nil
}

// defaultRefresh is how often the database is checked for changes made by
// other writers (pdnsutil, the sqlite3 shell, another process).
const defaultRefresh = time.Second

// config is what the Corefile says about one mcns instance.
type config struct {
	dbPath  string
	seeds   []string
	refresh time.Duration
	api     *api.Config

	// recursion lists the clients whose queries for other names go on to
	// the next plugin (nil: defaultRecursionNets); see recursion.go.
	recursion netlist.List
	// answerCache is the number of replies kept per zone generation: 0
	// sized to the zone, < 0 off (see answercache.go).
	answerCache int
	// allowZones are the suffixes zones may be created or changed under;
	// nil: any zone may be changed, none created through the API.
	allowZones []string

	// updates maps a zone to the TSIG key names allowed to UPDATE it.
	updates map[string]map[string]bool
	// updatePolicy narrows what some keys may change (updatepolicy.go).
	updatePolicy updatePolicy
	// maxUpdateRecords bounds one UPDATE's records; 0: the default.
	maxUpdateRecords int
	// journalEntries and journalAge bound each zone's IXFR journal; zero
	// means the default, negative means off (entries) or unlimited (age).
	journalEntries int
	journalAge     time.Duration
}

// journalLimits are the store's journal limits for this config.
func (c config) journalLimits() (int, time.Duration) {
	entries, age := c.journalEntries, c.journalAge
	if entries == 0 {
		entries = store.DefaultJournalEntries
	}
	if age == 0 {
		age = store.DefaultJournalAge
	}
	return max(entries, 0), max(age, 0)
}

// updateAllowed reports whether key may UPDATE zone.
func (c config) updateAllowed(zone, key string) bool { return c.updates[zone][key] }

// parse reads:
//
//	mcns DBPATH {
//	    seed FILE...
//	    refresh DURATION
//	    api ADDR { ... }
//	    update ZONE KEY...
//	    max_update_records COUNT
//	    journal ENTRIES [MAX_AGE]
//	    recursion_allow NET...
//	    allow_zones SUFFIX...
//	    answer_cache ENTRIES
//	}
func parse(c *caddy.Controller) (config, error) {
	cfg := config{refresh: defaultRefresh}
	i := 0
	for c.Next() {
		if i > 0 {
			return cfg, plugin.ErrOnce
		}
		i++
		args := c.RemainingArgs()
		if len(args) != 1 {
			return cfg, c.ArgErr()
		}
		cfg.dbPath = args[0]
		seen := map[string]bool{}
		for c.NextBlock() {
			name := c.Val()
			property, ok := properties[name]
			if !ok {
				return cfg, c.Errf("unknown property %q", name)
			}
			if property.once && seen[name] {
				return cfg, c.Errf("%s given twice", name)
			}
			seen[name] = true
			if err := property.parse(c, &cfg); err != nil {
				return cfg, err
			}
		}
	}
	if cfg.api != nil {
		cfg.api.AllowZones = cfg.allowZones
	}
	return cfg, nil
}

// property is one line (or block) of the mcns block: its parser, reading
// the arguments after the property's name, and whether it may be given
// only once (the others add up, or the last one counts).
type property struct {
	parse func(*caddy.Controller, *config) error
	once  bool
}

var properties = map[string]property{
	"seed":               {parse: parseSeed},
	"refresh":            {parse: parseRefresh},
	"api":                {parse: parseAPI, once: true},
	"update":             {parse: parseUpdate},
	"max_update_records": {parse: parseMaxUpdateRecords},
	"journal":            {parse: parseJournal, once: true},
	"recursion_allow":    {parse: parseRecursionAllow, once: true},
	"answer_cache":       {parse: parseAnswerCache},
	"allow_zones":        {parse: parseAllowZonesLine, once: true},
}

// parseSeed reads seed FILE...
func parseSeed(c *caddy.Controller, cfg *config) error {
	files := c.RemainingArgs()
	if len(files) == 0 {
		return c.ArgErr()
	}
	cfg.seeds = append(cfg.seeds, files...)
	return nil
}

// parseAPI reads the api block (api.Parse).
func parseAPI(c *caddy.Controller, cfg *config) error {
	a, err := api.Parse(c)
	if err != nil {
		return err
	}
	cfg.api = a
	return nil
}

// parseRecursionAllow reads recursion_allow NET...
func parseRecursionAllow(c *caddy.Controller, cfg *config) error {
	nets, err := netlist.Parse(c.RemainingArgs())
	if err != nil {
		return c.Errf("recursion_allow: %v", err)
	}
	cfg.recursion = nets
	return nil
}

// parseAllowZonesLine reads allow_zones SUFFIX...
func parseAllowZonesLine(c *caddy.Controller, cfg *config) error {
	zones, err := parseAllowZones(c.RemainingArgs())
	if err != nil {
		return c.Err(err.Error())
	}
	cfg.allowZones = zones
	return nil
}

// parseRefresh reads refresh DURATION.
func parseRefresh(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.ArgErr()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		return c.Errf("refresh %q: %v", args[0], err)
	}
	if d < 10*time.Millisecond || d > time.Second {
		return c.Errf("refresh %s: must be between 10ms and 1s", d)
	}
	cfg.refresh = d
	return nil
}

// parseUpdate reads update ZONE KEY..., keys the tsig plugin defines, and
// the zone's update_policy grants.
func parseUpdate(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) < 2 {
		return c.ArgErr()
	}
	zone := plugin.Name(args[0]).Normalize()
	if _, ok := dns.IsDomainName(zone); !ok {
		return c.Errf("update: bad zone name %q", args[0])
	}
	if blk := plugin.Zones(plugin.OriginsFromArgsOrServerBlock(nil, c.ServerBlockKeys)); len(blk) > 0 &&
		!slices.Contains(blk, ".") && blk.Matches(zone) == "" {
		return c.Errf("update %s: not inside this server block's zones %v", zone, []string(blk))
	}
	// Keys are the tsig plugin's: it validates the signature
	// before mcns sees the request.
	secrets := dnsserver.GetConfig(c).TsigSecret
	if cfg.updates == nil {
		cfg.updates = map[string]map[string]bool{}
	}
	if cfg.updates[zone] == nil {
		cfg.updates[zone] = map[string]bool{}
	}
	for _, k := range args[1:] {
		key := plugin.Name(k).Normalize()
		if _, ok := secrets[key]; !ok {
			return c.Errf("update %s: TSIG key %q is not defined by a tsig plugin in this server block", zone, key)
		}
		cfg.updates[zone][key] = true
	}
	if err := cfg.updatePolicy.parseGrants(c, zone, normalizeKeys(args[1:])); err != nil {
		return err
	}
	return nil
}

// parseJournal reads journal ENTRIES [MAX_AGE].
func parseJournal(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return c.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 || n > 1000000 {
		return c.Errf("journal %q: entries must be a number from 0 to 1000000", args[0])
	}
	cfg.journalEntries = n
	if n == 0 {
		cfg.journalEntries = -1
	}
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		if err != nil || d < 0 {
			return c.Errf("journal age %q: must be a duration such as 168h (0 for no limit)", args[1])
		}
		cfg.journalAge = d
		if d == 0 {
			cfg.journalAge = -1
		}
	}
	return nil
}

// parseAnswerCache reads answer_cache ENTRIES.
func parseAnswerCache(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 || n > 10000000 {
		return c.Errf("answer_cache %q: must be a number of replies from 0 (off) to 10000000", args[0])
	}
	cfg.answerCache = n
	if n == 0 {
		cfg.answerCache = -1
	}
	return nil
}
