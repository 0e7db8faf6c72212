package filewatch

// ErrorState remembers the error last reported for a watched file, so
// that a file stuck in one bad state is logged once rather than at every
// poll, and a new error (or a recovery) is logged again.
type ErrorState struct {
	last string
}

// Report reports whether err differs from the error last reported and
// should therefore be logged. A nil err clears the state.
func (e *ErrorState) Report(err error) bool {
	if err == nil {
		e.last = ""
		return false
	}
	msg := err.Error()
	if msg == e.last {
		return false
	}
	e.last = msg
	return true
}

// Clear forgets the last error, after a good version was loaded.
func (e *ErrorState) Clear() { e.last = "" }
