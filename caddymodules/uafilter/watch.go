package uafilter

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// stablePolls is how many consecutive polls must find a changed list or
// range file unchanged before it is read. It is not
// filewatch.DefaultSettlePolls (one) because reload_interval is short (1s
// by default, and may be less): two quiet intervals, as the README
// documents, give an editor or a copy in progress time to finish.
const stablePolls = 2

// watch polls the list and range files, and advances the clock of the
// reverse-DNS cache, until stopped.
func (e *engine) watch(ctxDone <-chan struct{}, interval time.Duration) {
	defer close(e.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-ctxDone:
			return
		case <-t.C:
			if e.rdns != nil {
				e.rdns.tick()
			}
			e.poll()
		}
	}
}

// poll re-reads changed list files and swaps in a new rule set. Errors are
// logged once per state of the file; the last good patterns stay.
func (e *engine) poll() {
	changed := false
	for _, f := range e.files {
		changed = e.pollFile(f) || changed
	}
	if !changed {
		return
	}
	rs, err := e.build()
	if err != nil {
		e.countReload("error")
		e.logger.Error("rebuilding User-Agent rules failed; keeping the previous set", zap.Error(err))
		return
	}
	e.set.Store(rs)
	e.countReload("success")
}

// pollFile reads f if a new version has settled, and reports whether its
// contents changed.
func (e *engine) pollFile(f *listFile) bool {
	stamp, ready, err := f.watch.Poll()
	if err != nil {
		e.fileError(f, fmt.Errorf("%s %s: %v", f.what, f.path, err))
		return false
	}
	if !ready {
		return false
	}
	content, rstamp, err := f.read()
	if !f.watch.Unchanged(stamp, rstamp) {
		// Written to while being read: wait for it to settle again.
		return false
	}
	if err != nil {
		e.fileError(f, err)
		if errors.As(err, new(listParseError)) {
			// Invalid contents: wait for the file to change. Read
			// errors (e.g. permissions) are retried every interval.
			f.watch.Accept(stamp)
		}
		return false
	}
	f.watch.Accept(rstamp)
	f.content = content
	f.errs.Clear()
	if c := e.logger.Check(zapcore.InfoLevel, "reloaded "+f.noun()); c != nil {
		c.Write(zap.String("file", f.path), zap.Int("entries", content.size()))
	}
	return true
}

func (e *engine) fileError(f *listFile, err error) {
	if !f.errs.Report(err) {
		return
	}
	e.countReload("error")
	e.logger.Error(f.noun()+" unusable; keeping its last good contents",
		zap.String("file", f.path), zap.Error(err))
}

func (e *engine) countReload(result string) {
	if e.reloads != nil {
		e.reloads.WithLabelValues(result).Inc()
	}
}

// close stops the watcher and waits for it.
func (e *engine) close() {
	if e == nil || e.stop == nil {
		return
	}
	e.stopOnce.Do(func() {
		close(e.stop)
		<-e.done
	})
}
