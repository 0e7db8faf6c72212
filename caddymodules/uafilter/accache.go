package uafilter

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"weak"

	"golang.org/x/sync/singleflight"
)

// The same lists are often configured in many site blocks, and during a
// config reload the old and the new config coexist. Identical pattern
// sets therefore share one compiled automaton (which is immutable), held
// weakly so that it is freed with the last handler or matcher using it.
var automatonCache = struct {
	sync.Mutex
	m map[[sha256.Size]byte]weak.Pointer[automaton]
}{m: make(map[[sha256.Size]byte]weak.Pointer[automaton])}

// automatonBuilds deduplicates concurrent builds of one pattern set.
var automatonBuilds singleflight.Group

// newAutomaton builds an automaton; a variable so tests can observe builds.
var newAutomaton = buildAutomaton

// sharedAutomaton returns a cached automaton for patterns or builds one.
func sharedAutomaton(patterns []acPattern) (*automaton, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	h := sha256.New()
	var buf [9]byte
	for _, p := range patterns {
		binary.LittleEndian.PutUint32(buf[0:4], uint32(len(p.text)))
		binary.LittleEndian.PutUint32(buf[4:8], uint32(p.id))
		buf[8] = 0
		for bit, set := range [...]bool{p.allow, p.claim, p.wordStart, p.wordEnd} {
			if set {
				buf[8] |= 1 << bit
			}
		}
		h.Write(buf[:])
		h.Write([]byte(p.text))
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])

	if a := cachedAutomaton(key); a != nil {
		return a, nil
	}
	// After a list file changes, every handler and matcher watching it
	// rebuilds the same patterns at about the same time: build each set
	// once, so that peak memory is one automaton, not one per watcher.
	v, err, _ := automatonBuilds.Do(string(key[:]), func() (any, error) {
		if a := cachedAutomaton(key); a != nil {
			return a, nil // built by a flight that just ended
		}
		a, err := newAutomaton(patterns)
		if err != nil {
			return nil, err
		}
		automatonCache.Lock()
		defer automatonCache.Unlock()
		for k, wp := range automatonCache.m {
			if wp.Value() == nil {
				delete(automatonCache.m, k)
			}
		}
		automatonCache.m[key] = weak.Make(a)
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*automaton), nil
}

// cachedAutomaton returns the live automaton cached under key, or nil.
func cachedAutomaton(key [sha256.Size]byte) *automaton {
	automatonCache.Lock()
	defer automatonCache.Unlock()
	if wp, ok := automatonCache.m[key]; ok {
		return wp.Value()
	}
	return nil
}
