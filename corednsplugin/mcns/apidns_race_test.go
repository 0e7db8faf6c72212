package mcns

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// raceZone's serial lies ahead of any date serial, so the store's bump is
// always "serial + 1" (never a jump to today's YYYYMMDD00) and a serial
// tells exactly how many writes a snapshot holds, even across midnight.
const (
	raceSerial = 2099010100
	raceZone   = `$ORIGIN race.test.
$TTL 300
@   IN SOA ns1.race.test. hostmaster.race.test. 2099010100 7200 3600 1209600 300
@   NS ns1
ns1 A  192.0.2.1
`
)

// apexState is what one DNS answer for the apex SOA shows: the serial and
// the apex NS set from the authority section, read from one snapshot.
type apexState struct {
	serial uint32
	ns     []string // sorted
}

func askApex(t testing.TB, m *MCNS) (apexState, error) {
	resp := ask(t, m, new(dns.Msg).SetQuestion("race.test.", dns.TypeSOA))
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		return apexState{}, fmt.Errorf("apex SOA: %v", resp)
	}
	soa, ok := resp.Answer[0].(*dns.SOA)
	if !ok {
		return apexState{}, fmt.Errorf("apex SOA answer: %v", resp.Answer[0])
	}
	st := apexState{serial: soa.Serial}
	for _, rr := range resp.Ns {
		if n, ok := rr.(*dns.NS); ok {
			st.ns = append(st.ns, n.Ns)
		}
	}
	slices.Sort(st.ns)
	return st, nil
}

// TestAPIConcurrentWritersAndReaders has 8 writers add apex NS records
// through the API over HTTP while readers query the apex through ServeDNS.
// Every write adds exactly one NS record and bumps the serial by exactly
// one in the same transaction, so in any consistent snapshot
// len(NS) == 1 + serial - raceSerial, and a serial names exactly one NS
// set. A torn read (SOA of one generation, NS set of another), a lost
// write, a write without its own serial bump, or a reader going back in
// time fails the test.
func TestAPIConcurrentWritersAndReaders(t *testing.T) {
	const writers, perWriter, readers = 8, 12, 4
	cfg := config{
		dbPath:  filepath.Join(t.TempDir(), "mcns.db"),
		seeds:   writeZones(t, raceZone),
		refresh: 20 * time.Millisecond, // the poller races the API's rebuilds too
		api: &api.Config{
			Addr:              "127.0.0.1:0",
			InsecurePlaintext: true,
			TokensFile:        writeTokenFile(t),
			Log:               quietLog{},
		},
	}
	m := startWith(t, cfg, []string{"."})
	c := newAPIClient(m.api.Load().Addr().String())

	var (
		mu       sync.Mutex
		bySerial = map[uint32]string{} // serial -> NS set seen with it
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	// observe checks one answer and returns false when it is inconsistent.
	observe := func(who string, st apexState) bool {
		if want := 1 + int(st.serial-raceSerial); len(st.ns) != want {
			fail("%s: torn read: serial %d with %d NS records, want %d", who, st.serial, len(st.ns), want)
			return false
		}
		set := strings.Join(st.ns, " ")
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := bySerial[st.serial]; ok && prev != set {
			failures = append(failures, fmt.Sprintf("%s: serial %d seen with two NS sets:\n%s\n%s", who, st.serial, prev, set))
			return false
		}
		bySerial[st.serial] = set
		return true
	}

	var done atomic.Bool
	var rg sync.WaitGroup
	var reads atomic.Int64
	for r := 0; r < readers; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			who := fmt.Sprintf("reader %d", r)
			var last apexState
			for !done.Load() {
				st, err := askApex(t, m)
				if err != nil {
					fail("%s: %v", who, err)
					return
				}
				reads.Add(1)
				if !observe(who, st) {
					return
				}
				if st.serial < last.serial {
					fail("%s: serial went back from %d to %d", who, last.serial, st.serial)
					return
				}
				// Monotonic reads: everything seen before is still there.
				for _, n := range last.ns {
					if _, found := slices.BinarySearch(st.ns, n); !found {
						fail("%s: %s vanished between serials %d and %d", who, n, last.serial, st.serial)
						return
					}
				}
				last = st
				// Leave the two shared cores to the writers now and then.
				time.Sleep(50 * time.Microsecond)
			}
		}()
	}

	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint32
			for k := 0; k < perWriter; k++ {
				who := fmt.Sprintf("writer %d write %d", w, k)
				target := fmt.Sprintf("ns-w%d-%d.example.net.", w, k)
				if _, err := c.do("POST", "/v1/zones/race.test/records",
					map[string]any{"name": "@", "type": "NS", "value": target}, nil); err != nil {
					fail("%s: %v", who, err)
					return
				}
				// The first query after the 2xx must show this write, with
				// a serial above the one this writer saw after its last.
				st, err := askApex(t, m)
				if err != nil {
					fail("%s: %v", who, err)
					return
				}
				if !observe(who, st) {
					return
				}
				if _, found := slices.BinarySearch(st.ns, target); !found {
					fail("%s: %s not answered right after the 2xx (serial %d)", who, target, st.serial)
				}
				if st.serial <= last {
					fail("%s: serial %d after the write, not above %d seen after the previous one", who, st.serial, last)
				}
				last = st.serial
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	done.Store(true)
	rg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		return
	}

	// No lost write: DNS, the API and the serial all count every one.
	const total = writers * perWriter
	st, err := askApex(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if st.serial != raceSerial+total {
		t.Errorf("final serial %d, want %d (one bump per write)", st.serial, raceSerial+total)
	}
	for w := 0; w < writers; w++ {
		for k := 0; k < perWriter; k++ {
			if _, found := slices.BinarySearch(st.ns, fmt.Sprintf("ns-w%d-%d.example.net.", w, k)); !found {
				t.Errorf("write %d/%d lost in DNS", w, k)
			}
		}
	}
	var list struct {
		Records []apiRecord `json:"records"`
	}
	if _, err := c.do("GET", "/v1/zones/race.test/records?type=NS", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Records) != 1+total {
		t.Errorf("API lists %d NS records, want %d", len(list.Records), 1+total)
	}
	var z apiZone
	if _, err := c.do("GET", "/v1/zones/race.test", nil, &z); err != nil {
		t.Fatal(err)
	}
	if z.Serial != st.serial {
		t.Errorf("API serial %d, DNS serial %d", z.Serial, st.serial)
	}
	mu.Lock()
	distinct := len(bySerial)
	mu.Unlock()
	t.Logf("%d writes in %s (%.0f/s), %d reads, %d distinct serials observed",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), reads.Load(), distinct)
}
