package main

import (
	"strings"
	"testing"

	"github.com/metacircular/edge/internal/version/stamp"
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
	for _, s := range []string{`"log",`, `"mcns",`, `_ "github.com/metacircular/edge/corednsplugin/mcns"`, "coremain.Run()",
		`var edgeVersion = "devel"`, `caddy.AppVersion = coremain.CoreVersion + "+edge." + edgeVersion`} {
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

func TestLDFlagsStampVersion(t *testing.T) {
	got := ldflags(stamp.Info{Version: "v1.0.0", Commit: "0123456789ab"})
	for _, want := range []string{"-s -w ", stamp.VersionPkg + ".Version=v1.0.0", stamp.VersionPkg + ".Commit=0123456789ab",
		"-X main.edgeVersion=v1.0.0", "-X github.com/coredns/coredns/coremain.GitCommit=0123456789ab"} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags %q lack %q", got, want)
		}
	}
}
