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
// a match. Only then are the patterns ending there examined, including
// their word-boundary conditions, which the DFA itself does not encode.
type automaton struct {
	classes    [256]uint8
	stride     uint32
	trans      []uint32
	matchStart uint32
	matches    []stateMatch // indexed by (state-matchStart)/stride
	outs       []acOutput   // the patterns ending in each match state
	hasAllow   bool         // some compiled pattern is an allow pattern
	hasClaim   bool         // some compiled pattern is a claim
	maxLen     int          // longest pattern, in bytes
	states     int
}

// stateMatch is what reaching a match state means: the patterns that end
// exactly at its trie node (outs[first:first+n], longest and first
// configured first), then those of the next shorter match state on its
// suffix chain (the match index next, or -1).
type stateMatch struct {
	first, n uint32
	next     int32
}

// acOutput is a compiled pattern as seen at a match state.
type acOutput struct {
	id     int32
	length int32
	kind   uint8 // kindBlock, kindAllow or kindClaim
	// The byte before (after) an occurrence must not be a word byte.
	wordStart, wordEnd bool
}

const (
	kindBlock uint8 = iota
	kindAllow
	kindClaim
)

// acPattern is one input of the automaton builder.
type acPattern struct {
	text  string // as configured; folded by the builder
	allow bool
	claim bool  // a crawler's User-Agent token; id is the crawler's index
	id    int32 // returned by scan for block patterns and claims
	// Match whole words only: an occurrence that begins (ends) with a word
	// byte must not be preceded (followed) by one. See isWordByte.
	wordStart, wordEnd bool
}

// wordBytes are the bytes of product tokens and words: ASCII letters,
// digits and the underscore (the \w of regular expressions). "LCC" is
// therefore not a word in "SLCC2", nor "Spider" in "Baiduspider", while
// "httpx" is one in "python-httpx/0.28".
var wordBytes = func() (t [256]bool) {
	for b := 0; b < 256; b++ {
		t[b] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_'
	}
	return t
}()

func isWordByte(b byte) bool { return wordBytes[b] }

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
	total := a.assignClasses(patterns)
	t, err := a.buildTrie(patterns, total)
	if err != nil {
		return nil, err
	}
	t.link()
	a.renumber(t)
	return a, nil
}

// acTrie is an automaton under construction: the trie of the patterns in
// a dense table, then, once linked, its failure links and complete rows.
type acTrie struct {
	stride uint32
	states uint32
	trans  []uint32     // states × stride; 0 = no child (the root is never one)
	owns   [][]acOutput // the patterns ending at each state
	fail   []uint32     // failure link of each state
	dict   []int32      // nearest state on the failure chain (itself included) ending a pattern, or -1
	order  []uint32     // states in breadth-first order
}

// assignClasses gives every (folded) byte used by a pattern a class of its
// own, all other bytes sharing class 0; upper-case ASCII letters get the
// class of their lower-case counterpart. It sets the stride and maxLen and
// returns the patterns' total length.
func (a *automaton) assignClasses(patterns []acPattern) int {
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
	a.stride = n
	return total
}

// buildTrie stores the patterns' trie directly in the dense table; the
// root is state 0. total+1 bounds the state count, and the table's size is
// checked against maxTableBytes as states are added.
func (a *automaton) buildTrie(patterns []acPattern, total int) (*acTrie, error) {
	stride := a.stride
	capStates := uint64(total + 1)
	if capStates*uint64(stride)*4 > maxTableBytes {
		capStates = maxTableBytes / 4 / uint64(stride)
	}
	t := &acTrie{
		stride: stride,
		states: 1,
		trans:  make([]uint32, stride, capStates*uint64(stride)),
		owns:   [][]acOutput{nil},
	}
	zeroRow := make([]uint32, stride)
	for _, p := range patterns {
		s := uint32(0)
		for i := 0; i < len(p.text); i++ {
			c := uint32(a.classes[p.text[i]])
			next := t.trans[s*stride+c]
			if next == 0 {
				next = t.states
				t.states++
				if uint64(t.states)*uint64(stride)*4 > maxTableBytes {
					return nil, fmt.Errorf("too many patterns: the automaton would exceed %d MiB (%d byte classes); split or shorten the lists", maxTableBytes>>20, stride)
				}
				t.trans = append(t.trans, zeroRow...)
				t.owns = append(t.owns, nil)
				t.trans[s*stride+c] = next
			}
			s = next
		}
		t.owns[s] = append(t.owns[s], a.output(p))
	}
	a.states = int(t.states)
	return t, nil
}

// output is p as seen at the state where it ends.
func (a *automaton) output(p acPattern) acOutput {
	o := acOutput{id: p.id, length: int32(len(p.text)), kind: kindBlock}
	switch {
	case p.allow:
		o.kind, o.id = kindAllow, -1
		a.hasAllow = true
	case p.claim:
		o.kind = kindClaim
		a.hasClaim = true
	}
	if len(p.text) > 0 {
		o.wordStart = p.wordStart && isWordByte(p.text[0])
		o.wordEnd = p.wordEnd && isWordByte(p.text[len(p.text)-1])
	}
	return o
}

// link computes, breadth-first, the failure links and dict, and completes
// every row with the transitions of its failure state (which is shallower
// and therefore already complete).
func (t *acTrie) link() {
	stride := t.stride
	t.fail = make([]uint32, t.states)
	t.dict = make([]int32, t.states)
	t.order = make([]uint32, 0, t.states)
	t.order = append(t.order, 0)
	t.dict[0] = -1
	for head := 0; head < len(t.order); head++ {
		s := t.order[head]
		row := t.trans[s*stride : (s+1)*stride]
		if s != 0 {
			if len(t.owns[s]) > 0 {
				t.dict[s] = int32(s)
			} else {
				t.dict[s] = t.dict[t.fail[s]]
			}
		}
		f := t.fail[s]
		frow := t.trans[f*stride : (f+1)*stride]
		for c := uint32(0); c < stride; c++ {
			child := row[c]
			if child == 0 {
				if s != 0 {
					row[c] = frow[c]
				}
				continue
			}
			if s == 0 {
				t.fail[child] = 0
			} else {
				t.fail[child] = frow[c]
			}
			t.order = append(t.order, child)
		}
	}
}

// renumber fills in a from the linked trie: non-match states first (the
// root stays 0), match states last, with state identifiers premultiplied
// by the stride, and each match state's patterns and suffix chain.
func (a *automaton) renumber(t *acTrie) {
	stride := t.stride
	newID := make([]uint32, t.states)
	var next uint32
	for _, s := range t.order {
		if t.dict[s] < 0 {
			newID[s] = next
			next++
		}
	}
	firstMatch := next
	for _, s := range t.order {
		if t.dict[s] >= 0 {
			newID[s] = next
			next++
		}
	}
	a.matches = make([]stateMatch, t.states-firstMatch)
	for _, s := range t.order {
		if t.dict[s] < 0 {
			continue
		}
		m := &a.matches[newID[s]-firstMatch]
		m.first, m.n = uint32(len(a.outs)), uint32(len(t.owns[s]))
		a.outs = append(a.outs, t.owns[s]...)
		d := t.dict[t.fail[s]]
		if len(t.owns[s]) == 0 {
			d = t.dict[s] // nothing ends here: only the chain
		}
		m.next = -1
		if d >= 0 {
			m.next = int32(newID[d] - firstMatch)
		}
	}
	final := make([]uint32, t.states*stride)
	for s := uint32(0); s < t.states; s++ {
		src := t.trans[s*stride : (s+1)*stride]
		dst := final[newID[s]*stride : (newID[s]+1)*stride]
		for c, tr := range src {
			dst[c] = newID[tr] * stride
		}
	}
	a.trans = final
	a.matchStart = firstMatch * stride
}

// scanResult is the outcome of a scan.
type scanResult struct {
	block   int32 // id of the first block pattern, or -1
	claim   int32 // id of the first claim, or -1
	allowed bool  // an allow pattern occurs
}

// scan runs the automaton over s. It reports the block pattern that ends
// first in s (the longest one if several end there), the claim that ends
// first, and whether any allow pattern occurs in s, honouring the
// patterns' word boundaries. It does not allocate.
//
// A DFA walk is one dependent load per byte, so its speed is bound by load
// latency rather than throughput. Inputs of 64 bytes and more are
// therefore first cut into 3 (or, with long patterns, 2) overlapping
// windows that are walked in lockstep as independent chains, which the CPU
// overlaps; consecutive windows overlap by maxLen-1 bytes, so every
// occurrence of a pattern lies entirely inside some window. (Three chains
// still fit in registers on amd64; four spill.) The interleaved pass only
// answers "does any pattern occur?"; when one does, a serial pass
// determines the result exactly, so it does not depend on the window
// layout. It resumes where the first window stopped, whose state is the
// serial walk's.
func (a *automaton) scan(s string) scanResult { return a.scanUntil(s, false) }

// scanToClaim is scan that stops at the first claim: a request that
// claims to be a crawler is decided by the claim's verification first, and
// the rest of the result is needed (from scan) only if the claim fails.
// Without a claim in s the result is scan's.
func (a *automaton) scanToClaim(s string) scanResult { return a.scanUntil(s, true) }

func (a *automaton) scanUntil(s string, toClaim bool) scanResult {
	n := len(s)
	from, st, found := 0, uint32(0), true
	if n >= 64 {
		m := a.maxLen - 1
		if l3 := (n + 2*m + 2) / 3; l3 <= n/2 {
			found, from, st = a.scan3(s, l3)
		} else if l2 := (n + m + 1) / 2; l2 <= n*3/4 {
			found, from, st = a.scan2(s, l2)
		}
	}
	if !found {
		return scanResult{block: -1, claim: -1}
	}
	return a.scanSerial(s, from, st, toClaim)
}

// scanSerial walks s in one chain, from s[from] in state st (the state
// after s[:from], in which no pattern ends).
func (a *automaton) scanSerial(s string, from int, st uint32, toClaim bool) scanResult {
	trans := a.trans
	ms := a.matchStart
	r := scanResult{block: -1, claim: -1}
	for i := from; i < len(s); i++ {
		st = trans[st+uint32(a.classes[s[i]])]
		if st >= ms && (a.visit(s, i+1, (st-ms)/a.stride, &r) || toClaim && r.claim >= 0) {
			break
		}
	}
	if r.allowed {
		r.block = -1 // allowed: no block to report
	}
	return r
}

// visit records the patterns that end at s[:end] in match state m. It
// reports whether the scan is decided: an allow pattern or the first block
// pattern (when there are no allow patterns) has been found, and so has
// the first claim (when there are claims: an allow pattern does not hide
// a claim).
func (a *automaton) visit(s string, end int, m uint32, r *scanResult) bool {
	for mi := int32(m); mi >= 0; mi = a.matches[mi].next {
		sm := &a.matches[mi]
		for _, o := range a.outs[sm.first : sm.first+sm.n] {
			if o.wordEnd && end < len(s) && wordBytes[s[end]] {
				continue
			}
			if start := end - int(o.length); o.wordStart && start > 0 && wordBytes[s[start-1]] {
				continue
			}
			switch o.kind {
			case kindAllow:
				r.allowed = true
			case kindClaim:
				if r.claim < 0 {
					r.claim = o.id
				}
			default:
				if r.block < 0 {
					r.block = o.id
				}
			}
		}
	}
	return (r.allowed || !a.hasAllow && r.block >= 0) && (r.claim >= 0 || !a.hasClaim)
}

// The interleaved loops below contain no function calls, so that the
// chain states stay in registers. They report whether any match state is
// reached, and if so, how far the first window (which starts at s[0], so
// its state is the serial walk's) had got without reaching one: the
// serial pass resumes there.

// scan2 walks two windows of length l, at the start and the end of s.
func (a *automaton) scan2(s string, l int) (found bool, at int, st uint32) {
	trans := a.trans
	ms := a.matchStart
	cls := &a.classes
	w0 := s[:l]
	w1 := s[len(s)-l:]
	w1 = w1[:len(w0)]
	var s0, s1 uint32
	for i := 0; i < len(w0); i++ {
		p0 := s0
		s0 = trans[s0+uint32(cls[w0[i]])]
		s1 = trans[s1+uint32(cls[w1[i]])]
		if max(s0, s1) >= ms {
			return true, i, p0
		}
	}
	return false, 0, 0
}

// scan3 walks three evenly spaced windows of length l.
func (a *automaton) scan3(s string, l int) (found bool, at int, st uint32) {
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
		p0 := s0
		s0 = trans[s0+uint32(cls[w0[i]])]
		s1 = trans[s1+uint32(cls[w1[i]])]
		s2 = trans[s2+uint32(cls[w2[i]])]
		if max(s0, s1, s2) >= ms {
			return true, i, p0
		}
	}
	return false, 0, 0
}

// tableBytes is the size of the transition table.
func (a *automaton) tableBytes() int {
	if a == nil {
		return 0
	}
	return len(a.trans) * 4
}
