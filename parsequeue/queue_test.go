package parsequeue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder logs the queue's pushes and acks as events "push k" / "ack k".
type recorder struct {
	mu     sync.Mutex
	events []string
	pushed []int
	acked  []int
}

func (r *recorder) push(k int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "push "+strconv.Itoa(k))
	r.pushed = append(r.pushed, k)
}

func (r *recorder) ack(k int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "ack "+strconv.Itoa(k))
	r.acked = append(r.acked, k)
}

func (r *recorder) snapshot() (pushed, acked []int, events []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pushed), slices.Clone(r.acked), slices.Clone(r.events)
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// jitter sleeps up to max, so that parses finish out of order.
func jitter(ctx context.Context, max time.Duration) error {
	t := time.NewTimer(rand.N(max))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestOrder(t *testing.T) {
	const n, workers, maxPending = 2000, 8, 16
	var rec recorder
	var parsing, maxParsing atomic.Int64
	var added, acked atomic.Int64
	var overPending atomic.Int64
	q := New(context.Background(), Config[int, string]{
		Workers:    workers,
		MaxPending: maxPending,
		Parse: func(ctx context.Context, in int) (string, error) {
			p := parsing.Add(1)
			defer parsing.Add(-1)
			for {
				m := maxParsing.Load()
				if p <= m || maxParsing.CompareAndSwap(m, p) {
					break
				}
			}
			if err := jitter(ctx, 200*time.Microsecond); err != nil {
				return "", err
			}
			return strconv.Itoa(in), nil
		},
		Push: func(_ context.Context, out string) error {
			k, _ := strconv.Atoi(out)
			rec.push(k)
			return nil
		},
		Ack: func(out string) error {
			k, _ := strconv.Atoi(out)
			rec.ack(k)
			acked.Add(1)
			return nil
		},
	})
	for i := range n {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatalf("Add(%d): %v", i, err)
		}
		if a := added.Add(1); a-acked.Load() > maxPending {
			overPending.Add(1)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pushed, ackedOrder, events := rec.snapshot()
	if !slices.Equal(pushed, seq(n)) {
		t.Fatalf("push order differs from add order: %v", pushed)
	}
	if !slices.Equal(ackedOrder, seq(n)) {
		t.Fatalf("ack order differs from push order: %v", ackedOrder)
	}
	for k := range n {
		if events[2*k] != "push "+strconv.Itoa(k) || events[2*k+1] != "ack "+strconv.Itoa(k) {
			t.Fatalf("event %d: %q %q, want push %d then ack %d", 2*k, events[2*k], events[2*k+1], k, k)
		}
	}
	if m := maxParsing.Load(); m > workers {
		t.Errorf("%d parses ran at once, more than %d workers", m, workers)
	}
	if c := overPending.Load(); c > 0 {
		t.Errorf("more than %d items pending %d times", maxPending, c)
	}
}

func TestConcurrentAdd(t *testing.T) {
	const adders, per = 4, 250
	var mu sync.Mutex
	seen := map[int]int{}
	q := New(context.Background(), Config[int, int]{
		Workers: 4,
		Parse: func(ctx context.Context, in int) (int, error) {
			return in, jitter(ctx, 50*time.Microsecond)
		},
		Push: func(_ context.Context, out int) error {
			mu.Lock()
			seen[out]++
			mu.Unlock()
			return nil
		},
	})
	var wg sync.WaitGroup
	for a := range adders {
		wg.Go(func() {
			for i := range per {
				if err := q.Add(context.Background(), a*per+i); err != nil {
					t.Errorf("Add: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != adders*per {
		t.Fatalf("%d distinct items pushed, want %d", len(seen), adders*per)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("item %d pushed %d times", k, c)
		}
	}
}

// stage names where a test queue fails.
type stage int

const (
	parseStage stage = iota
	pushStage
	ackStage
)

func (s stage) String() string { return [...]string{"parse", "push", "ack"}[s] }

func TestErrorStopsQueue(t *testing.T) {
	const n, k = 100, 37
	for _, st := range []stage{parseStage, pushStage, ackStage} {
		t.Run(st.String(), func(t *testing.T) {
			boom := fmt.Errorf("%s %d: boom", st, k)
			var rec recorder
			q := New(context.Background(), Config[int, int]{
				Workers:    4,
				MaxPending: 8,
				Parse: func(ctx context.Context, in int) (int, error) {
					if st == parseStage && in == k {
						return 0, boom
					}
					if in > k {
						// Items after the failing one wait to be cancelled,
						// which must happen once k fails.
						<-ctx.Done()
						return 0, ctx.Err()
					}
					return in, jitter(ctx, 100*time.Microsecond)
				},
				Push: func(_ context.Context, out int) error {
					rec.push(out)
					if st == pushStage && out == k {
						return boom
					}
					return nil
				},
				Ack: func(out int) error {
					rec.ack(out)
					if st == ackStage && out == k {
						return boom
					}
					return nil
				},
			})
			var addErr error
			for i := range n {
				if addErr = q.Add(context.Background(), i); addErr != nil {
					break
				}
			}
			if !errors.Is(addErr, boom) {
				t.Errorf("Add after the failure = %v, want %v", addErr, boom)
			}
			if err := q.Close(context.Background()); !errors.Is(err, boom) {
				t.Fatalf("Close = %v, want %v", err, boom)
			}
			if err := q.Err(); !errors.Is(err, boom) {
				t.Fatalf("Err = %v, want %v", err, boom)
			}
			if err := q.Add(context.Background(), n); !errors.Is(err, boom) {
				t.Fatalf("Add after Close = %v, want %v", err, boom)
			}
			pushed, acked, _ := rec.snapshot()
			wantPushed, wantAcked := seq(k), seq(k)
			switch st {
			case pushStage:
				wantPushed = seq(k + 1) // the failed push was attempted
			case ackStage:
				wantPushed, wantAcked = seq(k+1), seq(k+1)
			}
			if !slices.Equal(pushed, wantPushed) {
				t.Errorf("pushed %v, want %v", pushed, wantPushed)
			}
			if !slices.Equal(acked, wantAcked) {
				t.Errorf("acked %v, want %v", acked, wantAcked)
			}
		})
	}
}

func TestCloseDrains(t *testing.T) {
	const n = 50
	var rec recorder
	q := New(context.Background(), Config[int, int]{
		Workers:    3,
		MaxPending: n, // everything is added before anything is done
		Parse: func(ctx context.Context, in int) (int, error) {
			return in, jitter(ctx, time.Millisecond)
		},
		Push: func(_ context.Context, out int) error { rec.push(out); return nil },
		Ack:  func(out int) error { rec.ack(out); return nil },
	})
	for i := range n {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	pushed, acked, _ := rec.snapshot()
	if !slices.Equal(pushed, seq(n)) || !slices.Equal(acked, seq(n)) {
		t.Fatalf("after Close: pushed %v, acked %v", pushed, acked)
	}
	if err := q.Add(context.Background(), n); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close = %v, want ErrClosed", err)
	}
	if err := q.Err(); err != nil {
		t.Fatalf("Err after a clean Close = %v", err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestCloseEmpty(t *testing.T) {
	q := New(context.Background(), Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) { return in, nil },
		Push:  func(context.Context, int) error { return nil },
	})
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCloseDeadline(t *testing.T) {
	var rec recorder
	pushing := make(chan struct{})
	q := New(context.Background(), Config[int, int]{
		Workers: 2,
		Parse:   func(_ context.Context, in int) (int, error) { return in, nil },
		Push: func(ctx context.Context, out int) error {
			rec.push(out)
			if out == 1 {
				close(pushing)
				<-ctx.Done() // blocks until Close gives up
				return ctx.Err()
			}
			return nil
		},
		Ack: func(out int) error { rec.ack(out); return nil },
	})
	for i := range 3 {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	<-pushing
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	if err := q.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want the deadline", err)
	}
	pushed, acked, _ := rec.snapshot()
	if !slices.Equal(pushed, []int{0, 1}) || !slices.Equal(acked, []int{0}) {
		t.Fatalf("pushed %v, acked %v; want [0 1], [0]", pushed, acked)
	}
	goleak.VerifyNone(t) // Close returned: every goroutine has exited
}

func TestBackpressure(t *testing.T) {
	gate := make(chan struct{})
	q := New(context.Background(), Config[int, int]{
		Workers:    1,
		MaxPending: 2,
		Parse:      func(_ context.Context, in int) (int, error) { return in, nil },
		Push: func(ctx context.Context, _ int) error {
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	for i := range 2 {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	// Two items pending: a third Add blocks until its context gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Add(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add with MaxPending items pending = %v, want it to block until the deadline", err)
	}
	if err := q.Err(); err != nil {
		t.Fatalf("a cancelled Add failed the queue: %v", err)
	}
	// Once one push completes there is room again.
	added := make(chan error, 1)
	go func() { added <- q.Add(context.Background(), 2) }()
	gate <- struct{}{}
	if err := <-added; err != nil {
		t.Fatalf("Add after a push = %v", err)
	}
	close(gate)
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pushing := make(chan struct{})
	q := New(ctx, Config[int, int]{
		Workers:    2,
		MaxPending: 1,
		Parse:      func(_ context.Context, in int) (int, error) { return in, nil },
		Push: func(ctx context.Context, _ int) error {
			close(pushing)
			<-ctx.Done()
			return ctx.Err()
		},
	})
	if err := q.Add(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	<-pushing
	// The queue is full: this Add blocks until the queue is cancelled.
	added := make(chan error, 1)
	go func() { added <- q.Add(context.Background(), 1) }()
	cancel()
	if err := <-added; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Add after cancellation = %v", err)
	}
	if err := q.Close(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancellation = %v", err)
	}
	if err := q.Add(context.Background(), 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add after cancellation = %v", err)
	}
}

func TestAddContextDone(t *testing.T) {
	q := New(context.Background(), Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) { return in, nil },
		Push:  func(context.Context, int) error { return nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Add(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with a done context = %v", err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatalf("the Add's cancellation failed the queue: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New without Push did not panic")
		}
	}()
	New(context.Background(), Config[int, int]{
		Parse: func(_ context.Context, in int) (int, error) { return in, nil },
	})
}

func BenchmarkQueue(b *testing.B) {
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var sum int
			q := New(context.Background(), Config[int, string]{
				Workers:    workers,
				MaxPending: 256,
				Parse:      func(_ context.Context, in int) (string, error) { return strconv.Itoa(in), nil },
				Push:       func(_ context.Context, out string) error { sum += len(out); return nil },
				Ack:        func(string) error { return nil },
			})
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := q.Add(ctx, i); err != nil {
					b.Fatal(err)
				}
			}
			if err := q.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
