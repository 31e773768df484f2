package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/pusher"
)

// rescuedSQL adds ferry.files.rescued to a state schema made by a ferry
// without it (only then: ALTER TABLE takes an exclusive lock).
const rescuedSQL = `
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.files'::regclass AND attname = 'rescued' AND NOT attisdropped) THEN
		ALTER TABLE ferry.files ADD COLUMN rescued bigint;
		ALTER TABLE ferry.files ALTER COLUMN rescued SET DEFAULT 0;
		COMMENT ON COLUMN ferry.files.rescued IS 'records loaded with values kept in the --rescue-column (NULL: started by a ferry that did not count)';
	END IF;
END $$;
`

// Rescued adds n to the records of file loaded with values kept in the
// rescue column, using q: the transaction that wrote them.
func (sc Schema) Rescued(ctx context.Context, q Querier, pipeline string, file pusher.Object, n int64) error {
	if _, err := sc.on(q).Exec(ctx, `UPDATE ferry.files SET rescued = coalesce(rescued, 0) + $4
		WHERE pipeline = $1 AND key = $2 AND etag = $3`, pipeline, file.Key, file.ETag, n); err != nil {
		return Classify(fmt.Errorf("state: count rescued records of %q: %w", file.Key, err))
	}
	return nil
}

// advanceRescued advances c's file outside the target's transaction (the
// target has written the chunk), with its rescued records counted in the
// same transaction.
func (s *Store) advanceRescued(ctx context.Context, pipeline string, c *pusher.Chunk) error {
	if c.Rescued == 0 {
		return s.schema.Advance(ctx, s.pool, pipeline, c)
	}
	return Classify(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.schema.Advance(ctx, tx, pipeline, c); err != nil {
			return err
		}
		return s.schema.Rescued(ctx, tx, pipeline, c.File, int64(c.Rescued))
	}))
}
