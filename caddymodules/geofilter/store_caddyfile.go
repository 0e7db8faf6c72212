package geofilter

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// unmarshalStoreTLS parses one TLS option of the store block at the
// current token, if it is one; the names follow reverse_proxy's tls_*
// transport options. It reports whether the token was a TLS option.
func unmarshalStoreTLS(d *caddyfile.Dispenser, s *Store) (bool, error) {
	opt := d.Val()
	var want int
	switch opt {
	case "tls_ca_cert", "tls_server_name":
		want = 1
	case "tls_client_auth":
		want = 2
	default:
		return false, nil
	}
	args := d.RemainingArgs()
	if len(args) != want {
		return true, d.ArgErr()
	}
	if s.TLS == nil {
		s.TLS = &StoreTLS{}
	}
	t := s.TLS
	var set bool
	switch opt {
	case "tls_ca_cert":
		set, t.CACert = t.CACert != "", args[0]
	case "tls_server_name":
		set, t.ServerName = t.ServerName != "", args[0]
	case "tls_client_auth":
		set, t.ClientCert, t.ClientKey = t.ClientCert != "", args[0], args[1]
	}
	if set {
		return true, d.Errf("store: %s is set twice", opt)
	}
	return true, nil
}
