package readerr

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ferrydata/ferry/pusher"
)

func TestErrs(t *testing.T) {
	bad := fmt.Errorf("wrapped: %w", &pusher.RecordError{Record: 1, Err: errors.New("bad")})
	closed := errors.New("closed")
	full := func() *pusher.Batch {
		var b pusher.Batch
		b.StartRecord()
		b.AddNull()
		return &b
	}
	// step is one call: Fail with a batch of records (full) or an empty
	// one, or Stop, or Due; want is what it returns.
	type step struct {
		op   string // "fail", "fail full", "stop", "due"
		err  error
		want error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing due", []step{{"due", nil, nil}}},
		{"record error now", []step{{"fail", bad, bad}, {"due", nil, nil}}},
		{"record error kept", []step{{"fail full", bad, nil}, {"due", nil, bad}, {"due", nil, nil}}},
		{"final now", []step{{"fail", io.EOF, io.EOF}, {"due", nil, io.EOF}, {"due", nil, io.EOF}}},
		{"final kept", []step{{"fail full", io.EOF, nil}, {"due", nil, io.EOF}, {"due", nil, io.EOF}}},
		{"stop", []step{{"stop", closed, nil}, {"due", nil, closed}, {"due", nil, closed}}},
		{"stop keeps final", []step{{"fail", io.EOF, io.EOF}, {"stop", closed, nil}, {"due", nil, io.EOF}}},
		{"stop after kept record error", []step{{"fail full", bad, nil}, {"stop", closed, nil}, {"due", nil, bad}, {"due", nil, closed}}},
		{"kept final replaces stop", []step{{"fail full", io.EOF, nil}, {"stop", closed, nil}, {"due", nil, io.EOF}, {"due", nil, io.EOF}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Errs
			for i, s := range tt.steps {
				var got error
				switch s.op {
				case "fail":
					got = e.Fail(&pusher.Batch{}, s.err)
				case "fail full":
					got = e.Fail(full(), s.err)
				case "stop":
					e.Stop(s.err)
				case "due":
					got = e.Due()
				}
				if got != s.want {
					t.Fatalf("step %d (%s %v): got %v, want %v", i, s.op, s.err, got, s.want)
				}
			}
		})
	}
}

func TestIsRecordError(t *testing.T) {
	re := &pusher.RecordError{Record: 1, Err: errors.New("bad")}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.EOF, false},
		{re, true},
		{fmt.Errorf("x: %w", re), true},
	} {
		if got := IsRecordError(tt.err); got != tt.want {
			t.Errorf("IsRecordError(%v) = %v", tt.err, got)
		}
	}
}
