package postgres

import (
	"context"
	"fmt"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// changeSQL upgrades ferry.files for the statuses of versions whose rows
// are gone (replaced, removed). The CHECK is replaced only when it lacks
// them, so its exclusive lock is not taken at every start; NOT VALID, as
// it accepts every row the old one did, so no scan runs under the lock.
const changeSQL = `
DO $$
DECLARE
	c name;
BEGIN
	SELECT conname INTO c FROM pg_constraint
	WHERE conrelid = 'ferry.files'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%'
		AND pg_get_constraintdef(oid) NOT LIKE '%removed%';
	IF c IS NOT NULL THEN
		EXECUTE format('ALTER TABLE ferry.files DROP CONSTRAINT %I', c);
		ALTER TABLE ferry.files ADD CONSTRAINT files_status_check
			CHECK (status IN ('loading', 'done', 'failed', 'replaced', 'removed')) NOT VALID;
	END IF;
END $$;
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.files'::regclass AND attname = 'tail' AND NOT attisdropped) THEN
		ALTER TABLE ferry.files ADD COLUMN IF NOT EXISTS tail jsonb;
	END IF;
END $$;
COMMENT ON COLUMN ferry.files.tail IS 'a done version''s last bytes: {"offset", "len", "sha256"} of [offset-len, offset) (--on-change resume)';
COMMENT ON COLUMN ferry.files.status IS 'loading, done, failed; replaced (a newer version of the key deleted its rows: --on-change replace) or removed (--delete-on-remove)';
`

// goneStart is what starting a replaced or removed version resets: it
// loads again from its start (the position was reset when it was
// marked), its counts and attempts anew.
const goneStart = `
			loaded = CASE WHEN f.status IN ('replaced', 'removed') THEN 0 ELSE f.loaded END,
			rejected = CASE WHEN f.status IN ('replaced', 'removed') THEN 0 ELSE f.rejected END,`

var _ state.Replacer = (*Store)(nil)

// Replace implements state.Replacer outside a transaction (the state is
// not in the target's database).
func (s *Store) Replace(ctx context.Context, pipeline string, obj pusher.Object) error {
	return s.schema.Replace(ctx, s.pool, pipeline, []pusher.Object{obj})
}

// Replace marks, with q (the transaction that deletes the key's rows and
// writes the first chunk of each of objs), every other version of each
// object's key replaced: its position back at the start, so that a load
// of it still under way fails its next Advance (ErrConflict) instead of
// adding rows beside the new version's. The rows it updates stay locked
// until q commits: a concurrent chunk of an older version commits first
// (and its rows are deleted after) or fails.
func (sc Schema) Replace(ctx context.Context, q Querier, pipeline string, objs []pusher.Object) error {
	if len(objs) == 0 {
		return nil
	}
	keys, etags := make([]string, len(objs)), make([]string, len(objs))
	for i, o := range objs {
		keys[i], etags[i] = o.Key, o.ETag
	}
	_, err := sc.on(q).Exec(ctx, `UPDATE ferry.files AS f SET status = 'replaced', rows = 0, "offset" = 0, error = NULL, tail = NULL, updated_at = now()
		FROM unnest($2::text[], $3::text[]) AS o(key, etag)
		WHERE f.pipeline = $1 AND f.key = o.key AND f.etag <> o.etag AND f.status NOT IN ('replaced', 'removed')
			AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS n(key, etag) WHERE n.key = f.key AND n.etag = f.etag)`,
		pipeline, keys, etags)
	if err != nil {
		return Classify(fmt.Errorf("state: mark the older versions of %q replaced: %w", objs[0].Key, err))
	}
	return nil
}

var _ state.Resumer = (*Store)(nil)

// tailJSON is state.Tail as the tail column holds it.
type tailJSON struct {
	Offset int64  `json:"offset"`
	Len    int    `json:"len"`
	Sum    string `json:"sha256"`
}

// SetTail implements state.Resumer.
func (s *Store) SetTail(ctx context.Context, pipeline string, obj pusher.Object, t state.Tail) error {
	_, err := s.db().Exec(ctx, `UPDATE ferry.files SET tail = $4 WHERE pipeline = $1 AND key = $2 AND etag = $3`,
		pipeline, obj.Key, obj.ETag, tailJSON{t.Offset, t.Len, t.Sum})
	if err != nil {
		return Classify(fmt.Errorf("state: checksum of %q: %w", obj.Key, err))
	}
	return nil
}

// Tail implements state.Resumer.
func (s *Store) Tail(ctx context.Context, pipeline string, obj pusher.Object) (state.Tail, error) {
	var t *tailJSON
	err := s.db().QueryRow(ctx, `SELECT (SELECT tail FROM ferry.files WHERE pipeline = $1 AND key = $2 AND etag = $3)`,
		pipeline, obj.Key, obj.ETag).Scan(&t)
	if err != nil || t == nil {
		return state.Tail{}, Classify(wrapErr("state: checksum of "+fmt.Sprintf("%q", obj.Key), err))
	}
	return state.Tail{Offset: t.Offset, Len: t.Len, Sum: t.Sum}, nil
}

// StartAt implements state.Resumer.
func (s *Store) StartAt(ctx context.Context, pipeline string, obj pusher.Object, pos pusher.Position) error {
	tag, err := s.db().Exec(ctx, `UPDATE ferry.files SET rows = $4, "offset" = $5, updated_at = now()
		WHERE pipeline = $1 AND key = $2 AND etag = $3 AND status = 'loading' AND rows = 0`,
		pipeline, obj.Key, obj.ETag, pos.Records, pos.Offset)
	if err == nil && tag.RowsAffected() != 1 {
		err = ErrConflict
	}
	if err != nil {
		return Classify(fmt.Errorf("state: start %q at record %d: %w", obj.Key, pos.Records, err))
	}
	return nil
}

// wrapErr wraps err (nil: nil) with what failed.
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

var _ state.Remover = (*Store)(nil)

// Remove implements state.Remover outside a transaction (the state is
// not in the target's database).
func (s *Store) Remove(ctx context.Context, pipeline, key string) error {
	return s.schema.Remove(ctx, s.pool, pipeline, key)
}

// Remove marks, with q (the transaction that deletes the key's rows),
// every version of key removed, its position back at the start: a load of
// one still under way fails its next Advance. The rows stay locked until
// q commits: a chunk of the key committing meanwhile is waited for, and
// its rows deleted after.
func (sc Schema) Remove(ctx context.Context, q Querier, pipeline, key string) error {
	_, err := sc.on(q).Exec(ctx, `UPDATE ferry.files SET status = 'removed', rows = 0, "offset" = 0, error = NULL, tail = NULL, updated_at = now()
		WHERE pipeline = $1 AND key = $2 AND status <> 'removed'`, pipeline, key)
	if err != nil {
		return Classify(fmt.Errorf("state: mark %q removed: %w", key, err))
	}
	return nil
}
