package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferrydata/ferry/pusher"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// Attempts bound the retries of one chunk: widening columns, dropping rows
// the server rejects, re-planning after another worker changed the table.
const maxAttempts = 64

// Write implements pusher.Target. Under SkipRecords, a value that does not
// convert, or a row the server refuses (NOT NULL, length, check), becomes a
// reject: the chunk is written without it and the reject is recorded in
// ferry.rejects in the same transaction (and appended to c.Rejects).
// Its errors are classified (see the package doc).
func (t *Target) Write(ctx context.Context, c *pusher.Chunk) error {
	return pgstate.Classify(t.write(ctx, c))
}

func (t *Target) write(ctx context.Context, c *pusher.Chunk) error {
	var excluded map[int]*pusher.RecordError // batch rows the server refused
	for attempt := 0; ; attempt++ {
		var p *plan
		if c.Batch != nil && c.Batch.Len() > 0 {
			tbl, err := t.prepare(ctx, c.Batch)
			if err != nil {
				return err
			}
			if p, err = t.plan(tbl, c.Batch); err != nil {
				return err
			}
		} else if !t.cfg.StateInTx && len(c.Rejects) == 0 {
			return nil
		}
		rejects, err := t.writeOnce(ctx, c, p, excluded)
		if err == nil {
			c.Rejects = append(c.Rejects, rejects...)
			return nil
		}
		if attempt >= maxAttempts {
			return err
		}
		var we *widenError
		if errors.As(err, &we) {
			if err := t.widen(ctx, p.tbl, we); err != nil {
				return err
			}
			continue
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22P03" {
			// Binary data did not match the column type: another worker
			// (or process) widened a column since this plan. Re-read it.
			t.invalidate(p.tbl)
			continue
		}
		var le *lineError
		if t.cfg.SkipRecords && errors.As(err, &le) {
			if excluded == nil {
				excluded = map[int]*pusher.RecordError{}
			}
			le.reject.Raw = pusher.CutRaw(c.Batch.AppendJSON(nil, le.row))
			excluded[le.row] = le.reject
			continue
		}
		var re *pusher.RecordError
		if errors.As(err, &re) {
			return err
		}
		if le != nil {
			return le.reject
		}
		return err
	}
}

func (t *Target) writeOnce(ctx context.Context, c *pusher.Chunk, p *plan, excluded map[int]*pusher.RecordError) ([]*pusher.RecordError, error) {
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if t.cfg.StateInTx {
		// First, so a concurrent loader of the same file waits on the row
		// lock and then fails the position check instead of copying twice.
		if err := pgstate.Advance(ctx, tx, t.cfg.Pipeline, c); err != nil {
			return nil, err
		}
	}
	var rejects []*pusher.RecordError
	if p != nil {
		r := newCopyReader(c, p, t.cfg.SkipRecords, excluded)
		_, err := tx.Conn().PgConn().CopyFrom(ctx, r, p.sql)
		var pgErr *pgconn.PgError
		if err != nil && (!errors.As(err, &pgErr) || tx.Conn().PgConn().IsClosed()) {
			// The connection broke (also on a FATAL server error, such as
			// an administrator shutdown): pgconn may return before its
			// goroutine stops reading r. Stop r, so that the caller may
			// release the chunk, and leave its buffer to the collector.
			r.detach()
			if rerr := r.failure(); rerr != nil {
				return nil, rerr
			}
			return nil, fmt.Errorf("copy: %w", err)
		}
		defer r.release() // pgconn is done with r
		if r.failure() != nil {
			return nil, r.failure()
		}
		if err != nil {
			return nil, copyError(c, r, err)
		}
		rejects = r.rejects
	}
	all := append(append([]*pusher.RecordError(nil), c.Rejects...), rejects...)
	if c.RejectLimit >= 0 && len(all) > c.RejectLimit {
		return nil, &rejectLimitError{last: all[len(all)-1]}
	}
	if err := pgstate.Reject(ctx, tx, t.cfg.Pipeline, c.File, all); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return rejects, nil
}

// rejectLimitError: the chunk would take the file past --max-rejects.
type rejectLimitError struct{ last *pusher.RecordError }

func (e *rejectLimitError) Error() string {
	return fmt.Sprintf("too many rejected records (--max-rejects); last: %v", e.last)
}
