package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRRLLimitsUDPNotTCP floods bin/coredns with the rrl plugin from one
// client network: over UDP most answers are dropped or sent truncated
// (TC=1, so real resolvers retry over TCP), over TCP every query is
// answered, and once the window has passed UDP is answered again.
func TestRRLLimitsUDPNotTCP(t *testing.T) {
	bin := binDir(t)
	dir := t.TempDir()
	port, metricsPort := freePort(t), freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	corefile := fmt.Sprintf(`.:%d {
	bind 127.0.0.1
	prometheus 127.0.0.1:%d
	rrl {
		responses-per-second 5
		window 1
		slip 2
	}
	template IN A example.test {
		answer "{{ .Name }} 60 IN A 192.0.2.1"
	}
}
`, port, metricsPort)
	writeFile(t, filepath.Join(dir, "Corefile"), corefile)
	start(t, dir, nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile"))
	waitFor(t, 10*time.Second, "coredns answers over TCP", func() error {
		_, err := exchange("tcp", addr, "ready.example.test.")
		return err
	})

	// 50 UDP queries at once, from 127.0.0.1 (one /24).
	const n = 50
	var (
		mu                 sync.Mutex
		full, tc, timeouts int
		wg                 sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			m, err := exchange("udp", addr, "www.example.test.")
			mu.Lock()
			defer mu.Unlock()
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				timeouts++
			case err != nil:
				t.Errorf("UDP query: %v", err)
			case m.Truncated && len(m.Answer) == 0:
				tc++
			case len(m.Answer) == 1:
				full++
			default:
				t.Errorf("unexpected UDP reply:\n%v", m)
			}
		})
	}
	wg.Wait()
	t.Logf("%d UDP queries: %d answered, %d truncated, %d dropped", n, full, tc, timeouts)
	if full < 1 || full > 15 || tc < 5 || timeouts < 5 {
		t.Errorf("%d UDP queries at responses-per-second 5: %d answered, %d truncated, %d dropped; want a few answered, many truncated and dropped",
			n, full, tc, timeouts)
	}

	// TCP is never limited.
	for i := range n {
		m, err := exchange("tcp", addr, "www.example.test.")
		if err != nil || len(m.Answer) != 1 || m.Truncated {
			t.Fatalf("TCP query %d: %v %v", i, err, m)
		}
	}

	body := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(metricsPort)+"/metrics")
	for _, name := range []string{"coredns_rrl_responses_dropped_total", "coredns_rrl_responses_slipped_total"} {
		if !strings.Contains(body, name+`{category="response",server="dns://127.0.0.1:`+strconv.Itoa(port)+`"}`) {
			t.Errorf("metrics lack %s for the server:\n%s", name, body)
		}
	}

	// The debt is at most a window (1s) deep: UDP is answered again.
	time.Sleep(2500 * time.Millisecond)
	m, err := exchange("udp", addr, "www.example.test.")
	if err != nil || len(m.Answer) != 1 || m.Truncated {
		t.Fatalf("UDP query after the window: %v %v", err, m)
	}
}

// exchange sends one A query for name over network (udp or tcp).
func exchange(network, addr, name string) (*dns.Msg, error) {
	q := new(dns.Msg).SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: network, Timeout: time.Second}
	m, _, err := c.Exchange(q, addr)
	return m, err
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
