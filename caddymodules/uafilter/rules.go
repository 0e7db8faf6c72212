package uafilter

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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
// allow_regexp hit on the same value beats every block.
type Rules struct {
	// Case-insensitive (ASCII) substrings that select a request. At least
	// 3 characters each.
	Block []string `json:"block,omitempty"`

	// RE2 regular expressions (https://github.com/google/re2/wiki/Syntax),
	// matched against the raw User-Agent; case-sensitive unless they start
	// with (?i). All are combined into one expression. An expression that
	// matches the empty string is rejected.
	BlockRegexp []string `json:"block_regexp,omitempty"`

	// Names of built-in lists: "ai_crawlers", "scanners".
	Preset []string `json:"preset,omitempty"`

	// Files with one substring pattern per line. Empty lines and lines
	// starting with # are ignored, as is anything after whitespace
	// followed by #. Leading and trailing whitespace is trimmed. Files are
	// polled every reload_interval and re-read once a change of their
	// modification time, size or inode has been stable for one interval;
	// if a file disappears or becomes invalid the last good patterns stay.
	ListFile []string `json:"list_file,omitempty"`

	// Case-insensitive substrings that exempt a request from all blocks.
	Allow []string `json:"allow,omitempty"`

	// RE2 regular expressions that exempt a request from all blocks.
	AllowRegexp []string `json:"allow_regexp,omitempty"`

	// Select requests without a User-Agent header or with an empty one.
	BlockEmpty bool `json:"block_empty,omitempty"`

	// How often list files are checked for changes (default 1s).
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`
}

// empty reports whether the rules can select nothing.
func (r *Rules) empty() bool {
	return len(r.Block) == 0 && len(r.BlockRegexp) == 0 && len(r.Preset) == 0 && len(r.ListFile) == 0 && !r.BlockEmpty
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
	if utf8.RuneCountInString(strings.TrimSpace(p)) < minPatternLen {
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
		if _, ok := presets[name]; !ok {
			return fmt.Errorf("preset: unknown preset %q (known: %s)", name, strings.Join(presetNames(), ", "))
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
		return errors.New("nothing to match: configure block, block_regexp, preset, list_file or block_empty")
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

// readListFile reads and parses a list file.
func readListFile(name string) ([]string, fileStamp, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("list_file %s: %v", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("list_file %s: %v", name, err)
	}
	if fi.IsDir() {
		return nil, fileStamp{}, fmt.Errorf("list_file %s: is a directory", name)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fileStamp{}, fmt.Errorf("list_file %s: %v", name, err)
	}
	pats, err := parseListFile(name, buf.Bytes())
	if err != nil {
		return nil, fileStamp{}, err
	}
	return pats, stampOf(fi), nil
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

// listFile is a watched list file and its last good patterns.
type listFile struct {
	path     string
	label    string
	stamp    fileStamp // of the patterns in use (or of the last bad version)
	pending  fileStamp // a change seen at an earlier poll
	stable   int       // polls since then that found pending unchanged
	patterns []string
	lastErr  string
}

// ruleSet is an immutable compiled set of rules. Requests read it through
// an atomic pointer, so a reload never exposes a half-built set.
type ruleSet struct {
	ac         *automaton
	patterns   []compiledPattern // by automaton pattern id
	lists      []string          // metric label of each list
	counters   []prometheus.Counter
	blockRe    *regexp.Regexp // all block_regexp combined
	blockRes   []*regexp.Regexp
	regexpList int
	allowRe    *regexp.Regexp // all allow_regexp combined
	blockEmpty bool
	emptyList  int
}

type compiledPattern struct {
	list    int
	pattern string
}

// match reports the list and pattern that select ua, or list -1. It does
// not allocate unless a block_regexp selects ua.
func (rs *ruleSet) match(ua string) (list int, pattern string) {
	id := int32(-1)
	if rs.ac != nil {
		var allowed bool
		id, allowed = rs.ac.scan(ua)
		if allowed {
			return -1, ""
		}
	}
	if id >= 0 {
		p := rs.patterns[id]
		list, pattern = p.list, p.pattern
	} else if rs.blockRe != nil && rs.blockRe.MatchString(ua) {
		list = rs.regexpList
		for _, re := range rs.blockRes {
			if re.MatchString(ua) {
				pattern = re.String()
				break
			}
		}
	} else {
		return -1, ""
	}
	if rs.allowRe != nil && rs.allowRe.MatchString(ua) {
		return -1, ""
	}
	return list, pattern
}

// matchRequest applies the rules to every User-Agent value of r.
func (rs *ruleSet) matchRequest(r *http.Request) (list int, pattern string) {
	empty := true
	for _, v := range r.Header["User-Agent"] {
		if v == "" {
			continue
		}
		empty = false
		if l, p := rs.match(v); l >= 0 {
			return l, p
		}
	}
	if empty && rs.blockEmpty {
		return rs.emptyList, ""
	}
	return -1, ""
}

// engine owns the compiled rules of one handler or matcher instance and
// keeps them up to date with the list files.
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
}

// newEngine validates rules, reads the list files and compiles everything.
// Any problem is returned as a configuration error. counter counts
// selected requests by list; it may be nil.
func newEngine(ctx caddy.Context, rules Rules, logger *zap.Logger, counter, reloads *prometheus.CounterVec) (*engine, error) {
	if err := rules.validate(); err != nil {
		return nil, err
	}
	e := &engine{rules: rules, logger: logger, counter: counter, reloads: reloads}
	repl := caddy.NewReplacer()
	seen := make(map[string]bool)
	for _, name := range rules.ListFile {
		path := repl.ReplaceKnown(name, "")
		if seen[path] {
			continue
		}
		seen[path] = true
		pats, stamp, err := readListFile(path)
		if err != nil {
			return nil, err
		}
		e.files = append(e.files, &listFile{path: path, label: "file:" + path, stamp: stamp, patterns: pats})
	}
	rs, err := e.build()
	if err != nil {
		return nil, err
	}
	e.set.Store(rs)
	if len(e.files) > 0 {
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

// build compiles the current rules and list file contents.
func (e *engine) build() (*ruleSet, error) {
	rs := &ruleSet{regexpList: -1, emptyList: -1, blockEmpty: e.rules.BlockEmpty}
	var acp []acPattern
	addList := func(label string, pats []string) {
		idx := len(rs.lists)
		rs.lists = append(rs.lists, label)
		for _, p := range pats {
			acp = append(acp, acPattern{text: p, id: int32(len(rs.patterns))})
			rs.patterns = append(rs.patterns, compiledPattern{list: idx, pattern: p})
		}
	}
	if len(e.rules.Block) > 0 {
		addList("inline", e.rules.Block)
	}
	seen := make(map[string]bool)
	for _, name := range e.rules.Preset {
		if seen[name] {
			continue
		}
		seen[name] = true
		pats, _ := presetPatterns(name)
		addList("preset:"+name, pats)
	}
	for _, f := range e.files {
		addList(f.label, f.patterns)
	}
	for _, p := range e.rules.Allow {
		acp = append(acp, acPattern{text: p, allow: true, id: -1})
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

// stablePolls is how many consecutive polls must find a changed list file
// unchanged before it is read.
const stablePolls = 2

// watch polls the list files until stopped.
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
			e.fileError(f, fmt.Errorf("list_file %s: %v", f.path, err))
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
		pats, rstamp, err := readListFile(f.path)
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
		f.patterns = pats
		f.lastErr = ""
		changed = true
		if c := e.logger.Check(zapcore.InfoLevel, "reloaded User-Agent list file"); c != nil {
			c.Write(zap.String("file", f.path), zap.Int("patterns", len(pats)))
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
	e.logger.Error("User-Agent list file unusable; keeping its last good patterns",
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
