package api

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

// parseInMCNS runs Parse the way the mcns plugin does: inside the mcns
// block's NextBlock loop, with properties after the api block.
func parseInMCNS(input string) (*Config, []string, error) {
	c := caddy.NewTestController("dns", input)
	var cfg *Config
	var after []string
	for c.Next() {
		c.RemainingArgs()
		for c.NextBlock() {
			switch c.Val() {
			case "api":
				var err error
				if cfg, err = Parse(c); err != nil {
					return nil, nil, err
				}
			default:
				after = append(after, c.Val())
				c.RemainingArgs()
			}
		}
	}
	return cfg, after, nil
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	tokens := writeTokens(t, dir)
	input := fmt.Sprintf(`mcns db.sqlite {
    api 127.0.0.1:8444 {
        tls %s %s
        tokens %s
        mcias https://mcias.example.net:8443/ {
            ca_cert %s
            service_name mcns
            tags dns edge
            validate_path /v2/check
        }
        snapshot_dir /var/backups/mcns
        snapshot_keep 3
    }
    seed a.zone
}`, cert, key, tokens, cert)
	cfg, after, err := parseInMCNS(input)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Addr: "127.0.0.1:8444", CertFile: cert, KeyFile: key, TokensFile: tokens,
		MCIAS:       &MCIASConfig{URL: "https://mcias.example.net:8443", CACert: cert, ServiceName: "mcns", Tags: []string{"dns", "edge"}, ValidatePath: "/v2/check"},
		SnapshotDir: "/var/backups/mcns", SnapshotKeep: 3}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v %+v\nwant %+v %+v", *cfg, *cfg.MCIAS, *want, *want.MCIAS)
	}
	if strings.Join(after, ",") != "seed" {
		t.Errorf("the mcns block after api: %v", after)
	}

	// Minimal: loopback plaintext with tokens; defaults filled in.
	cfg, _, err = parseInMCNS("mcns db {\n api [::1]:8444 {\n insecure_plaintext\n mcias https://id.example\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.InsecurePlaintext || cfg.MCIAS.ValidatePath != "/v1/token/validate" || cfg.SnapshotKeep != 7 {
		t.Errorf("defaults: %+v %+v", cfg, cfg.MCIAS)
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	tokens := writeTokens(t, dir)
	badTokens := filepath.Join(dir, "bad-tokens")
	os.WriteFile(badTokens, []byte("plaintext-token ops admin\n"), 0o600)
	tl := "tls " + cert + " " + key
	cases := []struct{ body, want string }{
		{"api", "Wrong argument count"},
		{"api 127.0.0.1:8444", "needs a block"},
		{"api 8444 {\n}", "api address"},
		{"api 127.0.0.1:8444 {\n tokens " + tokens + "\n}", "tls CERT KEY is required"},
		{"api 0.0.0.0:8444 {\n insecure_plaintext\n tokens " + tokens + "\n}", "only on a loopback"},
		{"api :8444 {\n insecure_plaintext\n tokens " + tokens + "\n}", "only on a loopback"},
		{"api 192.0.2.1:8444 {\n insecure_plaintext\n tokens " + tokens + "\n}", "only on a loopback"},
		{"api 127.0.0.1:8444 {\n insecure_plaintext\n " + tl + "\n tokens " + tokens + "\n}", "exclude each other"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n}", "authentication source"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens\n}", "Wrong argument count"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens /nonexistent/tokens\n}", "/nonexistent/tokens"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens " + badTokens + "\n}", "bad-tokens:1"},
		{"api 127.0.0.1:8444 {\n tls /nonexistent/cert " + key + "\n tokens " + tokens + "\n}", "/nonexistent/cert"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens " + tokens + "\n bogus 1\n}", `unknown api property "bogus"`},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens " + tokens + "\n snapshot_keep 0\n}", "snapshot_keep"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens " + tokens + "\n snapshot_keep x\n}", "snapshot_keep"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias http://id.example.net\n}", "plain http only to a loopback"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias ftp://id.example.net\n}", "want https"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias https://id.example.net {\n ca_cert /nonexistent/ca\n }\n}", "/nonexistent/ca"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias https://id.example.net {\n ca_cert " + key + "\n }\n}", "no PEM certificate"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias https://id.example.net {\n bogus x\n }\n}", `unknown mcias property "bogus"`},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias https://id.example.net {\n validate_path v1\n }\n}", "absolute path"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias https://id.example.net {\n tags\n }\n}", "Wrong argument count"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n mcias https://id.example.net {\n service_name {\n }\n }\n}", "Wrong argument count"},
		{"api 127.0.0.1:8444 {\n " + tl + "\n tokens " + tokens + " {\n }\n}", "unexpected '{'"},
	}
	for _, c := range cases {
		_, _, err := parseInMCNS("mcns db {\n" + c.body + "\n}")
		if err == nil {
			t.Errorf("%q: accepted", c.body)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %q, want it to contain %q", c.body, err, c.want)
		}
		if !strings.Contains(err.Error(), ":") {
			t.Errorf("%q: error %q names no file:line", c.body, err)
		}
	}
}
