package pusher

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassOf(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		err  error
		want Class
	}{
		{nil, ClassData},
		{boom, ClassData},
		{&RecordError{Record: 3, Err: boom}, ClassData},
		{Unavailable(boom), ClassUnavailable},
		{fmt.Errorf("write: %w", Unavailable(boom)), ClassUnavailable},
		{Retry(boom), ClassRetry},
		{Gone(boom), ClassGone},
		{context.Canceled, ClassCanceled},
		{fmt.Errorf("read: %w", context.Canceled), ClassCanceled},
		{context.DeadlineExceeded, ClassUnavailable},
		// The innermost mark that is found first wins: the outermost.
		{Retry(Unavailable(boom)), ClassRetry},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.err); got != tt.want {
			t.Errorf("ClassOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if Unavailable(nil) != nil || Retry(nil) != nil || Gone(nil) != nil {
		t.Error("marking nil gave an error")
	}
	if err := Unavailable(boom); !errors.Is(err, boom) || err.Error() != "boom" {
		t.Errorf("Unavailable(boom) = %v: does not wrap boom", err)
	}
}
