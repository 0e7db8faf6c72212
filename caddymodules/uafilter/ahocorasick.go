package uafilter

import (
	"fmt"
)

// maxTableBytes bounds the memory of one compiled automaton's transition
// table (states × byte classes × 4 bytes). Lists that would exceed it are
// rejected with a configuration error instead of exhausting memory.
var maxTableBytes uint64 = 256 << 20

// automaton is an Aho-Corasick automaton compiled into a dense DFA over
// byte equivalence classes. ASCII letters are folded into one class per
// letter, so matching is ASCII case-insensitive without lower-casing the
// input. Every input byte costs one table lookup regardless of how many
// patterns were compiled, and scanning never allocates.
//
// State identifiers are premultiplied by stride (the number of byte
// classes) so that the next state is trans[state+class]. States that end at
// least one pattern (directly or through a suffix link) are numbered last,
// so the hot loop needs a single comparison (state >= matchStart) to detect
// a match.
type automaton struct {
	classes    [256]uint8
	stride     uint32
	trans      []uint32
	matchStart uint32
	matches    []stateMatch // indexed by (state-matchStart)/stride
	hasAllow   bool         // some compiled pattern is an allow pattern
	maxLen     int          // longest pattern, in bytes
	states     int
}

// stateMatch is what reaching a match state means.
type stateMatch struct {
	block int32 // index of a block pattern ending here, or -1
	allow bool  // an allow pattern ends here
}

// acPattern is one input of the automaton builder.
type acPattern struct {
	text  string // as configured; folded by the builder
	allow bool
	id    int32 // returned by scan for block patterns
}

// foldASCII lower-cases ASCII letters and leaves every other byte alone.
func foldASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

// buildAutomaton compiles patterns. An empty pattern list yields nil.
func buildAutomaton(patterns []acPattern) (*automaton, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	a := new(automaton)

	// Byte classes: every (folded) byte used by a pattern gets a class of
	// its own, all other bytes share class 0; upper-case ASCII letters get
	// the class of their lower-case counterpart.
	var used [256]bool
	total := 0
	for _, p := range patterns {
		for i := 0; i < len(p.text); i++ {
			used[foldASCII(p.text[i])] = true
		}
		total += len(p.text)
		a.maxLen = max(a.maxLen, len(p.text))
	}
	n := uint32(1)
	for b := 0; b < 256; b++ {
		if used[b] {
			a.classes[b] = uint8(n)
			n++
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		a.classes[b] = a.classes[b+('a'-'A')]
	}
	stride := n
	a.stride = stride

	// Trie, stored directly in the dense table (0 = no child; the root
	// is state 0 and never a child). total+1 bounds the state count.
	capStates := uint64(total + 1)
	if capStates*uint64(stride)*4 > maxTableBytes {
		capStates = maxTableBytes / 4 / uint64(stride)
	}
	trans := make([]uint32, stride, capStates*uint64(stride))
	zeroRow := make([]uint32, stride)
	type own struct {
		block int32
		allow bool
	}
	owns := []own{{block: -1}}
	states := uint32(1)
	for _, p := range patterns {
		s := uint32(0)
		for i := 0; i < len(p.text); i++ {
			c := uint32(a.classes[p.text[i]])
			next := trans[s*stride+c]
			if next == 0 {
				next = states
				states++
				if uint64(states)*uint64(stride)*4 > maxTableBytes {
					return nil, fmt.Errorf("too many patterns: the automaton would exceed %d MiB (%d byte classes); split or shorten the lists", maxTableBytes>>20, stride)
				}
				trans = append(trans, zeroRow...)
				owns = append(owns, own{block: -1})
				trans[s*stride+c] = next
			}
			s = next
		}
		if p.allow {
			owns[s].allow = true
		} else if owns[s].block < 0 {
			owns[s].block = p.id
		}
	}
	a.states = int(states)

	// Breadth-first: compute failure links and complete every row with the
	// transitions of its failure state (which is shallower and therefore
	// already complete). Match info is inherited along failure links.
	fail := make([]uint32, states)
	order := make([]uint32, 0, states)
	order = append(order, 0)
	matchBlock := make([]int32, states)
	matchAllow := make([]bool, states)
	matchBlock[0] = -1
	for head := 0; head < len(order); head++ {
		s := order[head]
		row := trans[s*stride : (s+1)*stride]
		if s != 0 {
			f := fail[s]
			matchAllow[s] = owns[s].allow || matchAllow[f]
			matchBlock[s] = owns[s].block
			if matchBlock[s] < 0 {
				matchBlock[s] = matchBlock[f]
			}
		}
		frow := trans[fail[s]*stride : (fail[s]+1)*stride]
		for c := uint32(0); c < stride; c++ {
			child := row[c]
			if child == 0 {
				if s != 0 {
					row[c] = frow[c]
				}
				continue
			}
			if s == 0 {
				fail[child] = 0
			} else {
				fail[child] = frow[c]
			}
			order = append(order, child)
		}
	}

	// Renumber: non-match states first (root stays 0), match states last.
	newID := make([]uint32, states)
	var next uint32
	for _, s := range order {
		if matchBlock[s] < 0 && !matchAllow[s] {
			newID[s] = next
			next++
		}
	}
	firstMatch := next
	a.matches = make([]stateMatch, 0, states-firstMatch)
	for _, s := range order {
		if matchBlock[s] >= 0 || matchAllow[s] {
			newID[s] = next
			next++
			a.matches = append(a.matches, stateMatch{block: matchBlock[s], allow: matchAllow[s]})
			if matchAllow[s] {
				a.hasAllow = true
			}
		}
	}
	final := make([]uint32, states*stride)
	for s := uint32(0); s < states; s++ {
		src := trans[s*stride : (s+1)*stride]
		dst := final[newID[s]*stride : (newID[s]+1)*stride]
		for c, t := range src {
			dst[c] = newID[t] * stride
		}
	}
	a.trans = final
	a.matchStart = firstMatch * stride
	return a, nil
}

// scan runs the automaton over s. It returns the id of the block pattern
// that ends first in s (the longest one if several end there), or -1, and
// whether any allow pattern occurs in s. It does not allocate.
//
// A DFA walk is one dependent load per byte, so its speed is bound by load
// latency rather than throughput. Inputs of 64 bytes and more are
// therefore cut into 3 (or, with long patterns, 2) overlapping windows
// that are walked in lockstep as independent chains, which the CPU
// overlaps; consecutive windows overlap by maxLen-1 bytes, so every
// occurrence of a pattern lies entirely inside some window. (Three chains
// still fit in registers on amd64; four spill.) The interleaved pass only
// answers "allowed?" and "blocked at all?"; when something is blocked a
// second, serial pass determines the exact first block pattern, so the
// reported pattern does not depend on the window layout.
func (a *automaton) scan(s string) (block int32, allowed bool) {
	n := len(s)
	if n >= 64 {
		m := a.maxLen - 1
		var found bool
		if l3 := (n + 2*m + 2) / 3; l3 <= n/2 {
			found, allowed = a.scan3(s, l3)
		} else if l2 := (n + m + 1) / 2; l2 <= n*3/4 {
			found, allowed = a.scan2(s, l2)
		} else {
			return a.scanSerial(s)
		}
		if allowed {
			return -1, true
		}
		if !found {
			return -1, false
		}
	}
	return a.scanSerial(s)
}

// scanSerial walks s in one chain.
func (a *automaton) scanSerial(s string) (block int32, allowed bool) {
	trans := a.trans
	ms := a.matchStart
	block = -1
	var st uint32
	for i := 0; i < len(s); i++ {
		st = trans[st+uint32(a.classes[s[i]])]
		if st >= ms {
			m := a.matches[(st-ms)/a.stride]
			if m.allow {
				return -1, true
			}
			if block < 0 && m.block >= 0 {
				block = m.block
				if !a.hasAllow {
					return block, false
				}
			}
		}
	}
	return block, false
}

// The interleaved loops below contain no function calls, so that the
// chain states stay in registers; reaching a match state is handled
// inline.

// scan2 walks two windows of length l, at the start and the end of s.
func (a *automaton) scan2(s string, l int) (found, allowed bool) {
	trans := a.trans
	ms := a.matchStart
	cls := &a.classes
	w0 := s[:l]
	w1 := s[len(s)-l:]
	w1 = w1[:len(w0)]
	var s0, s1 uint32
	for i := 0; i < len(w0); i++ {
		s0 = trans[s0+uint32(cls[w0[i]])]
		s1 = trans[s1+uint32(cls[w1[i]])]
		if max(s0, s1) >= ms {
			for _, st := range [...]uint32{s0, s1} {
				if st >= ms {
					m := a.matches[(st-ms)/a.stride]
					if m.allow {
						return false, true
					}
					found = found || m.block >= 0
				}
			}
			if found && !a.hasAllow {
				return true, false
			}
		}
	}
	return found, false
}

// scan3 walks three evenly spaced windows of length l.
func (a *automaton) scan3(s string, l int) (found, allowed bool) {
	trans := a.trans
	ms := a.matchStart
	cls := &a.classes
	step := len(s) - l
	w0 := s[:l]
	w1 := s[step/2:]
	w2 := s[step:]
	w1, w2 = w1[:len(w0)], w2[:len(w0)]
	var s0, s1, s2 uint32
	for i := 0; i < len(w0); i++ {
		s0 = trans[s0+uint32(cls[w0[i]])]
		s1 = trans[s1+uint32(cls[w1[i]])]
		s2 = trans[s2+uint32(cls[w2[i]])]
		if max(s0, s1, s2) >= ms {
			for _, st := range [...]uint32{s0, s1, s2} {
				if st >= ms {
					m := a.matches[(st-ms)/a.stride]
					if m.allow {
						return false, true
					}
					found = found || m.block >= 0
				}
			}
			if found && !a.hasAllow {
				return true, false
			}
		}
	}
	return found, false
}

// tableBytes is the size of the transition table.
func (a *automaton) tableBytes() int {
	if a == nil {
		return 0
	}
	return len(a.trans) * 4
}
