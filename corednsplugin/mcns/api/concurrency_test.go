package api

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentWriters runs 8 writers against one zone while readers poll
// it: every write lands, the serial never goes back and rises by exactly
// one per write, and listings only ever grow.
func TestConcurrentWriters(t *testing.T) {
	h, _, _ := storeHarness(t, nil)
	const writers, perWriter = 8, 12
	startSerial := h.serial("example.com")
	startDay := time.Now().UTC().Format("20060102")
	startCount := len(h.mustDo(200, "GET", "/v1/zones/example.com/records", readerToken, "").json(t)["records"].([]any))
	changes := h.changeCount()

	var stop atomic.Bool
	var readerErr atomic.Value
	var readers sync.WaitGroup
	for i := 0; i < 2; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			lastSerial, lastCount := startSerial, startCount
			for !stop.Load() {
				r := h.do("GET", "/v1/zones/example.com", readerToken, "")
				l := h.do("GET", "/v1/zones/example.com/records", readerToken, "")
				if r.status != 200 || l.status != 200 {
					readerErr.Store(fmt.Sprintf("reader: %d %d", r.status, l.status))
					return
				}
				s := uint32(r.json(t)["serial"].(float64))
				n := len(l.json(t)["records"].([]any))
				if s < lastSerial || n < lastCount {
					readerErr.Store(fmt.Sprintf("went back: serial %d after %d, %d records after %d", s, lastSerial, n, lastCount))
					return
				}
				lastSerial, lastCount = s, n
			}
		}()
	}

	var wg sync.WaitGroup
	errs := make(chan string, writers*perWriter)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				body := fmt.Sprintf(`{"name":"w%d-%d","type":"A","value":"198.51.100.%d","ttl":60}`, w, i, w*perWriter+i)
				if r := h.do("POST", "/v1/zones/example.com/records", adminToken, body); r.status != 201 {
					errs <- fmt.Sprintf("writer %d/%d: %d %s", w, i, r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if e := readerErr.Load(); e != nil {
		t.Fatal(e)
	}

	total := writers * perWriter
	recs := h.mustDo(200, "GET", "/v1/zones/example.com/records?type=A", readerToken, "").json(t)["records"].([]any)
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.(map[string]any)["name"].(string)] = true
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < perWriter; i++ {
			if !seen["w"+strconv.Itoa(w)+"-"+strconv.Itoa(i)] {
				t.Errorf("lost write w%d-%d", w, i)
			}
		}
	}
	endSerial := h.serial("example.com")
	if time.Now().UTC().Format("20060102") == startDay {
		if endSerial-startSerial != uint32(total) {
			t.Errorf("serial rose by %d over %d writes", endSerial-startSerial, total)
		}
	} else if endSerial <= startSerial {
		t.Errorf("serial %d not above %d", endSerial, startSerial)
	}
	if h.changeCount()-changes != total {
		t.Errorf("%d change notifications for %d writes", h.changeCount()-changes, total)
	}
}
