package parsequeue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// pull is a consumer that pulls a queue's items in order on its own
// goroutine, as the package documentation describes: Push sends on out,
// and receive drains it until the queue's Context is done.
type pull[T any] struct {
	q   *Queue[T, T]
	out chan T
}

func newPull[T any](ctx context.Context, cfg Config[T, T]) *pull[T] {
	p := &pull[T]{out: make(chan T)}
	cfg.Push = func(ctx context.Context, v T) error {
		select {
		case p.out <- v:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	p.q = New(ctx, cfg)
	return p
}

// receive returns the next item in order; ok is false once the queue has
// stopped, and err is then nil if it was closed and drained.
func (p *pull[T]) receive() (v T, ok bool, err error) {
	// A stopped queue first: a Push still blocked on the channel as the
	// context ends may otherwise hand over one more item (both selects
	// ready, either case taken).
	select {
	case <-p.q.Context().Done():
		return v, false, p.q.Err()
	default:
	}
	select {
	case v := <-p.out:
		return v, true, nil
	case <-p.q.Context().Done():
		return v, false, p.q.Err()
	}
}

// TestConsumer: a consumer pulling the items sees each once, in order, and
// then a clean end; no more than MaxPending+2 items exist at once (one the
// producer holds before Add, MaxPending pending, one the consumer holds).
func TestConsumer(t *testing.T) {
	const n, workers = 3000, 4
	for _, maxPending := range []int{1, workers} {
		var live, maxLive atomic.Int64
		p := newPull(context.Background(), Config[int, int]{
			Workers:    workers,
			MaxPending: maxPending,
			Parse: func(ctx context.Context, in int) (int, error) {
				return in, jitter(ctx, 100*time.Microsecond)
			},
		})
		var produced sync.WaitGroup
		var addErr, closeErr error
		produced.Go(func() {
			for i := range n {
				l := live.Add(1) // the producer makes the item
				for m := maxLive.Load(); l > m && !maxLive.CompareAndSwap(m, l); m = maxLive.Load() {
				}
				if addErr = p.q.Add(context.Background(), i); addErr != nil {
					return
				}
			}
			closeErr = p.q.Close(context.Background())
		})
		var got []int
		for {
			v, ok, err := p.receive()
			if !ok {
				if err != nil {
					t.Fatalf("queue stopped: %v", err)
				}
				break
			}
			got = append(got, v)
			if v%7 == 0 {
				time.Sleep(50 * time.Microsecond)
			}
			live.Add(-1) // the consumer is done with it
		}
		produced.Wait()
		if addErr != nil || closeErr != nil {
			t.Fatalf("Add: %v, Close: %v", addErr, closeErr)
		}
		if !slices.Equal(got, seq(n)) {
			t.Fatalf("received %d items out of order or not all", len(got))
		}
		if m := maxLive.Load(); m > int64(maxPending)+2 {
			t.Errorf("MaxPending %d: %d items existed at once, want at most %d", maxPending, m, maxPending+2)
		}
	}
}

// TestConsumerStops: a consumer that stops pulling stops the producer
// through the queue's context; every goroutine exits.
func TestConsumerStops(t *testing.T) {
	for _, stopAfter := range []int{0, 1, 10} {
		ctx, cancel := context.WithCancel(context.Background())
		p := newPull(ctx, Config[int, int]{
			Workers: 2,
			Parse:   func(_ context.Context, in int) (int, error) { return in, nil },
		})
		done := make(chan error, 1)
		go func() {
			for i := 0; ; i++ {
				if err := p.q.Add(ctx, i); err != nil {
					_ = p.q.Close(ctx)
					done <- err
					return
				}
			}
		}()
		for i := range stopAfter {
			if v, ok, err := p.receive(); !ok || v != i {
				t.Fatalf("receive %d: %d, %t, %v", i, v, ok, err)
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Add after the consumer stopped = %v", err)
		}
		if _, ok, err := p.receive(); ok || !errors.Is(err, context.Canceled) {
			t.Fatalf("receive after cancellation: ok %t, %v", ok, err)
		}
		if err := p.q.Close(context.Background()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v", err)
		}
		goleak.VerifyNone(t)
	}
}

// TestConsumerError: the consumer receives the items before a failed
// parse, then the end with the parse's error.
func TestConsumerError(t *testing.T) {
	const k = 20
	boom := errors.New("boom")
	p := newPull(context.Background(), Config[int, int]{
		Workers: 3,
		Parse: func(ctx context.Context, in int) (int, error) {
			if in == k {
				return 0, boom
			}
			return in, jitter(ctx, 100*time.Microsecond)
		},
	})
	var produced sync.WaitGroup
	defer produced.Wait()
	produced.Go(func() {
		for i := range 2 * k {
			if p.q.Add(context.Background(), i) != nil {
				break
			}
		}
		_ = p.q.Close(context.Background())
	})
	var got []int
	for {
		v, ok, err := p.receive()
		if !ok {
			if !errors.Is(err, boom) {
				t.Fatalf("end = %v, want %v", err, boom)
			}
			break
		}
		got = append(got, v)
	}
	if !slices.Equal(got, seq(k)) {
		t.Fatalf("received %v, want %v", got, seq(k))
	}
	if err := p.q.Close(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Close = %v", err)
	}
}
