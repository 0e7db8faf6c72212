package uafilter

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/metacircular/edge/internal/caddytestutil"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fenceRe = regexp.MustCompile("(?s)```(caddy|caddy-d|json)\n(.*?)```")

// Every Caddyfile example in the README adapts, and every JSON example
// parses.
func TestREADMEExamples(t *testing.T) {
	n := 0
	for _, m := range fenceRe.FindAllStringSubmatch(readme(t), -1) {
		kind, body := m[1], m[2]
		switch kind {
		case "caddy":
			n++
			if _, err := caddytestutil.Adapt(t, body); err != nil {
				t.Errorf("example does not adapt: %v\n%s", err, body)
			}
		case "caddy-d":
			if strings.Contains(body, "<") { // syntax synopsis
				continue
			}
			n++
			if _, err := caddytestutil.Adapt(t, ":8080 {\n"+body+"\n\trespond \"ok\"\n}\n"); err != nil {
				t.Errorf("snippet does not adapt: %v\n%s", err, body)
			}
		case "json":
			n++
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("JSON example does not parse: %v\n%s", err, body)
			}
			if obj, ok := v.(map[string]any); ok && obj["handler"] == "uafilter" {
				delete(obj, "handler")
				raw, _ := json.Marshal(obj)
				var h Handler
				dec := json.NewDecoder(strings.NewReader(string(raw)))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&h); err != nil {
					t.Errorf("handler JSON example: %v", err)
				}
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d examples found", n)
	}
}

// The README documents every preset entry with its source, and the
// required build line.
func TestREADMEPresetsAndBuildLine(t *testing.T) {
	r := readme(t)
	for name, p := range presets {
		if !strings.Contains(r, "### "+name+"\n") {
			t.Errorf("README lacks a section for preset %s", name)
		}
		for _, e := range p.entries {
			row := "| `" + e.pattern + "` | <" + e.source + "> |"
			if !strings.Contains(r, row) {
				t.Errorf("README lacks row %s", row)
			}
		}
	}
	const build = "xcaddy build --with github.com/metacircular/edge/caddymodules/geofilter --with github.com/metacircular/edge/caddymodules/uafilter"
	if !strings.Contains(r, build) {
		t.Error("README lacks the xcaddy build line")
	}
}

// The README documents every crawler of the table: its token, category,
// reverse-DNS suffixes, range files and documentation.
func TestREADMECrawlerTable(t *testing.T) {
	r := readme(t)
	for _, c := range crawlers {
		i := strings.Index(r, "| `"+c.name+"` | ")
		if i < 0 {
			t.Errorf("README lacks crawler %s", c.name)
			continue
		}
		row := r[i : i+strings.Index(r[i:], "\n")]
		want := []string{"`" + c.category + "`", "<" + c.doc + ">"}
		for _, tok := range c.tokens {
			want = append(want, "`"+tok+"`")
		}
		for _, s := range c.rdns {
			want = append(want, "`"+s+"`")
		}
		for _, u := range c.rangesURLs {
			want = append(want, "<"+u+">")
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("README row of %s lacks %s: %s", c.name, w, row)
			}
		}
	}
	for _, m := range []string{"caddy_uafilter_crawler_claims_total", "caddy_uafilter_rdns_lookups_total", "caddy_uafilter_rdns_lookup_seconds", "{http.vars.uafilter.category}", "spoofed:<crawler>"} {
		if !strings.Contains(r, m) {
			t.Errorf("README does not mention %s", m)
		}
	}
}
