package uafilter

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
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
