package api

import (
	"crypto/tls"
	"os"
	"sync"
	"time"
)

// certReloadEvery is how often, at most, the certificate files are checked
// for a renewal during handshakes.
const certReloadEvery = 10 * time.Second

// certLoader serves the tls CERT KEY pair and picks up a renewed pair
// (e.g. by an ACME client) without a restart. A pair that fails to load is
// logged and the previous one kept.
type certLoader struct {
	certFile, keyFile string
	log               Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]time.Time
	checked time.Time
	lastErr string
}

func newCertLoader(certFile, keyFile string, log Logger) (*certLoader, error) {
	l := &certLoader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	cert, stamp, err := l.load()
	if err != nil {
		return nil, err
	}
	l.cert, l.stamp, l.checked = cert, stamp, l.now()
	return l, nil
}

func (l *certLoader) load() (*tls.Certificate, [2]time.Time, error) {
	var stamp [2]time.Time
	for i, f := range []string{l.certFile, l.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, stamp, err
		}
		stamp[i] = fi.ModTime()
	}
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return nil, stamp, err
	}
	return &cert, stamp, nil
}

// getCertificate is tls.Config.GetCertificate.
func (l *certLoader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.checked) < certReloadEvery {
		return l.cert, nil
	}
	l.checked = now
	var stamp [2]time.Time
	for i, f := range []string{l.certFile, l.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			stamp[i] = fi.ModTime()
		}
	}
	if stamp == l.stamp {
		return l.cert, nil
	}
	cert, stamp, err := l.load()
	if err != nil {
		if msg := err.Error(); msg != l.lastErr {
			l.lastErr = msg
			l.log.Errorf("api: reloading certificate: %v (keeping the previous one)", err)
		}
		return l.cert, nil
	}
	l.cert, l.stamp, l.lastErr = cert, stamp, ""
	l.log.Infof("api: reloaded certificate %s", l.certFile)
	return l.cert, nil
}
