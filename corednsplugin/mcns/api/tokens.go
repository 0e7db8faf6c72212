package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Principal is who a request authenticated as.
type Principal struct {
	Name   string
	Roles  []string
	Source string // "tokens" or "mcias"
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

// TokenLine is the tokens-file line for a token.
func TokenLine(token, name string, roles []string) string {
	h := hashToken(token)
	return tokenHashPrefix + hex.EncodeToString(h[:]) + " " + name + " " + strings.Join(roles, ",")
}

// loadTokensFile reads "sha256:<hex> <name> <role>[,<role>]" lines; blank
// lines and lines starting with # are skipped. Errors name file and line.
func loadTokensFile(path string) (map[tokenHash]Principal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTokens(path, data)
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
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want \"sha256:<hex> <name> <role>[,<role>]\"", path, line)
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
		out[h] = Principal{Name: f[1], Roles: roles, Source: "tokens"}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// tokenFile is the tokens file, re-read when its size or modification time
// changes, checked at most once per statEvery so requests stay cheap.
type tokenFile struct {
	path string
	log  Logger
	now  func() time.Time

	mu       sync.Mutex
	checked  time.Time
	modTime  time.Time
	size     int64
	tokens   map[tokenHash]Principal
	lastErr  string
	statEach time.Duration
}

func newTokenFile(path string, log Logger) *tokenFile {
	return &tokenFile{path: path, log: log, now: time.Now, statEach: time.Second}
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

func (f *tokenFile) refreshLocked() {
	now := f.now()
	if f.tokens != nil && now.Sub(f.checked) < f.statEach {
		return
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil {
		// A removed or unreadable file grants nothing: fail closed.
		f.tokens = map[tokenHash]Principal{}
		f.modTime, f.size = time.Time{}, -1
		f.report(err)
		return
	}
	if f.tokens != nil && fi.ModTime().Equal(f.modTime) && fi.Size() == f.size {
		return
	}
	tokens, err := loadTokensFile(f.path)
	if err != nil {
		// Keep the previous set while the file is broken (e.g. half
		// written); the error is logged once until it changes.
		if f.tokens == nil {
			f.tokens = map[tokenHash]Principal{}
		}
		f.report(err)
		return
	}
	if f.modTime != (time.Time{}) || f.lastErr != "" {
		f.log.Infof("api: reloaded %s (%d tokens)", f.path, len(tokens))
	}
	f.tokens, f.modTime, f.size = tokens, fi.ModTime(), fi.Size()
	f.lastErr = ""
}

func (f *tokenFile) report(err error) {
	if msg := err.Error(); msg != f.lastErr {
		f.lastErr = msg
		f.log.Errorf("api: tokens file: %v", err)
	}
}
