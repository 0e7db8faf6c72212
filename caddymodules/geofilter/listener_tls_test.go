package geofilter

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tlsListenerCaddyfile is an HTTPS site on the test's HTTPS port with an
// internal certificate kept in storage (so reloads reuse it), whose
// server's listener wrappers are wrappers followed by tls (none: Caddy's
// default, tls alone); site holds the site's directives before its answer.
func tlsListenerCaddyfile(storage, wrappers, site string) string {
	if wrappers != "" {
		wrappers = "\t\tlistener_wrappers {\n" + wrappers + "\n\t\t\ttls\n\t\t}\n"
	}
	return fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	local_certs
	storage file_system %s
	servers :%d {
%s	}
}
https://localhost:%d {
%s
	respond "ok"
}
`, adminPort, httpPort, httpsPort, storage, httpsPort, wrappers, httpsPort, site)
}

// tlsHandshake connects to addr and runs a TLS handshake; it returns the
// bytes the server sent during it and the handshake's error.
func tlsHandshake(addr string) (string, error) {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	rec := &recordingConn{Conn: raw}
	c := tls.Client(rec, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
	err = c.Handshake()
	return rec.read.String(), err
}

// closedConnections reads caddy_geofilter_connections_closed_total for a
// reason (clients without a country) from the admin endpoint; 0 when absent.
func closedConnections(t *testing.T, reason string) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	prefix := `caddy_geofilter_connections_closed_total{country="",reason="` + reason + `"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// TestListenerBlockListBeforeTLS checks that bans (earned in the wrapper
// or in the handler) and runtime blocks close connections to a TLS site
// before the handshake: the server sends no byte.
func TestListenerBlockListBeforeTLS(t *testing.T) {
	v4 := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	v6 := fmt.Sprintf("[::1]:%d", httpsPort)
	storage := t.TempDir()
	t.Cleanup(func() {
		adminDo(t, "DELETE", blocksPath+"/127.0.0.1%2F32", "")
		adminDo(t, "DELETE", blocksPath+"/::1%2F128", "")
	})
	served := func(t *testing.T, step, addr string) {
		t.Helper()
		if got, err := tlsHandshake(addr); err != nil || got == "" {
			t.Fatalf("%s: %s: handshake err %v, want a completed handshake", step, addr, err)
		}
	}
	refused := func(t *testing.T, step, addr string) {
		t.Helper()
		if got, err := tlsHandshake(addr); err == nil || got != "" {
			t.Errorf("%s: %s: handshake err %v, server sent %d bytes; want the connection closed before any", step, addr, err, len(got))
		}
	}
	tc := newTester(t)

	// First without geofilter, until the internal certificate is issued
	// (in the background) and stored: the handshakes that wait for it
	// count against no limit.
	tc.InitServer(tlsListenerCaddyfile(storage, "", ""), "caddyfile")
	var err error
	for range 150 {
		if _, err = tlsHandshake(v4); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no certificate: handshake err %v", err)
	}

	// A ban earned in the wrapper: the third connection is over the limit
	// and earns the ban (one strike).
	tc.InitServer(tlsListenerCaddyfile(storage,
		"\t\t\tgeofilter {\n\t\t\t\trate_limit 2 1h\n\t\t\t\trate_limit_zone tls-listener-ban\n\t\t\t\tban 1 1h\n\t\t\t\trate_limit_ipv6_prefix 128\n\t\t\t}", ""), "caddyfile")
	served(t, "within the limit", v4)
	served(t, "within the limit", v4)
	refused(t, "over the limit", v4)
	if l := listBlocks(t); !contains(l, "ban 127.0.0.1/32 banned") {
		t.Fatalf("ban not listed: %v", l)
	}

	// A wrapper without a rate limit (after a reload) still closes the
	// banned client's connections, and counts them as banned.
	noLimit := "\t\t\tgeofilter {\n\t\t\t\tblock_ips 192.0.2.1\n\t\t\t}"
	tc.InitServer(tlsListenerCaddyfile(storage, noLimit, ""), "caddyfile")
	before := closedConnections(t, reasonBanned)
	refused(t, "banned", v4)
	if after := closedConnections(t, reasonBanned); after != before+1 {
		t.Errorf("connections closed as banned: %v -> %v, want one more", before, after)
	}
	served(t, "not banned", v6)

	// A runtime block from the admin API.
	if status, body := adminDo(t, "POST", blocksPath, `{"cidr": "::1/128", "reason": "tls test"}`); status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, body)
	}
	before = closedConnections(t, reasonBlockList)
	refused(t, "runtime block", v6)
	if after := closedConnections(t, reasonBlockList); after != before+1 {
		t.Errorf("connections closed as block_list: %v -> %v, want one more", before, after)
	}
	if status, _ := adminDo(t, "DELETE", blocksPath+"/::1%2F128", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE block: %d", status)
	}
	served(t, "block removed", v6)
	// The ban was all that refused 127.0.0.1.
	if status, _ := adminDo(t, "DELETE", blocksPath+"/127.0.0.1%2F32", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE ban: %d", status)
	}
	served(t, "ban lifted", v4)

	// A ban earned in the site's handler closes the client's next
	// connections in the wrapper, before TLS.
	tc.InitServer(tlsListenerCaddyfile(storage, noLimit,
		"\tgeofilter {\n\t\trate_limit 1 1h\n\t\trate_limit_zone tls-handler-ban\n\t\tban 1 1h\n\t}"), "caddyfile")
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, v4)
		},
		TLSClientConfig:   &tls.Config{ServerName: "localhost", InsecureSkipVerify: true},
		DisableKeepAlives: true,
	}}
	for i, want := range []int{http.StatusOK, http.StatusForbidden} { // the second is over the limit: banned
		resp, err := client.Get(fmt.Sprintf("https://localhost:%d/", httpsPort))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	if l := listBlocks(t); !contains(l, "ban 127.0.0.1/32 banned") {
		t.Fatalf("handler ban not listed: %v", l)
	}
	refused(t, "banned by the handler", v4)
	served(t, "not banned", v6)
}
