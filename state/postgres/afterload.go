package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// afterLoadSQL adds the --after-load columns to ferry.files (only when
// they are missing: ALTER TABLE takes an exclusive lock), and the rescued
// and after-load columns to ferry.load_history (CREATE OR REPLACE VIEW
// may only add columns at the end).
const afterLoadSQL = `
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.files'::regclass AND attname = 'after_load_at' AND NOT attisdropped) THEN
		ALTER TABLE ferry.files ADD COLUMN IF NOT EXISTS after_load text
				CHECK (after_load IN ('pending', 'done', 'failed', 'skipped')),
			ADD COLUMN IF NOT EXISTS after_load_action text,
			ADD COLUMN IF NOT EXISTS after_load_error text,
			ADD COLUMN IF NOT EXISTS after_load_attempts integer,
			ADD COLUMN IF NOT EXISTS after_load_at timestamptz;
		CREATE INDEX IF NOT EXISTS files_after_load ON ferry.files (pipeline, after_load_at)
			WHERE after_load IN ('pending', 'failed');
		COMMENT ON COLUMN ferry.files.after_load IS '--after-load action of a done file: pending (recorded with its last commit), done, failed (tried again later) or skipped (the object changed or vanished first); NULL: none';
		COMMENT ON COLUMN ferry.files.after_load_action IS 'the --after-load action: delete, move:PREFIX or tag:KEY=VALUE';
		COMMENT ON COLUMN ferry.files.after_load_error IS 'why the last try of the --after-load action failed';
		COMMENT ON COLUMN ferry.files.after_load_attempts IS 'failed tries of the --after-load action';
		COMMENT ON COLUMN ferry.files.after_load_at IS 'when after_load last changed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.load_history'::regclass AND attname = 'after_load' AND NOT attisdropped) THEN
		CREATE OR REPLACE VIEW ferry.load_history AS
		SELECT pipeline, key, etag, status, size AS bytes,
			coalesce(loaded, rows) AS rows, rejected, attempts, error,
			last_modified, started_at, attempted_at,
			CASE WHEN status = 'done' THEN updated_at END AS loaded_at,
			CASE WHEN status = 'done' THEN extract(epoch FROM updated_at - attempted_at)::double precision END AS load_seconds,
			CASE WHEN status = 'done' THEN extract(epoch FROM updated_at - last_modified)::double precision END AS lag_seconds,
			coalesce(jsonb_array_length(retries), 0) AS retries,
			rescued, after_load, after_load_action, after_load_error
		FROM ferry.files;
		COMMENT ON VIEW ferry.load_history IS 'ferry: one row per file version and its load (as COPY_HISTORY); done files are kept for --state-retention';
	END IF;
END $$;
`

var _ state.AfterLoader = (*Store)(nil)

// afterLoadSet is what the advance statements set: a chunk that ends its
// file with an action ($action, not empty) records it pending.
func afterLoadSet(status, action string) string {
	return `after_load = CASE WHEN ` + status + ` = 'done' AND ` + action + ` <> '' THEN 'pending' ELSE after_load END,
			after_load_action = CASE WHEN ` + status + ` = 'done' AND ` + action + ` <> '' THEN ` + action + ` ELSE after_load_action END,
			after_load_error = CASE WHEN ` + status + ` = 'done' AND ` + action + ` <> '' THEN NULL ELSE after_load_error END,
			after_load_attempts = CASE WHEN ` + status + ` = 'done' AND ` + action + ` <> '' THEN 0 ELSE after_load_attempts END,
			after_load_at = CASE WHEN ` + status + ` = 'done' AND ` + action + ` <> '' THEN now() ELSE after_load_at END`
}

// AfterLoads implements state.AfterLoader.
func (s *Store) AfterLoads(ctx context.Context, pipeline string, limit int) ([]state.AfterLoadFile, error) {
	rows, err := s.db().Query(ctx, `SELECT key, etag, size, last_modified, after_load, coalesce(after_load_action, ''),
			coalesce(after_load_attempts, 0), coalesce(after_load_error, ''), coalesce(after_load_at, updated_at)
		FROM ferry.files WHERE pipeline = $1 AND status = 'done' AND after_load IN ('pending', 'failed')
		ORDER BY after_load_at, key, etag LIMIT $2`, pipeline, limit)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list after-load actions: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.AfterLoadFile, error) {
		var f state.AfterLoadFile
		var modified *time.Time
		err := row.Scan(&f.Object.Key, &f.Object.ETag, &f.Object.Size, &modified, &f.AfterLoad.Status, &f.AfterLoad.Action,
			&f.AfterLoad.Attempts, &f.AfterLoad.Error, &f.AfterLoad.At)
		f.Object.LastModified = deref(modified)
		return f, err
	})
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list after-load actions: %w", err))
	}
	return out, nil
}

// AfterLoaded implements state.AfterLoader.
func (s *Store) AfterLoaded(ctx context.Context, pipeline string, obj pusher.Object, status state.AfterLoadStatus, cause error) error {
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	_, err := s.db().Exec(ctx, `UPDATE ferry.files SET after_load = $4, after_load_at = now(),
			after_load_error = CASE WHEN $4 = 'done' THEN NULL WHEN $5 = '' THEN after_load_error ELSE $5 END,
			after_load_attempts = coalesce(after_load_attempts, 0) + CASE WHEN $4 = 'failed' THEN 1 ELSE 0 END
		WHERE pipeline = $1 AND key = $2 AND etag = $3 AND after_load IS NOT NULL`,
		pipeline, obj.Key, obj.ETag, string(status), msg)
	if err != nil {
		return Classify(fmt.Errorf("state: record the after-load action of %q: %w", obj.Key, err))
	}
	return nil
}

// TakenByAfterLoad implements state.AfterLoader.
func (s *Store) TakenByAfterLoad(ctx context.Context, pipeline, key string) (bool, error) {
	var taken bool
	err := s.db().QueryRow(ctx, `SELECT coalesce(bool_and(status = 'done' AND after_load IN ('pending', 'done')
			AND (after_load_action = 'delete' OR after_load_action LIKE 'move:%')), false)
		FROM ferry.files WHERE pipeline = $1 AND key = $2 AND status NOT IN ('replaced', 'removed')`, pipeline, key).Scan(&taken)
	if err != nil {
		return false, Classify(fmt.Errorf("state: after-load action of %q: %w", key, err))
	}
	return taken, nil
}
