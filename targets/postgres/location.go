package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Location names the database a connection string (a postgres:// URL or
// "host=... dbname=..." keywords) points at, as
// postgres://host:port/database: its first host and port and its database,
// resolved as a connection resolves them (the PG* environment variables
// and defaults included). It never holds the user or the password, so it
// can name the target in logs and in pipeline names.
func Location(connString string) (string, error) {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		// pgconn's errors redact the password; say no more than that.
		return "", fmt.Errorf("PostgreSQL connection string: %w", err)
	}
	return "postgres://" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database, nil
}

// TableExists reports whether table (as ParseTable gives it; an
// unqualified name is looked up on the search path) exists in the
// database q is connected to.
func TableExists(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, table pgx.Identifier) (bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table.Sanitize()).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up table %s: %w", table.Sanitize(), err)
	}
	return exists, nil
}
