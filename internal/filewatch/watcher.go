package filewatch

// DefaultSettlePolls is the settle period a watcher should use unless its
// user states why not: the poll after the one that saw a change must find
// the file unchanged, so a file is read only once its writer has left it
// alone for a whole poll interval. Users whose writers replace the file
// atomically, or whose polls are too short or too rare for one quiet poll
// to mean a finished write, choose their own and say why.
const DefaultSettlePolls = 1

// Watcher follows one file across polls and says when a new version has
// settled and may be read. It is not safe for concurrent use; callers poll
// from one goroutine or under their own lock.
type Watcher struct {
	// Path is the watched file.
	Path string
	// SettlePolls is how many polls after the one that saw a change must
	// find the file unchanged before it is read. Zero reads a change at
	// the poll that sees it. See DefaultSettlePolls.
	SettlePolls int

	current Stamp // version in use, or the last version found unusable
	pending Stamp // a change seen at an earlier poll
	stable  int   // polls since then that found pending unchanged
}

// Accept records s as the version in use, or as a version that was read
// and rejected, so that it is not read again until the file changes.
func (w *Watcher) Accept(s Stamp) {
	w.current = s
	w.pending, w.stable = Stamp{}, 0
}

// Poll stats the file and reports whether a new version has settled and
// should be read now, with the stamp the read must match. A stat error
// (e.g. the file was deleted) is returned as is; the version in use is
// then forgotten so that the file's return is read even if it matches.
func (w *Watcher) Poll() (Stamp, bool, error) {
	s, err := StampFile(w.Path)
	if err != nil {
		w.Accept(Stamp{})
		return Stamp{}, false, err
	}
	if s == w.current {
		w.pending, w.stable = Stamp{}, 0
		return s, false, nil
	}
	if s != w.pending {
		// Changed since the last poll: start the settle period.
		w.pending, w.stable = s, 0
		if w.SettlePolls > 0 {
			return s, false, nil
		}
	} else if w.stable++; w.stable < w.SettlePolls {
		return s, false, nil
	}
	w.pending, w.stable = Stamp{}, 0
	return s, true, nil
}

// Unchanged reports whether the file is still at polled after being read;
// read is the stamp of the file handle that was read (zero if unknown).
// If the file was written to while being read, the new version becomes
// pending, to be read once it settles again.
func (w *Watcher) Unchanged(polled, read Stamp) bool {
	now, err := StampFile(w.Path)
	if err != nil {
		// Gone after the read: the next poll reports it.
		return true
	}
	if now == polled && (read.IsZero() || read == polled) {
		return true
	}
	w.pending, w.stable = now, 0
	return false
}
