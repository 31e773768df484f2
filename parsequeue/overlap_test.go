package parsequeue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestOverlapOrder: with Overlap, at most two pushes are under way, a
// group Overlap refuses starts only once every group before it is acked,
// overlapping pushes do run together, and every item is acked once, in
// order, after its group's push returned.
func TestOverlapOrder(t *testing.T) {
	const n = 2000
	var mu sync.Mutex
	var acked []int
	running, most := 0, 0
	returned := map[int]bool{} // by item: its group's push returned
	q := New(context.Background(), Config[int, int]{
		Workers:    4,
		MaxPending: 64,
		Parse: func(ctx context.Context, in int) (int, error) {
			return in, jitter(ctx, 50*time.Microsecond)
		},
		PushGroup: func(ctx context.Context, outs []int) error {
			mu.Lock()
			alone := outs[0]%10 == 0 // Overlap refuses it
			if alone && len(acked) != outs[0] {
				t.Errorf("group %v, which overlaps nothing, started with %d items acked, want %d", outs, len(acked), outs[0])
			}
			running++
			most = max(most, running)
			if running > 2 {
				t.Errorf("%d pushes under way", running)
			}
			mu.Unlock()
			err := jitter(ctx, 200*time.Microsecond)
			mu.Lock()
			running--
			for _, o := range outs {
				returned[o] = true
			}
			mu.Unlock()
			return err
		},
		Full:    func(group []int) bool { return len(group) >= 1+group[0]%3 },
		Linger:  time.Millisecond,
		Overlap: func(group []int) bool { return group[0]%10 != 0 },
		Ack: func(out int) error {
			mu.Lock()
			defer mu.Unlock()
			if !returned[out] {
				t.Errorf("item %d acked before its push returned", out)
			}
			acked = append(acked, out)
			return nil
		},
	})
	for i := range n {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(acked, seq(n)) {
		t.Fatalf("acked out of order or not all: %d items", len(acked))
	}
	if most < 2 {
		t.Errorf("pushes never overlapped")
	}
}

// TestOverlapRuns: the push of a group Overlap accepts starts while the
// one before it is still under way (the first push returns only once the
// second has started).
func TestOverlapRuns(t *testing.T) {
	second := make(chan struct{})
	var acked []int
	q := New(context.Background(), Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) { return in, nil },
		PushGroup: func(ctx context.Context, outs []int) error {
			switch outs[0] {
			case 0:
				select {
				case <-second:
				case <-time.After(10 * time.Second):
					return errors.New("the second push did not start while the first was under way")
				}
			case 1:
				close(second)
			}
			return nil
		},
		Full:       func([]int) bool { return true },
		Overlap:    func([]int) bool { return true },
		Ack:        func(out int) error { acked = append(acked, out); return nil },
		MaxPending: 4,
	})
	for i := range 3 {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(acked, seq(3)) {
		t.Errorf("acked %v", acked)
	}
}

// TestOverlapError: a push that fails while the next one is under way
// stops the queue with its error: the next push is cancelled, and the
// queue ends once it has returned; neither is acked, the items before are.
// A failure of the later push, while the earlier one succeeds, acks the
// earlier one and stops the queue with the later one's error.
func TestOverlapError(t *testing.T) {
	for _, failing := range []int{2, 3} {
		bad := errors.New("bad push")
		started3 := make(chan struct{})
		var mu sync.Mutex
		var acked []int
		cancelled := false
		q := New(context.Background(), Config[int, int]{
			Parse: func(_ context.Context, in int) (int, error) { return in, nil },
			PushGroup: func(ctx context.Context, outs []int) error {
				switch outs[0] {
				case 2:
					<-started3
					if failing == 2 {
						return bad
					}
				case 3:
					close(started3)
					if failing == 3 {
						return bad
					}
					<-ctx.Done() // until the failure of 2 cancels it
					mu.Lock()
					cancelled = true
					mu.Unlock()
					return ctx.Err()
				}
				return nil
			},
			Full:       func([]int) bool { return true },
			Overlap:    func([]int) bool { return true },
			Ack:        func(out int) error { mu.Lock(); acked = append(acked, out); mu.Unlock(); return nil },
			MaxPending: 8,
		})
		for i := range 6 {
			if err := q.Add(context.Background(), i); err != nil && !errors.Is(err, bad) {
				t.Fatal(err)
			}
		}
		if err := q.Close(context.Background()); !errors.Is(err, bad) {
			t.Fatalf("failing %d: Close: %v, want %v", failing, err, bad)
		}
		want := seq(failing)
		if !slices.Equal(acked, want) {
			t.Errorf("failing %d: acked %v, want %v", failing, acked, want)
		}
		if failing == 2 && !cancelled {
			t.Errorf("the push under way was not cancelled")
		}
		goleak.VerifyNone(t) // Close returned: every push has returned
	}
}

// TestOverlapParseError: a failed parse stops the queue after the pushes
// under way before it have returned and been acked.
func TestOverlapParseError(t *testing.T) {
	bad := errors.New("bad item")
	var mu sync.Mutex
	var acked []int
	q := New(context.Background(), Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) {
			if in == 5 {
				return 0, bad
			}
			return in, nil
		},
		PushGroup: func(ctx context.Context, outs []int) error {
			return jitter(ctx, time.Millisecond)
		},
		Full:       func([]int) bool { return true },
		Overlap:    func([]int) bool { return true },
		Ack:        func(out int) error { mu.Lock(); acked = append(acked, out); mu.Unlock(); return nil },
		MaxPending: 16,
	})
	for i := range 8 {
		if err := q.Add(context.Background(), i); err != nil && !errors.Is(err, bad) {
			t.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); !errors.Is(err, bad) {
		t.Fatalf("Close: %v, want %v", err, bad)
	}
	if !slices.Equal(acked, seq(5)) {
		t.Errorf("acked %v, want the 5 items before the bad one", acked)
	}
}

// TestOverlapCancel: cancelling the queue's context while two pushes are
// under way cancels both; Close returns once they have returned.
func TestOverlapCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var under sync.WaitGroup
	under.Add(2)
	q := New(ctx, Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) { return in, nil },
		PushGroup: func(ctx context.Context, outs []int) error {
			under.Done()
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // returns late
			return ctx.Err()
		},
		Full:       func([]int) bool { return true },
		Overlap:    func([]int) bool { return true },
		MaxPending: 4,
	})
	for i := range 2 {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	under.Wait()
	cancel()
	if err := q.Close(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v, want context.Canceled", err)
	}
	goleak.VerifyNone(t)
}
