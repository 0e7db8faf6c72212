package stamp

import (
	"strings"
	"testing"
)

func TestFromGitOutsideCheckout(t *testing.T) {
	if got := FromGit(t.TempDir()); got != (Info{"devel", "unknown"}) {
		t.Errorf("FromGit(empty dir) = %+v, want devel/unknown", got)
	}
}

func TestXFlags(t *testing.T) {
	got := strings.Join(Info{Version: "v1.2.0-3-gabc-dirty", Commit: "abcdef012345"}.XFlags(), " ")
	want := "-X " + VersionPkg + ".Version=v1.2.0-3-gabc-dirty -X " + VersionPkg + ".Commit=abcdef012345"
	if got != want {
		t.Errorf("XFlags = %q, want %q", got, want)
	}
	if c := clean("v1 'x\"y"); c != "v1__x_y" {
		t.Errorf("clean = %q", c)
	}
}
