package parsequeue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestGroupOrder: groups hold consecutive items in order, never more than
// Full allows, every item is acked once in order after its group's push.
func TestGroupOrder(t *testing.T) {
	const n, maxGroup = 3000, 7
	var mu sync.Mutex
	var pushed, acked []int
	var sizes []int
	q := New(context.Background(), Config[int, int]{
		Workers:    4,
		MaxPending: 64,
		Parse: func(ctx context.Context, in int) (int, error) {
			return in, jitter(ctx, 100*time.Microsecond)
		},
		PushGroup: func(_ context.Context, outs []int) error {
			mu.Lock()
			defer mu.Unlock()
			if len(acked) != len(pushed) {
				t.Errorf("group %v pushed before the previous group was acked", outs)
			}
			pushed = append(pushed, outs...)
			sizes = append(sizes, len(outs))
			return nil
		},
		Full:   func(group []int) bool { return len(group) >= maxGroup },
		Linger: time.Millisecond,
		Ack: func(out int) error {
			mu.Lock()
			acked = append(acked, out)
			mu.Unlock()
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
	if !slices.Equal(pushed, seq(n)) || !slices.Equal(acked, seq(n)) {
		t.Fatalf("pushed or acked out of order")
	}
	grouped := 0
	for _, s := range sizes {
		if s > maxGroup {
			t.Fatalf("group of %d, Full allows %d", s, maxGroup)
		}
		if s > 1 {
			grouped++
		}
	}
	if grouped == 0 {
		t.Errorf("no group held more than one item (%d groups)", len(sizes))
	}
}

// TestGroupLinger: a lone item waits up to Linger for a second one, which
// joins its group; without Linger it is pushed alone.
func TestGroupLinger(t *testing.T) {
	for _, linger := range []time.Duration{0, time.Minute} {
		groups := make(chan []int, 4)
		q := New(context.Background(), Config[int, int]{
			Parse: func(_ context.Context, in int) (int, error) { return in, nil },
			PushGroup: func(_ context.Context, outs []int) error {
				groups <- slices.Clone(outs)
				return nil
			},
			Full:       func(group []int) bool { return len(group) >= 2 },
			Linger:     linger,
			MaxPending: 4,
		})
		if err := q.Add(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		if linger == 0 {
			if g := <-groups; !slices.Equal(g, []int{1}) {
				t.Errorf("no linger: first group %v, want [1]", g)
			}
		} else {
			time.Sleep(20 * time.Millisecond) // the loop lingers, waiting for a second item
		}
		if err := q.Add(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		if linger > 0 {
			// Full at two items: pushed without waiting out the linger.
			select {
			case g := <-groups:
				if !slices.Equal(g, []int{1, 2}) {
					t.Errorf("linger: group %v, want [1 2]", g)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a full group waited for its linger")
			}
		}
		if err := q.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGroupParseError: the items before a failed parse are pushed (in
// groups), then the error stops the queue.
func TestGroupParseError(t *testing.T) {
	bad := errors.New("bad item")
	var pushed []int
	q := New(context.Background(), Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) {
			if in == 5 {
				return 0, bad
			}
			return in, nil
		},
		PushGroup:  func(_ context.Context, outs []int) error { pushed = append(pushed, outs...); return nil },
		Full:       func([]int) bool { return false },
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
	if !slices.Equal(pushed, seq(5)) {
		t.Errorf("pushed %v, want the 5 items before the bad one", pushed)
	}
}
