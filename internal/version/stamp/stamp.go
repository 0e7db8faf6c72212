// Package stamp finds this project's version and commit in its git
// checkout and turns them into the -ldflags that set package version's
// variables. The build drivers use it; the plugins never import it.
package stamp

import (
	"os/exec"
	"strings"
)

// VersionPkg is the import path of the package whose variables are set.
const VersionPkg = "github.com/metacircular/edge/internal/version"

// Info is what gets stamped into a binary.
type Info struct {
	Version string // git describe --tags --always --dirty, or "devel"
	Commit  string // the commit, abbreviated to 12 digits, or "unknown"
}

// FromGit describes the checkout dir is in; outside a checkout, or without
// git, it returns "devel" and "unknown", the unstamped defaults.
func FromGit(dir string) Info {
	info := Info{Version: "devel", Commit: "unknown"}
	if v := git(dir, "describe", "--tags", "--always", "--dirty"); v != "" {
		info.Version = clean(v)
	}
	if c := git(dir, "rev-parse", "--short=12", "HEAD"); c != "" {
		info.Commit = clean(c)
	}
	return info
}

func git(dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// XFlags are the linker's -X settings for info, to go inside -ldflags.
func (info Info) XFlags() []string {
	return []string{
		"-X", VersionPkg + ".Version=" + info.Version,
		"-X", VersionPkg + ".Commit=" + info.Commit,
	}
}

// clean keeps a value to the characters a tag or a hash has, so that it
// never needs quoting inside -ldflags or a shell-style flag string.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-_+/", r):
			return r
		}
		return '_'
	}, s)
}
