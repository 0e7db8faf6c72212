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
// texts), and whether any allow pattern occurs.
func naiveScan(patterns []acPattern, s string) (block int32, allowed bool) {
	fs := foldString(s)
	for _, p := range patterns {
		if p.allow && strings.Contains(fs, foldString(p.text)) {
			return -1, true
		}
	}
	block = -1
	bestEnd, bestLen := len(fs)+1, 0
	for _, p := range patterns {
		if p.allow {
			continue
		}
		fp := foldString(p.text)
		i := strings.Index(fs, fp)
		if i < 0 {
			continue
		}
		end := i + len(fp)
		if end < bestEnd || (end == bestEnd && len(fp) > bestLen) {
			bestEnd, bestLen, block = end, len(fp), p.id
		}
	}
	return block, false
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
			gb, ga := a.scan(s)
			wb, wa := naiveScan(pats, s)
			if ga != wa || gb != wb {
				t.Fatalf("round %d: scan(%q) = (%d,%v), want (%d,%v); patterns %+v", round, s, gb, ga, wb, wa, pats)
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
		if got, _ := a.scan(tc.in); got != tc.want {
			t.Errorf("scan(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestAutomatonDuplicatePatternFirstWins(t *testing.T) {
	a, err := buildAutomaton([]acPattern{{text: "ccbot", id: 0}, {text: "CCBot", id: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.scan("CCBot/2.0"); got != 0 {
		t.Fatalf("got %d, want 0", got)
	}
}

func TestAutomatonAllowBeatsBlockAnywhere(t *testing.T) {
	a, err := buildAutomaton([]acPattern{{text: "bot", id: 0}, {text: "googlebot/", allow: true, id: -1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Googlebot/2.1 bot", "bot Googlebot/2.1", "googlebot/"} {
		if b, allowed := a.scan(s); !allowed || b != -1 {
			t.Errorf("scan(%q) = (%d,%v), want allowed", s, b, allowed)
		}
	}
	if b, allowed := a.scan("somebot"); allowed || b != 0 {
		t.Errorf("scan(somebot) = (%d,%v)", b, allowed)
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
