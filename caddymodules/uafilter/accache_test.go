package uafilter

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedAutomatonBuildsOnce checks that watchers rebuilding the same
// patterns at the same time share one build.
func TestSharedAutomatonBuildsOnce(t *testing.T) {
	var builds atomic.Int32
	newAutomaton = func(p []acPattern) (*automaton, error) {
		builds.Add(1)
		time.Sleep(50 * time.Millisecond) // a large list takes a while
		return buildAutomaton(p)
	}
	t.Cleanup(func() { newAutomaton = buildAutomaton })

	pats := []acPattern{{text: "TestSharedAutomatonBuildsOnce", id: 0}, {text: "another agent", id: 1}}
	const watchers = 8
	got := make([]*automaton, watchers)
	var wg sync.WaitGroup
	for i := range watchers {
		wg.Go(func() {
			a, err := sharedAutomaton(pats)
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		})
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds for %d concurrent watchers, want 1", n, watchers)
	}
	for i, a := range got {
		if a == nil || a != got[0] {
			t.Fatalf("watcher %d got a different automaton", i)
		}
	}
	if b := got[0].scan("x TestSharedAutomatonBuildsOnce y").block; b != 0 {
		t.Errorf("scan: %d, want 0", b)
	}
}
