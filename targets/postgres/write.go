package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
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
	_, err := t.write(ctx, []*pusher.Chunk{c}, nil)
	return pgstate.Classify(err)
}

var _ pusher.OverlapTarget = (*Target)(nil)

// WriteAfter implements pusher.OverlapTarget (with the state in this
// database; else it waits for the write before and writes as Write). The
// chunk's transaction first takes a transaction-level advisory lock on
// the file's chunk (two int4 keys: a hash of the pipeline and the file
// version, and the chunk's Seq), then calls o.Started. While the write
// before is under way, it then copies its rows, waits for the write
// before's lock (the server waits: a deadlock with it, such as two rows
// of one unique key, is found and one of the two tried again), and only
// then advances the file's progress, which the write before moved to
// where this chunk starts, or, when it rolled back, did not: the position
// check fails, the transaction rolls back, and once the write before has
// ended (waited for holding nothing) the chunk is written again after it,
// or not at all (pusher.ErrBeforeFailed) when it failed. Without a write
// before under way, the progress moves first, as with Write. A chunk that
// starts a version under replace (Config.ReplaceKeys), that adds columns,
// widens one, or finds no table known yet, waits for the write before to
// end first (holding nothing), so that the table changes in the order of
// the file's chunks.
func (t *Target) WriteAfter(ctx context.Context, c *pusher.Chunk, o pusher.Order) error {
	_, err := t.write(ctx, []*pusher.Chunk{c}, &o)
	return pgstate.Classify(err)
}

// WriteGroup implements pusher.GroupTarget: the chunks (of different
// files) are written in one transaction, as Write writes one, with one
// statement advancing every file's progress and one COPY for each run of
// chunks that fill the same columns. A chunk that fails is named by a
// *pusher.ChunkError.
func (t *Target) WriteGroup(ctx context.Context, cs []*pusher.Chunk) error {
	i, err := t.write(ctx, cs, nil)
	if err != nil && i >= 0 {
		return &pusher.ChunkError{Index: i, Err: pgstate.Classify(err)}
	}
	return pgstate.Classify(err)
}

// write writes cs in one transaction, trying again after widening a
// column, re-planning, or leaving out a row the server refused. An error
// about one chunk comes with its index, else with -1. o, when not nil,
// is the order of cs's only chunk among its file's writes (WriteAfter).
func (t *Target) write(ctx context.Context, cs []*pusher.Chunk, o *pusher.Order) (int, error) {
	parts := make([]*copyPart, len(cs))
	for i, c := range cs {
		parts[i] = &copyPart{c: c}
	}
	var ord *order
	if o != nil {
		ord = &order{before: o.Before, started: o.Started}
		if len(cs) != 1 || !t.cfg.StateInTx {
			ord.started = nil // nothing to order in this database
		} else {
			ord.key = orderKey(t.cfg.Pipeline, cs[0].File)
		}
	}
	for attempt := 0; ; attempt++ {
		if ord != nil && ord.before != nil && (ord.started == nil || ord.before.Done() || t.replaces(cs[0])) {
			// Nothing to overlap, or nothing that may: wait for it
			// holding nothing, then write as usual.
			if err := ord.settle(ctx); err != nil {
				return 0, err
			}
		}
		if ord != nil && ord.before != nil && !t.known() {
			// The table may not exist yet: the write before creates it
			// from its own records, as without overlap.
			if err := ord.settle(ctx); err != nil {
				return 0, err
			}
		}
		work, i, err := t.planParts(ctx, parts, ord.settle)
		if err != nil {
			return i, err
		}
		if parts[0].p != nil && len(parts[0].p.needs) > 0 {
			// Adding columns locks the table, which the write before
			// needs until it commits: no overlap.
			if err := ord.settle(ctx); err != nil {
				return 0, err
			}
		}
		if !work { // never with ord: work is true under StateInTx
			return -1, nil
		}
		i, err = t.writeOnce(ctx, parts, ord)
		if errors.Is(err, errBeforeEnded) {
			ord.before = nil
			continue
		}
		if err == nil {
			for _, pt := range parts {
				pt.c.Rejects = append(pt.c.Rejects, pt.rejects...)
				pt.c.Rescued += pt.rescued
			}
			return -1, nil
		}
		if attempt >= maxAttempts {
			return i, err
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "22P03" || pgErr.Code == "40P01") || t.stale(ctx, parts, err) {
			// Binary data did not match the column type: another worker
			// (or process) widened a column since the plans; or the
			// transaction lost a deadlock (adding a column waits for the
			// table's writers). Re-read the table and write again.
			for _, pt := range parts {
				if pt.p != nil {
					t.invalidate(pt.p.tbl)
				}
			}
			continue
		}
		if i < 0 {
			return i, err
		}
		pt := parts[i]
		var we *widenError
		if errors.As(err, &we) {
			if err := ord.settle(ctx); err != nil {
				return i, err
			}
			if err := t.widen(ctx, pt.p.tbl, we); err != nil {
				return i, err
			}
			continue
		}
		var le *lineError
		if t.cfg.SkipRecords && errors.As(err, &le) {
			if pt.excluded == nil {
				pt.excluded = map[int]*pusher.RecordError{}
			}
			le.reject.Raw = pusher.CutRaw(pt.c.Batch.AppendJSON(nil, le.row))
			pt.excluded[le.row] = le.reject
			continue
		}
		var re *pusher.RecordError
		if errors.As(err, &re) {
			return i, err
		}
		if le != nil {
			return i, le.reject
		}
		return i, err
	}
}

// known says whether the target has read (or created) its table.
func (t *Target) known() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tbl != nil
}

// errBeforeEnded: the chunk's progress did not move, and the write before
// it, waited for since, committed: write the chunk again.
var errBeforeEnded = errors.New("the write before ended")

// order is a WriteAfter's place among its file's writes: the write before
// (nil once it ended), what to call once the chunk's advisory lock is
// held (nil: take none), and the lock's first key.
type order struct {
	before  pusher.Before
	started func()
	key     int32
}

// settle waits, holding nothing, until the write before has ended, and
// fails when it did not commit; from then on the chunk is written as
// Write writes one. A column changes type (widens) only after the write
// before committed, so that a file's values meet the types in the order of
// its chunks, as without overlap. A nil order has nothing to wait for.
func (o *order) settle(ctx context.Context) error {
	if o == nil || o.before == nil {
		return nil
	}
	if err := o.before.Wait(ctx); err != nil {
		return err
	}
	o.before = nil
	return nil
}

// orderKey is the first key of the advisory locks of a file version's
// chunks (the second is the chunk's Seq).
func orderKey(pipeline string, f pusher.Object) int32 {
	h := fnv.New32a()
	for _, s := range []string{pipeline, f.Key, f.ETag} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return int32(h.Sum32())
}

// writeOnce writes the parts in one transaction: the files' progress
// first (so a concurrent loader of the same file waits on the row lock and
// then fails the position check instead of copying twice), then one COPY
// per run of parts with the same columns, then the rejects. With ord
// (one part), its advisory lock is taken first, and with a write before
// under way the progress moves after the COPY (see WriteAfter).
func (t *Target) writeOnce(ctx context.Context, parts []*copyPart, ord *order) (int, error) {
	var before pusher.Before
	if ord != nil && ord.started != nil {
		before = ord.before
		if before != nil {
			// The write before takes its lock first (its first statement):
			// wait for that holding nothing.
			if err := before.Started(ctx); err != nil {
				return 0, err
			}
		}
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return -1, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if ord != nil && ord.started != nil {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, ord.key, int32(parts[0].c.Seq)); err != nil {
			return 0, fmt.Errorf("lock the chunk's turn: %w", err)
		}
		ord.started()
	}
	if i, err := t.deleteReplaced(ctx, tx, parts); err != nil {
		return i, err
	}
	cs := make([]*pusher.Chunk, len(parts))
	for i, pt := range parts {
		cs[i] = pt.c
	}
	if t.cfg.StateInTx && before == nil {
		if i, err := t.cfg.StateSchema.AdvanceGroup(ctx, tx, t.cfg.Pipeline, cs); err != nil {
			return i, err
		}
	}
	// Columns the chunks need are added here, before any COPY of the
	// transaction (see evolve.go).
	change, i, err := t.evolve(ctx, tx, parts)
	if err != nil {
		return i, err
	}
	merged := false // the temporary table exists (merging)
	for start := 0; start < len(parts); {
		if parts[start].p == nil {
			start++
			continue
		}
		end := start + 1
		for end < len(parts) && parts[end].p != nil && parts[end].p.sql == parts[start].p.sql {
			end++
		}
		sql := parts[start].p.sql
		if t.merging() {
			if !merged {
				if err := t.createMergeTable(ctx, tx, parts); err != nil {
					return -1, err
				}
				merged = true
			}
			sql = mergeCopySQL(parts[start].p)
		}
		if i, err := t.copy(ctx, tx, parts[start:end], sql); err != nil {
			return start + i, err
		}
		if t.merging() {
			if err := t.verify(ctx, tx, parts[start:end]); err != nil {
				return -1, err
			}
			if before != nil {
				// Upsert only once the write before committed, so that
				// the file's chunks merge in order (see merge.go).
				if err := t.advanceAfter(ctx, tx, cs, ord); err != nil {
					return 0, err
				}
				before = nil
			}
			last := true
			for _, pt := range parts[end:] {
				last = last && pt.p == nil
			}
			if err := t.mergeRows(ctx, tx, parts[start].p, last); err != nil {
				if len(parts) == 1 {
					return 0, err
				}
				return -1, err
			}
		}
		start = end
	}
	if !merged {
		if err := t.verify(ctx, tx, parts); err != nil {
			return -1, err
		}
	}
	if before != nil {
		if err := t.advanceAfter(ctx, tx, cs, ord); err != nil {
			return 0, err
		}
	}
	for i, pt := range parts {
		all := append(append([]*pusher.RecordError(nil), pt.c.Rejects...), pt.rejects...)
		if pt.c.RejectLimit >= 0 && len(all) > pt.c.RejectLimit {
			return i, &rejectLimitError{last: all[len(all)-1]}
		}
		if err := t.cfg.StateSchema.Reject(ctx, tx, t.cfg.Pipeline, pt.c.File, all); err != nil {
			return i, err
		}
		if t.cfg.StateInTx && len(pt.rejects) > 0 {
			// AdvanceGroup counted them as loaded.
			n := int64(len(pt.rejects))
			if err := t.cfg.StateSchema.Count(ctx, tx, t.cfg.Pipeline, pt.c.File, -n, n); err != nil {
				return i, err
			}
		}
		if t.cfg.StateInTx && pt.rescued > 0 {
			if err := t.cfg.StateSchema.Rescued(ctx, tx, t.cfg.Pipeline, pt.c.File, int64(pt.rescued)); err != nil {
				return i, err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("commit: %w", err)
	}
	t.committed(change)
	return -1, nil
}

// advanceAfter moves the progress of the one chunk of cs in tx, after
// its COPY, once the write before it ended (see WriteAfter).
func (t *Target) advanceAfter(ctx context.Context, tx pgx.Tx, cs []*pusher.Chunk, ord *order) error {
	before := ord.before
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1::int4, $2::int4)`, ord.key, int32(cs[0].Seq-1)); err != nil {
		return fmt.Errorf("wait for the chunk before: %w", err)
	}
	if _, err := t.cfg.StateSchema.AdvanceGroup(ctx, tx, t.cfg.Pipeline, cs); err != nil {
		if !errors.Is(err, pgstate.ErrConflict) {
			return err
		}
		// Not where the chunk starts: the write before rolled back, has
		// not moved it yet, or another process did. Wait holding nothing.
		if err := tx.Rollback(ctx); err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		if err := before.Wait(ctx); err != nil {
			return err
		}
		return errBeforeEnded
	}
	// The UPDATE found the row where the write before left it, so that
	// write committed: it only has to return.
	return before.Wait(ctx)
}

// copy runs one COPY of parts (same plan SQL; sql: into the target, or
// the temporary table when merging) in tx. An error about one
// part comes with its index in parts, else with -1.
func (t *Target) copy(ctx context.Context, tx pgx.Tx, parts []*copyPart, sql string) (int, error) {
	r := newCopyReader(parts, t.cfg.SkipRecords)
	r.ord = t.merging()
	_, err := tx.Conn().PgConn().CopyFrom(ctx, r, sql)
	var pgErr *pgconn.PgError
	if err != nil && (!errors.As(err, &pgErr) || tx.Conn().PgConn().IsClosed()) {
		// The connection broke (also on a FATAL server error, such as an
		// administrator shutdown): pgconn may return before its goroutine
		// stops reading r. Stop r, so that the caller may release the
		// chunks, and leave its buffer to the collector.
		r.detach()
		if i, rerr := r.failure(); rerr != nil {
			return i, rerr
		}
		return -1, fmt.Errorf("copy: %w", err)
	}
	defer r.release() // pgconn is done with r
	if i, rerr := r.failure(); rerr != nil {
		return i, rerr
	}
	if err != nil {
		err = copyError(r, err)
		if le := (*lineError)(nil); errors.As(err, &le) {
			if t.merging() {
				le.reject.Err = t.mergeMessage(le.reject.Err)
			}
			return le.part, err
		}
		if len(parts) == 1 {
			return 0, err
		}
		return -1, err
	}
	return -1, nil
}

// rejectLimitError: the chunk would take the file past --max-rejects.
type rejectLimitError struct{ last *pusher.RecordError }

func (e *rejectLimitError) Error() string {
	return fmt.Sprintf("too many rejected records (--max-rejects); last: %v", e.last)
}
