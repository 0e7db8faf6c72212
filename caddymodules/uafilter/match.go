package uafilter

import (
	"net/http"
	"regexp"

	"github.com/gaissmai/bart"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/metacircular/edge/internal/clientaddr"
)

// ruleSet is an immutable compiled set of rules. Requests read it through
// an atomic pointer, so a reload never exposes a half-built set.
type ruleSet struct {
	ac         *automaton
	patterns   []compiledPattern // by automaton pattern id
	claims     []claimPattern    // by automaton claim id
	lists      []string          // metric label of each list
	counters   []prometheus.Counter
	blockRe    *regexp.Regexp // all block_regexp combined
	blockRes   []*regexp.Regexp
	regexpList int
	allowRe    *regexp.Regexp // all allow_regexp combined
	blockEmpty bool
	emptyList  int
	// By crawler index: the merged range files (or nil), the list that
	// refuses the verified crawler (a preset of its category, or -1) and
	// the list of spoofed claims.
	ranges      []*bart.Lite
	verifiedHit []int
	spoofedList []int
}

type compiledPattern struct {
	list     int
	pattern  string
	category string
}

// claimPattern is a crawler's User-Agent token in the automaton.
type claimPattern struct {
	crawler int
	token   string
}

// hit is a selected request: the list (index into ruleSet.lists, or -1
// for none), the pattern and the category of what matched.
type hit struct {
	list     int
	pattern  string
	category string
}

var noHit = hit{list: -1}

// matchRequest applies the rules to every User-Agent value of r. It
// returns the rule set it used and the selection. It does not allocate
// unless a block_regexp selects the request or a crawler's address has to
// be looked up.
func (e *engine) matchRequest(r *http.Request) (*ruleSet, hit) {
	rs := e.set.Load()
	empty := true
	for _, v := range r.Header["User-Agent"] {
		if v == "" {
			continue
		}
		empty = false
		if h := e.matchValue(rs, r, v); h.list >= 0 {
			return rs, h
		}
	}
	if empty && rs.blockEmpty {
		return rs, hit{list: rs.emptyList}
	}
	return rs, noHit
}

// matchValue applies the rules to one User-Agent value.
func (e *engine) matchValue(rs *ruleSet, r *http.Request, ua string) hit {
	res := scanResult{block: -1, claim: -1}
	if rs.ac != nil {
		res = rs.ac.scanToClaim(ua)
	}
	if res.claim >= 0 {
		cl := rs.claims[res.claim]
		c := &crawlers[cl.crawler]
		switch e.verifyClaim(rs, r, cl.crawler) {
		case claimVerified:
			e.claimCounters[cl.crawler].verified.Inc()
			if l := rs.verifiedHit[cl.crawler]; l >= 0 {
				return hit{list: l, pattern: cl.token, category: c.category}
			}
			return noHit
		case claimSpoofed:
			e.claimCounters[cl.crawler].spoofed.Inc()
			switch e.rules.VerifyBots.policy() {
			case spoofedBlock:
				return hit{list: rs.spoofedList[cl.crawler], pattern: cl.token, category: c.category}
			case spoofedLog:
				if ce := e.logger.Check(zapcore.InfoLevel, "spoofed crawler User-Agent"); ce != nil {
					ce.Write(zap.String("crawler", c.name), zap.String("user_agent", ua), zap.String("client_ip", clientIP(r)))
				}
			}
		}
		res = rs.ac.scan(ua) // judged like any other User-Agent
	}
	if res.allowed {
		return noHit
	}
	var h hit
	if res.block >= 0 {
		p := rs.patterns[res.block]
		h = hit{list: p.list, pattern: p.pattern, category: p.category}
	} else if rs.blockRe != nil && rs.blockRe.MatchString(ua) {
		h.list = rs.regexpList
		for _, re := range rs.blockRes {
			if re.MatchString(ua) {
				h.pattern = re.String()
				break
			}
		}
	} else {
		return noHit
	}
	if rs.allowRe != nil && rs.allowRe.MatchString(ua) {
		return noHit
	}
	return h
}

// verifyClaim checks the client address of r against crawler c.
func (e *engine) verifyClaim(rs *ruleSet, r *http.Request, c int) claimVerdict {
	ip, ok := clientaddr.Of(r)
	if !ok {
		return claimSpoofed
	}
	if t := rs.ranges[c]; t != nil && t.Contains(ip) {
		return claimVerified
	}
	return e.rdns.verified(ip, c)
}

// claimCounter counts a crawler's verified and spoofed claims.
type claimCounter struct {
	verified, spoofed prometheus.Counter
}
