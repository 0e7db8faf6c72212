package uafilter

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/metacircular/edge/internal/testutil"
)

// rangeFile returns a range file in the format Google, Bing and OpenAI
// publish.
func rangeFile(prefixes ...string) string {
	var ps []string
	for _, p := range prefixes {
		key := "ipv4Prefix"
		if strings.Contains(p, ":") {
			key = "ipv6Prefix"
		}
		ps = append(ps, fmt.Sprintf(`{%q: %q}`, key, p))
	}
	return `{"creationTime": "2026-11-28T00:00:00.000000", "prefixes": [` + strings.Join(ps, ", ") + "]}\n"
}

func writeRangeFile(t *testing.T, prefixes ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ranges.json")
	writeFile(t, path, rangeFile(prefixes...))
	return path
}

func TestParseRangeFile(t *testing.T) {
	got, err := parseRangeFile("g.json", []byte(rangeFile("66.249.64.0/27", "2001:4860:4801:10::/64", "66.249.64.33/27")))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[66.249.64.0/27 2001:4860:4801:10::/64 66.249.64.32/27]" {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{`{"prefixes": [{"ipv4Prefix": "66.249.64.0/33"}]}`, `{"creationTime": "x"}`, `not json`, `{"prefixes": [{}]}`} {
		if _, err := parseRangeFile("g.json", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "ranges g.json: ") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}

// TestVerifyByRanges: a claim from inside the crawler's published ranges
// is verified, from anywhere else spoofed; a verified crawler passes
// every list unless a preset of its own category is configured.
func TestVerifyByRanges(t *testing.T) {
	gpt := writeRangeFile(t, "192.0.2.0/28", "2001:db8:1::/48")
	robots := filepath.Join(t.TempDir(), "robots.json")
	writeFile(t, robots, `{"GPTBot": {"function": "Scrapes data to train OpenAI's products."}, "OAI-SearchBot": {"function": "AI Search Crawlers"}}`)
	vb := &VerifyBots{Ranges: map[string][]string{"gptbot": {gpt}}}
	e, _ := newTestEngine(t, Rules{Preset: []string{"ai_search", "scanners"}, ListFile: []string{robots}, Block: []string{"GPTBot"}, VerifyBots: vb})
	for _, tc := range []struct {
		ip, list, category string
	}{
		{"192.0.2.5", "", ""},                             // verified: ai_training is not blocked
		{"2001:db8:1::7", "", ""},                         // IPv6
		{"::ffff:192.0.2.5", "", ""},                      // IPv4-mapped
		{"192.0.2.17", "spoofed:gptbot", "ai_training"},   // outside
		{"198.51.100.1", "spoofed:gptbot", "ai_training"}, // elsewhere
		{"not an address", "", ""},                        // unusable client_ip: RemoteAddr 192.0.2.1
	} {
		l, p, cat := selectsCategory(e, uaGPTBotDoc, tc.ip)
		if l != tc.list || cat != tc.category || (l != "" && p != "GPTBot") {
			t.Errorf("GPTBot from %s: (%q, %q, %q), want (%q, GPTBot, %q)", tc.ip, l, p, cat, tc.list, tc.category)
		}
	}
	// Now with its category blocked.
	e2, _ := newTestEngine(t, Rules{Preset: []string{"ai_training"}, VerifyBots: vb})
	if l, p, cat := selectsCategory(e2, uaGPTBotDoc, "192.0.2.5"); l != "preset:ai_training" || p != "GPTBot" || cat != "ai_training" {
		t.Errorf("verified GPTBot with ai_training blocked: (%q, %q, %q)", l, p, cat)
	}
	e3, _ := newTestEngine(t, Rules{Preset: []string{"ai_crawlers"}, VerifyBots: vb})
	wantList(t, e3, uaGPTBotDoc, "192.0.2.5", "preset:ai_crawlers")
	// Crawlers without a method (gptbot without ranges, claudebot) are
	// not claims: their User-Agents are judged as usual.
	e4, _ := newTestEngine(t, Rules{Preset: []string{"ai_training"}, VerifyBots: &VerifyBots{}})
	wantList(t, e4, uaGPTBotDoc, "198.51.100.1", "preset:ai_training")
}

// TestSpoofedPolicies: block refuses spoofed claims, log and allow leave
// them to the other rules; allow patterns do not exempt a spoofed claim.
func TestSpoofedPolicies(t *testing.T) {
	g := writeRangeFile(t, "192.0.2.0/24")
	for _, tc := range []struct {
		policy, want string
		logged       bool
	}{
		{"", "spoofed:googlebot", false},
		{spoofedBlock, "spoofed:googlebot", false},
		{spoofedLog, "", true},
		{spoofedAllow, "", false},
	} {
		e, logs := newTestEngine(t, Rules{Allow: []string{"Googlebot/"}, VerifyBots: &VerifyBots{Ranges: map[string][]string{"googlebot": {g}}, RDNS: map[string][]string{"googlebot": nil}, Spoofed: tc.policy}})
		if l, _, _ := selectsCategory(e, uaGooglebotDoc, "198.51.100.1"); l != tc.want {
			t.Errorf("spoofed %q: %q, want %q", tc.policy, l, tc.want)
		}
		if got := logs.FilterMessage("spoofed crawler User-Agent").FilterField(zap.String("crawler", "googlebot")).Len() > 0; got != tc.logged {
			t.Errorf("spoofed %q: logged %v", tc.policy, got)
		}
		wantList(t, e, uaGooglebotDoc, "192.0.2.1", "")
	}
}

// TestRangeFileReload: range files are watched like list files; a broken
// version keeps the last good ranges.
func TestRangeFileReload(t *testing.T) {
	path := writeRangeFile(t, "192.0.2.0/28")
	e, logs := newTestEngine(t, Rules{VerifyBots: &VerifyBots{Ranges: map[string][]string{"gptbot": {path}}}, ReloadInterval: caddy.Duration(20 * time.Millisecond)})
	verified := func(ip string) bool { l, _, _ := selectsCategory(e, uaGPTBotDoc, ip); return l == "" }
	if !verified("192.0.2.1") || verified("198.51.100.1") {
		t.Fatal("initial ranges")
	}
	testutil.ReplaceFile(t, path, []byte(rangeFile("198.51.100.0/24")))
	testutil.WaitFor(t, 5*time.Second, "the new ranges", func() error {
		if !verified("198.51.100.1") {
			return errors.New("198.51.100.1 not verified")
		}
		return nil
	})
	if verified("192.0.2.1") {
		t.Error("old range still verified")
	}
	testutil.ReplaceFile(t, path, []byte(`{"prefixes": [{"ipv4Prefix": "bogus"}]}`))
	testutil.WaitFor(t, 5*time.Second, "the error log", func() error {
		if logs.FilterMessageSnippet("crawler range file unusable").Len() == 0 {
			return errors.New("nothing logged")
		}
		return nil
	})
	if !verified("198.51.100.1") {
		t.Error("last good ranges dropped")
	}
	if logs.FilterMessageSnippet("reloaded crawler range file").Len() == 0 {
		t.Error("reload not logged")
	}

	ctx, cancel := testContext()
	defer cancel()
	missing := filepath.Join(t.TempDir(), "missing.json")
	_, err := newEngine(ctx, Rules{VerifyBots: &VerifyBots{Ranges: map[string][]string{"gptbot": {missing}}}}, zap.NewNop(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "verify_bots: ranges "+missing) {
		t.Fatalf("error %v", err)
	}
}

func TestVerifyBotsValidation(t *testing.T) {
	for _, tc := range []struct {
		vb   VerifyBots
		want string
	}{
		{VerifyBots{Ranges: map[string][]string{"gooblebot": {"/x"}}}, `ranges: unknown crawler "gooblebot"`},
		{VerifyBots{Ranges: map[string][]string{"googlebot": {}}}, `ranges googlebot: no file`},
		{VerifyBots{RDNS: map[string][]string{"applebot": {"*.apple.com"}}}, `rdns applebot: suffix "*.apple.com"`},
		{VerifyBots{Resolver: "a b"}, `resolver`},
		{VerifyBots{Spoofed: "drop"}, `spoofed: "drop" is not block, allow or log`},
		{VerifyBots{Timeout: -1}, `timeout`},
	} {
		ctx, cancel := testContext()
		_, err := newEngine(ctx, Rules{VerifyBots: &tc.vb}, zap.NewNop(), nil, nil)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.vb, err, tc.want)
		}
	}
	for in, want := range map[string]string{"127.0.0.1:5353": "127.0.0.1:5353", "127.0.0.1": "127.0.0.1:53", "::1": "[::1]:53", "dns.example": "dns.example:53", "[::1]:54": "[::1]:54"} {
		if got, err := resolverAddr(in); err != nil || got != want {
			t.Errorf("resolverAddr(%q) = %q, %v", in, got, err)
		}
	}
}

// TestCrawlerTable: every entry is documented and has a category; the
// required crawlers are present; tokens are distinct.
func TestCrawlerTable(t *testing.T) {
	for _, name := range []string{"googlebot", "bingbot", "applebot", "duckduckbot", "yandexbot", "baiduspider", "gptbot", "chatgpt-user", "oai-searchbot", "perplexitybot", "ccbot", "claudebot"} {
		if crawlerIndex(name) < 0 {
			t.Errorf("crawler %s missing", name)
		}
	}
	tokens := map[string]bool{}
	for i, c := range crawlers {
		if i > 0 && crawlers[i-1].name >= c.name {
			t.Errorf("table not sorted at %s", c.name)
		}
		if !strings.HasPrefix(c.doc, "https://") || c.category == "" || len(c.tokens) == 0 {
			t.Errorf("crawler %s: incomplete entry", c.name)
		}
		for _, u := range c.rangesURLs {
			if !strings.HasPrefix(u, "https://") {
				t.Errorf("crawler %s: range file URL %q", c.name, u)
			}
		}
		for _, s := range c.rdns {
			if err := validateSuffix(s); err != nil {
				t.Errorf("crawler %s: %v", c.name, err)
			}
		}
		for _, tok := range c.tokens {
			if tokens[strings.ToLower(tok)] {
				t.Errorf("token %s twice", tok)
			}
			tokens[strings.ToLower(tok)] = true
		}
	}
}

// TestCategories: each category preset selects its own entries only and
// reports the category; ai_crawlers is the three AI categories.
func TestCategories(t *testing.T) {
	seen := map[string]string{}
	for cat, p := range presets {
		for _, en := range p.entries {
			if other, ok := seen[strings.ToLower(en.pattern)]; ok {
				t.Errorf("%s is in %s and %s", en.pattern, other, cat)
			}
			seen[strings.ToLower(en.pattern)] = cat
		}
	}
	for cat := range presets {
		e := presetEngine(t, cat)
		for other, op := range presets {
			for _, en := range op.entries {
				for _, ua := range presetSamples[en.pattern] {
					l, _, gotCat := selectsCategory(e, ua, "")
					if other == cat && (l != "preset:"+cat || gotCat != cat) {
						t.Errorf("preset %s: %q gives (%q, %q)", cat, ua, l, gotCat)
					}
					if other != cat && l != "" {
						t.Errorf("preset %s selects %q of %s", cat, ua, other)
					}
				}
			}
		}
	}
	e := presetEngine(t, "ai_crawlers")
	for _, ua := range []string{uaGPTBotDoc, presetSamples["OAI-SearchBot"][0], presetSamples["ChatGPT-User"][0]} {
		if l, _, cat := selectsCategory(e, ua, ""); l != "preset:ai_crawlers" || !strings.HasPrefix(cat, "ai_") {
			t.Errorf("ai_crawlers: %q gives (%q, %q)", ua, l, cat)
		}
	}
}

// TestWholeWordMatching: patterns match product tokens, not substrings of
// other words: the historical false positives "Spider" (Baiduspider) and
// "LCC" (SLCC2 in old Internet Explorer User-Agents).
func TestWholeWordMatching(t *testing.T) {
	const baiduDoc = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
	const ie8 = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; WOW64; Trident/4.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0)"
	const baidu = "Mozilla/5.0 (compatible; Baiduspider/2.0)"
	for _, ua := range []string{ie8, baidu} {
		// What a substring match did:
		if !strings.Contains(strings.ToLower(ua), "lcc") && !strings.Contains(strings.ToLower(ua), "spider/") {
			t.Fatalf("sample %q does not show the false positive", ua)
		}
	}
	e, _ := newTestEngine(t, Rules{Block: []string{"Spider", "LCC", "WOW"}})
	checkMatches(t, e, []matchCase{
		{ie8, "", ""}, // SLCC2, WOW64
		{baidu, "", ""},
		{"Mozilla/5.0 (compatible; spider/1.0)", "inline", "Spider"},
		{"LCC crawler", "inline", "LCC"},
		{"WOW/1.0", "inline", "WOW"},
		// Baidu's documented User-Agent names its help page, where
		// "spider" is a word of its own: only verification spares it.
		{baiduDoc, "inline", "Spider"},
	})
	ranges := writeRangeFile(t, "192.0.2.0/24")
	ev, _ := newTestEngine(t, Rules{Block: []string{"Spider"}, VerifyBots: &VerifyBots{Ranges: map[string][]string{"baiduspider": {ranges}}}})
	wantList(t, ev, baiduDoc, "192.0.2.7", "")
	wantList(t, ev, baiduDoc, "198.51.100.7", "spoofed:baiduspider")
}

// TestWildcardPatterns: "*" at an end lifts the word condition there.
func TestWildcardPatterns(t *testing.T) {
	e, _ := newTestEngine(t, Rules{Block: []string{"*spider", "Nutch*", "*grab*"}, Allow: []string{"*LinkChecker"}})
	checkMatches(t, e, []matchCase{
		{"Mozilla/5.0 (compatible; Baiduspider/2.0)", "inline", "*spider"},
		{"Apache-Nutch-1.19", "inline", "Nutch*"},
		{"Nutchbot/1.0", "inline", "Nutch*"},
		{"xNutchbot/1.0", "", ""},
		{"Mozilla/5.0 zgrab/0.x", "inline", "*grab*"},
		{"spiderman", "", ""},
		{"W3C-LinkChecker spider", "", ""},
	})
	ctx, cancel := testContext()
	defer cancel()
	if _, err := newEngine(ctx, Rules{Block: []string{"*ab*"}}, zap.NewNop(), nil, nil); err == nil || !strings.Contains(err.Error(), "shorter than 3") {
		t.Fatalf("error %v", err)
	}
}

// TestWholeWordsOnBrowserCorpus configures, as block patterns, every piece
// of every word of the browser corpus ("ozill", "ecko", "ndroi", ...)
// that is not a word of the corpus itself: as substrings they match every
// browser, as words none.
func TestWholeWordsOnBrowserCorpus(t *testing.T) {
	corpus := append(append([]string{}, browserUAs...), crawlerUAs...)
	words := map[string]bool{}
	pieces := map[string]bool{}
	for _, ua := range corpus {
		for _, w := range strings.FieldsFunc(ua, func(r rune) bool { return r > 127 || !isWordByte(byte(r)) }) {
			words[strings.ToLower(w)] = true
			// Every proper piece of 3 bytes or more.
			for i := 0; i < len(w); i++ {
				for j := i + 3; j <= len(w); j++ {
					if j-i < len(w) {
						pieces[w[i:j]] = true
					}
				}
			}
		}
	}
	var block []string
	for p := range pieces {
		// A piece that is also a whole word somewhere ("145" of "M145F"
		// and "rv:145.0") is a token in its own right.
		if len(p) >= 3 && !words[strings.ToLower(p)] {
			block = append(block, p)
		}
	}
	if len(block) < 1000 {
		t.Fatalf("only %d pieces", len(block))
	}
	t.Logf("%d pieces", len(block))
	e, _ := newTestEngine(t, Rules{Block: block, Preset: []string{"scanners", "ai_crawlers", "seo"}})
	for _, ua := range corpus {
		if l, p := selects(e, ua); l != "" {
			t.Errorf("%q selected by %s %q", ua, l, p)
		}
	}
	// The same pieces as substrings select every browser.
	var star []string
	for _, p := range block {
		star = append(star, "*"+p+"*")
	}
	es, _ := newTestEngine(t, Rules{Block: star})
	for _, ua := range browserUAs {
		if l, _ := selects(es, ua); l == "" {
			t.Errorf("substring pieces miss %q", ua)
		}
	}
}

func TestRobotsJSON(t *testing.T) {
	data := `{
    "GPTBot": {"operator": "[OpenAI](https://openai.com)", "respect": "Yes", "function": "Scrapes data to train OpenAI's products.", "frequency": "No information.", "description": "Data is used to train OpenAI's products."},
    "ChatGPT-User": {"operator": "OpenAI", "function": "AI Assistants", "description": "..."},
    "OAI-SearchBot": {"operator": "OpenAI", "function": "AI Search Crawlers", "description": "..."},
    "Bytespider": {"function": "LLM training."},
    "ChatGPT Agent": {"function": "AI Agents"},
    "Awario": {"function": "AI Data Scrapers"},
    "NovelBot": {"function": "Unclear at this time."}
}`
	got, err := parseUAList("robots.json", []byte("\xef\xbb\xbf"+data))
	if err != nil {
		t.Fatal(err)
	}
	want := []listEntry{
		{"GPTBot", catAITraining}, {"ChatGPT-User", catAIUser}, {"OAI-SearchBot", catAISearch},
		{"Bytespider", catAITraining}, {"ChatGPT Agent", catAIUser}, {"Awario", catAITraining}, {"NovelBot", ""},
	}
	if fmt.Sprint(got.entries) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got.entries, want)
	}
	for _, bad := range []string{`{"ab": {}}`, `{"GPTBot": "x"}`, `{"GPTBot": {}`, `[]`} {
		if _, err := parseUAList("robots.json", []byte(bad)); err == nil || !strings.Contains(err.Error(), "list_file robots.json") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
	path := filepath.Join(t.TempDir(), "robots.json")
	writeFile(t, path, data)
	e, _ := newTestEngine(t, Rules{ListFile: []string{path}})
	if l, p, cat := selectsCategory(e, uaGPTBotDoc, ""); l != "file:"+path || p != "GPTBot" || cat != catAITraining {
		t.Errorf("robots.json list: (%q, %q, %q)", l, p, cat)
	}
	if l, _ := selects(e, uaFirefox); l != "" {
		t.Error("browser selected")
	}
}

// TestDeployRangeScript checks deploy/caddy-bot-ranges.sh: it downloads
// exactly the range files of the crawler table, keeps the old file when a
// download fails or is not a range file, and replaces files atomically.
// curl is a stand-in script; nothing is fetched.
func TestDeployRangeScript(t *testing.T) {
	script, err := filepath.Abs("../../deploy/caddy-bot-ranges.sh")
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	list := string(body)
	list = list[strings.Index(list, "<<'LIST'\n")+len("<<'LIST'\n"):]
	list = list[:strings.Index(list, "\nLIST\n")]
	var want []string
	for _, c := range crawlers {
		for _, u := range c.rangesURLs {
			want = append(want, c.name+" "+u)
		}
	}
	if list != strings.Join(want, "\n") {
		t.Errorf("script downloads\n%s\nthe table publishes\n%s", list, strings.Join(want, "\n"))
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin, dir := t.TempDir(), t.TempDir()
	// The stand-in serves Google's file, fails for OpenAI's GPTBot file and
	// answers everything else with an HTML page.
	writeFile(t, filepath.Join(bin, "curl"), `#!/bin/sh
all="$*"; out=
while [ $# -gt 0 ]; do case $1 in --output) out=$2; shift;; esac; shift; done
case "$all" in
*googlebot.json*) printf '%s' '`+strings.TrimSpace(rangeFile("66.249.64.0/27"))+`' >"$out";;
*gptbot.json*) exit 22;;
*) printf '<html>busy</html>' >"$out";;
esac
`)
	if err := os.Chmod(filepath.Join(bin, "curl"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "gptbot.json"), rangeFile("192.0.2.0/24"))
	writeFile(t, filepath.Join(dir, "bingbot.json"), rangeFile("198.51.100.0/24"))
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "BOT_RANGES_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("failed downloads did not fail the run:\n%s", out)
	}
	for name, want := range map[string]string{"googlebot": "66.249.64.0/27", "gptbot": "192.0.2.0/24", "bingbot": "198.51.100.0/24"} {
		got, _, err := readWatched(filepath.Join(dir, name+".json"), "ranges", rangeContent)
		if err != nil || fmt.Sprint(got.prefixes) != "["+want+"]" {
			t.Errorf("%s.json: %v %v\n%s", name, got.prefixes, err, out)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestVerifyMetricsShared: handlers and matchers with verify_bots in one
// config share the verification metrics (the histogram included).
func TestVerifyMetricsShared(t *testing.T) {
	g := writeRangeFile(t, "192.0.2.0/24")
	rules := Rules{VerifyBots: &VerifyBots{Ranges: map[string][]string{"googlebot": {g}}, RDNS: map[string][]string{"googlebot": nil}}}
	ctx, cancel := testContext()
	defer cancel()
	var hs []*Handler
	for i := 0; i < 2; i++ {
		h := &Handler{Rules: rules}
		if err := h.Provision(ctx); err != nil {
			t.Fatalf("provision %d: %v", i, err)
		}
		defer h.Cleanup()
		hs = append(hs, h)
	}
	m := &MatchUserAgent{Rules: rules}
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	for _, ip := range []string{"192.0.2.1", "198.51.100.1"} {
		r := benchRequest(uaGooglebotDoc, ip)
		for _, h := range hs {
			_ = h.ServeHTTP(httptest.NewRecorder(), r, nextOK)
		}
		m.Match(r)
	}
	vm, err := provisionVerifyMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for result, want := range map[string]float64{"verified": 3, "spoofed": 3} {
		if got := counterValue(t, vm.claims.WithLabelValues("googlebot", result)); got != want {
			t.Errorf("%s claims: %v, want %v", result, got, want)
		}
	}
	vec, _ := counterVec(ctx, blockedOpts, "list")
	if got := counterValue(t, vec.WithLabelValues("spoofed:googlebot")); got != 2 {
		t.Errorf("blocked_total{spoofed:googlebot} = %v, want 2", got)
	}
}
