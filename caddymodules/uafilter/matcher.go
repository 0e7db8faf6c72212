package uafilter

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func init() {
	caddy.RegisterModule(MatchUserAgent{})
}

// MatchUserAgent matches requests whose User-Agent is selected by its
// rules — exactly the requests the uafilter handler with the same rules
// would refuse. Use it to compose other handling (rate limits, a tarpit, a
// different upstream, a custom response). Matches are counted in the
// caddy_uafilter_matched_total metric by list.
type MatchUserAgent struct {
	Rules

	eng    *engine
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (MatchUserAgent) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.user_agent",
		New: func() caddy.Module { return new(MatchUserAgent) },
	}
}

// Provision compiles the rules, reads list files and starts watching them.
func (m *MatchUserAgent) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	eng, err := provisionEngine(ctx, m.Rules, m.logger, matchedOpts)
	if err != nil {
		return err
	}
	m.eng = eng
	return nil
}

// Cleanup stops watching list files.
func (m *MatchUserAgent) Cleanup() error {
	m.eng.close()
	return nil
}

// Match returns true if the request is selected.
func (m *MatchUserAgent) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError returns true if the request is selected.
func (m *MatchUserAgent) MatchWithError(r *http.Request) (bool, error) {
	rs, hit := m.eng.matchRequest(r)
	if hit.list < 0 {
		return false, nil
	}
	rs.counters[hit.list].Inc()
	setVars(r, rs.lists[hit.list], hit.pattern, hit.category)
	if c := m.logger.Check(zapcore.DebugLevel, "User-Agent matched"); c != nil {
		c.Write(
			zap.String("list", rs.lists[hit.list]),
			zap.String("pattern", hit.pattern),
			zap.String("category", hit.category),
			zap.String("user_agent", r.Header.Get("User-Agent")),
		)
	}
	return true, nil
}

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchUserAgent)(nil)
	_ caddy.CleanerUpper                = (*MatchUserAgent)(nil)
	_ caddyhttp.RequestMatcher          = (*MatchUserAgent)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchUserAgent)(nil)
)
