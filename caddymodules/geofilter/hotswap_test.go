package geofilter

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/metacircular/edge/internal/geoiptest"
	"github.com/metacircular/edge/internal/testutil"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// liveDatabase returns the loaded database for path.
func liveDatabase(t *testing.T, path string) *database {
	t.Helper()
	key, err := dbKey(path)
	if err != nil {
		t.Fatal(err)
	}
	var db *database
	dbPool.Range(func(k, v any) bool {
		if k == key {
			db = v.(*database)
			return false
		}
		return true
	})
	if db == nil {
		t.Fatalf("database %s not loaded", path)
	}
	return db
}

// TestHotSwap replaces the database 100 times under concurrent requests:
// every request must get the right verdict and none may fail.
func TestHotSwap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-Country.mmdb")
	// A and B differ in layout and content but agree on the tested clients.
	dbA := buildDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"127.0.0.0/8": geoiptest.Country("CN"), "::1/128": geoiptest.Country("CN"),
		"1.0.0.0/8": geoiptest.Country("CN"), "2.0.0.0/8": geoiptest.Country("US"),
	})
	dbB := buildDB(t, "ip-location-db", map[string]mmdbtype.Map{
		"127.0.0.0/8": geoiptest.FlatCountry("CN"), "::1/128": geoiptest.FlatCountry("CN"),
		"1.2.0.0/16": geoiptest.FlatCountry("CN"), "2.0.0.0/8": geoiptest.FlatCountry("US"),
		"4.0.0.0/8": geoiptest.FlatCountry("JP"),
	})
	// C moves loopback and drops 1.0.0.0/8.
	dbC := buildDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"127.0.0.0/8": geoiptest.Country("US"), "::1/128": geoiptest.Country("US"),
	})
	testutil.ReplaceFile(t, path, dbA)

	tc := newTester(t)
	tc.InitServer(siteCaddyfile("\t\tdb "+path+"\n\t\tblock_countries CN"), "caddyfile")
	db := liveDatabase(t, path)

	clients := []struct {
		xff    string
		status int
	}{{"", 403}, {ipCN, 403}, {ipUS, 200}}
	var (
		stop     atomic.Bool
		requests atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr string
	)
	fail := func(msg string) {
		failures.Add(1)
		errMu.Lock()
		if firstErr == "" {
			firstErr = msg
		}
		errMu.Unlock()
	}
	for w := range 4 {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for i := w; !stop.Load(); i++ {
				c := clients[i%len(clients)]
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", httpPort), nil)
				if c.xff != "" {
					req.Header.Set("X-Forwarded-For", c.xff)
				}
				resp, err := client.Do(req)
				if err != nil {
					fail(err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != c.status {
					fail(fmt.Sprintf("client %q: got %d, want %d", c.xff, resp.StatusCode, c.status))
				}
				requests.Add(1)
			}
		})
	}

	for i := range 100 {
		before := db.cur.Load()
		data := dbB
		if i%2 == 1 {
			data = dbA
		}
		testutil.ReplaceFile(t, path, data)
		// Let requests run against each version.
		for n := requests.Load(); requests.Load() < n+3 && failures.Load() == 0; {
			runtime.Gosched()
		}
		checkSettled(db)
		if db.cur.Load() == before {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("swap %d: database not reloaded", i)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d failed or misjudged requests during swaps; first: %s", n, firstErr)
	}
	t.Logf("%d requests during 100 swaps", requests.Load())

	// A database with other verdicts takes effect.
	testutil.ReplaceFile(t, path, dbC)
	checkSettled(db)
	check(t, tc, []expect{{ip: "", status: 200}, {ip: ipCN, status: 200}})

	// A corrupt replacement, then a missing file: the loaded version keeps
	// serving.
	testutil.ReplaceFile(t, path, []byte("truncated"))
	checkSettled(db)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	checkSettled(db)
	check(t, tc, []expect{{ip: "", status: 200}, {ip: ipCN, status: 200}})

	// A replacement without country data is refused too.
	writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"127.0.0.0/8": asnRecord(1)})
	checkSettled(db)
	check(t, tc, []expect{{ip: "", status: 200}})

	// Once fixed, the file is picked up again.
	testutil.ReplaceFile(t, path, dbA)
	checkSettled(db)
	check(t, tc, []expect{{ip: "", status: 403}, {ip: ipUS, status: 200}})
}

// checkSettled polls db until a changed file has passed its settle period.
func checkSettled(db *database) {
	for range settlePolls + 1 {
		db.check()
	}
}
