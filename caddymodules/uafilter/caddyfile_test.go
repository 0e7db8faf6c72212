package uafilter

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/metacircular/edge/internal/caddytestutil"
)

// decodeJSON decodes an adapted config.
func decodeJSON(t *testing.T, config string) map[string]any {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// handlersOf flattens the handler names and objects of the first route
// tree of srv0 of an adapted config, in order.
func handlersOf(t *testing.T, config string) []map[string]any {
	t.Helper()
	cfg := decodeJSON(t, config)
	var out []map[string]any
	var walk func(routes []any)
	walk = func(routes []any) {
		for _, r := range routes {
			for _, h := range r.(map[string]any)["handle"].([]any) {
				hm := h.(map[string]any)
				out = append(out, hm)
				if sub, ok := hm["routes"].([]any); ok {
					walk(sub)
				}
			}
		}
	}
	srv := cfg["apps"].(map[string]any)["http"].(map[string]any)["servers"].(map[string]any)["srv0"].(map[string]any)
	walk(srv["routes"].([]any))
	return out
}

func TestCaddyfileHandlerFull(t *testing.T) {
	cfg, err := caddytestutil.Adapt(t, `:8080 {
	uafilter {
		block zgrab masscan Nuclei httpx GPTBot CCBot ClaudeBot Bytespider   # case-insensitive substrings
		block_regexp "^python-requests/"
		preset scanners ai_crawlers
		list_file /etc/caddy/bad-agents.txt
		allow "Googlebot/"
		allow_regexp "^Mozilla/5\.0 \(compatible; MyMonitor/"
		block_empty
		reload_interval 5s
		status 403
	}
	respond "ok"
}`)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	for _, h := range handlersOf(t, cfg) {
		if h["handler"] == "uafilter" {
			got = h
		}
	}
	want := map[string]any{
		"handler":         "uafilter",
		"block":           []any{"zgrab", "masscan", "Nuclei", "httpx", "GPTBot", "CCBot", "ClaudeBot", "Bytespider"},
		"block_regexp":    []any{"^python-requests/"},
		"preset":          []any{"scanners", "ai_crawlers"},
		"list_file":       []any{"/etc/caddy/bad-agents.txt"},
		"allow":           []any{"Googlebot/"},
		"allow_regexp":    []any{`^Mozilla/5\.0 \(compatible; MyMonitor/`},
		"block_empty":     true,
		"reload_interval": float64(5 * time.Second),
		"status":          float64(403),
	}
	h := checkHandlerJSON(t, got, want)
	if h.Status != 403 || !h.BlockEmpty || len(h.Preset) != 2 || time.Duration(h.ReloadInterval) != 5*time.Second {
		t.Fatalf("decoded %+v", h)
	}
}

// checkHandlerJSON compares the adapted handler JSON with want and decodes
// it back into the module.
func checkHandlerJSON(t *testing.T, got, want map[string]any) Handler {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("handler JSON\n got %v\nwant %v", got, want)
	}
	raw, _ := json.Marshal(got)
	var h Handler
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCaddyfileHandlerInlineArgs(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser(`uafilter zgrab masscan {
		preset scanners
	}`)
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.Block, ",") != "zgrab,masscan" || h.Preset[0] != "scanners" {
		t.Fatalf("%+v", h)
	}
}

func TestCaddyfileDirectiveOrder(t *testing.T) {
	// Written after basic_auth and respond, uafilter still runs before
	// basic_auth: scanners never see an auth prompt.
	cfg, err := caddytestutil.Adapt(t, `:8080 {
	respond "ok"
	basic_auth {
		admin $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}
	uafilter {
		preset scanners
	}
}`)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, h := range handlersOf(t, cfg) {
		name := h["handler"].(string)
		if name == "subroute" {
			continue
		}
		order = append(order, name)
	}
	if len(order) < 3 || order[0] != "uafilter" || order[1] != "authentication" {
		t.Fatalf("handler order %v, want uafilter before authentication (basic_auth)", order)
	}
}

func TestCaddyfileMatcher(t *testing.T) {
	cfg, err := caddytestutil.Adapt(t, `:8080 {
	@bots user_agent {
		preset ai_crawlers
		allow "Googlebot/"
	}
	@scan user_agent zgrab masscan
	@merged {
		user_agent EvilBot
		user_agent {
			block_empty
		}
	}
	respond @bots "no bots" 451
	respond @scan 403
	respond @merged 400
	respond "ok"
}`)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(decodeJSON(t, cfg)) // keys sorted
	for _, want := range []string{
		`{"user_agent":{"allow":["Googlebot/"],"preset":["ai_crawlers"]}}`,
		`{"user_agent":{"block":["zgrab","masscan"]}}`,
		`{"user_agent":{"block":["EvilBot"],"block_empty":true}}`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("adapted config lacks %s\n%s", want, raw)
		}
	}
}

func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"unknown subdirective", `:8080 {
	uafilter {
		preset scanners
		block_agents zgrab
	}
}`, `uafilter: unrecognized subdirective "block_agents", at Caddyfile:4`},
		{"unknown matcher subdirective", `:8080 {
	@bots user_agent {
		preset ai_crawlers
		status 403
	}
	respond @bots 403
}`, `user_agent: unrecognized subdirective "status", at Caddyfile:4`},
		{"short pattern", `:8080 {
	uafilter {
		block zgrab
		block go
	}
}`, `block: pattern "go" is shorter than 3 characters (short patterns cause false positives), at Caddyfile:4`},
		{"short inline pattern", `:8080 {
	uafilter ab
}`, `pattern "ab" is shorter than 3 characters`},
		{"short matcher pattern", `:8080 {
	@b user_agent {
		allow ok
	}
	respond @b 403
}`, `allow: pattern "ok" is shorter than 3 characters (short patterns cause false positives), at Caddyfile:3`},
		{"bad regexp", `:8080 {
	uafilter {
		block_regexp "^python-requests/("
	}
}`, `block_regexp: invalid regular expression "^python-requests/(": error parsing regexp: missing closing ): ` + "`^python-requests/(`" + `, at Caddyfile:3`},
		{"catch-all regexp", `:8080 {
	uafilter {
		block_regexp ".*"
	}
}`, `matches the empty string and therefore every User-Agent`},
		{"unknown preset", `:8080 {
	uafilter {
		preset scanners seo_tools
	}
}`, `preset: unknown preset "seo_tools" (known: [ai_crawlers ai_search ai_training ai_user scanners seo]), at Caddyfile:3`},
		{"no preset name", `:8080 {
	uafilter {
		preset
	}
}`, `preset: expected at least one argument, at Caddyfile:3`},
		{"bad status", `:8080 {
	uafilter {
		preset scanners
		status 200
	}
}`, `status: "200" is not an HTTP error status (400-599), at Caddyfile:4`},
		{"block_empty with argument", `:8080 {
	uafilter {
		block_empty yes
	}
}`, `block_empty: takes no arguments, at Caddyfile:3`},
		{"nothing to match", `:8080 {
	uafilter {
		allow "Googlebot/"
	}
}`, `uafilter: nothing to match: configure block, block_regexp, preset, list_file, block_empty or verify_bots, at Caddyfile:4`},
		{"empty matcher", `:8080 {
	@b user_agent
	respond @b 403
}`, `user_agent: nothing to match`},
		{"unknown verify_bots subdirective", `:8080 {
	uafilter {
		verify_bots {
			spoofed block
			cache 10000
		}
	}
}`, `verify_bots: unrecognized subdirective "cache", at Caddyfile:5`},
		{"unknown crawler", `:8080 {
	uafilter {
		verify_bots {
			ranges googlebott /var/lib/caddy/bots/googlebot.json
		}
	}
}`, `verify_bots: ranges: unknown crawler "googlebott" (known: [applebot baiduspider`},
		{"ranges without file", `:8080 {
	uafilter {
		verify_bots {
			ranges googlebot
		}
	}
}`, `verify_bots: ranges: expected a crawler name and files or suffixes, at Caddyfile:4`},
		{"bad suffix", `:8080 {
	uafilter {
		verify_bots {
			rdns applebot *.apple.com
		}
	}
}`, `verify_bots: rdns: suffix "*.apple.com" is not a domain name such as googlebot.com, at Caddyfile:4`},
		{"bad spoofed", `:8080 {
	uafilter {
		verify_bots {
			spoofed drop
		}
	}
}`, `verify_bots: spoofed: expected block, allow or log, at Caddyfile:4`},
		{"bad timeout", `:8080 {
	uafilter {
		verify_bots {
			timeout soon
		}
	}
}`, `verify_bots: timeout: invalid duration "soon", at Caddyfile:4`},
		{"verify_bots argument", `:8080 {
	uafilter {
		verify_bots on
	}
}`, `verify_bots: takes no arguments, only a block, at Caddyfile:3`},
		{"bad reload_interval", `:8080 {
	uafilter {
		list_file /etc/caddy/bad-agents.txt
		reload_interval often
	}
}`, `reload_interval: invalid duration "often", at Caddyfile:4`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := caddytestutil.Adapt(t, tc.input)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCaddyfileVerifyBots(t *testing.T) {
	cfg, err := caddytestutil.Adapt(t, `:8080 {
	uafilter {
		preset scanners ai_training
		verify_bots {
			ranges googlebot /var/lib/caddy/bots/googlebot.json   # published range files
			ranges googlebot /var/lib/caddy/bots/special-crawlers.json
			ranges gptbot /var/lib/caddy/bots/gptbot.json
			rdns applebot applebot.apple.com
			rdns baiduspider
			resolver 127.0.0.1:53
			timeout 1s
			spoofed log
		}
	}
	respond "ok"
}`)
	if err != nil {
		t.Fatal(err)
	}
	got := handlersOf(t, cfg)[0]
	want := map[string]any{
		"handler": "uafilter",
		"preset":  []any{"scanners", "ai_training"},
		"verify_bots": map[string]any{
			"ranges": map[string]any{
				"googlebot": []any{"/var/lib/caddy/bots/googlebot.json", "/var/lib/caddy/bots/special-crawlers.json"},
				"gptbot":    []any{"/var/lib/caddy/bots/gptbot.json"},
			},
			"rdns":     map[string]any{"applebot": []any{"applebot.apple.com"}, "baiduspider": nil},
			"resolver": "127.0.0.1:53",
			"timeout":  float64(time.Second),
			"spoofed":  "log",
		},
	}
	h := checkHandlerJSON(t, got, want)
	if _, ok := h.VerifyBots.RDNS["baiduspider"]; !ok {
		t.Fatal("rdns without suffixes lost in JSON")
	}

	// verify_bots alone is enough, in the handler and the matcher.
	if _, err := caddytestutil.Adapt(t, ":8080 {\n\tuafilter {\n\t\tverify_bots\n\t}\n\t@spoofed user_agent {\n\t\tverify_bots {\n\t\t\tspoofed block\n\t\t}\n\t}\n\trespond @spoofed 403\n}\n"); err != nil {
		t.Fatal(err)
	}
}

// The Caddyfile and JSON forms provision to the same rules.
func TestCaddyfileProvisions(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser(`uafilter {
		block EvilBot
		preset scanners
		allow "Googlebot/"
		block_empty
	}`)
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	if l, p := selects(h.eng, "evilbot/1.0"); l != "inline" || p != "EvilBot" {
		t.Fatalf("%q %q", l, p)
	}
}
