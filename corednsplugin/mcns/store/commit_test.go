package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// recordChanges collects every change s delivers.
func recordChanges(s *Store) *[]Change {
	var got []Change
	s.OnCommit(func(c Change) { got = append(got, c) })
	return &got
}

func TestOnCommitDeliversEachChangeInOrder(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	got := recordChanges(s)
	mustZone(t, s, "example.org")
	rec, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "www", Type: "A", Value: "192.0.2.1", TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRecord(ctx, "example.org", rec.ID, RecordSpec{Name: "www", Type: "A", Value: "192.0.2.2", TTL: 60}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteZone(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 4 {
		t.Fatalf("%d changes, want 4: %+v", len(*got), *got)
	}
	create, add, edit, del := (*got)[0], (*got)[1], (*got)[2], (*got)[3]
	if !create.Created || create.OldSOA != nil || create.NewSOA == nil || create.Zone != "example.org." || len(create.Added) != 0 {
		t.Fatalf("create: %+v", create)
	}
	if add.Created || add.Deleted || add.Reset || len(add.Removed) != 0 || len(add.Added) != 1 ||
		add.Added[0].String() != "www.example.org.\t60\tIN\tA\t192.0.2.1" {
		t.Fatalf("add: %+v", add)
	}
	if !SerialAfter(add.NewSOA.Serial, add.OldSOA.Serial) || add.OldSOA.Serial != create.NewSOA.Serial {
		t.Fatalf("add serials %d -> %d after %d", add.OldSOA.Serial, add.NewSOA.Serial, create.NewSOA.Serial)
	}
	if len(edit.Removed) != 1 || len(edit.Added) != 1 || edit.Removed[0].(*dns.A).A.String() != "192.0.2.1" ||
		edit.Added[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Fatalf("edit: %+v", edit)
	}
	// Each write starts from the version the previous one left.
	for i := 1; i < 3; i++ {
		if (*got)[i].Before != (*got)[i-1].After || (*got)[i].After.Changes <= (*got)[i].Before.Changes {
			t.Fatalf("change %d: versions %v -> %v after %v", i, (*got)[i].Before, (*got)[i].After, (*got)[i-1].After)
		}
	}
	if !del.Deleted || del.NewSOA != nil || del.OldSOA == nil {
		t.Fatalf("delete: %+v", del)
	}
}

func TestOnCommitSkipsRollbackAndNoOp(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	got := recordChanges(s)
	boom := errors.New("boom")
	err := s.Update(ctx, "example.org", func(tx *Tx) error {
		if _, err := tx.Add(&dns.A{Hdr: dns.RR_Header{Name: "x.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{192, 0, 2, 9}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	if err := s.Update(ctx, "example.org", func(*Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 0 {
		t.Fatalf("delivered %+v for a rollback and a no-op", *got)
	}
}

func TestOnCommitReset(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	got := recordChanges(s)
	raised, err := s.RaiseSerials(ctx, map[string]uint32{"example.org.": 4000000000})
	if err != nil || len(raised) != 1 {
		t.Fatalf("raise: %v %v", raised, err)
	}
	if len(*got) != 1 || !(*got)[0].Reset || (*got)[0].NewSOA.Serial == (*got)[0].OldSOA.Serial {
		t.Fatalf("raised serial delivered as %+v", *got)
	}
}

func TestOutsideEditBreaksTheVersionChain(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	got := recordChanges(s)
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "a", Type: "A", Value: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	states, err := s.ZoneStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := states["example.org."]; !st.Ours || st.Version != (*got)[0].After {
		t.Fatalf("after an own write: %+v, change left %v", st, (*got)[0].After)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE records SET ttl = 61 WHERE name = 'a.example.org'"); err != nil {
		t.Fatal(err)
	}
	states, _ = s.ZoneStates(ctx)
	if states["example.org."].Ours {
		t.Fatal("an outside edit counted as the store's own")
	}
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "b", Type: "A", Value: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	if c := (*got)[1]; c.Before == (*got)[0].After || !c.Reset {
		t.Fatalf("a write after an outside edit: %+v, previous write left %v", c, (*got)[0].After)
	}
	// The journal starts over: nothing leads across the outside edit.
	if _, ok, err := s.Journal(ctx, "example.org", (*got)[0].NewSOA.Serial, (*got)[1].NewSOA.Serial, (*got)[1].After.Changes); ok || err != nil {
		t.Fatalf("journal across an outside edit: %v %v", ok, err)
	}
	if c := (*got)[1]; c.Reset {
		// A further write journals normally again.
		if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "c", Type: "A", Value: "192.0.2.3"}); err != nil {
			t.Fatal(err)
		}
		if c2 := (*got)[2]; c2.Reset || c2.Before != c.After {
			t.Fatalf("write after the reset: %+v", c2)
		}
	}
}

// Writes committing while a delivery runs are delivered together, in
// commit order, each before its writer returns.
func TestOnCommitsBatchesABurst(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	var (
		mu      sync.Mutex
		batches [][]Change
	)
	const writers = 8
	first := true
	s.OnCommits(func(cs []Change) {
		// A slow first delivery: the other writers commit meanwhile.
		for deadline := time.Now().Add(10 * time.Second); first && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			s.qmu.Lock()
			queued := len(s.pending)
			s.qmu.Unlock()
			if queued == writers-1 {
				break
			}
		}
		first = false
		mu.Lock()
		batches = append(batches, cs)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", i)
			if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: name, Type: "A", Value: "192.0.2.1"}); err != nil {
				t.Error(err)
				return
			}
			// Delivered before the writer returns.
			mu.Lock()
			defer mu.Unlock()
			for _, b := range batches {
				for _, c := range b {
					if len(c.Added) == 1 && c.Added[0].Header().Name == name+".example.org." {
						return
					}
				}
			}
			t.Errorf("write %s returned before its change was delivered", name)
		}()
	}
	wg.Wait()
	var all []Change
	for _, b := range batches {
		all = append(all, b...)
	}
	if len(all) != writers || len(batches) != 2 {
		t.Fatalf("%d changes in %d batches, want %d in 2", len(all), len(batches), writers)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Before != all[i-1].After || !SerialAfter(all[i].NewSOA.Serial, all[i-1].NewSOA.Serial) {
			t.Fatalf("change %d out of commit order", i)
		}
	}
}
