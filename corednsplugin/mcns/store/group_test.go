package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestGroupCommitSharesOneTransaction queues writers behind a held write
// lock, so they form one group: one commit for all, the failing writer's
// record (added before its error) gone and its error its own, and every
// other write durable after reopening, with its own serial, Change and
// journal entry chaining the zone's serials.
func TestGroupCommitSharesOneTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcns.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	ctx := context.Background()
	zones := []string{"a.example.", "b.example."}
	for _, z := range zones {
		mustZone(t, s, z)
	}
	var (
		mu      sync.Mutex
		changes []Change
	)
	s.OnCommit(func(c Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })

	const writers, failing = 24, 7
	errFail := errors.New("writer 7 fails")
	before := s.commits.Load()
	s.wmu.Lock() // the leader waits here while the others queue
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, zones[i%2], func(tx *Tx) error {
				rr, err := dns.NewRR(fmt.Sprintf("h%d.%s 60 IN A 192.0.2.%d", i, zones[i%2], i))
				if err != nil {
					return err
				}
				if _, err := tx.Add(rr); err != nil {
					return err
				}
				if i == failing {
					return errFail
				}
				return nil
			})
		}()
	}
	waitQueued(t, s, writers)
	s.wmu.Unlock()
	wg.Wait()

	if got := s.commits.Load() - before; got != 1 {
		t.Errorf("%d writers queued together took %d commits, want 1", writers, got)
	}
	for i, err := range errs {
		switch {
		case i == failing && !errors.Is(err, errFail):
			t.Errorf("failing writer: err %v, want its own", err)
		case i != failing && err != nil:
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if len(changes) != writers-1 {
		t.Fatalf("%d changes delivered, want %d", len(changes), writers-1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for zi, z := range zones {
		recs, err := s.Records(ctx, z, Filter{Type: "A"})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, r := range recs {
			have[r.Name] = true
		}
		for i := zi; i < writers; i += 2 {
			name := fmt.Sprintf("h%d.%s", i, z)
			if have[name] != (i != failing) {
				t.Errorf("%s present %v after reopening, want %v", name, have[name], i != failing)
			}
		}
		// Each change has its own serial, one after the other, and the
		// journal leads from the first to the last.
		var first, last *Change
		n := 0
		for i := range changes {
			c := &changes[i]
			if c.Zone != z {
				continue
			}
			if last != nil && (c.OldSOA.Serial != last.NewSOA.Serial || c.Before != last.After) {
				t.Fatalf("%s: change from serial %d version %v after %d %v", z, c.OldSOA.Serial, c.Before, last.NewSOA.Serial, last.After)
			}
			if !SerialAfter(c.NewSOA.Serial, c.OldSOA.Serial) || len(c.Added) != 1 {
				t.Fatalf("%s: change %+v", z, c)
			}
			if first == nil {
				first = c
			}
			last = c
			n++
		}
		entries, ok, err := s.Journal(ctx, z, first.OldSOA.Serial, last.NewSOA.Serial, last.After.Changes)
		if err != nil || !ok || len(entries) != n {
			t.Errorf("%s: journal of %d entries ok=%v err=%v, want %d", z, len(entries), ok, err, n)
		}
	}
}

// TestGroupCommitPanicStaysWithItsWriter checks a panicking fn is raised
// on its own caller's goroutine and leaves the store usable.
func TestGroupCommitPanicStaysWithItsWriter(t *testing.T) {
	s := openTest(t)
	mustZone(t, s, "example.org")
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want boom", v)
			}
		}()
		s.Update(context.Background(), "example.org", func(*Tx) error { panic("boom") })
	}()
	if _, err := s.AddRecord(context.Background(), "example.org", RecordSpec{Name: "www", Type: "A", Value: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
}

// waitQueued waits until n writers are queued behind the held wmu.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.gmu.Lock()
		queued := len(s.queue)
		s.gmu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers queued after 10s, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCancelledWriterStopsAtItsNextStatement cancels one writer of a group
// after its first record: its next statement fails with its context's
// error, its part is rolled back, and the other writer of the same
// transaction still commits.
func TestCancelledWriterStopsAtItsNextStatement(t *testing.T) {
	s := openTest(t)
	mustZone(t, s, "example.org")
	ctx, cancel := context.WithCancel(context.Background())
	s.wmu.Lock() // both writers queue into one group
	var wg sync.WaitGroup
	var cancelledErr, otherErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		cancelledErr = s.Update(ctx, "example.org", func(tx *Tx) error {
			if _, err := tx.Add(mustRR(t, "one.example.org. 60 IN A 192.0.2.1")); err != nil {
				return err
			}
			cancel()
			_, err := tx.Add(mustRR(t, "two.example.org. 60 IN A 192.0.2.2"))
			return err
		})
	}()
	go func() {
		defer wg.Done()
		_, otherErr = s.AddRecord(context.Background(), "example.org", RecordSpec{Name: "other", Type: "A", Value: "192.0.2.3"})
	}()
	waitQueued(t, s, 2)
	s.wmu.Unlock()
	wg.Wait()
	if !errors.Is(cancelledErr, context.Canceled) {
		t.Fatalf("cancelled writer: %v, want context.Canceled", cancelledErr)
	}
	if otherErr != nil {
		t.Fatalf("other writer of the group: %v", otherErr)
	}
	err := s.Update(context.Background(), "example.org", func(tx *Tx) error {
		for name, want := range map[string]int{"one": 0, "two": 0, "other": 1} {
			_, rrs, err := tx.RRset(name+".example.org.", dns.TypeA)
			if err != nil {
				return err
			}
			if len(rrs) != want {
				t.Errorf("%s: %d records, want %d", name, len(rrs), want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkConcurrentWrites compares eight concurrent writers with one
// writing alone; commits/write shows how many writes shared each commit.
func BenchmarkConcurrentWrites(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "mcns.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if _, err := s.CreateZone(ctx, Zone{Name: "example.org", PrimaryNS: "ns1.example.org"}); err != nil {
				b.Fatal(err)
			}
			before := s.commits.Load()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < b.N; i += writers {
						if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: fmt.Sprintf("h%d", i), Type: "A", Value: "192.0.2.1"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(s.commits.Load()-before)/float64(b.N), "commits/write")
		})
	}
}
