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

func (a *authenticator) closeIdle() {
	if a.mcias != nil {
		a.mcias.closeIdle()
	}
}

var errNoToken = errors.New("missing bearer token")

// bearer extracts the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, error) {
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
// any valid token). A token known valid (tokens file, recent MCIAS verdict)
// passes straight through; any other attempt first takes one of the
// client's limited attempts, given back if the token proves valid, so a
// client that keeps failing (even in parallel, even against a slow identity
// service) is answered 429 before its token is looked at. Failures are
// logged without the token.
func (s *Server) require(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := clientKey(r.RemoteAddr)
		if blocked, wait := s.auth.fails.blocked(key); blocked {
			tooManyFailures(w, wait)
			return
		}
		tok, err := bearer(r)
		var p Principal
		ok := false
		var th tokenHash
		if err == nil {
			p, th, ok = s.auth.known(tok)
		}
		if !ok {
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
			s.log.Warningf("api: authentication failed from %s for %s %s: %v", r.RemoteAddr, r.Method, r.URL.Path, err)
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcns"`)
			if errors.Is(err, errMCIASUnavailable) {
				writeError(w, http.StatusUnauthorized, "auth_unavailable", "token could not be validated; retry later")
				return
			}
			writeError(w, http.StatusUnauthorized, "unauthenticated", "missing or invalid bearer token")
			return
		}
		if role != "" && !p.Has(role) {
			s.log.Warningf("api: %s (%s) from %s lacks role %s for %s %s", p.Name, p.Source, r.RemoteAddr, role, r.Method, r.URL.Path)
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
