package mcns

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
)

const pluginName = "mcns"

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	m := &MCNS{config: cfg}
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
	return nil
}

// config is what the Corefile says about one mcns instance.
type config struct {
	dbPath string
	seeds  []string
}

// parse reads:
//
//	mcns DBPATH {
//	    seed FILE...
//	}
func parse(c *caddy.Controller) (config, error) {
	var cfg config
	for c.Next() {
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
			default:
				return cfg, c.Errf("unknown property %q", c.Val())
			}
		}
	}
	return cfg, nil
}
