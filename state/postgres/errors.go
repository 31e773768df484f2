package postgres

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferrydata/ferry/pusher"
)

// ErrConflict: the file's committed position is not where the chunk
// starts; another process moved it. It is of class pusher.ClassRetry: the
// file is not at fault, and resumes later at its committed position.
var ErrConflict = pusher.Retry(errors.New("file progress changed underneath this load (is another ferry process loading it?)"))

// Classify returns err marked with pusher.Unavailable when it says the
// PostgreSQL server cannot be used now, rather than that the data is bad:
// the connection failed or broke (a failed connect, SQLSTATE class 08, a
// network error or timeout, a connection that ended mid-message, an error
// pgconn says happened before anything was sent), the server is out of
// resources (class 53) or shutting down or restarting (class 57), or the
// transaction lost a serialization conflict or a deadlock (40001, 40P01).
// Otherwise, and when err already has a class (pusher.Classed) or comes
// from a cancelled context, it returns err unchanged. This package and the
// PostgreSQL target pass every error they return through it.
func Classify(err error) error {
	if err == nil || !unavailable(err) {
		return err
	}
	return pusher.Unavailable(err)
}

func unavailable(err error) bool {
	var classed pusher.Classed
	if errors.As(err, &classed) || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) == 5 {
			switch pgErr.Code[:2] {
			case "08", "53", "57": // connection, resources, operator intervention (shutdown)
				return true
			}
		}
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization, deadlock
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	// The connection ended in the middle of a message: the server went
	// away (a crash, a dropped network) without saying why.
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
