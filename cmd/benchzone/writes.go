package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// tokensCmd writes a tokens file granting -token the admin role, for the
// API of the server the write benchmark drives.
func tokensCmd(args []string) error {
	fs := flag.NewFlagSet("tokens", flag.ExitOnError)
	token := fs.String("token", "", "bearer token (at least 32 characters)")
	out := fs.String("out", "", "tokens file to write")
	fs.Parse(args)
	if len(*token) < 32 || *out == "" {
		return fmt.Errorf("tokens: -token (32+ characters) and -out are required")
	}
	return os.WriteFile(*out, []byte(api.TokenLine(*token, "bench", []string{api.RoleAdmin})+"\n"), 0o600)
}

// writeStats are the outcome of a sustained write run.
type writeStats struct {
	ok, failed, unseen atomic.Int64
	mu                 sync.Mutex
	latencies          []time.Duration // of the 2xx writes, request to response
}

// latency returns the q-quantile of the 2xx writes' latencies.
func (st *writeStats) latency(q float64) time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.latencies) == 0 {
		return 0
	}
	slices.Sort(st.latencies)
	return st.latencies[min(len(st.latencies)-1, int(q*float64(len(st.latencies))))]
}

// writesCmd posts A records to zone at -rate writes/s from -clients
// concurrent keep-alive clients for -duration; after each 2xx it asks the
// DNS server once and counts answers that do not show the new record.
// With -read it sends the same number of authenticated GETs of the zone
// instead, each followed by a DNS query for the zone's SOA: the control
// that tells what the API's HTTP path and the checks cost a server under
// query load apart from what the writes themselves cost.
func writesCmd(args []string) error {
	fs := flag.NewFlagSet("writes", flag.ExitOnError)
	apiURL := fs.String("api", "", "API base URL, e.g. http://127.0.0.1:8053")
	token := fs.String("token", "", "bearer token")
	zone := fs.String("zone", "", "zone to write to (no trailing dot)")
	dnsAddr := fs.String("dns", "", "DNS server host:port")
	rate := fs.Int("rate", 200, "requests (writes, or reads with -read) per second in total")
	clients := fs.Int("clients", 8, "concurrent API clients")
	duration := fs.Duration("duration", 30*time.Second, "how long to write")
	read := fs.Bool("read", false, "GET the zone instead of writing (the control run)")
	fs.Parse(args)
	if *apiURL == "" || *zone == "" || *dnsAddr == "" || *rate <= 0 || *clients <= 0 {
		return fmt.Errorf("writes: -api, -zone, -dns, a positive -rate and -clients are required")
	}
	if !strings.HasPrefix(*apiURL, "http://") {
		return fmt.Errorf("writes: -api must be an http:// URL")
	}
	var st writeStats
	var seq atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	jobs := make(chan int64)
	// The DNS check of each write is sent by a checker as soon as the 2xx
	// arrives, so an API client goes on to its next write at once: under
	// a query load that saturates the server a DNS round trip waits
	// behind the load's queue, which would otherwise set the write rate.
	checks := make(chan expectedRR, 4*(*rate))
	var checkers sync.WaitGroup
	for range checkersPerClient * (*clients) {
		checkers.Add(1)
		go func() {
			defer checkers.Done()
			// One socket per checker for the whole run: a socket per
			// query would add the client's own system calls to what the
			// machine spends beside the server.
			dc := &dns.Client{Timeout: 2 * time.Second}
			conn, err := dc.Dial(*dnsAddr)
			if err != nil {
				for range checks {
					st.unseen.Add(1)
				}
				return
			}
			defer conn.Close()
			for w := range checks {
				w.check(dc, conn, &st)
			}
		}()
	}
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ac := &apiConn{addr: strings.TrimPrefix(*apiURL, "http://")}
			defer ac.close()
			request := oneWrite
			if *read {
				request = oneRead
			}
			for i := range jobs {
				if w, ok := request(ac, *apiURL, *token, *zone, i, &st); ok {
					checks <- w
				}
			}
		}()
	}
	stop := time.After(*duration)
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-tick.C:
			jobs <- seq.Add(1)
		}
	}
	close(jobs)
	wg.Wait()
	close(checks)
	checkers.Wait()
	// When writes take longer than clients/rate each, the ticker waits
	// for a free client: the achieved rate is printed beside the target.
	what := "writes"
	if *read {
		what = "reads"
	}
	fmt.Printf("%s: %d ok, %d not 2xx, %d of the ok not seen by the first DNS query after the 2xx (%.1f/s achieved, %d/s target; latency p50 %.1f ms, p99 %.1f ms)\n",
		what, st.ok.Load(), st.failed.Load(), st.unseen.Load(), float64(st.ok.Load()+st.failed.Load())/duration.Seconds(), *rate,
		st.latency(0.5).Seconds()*1000, st.latency(0.99).Seconds()*1000)
	if st.failed.Load() != 0 || st.unseen.Load() != 0 {
		return fmt.Errorf("%s: %d failed, %d not seen at once", what, st.failed.Load(), st.unseen.Load())
	}
	return nil
}

// checkersPerClient is how many DNS checks per API client may be in flight.
const checkersPerClient = 4

// expectedRR is what the first DNS query after a 2xx must find: an RR of
// type qtype at fqdn, whose data is value unless value is empty.
type expectedRR struct {
	fqdn  string
	qtype uint16
	value string
}

// check asks the DNS server for w once and counts it unseen unless the
// answer holds it.
func (w expectedRR) check(dc *dns.Client, conn *dns.Conn, st *writeStats) {
	r, _, err := dc.ExchangeWithConn(new(dns.Msg).SetQuestion(w.fqdn, w.qtype), conn)
	if err != nil || !w.answeredBy(r) {
		st.unseen.Add(1)
	}
}

func (w expectedRR) answeredBy(m *dns.Msg) bool {
	for _, rr := range m.Answer {
		if rr.Header().Rrtype != w.qtype {
			continue
		}
		if a, ok := rr.(*dns.A); w.value == "" || ok && a.A.String() == w.value {
			return true
		}
	}
	return false
}

// oneWrite posts w-I A 10.x.y.z and returns the record once answered 2xx.
func oneWrite(ac *apiConn, apiURL, token, zone string, i int64, st *writeStats) (expectedRR, bool) {
	name := fmt.Sprintf("w-%d-%d", os.Getpid(), i)
	value := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	body, _ := json.Marshal(map[string]any{"name": name, "type": "A", "value": value, "ttl": 60})
	req, err := http.NewRequest("POST", apiURL+"/v1/zones/"+zone+"/records", bytes.NewReader(body))
	if err != nil {
		st.failed.Add(1)
		return expectedRR{}, false
	}
	req.Header.Set("Content-Type", "application/json")
	if !send(ac, req, token, name, st) {
		return expectedRR{}, false
	}
	return expectedRR{fqdn: dns.Fqdn(name + "." + zone), qtype: dns.TypeA, value: value}, true
}

// oneRead gets the zone, as the control of a write, and returns its SOA as
// what the DNS check must find.
func oneRead(ac *apiConn, apiURL, token, zone string, _ int64, st *writeStats) (expectedRR, bool) {
	req, err := http.NewRequest("GET", apiURL+"/v1/zones/"+zone, nil)
	if err != nil {
		st.failed.Add(1)
		return expectedRR{}, false
	}
	if !send(ac, req, token, zone, st) {
		return expectedRR{}, false
	}
	return expectedRR{fqdn: dns.Fqdn(zone), qtype: dns.TypeSOA}, true
}

// send makes req with token, reads the answer whole and counts it: ok and
// its latency for a 2xx, failed (with what for the message) otherwise.
func send(ac *apiConn, req *http.Request, token, what string, st *writeStats) bool {
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := ac.do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchzone writes:", err)
		st.failed.Add(1)
		return false
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(os.Stderr, "benchzone writes: %s: %d %s\n", what, resp.StatusCode, msg)
		st.failed.Add(1)
		return false
	}
	st.ok.Add(1)
	st.mu.Lock()
	st.latencies = append(st.latencies, time.Since(start))
	st.mu.Unlock()
	return true
}

// apiConn is one API client's keep-alive connection. net/http's client
// hands every request to a writer and a reader goroutine of the
// connection and back; here the client's own goroutine writes the request
// and reads the answer (with net/http's own encoder and parser), so what
// the benchmark spends beside the server is the two system calls of a
// request, not the wake-ups around them.
type apiConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	// last: the server said it closes the connection after its answer.
	last bool
}

// do sends req and returns its response, whose body the caller reads to
// the end before the next request. A kept-alive connection the server
// closed meanwhile is dialled again once, as net/http does.
func (c *apiConn) do(req *http.Request) (*http.Response, error) {
	reused := c.conn != nil
	resp, err := c.roundTrip(req)
	if err != nil && reused {
		c.close()
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		resp, err = c.roundTrip(req)
	}
	if err != nil {
		c.close()
	}
	return resp, err
}

func (c *apiConn) roundTrip(req *http.Request) (*http.Response, error) {
	if c.last {
		c.close()
	}
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		c.conn, c.r, c.w = conn, bufio.NewReader(conn), bufio.NewWriter(conn)
	}
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(c.w); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.r, req)
	if err == nil {
		c.last = resp.Close
	}
	return resp, err
}

func (c *apiConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.last = nil, false
	}
}
