package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Group commit. A commit is an fsync, by far the largest cost of a small
// write, so writers that arrive while another commits do not each take a
// transaction: they queue, and the first of them, once it holds wmu, runs
// every queued writer's fn in one transaction, each in its own savepoint,
// and commits once for all. The others wait for the result; then the next
// queued writer leads the next group, so no writer leads more than one.

// write is one Update call waiting in or being run by a group.
type write struct {
	ctx  context.Context
	zone string
	fn   func(*Tx) error

	// Set by the group's leader before done is closed.
	change   *Change
	err      error
	panicked bool // fn panicked with panicVal; Update re-raises it
	panicVal any
	hooks    []func([]Change) // the commit functions when the group committed

	lead chan struct{} // closed when this writer is to lead the next group
	done chan struct{} // closed when the fields above are set
}

// savepoint is each writer's part of a group's transaction. Parts run one
// after another and each is released or rolled back before the next, so
// one name does.
const savepoint = "mcns_write"

// queueWrite queues fn and returns its write once its group committed or
// failed.
func (s *Store) queueWrite(ctx context.Context, zone string, fn func(*Tx) error) *write {
	w := newWrite(ctx, zone, fn)
	s.queueWrites([]*write{w})
	return w
}

func newWrite(ctx context.Context, zone string, fn func(*Tx) error) *write {
	return &write{ctx: ctx, zone: zone, fn: fn, lead: make(chan struct{}), done: make(chan struct{})}
}

// queueWrites queues ws together, so they join the same group, and
// returns once it committed or failed. At most one of them is asked to
// lead: the first, when no group is running.
func (s *Store) queueWrites(ws []*write) {
	s.gmu.Lock()
	s.queue = append(s.queue, ws...)
	first := !s.leading
	s.leading = true
	s.gmu.Unlock()
	if first {
		close(ws[0].lead)
	}
	for _, w := range ws {
		select {
		case <-w.done:
		case <-w.lead:
			s.leadGroup()
			<-w.done
		}
	}
}

// leadGroup takes wmu, runs and commits every queued write as one group,
// and hands leadership to the first writer queued meanwhile.
func (s *Store) leadGroup() {
	s.wmu.Lock()
	s.gmu.Lock()
	group := s.queue
	s.queue = nil
	s.gmu.Unlock()
	s.commitGroup(group)
	s.wmu.Unlock()

	s.gmu.Lock()
	if len(s.queue) > 0 {
		close(s.queue[0].lead)
	} else {
		s.leading = false
	}
	s.gmu.Unlock()
	for _, w := range group {
		close(w.done)
	}
}

// commitGroup runs group's writes in one transaction and commits it, under
// wmu. Each write ends with its change or its error. A write's own error
// rolls back its savepoint only; an error of the transaction itself (begin,
// commit, or a savepoint SQLite already abandoned) fails every write of
// the group, none of which is then committed.
func (s *Store) commitGroup(group []*write) {
	fail := func(err error) {
		for _, w := range group {
			if w.err == nil && !w.panicked {
				w.err, w.change = err, nil
			}
		}
	}
	// The transaction is not bound to any writer's context: one
	// cancelled writer must not roll back the others.
	start := time.Now()
	sqlTx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	defer sqlTx.Rollback()
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			continue
		}
		if err := s.runPart(w.ctx, sqlTx, w); err != nil {
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
	}
	s.commits.Add(1)
	statements := time.Since(start)
	if err := sqlTx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	if s.observeGroup != nil {
		s.observeGroup(len(group), statements, time.Since(start)-statements)
	}
	var changes []Change
	for _, w := range group {
		w.hooks = s.onCommit
		if w.change != nil {
			s.committed[w.change.After.ID] = w.change.After.Changes
			changes = append(changes, *w.change)
		}
	}
	s.qmu.Lock()
	s.pending = append(s.pending, changes...)
	s.qmu.Unlock()
}

// runPart runs w in its savepoint of sqlTx and sets w's change, error or
// panic; an error returned is the transaction's, not w's.
func (s *Store) runPart(ctx context.Context, sqlTx *sql.Tx, w *write) error {
	// The savepoint's own statements run to the end whatever ctx does:
	// failing one fails the group (commitGroup checked ctx just before).
	run := context.WithoutCancel(ctx)
	if err := s.execIn(run, sqlTx, "SAVEPOINT "+savepoint); err != nil {
		return err
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				w.panicked, w.panicVal = true, v
			}
		}()
		w.change, w.err = s.update(ctx, run, sqlTx, w.zone, w.fn)
	}()
	if w.err == nil && !w.panicked {
		return s.execIn(run, sqlTx, "RELEASE "+savepoint)
	}
	w.change = nil
	// ROLLBACK TO keeps the savepoint open; RELEASE ends it, keeping
	// nothing of this part.
	err := s.execIn(run, sqlTx, "ROLLBACK TO "+savepoint)
	if err == nil {
		err = s.execIn(run, sqlTx, "RELEASE "+savepoint)
	}
	if err != nil {
		return errors.Join(w.err, err)
	}
	return nil
}

// ObserveGroups has f told of every group commit: how many writes it
// held, the time its statements took (begin to the last savepoint) and
// the time of the commit itself, SQLite's WAL write and fsync. Set it
// before the first write.
func (s *Store) ObserveGroups(f func(writes int, statements, commit time.Duration)) {
	s.observeGroup = f
}
