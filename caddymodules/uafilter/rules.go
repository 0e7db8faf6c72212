package uafilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/gaissmai/bart"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/metacircular/edge/internal/clientaddr"
)

// minPatternLen is the minimum length, in characters, of a substring
// pattern. Shorter patterns occur in ordinary User-Agents by accident.
const minPatternLen = 3

// defaultReloadInterval is how often list files are checked for changes.
const defaultReloadInterval = time.Second

// Rules selects User-Agents. It is shared by the uafilter handler (which
// refuses the selected requests) and the user_agent matcher (which matches
// them).
//
// A request is selected when any of its User-Agent values contains a block
// pattern (block, preset, list_file), matches a block_regexp, or — with
// block_empty — when it has no or only empty User-Agent values. An allow or
// allow_regexp hit on the same value beats every block. With verify_bots,
// a value that names a well-known crawler is first checked against the
// client's address (see VerifyBots).
//
// Patterns match whole words, case-insensitively (ASCII): where a pattern
// begins or ends with a letter, digit or underscore, the User-Agent must
// not continue with one there, so "LCC" does not match "SLCC2" nor
// "Spider" "Baiduspider". A "*" at either end of a pattern lifts that
// condition on that side ("*spider" matches "Baiduspider").
type Rules struct {
	// Case-insensitive (ASCII) words that select a request. At least 3
	// characters each.
	Block []string `json:"block,omitempty"`

	// RE2 regular expressions (https://github.com/google/re2/wiki/Syntax),
	// matched against the raw User-Agent; case-sensitive unless they start
	// with (?i). All are combined into one expression. An expression that
	// matches the empty string is rejected.
	BlockRegexp []string `json:"block_regexp,omitempty"`

	// Built-in lists by category: "scanners", "ai_training", "ai_search",
	// "ai_user", "seo", and "ai_crawlers" for the three ai_* together.
	Preset []string `json:"preset,omitempty"`

	// Files with one pattern per line. Empty lines and lines starting with
	// # are ignored, as is anything after whitespace followed by #.
	// Leading and trailing whitespace is trimmed. A file that starts with
	// "{" is read as ai.robots.txt's robots.json instead: its keys are the
	// patterns. Files are polled every reload_interval and re-read once a
	// change of their modification time, size or inode has been stable
	// for one interval; if a file disappears or becomes invalid the last
	// good patterns stay.
	ListFile []string `json:"list_file,omitempty"`

	// Case-insensitive words that exempt a request from all blocks (but
	// not from a spoofed crawler claim).
	Allow []string `json:"allow,omitempty"`

	// RE2 regular expressions that exempt a request from all blocks.
	AllowRegexp []string `json:"allow_regexp,omitempty"`

	// Select requests without a User-Agent header or with an empty one.
	BlockEmpty bool `json:"block_empty,omitempty"`

	// How often list and range files are checked for changes (default 1s).
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`

	// Verify crawlers' User-Agent claims against their addresses.
	VerifyBots *VerifyBots `json:"verify_bots,omitempty"`
}

// empty reports whether the rules can select nothing.
func (r *Rules) empty() bool {
	return len(r.Block) == 0 && len(r.BlockRegexp) == 0 && len(r.Preset) == 0 && len(r.ListFile) == 0 && !r.BlockEmpty && r.VerifyBots == nil
}

// wordPattern splits a configured pattern into the text to find and its
// word conditions: a "*" at either end lifts the condition on that side.
func wordPattern(p string) (text string, wordStart, wordEnd bool) {
	text = strings.TrimPrefix(p, "*")
	wordStart = len(text) == len(p)
	n := len(text)
	text = strings.TrimSuffix(text, "*")
	return text, wordStart, len(text) == n
}

// validatePattern checks one substring pattern.
func validatePattern(p string) error {
	if !utf8.ValidString(p) {
		return fmt.Errorf("pattern %q is not valid UTF-8", p)
	}
	for _, r := range p {
		if r != ' ' && r != '\t' && unicode.IsControl(r) {
			return fmt.Errorf("pattern %q contains a control character", p)
		}
	}
	if text, _, _ := wordPattern(strings.TrimSpace(p)); utf8.RuneCountInString(strings.TrimSpace(text)) < minPatternLen {
		return fmt.Errorf("pattern %q is shorter than %d characters (short patterns cause false positives)", p, minPatternLen)
	}
	return nil
}

// compileRegexp checks and compiles one regular expression.
func compileRegexp(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", expr, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("regular expression %q matches the empty string and therefore every User-Agent (use block_empty for empty User-Agents)", expr)
	}
	return re, nil
}

// combineRegexps joins expressions into one alternation.
func combineRegexps(exprs []string) (*regexp.Regexp, error) {
	if len(exprs) == 0 {
		return nil, nil
	}
	var b strings.Builder
	for i, e := range exprs {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString("(?:")
		b.WriteString(e)
		b.WriteString(")")
	}
	return regexp.Compile(b.String())
}

// validate checks the static parts of the rules.
func (r *Rules) validate() error {
	for _, p := range r.Block {
		if err := validatePattern(p); err != nil {
			return fmt.Errorf("block: %v", err)
		}
	}
	for _, p := range r.Allow {
		if err := validatePattern(p); err != nil {
			return fmt.Errorf("allow: %v", err)
		}
	}
	for _, e := range r.BlockRegexp {
		if _, err := compileRegexp(e); err != nil {
			return fmt.Errorf("block_regexp: %v", err)
		}
	}
	for _, e := range r.AllowRegexp {
		if _, err := compileRegexp(e); err != nil {
			return fmt.Errorf("allow_regexp: %v", err)
		}
	}
	for _, name := range r.Preset {
		if _, ok := presetCategories(name); !ok {
			return fmt.Errorf("preset: unknown preset %q (known: %s)", name, strings.Join(presetNames(), ", "))
		}
	}
	if r.VerifyBots != nil {
		if err := r.VerifyBots.validate(); err != nil {
			return err
		}
	}
	for _, f := range r.ListFile {
		if strings.TrimSpace(f) == "" {
			return errors.New("list_file: empty file name")
		}
	}
	if r.ReloadInterval < 0 {
		return fmt.Errorf("reload_interval: must not be negative")
	}
	if r.empty() {
		return errors.New("nothing to match: configure block, block_regexp, preset, list_file, block_empty or verify_bots")
	}
	return nil
}

// parseListFile parses the contents of a list file.
func parseListFile(name string, data []byte) ([]string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for j := 1; j < len(line); j++ {
			if line[j] == '#' && (line[j-1] == ' ' || line[j-1] == '\t') {
				line = line[:j]
				break
			}
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := validatePattern(line); err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s:%d: %v", name, i+1, err)}
		}
		out = append(out, line)
	}
	return out, nil
}

// listParseError is a list file whose contents are invalid, as opposed to
// one that cannot be read.
type listParseError struct{ error }

func (e listParseError) Unwrap() error { return e.error }

// listEntry is a pattern of a list file and the category of the clients
// it names, if the file says.
type listEntry struct {
	pattern  string
	category string
}

// parseUAList parses a User-Agent list file: robots.json if it starts with
// "{", otherwise one pattern per line.
func parseUAList(name string, data []byte) (fileContent, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		entries, err := parseRobotsJSON(name, data)
		return fileContent{entries: entries}, err
	}
	pats, err := parseListFile(name, data)
	if err != nil {
		return fileContent{}, err
	}
	entries := make([]listEntry, len(pats))
	for i, p := range pats {
		entries[i] = listEntry{pattern: p}
	}
	return fileContent{entries: entries}, nil
}

// parseRobotsJSON parses ai.robots.txt's robots.json: an object keyed by
// User-Agent token whose values describe the bot ("operator", "function",
// "description", ...). The keys are the patterns, in file order; the
// category is taken from "function" where it says what the bot does.
func parseRobotsJSON(name string, data []byte) ([]listEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, listParseError{fmt.Errorf("list_file %s: not a JSON object", name)}
	}
	var out []listEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s: %v", name, err)}
		}
		key, _ := tok.(string)
		var bot struct {
			Function    string `json:"function"`
			Description string `json:"description"`
		}
		if err := dec.Decode(&bot); err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s: entry %q: %v", name, key, err)}
		}
		key = strings.TrimSpace(key)
		if err := validatePattern(key); err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s: entry %q: %v", name, key, err)}
		}
		out = append(out, listEntry{pattern: key, category: robotsCategory(bot.Function)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, listParseError{fmt.Errorf("list_file %s: %v", name, err)}
	}
	return out, nil
}

// robotsCategory maps robots.json's free-text "function" of a bot to a
// category, or "" when it does not say: "AI Search Crawlers" and "Search
// result generation" are ai_search; "AI Assistants", "AI Agents" and
// user-prompted fetches ai_user; training, data scrapers and data
// providers ai_training.
func robotsCategory(function string) string {
	f := strings.ToLower(function)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(f, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("search"):
		return catAISearch
	case has("assistant", "agent", "user", "prompt"):
		return catAIUser
	case has("train", "scraper", "data provider", "dataset", "machine learning"):
		return catAITraining
	}
	return ""
}

// fileContent is what a watched file holds: User-Agent patterns or
// address prefixes.
type fileContent struct {
	entries  []listEntry
	prefixes []netip.Prefix
}

func (c fileContent) size() int { return len(c.entries) + len(c.prefixes) }

// readWatched reads and parses a watched file. what names the option in
// errors ("list_file", "ranges").
func readWatched(name, what string, parse func(string, []byte) (fileContent, error)) (fileContent, fileStamp, error) {
	f, err := os.Open(name)
	if err != nil {
		return fileContent{}, fileStamp{}, fmt.Errorf("%s %s: %v", what, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileContent{}, fileStamp{}, fmt.Errorf("%s %s: %v", what, name, err)
	}
	if fi.IsDir() {
		return fileContent{}, fileStamp{}, fmt.Errorf("%s %s: is a directory", what, name)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return fileContent{}, fileStamp{}, fmt.Errorf("%s %s: %v", what, name, err)
	}
	c, err := parse(name, buf.Bytes())
	if err != nil {
		return fileContent{}, fileStamp{}, err
	}
	return c, stampOf(fi), nil
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	modTime int64
	size    int64
	ino     uint64
	dev     uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{modTime: fi.ModTime().UnixNano(), size: fi.Size()}
	addInode(&s, fi)
	return s
}

// listFile is a watched file — a User-Agent list or a crawler's range
// file — and its last good contents.
type listFile struct {
	path    string
	label   string
	what    string // option name for messages: list_file or ranges
	crawler int    // for range files, the crawler's index; else -1
	parse   func(string, []byte) (fileContent, error)
	stamp   fileStamp // of the contents in use (or of the last bad version)
	pending fileStamp // a change seen at an earlier poll
	stable  int       // polls since then that found pending unchanged
	content fileContent
	lastErr string
}

// noun names the kind of file in log messages.
func (f *listFile) noun() string {
	if f.crawler < 0 {
		return "User-Agent list file"
	}
	return "crawler range file"
}

func (f *listFile) read() (fileContent, fileStamp, error) {
	return readWatched(f.path, f.what, f.parse)
}

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
		f.stamp, f.content = stamp, c
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

// build compiles the current rules and list file contents.
func (e *engine) build() (*ruleSet, error) {
	rs := &ruleSet{regexpList: -1, emptyList: -1, blockEmpty: e.rules.BlockEmpty}
	var acp []acPattern
	addList := func(label string, entries []listEntry) int {
		idx := len(rs.lists)
		rs.lists = append(rs.lists, label)
		for _, en := range entries {
			text, ws, we := wordPattern(en.pattern)
			acp = append(acp, acPattern{text: text, id: int32(len(rs.patterns)), wordStart: ws, wordEnd: we})
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
	for _, p := range e.rules.Allow {
		text, ws, we := wordPattern(p)
		acp = append(acp, acPattern{text: text, allow: true, id: -1, wordStart: ws, wordEnd: we})
	}
	if e.rules.VerifyBots != nil {
		e.buildVerification(rs, categoryList, &acp)
	}
	if len(e.rules.BlockRegexp) > 0 {
		rs.regexpList = len(rs.lists)
		rs.lists = append(rs.lists, "regexp")
		for _, expr := range e.rules.BlockRegexp {
			re, err := compileRegexp(expr)
			if err != nil {
				return nil, fmt.Errorf("block_regexp: %v", err)
			}
			rs.blockRes = append(rs.blockRes, re)
		}
		re, err := combineRegexps(e.rules.BlockRegexp)
		if err != nil {
			return nil, fmt.Errorf("block_regexp: %v", err)
		}
		rs.blockRe = re
	}
	if len(e.rules.AllowRegexp) > 0 {
		re, err := combineRegexps(e.rules.AllowRegexp)
		if err != nil {
			return nil, fmt.Errorf("allow_regexp: %v", err)
		}
		rs.allowRe = re
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
	rs.counters = make([]prometheus.Counter, len(rs.lists))
	for i, l := range rs.lists {
		if e.counter != nil {
			rs.counters[i] = e.counter.WithLabelValues(l)
		} else {
			rs.counters[i] = prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})
		}
	}
	return rs, nil
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

// stablePolls is how many consecutive polls must find a changed list file
// unchanged before it is read.
const stablePolls = 2

// watch polls the list and range files, and advances the clock of the
// reverse-DNS cache, until stopped.
func (e *engine) watch(ctxDone <-chan struct{}, interval time.Duration) {
	defer close(e.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-ctxDone:
			return
		case <-t.C:
			if e.rdns != nil {
				e.rdns.tick()
			}
			e.poll()
		}
	}
}

// poll re-reads changed list files and swaps in a new rule set. Errors are
// logged once per state of the file; the last good patterns stay.
func (e *engine) poll() {
	changed := false
	for _, f := range e.files {
		fi, err := os.Stat(f.path)
		if err != nil {
			e.fileError(f, fmt.Errorf("%s %s: %v", f.what, f.path, err))
			f.stamp = fileStamp{}
			continue
		}
		stamp := stampOf(fi)
		if stamp == f.stamp {
			f.pending, f.stable = fileStamp{}, 0
			continue
		}
		if stamp != f.pending {
			// Changed since the last poll: wait until the file has been
			// left alone for stablePolls more polls, so that a file being
			// written in place (truncated, then filled) is not read
			// half-way even if its writer pauses for an interval.
			f.pending, f.stable = stamp, 0
			continue
		}
		if f.stable++; f.stable < stablePolls {
			continue
		}
		f.pending, f.stable = fileStamp{}, 0
		content, rstamp, err := f.read()
		if fi, serr := os.Stat(f.path); serr == nil && (stampOf(fi) != stamp || err == nil && rstamp != stamp) {
			// Written to while being read: wait for it to settle again.
			f.pending = stampOf(fi)
			continue
		}
		if err != nil {
			e.fileError(f, err)
			if errors.As(err, new(listParseError)) {
				// Invalid contents: wait for the file to change. Read
				// errors (e.g. permissions) are retried every interval.
				f.stamp = stamp
			}
			continue
		}
		f.stamp = rstamp
		f.content = content
		f.lastErr = ""
		changed = true
		if c := e.logger.Check(zapcore.InfoLevel, "reloaded "+f.noun()); c != nil {
			c.Write(zap.String("file", f.path), zap.Int("entries", content.size()))
		}
	}
	if !changed {
		return
	}
	rs, err := e.build()
	if err != nil {
		e.countReload("error")
		e.logger.Error("rebuilding User-Agent rules failed; keeping the previous set", zap.Error(err))
		return
	}
	e.set.Store(rs)
	e.countReload("success")
}

func (e *engine) fileError(f *listFile, err error) {
	if err.Error() == f.lastErr {
		return
	}
	f.lastErr = err.Error()
	e.countReload("error")
	e.logger.Error(f.noun()+" unusable; keeping its last good contents",
		zap.String("file", f.path), zap.Error(err))
}

func (e *engine) countReload(result string) {
	if e.reloads != nil {
		e.reloads.WithLabelValues(result).Inc()
	}
}

// close stops the watcher and waits for it.
func (e *engine) close() {
	if e == nil || e.stop == nil {
		return
	}
	e.stopOnce.Do(func() {
		close(e.stop)
		<-e.done
	})
}
