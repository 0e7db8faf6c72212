package filewatch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// newWatched writes data to a fresh file and returns a watcher that has
// accepted it.
func newWatched(t *testing.T, data string, settle int) *Watcher {
	t.Helper()
	path := filepath.Join(t.TempDir(), "watched")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := StampFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &Watcher{Path: path, SettlePolls: settle}
	w.Accept(s)
	return w
}

// pollsUntilReady polls up to max times and returns the poll (1-based) at
// which a read was due, or 0.
func pollsUntilReady(t *testing.T, w *Watcher, max int) int {
	t.Helper()
	for i := 1; i <= max; i++ {
		s, ready, err := w.Poll()
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		if ready {
			if !w.Unchanged(s, Stamp{}) {
				t.Fatalf("poll %d: file changed while reading", i)
			}
			w.Accept(s)
			return i
		}
	}
	return 0
}

// keepMtime sets path's modification time back to at, so that only the
// inode or size can reveal a change.
func keepMtime(t *testing.T, path string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestUnchangedFileIsNotRead(t *testing.T) {
	w := newWatched(t, "a", 2)
	if n := pollsUntilReady(t, w, 5); n != 0 {
		t.Fatalf("unchanged file read at poll %d", n)
	}
}

func TestRenameReplaceSameSizeAndMtime(t *testing.T) {
	w := newWatched(t, "aaaa", 0)
	fi, _ := os.Stat(w.Path)
	tmp := w.Path + ".tmp"
	if err := os.WriteFile(tmp, []byte("bbbb"), 0o644); err != nil {
		t.Fatal(err)
	}
	keepMtime(t, tmp, fi.ModTime())
	if err := os.Rename(tmp, w.Path); err != nil {
		t.Fatal(err)
	}
	if n := pollsUntilReady(t, w, 1); n != 1 {
		t.Fatalf("rename-replace with equal size and mtime not seen (poll %d)", n)
	}
}

func TestInPlaceWriteSameInode(t *testing.T) {
	w := newWatched(t, "aaaa", 0)
	fi, _ := os.Stat(w.Path)
	if err := os.WriteFile(w.Path, []byte("bbbbbb"), 0o644); err != nil {
		t.Fatal(err)
	}
	keepMtime(t, w.Path, fi.ModTime())
	if n := pollsUntilReady(t, w, 1); n != 1 {
		t.Fatalf("in-place write (size change) not seen (poll %d)", n)
	}
}

func TestTruncationIsSeen(t *testing.T) {
	w := newWatched(t, "aaaa", 0)
	if err := os.Truncate(w.Path, 0); err != nil {
		t.Fatal(err)
	}
	if n := pollsUntilReady(t, w, 1); n != 1 {
		t.Fatalf("truncation not seen (poll %d)", n)
	}
}

func TestDeletionAndReturn(t *testing.T) {
	w := newWatched(t, "aaaa", 1)
	saved, _ := os.ReadFile(w.Path)
	fi, _ := os.Stat(w.Path)
	if err := os.Remove(w.Path); err != nil {
		t.Fatal(err)
	}
	if _, ready, err := w.Poll(); !errors.Is(err, os.ErrNotExist) || ready {
		t.Fatalf("deleted file: ready=%v err=%v", ready, err)
	}
	// The file returns with its old contents and mtime; it is read again
	// because the version in use was forgotten while it was gone.
	if err := os.WriteFile(w.Path, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	keepMtime(t, w.Path, fi.ModTime())
	if n := pollsUntilReady(t, w, 5); n != 2 {
		t.Fatalf("returned file read at poll %d, want 2 (after settling)", n)
	}
}

// TestSettlePeriod writes a file in stages, as a slow writer would, and
// checks that it is read only after SettlePolls quiet polls.
func TestSettlePeriod(t *testing.T) {
	w := newWatched(t, "v1", 2)
	f, err := os.OpenFile(w.Path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 4 {
		if _, err := f.WriteString("part"); err != nil {
			t.Fatal(err)
		}
		if _, ready, err := w.Poll(); err != nil || ready {
			t.Fatalf("write %d: half-written file due for reading (err %v)", i, err)
		}
	}
	// Left alone: the first poll still sees it unchanged once, the second
	// completes the settle period.
	if n := pollsUntilReady(t, w, 5); n != 2 {
		t.Fatalf("settled file read at poll %d, want 2", n)
	}
}

// TestWrittenWhileReading checks that a file changed between the poll and
// the end of its read is not taken, and is read once it settles.
func TestWrittenWhileReading(t *testing.T) {
	w := newWatched(t, "v1", 0)
	if err := os.WriteFile(w.Path, []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, ready, err := w.Poll()
	if err != nil || !ready {
		t.Fatalf("change not due: %v", err)
	}
	if err := os.WriteFile(w.Path, []byte("v3 longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if w.Unchanged(s, s) {
		t.Fatal("write during read not noticed")
	}
	if n := pollsUntilReady(t, w, 2); n != 1 {
		t.Fatalf("re-read at poll %d, want 1", n)
	}
}

func TestErrorStateLogsOncePerState(t *testing.T) {
	var e ErrorState
	a, b := errors.New("a"), errors.New("b")
	got := []bool{e.Report(a), e.Report(a), e.Report(b), e.Report(b)}
	e.Clear()
	got = append(got, e.Report(b))
	want := []bool{true, false, true, false, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("report %d = %v, want %v (all %v)", i, got[i], want[i], got)
		}
	}
	if e.Report(nil) || !e.Report(b) {
		t.Fatal("nil error does not clear the state")
	}
}
