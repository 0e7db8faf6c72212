package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
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
}

// writesCmd posts A records to zone at -rate writes/s from -clients
// concurrent keep-alive clients for -duration; after each 2xx it asks the
// DNS server once and counts answers that do not show the new record.
func writesCmd(args []string) error {
	fs := flag.NewFlagSet("writes", flag.ExitOnError)
	apiURL := fs.String("api", "", "API base URL, e.g. http://127.0.0.1:8053")
	token := fs.String("token", "", "bearer token")
	zone := fs.String("zone", "", "zone to write to (no trailing dot)")
	dnsAddr := fs.String("dns", "", "DNS server host:port")
	rate := fs.Int("rate", 200, "writes per second in total")
	clients := fs.Int("clients", 8, "concurrent API clients")
	duration := fs.Duration("duration", 30*time.Second, "how long to write")
	fs.Parse(args)
	if *apiURL == "" || *zone == "" || *dnsAddr == "" || *rate <= 0 || *clients <= 0 {
		return fmt.Errorf("writes: -api, -zone, -dns, a positive -rate and -clients are required")
	}
	var st writeStats
	var seq atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	jobs := make(chan int64)
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second}
			dc := &dns.Client{Timeout: 2 * time.Second}
			for i := range jobs {
				oneWrite(hc, dc, *apiURL, *token, *zone, *dnsAddr, i, &st)
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
	// When writes take longer than clients/rate each, the ticker waits
	// for a free client: the achieved rate is printed beside the target.
	fmt.Printf("writes: %d ok, %d not 2xx, %d of the ok not seen by the first DNS query after the 2xx (%.1f/s achieved, %d/s target)\n",
		st.ok.Load(), st.failed.Load(), st.unseen.Load(), float64(st.ok.Load()+st.failed.Load())/duration.Seconds(), *rate)
	if st.failed.Load() != 0 || st.unseen.Load() != 0 {
		return fmt.Errorf("writes: %d failed, %d not seen at once", st.failed.Load(), st.unseen.Load())
	}
	return nil
}

// oneWrite posts w-I A 10.x.y.z and checks the first query after the 2xx.
func oneWrite(hc *http.Client, dc *dns.Client, apiURL, token, zone, dnsAddr string, i int64, st *writeStats) {
	name := fmt.Sprintf("w-%d-%d", os.Getpid(), i)
	value := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	body, _ := json.Marshal(map[string]any{"name": name, "type": "A", "value": value, "ttl": 60})
	req, err := http.NewRequest("POST", apiURL+"/v1/zones/"+zone+"/records", bytes.NewReader(body))
	if err != nil {
		st.failed.Add(1)
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchzone writes:", err)
		st.failed.Add(1)
		return
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(os.Stderr, "benchzone writes: %s: %d %s\n", name, resp.StatusCode, msg)
		st.failed.Add(1)
		return
	}
	st.ok.Add(1)
	r, _, err := dc.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name+"."+zone), dns.TypeA), dnsAddr)
	if err != nil || !hasA(r, value) {
		st.unseen.Add(1)
	}
}

func hasA(m *dns.Msg, value string) bool {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.String() == value {
			return true
		}
	}
	return false
}
