package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// authenticator checks bearer tokens against the tokens file, then MCIAS.
type authenticator struct {
	log      Logger
	tokens   *tokenFile
	mcias    *mcias
	mciasErr error
	fails    *failLimiter
}

func newAuthenticator(cfg *Config, log Logger) *authenticator {
	a := &authenticator{log: log, fails: newFailLimiter()}
	if cfg.TokensFile != "" {
		a.tokens = newTokenFile(cfg.TokensFile, log)
	}
	if cfg.MCIAS != nil {
		m, err := newMCIAS(cfg.MCIAS)
		if err != nil {
			// Parse already loaded ca_cert; if it broke since, deny.
			log.Errorf("api: mcias: %v", err)
			a.mciasErr = fmt.Errorf("identity service not usable: %w", err)
		}
		a.mcias = m
	}
	return a
}

// closeIdle is called when the server stops: it closes idle connections to
// MCIAS and withdraws the tokens file from the API's metrics.
func (a *authenticator) closeIdle() {
	if a.mcias != nil {
		a.mcias.closeIdle()
	}
	if a.tokens != nil {
		a.tokens.release()
	}
}

// Healthy reports whether the API can authenticate as configured: nil when
// it can, else why not, such as a tokens file that fails to parse (or
// cannot be read) and so grants nothing until it is fixed. The tokens file
// is checked again if it was not within the last second.
func (s *Server) Healthy() error {
	var errs []error
	if s.auth.tokens != nil {
		if err := s.auth.tokens.health(); err != nil {
			errs = append(errs, fmt.Errorf("api: tokens file grants nothing until fixed: %w", err))
		}
	}
	if s.auth.mciasErr != nil {
		errs = append(errs, fmt.Errorf("api: mcias: %w", s.auth.mciasErr))
	}
	return errors.Join(errs...)
}

var errNoToken = errors.New("missing bearer token")

// bearer extracts the token of an "Authorization: Bearer TOKEN" header.
// PowerDNS's API paths (/api) also take the token from X-API-Key, the
// header PowerDNS clients send.
func bearer(r *http.Request) (string, error) {
	if k := strings.TrimSpace(r.Header.Get("X-API-Key")); k != "" && (r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")) {
		return k, nil
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errNoToken
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errNoToken
	}
	return tok, nil
}

// known returns who presented tok when that is settled without asking
// anyone: the tokens file, or a valid verdict MCIAS gave recently.
func (a *authenticator) known(tok string) (Principal, tokenHash, bool) {
	h := hashToken(tok)
	if a.tokens != nil {
		if p, ok := a.tokens.lookup(h); ok {
			return p, h, true
		}
	}
	if a.mcias != nil && a.mciasErr == nil {
		if p, ok := a.mcias.cachedValid(h); ok {
			return p, h, true
		}
	}
	return Principal{}, h, false
}

// authenticate returns who presented the token tok with hash h, asking
// MCIAS when the tokens file does not know it.
func (a *authenticator) authenticate(ctx context.Context, tok string, h tokenHash) (Principal, error) {
	if a.tokens != nil {
		if p, ok := a.tokens.lookup(h); ok {
			return p, nil
		}
	}
	if a.mciasErr != nil {
		return Principal{}, a.mciasErr
	}
	if a.mcias != nil {
		return a.mcias.validate(ctx, tok, h)
	}
	return Principal{}, errors.New("unknown token")
}

type principalKey struct{}

// principalFrom returns the authenticated principal of a request.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// require wraps h so it runs only for a valid token holding role ("" for
// any valid token).
//
// A token known valid (tokens file, recent MCIAS verdict) is settled
// locally and passes whatever the client's address has failed before, so
// failures sent from the same address (the API usually listens on
// loopback, shared by every local process) cannot lock out its holders.
// Any other attempt first takes one of the client's limited attempts,
// given back if the token proves valid, so a client that keeps failing
// (even in parallel, even against a slow identity service) is answered 429
// before MCIAS is asked. Failures are logged without the token.
func (s *Server) require(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := bearer(r)
		var p Principal
		ok := false
		var th tokenHash
		if err == nil {
			p, th, ok = s.auth.known(tok)
		}
		if !ok {
			key := clientKey(r.RemoteAddr)
			if allowed, wait := s.auth.fails.take(key); !allowed {
				tooManyFailures(w, wait)
				return
			}
			if err == nil {
				p, err = s.auth.authenticate(r.Context(), tok, th)
			}
			if err == nil || errors.Is(err, errMCIASUnavailable) {
				// Not held against the client: the token was good,
				// or the identity service, not the token, failed.
				s.auth.fails.refund(key)
			}
		}
		if err != nil {
			s.log.Warningf("api: authentication failed from %q for %s: %q", r.RemoteAddr, requestLine(r), err)
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcns"`)
			if errors.Is(err, errMCIASUnavailable) {
				writeError(w, http.StatusUnauthorized, "auth_unavailable", "token could not be validated; retry later")
				return
			}
			writeError(w, http.StatusUnauthorized, "unauthenticated", "missing or invalid bearer token")
			return
		}
		if role != "" && !p.Has(role) {
			s.log.Warningf("api: %q (%s) from %q lacks role %s for %s", p.Name, p.Source, r.RemoteAddr, role, requestLine(r))
			writeError(w, http.StatusForbidden, "forbidden", "this call needs the "+role+" role")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, &p)))
	}
}

func tooManyFailures(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeError(w, http.StatusTooManyRequests, "too_many_failures", "too many failed authentication attempts; retry later")
}
