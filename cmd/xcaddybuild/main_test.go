package main

import (
	"strings"
	"testing"

	"github.com/caddyserver/xcaddy"

	"github.com/metacircular/edge/internal/version/stamp"
)

func TestStampVersion(t *testing.T) {
	info := stamp.Info{Version: "v1.0.0-dirty", Commit: "0123456789ab"}
	var b xcaddy.Builder
	if err := stampVersion(&b, info); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{defaultBuildFlags, "-ldflags '-w -s ", stamp.VersionPkg + ".Version=v1.0.0-dirty",
		stamp.VersionPkg + ".Commit=0123456789ab", "caddy/v2.CustomVersion=edge-v1.0.0-dirty'"} {
		if !strings.Contains(b.BuildFlags, want) {
			t.Errorf("build flags %q lack %q", b.BuildFlags, want)
		}
	}
	b = xcaddy.Builder{BuildFlags: "-tags x"}
	if err := stampVersion(&b, info); err != nil || !strings.HasPrefix(b.BuildFlags, "-tags x -ldflags") {
		t.Errorf("own build_flags: %q, %v", b.BuildFlags, err)
	}
	b = xcaddy.Builder{BuildFlags: "-ldflags '-s'"}
	if err := stampVersion(&b, info); err == nil {
		t.Error("build_flags with -ldflags accepted")
	}
}
