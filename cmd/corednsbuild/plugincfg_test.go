package main

import (
	"strings"
	"testing"
)

func TestParsePluginCfg(t *testing.T) {
	in := "# comment\n\nlog:log\nmcns:github.com/metacircular/edge/corednsplugin/mcns\non:github.com/coredns/caddy/onevent\n"
	got, err := parsePluginCfg(strings.NewReader(in), "plugin.cfg")
	if err != nil {
		t.Fatal(err)
	}
	want := []plugin{
		{"log", "github.com/coredns/coredns/plugin/log"},
		{"mcns", "github.com/metacircular/edge/corednsplugin/mcns"},
		{"on", "github.com/coredns/caddy/onevent"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("plugin %d = %v, want %v", i, got[i], want[i])
		}
	}
	src := string(mainSource(got))
	for _, s := range []string{`"log",`, `"mcns",`, `_ "github.com/metacircular/edge/corednsplugin/mcns"`, "coremain.Run()"} {
		if !strings.Contains(src, s) {
			t.Errorf("generated main lacks %s:\n%s", s, src)
		}
	}
	if strings.Index(src, `"log",`) > strings.Index(src, `"mcns",`) {
		t.Error("directive order not kept")
	}
}

func TestParsePluginCfgErrors(t *testing.T) {
	for in, want := range map[string]string{
		"log:log\nlog:log\n": "plugin.cfg:2: plugin \"log\" already listed on line 1",
		"log\n":              "plugin.cfg:1: want \"name:package\"",
		"# only comments\n":  "no plugins listed",
		"a b:c\n":            "plugin.cfg:1:",
	} {
		_, err := parsePluginCfg(strings.NewReader(in), "plugin.cfg")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parse(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}
