package store

import (
	"context"
	"database/sql"
	"sync"
)

// statements are the prepared forms of the fixed SQL a write runs.
// SQLite parses a statement in about as long as a small write spends on
// everything else but the commit, so each is prepared once per
// connection and reused by every transaction (database/sql's Tx.Stmt
// finds the connection's prepared form).
type statements struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns the prepared statement for query, preparing it on first use.
func (p *statements) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[query] = st
	return st, nil
}

// close closes every prepared statement.
func (p *statements) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.m {
		st.Close()
	}
	p.m = nil
}

// sqlCtx returns the context t's next statement runs under: the writer's
// values without its cancellation while its context lasts, the ended
// context itself after, so that database/sql fails the statement before
// SQLite sees it. A statement is never interrupted midway: SQLite may then
// roll back the whole transaction, which the writers of a group share, and
// modernc's driver watches every cancellable context with a goroutine of
// its own per statement, several per write. A writer whose context ends
// is stopped at its next statement instead.
func (t *Tx) sqlCtx() context.Context {
	if t.ctx.Err() != nil {
		return t.ctx
	}
	return t.run
}

// stmt is query prepared, bound to t's transaction.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	ctx := t.sqlCtx()
	st, err := t.stmts.get(ctx, t.db, query)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, st), nil
}

// exec runs query (fixed SQL; arguments in args) in t's transaction.
func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.sqlCtx(), args...)
}

// query runs query in t's transaction and returns its rows.
func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.sqlCtx(), args...)
}

// queryRow runs query in t's transaction and returns its first row.
func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if err != nil {
		// sql.Row carries no error of its own to set; a query that
		// cannot be prepared fails the same way unprepared.
		return t.tx.QueryRowContext(t.sqlCtx(), query, args...)
	}
	return st.QueryRowContext(t.sqlCtx(), args...)
}

// execIn runs query, fixed SQL without arguments, prepared in sqlTx.
func (s *Store) execIn(ctx context.Context, sqlTx *sql.Tx, query string) error {
	st, err := s.stmts.get(ctx, s.db, query)
	if err != nil {
		return err
	}
	_, err = sqlTx.StmtContext(ctx, st).ExecContext(ctx)
	return err
}

// queryRow runs fixed query on the pool, prepared, and returns its first
// row.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmts.get(ctx, s.db, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs fixed query on the pool, prepared, and returns its rows.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.get(ctx, s.db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
