package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// IsURL says whether s is a PostgreSQL connection string: a postgres://
// or postgresql:// URL, or keywords naming a host or a database.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") ||
		strings.Contains(s, "host=") || strings.Contains(s, "dbname=")
}

// ErrBadURL is wrapped by Connect when the URL does not parse.
var ErrBadURL = errors.New("invalid PostgreSQL URL")

// Connect opens a pool of at most maxConns (at least 4) connections to url
// and checks that the server answers, so that a wrong URL or a down server
// fails at once with a one-line reason, without the password. The
// connections carry appName as application_name (cut at 63 bytes), unless
// the URL sets one.
func Connect(ctx context.Context, url string, maxConns int, appName string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, Redact(err))
	}
	if _, set := pc.ConnConfig.RuntimeParams["application_name"]; !set && appName != "" {
		pc.ConnConfig.RuntimeParams["application_name"] = ApplicationName(appName)
	}
	pc.MaxConns = int32(max(maxConns, 4))
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL: %v", Redact(err))
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s:%d/%s: %v", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, reason(err))
	}
	return pool, nil
}

// reason reduces a connection error to its cause.
func reason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Err.Error()
	}
	return Redact(err)
}

// Redact returns err's message without a password it may quote.
func Redact(err error) string {
	s := err.Error()
	if i := strings.Index(s, "password="); i >= 0 {
		end := strings.IndexAny(s[i:], " '\"")
		if end < 0 {
			end = len(s) - i
		}
		s = s[:i] + "password=xxxxx" + s[i+end:]
	}
	return s
}

// ApplicationName returns name as PostgreSQL keeps an application_name:
// printable ASCII (others become ?), at most 63 bytes.
func ApplicationName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c < 32 || c > 126 {
			b[i] = '?'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return string(b)
}
