package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// TestAPIConnKeepsAliveAndRedials: requests share one connection while
// the server keeps it; one the server closes, said or not, is dialled
// again, with the body sent whole.
func TestAPIConnKeepsAliveAndRedials(t *testing.T) {
	var conns, requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n := requests.Add(1); n == 2 {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	ac := &apiConn{addr: strings.TrimPrefix(srv.URL, "http://")}
	defer ac.close()
	for i, want := range []string{"one", "two", "three", "four"} {
		req, err := http.NewRequest("POST", srv.URL+"/v1/x", bytes.NewReader([]byte(want)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ac.do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || string(got) != want {
			t.Errorf("request %d: %d %q, want 201 %q", i, resp.StatusCode, got, want)
		}
		if i == 2 {
			// Closed without a word, as an idle timeout does.
			srv.CloseClientConnections()
		}
	}
	// The second answer said the connection closes, so the third
	// request dialled; the fourth found the third's closed and dialled
	// again.
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections for 4 requests, want 3", n)
	}
	if n := requests.Load(); n != 4 {
		t.Errorf("server saw %d requests, want 4", n)
	}
}

// TestExpectedRRAnsweredBy: a write's check needs its own address, the
// control's any RR of its type.
func TestExpectedRRAnsweredBy(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reply := &dns.Msg{Answer: []dns.RR{
		rr("w.bench.test. 60 IN CNAME x.bench.test."),
		rr("x.bench.test. 60 IN A 10.0.0.2"),
	}}
	for _, tc := range []struct {
		want expectedRR
		seen bool
	}{
		{expectedRR{"w.bench.test.", dns.TypeA, "10.0.0.2"}, true},
		{expectedRR{"w.bench.test.", dns.TypeA, "10.0.0.3"}, false},
		{expectedRR{"w.bench.test.", dns.TypeA, ""}, true},
		{expectedRR{"bench.test.", dns.TypeSOA, ""}, false},
	} {
		if got := tc.want.answeredBy(reply); got != tc.seen {
			t.Errorf("%+v answered by %v: %v, want %v", tc.want, reply.Answer, got, tc.seen)
		}
	}
	soa := &dns.Msg{Answer: []dns.RR{rr("bench.test. 300 IN SOA ns. h. 1 2 3 4 5")}}
	if !(expectedRR{"bench.test.", dns.TypeSOA, ""}).answeredBy(soa) {
		t.Error("the control's SOA check does not accept an SOA answer")
	}
}
