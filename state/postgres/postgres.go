// Package postgres keeps file progress in PostgreSQL, in the table
// ferry.files (ferry is the default Schema; another holds the same tables).
// When the target is the same database, the target calls Advance inside
// the transaction that copies the chunk's rows, so rows and progress
// commit together. The view ferry.load_history and the Inspector methods
// read the same rows.
//
// Advance is guarded: it moves a file from exactly the position the chunk
// started at, so two processes loading the same file cannot both commit the
// same records; the second gets ErrConflict and its transaction rolls back.
//
// Every error the Store returns is classified (Classify): an unavailable
// or restarting server is pusher.ClassUnavailable; ErrConflict and
// state.ErrClaimed (another process has the file) are pusher.ClassRetry.
package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Querier is what Store needs from a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var _ Querier = (*pgxpool.Pool)(nil)
var _ Querier = (pgx.Tx)(nil)

// Store is the PostgreSQL state store.
type Store struct {
	pool   *pgxpool.Pool
	schema Schema

	// Claims are session advisory locks held on one connection of the
	// pool: they vanish with the process (or the connection).
	claimMu   sync.Mutex
	claimConn *pgxpool.Conn
	claimGen  int      // bumped when claimConn is replaced
	unclaims  []string // released claims whose unlock is not sent yet
}

var (
	_ state.Store     = (*Store)(nil)
	_ state.Claimer   = (*Store)(nil)
	_ state.Inspector = (*Store)(nil)
)

// db is the pool, running statements in the store's schema.
func (s *Store) db() Querier { return s.schema.on(s.pool) }

// schemaSQL creates or upgrades the state tables (in the schema, which
// exists). Statements that take an exclusive lock run only when there is
// something to change: the lock would wait for (and could deadlock with)
// loads under way.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS ferry.files (
	pipeline   text        NOT NULL,
	key        text        NOT NULL,
	etag       text        NOT NULL,
	size       bigint      NOT NULL,
	status     text        NOT NULL CHECK (status IN ('loading', 'done', 'failed')),
	rows       bigint      NOT NULL DEFAULT 0,
	"offset"   bigint      NOT NULL DEFAULT 0,
	error      text,
	attempts   integer     NOT NULL DEFAULT 0,
	started_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	loaded     bigint      DEFAULT 0,
	rejected   bigint      DEFAULT 0,
	last_modified timestamptz,
	attempted_at  timestamptz,
	retries       jsonb,
	PRIMARY KEY (pipeline, key, etag)
);
-- ferry.files of a ferry that did not count loaded and rejected records:
-- add the columns (NULL for the files already there). Only then, so that
-- the exclusive lock ALTER TABLE takes is not taken at every start (with
-- the one on ferry.rejects below, it could deadlock with loads under way).
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.files'::regclass AND attname = 'loaded' AND NOT attisdropped) THEN
		ALTER TABLE ferry.files ADD COLUMN loaded bigint, ADD COLUMN rejected bigint;
		ALTER TABLE ferry.files ALTER COLUMN loaded SET DEFAULT 0, ALTER COLUMN rejected SET DEFAULT 0;
	END IF;
END $$;
-- ferry.files of a ferry without load history: the object's LastModified,
-- the start of the last attempt, the failures a retry cleared.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.files'::regclass AND attname = 'retries' AND NOT attisdropped) THEN
		ALTER TABLE ferry.files ADD COLUMN IF NOT EXISTS last_modified timestamptz,
			ADD COLUMN IF NOT EXISTS attempted_at timestamptz, ADD COLUMN IF NOT EXISTS retries jsonb;
	END IF;
END $$;
COMMENT ON COLUMN ferry.files.last_modified IS 'the object''s LastModified (NULL: started by an older ferry)';
COMMENT ON COLUMN ferry.files.attempted_at IS 'start of the last attempt (NULL: started by an older ferry)';
COMMENT ON COLUMN ferry.files.retries IS 'failures cleared by ferry retry: [{"at", "attempts", "error"}], oldest first';
DO $$
BEGIN
	IF to_regclass('ferry.load_history') IS NULL THEN
		CREATE VIEW ferry.load_history AS
		SELECT pipeline, key, etag, status, size AS bytes,
			coalesce(loaded, rows) AS rows, rejected, attempts, error,
			last_modified, started_at, attempted_at,
			CASE WHEN status = 'done' THEN updated_at END AS loaded_at,
			CASE WHEN status = 'done' THEN extract(epoch FROM updated_at - attempted_at)::double precision END AS load_seconds,
			CASE WHEN status = 'done' THEN extract(epoch FROM updated_at - last_modified)::double precision END AS lag_seconds,
			coalesce(jsonb_array_length(retries), 0) AS retries
		FROM ferry.files;
		COMMENT ON VIEW ferry.load_history IS 'ferry: one row per file version and its load (as COPY_HISTORY); done files are kept for --state-retention';
	END IF;
END $$;
COMMENT ON TABLE ferry.files IS 'ferry: load progress per pipeline and object version';
COMMENT ON COLUMN ferry.files.rows IS 'records committed: read through, loaded or rejected (the position to resume at)';
COMMENT ON COLUMN ferry.files."offset" IS 'byte offset in the decompressed file after the last committed record';
CREATE TABLE IF NOT EXISTS ferry.rejects (
	id          bigserial   PRIMARY KEY,
	pipeline    text        NOT NULL,
	key         text        NOT NULL,
	etag        text        NOT NULL,
	record      bigint,
	byte_offset bigint,
	error       text        NOT NULL,
	raw         text,
	rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ferry.pipelines (
	pipeline  text        PRIMARY KEY,
	anchor    timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ferry.pipelines IS 'ferry: per pipeline, the start of a replication without backfill';
ALTER TABLE ferry.rejects ADD COLUMN IF NOT EXISTS message_id text;
COMMENT ON COLUMN ferry.rejects.message_id IS 'SQS message id, for a message that is not a notification (key is then the queue URL)';
CREATE INDEX IF NOT EXISTS rejects_file ON ferry.rejects (pipeline, key, etag);
COMMENT ON COLUMN ferry.files.loaded IS 'records committed into the target (NULL: started by a ferry that did not count)';
COMMENT ON COLUMN ferry.files.rejected IS 'records committed as rejected, in ferry.rejects or the rejects file (NULL: not counted)';
COMMENT ON TABLE ferry.rejects IS 'ferry: records not loaded under --on-error skip-record (raw cut at 4 KiB)';
` + rescuedSQL + leaseSQL

// New opens the store in DefaultSchema; see Schema.Open.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	return DefaultSchema.Open(ctx, pool)
}

// Open creates the state schema, its tables and view if needed (serialised
// with an advisory lock, so concurrent processes do not race) and returns
// the store. A schema that exists is not created again, so the role only
// needs CREATE on the database when it does not. The pool is the caller's;
// Close does not close it.
func (sc Schema) Open(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	name := sc.Name()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after commit it is a no-op
	q := sc.on(tx)
	if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ferry.schema'))`); err != nil {
		return nil, Classify(fmt.Errorf("state: lock: %w", err))
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&exists); err != nil {
		return nil, Classify(fmt.Errorf("state: schema %s: %w", name, err))
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, Classify(fmt.Errorf("state: create schema %s (the role needs CREATE on the database, or create the schema beforehand): %w", name, err))
		}
	}
	if _, err := q.Exec(ctx, schemaSQL+changeSQL+afterLoadSQL); err != nil {
		return nil, Classify(fmt.Errorf("state: create %s.files: %w", name, err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, Classify(fmt.Errorf("state: create %s.files: %w", name, err))
	}
	return &Store{pool: pool, schema: sc}, nil
}

// Schema returns the store's schema.
func (s *Store) Schema() Schema { return s.schema }

// Lookup implements state.Store with one query per page.
func (s *Store) Lookup(ctx context.Context, pipeline string, objs []pusher.Object) (map[string]state.Progress, error) {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	rows, err := s.db().Query(ctx, `SELECT key, etag, status, rows, "offset", attempts, coalesce(error, ''),
			coalesce(loaded, -1), coalesce(rejected, -1)
		FROM ferry.files WHERE pipeline = $1 AND key = ANY($2)`, pipeline, keys)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: lookup: %w", err))
	}
	defer rows.Close()
	out := make(map[string]state.Progress)
	for rows.Next() {
		var key, etag string
		var p state.Progress
		if err := rows.Scan(&key, &etag, &p.Status, &p.Pos.Records, &p.Pos.Offset, &p.Attempts, &p.Error, &p.Loaded, &p.Rejected); err != nil {
			return nil, Classify(fmt.Errorf("state: lookup: %w", err))
		}
		out[state.ID(pusher.Object{Key: key, ETag: etag})] = p
	}
	if err := rows.Err(); err != nil {
		return nil, Classify(fmt.Errorf("state: lookup: %w", err))
	}
	return out, nil
}

// startSet is what starting a file that has a row does: a done file stays
// as it is; a replaced or removed one (a version named again) starts
// anew with one attempt; another is loading from now, and a failed one
// counts an attempt. A loading one (a resume after a transient failure, a
// stop or a crash) counts none: only a data error moves a file towards
// quarantine.
const startSet = goneStart + `
			attempts = CASE WHEN f.status IN ('replaced', 'removed') THEN 1 ELSE f.attempts + CASE WHEN f.status = 'failed' THEN 1 ELSE 0 END END,
			status = CASE WHEN f.status = 'done' THEN 'done' ELSE 'loading' END,
			attempted_at = CASE WHEN f.status = 'done' THEN f.attempted_at ELSE now() END,
			last_modified = coalesce(EXCLUDED.last_modified, f.last_modified),
			updated_at = CASE WHEN f.status = 'done' THEN f.updated_at ELSE now() END`

// Start implements state.Store.
func (s *Store) Start(ctx context.Context, pipeline string, obj pusher.Object) (state.Progress, error) {
	var p state.Progress
	err := s.db().QueryRow(ctx, `INSERT INTO ferry.files AS f (pipeline, key, etag, size, status, attempts, last_modified, attempted_at)
		VALUES ($1, $2, $3, $4, 'loading', 1, $5, now())
		ON CONFLICT (pipeline, key, etag) DO UPDATE SET `+startSet+`
		RETURNING status, rows, "offset", attempts, coalesce(error, ''), coalesce(loaded, -1), coalesce(rejected, -1)`,
		pipeline, obj.Key, obj.ETag, obj.Size, nullTime(obj.LastModified)).Scan(&p.Status, &p.Pos.Records, &p.Pos.Offset, &p.Attempts, &p.Error, &p.Loaded, &p.Rejected)
	if err != nil {
		return p, Classify(fmt.Errorf("state: start %q: %w", obj.Key, err))
	}
	return p, nil
}

// StartGroup implements state.GroupStarter with one statement.
func (s *Store) StartGroup(ctx context.Context, pipeline string, objs []pusher.Object) ([]state.Progress, error) {
	keys, etags, sizes := make([]string, len(objs)), make([]string, len(objs)), make([]int64, len(objs))
	modified := make([]*time.Time, len(objs))
	at := make(map[[2]string]int, len(objs))
	for i, o := range objs {
		keys[i], etags[i], sizes[i], modified[i] = o.Key, o.ETag, o.Size, nullTime(o.LastModified)
		at[[2]string{o.Key, o.ETag}] = i
	}
	rows, err := s.db().Query(ctx, `INSERT INTO ferry.files AS f (pipeline, key, etag, size, status, attempts, last_modified, attempted_at)
		SELECT $1, o.key, o.etag, o.size, 'loading', 1, o.modified, now()
		FROM unnest($2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) AS o(key, etag, size, modified)
		ON CONFLICT (pipeline, key, etag) DO UPDATE SET `+startSet+`
		RETURNING key, etag, status, rows, "offset", attempts, coalesce(error, ''), coalesce(loaded, -1), coalesce(rejected, -1)`,
		pipeline, keys, etags, sizes, modified)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: start %d files: %w", len(objs), err))
	}
	out := make([]state.Progress, len(objs))
	seen := 0
	var k, e string
	var p state.Progress
	_, err = pgx.ForEachRow(rows, []any{&k, &e, &p.Status, &p.Pos.Records, &p.Pos.Offset, &p.Attempts, &p.Error, &p.Loaded, &p.Rejected}, func() error {
		i, ok := at[[2]string{k, e}]
		if !ok {
			return fmt.Errorf("unexpected row for %q", k)
		}
		out[i] = p
		seen++
		return nil
	})
	if err == nil && seen != len(objs) {
		err = fmt.Errorf("%d rows for %d files", seen, len(objs))
	}
	if err != nil {
		return nil, Classify(fmt.Errorf("state: start %d files: %w", len(objs), err))
	}
	return out, nil
}

// Advance implements state.Store outside a transaction: the target has
// written the chunk.
func (s *Store) Advance(ctx context.Context, pipeline string, c *pusher.Chunk) error {
	return s.advanceRescued(ctx, pipeline, c)
}

// Advance moves the file of c from c.Start to c.End (done when c.Last),
// using q: pass the transaction that copies the chunk's rows. The chunk's
// records count as loaded, but for c.Rejects (state.Counts); a target that
// calls it before writing, and then rejects records, moves those with
// Count in the same transaction.
func (sc Schema) Advance(ctx context.Context, q Querier, pipeline string, c *pusher.Chunk) error {
	loaded, rejected := state.Counts(c)
	return sc.advance(ctx, q, pipeline, c, loaded, rejected)
}

// Count adds to the loaded and rejected records of file (either may be
// negative), using q: the transaction that wrote them.
func (sc Schema) Count(ctx context.Context, q Querier, pipeline string, file pusher.Object, loaded, rejected int64) error {
	if _, err := sc.on(q).Exec(ctx, `UPDATE ferry.files SET loaded = loaded + $4, rejected = rejected + $5
		WHERE pipeline = $1 AND key = $2 AND etag = $3`, pipeline, file.Key, file.ETag, loaded, rejected); err != nil {
		return Classify(fmt.Errorf("state: count records of %q: %w", file.Key, err))
	}
	return nil
}

func (sc Schema) advance(ctx context.Context, q Querier, pipeline string, c *pusher.Chunk, loaded, rejected int64) error {
	status := state.Loading
	if c.Last {
		status = state.Done
	}
	tag, err := sc.on(q).Exec(ctx, `UPDATE ferry.files SET rows = $5, "offset" = $6, status = $7, error = NULL, updated_at = now(),
			loaded = loaded + $8, rejected = rejected + $9, `+afterLoadSet("$7::text", "$10::text")+`
		WHERE pipeline = $1 AND key = $2 AND etag = $3 AND rows = $4 AND status = 'loading'`,
		pipeline, c.File.Key, c.File.ETag, c.Start.Records, c.End.Records, c.End.Offset, string(status), loaded, rejected, c.AfterLoad)
	if err != nil {
		return Classify(fmt.Errorf("state: advance %q: %w", c.File.Key, err))
	}
	if tag.RowsAffected() != 1 {
		return Classify(fmt.Errorf("state: advance %q to record %d: %w", c.File.Key, c.End.Records, ErrConflict))
	}
	return nil
}

// AdvanceGroup advances the files of cs (one chunk of each) with q in one
// statement, as Advance does each. A file whose progress is not where its
// chunk starts (another process moved it) fails with ErrConflict and the
// index of its chunk; other errors come with -1.
func (sc Schema) AdvanceGroup(ctx context.Context, q Querier, pipeline string, cs []*pusher.Chunk) (int, error) {
	if len(cs) == 1 {
		if err := sc.Advance(ctx, q, pipeline, cs[0]); err != nil {
			return 0, err
		}
		return -1, nil
	}
	keys, etags, statuses := make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs))
	starts, ends, offsets := make([]int64, len(cs)), make([]int64, len(cs)), make([]int64, len(cs))
	loaded, rejected := make([]int64, len(cs)), make([]int64, len(cs))
	actions := make([]string, len(cs))
	for i, c := range cs {
		keys[i], etags[i], starts[i], ends[i], offsets[i] = c.File.Key, c.File.ETag, c.Start.Records, c.End.Records, c.End.Offset
		actions[i] = c.AfterLoad
		loaded[i], rejected[i] = state.Counts(c)
		statuses[i] = string(state.Loading)
		if c.Last {
			statuses[i] = string(state.Done)
		}
	}
	rows, err := sc.on(q).Query(ctx, `UPDATE ferry.files AS f SET rows = u.end_rows, "offset" = u.end_offset, status = u.status, error = NULL, updated_at = now(),
			loaded = f.loaded + u.loaded, rejected = f.rejected + u.rejected, `+afterLoadSet("u.status", "u.action")+`
		FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::text[])
			AS u(key, etag, start_rows, end_rows, end_offset, status, loaded, rejected, action)
		WHERE f.pipeline = $1 AND f.key = u.key AND f.etag = u.etag AND f.rows = u.start_rows AND f.status = 'loading'
		RETURNING f.key, f.etag`,
		pipeline, keys, etags, starts, ends, offsets, statuses, loaded, rejected, actions)
	if err != nil {
		return -1, Classify(fmt.Errorf("state: advance %d files: %w", len(cs), err))
	}
	moved := make(map[[2]string]bool, len(cs))
	var k, e string
	_, err = pgx.ForEachRow(rows, []any{&k, &e}, func() error {
		moved[[2]string{k, e}] = true
		return nil
	})
	if err != nil {
		return -1, Classify(fmt.Errorf("state: advance %d files: %w", len(cs), err))
	}
	for i, c := range cs {
		if !moved[[2]string{c.File.Key, c.File.ETag}] {
			return i, Classify(fmt.Errorf("state: advance %q to record %d: %w", c.File.Key, c.End.Records, ErrConflict))
		}
	}
	return -1, nil
}

// Fail implements state.Store.
func (s *Store) Fail(ctx context.Context, pipeline string, obj pusher.Object, cause error) error {
	_, err := s.db().Exec(ctx, `UPDATE ferry.files SET status = 'failed', error = $4, updated_at = now()
		WHERE pipeline = $1 AND key = $2 AND etag = $3 AND status <> 'done'`,
		pipeline, obj.Key, obj.ETag, cause.Error())
	if err != nil {
		return Classify(fmt.Errorf("state: mark %q failed: %w", obj.Key, err))
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Close implements state.Store: it frees the claims; the pool stays open.
func (s *Store) Close() error {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	s.dropClaimConn()
	return nil
}
