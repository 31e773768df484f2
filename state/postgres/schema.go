package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema names the PostgreSQL schema that holds the state tables (files,
// rejects, pipelines) and the load_history view. The zero value is
// DefaultSchema. The statements are written against "ferry." and run with
// that prefix replaced by the quoted name.
type Schema string

// DefaultSchema is the state schema unless --state-schema names another.
const DefaultSchema Schema = "ferry"

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate checks that the name is a plain identifier: letters, digits and
// underscores, not starting with a digit, at most 63 bytes. (It is quoted
// where used, so case matters: MyState is not mystate.)
func (sc Schema) Validate() error {
	if sc == "" || schemaName.MatchString(string(sc)) {
		return nil
	}
	return fmt.Errorf("state schema %q: expected letters, digits and _ (not starting with a digit, at most 63 bytes)", string(sc))
}

// Name returns the schema's name.
func (sc Schema) Name() string {
	if sc == "" {
		return string(DefaultSchema)
	}
	return string(sc)
}

// on returns q running the statements in this schema.
func (sc Schema) on(q Querier) Querier {
	if sc == "" || sc == DefaultSchema {
		return q
	}
	return inSchema{q: q, prefix: pgx.Identifier{string(sc)}.Sanitize() + "."}
}

// inSchema rewrites the "ferry." of each statement to another schema. The
// names Validate accepts hold no quote, so the rewrite is also safe inside
// the string literals that name a table ('ferry.files'::regclass).
type inSchema struct {
	q      Querier
	prefix string
}

func (r inSchema) sql(s string) string { return strings.ReplaceAll(s, "ferry.", r.prefix) }

func (r inSchema) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return r.q.Exec(ctx, r.sql(sql), args...)
}

func (r inSchema) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return r.q.Query(ctx, r.sql(sql), args...)
}

func (r inSchema) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return r.q.QueryRow(ctx, r.sql(sql), args...)
}

// ErrNoState: the schema holds no ferry state (no files table).
var ErrNoState = errors.New("no ferry state")

// Inspect returns the store over the state already in the schema, for
// reading it: unlike Open it creates nothing, and fails with ErrNoState
// when there is no state. Tables left by an older ferry are upgraded as
// Open does.
func (sc Schema) Inspect(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	prefix := pgx.Identifier{sc.Name()}.Sanitize() + "."
	var files, current bool
	err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
			to_regclass($2) IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) AND attname = 'after_load' AND NOT attisdropped)`,
		prefix+"files", prefix+"load_history").Scan(&files, &current)
	switch {
	case err != nil:
		return nil, Classify(fmt.Errorf("state: %w", err))
	case !files:
		return nil, fmt.Errorf("%w in schema %s", ErrNoState, sc.Name())
	case !current:
		return sc.Open(ctx, pool)
	}
	return &Store{pool: pool, schema: sc}, nil
}
