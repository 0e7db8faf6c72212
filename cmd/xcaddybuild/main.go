// Command xcaddybuild builds Caddy with xcaddy from a JSON file that holds
// xcaddy's own Builder settings (caddy_version, plugins, replacements, ...):
//
//	go run ./cmd/xcaddybuild -config xcaddy.json -o bin/caddy
//
// xcaddy itself takes its settings only as flags; this is the same build
// driven by a file kept under version control. Relative replacement paths
// are taken relative to the config file, so "." means this working tree.
//
// The binary carries this project's version and commit (git describe of
// the config file's checkout; see internal/version): the plugins log them
// and export them as edge_build_info, and `caddy version` starts with
// "edge-VERSION". -goos and -goarch cross-compile (make dist).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/caddyserver/xcaddy"

	"github.com/metacircular/edge/internal/goproxy"
	"github.com/metacircular/edge/internal/version/stamp"
)

func main() {
	cfgPath := flag.String("config", "xcaddy.json", "xcaddy build settings")
	out := flag.String("o", "bin/caddy", "output binary")
	goos := flag.String("goos", "", "target operating system (default: this one)")
	goarch := flag.String("goarch", "", "target architecture (default: this one)")
	flag.Parse()
	log.SetFlags(0)
	b, err := load(*cfgPath)
	if err == nil {
		err = stampVersion(&b, stamp.FromGit(filepath.Dir(*cfgPath)))
	}
	if err != nil {
		log.Fatalf("xcaddybuild: %v", err)
	}
	if *goos != "" {
		b.OS = *goos
	}
	if *goarch != "" {
		b.Arch = *goarch
	}
	if err := build(b, *out); err != nil {
		log.Fatalf("xcaddybuild: %v", err)
	}
}

func build(b xcaddy.Builder, out string) error {
	cleanup, err := unpublishedFallback(b)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return b.Build(ctx, out)
}

// defaultBuildFlags are xcaddy's own go build flags, used when the config
// sets none (build_flags replaces them whole).
const defaultBuildFlags = "-trimpath -tags nobadger,nomysql,nopgx"

// stampVersion adds the version -ldflags to b's build flags. A config
// that sets -ldflags itself is refused: go build would keep only one.
func stampVersion(b *xcaddy.Builder, info stamp.Info) error {
	if strings.Contains(b.BuildFlags, "-ldflags") {
		return fmt.Errorf("build_flags must not set -ldflags: xcaddybuild sets them to stamp the version")
	}
	if b.BuildFlags == "" {
		b.BuildFlags = defaultBuildFlags
	}
	x := append([]string{"-w", "-s"}, info.XFlags()...)
	x = append(x, "-X", "github.com/caddyserver/caddy/v2.CustomVersion=edge-"+info.Version)
	b.BuildFlags += " -ldflags '" + strings.Join(x, " ") + "'"
	return nil
}

// load reads a Builder from path, rejecting unknown fields so a typo cannot
// silently drop a plugin.
func load(path string) (xcaddy.Builder, error) {
	var b xcaddy.Builder
	data, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	if b.CaddyVersion == "" {
		return b, fmt.Errorf("%s: caddy_version is required", path)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return b, err
	}
	for i, r := range b.Replacements {
		newPath := string(r.New)
		if isLocal(newPath) && !filepath.IsAbs(newPath) {
			b.Replacements[i].New = xcaddy.ReplacementPath(filepath.Join(base, newPath))
		}
	}
	return b, nil
}

// isLocal reports whether a replacement target is a directory rather than a
// module@version, following go.mod's rule: local paths start with ./ ../ or /.
func isLocal(p string) bool {
	return p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p)
}

// unpublishedFallback points GOPROXY at a list that lets go resolve plugins
// only a local replacement provides (see package goproxy).
func unpublishedFallback(b xcaddy.Builder) (cleanup func(), err error) {
	local := false
	for _, r := range b.Replacements {
		local = local || isLocal(string(r.New))
	}
	if !local {
		return func() {}, nil
	}
	empty, err := os.MkdirTemp("", "xcaddybuild-noproxy")
	if err != nil {
		return nil, err
	}
	cleanup = func() { os.RemoveAll(empty) }
	return cleanup, os.Setenv("GOPROXY", goproxy.WithNotFoundFallback(os.Getenv("GOPROXY"), empty))
}
