// Package goproxy adjusts GOPROXY so that go can resolve packages that only
// a local replace directive provides.
//
// While resolving imports, go asks the module proxy whether each package
// path is a module of its own. Proxies answer 404 for an unknown path, which
// go takes as "no such module" before it falls back to the replace
// directive; some answer 403, which stops the build instead. Joining the
// proxy list with "|" (fall through on any error) and ending it with an
// empty file proxy turns such errors into not-found. "direct" and "off" are
// dropped: a failed VCS fetch of the unpublished path would be reported
// instead of the not-found that lets go carry on.
package goproxy

import (
	"path/filepath"
	"strings"
)

// DefaultProxy is go's default when GOPROXY is unset.
const DefaultProxy = "https://proxy.golang.org,direct"

// WithNotFoundFallback returns proxy (GOPROXY's value; empty means go's
// default) rewritten to end in the empty file proxy at emptyDir.
func WithNotFoundFallback(proxy, emptyDir string) string {
	if proxy == "" {
		proxy = DefaultProxy
	}
	var list []string
	for _, p := range strings.FieldsFunc(proxy, func(r rune) bool { return r == ',' || r == '|' }) {
		if p = strings.TrimSpace(p); p != "" && p != "direct" && p != "off" {
			list = append(list, p)
		}
	}
	list = append(list, "file://"+filepath.ToSlash(emptyDir))
	return strings.Join(list, "|")
}
