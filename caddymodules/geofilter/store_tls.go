package geofilter

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/caddyserver/caddy/v2"
)

// StoreTLS is how the store's TLS connection (a rediss:// URL) is
// verified and authenticated, for a server whose certificate is not
// signed by a CA in the system's roots, or that asks for client
// certificates.
type StoreTLS struct {
	// PEM file of the CA certificates that sign the server's certificate;
	// they replace the system's roots. Default: the system's roots.
	CACert string `json:"ca_cert,omitempty"`
	// PEM files of the client certificate (and its chain) and its key,
	// presented to a server that asks for one (mutual TLS).
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
	// Name the server's certificate must be valid for, when it is not the
	// URL's host (such as a server reached by its address).
	ServerName string `json:"server_name,omitempty"`
}

// validate checks t's settings against the store's url, which may still
// hold placeholders (then the scheme is checked once they are replaced).
func (t *StoreTLS) validate(rawURL string) error {
	if t == nil {
		return nil
	}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		return errors.New("store: tls: a client certificate needs both its certificate and key files")
	}
	if t.CACert == "" && t.ClientCert == "" && t.ServerName == "" {
		return errors.New("store: tls: no TLS option set")
	}
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "redis" {
		return fmt.Errorf("store: TLS options need a rediss:// URL, got %s", redactURL(rawURL))
	}
	return nil
}

// withPlaceholders returns a copy of t with the placeholders in its
// file names and server name replaced, as in the URL.
func (t *StoreTLS) withPlaceholders(repl *caddy.Replacer) *StoreTLS {
	if t == nil {
		return nil
	}
	return &StoreTLS{
		CACert:     repl.ReplaceAll(t.CACert, ""),
		ClientCert: repl.ReplaceAll(t.ClientCert, ""),
		ClientKey:  repl.ReplaceAll(t.ClientKey, ""),
		ServerName: repl.ReplaceAll(t.ServerName, ""),
	}
}

// loadedTLS is a StoreTLS with its files read: the settings to apply to
// the client, and a fingerprint of the files' contents, so that a config
// reload after a certificate rotation makes a new client.
type loadedTLS struct {
	roots       *x509.CertPool
	certs       []tls.Certificate
	serverName  string
	fingerprint string
}

// load reads t's files; a nil t loads as nothing to apply.
func (t *StoreTLS) load() (*loadedTLS, error) {
	lt := &loadedTLS{}
	if t == nil {
		return lt, nil
	}
	lt.serverName = t.ServerName
	h := sha256.New()
	if t.CACert != "" {
		pem, err := os.ReadFile(t.CACert)
		if err != nil {
			return nil, fmt.Errorf("store: tls: reading the CA certificates: %w", err)
		}
		lt.roots = x509.NewCertPool()
		if !lt.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store: tls: no PEM certificate in %s", t.CACert)
		}
		h.Write(pem)
	}
	if t.ClientCert != "" {
		certPEM, err := os.ReadFile(t.ClientCert)
		if err != nil {
			return nil, fmt.Errorf("store: tls: reading the client certificate: %w", err)
		}
		keyPEM, err := os.ReadFile(t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("store: tls: reading the client key: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("store: tls: client certificate %s and key %s: %w", t.ClientCert, t.ClientKey, err)
		}
		lt.certs = []tls.Certificate{cert}
		h.Write(certPEM)
		h.Write(keyPEM)
	}
	lt.fingerprint = fmt.Sprintf("%s|%s", t.ServerName, hex.EncodeToString(h.Sum(nil)))
	return lt, nil
}

// apply sets lt on the TLS config that go-redis made from a rediss:// URL
// (nil for redis://, which validate has refused with TLS options). TLS
// 1.2 is the oldest version offered.
func (lt *loadedTLS) apply(c *tls.Config) {
	if c == nil {
		return
	}
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	if lt.roots != nil {
		c.RootCAs = lt.roots
	}
	if lt.certs != nil {
		c.Certificates = lt.certs
	}
	if lt.serverName != "" {
		c.ServerName = lt.serverName
	}
}
