package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelays(t *testing.T) {
	b := New(Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxElapsed: time.Hour})
	step := 100 * time.Millisecond
	for i := range 8 {
		d, ok := b.Next()
		if !ok {
			t.Fatalf("try %d: budget spent", i)
		}
		if d < step/2 || d > step {
			t.Errorf("try %d: delay %v, want within [%v, %v]", i, d, step/2, step)
		}
		step = min(2*step, time.Second)
	}
	if b.Tries() != 8 {
		t.Errorf("tries %d", b.Tries())
	}
	b.Reset()
	if d, _ := b.Next(); d > 100*time.Millisecond {
		t.Errorf("after Reset: delay %v", d)
	}
}

func TestBudget(t *testing.T) {
	// A delay that would end past the budget is not handed out.
	b := New(Policy{Initial: time.Minute, MaxElapsed: time.Second})
	if d, ok := b.Next(); ok {
		t.Errorf("delay %v within a 1s budget", d)
	}
	if _, ok := New(Policy{MaxElapsed: -1}).Next(); ok {
		t.Error("negative budget retries")
	}
}

func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep = %v", err)
	}
}
