package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// recorder is a Querier that keeps the statements it is given.
type recorder struct{ sql []string }

func (r *recorder) Exec(_ context.Context, sql string, _ ...any) (pgconn.CommandTag, error) {
	r.sql = append(r.sql, sql)
	return pgconn.CommandTag{}, nil
}
func (r *recorder) Query(_ context.Context, sql string, _ ...any) (pgx.Rows, error) {
	r.sql = append(r.sql, sql)
	return nil, nil
}
func (r *recorder) QueryRow(_ context.Context, sql string, _ ...any) pgx.Row {
	r.sql = append(r.sql, sql)
	return nil
}

func TestSchemaRewrite(t *testing.T) {
	ctx := context.Background()
	const stmt = `UPDATE ferry.files SET x = 1 WHERE to_regclass('ferry.rejects') IS NOT NULL`
	for sc, want := range map[Schema]string{
		"":        stmt,
		"ferry":   stmt,
		"MyState": `UPDATE "MyState".files SET x = 1 WHERE to_regclass('"MyState".rejects') IS NOT NULL`,
	} {
		r := &recorder{}
		q := sc.on(r)
		q.Exec(ctx, stmt)
		q.Query(ctx, stmt)
		q.QueryRow(ctx, stmt)
		for _, got := range r.sql {
			if got != want {
				t.Errorf("schema %q: %s; want %s", sc, got, want)
			}
		}
		if len(r.sql) != 3 {
			t.Errorf("schema %q: %d statements ran; want 3", sc, len(r.sql))
		}
	}
	for _, bad := range []Schema{"a b", `a"b`, "a'b", "1a", "a.b", "é", Schema(strings.Repeat("a", 64))} {
		if bad.Validate() == nil {
			t.Errorf("schema %q accepted", bad)
		}
	}
	for _, good := range []Schema{"", "ferry", "_x1", "MyState", Schema(strings.Repeat("a", 63))} {
		if err := good.Validate(); err != nil {
			t.Errorf("schema %q: %v", good, err)
		}
	}
	if DefaultSchema.Name() != "ferry" || Schema("").Name() != "ferry" || Schema("x").Name() != "x" {
		t.Error("Name")
	}
}
