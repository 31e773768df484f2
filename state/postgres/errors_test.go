package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// safeErr is an error pgconn.SafeToRetry asks about.
type safeErr bool

func (e safeErr) Error() string     { return fmt.Sprintf("safe to retry: %v", bool(e)) }
func (e safeErr) SafeToRetry() bool { return bool(e) }

// connectError returns the error pgconn gives for a port nothing listens on.
func connectError(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	_, err = pgconn.Connect(t.Context(), fmt.Sprintf("postgres://ferry@127.0.0.1:%d/ferry?sslmode=disable&connect_timeout=5", addr.Port))
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connect to a closed port: %v; want a *pgconn.ConnectError", err)
	}
	return err
}

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }
	boom := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want pusher.Class
	}{
		{"nil", nil, pusher.ClassData},
		{"plain error", boom, pusher.ClassData},
		{"connection failure 08006", pg("08006"), pusher.ClassUnavailable},
		{"cannot connect 08001", fmt.Errorf("state: lookup: %w", pg("08001")), pusher.ClassUnavailable},
		{"too many connections 53300", pg("53300"), pusher.ClassUnavailable},
		{"disk full 53100", pg("53100"), pusher.ClassUnavailable},
		{"admin shutdown 57P01", fmt.Errorf("copy: %w", pg("57P01")), pusher.ClassUnavailable},
		{"starting up 57P03", pg("57P03"), pusher.ClassUnavailable},
		{"serialization 40001", pg("40001"), pusher.ClassUnavailable},
		{"deadlock 40P01", pg("40P01"), pusher.ClassUnavailable},
		{"other class 40 40002", pg("40002"), pusher.ClassData},
		{"unique violation 23505", pg("23505"), pusher.ClassData},
		{"bad text 22P02", pg("22P02"), pusher.ClassData},
		{"undefined table 42P01", pg("42P01"), pusher.ClassData},
		{"no SQLSTATE", &pgconn.PgError{}, pusher.ClassData},
		{"bad record from the server", &pusher.RecordError{Record: 3, Offset: -1, Err: pg("23502")}, pusher.ClassData},
		{"failed connect", connectError(t), pusher.ClassUnavailable},
		{"safe to retry", fmt.Errorf("begin: %w", safeErr(true)), pusher.ClassUnavailable},
		{"not safe to retry", safeErr(false), pusher.ClassData},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, pusher.ClassUnavailable},
		{"network timeout", &net.DNSError{Err: "i/o timeout", Name: "db", IsTimeout: true}, pusher.ClassUnavailable},
		{"connection ended mid-message", fmt.Errorf("commit: %w", io.ErrUnexpectedEOF), pusher.ClassUnavailable},
		{"cancelled", fmt.Errorf("copy: %w", context.Canceled), pusher.ClassCanceled},
		{"cancelled while the connection broke", errors.Join(context.Canceled, &net.OpError{Op: "read", Err: syscall.ECONNRESET}), pusher.ClassCanceled},
		{"deadline", fmt.Errorf("copy: %w", context.DeadlineExceeded), pusher.ClassUnavailable},
		{"already classed", pusher.Retry(pg("08006")), pusher.ClassRetry},
		{"conflict", fmt.Errorf("state: advance %q: %w", "k", pgstate.ErrConflict), pusher.ClassRetry},
		{"claimed", fmt.Errorf("state: claim %q: %w", "k", state.ErrClaimed), pusher.ClassRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pgstate.Classify(tt.err)
			if c := pusher.ClassOf(got); c != tt.want {
				t.Fatalf("ClassOf(Classify(%v)) = %v, want %v", tt.err, c, tt.want)
			}
			if tt.err == nil {
				if got != nil {
					t.Fatalf("Classify(nil) = %v", got)
				}
				return
			}
			if !errors.Is(got, tt.err) || got.Error() != tt.err.Error() {
				t.Fatalf("Classify(%v) = %v: not the same error", tt.err, got)
			}
			if again := pgstate.Classify(got); again != got {
				t.Fatalf("Classify of a classified error changed it: %#v", again)
			}
			if tt.want != pusher.ClassUnavailable && got != tt.err {
				t.Fatalf("Classify(%v) changed an error it should leave alone", tt.err)
			}
		})
	}
}

func TestErrorsKeepTheirIdentity(t *testing.T) {
	for _, target := range []error{pgstate.ErrConflict, state.ErrClaimed} {
		err := pgstate.Classify(fmt.Errorf("state: %w", target))
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
		if pusher.ClassOf(target) != pusher.ClassRetry {
			t.Errorf("ClassOf(%v) = %v, want retry", target, pusher.ClassOf(target))
		}
	}
	if errors.Is(pgstate.ErrConflict, state.ErrClaimed) || errors.Is(state.ErrClaimed, pgstate.ErrConflict) {
		t.Error("ErrConflict and ErrClaimed are the same error")
	}
}
