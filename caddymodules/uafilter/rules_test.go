package uafilter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/metacircular/edge/internal/testutil"
)

// counterValue reads a counter (avoiding prometheus/testutil, which would
// pull another module into go.mod).
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func testContext() (caddy.Context, context.CancelFunc) {
	return caddy.NewContext(caddy.Context{Context: context.Background()})
}

// newTestEngine provisions rules with an observed logger.
func newTestEngine(t *testing.T, rules Rules) (*engine, *observer.ObservedLogs) {
	t.Helper()
	ctx, cancel := testContext()
	t.Cleanup(cancel)
	core, logs := observer.New(zapcore.DebugLevel)
	sel, reloads, err := provisionMetrics(ctx, blockedOpts)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(ctx, rules, zap.New(core), sel, reloads)
	if err != nil {
		t.Fatalf("newEngine: %v", err)
	}
	t.Cleanup(e.close)
	return e, logs
}

type matchCase struct {
	ua      string
	list    string // "" = not selected
	pattern string
}

func checkMatches(t *testing.T, e *engine, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		got, p := selects(e, c.ua)
		if got != c.list || (c.list != "" && p != c.pattern) {
			t.Errorf("match(%q) = (%q, %q), want (%q, %q)", c.ua, got, p, c.list, c.pattern)
		}
	}
}

func TestRulesMatching(t *testing.T) {
	e, _ := newTestEngine(t, Rules{
		Block:       []string{"zgrab", "masscan", "Nuclei", "httpx", "GPTBot", "CCBot", "ClaudeBot", "Bytespider"},
		BlockRegexp: []string{"^python-requests/", `(?i)^go-http-client/1\.1$`},
		Preset:      []string{"scanners", "ai_crawlers"},
		Allow:       []string{"Googlebot/"},
		AllowRegexp: []string{`^python-requests/.*\+https://status\.example\.com`},
	})
	checkMatches(t, e, []matchCase{
		{"Mozilla/5.0 zgrab/0.x", "inline", "zgrab"},
		{"mozilla/5.0 (compatible; gptbot/1.1)", "inline", "GPTBot"},
		{"sqlmap/1.8.2#stable (https://sqlmap.org)", "preset:scanners", "sqlmap"},
		{"Mozilla/5.0 (compatible; PerplexityBot/1.0)", "preset:ai_crawlers", "PerplexityBot"},
		{"python-requests/2.32.3", "regexp", "^python-requests/"},
		{"Go-http-client/1.1", "regexp", `(?i)^go-http-client/1\.1$`},
		{"my python-requests/2.32.3", "", ""}, // anchored
		{"python-requests/2.32 (+https://status.example.com)", "", ""},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) GPTBot", "", ""},
		{"GPTBot Googlebot/2.1", "", ""},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36", "", ""},
		{"", "", ""},
	})
}

func TestRulesFirstListWins(t *testing.T) {
	// "Nuclei" is both inline and in the scanners preset: inline is
	// reported (inline, then presets, then files, then regexps).
	e, _ := newTestEngine(t, Rules{Block: []string{"nuclei"}, Preset: []string{"scanners"}})
	checkMatches(t, e, []matchCase{{"Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "inline", "nuclei"}})
}

func TestRulesEmptyUserAgent(t *testing.T) {
	e, _ := newTestEngine(t, Rules{BlockEmpty: true})
	for name, hdr := range map[string][]string{
		"missing":  nil,
		"empty":    {""},
		"twoempty": {"", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if hdr != nil {
			r.Header["User-Agent"] = hdr
		}
		if rs, h := e.matchRequest(r); h.list < 0 || rs.lists[h.list] != "empty" {
			t.Errorf("%s: not selected as empty", name)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "x")
	if _, h := e.matchRequest(r); h.list >= 0 {
		t.Errorf("non-empty UA selected by block_empty")
	}

	// Without block_empty an empty User-Agent passes.
	e2, _ := newTestEngine(t, Rules{Block: []string{"zgrab"}})
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	if _, h := e2.matchRequest(r); h.list >= 0 {
		t.Errorf("missing UA selected without block_empty")
	}
}

func TestRulesEveryUserAgentValue(t *testing.T) {
	e, _ := newTestEngine(t, Rules{Preset: []string{"scanners"}, Allow: []string{"Googlebot/"}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["User-Agent"] = []string{"Mozilla/5.0 (compatible; Googlebot/2.1)", "sqlmap/1.8"}
	if _, h := e.matchRequest(r); h.list < 0 || h.pattern != "sqlmap" {
		t.Fatalf("second User-Agent value not checked: %+v", h)
	}
}

func TestRulesValidation(t *testing.T) {
	for _, tc := range []struct {
		rules Rules
		want  string
	}{
		{Rules{Block: []string{"ab"}}, `block: pattern "ab" is shorter than 3 characters`},
		{Rules{Block: []string{" a "}}, `shorter than 3 characters`},
		{Rules{Block: []string{"abc\x00"}}, `control character`},
		{Rules{Block: []string{"abc"}, Allow: []string{"go"}}, `allow: pattern "go" is shorter`},
		{Rules{BlockRegexp: []string{"(unclosed"}}, `block_regexp: invalid regular expression "(unclosed"`},
		{Rules{BlockRegexp: []string{".*"}}, `matches the empty string`},
		{Rules{Block: []string{"abc"}, AllowRegexp: []string{"x?"}}, `allow_regexp: regular expression "x?" matches the empty string`},
		{Rules{Preset: []string{"search"}}, `preset: unknown preset "search" (known: ai_crawlers, ai_search, ai_training, ai_user, scanners, seo)`},
		{Rules{}, `nothing to match`},
		{Rules{Allow: []string{"Googlebot"}}, `nothing to match`},
		{Rules{ListFile: []string{"/nonexistent/uafilter-list.txt"}}, `list_file /nonexistent/uafilter-list.txt: open /nonexistent/uafilter-list.txt: no such file or directory`},
	} {
		ctx, cancel := testContext()
		_, err := newEngine(ctx, tc.rules, zap.NewNop(), nil, nil)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.rules, err, tc.want)
		}
	}
}

func TestParseListFile(t *testing.T) {
	data := "\xef\xbb\xbf# bad agents\r\n" +
		"zgrab\r\n" +
		"\n" +
		"   # indented comment\n" +
		"  masscan  \n" +
		"Nmap Scripting Engine   # the nmap http library\n" +
		"bad#bot\n" +
		"\tsqlmap\t#tab comment\n"
	got, err := parseListFile("bad-agents.txt", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"zgrab", "masscan", "Nmap Scripting Engine", "bad#bot", "sqlmap"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}

	_, err = parseListFile("/etc/caddy/bad-agents.txt", []byte("# header\nzgrab\n\nab # too short\n"))
	if err == nil || !strings.Contains(err.Error(), `list_file /etc/caddy/bad-agents.txt:4: pattern "ab" is shorter than 3 characters`) {
		t.Fatalf("error %v", err)
	}
	if !errors.As(err, new(listParseError)) {
		t.Fatalf("not a listParseError")
	}
}

func TestListFileErrorAtStartNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad-agents.txt")
	writeFile(t, path, "zgrab\nmasscan\nx\n")
	ctx, cancel := testContext()
	defer cancel()
	_, err := newEngine(ctx, Rules{ListFile: []string{path}}, zap.NewNop(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "list_file "+path+":3: pattern \"x\"") {
		t.Fatalf("error %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantSelected reports whether a request with ua is selected by list.
func wantSelected(e *engine, ua, list string) error {
	if l, _ := selects(e, ua); l != list {
		return fmt.Errorf("%q selected by %q, want %q", ua, l, list)
	}
	return nil
}

// selects returns the list and pattern that select a request with ua, or
// "", "".
func selects(e *engine, ua string) (string, string) {
	l, p, _ := selectsCategory(e, ua, "")
	return l, p
}

// selectsCategory is selects with the category, for a request from
// client IP ip ("" for none).
func selectsCategory(e *engine, ua, ip string) (list, pattern, category string) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", ua)
	if ip != "" {
		r = withClientIP(r, ip)
	}
	rs, h := e.matchRequest(r)
	if h.list < 0 {
		return "", "", ""
	}
	return rs.lists[h.list], h.pattern, h.category
}

// withClientIP sets Caddy's client_ip variable, as the server does.
func withClientIP(r *http.Request, ip string) *http.Request {
	vars := map[string]any{caddyhttp.ClientIPVarKey: ip}
	return r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
}

func TestListFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad-agents.txt")
	writeFile(t, path, "# v1\nEvilBot\n")
	e, logs := newTestEngine(t, Rules{ListFile: []string{path}, ReloadInterval: caddy.Duration(20 * time.Millisecond)})
	label := "file:" + path

	if l, p := selects(e, "Mozilla/5.0 (compatible; EvilBot/1.0)"); l != label || p != "EvilBot" {
		t.Fatalf("v1: got %q %q", l, p)
	}

	// 1. In-place rewrite (size changes).
	writeFile(t, path, "# v2\nWorseBot\nEvilBot\n")
	testutil.WaitFor(t, 5*time.Second, "v2 loaded", func() error { return wantSelected(e, "WorseBot/2", label) })

	// 2. Atomic replace with same size and mtime resolution: inode changes.
	old := e.set.Load()
	testutil.ReplaceFile(t, path, []byte("# v3\nBadderBt\nEvilBot\n"))
	testutil.WaitFor(t, 5*time.Second, "v3 loaded", func() error {
		if e.set.Load() == old {
			return errors.New("the rule set is unchanged")
		}
		return nil
	})
	if l, _ := selects(e, "BadderBt"); l != label {
		t.Fatalf("v3 not active")
	}
	if l, _ := selects(e, "WorseBot/2"); l != "" {
		t.Fatalf("v2 pattern still active")
	}

	// 3. Invalid line: the last good set stays, the error names file:line.
	good := e.set.Load()
	testutil.ReplaceFile(t, path, []byte("EvilBot\nok\n"))
	testutil.WaitFor(t, 5*time.Second, "parse error logged", func() error {
		if logs.FilterMessageSnippet("unusable").FilterFieldKey("error").Len() == 0 {
			return errors.New("nothing logged")
		}
		return nil
	})
	entry := logs.FilterMessageSnippet("unusable").All()[0]
	if msg := entry.ContextMap()["error"].(string); !strings.Contains(msg, path+":2: pattern \"ok\"") {
		t.Fatalf("error does not name file and line: %s", msg)
	}
	if e.set.Load() != good {
		t.Fatalf("rule set replaced by an invalid file")
	}
	if l, _ := selects(e, "BadderBt"); l != label {
		t.Fatalf("last good set lost")
	}

	// 4. File disappears: last good set stays, error logged once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "missing file logged", func() error {
		if n := logs.FilterMessageSnippet("unusable").FilterField(zap.String("file", path)).Len(); n < 2 {
			return fmt.Errorf("%d errors logged", n)
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond) // several polls
	if n := logs.FilterMessageSnippet("unusable").Len(); n != 2 {
		t.Fatalf("errors logged %d times, want 2 (once per state)", n)
	}
	if l, _ := selects(e, "BadderBt"); l != label {
		t.Fatalf("last good set lost after removal")
	}

	// 5. File comes back: loaded again.
	writeFile(t, path, "Phoenix-Bot\n")
	testutil.WaitFor(t, 5*time.Second, "restored file loaded", func() error { return wantSelected(e, "phoenix-bot/1", label) })
	if l, _ := selects(e, "BadderBt"); l != "" {
		t.Fatalf("old pattern still active after restore")
	}
}

func TestListFileWatcherStopsOnCleanup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.txt")
	writeFile(t, path, "EvilBot\n")
	h := &Handler{Rules: Rules{ListFile: []string{path}, ReloadInterval: caddy.Duration(10 * time.Millisecond)}}
	ctx, cancel := testContext()
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.eng.done:
	default:
		t.Fatal("watcher still running after Cleanup")
	}
	_ = h.Cleanup() // idempotent
}

func TestHandlerBlocksWithErrorLogAndMetric(t *testing.T) {
	ctx, cancel := testContext()
	defer cancel()
	h := &Handler{Rules: Rules{Preset: []string{"scanners"}, Block: []string{"EvilBot"}}, Status: 451}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	core, logs := observer.New(zapcore.InfoLevel)
	h.logger = zap.New(core)

	nextCalled := 0
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { nextCalled++; return nil })

	r := httptest.NewRequest(http.MethodGet, "/wp-login.php", nil)
	r.Header.Set("User-Agent", "sqlmap/1.8.2#stable (https://sqlmap.org)")
	err := h.ServeHTTP(httptest.NewRecorder(), r, next)
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) || he.StatusCode != 451 {
		t.Fatalf("error %v, want caddyhttp.HandlerError 451", err)
	}
	if !strings.Contains(he.Error(), `preset:scanners`) || !strings.Contains(he.Error(), `"sqlmap"`) {
		t.Fatalf("error message %q lacks list or pattern", he.Error())
	}
	if nextCalled != 0 {
		t.Fatal("next handler called for a blocked request")
	}
	if logs.Len() != 1 {
		t.Fatalf("%d log entries", logs.Len())
	}
	f := logs.All()[0].ContextMap()
	if f["list"] != "preset:scanners" || f["pattern"] != "sqlmap" || f["status"] != int64(451) {
		t.Fatalf("log fields %v", f)
	}

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:143.0) Gecko/20100101 Firefox/143.0")
	if err := h.ServeHTTP(httptest.NewRecorder(), r, next); err != nil || nextCalled != 1 {
		t.Fatalf("browser not passed: %v", err)
	}

	reg := ctx.GetMetricsRegistry()
	vec, _ := counterVec(ctx, blockedOpts, "list")
	if got := counterValue(t, vec.WithLabelValues("preset:scanners")); got != 1 {
		t.Fatalf("blocked_total{list=preset:scanners} = %v", got)
	}
	// Only list labels, never the User-Agent.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "caddy_uafilter_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.Contains(lp.GetValue(), "sqlmap/") || strings.Contains(lp.GetValue(), "Mozilla") {
					t.Fatalf("raw User-Agent in metric label %s=%s", lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func TestMetricsRegistrationIsIdempotent(t *testing.T) {
	ctx, cancel := testContext()
	defer cancel()
	var hs []*Handler
	for i := 0; i < 3; i++ {
		h := &Handler{Rules: Rules{Block: []string{"EvilBot"}}}
		if err := h.Provision(ctx); err != nil {
			t.Fatalf("provision %d: %v", i, err)
		}
		hs = append(hs, h)
	}
	m := &MatchUserAgent{Rules: Rules{Block: []string{"EvilBot"}}}
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "EvilBot")
	for _, h := range hs {
		_ = h.ServeHTTP(httptest.NewRecorder(), r, nil)
	}
	if !m.Match(r) {
		t.Fatal("matcher did not match")
	}
	vec, _ := counterVec(ctx, blockedOpts, "list")
	if got := counterValue(t, vec.WithLabelValues("inline")); got != 3 {
		t.Fatalf("blocked_total = %v, want 3 (shared across instances)", got)
	}
	mvec, _ := counterVec(ctx, matchedOpts, "list")
	if got := counterValue(t, mvec.WithLabelValues("inline")); got != 1 {
		t.Fatalf("matched_total = %v, want 1", got)
	}
	// A new config load gets a fresh registry: registering again works.
	ctx2, cancel2 := testContext()
	defer cancel2()
	h := &Handler{Rules: Rules{Block: []string{"EvilBot"}}}
	if err := h.Provision(ctx2); err != nil {
		t.Fatal(err)
	}
}

func TestHandlerStatusValidation(t *testing.T) {
	ctx, cancel := testContext()
	defer cancel()
	h := &Handler{Rules: Rules{Block: []string{"EvilBot"}}, Status: 200}
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), "not an HTTP error status") {
		t.Fatalf("error %v", err)
	}
	h = &Handler{Rules: Rules{Block: []string{"EvilBot"}}}
	if err := h.Provision(ctx); err != nil || h.Status != 403 {
		t.Fatalf("default status: %v %d", err, h.Status)
	}
}

func TestMatcherSetsVars(t *testing.T) {
	ctx, cancel := testContext()
	defer cancel()
	m := &MatchUserAgent{Rules: Rules{Preset: []string{"ai_crawlers"}}}
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	vars := map[string]any{}
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
	r.Header.Set("User-Agent", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.1; +https://openai.com/gptbot")
	ok, err := m.MatchWithError(r)
	if !ok || err != nil {
		t.Fatalf("no match: %v", err)
	}
	if vars[varList] != "preset:ai_crawlers" || vars[varPattern] != "GPTBot" {
		t.Fatalf("vars %v", vars)
	}
	r.Header.Set("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	if m.Match(r) {
		t.Fatal("Googlebot matched ai_crawlers")
	}
}

func TestMatchRequestDoesNotAllocate(t *testing.T) {
	e, _ := newTestEngine(t, Rules{Preset: []string{"ai_crawlers", "scanners"}, Block: []string{"EvilBot"}, Allow: []string{"Googlebot/"}, BlockEmpty: true})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", benchUA)
	if n := testing.AllocsPerRun(100, func() { e.matchRequest(r) }); n != 0 {
		t.Fatalf("matchRequest allocates %v times", n)
	}
}

func TestIdenticalListsShareAutomaton(t *testing.T) {
	rules := Rules{Preset: []string{"scanners", "ai_crawlers"}, Block: []string{"EvilBot"}}
	e1, _ := newTestEngine(t, rules)
	e2, _ := newTestEngine(t, rules)
	if e1.set.Load().ac != e2.set.Load().ac {
		t.Fatal("identical rules compiled twice")
	}
	e3, _ := newTestEngine(t, Rules{Preset: []string{"scanners"}})
	if e3.set.Load().ac == e1.set.Load().ac {
		t.Fatal("different rules share an automaton")
	}
}

// TestListFileWrittenInPlaceSlowly checks that a list file whose writer
// pauses for a whole interval half-way is not loaded half-written: a
// change is read only once two consecutive polls find it unchanged.
func TestListFileWrittenInPlaceSlowly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.txt")
	writeFile(t, path, "EvilBot\n")
	// Polled by hand: the watcher's interval never comes round.
	e, _ := newTestEngine(t, Rules{ListFile: []string{path}, ReloadInterval: caddy.Duration(time.Hour)})
	label := "file:" + path

	// The writer has got as far as the start of "Mozilla-Impostor".
	if err := os.WriteFile(path, []byte("EvilBot\nMozilla"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.poll() // notices the change
	e.poll() // unchanged for one interval: the writer may be stalled
	if l, _ := selects(e, "Mozilla/5.0 (X11; Linux x86_64)"); l != "" {
		t.Fatal("half-written list file loaded after one quiet interval")
	}
	if err := os.WriteFile(path, []byte("EvilBot\nMozilla-Impostor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.poll()
	e.poll()
	if l, _ := selects(e, "Mozilla-Impostor/1"); l != "" {
		t.Fatal("list file loaded after one quiet interval")
	}
	e.poll()
	if l, _ := selects(e, "Mozilla-Impostor/1"); l != label {
		t.Fatal("finished list file not loaded after two quiet intervals")
	}
	if l, _ := selects(e, "Mozilla/5.0 (X11; Linux x86_64)"); l != "" {
		t.Fatal("browser blocked")
	}
}
