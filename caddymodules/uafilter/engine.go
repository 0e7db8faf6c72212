package uafilter

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/gaissmai/bart"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/metacircular/edge/internal/filewatch"
)

// engine owns the compiled rules of one handler or matcher instance and
// keeps them up to date with the list and range files.
type engine struct {
	rules    Rules
	logger   *zap.Logger
	counter  *prometheus.CounterVec
	reloads  *prometheus.CounterVec
	set      atomic.Pointer[ruleSet]
	files    []*listFile
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// With verify_bots: which crawlers can be verified, by index, their
	// counters, and reverse DNS.
	verifiable    []bool
	claimCounters []claimCounter
	rdns          *rdnsVerifier
}

// newEngine validates rules, reads the list files and compiles everything.
// Any problem is returned as a configuration error. counter counts
// selected requests by list; it may be nil.
func newEngine(ctx caddy.Context, rules Rules, logger *zap.Logger, counter, reloads *prometheus.CounterVec) (*engine, error) {
	return newEngineWith(ctx, rules, logger, counter, reloads, nil)
}

// newEngineWith is newEngine with the metrics of verify_bots (nil: outside
// any registry).
func newEngineWith(ctx caddy.Context, rules Rules, logger *zap.Logger, counter, reloads *prometheus.CounterVec, vm *verifyMetrics) (*engine, error) {
	if err := rules.validate(); err != nil {
		return nil, err
	}
	e := &engine{rules: rules, logger: logger, counter: counter, reloads: reloads}
	repl := caddy.NewReplacer()
	seen := make(map[string]bool)
	addFile := func(f *listFile) error {
		f.path = repl.ReplaceKnown(f.path, "")
		key := f.what + "\x00" + f.path
		if seen[key] {
			return nil
		}
		seen[key] = true
		c, stamp, err := f.read()
		if err != nil {
			return err
		}
		f.watch = filewatch.Watcher{Path: f.path, SettlePolls: stablePolls}
		f.watch.Accept(stamp)
		f.content = c
		if f.crawler < 0 {
			f.label = "file:" + f.path
		} else {
			f.label = "ranges:" + crawlers[f.crawler].name + ":" + f.path
		}
		e.files = append(e.files, f)
		return nil
	}
	for _, name := range rules.ListFile {
		if err := addFile(&listFile{path: name, what: "list_file", crawler: -1, parse: parseUAList}); err != nil {
			return nil, err
		}
	}
	if vb := rules.VerifyBots; vb != nil {
		if vm == nil {
			vm = unregisteredVerifyMetrics()
		}
		e.rdns = newRDNSVerifier(vb, vm.lookups, vm.latency)
		e.verifiable = make([]bool, len(crawlers))
		e.claimCounters = make([]claimCounter, len(crawlers))
		for i, c := range crawlers {
			e.verifiable[i] = len(e.rdns.suffixes[i]) > 0 || len(vb.Ranges[c.name]) > 0
			e.claimCounters[i] = claimCounter{
				verified: vm.claims.WithLabelValues(c.name, "verified"),
				spoofed:  vm.claims.WithLabelValues(c.name, "spoofed"),
			}
			for _, path := range vb.Ranges[c.name] {
				if err := addFile(&listFile{path: path, what: "ranges", crawler: i, parse: rangeContent}); err != nil {
					return nil, fmt.Errorf("verify_bots: %v", err)
				}
			}
		}
	}
	rs, err := e.build()
	if err != nil {
		return nil, err
	}
	e.set.Store(rs)
	if len(e.files) > 0 || e.rdns != nil {
		interval := time.Duration(rules.ReloadInterval)
		if interval <= 0 {
			interval = defaultReloadInterval
		}
		e.stop = make(chan struct{})
		e.done = make(chan struct{})
		go e.watch(ctx.Done(), interval)
	}
	return e, nil
}

// rangeContent parses a range file as watched-file content.
func rangeContent(name string, data []byte) (fileContent, error) {
	p, err := parseRangeFile(name, data)
	return fileContent{prefixes: p}, err
}

// build compiles the current rules and list file contents. Lists are
// numbered in the order they are added: literal lists, the crawlers'
// spoofed lists, then the regexp and empty lists.
func (e *engine) build() (*ruleSet, error) {
	rs := &ruleSet{regexpList: -1, emptyList: -1, blockEmpty: e.rules.BlockEmpty}
	var acp []acPattern
	categoryList := e.buildLiteralLists(rs, &acp)
	for _, p := range e.rules.Allow {
		text, ws, we := wordPattern(p)
		acp = append(acp, acPattern{text: text, allow: true, id: -1, wordStart: ws, wordEnd: we})
	}
	if e.rules.VerifyBots != nil {
		e.buildVerification(rs, categoryList, &acp)
	}
	if err := e.buildRegexps(rs); err != nil {
		return nil, err
	}
	if e.rules.BlockEmpty {
		rs.emptyList = len(rs.lists)
		rs.lists = append(rs.lists, "empty")
	}
	ac, err := sharedAutomaton(acp)
	if err != nil {
		return nil, err
	}
	rs.ac = ac
	rs.counters = e.listCounters(rs.lists)
	return rs, nil
}

// buildLiteralLists adds the inline, preset and list-file lists to rs and
// their patterns to acp. It returns the list of each category of the
// configured presets (the first preset naming it).
func (e *engine) buildLiteralLists(rs *ruleSet, acp *[]acPattern) map[string]int {
	addList := func(label string, entries []listEntry) int {
		idx := len(rs.lists)
		rs.lists = append(rs.lists, label)
		for _, en := range entries {
			text, ws, we := wordPattern(en.pattern)
			*acp = append(*acp, acPattern{text: text, id: int32(len(rs.patterns)), wordStart: ws, wordEnd: we})
			rs.patterns = append(rs.patterns, compiledPattern{list: idx, pattern: en.pattern, category: en.category})
		}
		return idx
	}
	if len(e.rules.Block) > 0 {
		entries := make([]listEntry, len(e.rules.Block))
		for i, p := range e.rules.Block {
			entries[i] = listEntry{pattern: p}
		}
		addList("inline", entries)
	}
	categoryList := map[string]int{}
	seen := make(map[string]bool)
	for _, name := range e.rules.Preset {
		if seen[name] {
			continue
		}
		seen[name] = true
		cats, _ := presetCategories(name)
		var entries []listEntry
		for _, cat := range cats {
			for _, pe := range presets[cat].entries {
				entries = append(entries, listEntry{pattern: pe.pattern, category: cat})
			}
		}
		idx := addList("preset:"+name, entries)
		for _, cat := range cats {
			if _, ok := categoryList[cat]; !ok {
				categoryList[cat] = idx
			}
		}
	}
	for _, f := range e.files {
		if f.crawler < 0 {
			addList(f.label, f.content.entries)
		}
	}
	return categoryList
}

// buildRegexps compiles block_regexp (one list for all expressions) and
// allow_regexp into rs.
func (e *engine) buildRegexps(rs *ruleSet) error {
	if len(e.rules.BlockRegexp) > 0 {
		rs.regexpList = len(rs.lists)
		rs.lists = append(rs.lists, "regexp")
		for _, expr := range e.rules.BlockRegexp {
			re, err := compileRegexp(expr)
			if err != nil {
				return fmt.Errorf("block_regexp: %v", err)
			}
			rs.blockRes = append(rs.blockRes, re)
		}
		re, err := combineRegexps(e.rules.BlockRegexp)
		if err != nil {
			return fmt.Errorf("block_regexp: %v", err)
		}
		rs.blockRe = re
	}
	if len(e.rules.AllowRegexp) > 0 {
		re, err := combineRegexps(e.rules.AllowRegexp)
		if err != nil {
			return fmt.Errorf("allow_regexp: %v", err)
		}
		rs.allowRe = re
	}
	return nil
}

// listCounters returns the blocked-request counter of each list, outside
// any registry when the engine has no counter.
func (e *engine) listCounters(lists []string) []prometheus.Counter {
	counters := make([]prometheus.Counter, len(lists))
	for i, l := range lists {
		if e.counter != nil {
			counters[i] = e.counter.WithLabelValues(l)
		} else {
			counters[i] = prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})
		}
	}
	return counters
}

// buildVerification adds the claims of the verifiable crawlers, their
// spoofed lists and range tables to rs. categoryList maps the categories
// of the configured presets to their lists.
func (e *engine) buildVerification(rs *ruleSet, categoryList map[string]int, acp *[]acPattern) {
	n := len(crawlers)
	rs.ranges = make([]*bart.Lite, n)
	rs.verifiedHit = make([]int, n)
	rs.spoofedList = make([]int, n)
	var prefixes = make([][]netip.Prefix, n)
	for _, f := range e.files {
		if f.crawler >= 0 {
			prefixes[f.crawler] = append(prefixes[f.crawler], f.content.prefixes...)
		}
	}
	for i, c := range crawlers {
		rs.verifiedHit[i], rs.spoofedList[i] = -1, -1
		if !e.verifiable[i] {
			continue
		}
		if l, ok := categoryList[c.category]; ok {
			rs.verifiedHit[i] = l
		}
		rs.spoofedList[i] = len(rs.lists)
		rs.lists = append(rs.lists, "spoofed:"+c.name)
		if len(prefixes[i]) > 0 {
			rs.ranges[i] = prefixTable(prefixes[i])
		}
		for _, tok := range c.tokens {
			*acp = append(*acp, acPattern{text: tok, claim: true, id: int32(len(rs.claims)), wordStart: true, wordEnd: true})
			rs.claims = append(rs.claims, claimPattern{crawler: i, token: tok})
		}
	}
}
