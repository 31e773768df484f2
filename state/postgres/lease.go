package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/state"
)

// leaseSQL creates the lease tables (ferry replicate --lease-ranges) in a
// state schema made by a ferry without them (only then: the comments take
// a lock). New tables lock nothing that loads use.
const leaseSQL = `
DO $$
BEGIN
	IF to_regclass('ferry.leases') IS NULL THEN
		CREATE TABLE ferry.leases (
			pipeline   text        NOT NULL,
			range      integer     NOT NULL,
			owner      text,
			expires_at timestamptz NOT NULL DEFAULT '-infinity',
			PRIMARY KEY (pipeline, range)
		);
		COMMENT ON TABLE ferry.leases IS 'ferry replicate --lease-ranges: the process (owner) that loads the keys of each hash range of a pipeline, until expires_at';
		COMMENT ON COLUMN ferry.leases.range IS 'the top bits of the FNV-1a 64-bit hash of a key: 0 to --lease-ranges - 1';
	END IF;
	IF to_regclass('ferry.lease_owners') IS NULL THEN
		CREATE TABLE ferry.lease_owners (
			pipeline   text        NOT NULL,
			owner      text        NOT NULL,
			ranges     integer     NOT NULL,
			expires_at timestamptz NOT NULL,
			joined_at  timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (pipeline, owner)
		);
		COMMENT ON TABLE ferry.lease_owners IS 'ferry replicate --lease-ranges: the processes of a pipeline (host/pid/random), alive until expires_at unless they beat again';
	END IF;
END $$;
`

var _ state.Leaser = (*Store)(nil)

// micros is d for the statements' "$n::bigint * interval '1 microsecond'".
func micros(d time.Duration) int64 { return d.Microseconds() }

// LeaseJoin implements state.Leaser in one transaction, serialised with
// the other joins of the pipeline by an advisory lock.
func (s *Store) LeaseJoin(ctx context.Context, pipeline, owner string, ranges int, expiry time.Duration) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.schema.on(tx)
		if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ferry.leases' || $1, 0))`, cleanText(pipeline)); err != nil {
			return err
		}
		var other int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM ferry.lease_owners
			WHERE pipeline = $1 AND owner <> $2 AND ranges <> $3 AND expires_at > now()`, pipeline, owner, ranges).Scan(&other); err != nil {
			return err
		}
		if other > 0 {
			return fmt.Errorf("%w (%d here)", state.ErrLeaseRanges, ranges)
		}
		_, err := q.Exec(ctx, `WITH me AS (
				INSERT INTO ferry.lease_owners (pipeline, owner, ranges, expires_at)
				VALUES ($1, $2, $3, now() + $4::bigint * interval '1 microsecond')
				ON CONFLICT (pipeline, owner) DO UPDATE SET ranges = EXCLUDED.ranges, expires_at = EXCLUDED.expires_at),
			gone AS (DELETE FROM ferry.leases WHERE pipeline = $1 AND range >= $3)
			INSERT INTO ferry.leases (pipeline, range) SELECT $1, r FROM generate_series(0, $3 - 1) AS r
			ON CONFLICT (pipeline, range) DO NOTHING`, pipeline, owner, ranges, micros(expiry))
		return err
	})
	if err != nil {
		return Classify(fmt.Errorf("state: join the leases of %q: %w", pipeline, err))
	}
	return nil
}

// LeaseBeat implements state.Leaser with one statement. Owners dead for
// ten expiries are forgotten on the way.
func (s *Store) LeaseBeat(ctx context.Context, pipeline, owner string, ranges int, expiry time.Duration) (state.Heartbeat, error) {
	var hb state.Heartbeat
	var other int
	var held []int32
	err := s.db().QueryRow(ctx, `WITH bad AS (
			SELECT count(*) AS n FROM ferry.lease_owners
			WHERE pipeline = $1 AND owner <> $2 AND ranges <> $3 AND expires_at > now()),
		me AS (
			INSERT INTO ferry.lease_owners (pipeline, owner, ranges, expires_at)
			SELECT $1, $2, $3, now() + $4::bigint * interval '1 microsecond' FROM bad WHERE bad.n = 0
			ON CONFLICT (pipeline, owner) DO UPDATE SET ranges = EXCLUDED.ranges, expires_at = EXCLUDED.expires_at),
		held AS (
			UPDATE ferry.leases SET expires_at = now() + $4::bigint * interval '1 microsecond'
			WHERE pipeline = $1 AND owner = $2 AND (SELECT n FROM bad) = 0
			RETURNING range),
		gone AS (
			DELETE FROM ferry.lease_owners
			WHERE pipeline = $1 AND owner <> $2 AND expires_at < now() - 10 * $4::bigint * interval '1 microsecond')
		SELECT (SELECT n FROM bad),
			live.n + 1, live.rank,
			coalesce((SELECT array_agg(range ORDER BY range) FROM held), '{}')
		FROM (SELECT count(*) AS n, count(*) FILTER (WHERE owner < $2 COLLATE "C") AS rank
			FROM ferry.lease_owners WHERE pipeline = $1 AND owner <> $2 AND expires_at > now()) AS live`,
		pipeline, owner, ranges, micros(expiry)).Scan(&other, &hb.Owners, &hb.Rank, &held)
	if err == nil && other > 0 {
		err = fmt.Errorf("%w (%d here)", state.ErrLeaseRanges, ranges)
	}
	if err != nil {
		return hb, Classify(fmt.Errorf("state: lease heartbeat of %q: %w", pipeline, err))
	}
	hb.Held = ints(held)
	return hb, nil
}

// LeaseAcquire implements state.Leaser with one statement: the free rows
// are locked with SKIP LOCKED, so owners acquiring at once take different
// ranges, and a row another owner took (or extended) meanwhile is checked
// again and left.
func (s *Store) LeaseAcquire(ctx context.Context, pipeline, owner string, n int, expiry time.Duration) ([]int, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := s.db().Query(ctx, `UPDATE ferry.leases AS l SET owner = $2, expires_at = now() + $4::bigint * interval '1 microsecond'
		FROM (SELECT range FROM ferry.leases WHERE pipeline = $1 AND expires_at <= now()
			ORDER BY range LIMIT $3 FOR UPDATE SKIP LOCKED) AS f
		WHERE l.pipeline = $1 AND l.range = f.range
		RETURNING l.range`, pipeline, owner, n, micros(expiry))
	if err != nil {
		return nil, Classify(fmt.Errorf("state: acquire leases of %q: %w", pipeline, err))
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, Classify(fmt.Errorf("state: acquire leases of %q: %w", pipeline, err))
	}
	return ints(got), nil
}

// LeaseRelease implements state.Leaser.
func (s *Store) LeaseRelease(ctx context.Context, pipeline, owner string, ranges []int) error {
	if len(ranges) == 0 {
		return nil
	}
	if _, err := s.db().Exec(ctx, `UPDATE ferry.leases SET owner = NULL, expires_at = '-infinity'
		WHERE pipeline = $1 AND owner = $2 AND range = ANY($3)`, pipeline, owner, ranges); err != nil {
		return Classify(fmt.Errorf("state: release leases of %q: %w", pipeline, err))
	}
	return nil
}

// LeaseLeave implements state.Leaser with one statement.
func (s *Store) LeaseLeave(ctx context.Context, pipeline, owner string) error {
	if _, err := s.db().Exec(ctx, `WITH freed AS (
			UPDATE ferry.leases SET owner = NULL, expires_at = '-infinity' WHERE pipeline = $1 AND owner = $2)
		DELETE FROM ferry.lease_owners WHERE pipeline = $1 AND owner = $2`, pipeline, owner); err != nil {
		return Classify(fmt.Errorf("state: leave the leases of %q: %w", pipeline, err))
	}
	return nil
}

// leases returns the pipeline's leases (ferry status), nil when it has
// none or the schema has no lease tables (an older ferry's, read by
// Inspect).
func (s *Store) leases(ctx context.Context, pipeline string) (*state.Leases, error) {
	var ok bool
	if err := s.db().QueryRow(ctx, `SELECT to_regclass('ferry.leases') IS NOT NULL AND to_regclass('ferry.lease_owners') IS NOT NULL`).Scan(&ok); err != nil || !ok {
		return nil, Classify(err)
	}
	var l state.Leases
	if err := s.db().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE expires_at <= now() OR owner IS NULL)
		FROM ferry.leases WHERE pipeline = $1`, pipeline).Scan(&l.Ranges, &l.Free); err != nil {
		return nil, Classify(fmt.Errorf("state: leases of %q: %w", pipeline, err))
	}
	if l.Ranges == 0 {
		return nil, nil
	}
	rows, err := s.db().Query(ctx, `SELECT o.owner,
			(SELECT count(*) FROM ferry.leases AS l WHERE l.pipeline = o.pipeline AND l.owner = o.owner AND l.expires_at > now())::int,
			o.expires_at, o.expires_at > now()
		FROM ferry.lease_owners AS o WHERE o.pipeline = $1 ORDER BY o.joined_at, o.owner`, pipeline)
	if err != nil {
		return nil, Classify(fmt.Errorf("state: leases of %q: %w", pipeline, err))
	}
	var o state.LeaseOwner
	if _, err := pgx.ForEachRow(rows, []any{&o.Owner, &o.Ranges, &o.Expires, &o.Alive}, func() error {
		l.Owners = append(l.Owners, o)
		return nil
	}); err != nil {
		return nil, Classify(fmt.Errorf("state: leases of %q: %w", pipeline, err))
	}
	return &l, nil
}

func ints(v []int32) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}
