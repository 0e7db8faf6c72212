package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coredns/coredns/plugin/pkg/cache"
	"golang.org/x/sync/singleflight"
)

const (
	mciasCacheTTL = 30 * time.Second
	mciasTimeout  = 5 * time.Second
	mciasMaxBody  = 64 << 10
	// mciasMaxEntries bounds the verdict cache, so a flood of distinct
	// tokens costs memory only up to it; beyond it, cached verdicts are
	// evicted at random and asked for again.
	mciasMaxEntries = 10000
)

// errMCIASUnavailable marks verdicts that are not cached: the service could
// not be asked or asked to retry later, so the request is denied (fail
// closed) but may succeed soon, and the client is not charged a failure.
var errMCIASUnavailable = errors.New("identity service unavailable")

// mcias validates bearer tokens with the platform's identity service and
// caches its verdicts, keyed by the token's SHA-256, for mciasCacheTTL.
type mcias struct {
	cfg    *MCIASConfig
	client *http.Client
	now    func() time.Time

	// flight makes concurrent requests with the same uncached token share
	// one validation call.
	flight singleflight.Group

	verdicts *cache.Cache[mciasVerdict]
}

type mciasResult struct {
	p   Principal
	err error
}

type mciasVerdict struct {
	token   tokenHash // the full hash: the cache's key is only part of it
	p       Principal
	ok      bool
	reason  string
	expires time.Time
}

// mciasRequest is the validation call's body; the token also travels in the
// Authorization header, so either style of service accepts it.
type mciasRequest struct {
	Token       string   `json:"token"`
	ServiceName string   `json:"service_name,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// mciasAnswer accepts the usual spellings of the user's name.
type mciasAnswer struct {
	Valid    *bool    `json:"valid"`
	Username string   `json:"username"`
	User     string   `json:"user"`
	Subject  string   `json:"sub"`
	Roles    []string `json:"roles"`
}

func newMCIAS(cfg *MCIASConfig) (*mcias, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pool, err := loadCertPool(cfg.CACert)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               nil, // the identity service is reached directly
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: mciasTimeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	return &mcias{
		cfg:      cfg,
		client:   &http.Client{Transport: tr, Timeout: mciasTimeout, CheckRedirect: noRedirects},
		now:      time.Now,
		verdicts: cache.New[mciasVerdict](mciasMaxEntries),
	}, nil
}

// verdictKey is the cache key of a token hash: its first 64 bits, which
// are as uniform as the whole. Two tokens sharing them are told apart by
// the full hash kept in the verdict.
func verdictKey(h tokenHash) uint64 { return binary.BigEndian.Uint64(h[:8]) }

// verdict returns the unexpired cached verdict for h.
func (m *mcias) verdict(h tokenHash, now time.Time) (mciasVerdict, bool) {
	v, hit := m.verdicts.Get(verdictKey(h))
	if !hit || v.token != h || !now.Before(v.expires) {
		return mciasVerdict{}, false
	}
	return v, true
}

// noRedirects keeps the token from being replayed to wherever a redirect
// points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// cachedValid returns the principal of a token MCIAS recently said is
// valid, without asking it.
func (m *mcias) cachedValid(h tokenHash) (Principal, bool) {
	if v, hit := m.verdict(h, m.now()); hit && v.ok {
		return v.p, true
	}
	return Principal{}, false
}

// validate returns the principal for tok, or an error saying why not.
func (m *mcias) validate(ctx context.Context, tok string, h tokenHash) (Principal, error) {
	now := m.now()
	if v, hit := m.verdict(h, now); hit {
		if v.ok {
			return v.p, nil
		}
		return Principal{}, errors.New(v.reason)
	}
	// The call is detached from this request's cancellation, since other
	// requests may be waiting on it; ask has its own timeout.
	res, _, _ := m.flight.Do(string(h[:]), func() (any, error) {
		p, err := m.ask(context.WithoutCancel(ctx), tok)
		return mciasResult{p, err}, nil
	})
	p, err := res.(mciasResult).p, res.(mciasResult).err
	if errors.Is(err, errMCIASUnavailable) {
		return Principal{}, err
	}
	v := mciasVerdict{token: h, p: p, ok: err == nil, expires: now.Add(mciasCacheTTL)}
	if err != nil {
		v.reason = err.Error()
	}
	m.verdicts.Add(verdictKey(h), v)
	return p, err
}

// ask makes the validation call: 200 with a user name means valid; no
// answer, or one of retryLater's, means unavailable; any other answer
// means invalid.
func (m *mcias) ask(ctx context.Context, tok string) (Principal, error) {
	body, _ := json.Marshal(mciasRequest{Token: tok, ServiceName: m.cfg.ServiceName, Tags: m.cfg.Tags})
	ctx, cancel := context.WithTimeout(ctx, mciasTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.cfg.URL+m.cfg.ValidatePath, bytes.NewReader(body))
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", errMCIASUnavailable, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", errMCIASUnavailable, scrub(err, tok))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, mciasMaxBody))
	switch {
	case retryLater(resp.StatusCode):
		return Principal{}, fmt.Errorf("%w: status %d", errMCIASUnavailable, resp.StatusCode)
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %v", errMCIASUnavailable, err)
	case resp.StatusCode != http.StatusOK:
		return Principal{}, fmt.Errorf("identity service rejected the token (status %d)", resp.StatusCode)
	}
	var a mciasAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return Principal{}, fmt.Errorf("identity service answer: %v", err)
	}
	if a.Valid != nil && !*a.Valid {
		return Principal{}, errors.New("identity service says the token is not valid")
	}
	name := firstNonEmpty(a.Username, a.User, a.Subject)
	if name == "" {
		return Principal{}, errors.New("identity service answer carries no user name")
	}
	return Principal{Name: name, Roles: a.Roles, Source: "mcias"}, nil
}

// retryLater reports whether an answer's status says MCIAS could not judge
// the token now, rather than that the token is bad: a server error, or 408
// Request Timeout, 425 Too Early or 429 Too Many Requests.
func retryLater(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// scrub keeps the token out of an error that might quote the request.
func scrub(err error, tok string) error {
	if tok == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), tok, "<token>"))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (m *mcias) closeIdle() { m.client.CloseIdleConnections() }
