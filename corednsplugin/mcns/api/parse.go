package api

import (
	"crypto/tls"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/coredns/caddy"
)

// MCIASConfig is the mcias sub-block: where and how to validate tokens
// with the platform's identity service.
type MCIASConfig struct {
	URL          string
	CACert       string
	ServiceName  string
	Tags         []string
	ValidatePath string
}

const (
	defaultValidatePath = "/v1/token/validate"
	defaultSnapshotKeep = 7
)

// Parse reads an api block; c is positioned on the "api" token:
//
//	api ADDR {
//	    tls CERT KEY
//	    insecure_plaintext
//	    tokens FILE
//	    mcias URL {
//	        ca_cert FILE
//	        service_name NAME
//	        tags TAG...
//	        validate_path PATH
//	    }
//	    snapshot_dir DIR
//	    snapshot_keep N
//	}
//
// The block is walked token by token rather than with NextBlock, whose
// nesting counter belongs to the enclosing mcns block; when Parse returns,
// c is on the api block's closing brace.
func Parse(c *caddy.Controller) (*Config, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return nil, c.ArgErr()
	}
	cfg := &Config{Addr: args[0], SnapshotKeep: defaultSnapshotKeep}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, c.Errf("api address %q: %v", cfg.Addr, err)
	}
	if !c.NextArg() || c.Val() != "{" {
		return nil, c.Errf("api %s needs a block with tls or insecure_plaintext and an authentication source", cfg.Addr)
	}
	for {
		if !c.Next() {
			return nil, c.EOFErr()
		}
		if c.Val() == "}" {
			break
		}
		if err := parseProperty(c, cfg); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.CertFile == "" && !cfg.InsecurePlaintext:
		return nil, c.Errf("api %s: tls CERT KEY is required (insecure_plaintext only on loopback)", cfg.Addr)
	case cfg.CertFile != "" && cfg.InsecurePlaintext:
		return nil, c.Errf("api %s: tls and insecure_plaintext exclude each other", cfg.Addr)
	case cfg.InsecurePlaintext && !isLoopback(host):
		return nil, c.Errf("api %s: insecure_plaintext is allowed only on a loopback address", cfg.Addr)
	case cfg.TokensFile == "" && cfg.MCIAS == nil:
		return nil, c.Errf("api %s: needs an authentication source (tokens or mcias)", cfg.Addr)
	}
	return cfg, nil
}

func parseProperty(c *caddy.Controller, cfg *Config) error {
	switch prop := c.Val(); prop {
	case "tls":
		args := c.RemainingArgs()
		if len(args) != 2 {
			return c.ArgErr()
		}
		if _, err := tls.LoadX509KeyPair(args[0], args[1]); err != nil {
			return c.Errf("tls: %v", err)
		}
		cfg.CertFile, cfg.KeyFile = args[0], args[1]
	case "insecure_plaintext":
		if len(c.RemainingArgs()) != 0 {
			return c.ArgErr()
		}
		cfg.InsecurePlaintext = true
	case "tokens":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		if _, err := loadTokensFile(args[0]); err != nil {
			return c.Errf("tokens: %v", err)
		}
		cfg.TokensFile = args[0]
	case "mcias":
		m, err := parseMCIAS(c)
		if err != nil {
			return err
		}
		cfg.MCIAS = m
	case "snapshot_dir":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		cfg.SnapshotDir = args[0]
	case "snapshot_keep":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > 10000 {
			return c.Errf("snapshot_keep %q: want a number from 1 to 10000", args[0])
		}
		cfg.SnapshotKeep = n
	case "{":
		return c.Err("unexpected '{'")
	default:
		return c.Errf("unknown api property %q", prop)
	}
	return nil
}

func parseMCIAS(c *caddy.Controller) (*MCIASConfig, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return nil, c.ArgErr()
	}
	u, err := url.Parse(args[0])
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, c.Errf("mcias URL %q: want https://host[:port][/path]", args[0])
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Tokens must not cross a network in the clear.
		if !isLoopback(u.Hostname()) {
			return nil, c.Errf("mcias URL %q: plain http only to a loopback address", args[0])
		}
	default:
		return nil, c.Errf("mcias URL %q: want https", args[0])
	}
	m := &MCIASConfig{URL: strings.TrimSuffix(args[0], "/"), ValidatePath: defaultValidatePath}
	if !c.NextArg() {
		return m, nil
	}
	if c.Val() != "{" {
		return nil, c.ArgErr()
	}
	for {
		if !c.Next() {
			return nil, c.EOFErr()
		}
		prop := c.Val()
		if prop == "}" {
			return m, nil
		}
		args := c.RemainingArgs()
		switch prop {
		case "ca_cert":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			if _, err := loadCertPool(args[0]); err != nil {
				return nil, c.Errf("ca_cert: %v", err)
			}
			m.CACert = args[0]
		case "service_name":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			m.ServiceName = args[0]
		case "tags":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			m.Tags = append(m.Tags, args...)
		case "validate_path":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			if !strings.HasPrefix(args[0], "/") {
				return nil, c.Errf("validate_path %q: want an absolute path", args[0])
			}
			m.ValidatePath = args[0]
		case "{":
			return nil, c.Err("unexpected '{'")
		default:
			return nil, c.Errf("unknown mcias property %q", prop)
		}
	}
}

// isLoopback reports whether host (from host:port) only ever means this
// machine; an empty host means every address and is not loopback.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
