package geofilter

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"go.uber.org/zap"
)

// proxyWrapper returns a listener wrapper refusing blocked, in front of
// go-proxyproto as Caddy's proxy_protocol wrapper sets it up.
func proxyWrapper(t *testing.T, headerTimeout time.Duration, blocked ...string) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lw := &ListenerWrapper{logger: zap.NewNop()}
	lw.BlockIPs = blocked
	if lw.policy, err = lw.Filter.provision(zap.NewNop(), "listener", filterNames); err != nil {
		t.Fatal(err)
	}
	fl := lw.WrapListener(&proxyproto.Listener{Listener: ln, ReadHeaderTimeout: headerTimeout})
	t.Cleanup(func() { _ = fl.Close(); lw.policy.cleanup() })
	return fl, ln.Addr().String()
}

func dialProxied(t *testing.T, addr, header string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if header != "" {
		if _, err := io.WriteString(c, header); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestListenerWrapperProxyProtocolNoStall checks that a client that never
// sends its PROXY header does not hold up the connections behind it.
func TestListenerWrapperProxyProtocolNoStall(t *testing.T) {
	const headerTimeout = 3 * time.Second
	fl, addr := proxyWrapper(t, headerTimeout)
	dialProxied(t, addr, "") // silent
	// Let the silent client be the first in the accept queue.
	time.Sleep(20 * time.Millisecond)
	dialProxied(t, addr, "PROXY TCP4 2.2.3.4 192.0.2.1 1234 80\r\n")

	start := time.Now()
	accepted := make(chan net.Conn, 2)
	go func() {
		for range 2 {
			c, err := fl.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		select {
		case c := <-accepted:
			defer c.Close()
		case <-time.After(headerTimeout - time.Second):
			t.Fatalf("Accept stalled for %v behind a client without a PROXY header", time.Since(start))
		}
	}
}

// TestListenerWrapperProxyProtocolRefuses checks that connections judged
// on their first read are still refused on the address the PROXY header
// carries, and that a refused client gets no byte.
func TestListenerWrapperProxyProtocolRefuses(t *testing.T) {
	fl, addr := proxyWrapper(t, time.Second, ipBlocked)
	serve := func() <-chan error {
		done := make(chan error, 1)
		go func() {
			c, err := fl.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			// As a server that greets first: the write is the first use.
			if _, err := io.WriteString(c, "hello\n"); err != nil {
				done <- err
				return
			}
			buf := make([]byte, 4)
			_, err = io.ReadFull(c, buf)
			done <- err
		}()
		return done
	}

	done := serve()
	c := dialProxied(t, addr, "PROXY TCP4 "+ipBlocked+" 192.0.2.1 1234 80\r\n")
	if err := wait(t, done); !errors.Is(err, errRefused) {
		t.Errorf("blocked client: server write returned %v, want %v", err, errRefused)
	}
	if got, _ := io.ReadAll(c); len(got) != 0 {
		t.Errorf("blocked client got %q", got)
	}

	done = serve()
	c = dialProxied(t, addr, "PROXY TCP4 "+ipUS+" 192.0.2.1 1234 80\r\nping")
	got := make([]byte, 6)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello\n" {
		t.Errorf("allowed client: got %q, %v", got, err)
	}
	if err := wait(t, done); err != nil {
		t.Errorf("allowed client: server read: %v", err)
	}
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("server side got no connection")
		return nil
	}
}
