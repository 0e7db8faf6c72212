package api

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	"github.com/metacircular/edge/internal/filewatch"
)

// certReloadEvery is how often, at most, the certificate files are checked
// for a renewal during handshakes.
const certReloadEvery = 10 * time.Second

// certSettlePolls is the settle period of the certificate files, in
// checks. Checks are at least certReloadEvery apart and a pair read
// half-way fails to load (it is kept out and retried once the files
// change again), so a renewal is taken at the first check that sees it.
const certSettlePolls = 0

// certLoader serves the tls CERT KEY pair and picks up a renewed pair
// (e.g. by an ACME client) without a restart. A pair that fails to load is
// logged once and the previous one kept.
type certLoader struct {
	certFile, keyFile string
	log               Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	files   [2]filewatch.Watcher // cert, key
	checked time.Time
	errs    filewatch.ErrorState
}

func newCertLoader(certFile, keyFile string, log Logger) (*certLoader, error) {
	l := &certLoader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	for i, path := range []string{certFile, keyFile} {
		l.files[i] = filewatch.Watcher{Path: path, SettlePolls: certSettlePolls}
	}
	stamps, err := l.stampFiles()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	for i := range l.files {
		l.files[i].Accept(stamps[i])
	}
	l.cert, l.checked = &cert, l.now()
	return l, nil
}

func (l *certLoader) stampFiles() ([2]filewatch.Stamp, error) {
	var stamps [2]filewatch.Stamp
	for i := range l.files {
		s, err := filewatch.StampFile(l.files[i].Path)
		if err != nil {
			return stamps, err
		}
		stamps[i] = s
	}
	return stamps, nil
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
	if err := l.reloadChanged(); err != nil && l.errs.Report(err) {
		l.log.Errorf("api: reloading certificate: %v (keeping the previous one)", err)
	}
	return l.cert, nil
}

// reloadChanged loads the pair again if either file has a settled new
// version. A pair that fails to load is not retried until a file changes.
func (l *certLoader) reloadChanged() error {
	var stamps [2]filewatch.Stamp
	due := false
	for i := range l.files {
		s, ready, err := l.files[i].Poll()
		if err != nil {
			return fmt.Errorf("%s: %w", l.files[i].Path, err)
		}
		stamps[i], due = s, due || ready
	}
	if !due {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	for i := range l.files {
		if !l.files[i].Unchanged(stamps[i], filewatch.Stamp{}) {
			return nil // written to while being read: wait for it to settle
		}
	}
	for i := range l.files {
		l.files[i].Accept(stamps[i])
	}
	if err != nil {
		return err
	}
	l.cert = &cert
	l.errs.Clear()
	l.log.Infof("api: reloaded certificate %s", l.certFile)
	return nil
}
