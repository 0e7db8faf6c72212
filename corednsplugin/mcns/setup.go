package mcns

import (
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
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
	// The database is opened on startup, not here, so a Corefile that fails
	// to load later leaves no handle open; OnShutdown closes it on reload
	// and exit.
	c.OnStartup(m.Start)
	c.OnShutdown(m.Stop)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
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
}

// parse reads:
//
//	mcns DBPATH {
//	    seed FILE...
//	    refresh DURATION
//	    api ADDR { ... }
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
		for c.NextBlock() {
			switch c.Val() {
			case "seed":
				files := c.RemainingArgs()
				if len(files) == 0 {
					return cfg, c.ArgErr()
				}
				cfg.seeds = append(cfg.seeds, files...)
			case "refresh":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return cfg, c.ArgErr()
				}
				d, err := time.ParseDuration(args[0])
				if err != nil {
					return cfg, c.Errf("refresh %q: %v", args[0], err)
				}
				if d < 10*time.Millisecond || d > time.Second {
					return cfg, c.Errf("refresh %s: must be between 10ms and 1s", d)
				}
				cfg.refresh = d
			case "api":
				if cfg.api != nil {
					return cfg, c.Err("only one api block is allowed")
				}
				a, err := api.Parse(c)
				if err != nil {
					return cfg, err
				}
				cfg.api = a
			default:
				return cfg, c.Errf("unknown property %q", c.Val())
			}
		}
	}
	return cfg, nil
}
