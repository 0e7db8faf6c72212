// Command mcns-token mints a bearer token for mcns's management API. It
// prints the token (give it to the client; it is not stored anywhere) and
// the line to append to the api block's tokens file, which holds only the
// token's SHA-256:
//
//	go run ./cmd/mcns-token -name ops -roles admin
//
// A repeatable -scope ZONE:PATTERN:TYPES limits the token to some names and
// types of some zones. PATTERN is @ (the apex), a name, *.NAME (every name
// strictly below NAME) or LABELS.* (LABELS at the apex or above any host of
// the zone); the grammar is in the api package's README and scope.go. An
// ACME DNS-01 client needs only its challenge TXT records:
//
//	mcns-token -name acme -roles admin -scope 'svc.mcp.metacircular.net:_acme-challenge.*:TXT'
package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

func main() {
	name := flag.String("name", "", "who the token is for (required, no spaces)")
	roles := flag.String("roles", "", "comma-separated roles; \"admin\" may write, any token may read (required)")
	var scopes scopeFlags
	flag.Var(&scopes, "scope", "limit the token to ZONE:PATTERN:TYPES (repeatable), PATTERN @, NAME, *.NAME or LABELS.*; e.g. example.net:_acme-challenge.*:TXT for ACME DNS-01")
	flag.Parse()
	if err := run(os.Stdout, *name, *roles, scopes...); err != nil {
		fmt.Fprintln(os.Stderr, "mcns-token:", err)
		flag.Usage()
		os.Exit(2)
	}
}

// scopeFlags collects the -scope flags, each checked as it is read.
type scopeFlags []api.Scope

func (f *scopeFlags) String() string { return fmt.Sprint([]api.Scope(*f)) }

func (f *scopeFlags) Set(s string) error {
	sc, err := api.ParseScope(s)
	if err != nil {
		return err
	}
	*f = append(*f, sc)
	return nil
}

func run(w io.Writer, name, roles string, scopes ...api.Scope) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n#") {
		return fmt.Errorf("-name must be a non-empty word, got %q", name)
	}
	var rs []string
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(r); r == "" || strings.ContainsAny(r, " \t\r\n") {
			return fmt.Errorf("-roles must be a comma-separated list of words, got %q", roles)
		}
		rs = append(rs, r)
	}
	// 32 random bytes: 256 bits, so the unsalted SHA-256 at rest cannot be
	// brute-forced.
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	_, err := fmt.Fprintf(w, "token: %s\ntokens file line: %s\n", tok, api.TokenLine(tok, name, rs, scopes...))
	return err
}
