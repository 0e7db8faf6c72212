package uafilter

import (
	"math/rand"
	"strings"
	"testing"
)

func foldString(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = foldASCII(b[i])
	}
	return string(b)
}

// naiveScan is the reference: the block pattern that ends first (longest
// among those ending at the same position, first configured among equal
// texts) and likewise the first claim, whether any allow pattern occurs,
// all honouring word boundaries.
func naiveScan(patterns []acPattern, s string) scanResult {
	fs := foldString(s)
	r := scanResult{block: -1, claim: -1}
	bestEnd := [2]int{len(fs) + 1, len(fs) + 1}
	bestLen := [2]int{}
	for _, p := range patterns {
		fp := foldString(p.text)
		for i := 0; i+len(fp) <= len(fs); i++ {
			if fs[i:i+len(fp)] != fp {
				continue
			}
			end := i + len(fp)
			if len(fp) > 0 && p.wordStart && isWordByte(fp[0]) && i > 0 && isWordByte(fs[i-1]) ||
				len(fp) > 0 && p.wordEnd && isWordByte(fp[len(fp)-1]) && end < len(fs) && isWordByte(fs[end]) {
				continue
			}
			if p.allow {
				r.allowed = true
				break
			}
			k, id := 0, &r.block
			if p.claim {
				k, id = 1, &r.claim
			}
			if end < bestEnd[k] || (end == bestEnd[k] && len(fp) > bestLen[k]) {
				bestEnd[k], bestLen[k], *id = end, len(fp), p.id
			}
			break // later occurrences end later
		}
	}
	if r.allowed {
		r.block = -1
	}
	return r
}

func TestAutomatonMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("abcAB-/ \xc3\xa9")
	word := func(min, max int) string {
		n := min + rng.Intn(max-min+1)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(b)
	}
	for round := 0; round < 300; round++ {
		var pats []acPattern
		n := 1 + rng.Intn(30)
		withAllow := round%3 == 0
		maxPat := 6
		switch round % 5 {
		case 3:
			maxPat = 40 // two windows
		case 4:
			maxPat = 120 // serial walk
		}
		for i := 0; i < n; i++ {
			p := acPattern{text: word(1, 1+rng.Intn(maxPat)), id: int32(i)}
			if withAllow && rng.Intn(5) == 0 {
				p.allow, p.id = true, -1
			} else if round%2 == 1 && rng.Intn(4) == 0 {
				p.claim = true
			}
			if round%4 >= 2 { // whole words on random sides
				p.wordStart, p.wordEnd = rng.Intn(2) == 0, rng.Intn(2) == 0
			}
			pats = append(pats, p)
		}
		// Identical folded texts: the first configured id must win.
		seen := map[string]bool{}
		for i := range pats {
			f := foldString(pats[i].text)
			if seen[f] {
				pats[i].text = pats[i].text + "x" + f // keep texts unique
			}
			seen[foldString(pats[i].text)] = true
		}
		a, err := buildAutomaton(pats)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 200; j++ {
			s := word(0, 40)
			if j%2 == 1 {
				s = word(64, 300) // interleaved windows
			}
			// Plant occurrences so that long inputs match too, at any
			// position including window boundaries.
			if j%4 == 3 {
				p := pats[rng.Intn(len(pats))].text
				at := rng.Intn(len(s) + 1)
				s = s[:at] + p + s[at:]
			}
			got, want := a.scan(s), naiveScan(pats, s)
			if got != want {
				t.Fatalf("round %d: scan(%q) = %+v, want %+v; patterns %+v", round, s, got, want, pats)
			}
			if tc := a.scanToClaim(s); tc.claim != want.claim || want.claim < 0 && tc != want {
				t.Fatalf("round %d: scanToClaim(%q) = %+v, want claim of %+v; patterns %+v", round, s, tc, want, pats)
			}
		}
	}
}

func TestAutomatonCaseFolding(t *testing.T) {
	a, err := buildAutomaton([]acPattern{{text: "GPTBot", id: 0}, {text: "nmap scripting", id: 1}, {text: "Zürich-Bot", id: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"gptbot", 0},
		{"GPTBOT/1.1", 0},
		{"x gPtBoT y", 0},
		{"Mozilla/5.0 (compatible; NMAP SCRIPTING ENGINE)", 1},
		{"ZÜRICH-BOT", -1}, // only ASCII letters are folded
		{"zürich-bot/1", 2},
		{"gptbo", -1},
		{"", -1},
	} {
		if got := a.scan(tc.in).block; got != tc.want {
			t.Errorf("scan(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestAutomatonDuplicatePatternFirstWins(t *testing.T) {
	a, err := buildAutomaton([]acPattern{{text: "ccbot", id: 0}, {text: "CCBot", id: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.scan("CCBot/2.0").block; got != 0 {
		t.Fatalf("got %d, want 0", got)
	}
}

func TestAutomatonAllowBeatsBlockAnywhere(t *testing.T) {
	a, err := buildAutomaton([]acPattern{{text: "bot", id: 0}, {text: "googlebot/", allow: true, id: -1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Googlebot/2.1 bot", "bot Googlebot/2.1", "googlebot/"} {
		if r := a.scan(s); !r.allowed || r.block != -1 {
			t.Errorf("scan(%q) = %+v, want allowed", s, r)
		}
	}
	if r := a.scan("somebot"); r.allowed || r.block != 0 {
		t.Errorf("scan(somebot) = %+v", r)
	}
}

func TestAutomatonScanDoesNotAllocate(t *testing.T) {
	a, err := buildAutomaton(benchPatterns(1000))
	if err != nil {
		t.Fatal(err)
	}
	ua := benchUA
	allocs := testing.AllocsPerRun(100, func() { a.scan(ua) })
	if allocs != 0 {
		t.Fatalf("scan allocates %v times", allocs)
	}
}

func TestAutomatonSizeLimit(t *testing.T) {
	defer func(old uint64) { maxTableBytes = old }(maxTableBytes)
	maxTableBytes = 1 << 20
	if _, err := buildAutomaton(benchPatterns(10000)); err == nil || !strings.Contains(err.Error(), "too many patterns") {
		t.Fatalf("error %v", err)
	}
	if _, err := buildAutomaton(benchPatterns(100)); err != nil {
		t.Fatal(err)
	}
}
