package mcns

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestNoTornReads replaces a two-record RRset in one transaction over and
// over while readers query it: every answer must hold one generation, and
// generations never go backwards for a reader.
func TestNoTornReads(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	ctx := context.Background()
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for !stop.Load() {
				resp := ask(t, m, new(dns.Msg).SetQuestion("gen.example.org.", dns.TypeTXT))
				if len(resp.Answer) == 0 {
					continue // before the first generation
				}
				gens := map[string]bool{}
				for _, rr := range resp.Answer {
					gens[strings.SplitN(rr.(*dns.TXT).Txt[0], "/", 2)[0]] = true
				}
				if len(resp.Answer) != 2 || len(gens) != 1 {
					errs <- fmt.Errorf("torn answer: %v", resp.Answer)
					return
				}
				var g int
				for k := range gens {
					fmt.Sscanf(k, "%d", &g)
				}
				if g < last {
					errs <- fmt.Errorf("generation went back from %d to %d", last, g)
					return
				}
				last = g
			}
		}()
	}
	for gen := 0; gen < 40; gen++ {
		err := st.Update(ctx, "example.org", func(tx *store.Tx) error {
			ids, _, err := tx.RRset("gen.example.org.", dns.TypeTXT)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := tx.Delete(id); err != nil {
					return err
				}
			}
			for _, half := range []string{"a", "b"} {
				rr, err := dns.NewRR(fmt.Sprintf(`gen.example.org. 60 IN TXT "%d/%s"`, gen, half))
				if err != nil {
					return err
				}
				if _, err := tx.Add(rr); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	z, _ := st.Zone(ctx, "example.org")
	if z.Serial < 2024010101+1 {
		t.Fatalf("serial not bumped: %d", z.Serial)
	}
}
