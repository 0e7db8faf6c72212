package uafilter

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/metacircular/edge/internal/caddytestutil"
	"github.com/metacircular/edge/internal/testutil"
)

// The tests run Caddy in-process on free ports of their own (see
// caddytestutil.NewPorts); they share that one Caddy and run sequentially.
var (
	caddyPorts = caddytestutil.NewPorts()
	adminPort  = caddyPorts.Admin
	httpPort   = caddyPorts.HTTP
	httpsPort  = caddyPorts.HTTPS
)

const (
	uaFirefox   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:143.0) Gecko/20100101 Firefox/143.0"
	uaChromeAnd = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36"
	uaGooglebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGPTBot    = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.1; +https://openai.com/gptbot"
	uaSqlmap    = "sqlmap/1.8.2#stable (https://sqlmap.org)"
	uaZgrab     = "Mozilla/5.0 zgrab/0.x"
)

func newTester(t *testing.T) *caddytest.Tester { return caddyPorts.NewTester(t) }

var globalOptions = caddyPorts.GlobalOptions("")

var siteURL = fmt.Sprintf("http://localhost:%d/", httpPort)

// get requests siteURL with the given User-Agent; "" sends none. Right
// after a config load a connection may still reach the old server while it
// shuts down, so transport errors are retried briefly.
func get(t *testing.T, tc *caddytest.Tester, ua string) (int, string) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		req, err := http.NewRequest(http.MethodGet, siteURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", ua) // an empty value makes net/http omit the header
		resp, err := tc.Client.Do(req)
		if err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	t.Fatalf("request failed: %v", lastErr)
	return 0, ""
}

func expect(t *testing.T, tc *caddytest.Tester, ua string, status int, body string) {
	t.Helper()
	gotStatus, gotBody := get(t, tc, ua)
	if gotStatus != status || (body != "" && gotBody != body) {
		t.Errorf("UA %q: got %d %q, want %d %q", ua, gotStatus, gotBody, status, body)
	}
}

// metrics returns the admin endpoint's Prometheus exposition.
func metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func expectMetric(t *testing.T, line string) {
	t.Helper()
	m := metrics(t)
	if !strings.Contains(m, line+"\n") {
		var ours []string
		for _, l := range strings.Split(m, "\n") {
			if strings.HasPrefix(l, "caddy_uafilter_") {
				ours = append(ours, l)
			}
		}
		t.Errorf("metric %q not found; uafilter metrics:\n%s", line, strings.Join(ours, "\n"))
	}
}

func writeListFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad-agents.txt")
	writeFile(t, path, content)
	return path
}

func TestIntegrationCaddyfile(t *testing.T) {
	list := writeListFile(t, "# local additions\nEvilCorpBot\nBadAgent/  # trailing comment\n")
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	uafilter {
		block zgrab masscan Nuclei httpx GPTBot CCBot ClaudeBot Bytespider   # case-insensitive substrings
		block_regexp "^python-requests/"
		preset scanners ai_crawlers
		list_file %s
		allow "Googlebot/"
		block_empty
		status 403
	}
	respond "ok"
}
`, httpPort, list), "caddyfile")

	expect(t, tc, uaFirefox, 200, "ok")
	expect(t, tc, uaChromeAnd, 200, "ok")
	expect(t, tc, uaGooglebot, 200, "ok")
	expect(t, tc, uaZgrab, 403, "")
	expect(t, tc, uaGPTBot, 403, "")
	expect(t, tc, "MASSCAN/1.3 (https://github.com/robertdavidgraham/masscan)", 403, "")
	expect(t, tc, uaSqlmap, 403, "")                                      // preset scanners
	expect(t, tc, "Mozilla/5.0 (compatible; PerplexityBot/1.0)", 403, "") // preset ai_crawlers
	expect(t, tc, "python-requests/2.32.3", 403, "")                      // block_regexp
	expect(t, tc, "Mozilla/5.0 (compatible; EvilCorpBot/3.1)", 403, "")   // list_file
	expect(t, tc, "badagent/1.0", 403, "")                                // list_file, case-insensitive
	expect(t, tc, "", 403, "")                                            // block_empty
	expect(t, tc, uaGooglebot+" GPTBot", 200, "ok")                       // allow beats block
	expect(t, tc, "curl/8.5.0", 200, "ok")

	expectMetric(t, `caddy_uafilter_blocked_total{list="inline"} 3`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="preset:scanners"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="preset:ai_crawlers"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="regexp"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="file:`+list+`"} 2`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="empty"} 1`)
	if m := metrics(t); strings.Contains(m, "sqlmap/") || strings.Contains(m, "EvilCorpBot/") {
		t.Error("raw User-Agent in metrics")
	}
}

func TestIntegrationJSON(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(fmt.Sprintf(`{
	"admin": {"listen": "localhost:%d"},
	"apps": {
		"http": {
			"http_port": %d,
			"https_port": %d,
			"servers": {
				"srv0": {
					"listen": [":%d"],
					"routes": [
						{
							"match": [{"user_agent": {"preset": ["ai_crawlers"], "allow": ["Googlebot/"]}}],
							"handle": [{"handler": "static_response", "status_code": 451, "body": "no AI crawlers"}],
							"terminal": true
						},
						{
							"handle": [
								{"handler": "uafilter", "block": ["zgrab", "masscan"], "preset": ["scanners"], "block_regexp": ["^python-requests/"], "status": 418},
								{"handler": "static_response", "body": "ok"}
							]
						}
					],
					"errors": {
						"routes": [{
							"handle": [{"handler": "static_response", "status_code": "{http.error.status_code}", "body": "blocked {http.vars.uafilter.list} {http.vars.uafilter.pattern}"}]
						}]
					}
				}
			}
		},
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}}
	}
}`, adminPort, httpPort, httpsPort, httpPort), "json")

	expect(t, tc, uaFirefox, 200, "ok")
	expect(t, tc, uaGooglebot, 200, "ok")
	expect(t, tc, uaGPTBot, 451, "no AI crawlers")
	expect(t, tc, uaZgrab, 418, "blocked inline zgrab")
	expect(t, tc, uaSqlmap, 418, "blocked preset:scanners sqlmap")
	expect(t, tc, "python-requests/2.32.3", 418, "blocked regexp ^python-requests/")
	expect(t, tc, "", 200, "ok") // no block_empty

	expectMetric(t, `caddy_uafilter_matched_total{list="preset:ai_crawlers"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="inline"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="preset:scanners"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="regexp"} 1`)
}

func TestIntegrationMatcherCaddyfile(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	@ai user_agent {
		preset ai_crawlers
	}
	@scan user_agent zgrab masscan
	respond @ai "no AI crawlers" 451
	handle @scan {
		error "scanner" 403
	}
	respond "ok"
	handle_errors {
		respond "{err.status_code} {err.message}"
	}
}
`, httpPort), "caddyfile")

	expect(t, tc, uaFirefox, 200, "ok")
	expect(t, tc, uaGPTBot, 451, "no AI crawlers")
	expect(t, tc, "Mozilla/5.0 (compatible; ClaudeBot/1.0)", 451, "no AI crawlers")
	expect(t, tc, uaZgrab, 403, "403 scanner")
	expect(t, tc, uaSqlmap, 200, "ok") // only zgrab and masscan in @scan
	expectMetric(t, `caddy_uafilter_matched_total{list="preset:ai_crawlers"} 2`)
	expectMetric(t, `caddy_uafilter_matched_total{list="inline"} 1`)
}

func TestIntegrationListFileReload(t *testing.T) {
	list := writeListFile(t, "FirstBot\n")
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	uafilter {
		list_file %s
		reload_interval 50ms
	}
	respond "ok"
}
`, httpPort, list), "caddyfile")

	expect(t, tc, "FirstBot/1.0", 403, "")
	expect(t, tc, "SecondBot/1.0", 200, "ok")

	testutil.ReplaceFile(t, list, []byte("SecondBot\n"))
	testutil.WaitFor(t, 5*time.Second, "SecondBot blocked", func() error {
		if s, _ := get(t, tc, "SecondBot/1.0"); s != 403 {
			return fmt.Errorf("status %d", s)
		}
		return nil
	})
	expect(t, tc, "FirstBot/1.0", 200, "ok")

	// Broken and then missing file: the last good set stays.
	testutil.ReplaceFile(t, list, []byte("SecondBot\nx\n"))
	time.Sleep(200 * time.Millisecond)
	expect(t, tc, "SecondBot/1.0", 403, "")
	if err := os.Remove(list); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	expect(t, tc, "SecondBot/1.0", 403, "")
	expectMetric(t, `caddy_uafilter_list_reloads_total{result="success"} 1`)
	expectMetric(t, `caddy_uafilter_list_reloads_total{result="error"} 2`)

	writeFile(t, list, "ThirdBot\n")
	testutil.WaitFor(t, 5*time.Second, "ThirdBot blocked", func() error {
		if s, _ := get(t, tc, "ThirdBot"); s != 403 {
			return fmt.Errorf("status %d", s)
		}
		return nil
	})
	expect(t, tc, "SecondBot/1.0", 200, "ok")
}

// loadConfig posts a config to the admin endpoint and returns the status
// and response body.
func loadConfig(t *testing.T, config, contentType string) (int, string) {
	t.Helper()
	return caddyPorts.LoadConfig(t, config, contentType)
}

func TestIntegrationLoadErrors(t *testing.T) {
	// Start (or reuse) the in-process Caddy with a valid config.
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(":%d {\n\trespond \"ok\"\n}\n", httpPort), "caddyfile")

	bad := writeListFile(t, "# header\nEvilBot\n\nab\n")
	missing := filepath.Join(t.TempDir(), "missing.txt")
	for _, tc := range []struct {
		name, site, want string
	}{
		{"unknown subdirective", "uafilter {\n\t\tpreset scanners\n\t\tblock_agents zgrab\n\t}", `unrecognized subdirective \"block_agents\", at Caddyfile:10`},
		{"short pattern", "uafilter {\n\t\tblock ab\n\t}", `pattern \"ab\" is shorter than 3 characters (short patterns cause false positives), at Caddyfile:9`},
		{"bad list file line", "uafilter {\n\t\tlist_file " + bad + "\n\t}", `list_file ` + bad + `:4: pattern \"ab\" is shorter than 3 characters`},
		{"missing list file", "uafilter {\n\t\tlist_file " + missing + "\n\t}", `list_file ` + missing + `: open ` + missing + `: no such file or directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := globalOptions + fmt.Sprintf(":%d {\n\t%s\n\trespond \"ok\"\n}\n", httpPort, tc.site)
			status, body := loadConfig(t, cfg, "text/caddyfile")
			if status == http.StatusOK || !strings.Contains(body, tc.want) {
				t.Errorf("load: %d %s\nwant error containing %s", status, body, tc.want)
			}
		})
	}

	// JSON with a bad pattern names the option.
	status, body := loadConfig(t, fmt.Sprintf(`{"admin":{"listen":"localhost:%d"},"apps":{"http":{"servers":{"srv0":{"listen":[":%d"],"routes":[{"handle":[{"handler":"uafilter","block":["ok"]}]}]}}}}}`, adminPort, httpPort), "application/json")
	if status == http.StatusOK || !strings.Contains(body, `block: pattern \"ok\" is shorter than 3 characters`) {
		t.Errorf("JSON load: %d %s", status, body)
	}
	// The previous config is still serving.
	expect(t, newTester(t), uaFirefox, 200, "ok")
}

// TestIntegrationVerifyBots runs crawler verification in Caddy: the test
// client connects from 127.0.0.1, which the Googlebot range file contains
// and the GPTBot one does not.
func TestIntegrationVerifyBots(t *testing.T) {
	google := writeRangeFile(t, "127.0.0.0/8", "::1/128")
	gpt := writeRangeFile(t, "192.0.2.0/24")
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	uafilter {
		preset scanners ai_training
		verify_bots {
			ranges googlebot %s
			ranges gptbot %s
			rdns googlebot
			rdns bingbot
			spoofed block
		}
	}
	respond "ok"
	handle_errors {
		respond "{http.vars.uafilter.list} {http.vars.uafilter.pattern} {http.vars.uafilter.category}" 403
	}
}
`, httpPort, google, gpt), "caddyfile")

	expect(t, tc, uaFirefox, 200, "ok")
	expect(t, tc, uaGooglebot, 200, "ok")                             // verified by its ranges
	expect(t, tc, uaGPTBot, 403, "spoofed:gptbot GPTBot ai_training") // outside its ranges
	expect(t, tc, uaSqlmap, 403, "preset:scanners sqlmap scanners")   // categories
	expect(t, tc, uaBingbotDoc, 200, "ok")                            // no method left: an ordinary User-Agent
	expect(t, tc, presetSamples["ChatGPT-User"][0], 200, "ok")        // ai_user is not blocked

	expectMetric(t, `caddy_uafilter_crawler_claims_total{crawler="googlebot",result="verified"} 1`)
	expectMetric(t, `caddy_uafilter_crawler_claims_total{crawler="gptbot",result="spoofed"} 1`)
	expectMetric(t, `caddy_uafilter_blocked_total{list="spoofed:gptbot"} 1`)
}
