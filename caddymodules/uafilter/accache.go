package uafilter

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"weak"
)

// The same lists are often configured in many site blocks, and during a
// config reload the old and the new config coexist. Identical pattern
// sets therefore share one compiled automaton (which is immutable), held
// weakly so that it is freed with the last handler or matcher using it.
var automatonCache = struct {
	sync.Mutex
	m map[[sha256.Size]byte]weak.Pointer[automaton]
}{m: make(map[[sha256.Size]byte]weak.Pointer[automaton])}

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
		if p.allow {
			buf[8] = 1
		}
		h.Write(buf[:])
		h.Write([]byte(p.text))
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])

	automatonCache.Lock()
	if wp, ok := automatonCache.m[key]; ok {
		if a := wp.Value(); a != nil {
			automatonCache.Unlock()
			return a, nil
		}
	}
	automatonCache.Unlock()

	a, err := buildAutomaton(patterns)
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
	if wp, ok := automatonCache.m[key]; ok {
		if other := wp.Value(); other != nil {
			return other, nil // built concurrently
		}
	}
	automatonCache.m[key] = weak.Make(a)
	return a, nil
}
