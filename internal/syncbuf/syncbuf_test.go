package syncbuf

import (
	"io"
	"strings"
	"sync"
	"testing"
)

// TestConcurrent writes through io.Copy, as os/exec does, while reading;
// run with -race.
func TestConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := io.Copy(&b, strings.NewReader("x")); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 100 {
		_ = b.String()
	}
	wg.Wait()
	if got := len(b.String()); got != 400 {
		t.Fatalf("%d bytes, want 400", got)
	}
}
