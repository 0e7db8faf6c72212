// Package api is mcns's HTTPS management API for zones and records.
//
// Every write goes through the store, which enforces DNS's rules inside the
// write's transaction; this package adds authentication, limits, JSON and
// the listener's lifecycle.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/pkg/reuseport"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// Timeouts and limits of the HTTP server.
const (
	maxBodyBytes      = 64 << 10
	maxHeaderBytes    = 16 << 10
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 10 * time.Second
)

// Logger is what the API logs through; CoreDNS's plugin logger satisfies it.
type Logger interface {
	Infof(format string, v ...any)
	Warningf(format string, v ...any)
	Errorf(format string, v ...any)
}

// Config is the Corefile's api block.
type Config struct {
	Addr              string
	CertFile, KeyFile string
	// InsecurePlaintext serves plain HTTP; Parse allows it only on loopback.
	InsecurePlaintext bool
	TokensFile        string
	MCIAS             *MCIASConfig
	SnapshotDir       string
	SnapshotKeep      int
	// AllowZones is mcns's allow_zones: zones may be created only when it
	// is set (the store keeps every write inside it).
	AllowZones []string
	// Log receives the API's log lines; nil means CoreDNS's log.
	Log Logger
}

// Server serves the API for one store.
type Server struct {
	cfg      *Config
	store    backend
	onChange func(zone string)
	log      Logger
	auth     *authenticator
	handler  http.Handler
	certs    *certLoader // nil for plaintext

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// New returns a server; onChange is called after every successful write
// with the zone that changed, so the DNS side can swap its snapshot at once.
func New(cfg *Config, st *store.Store, onChange func(zone string)) *Server {
	return newServer(cfg, st, onChange)
}

// newServer takes the store as an interface so tests can also run the
// HTTP layer over a fake.
func newServer(cfg *Config, st backend, onChange func(zone string)) *Server {
	if onChange == nil {
		onChange = func(string) {}
	}
	var log Logger = clog.NewWithPlugin("mcns")
	if cfg.Log != nil {
		log = cfg.Log
	}
	s := &Server{cfg: cfg, store: st, onChange: onChange, log: log}
	s.auth = newAuthenticator(cfg, log)
	s.handler = s.routes()
	return s
}

// Handler returns the API's HTTP handler, without a listener.
func (s *Server) Handler() http.Handler { return s.handler }

// Start begins listening. It may be called again after Stop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("api: already started")
	}
	var tlsCfg *tls.Config
	if !s.cfg.InsecurePlaintext {
		certs, err := newCertLoader(s.cfg.CertFile, s.cfg.KeyFile, s.log)
		if err != nil {
			return fmt.Errorf("api: loading %s and %s: %w", s.cfg.CertFile, s.cfg.KeyFile, err)
		}
		s.certs = certs
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate}
	}
	// SO_REUSEPORT, as CoreDNS's own listeners use: on a Corefile reload
	// the new instance starts before the old one stops, on the same port.
	ln, err := reuseport.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Errorf("api: serving on %s: %v", ln.Addr(), err)
		}
	}()
	s.srv, s.ln, s.done = srv, ln, done
	scheme := "https"
	if tlsCfg == nil {
		scheme = "http"
	}
	s.log.Infof("api: listening on %s://%s", scheme, ln.Addr())
	return nil
}

// Addr is the address the server listens on, or nil when it is stopped.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop shuts down, letting requests in flight finish for up to
// shutdownTimeout before their connections are closed.
func (s *Server) Stop() error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv, s.ln, s.done = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	<-done
	s.auth.closeIdle()
	return err
}
