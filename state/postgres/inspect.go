package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/state"
)

// Pipelines implements state.Inspector. The names come from an index skip
// scan of ferry.files and ferry.rejects (one lookup per pipeline, not per
// row) and from ferry.pipelines.
func (s *Store) Pipelines(ctx context.Context) ([]string, error) {
	rows, err := s.db().Query(ctx, `WITH RECURSIVE
		f AS (SELECT min(pipeline) AS p FROM ferry.files
			UNION ALL SELECT (SELECT min(pipeline) FROM ferry.files WHERE pipeline > f.p) FROM f WHERE f.p IS NOT NULL),
		r AS (SELECT min(pipeline) AS p FROM ferry.rejects
			UNION ALL SELECT (SELECT min(pipeline) FROM ferry.rejects WHERE pipeline > r.p) FROM r WHERE r.p IS NOT NULL)
		SELECT p FROM f WHERE p IS NOT NULL
		UNION SELECT p FROM r WHERE p IS NOT NULL
		UNION SELECT pipeline FROM ferry.pipelines`)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list pipelines: %w", err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list pipelines: %w", err))
	}
	slices.Sort(names)
	return names, nil
}

// Summary implements state.Inspector.
func (s *Store) Summary(ctx context.Context, pipeline string, maxAttempts int) (state.Summary, error) {
	sum := state.Summary{Pipeline: pipeline}
	var first, last *time.Time
	err := s.db().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'done'),
			count(*) FILTER (WHERE status = 'loading'),
			count(*) FILTER (WHERE status = 'failed' AND NOT ($2 > 0 AND attempts >= $2)),
			count(*) FILTER (WHERE status = 'failed' AND $2 > 0 AND attempts >= $2),
			coalesce(sum(coalesce(loaded, rows)), 0)::bigint, coalesce(sum(rejected), 0)::bigint,
			coalesce(sum(size) FILTER (WHERE status = 'done'), 0)::bigint,
			min(updated_at) FILTER (WHERE status = 'done'), max(updated_at) FILTER (WHERE status = 'done'),
			coalesce(sum(rescued), 0)::bigint,
			count(*) FILTER (WHERE status = 'done' AND after_load = 'pending'),
			count(*) FILTER (WHERE status = 'done' AND after_load = 'failed')
		FROM ferry.files WHERE pipeline = $1`, pipeline, maxAttempts).Scan(
		&sum.Done, &sum.Loading, &sum.Failed, &sum.Quarantined, &sum.Loaded, &sum.Rejected, &sum.Bytes, &first, &last,
		&sum.Rescued, &sum.AfterLoadPending, &sum.AfterLoadFailed)
	if err != nil {
		return sum, Classify(fmt.Errorf("state: summary of %q: %w", pipeline, err))
	}
	sum.FirstLoad, sum.LastLoad = deref(first), deref(last)
	oldest, err := s.files(ctx, state.FileQuery{Pipeline: pipeline, Status: state.Loading, Limit: 1}, `coalesce(attempted_at, updated_at), key, etag`)
	if err != nil {
		return sum, err
	}
	failed, err := s.files(ctx, state.FileQuery{Pipeline: pipeline, Status: state.Failed, Limit: 1}, `updated_at DESC, key, etag`)
	if err != nil {
		return sum, err
	}
	if len(oldest) > 0 {
		sum.OldestLoading = &oldest[0]
	}
	if len(failed) > 0 {
		sum.LastError = &failed[0]
	}
	if sum.Leases, err = s.leases(ctx, pipeline); err != nil {
		return sum, err
	}
	return sum, nil
}

// fileColumns are the columns scanned by scanFile, of the table alias f.
const fileColumns = `f.pipeline, f.key, f.etag, f.size, f.status, f.attempts, f.rows, coalesce(f.loaded, -1), coalesce(f.rejected, -1),
	coalesce(f.error, ''), f.last_modified, f.started_at, f.attempted_at, f.updated_at, coalesce(f.retries, '[]'::jsonb),
	coalesce(f.rescued, -1), coalesce(f.after_load, ''), coalesce(f.after_load_action, ''), coalesce(f.after_load_attempts, 0),
	coalesce(f.after_load_error, ''), f.after_load_at`

// fileWhere selects the files of a FileQuery, with the arguments of
// fileArgs.
const fileWhere = `($1 = '' OR f.pipeline = $1) AND ($2 = '' OR f.status = $2) AND f.attempts >= $3
	AND starts_with(f.key, $4) AND (cardinality($5::text[]) = 0 OR f.key = ANY($5))`

func fileArgs(q state.FileQuery) []any {
	keys := q.Keys
	if keys == nil {
		keys = []string{}
	}
	return []any{q.Pipeline, string(q.Status), q.MinAttempts, q.Prefix, keys}
}

func scanFile(row pgx.CollectableRow) (state.FileInfo, error) {
	var fi state.FileInfo
	var modified, started, attempted, afterAt *time.Time
	err := row.Scan(&fi.Pipeline, &fi.Key, &fi.ETag, &fi.Size, &fi.Status, &fi.Attempts, &fi.Records, &fi.Loaded, &fi.Rejected,
		&fi.Error, &modified, &started, &attempted, &fi.Updated, &fi.Retries,
		&fi.Rescued, &fi.AfterLoad.Status, &fi.AfterLoad.Action, &fi.AfterLoad.Attempts, &fi.AfterLoad.Error, &afterAt)
	fi.Modified, fi.Started, fi.Attempted, fi.AfterLoad.At = deref(modified), deref(started), deref(attempted), deref(afterAt)
	return fi, err
}

// Files implements state.Inspector.
func (s *Store) Files(ctx context.Context, q state.FileQuery) ([]state.FileInfo, error) {
	return s.files(ctx, q, `f.updated_at DESC, f.key, f.etag`)
}

func (s *Store) files(ctx context.Context, q state.FileQuery, order string) ([]state.FileInfo, error) {
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	rows, err := s.db().Query(ctx, `SELECT `+fileColumns+` FROM ferry.files AS f WHERE `+fileWhere+` ORDER BY `+order+` LIMIT $6`,
		append(fileArgs(q), limit)...)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list files: %w", err))
	}
	out, err := pgx.CollectRows(rows, scanFile)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list files: %w", err))
	}
	return out, nil
}

// Retry implements state.Inspector in one statement.
func (s *Store) Retry(ctx context.Context, pipeline string, keys []string) ([]state.FileInfo, error) {
	if keys == nil {
		keys = []string{}
	}
	rows, err := s.db().Query(ctx, `WITH prev AS (
			SELECT `+fileColumns+` FROM ferry.files AS f
			WHERE f.pipeline = $1 AND f.status = 'failed' AND (cardinality($2::text[]) = 0 OR f.key = ANY($2))
			FOR UPDATE)
		UPDATE ferry.files AS u SET attempts = 0, updated_at = now(),
			retries = coalesce(u.retries, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
				'at', now(), 'attempts', u.attempts, 'error', coalesce(u.error, '')))
		FROM prev WHERE u.pipeline = prev.pipeline AND u.key = prev.key AND u.etag = prev.etag
		RETURNING prev.*`, pipeline, keys)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: retry: %w", err))
	}
	out, err := pgx.CollectRows(rows, scanFile)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: retry: %w", err))
	}
	slices.SortFunc(out, func(a, b state.FileInfo) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ETag, b.ETag))
	})
	return out, nil
}

// Rejects implements state.Inspector.
func (s *Store) Rejects(ctx context.Context, q state.RejectQuery) ([]state.Reject, error) {
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	rows, err := s.db().Query(ctx, `SELECT pipeline, key, etag, coalesce(record, 0), coalesce(byte_offset, -1), coalesce(message_id, ''),
			error, coalesce(raw, ''), rejected_at
		FROM ferry.rejects WHERE ($1 = '' OR pipeline = $1) AND ($2 = '' OR key = $2)
		ORDER BY id DESC LIMIT $3`, q.Pipeline, q.Key, limit)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list rejects: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Reject, error) {
		var r state.Reject
		err := row.Scan(&r.Pipeline, &r.Key, &r.ETag, &r.Record, &r.Offset, &r.MessageID, &r.Error, &r.Raw, &r.At)
		return r, err
	})
	if err != nil {
		return nil, Classify(fmt.Errorf("state: list rejects: %w", err))
	}
	return out, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
