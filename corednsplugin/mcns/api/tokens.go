package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/metacircular/edge/internal/filewatch"
)

// Principal is who a request authenticated as.
type Principal struct {
	Name   string
	Roles  []string
	Source string // "tokens" or "mcias"
	// Scopes, when any, limit the principal to these zones, names and
	// types (see Scope); MCIAS principals are never scoped.
	Scopes []Scope
}

// Has reports whether p holds role.
func (p *Principal) Has(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// RoleAdmin may write; any valid token may read.
const RoleAdmin = "admin"

const tokenHashPrefix = "sha256:"

// tokenHash is the key tokens are known by at rest and in caches.
type tokenHash [sha256.Size]byte

func hashToken(tok string) tokenHash { return sha256.Sum256([]byte(tok)) }

// TokenLine is the tokens-file line for a token, with a scope= field for
// each scope.
func TokenLine(token, name string, roles []string, scopes ...Scope) string {
	h := hashToken(token)
	line := tokenHashPrefix + hex.EncodeToString(h[:]) + " " + name + " " + strings.Join(roles, ",")
	for _, sc := range scopes {
		line += " " + scopeField + sc.String()
	}
	return line
}

// scopeField starts each optional scope of a tokens-file line.
const scopeField = "scope="

// loadTokensFile reads "sha256:<hex> <name> <role>[,<role>] [scope=...]..."
// lines; blank lines and lines starting with # are skipped. Errors name
// file and line.
func loadTokensFile(path string) (map[tokenHash]Principal, error) {
	tokens, _, err := readTokensFile(path)
	return tokens, err
}

// readTokensFile is loadTokensFile that also returns the version of the file
// it read, taken from the open file so that it describes exactly the bytes
// parsed even if another file is renamed over the path meanwhile.
func readTokensFile(path string) (map[tokenHash]Principal, filewatch.Stamp, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, filewatch.Stamp{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, filewatch.Stamp{}, err
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return nil, filewatch.Stamp{}, err
	}
	tokens, err := parseTokens(path, data)
	if err != nil {
		return nil, filewatch.Stamp{}, err
	}
	return tokens, filewatch.StampOf(fi), nil
}

func parseTokens(path string, data []byte) (map[tokenHash]Principal, error) {
	out := make(map[tokenHash]Principal)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s:%d: want \"sha256:<hex> <name> <role>[,<role>] [scope=ZONE:PATTERN:TYPES]...\"", path, line)
		}
		scopes, err := parseScopeFields(f[3:])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		hexed, ok := strings.CutPrefix(f[0], tokenHashPrefix)
		if !ok {
			return nil, fmt.Errorf("%s:%d: token must be stored as sha256:<hex>, never in plaintext", path, line)
		}
		raw, err := hex.DecodeString(hexed)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%s:%d: %q is not 64 hex digits", path, line, hexed)
		}
		var roles []string
		for _, r := range strings.Split(f[2], ",") {
			if r == "" {
				return nil, fmt.Errorf("%s:%d: empty role in %q", path, line, f[2])
			}
			roles = append(roles, r)
		}
		var h tokenHash
		copy(h[:], raw)
		if _, dup := out[h]; dup {
			return nil, fmt.Errorf("%s:%d: the same token hash is listed twice", path, line)
		}
		out[h] = Principal{Name: f[1], Roles: roles, Source: "tokens", Scopes: scopes}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// parseScopeFields reads a tokens-file line's scope= fields.
func parseScopeFields(fields []string) ([]Scope, error) {
	var scopes []Scope
	for _, f := range fields {
		text, ok := strings.CutPrefix(f, scopeField)
		if !ok {
			return nil, fmt.Errorf("want only scope=ZONE:PATTERN:TYPES fields after the roles, got %q", f)
		}
		sc, err := ParseScope(text)
		if err != nil {
			return nil, err
		}
		scopes = append(scopes, sc)
	}
	return scopes, nil
}

// tokenFile is the tokens file, re-read when it changes (the filewatch
// rule: another file renamed over it, or a new size or modification
// time), checked at most once per statEach so requests stay cheap.
//
// It fails closed: while the file cannot be read or parsed it grants
// nothing, so a revocation saved together with a typo never leaves the
// revoked token working. Each new error is logged once and counted in the
// metrics; health reports it until the file is fixed.
type tokenFile struct {
	path     string
	log      Logger
	now      func() time.Time
	statEach time.Duration

	mu      sync.Mutex
	checked time.Time
	watch   filewatch.Watcher
	errs    filewatch.ErrorState    // logged once per state
	tokens  map[tokenHash]Principal // nil until first checked; empty while err is set
	err     error                   // why the file grants nothing
	counted bool                    // err is counted in tokensFileFailing
}

// tokenSettlePolls is the settle period of the tokens file, in checks. It
// is not filewatch.DefaultSettlePolls: checks come only with requests, so
// a settle check would leave a revoked token working until some later
// request, however long that takes. The file is small and documented to be
// saved by renaming a new one over it, which is never seen half written;
// and a version read while being replaced is taken from the open file, so
// the next check sees the path differ and reads it again.
const tokenSettlePolls = 0

func newTokenFile(path string, log Logger) *tokenFile {
	return &tokenFile{
		path: path, log: log, now: time.Now, statEach: time.Second,
		watch: filewatch.Watcher{Path: path, SettlePolls: tokenSettlePolls},
	}
}

// lookup finds the principal for a token hash. Tokens are high-entropy
// secrets compared by their SHA-256, so a map lookup leaks nothing usable
// about the token through timing.
func (f *tokenFile) lookup(h tokenHash) (Principal, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked()
	p, ok := f.tokens[h]
	return p, ok
}

// health returns why the file grants nothing, or nil when it loaded.
func (f *tokenFile) health() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked()
	return f.err
}

func (f *tokenFile) refreshLocked() {
	defer f.countLocked()
	now := f.now()
	if f.tokens != nil && now.Sub(f.checked) < f.statEach {
		return
	}
	f.checked = now
	// A stat error falls through to the read, which fails closed with the
	// error of opening the file.
	if _, ready, err := f.watch.Poll(); err == nil && !ready {
		return
	}
	tokens, read, err := readTokensFile(f.path)
	if err != nil {
		// Forget the version, so that the file is read again at every
		// check: fixing its permissions, for one, changes neither its
		// size nor its time.
		f.watch.Accept(filewatch.Stamp{})
		if f.errs.Report(err) {
			f.log.Errorf("api: tokens file unusable, granting nothing from it until fixed: %v", err)
			tokensFileFailures.Inc()
		}
		f.tokens, f.err = map[tokenHash]Principal{}, err
		return
	}
	f.watch.Accept(read)
	f.errs.Clear()
	if f.tokens != nil {
		f.log.Infof("api: reloaded %s (%d tokens)", f.path, len(tokens))
	}
	f.tokens, f.err = tokens, nil
}

// countLocked keeps the file's share of tokensFileFailing in step with err.
func (f *tokenFile) countLocked() {
	if failing := f.err != nil; failing != f.counted {
		f.counted = failing
		if failing {
			tokensFileFailing.Inc()
		} else {
			tokensFileFailing.Dec()
		}
	}
}

// release withdraws the file's share of tokensFileFailing when its server
// stops; the next check counts it again if it is still failing.
func (f *tokenFile) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counted {
		f.counted = false
		tokensFileFailing.Dec()
	}
}
