package uafilter

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
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
			if _, err := adapt(t, body); err != nil {
				t.Errorf("example does not adapt: %v\n%s", err, body)
			}
		case "caddy-d":
			if strings.Contains(body, "<") { // syntax synopsis
				continue
			}
			n++
			if _, err := adapt(t, ":8080 {\n"+body+"\n\trespond \"ok\"\n}\n"); err != nil {
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
