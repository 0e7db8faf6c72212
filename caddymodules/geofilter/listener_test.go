package geofilter

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// exchange connects to addr, sends a request and returns what came back.
func exchange(t *testing.T, addr string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(c)
	return string(b), err
}

func listenerCaddyfile(wrapper string) string {
	return fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	servers :%d {
		listener_wrappers {
			geofilter {
%s
			}
		}
	}
}
:%d {
	respond "ok"
}
`, adminPort, httpPort, httpsPort, httpPort, wrapper, httpPort)
}

func TestListenerWrapper(t *testing.T) {
	dbs := makeTestDBs(t)
	v4 := fmt.Sprintf("127.0.0.1:%d", httpPort)
	v6 := fmt.Sprintf("[::1]:%d", httpPort)
	refused := func(t *testing.T, addr string) {
		t.Helper()
		if got, _ := exchange(t, addr); got != "" {
			t.Errorf("%s: refused connection got bytes: %q", addr, got)
		}
	}
	served := func(t *testing.T, addr string) {
		t.Helper()
		if got, err := exchange(t, addr); !strings.HasPrefix(got, "HTTP/1.1 200") || err != nil {
			t.Errorf("%s: got %q, %v", addr, got, err)
		}
	}
	tc := newTester(t)

	t.Run("country caddyfile", func(t *testing.T) {
		// loopback is CN in the test database; ::1 is exempted
		tc.InitServer(listenerCaddyfile("\t\t\t\tdb "+dbs.country+"\n\t\t\t\tblock_countries CN\n\t\t\t\tallow_cidrs ::1/128"), "caddyfile")
		refused(t, v4)
		served(t, v6)
	})
	t.Run("block_ips json", func(t *testing.T) {
		tc.InitServer(fmt.Sprintf(`{
	"admin": {"listen": "localhost:%d"},
	"apps": {"http": {"http_port": %d, "https_port": %d, "servers": {"srv0": {
		"listen": [":%d"],
		"listener_wrappers": [{"wrapper": "geofilter", "block_ips": ["::1"]}],
		"routes": [{"handle": [{"handler": "static_response", "body": "ok"}]}]
	}}}}
}`, adminPort, httpPort, httpsPort, httpPort), "json")
		served(t, v4)
		refused(t, v6)
	})
	t.Run("rate_limit", func(t *testing.T) {
		tc.InitServer(listenerCaddyfile("\t\t\t\trate_limit 2 1h\n\t\t\t\trate_limit_zone listener-test"), "caddyfile")
		served(t, v4)
		served(t, v4)
		refused(t, v4)
		served(t, v6)
	})
}

// TestListenerWrapperBeforeTLS checks that a refused client gets no TLS
// handshake: the connection closes before the server sends any byte.
func TestListenerWrapperBeforeTLS(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	local_certs
	servers :%d {
		listener_wrappers {
			geofilter {
				block_ips 127.0.0.1
			}
			tls
		}
	}
}
https://localhost:%d {
	respond "ok"
}
`, adminPort, httpPort, httpsPort, httpsPort, httpsPort), "caddyfile")

	handshake := func(addr string) (string, error) {
		raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
		// Record what the server sends during the handshake.
		rec := &recordingConn{Conn: raw}
		c := tls.Client(rec, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
		err = c.Handshake()
		return rec.read.String(), err
	}
	// The internal certificate is issued in the background; wait for it.
	var got string
	var err error
	for range 150 {
		if got, err = handshake(fmt.Sprintf("[::1]:%d", httpsPort)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || got == "" {
		t.Fatalf("allowed client: handshake err %v", err)
	}
	got, err = handshake(fmt.Sprintf("127.0.0.1:%d", httpsPort))
	if err == nil || got != "" {
		t.Errorf("blocked client: handshake err %v, server sent %d bytes", err, len(got))
	}
}

type recordingConn struct {
	net.Conn
	read strings.Builder
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Write(p[:n])
	return n, err
}

// TestListenerWrapperBehindProxyProtocol runs the wrapper after Caddy's
// proxy_protocol wrapper: the address from the PROXY header is judged, and
// a client that sends no header does not hold up the others. Held up, the
// allowed client would wait out the silent one's 10 s header timeout; it is
// given 5 s, so a loaded machine's slow answer is not taken for that.
func TestListenerWrapperBehindProxyProtocol(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	servers :%d {
		listener_wrappers {
			proxy_protocol {
				timeout 10s
				allow 127.0.0.1/32
			}
			geofilter {
				block_ips %s
			}
		}
	}
}
:%d {
	respond "ok"
}
`, adminPort, httpPort, httpsPort, httpPort, ipBlocked, httpPort), "caddyfile")
	addr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	proxied := func(client string) string {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
		_, _ = io.WriteString(c, "PROXY TCP4 "+client+" 127.0.0.1 1234 80\r\n"+
			"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		return string(b)
	}

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	if got := proxied(ipUS); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("allowed client: got %q", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("allowed client waited %v behind a silent one", d)
	}
	if got := proxied(ipBlocked); got != "" {
		t.Errorf("blocked client got bytes: %q", got)
	}
}
