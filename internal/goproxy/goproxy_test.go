package goproxy

import "testing"

func TestWithNotFoundFallback(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "https://proxy.golang.org|file:///e"},
		{"https://proxy.golang.org,direct", "https://proxy.golang.org|file:///e"},
		{"https://a.example|https://b.example,off", "https://a.example|https://b.example|file:///e"},
		{"direct", "file:///e"},
	} {
		if got := WithNotFoundFallback(tc.in, "/e"); got != tc.want {
			t.Errorf("WithNotFoundFallback(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
