package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

func TestWanted(t *testing.T) {
	obj := pusher.Object{Key: "k", ETag: "new"}
	old := pusher.Object{Key: "k", ETag: "old"}
	done := state.Progress{Status: state.Done}
	failed3 := state.Progress{Status: state.Failed, Attempts: 3}
	tests := []struct {
		name     string
		reload   bool
		attempts int
		progress map[string]state.Progress
		want     bool
	}{
		{"new file", true, 3, nil, true},
		{"done", true, 3, map[string]state.Progress{state.ID(obj): done}, false},
		{"loading resumes", true, 3, map[string]state.Progress{state.ID(obj): {Status: state.Loading}}, true},
		{"failed under the attempt limit", true, 3, map[string]state.Progress{state.ID(obj): {Status: state.Failed, Attempts: 2}}, true},
		{"quarantined", true, 3, map[string]state.Progress{state.ID(obj): failed3}, false},
		{"failed, no limit", true, 0, map[string]state.Progress{state.ID(obj): failed3}, true},
		{"changed, reload", true, 3, map[string]state.Progress{state.ID(old): done}, true},
		{"changed, no reload", false, 3, map[string]state.Progress{state.ID(old): done}, false},
		{"other key done, no reload", false, 3, map[string]state.Progress{state.ID(pusher.Object{Key: "k2", ETag: "x"}): done}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &Job{cfg: Config{ReloadChanged: tt.reload, MaxAttempts: tt.attempts}}
			if got := j.wanted(obj, tt.progress); got != tt.want {
				t.Fatalf("wanted = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSinceTime(t *testing.T) {
	now := time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"24h":                  now.Add(-24 * time.Hour),
		"2024-05-01":           time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"2024-05-01T10:00:00Z": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
	} {
		c := Config{Since: in}
		got, err := c.sinceTime(now)
		if err != nil || !got.Equal(want) {
			t.Errorf("since %q = %v, %v; want %v", in, got, err, want)
		}
	}
	c := Config{Since: "yesterday"}
	if _, err := c.sinceTime(now); err == nil {
		t.Error("bad --since accepted")
	}
}

func TestValidateReplication(t *testing.T) {
	ok := Config{PollInterval: time.Second}
	if err := ok.ValidateReplication(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{},
		{PollInterval: time.Second, StartAfterKey: true},
		{PollInterval: time.Second, Lookback: -time.Second},
		{PollInterval: time.Second, StartAfterKey: true, Lookback: time.Hour, StateRetention: time.Minute},
	} {
		if err := c.ValidateReplication(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestIsTransient(t *testing.T) {
	for err, want := range map[error]bool{
		nil:                            false,
		context.Canceled:               false,
		errors.New("record 3: bad"):    false,
		io.ErrUnexpectedEOF:            false, // a truncated file, not a network problem
		&pgconn.PgError{Code: "57P01"}: true,  // admin shutdown
		&pgconn.PgError{Code: "08006"}: true,  // connection failure
		&pgconn.PgError{Code: "23502"}: false, // not null violation
		&net.OpError{Op: "dial", Err: errors.New("connection refused")}: true,
		fmt.Errorf("copy: %w", &pgconn.PgError{Code: "53300"}):          true,
	} {
		if got := isTransient(err); got != want {
			t.Errorf("isTransient(%v) = %v, want %v", err, got, want)
		}
	}
}
