package parsequeue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ErrClosed is returned by Add once Close has been called.
var ErrClosed = errors.New("parsequeue: closed")

// Config configures a Queue.
type Config[In, Out any] struct {
	// Workers is the number of goroutines that run Parse (default 1).
	Workers int
	// Parse turns an item into what is pushed. It runs on the pool, in any
	// order. Required.
	Parse func(ctx context.Context, in In) (Out, error)
	// Push delivers a parsed item. It runs on one goroutine, in the order
	// the items were added. Required.
	Push func(ctx context.Context, out Out) error
	// PushGroup, set instead of Push, delivers consecutive items together,
	// in order (see "Groups" in the package documentation).
	PushGroup func(ctx context.Context, outs []Out) error
	// Full says whether group (its items in order) takes no more items.
	// Required with PushGroup.
	Full func(group []Out) bool
	// Linger is how long a group that could take more waits for the next
	// item to be added and parsed (0: it takes only items already parsed).
	Linger time.Duration
	// Ack runs after its item's Push (or its group's PushGroup) succeeded,
	// on the same goroutine, in order. Optional.
	Ack func(out Out) error
	// MaxPending bounds the items added but not yet acked (default
	// 2*Workers).
	MaxPending int
	// Overlap, with PushGroup, lets the push of a group for which it
	// returns true start while the push of the group before it is still
	// under way (see "Overlapping pushes" in the package documentation).
	// Optional.
	Overlap func(group []Out) bool
}

// Validate reports a missing Parse or Push.
func (c Config[In, Out]) Validate() error {
	if c.Parse == nil {
		return errors.New("parsequeue: Config.Parse is required")
	}
	switch {
	case c.Push == nil && c.PushGroup == nil:
		return errors.New("parsequeue: Config.Push or Config.PushGroup is required")
	case c.Push != nil && c.PushGroup != nil:
		return errors.New("parsequeue: Config.Push and Config.PushGroup are exclusive")
	case c.PushGroup != nil && c.Full == nil:
		return errors.New("parsequeue: Config.Full is required with PushGroup")
	case c.Overlap != nil && c.PushGroup == nil:
		return errors.New("parsequeue: Config.Overlap needs PushGroup")
	}
	return nil
}

func (c Config[In, Out]) withDefaults() Config[In, Out] {
	if c.Workers < 1 {
		c.Workers = 1
	}
	if c.MaxPending < 1 {
		c.MaxPending = 2 * c.Workers
	}
	return c
}

// Queue is an ordered parse/push/ack pipeline; see the package
// documentation for its contract. Its methods are safe for concurrent use.
type Queue[In, Out any] struct {
	cfg Config[In, Out]

	// ctx is what Parse and Push run under. It is cancelled with the
	// reason the queue stopped: the first error, the cancellation of New's
	// context or Close's deadline, or ErrClosed once drained.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// slots holds one token per pending item: Add sends, the push loop
	// receives after the ack. Since an item holds its token until it has
	// left both jobs and order, whose capacity is MaxPending, sends to
	// them never block.
	slots chan struct{}

	mu     sync.Mutex // guards closed and the sends on (and close of) jobs and order
	closed bool
	jobs   chan *item[In, Out] // to the parse workers
	order  chan *item[In, Out] // to the push loop, in Add order

	finished chan struct{} // closed when every goroutine has exited

	// With Config.Overlap: room holds a token per push under way (two
	// for a push that overlaps nothing), flights the pushes under way in
	// order, for the ack loop.
	room    chan struct{}
	flights chan *flight[Out]
}

// flight is a push under way on its own goroutine (Config.Overlap).
type flight[Out any] struct {
	group []Out
	cost  int // tokens of room it holds
	err   error
	done  chan struct{} // closed once PushGroup returned and err is set
}

type item[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{} // closed by the worker once out and err are set
}

// New starts a queue. Its goroutines stop when ctx is cancelled, when the
// queue fails, or when Close has drained it. New panics if cfg is invalid
// (see Config.Validate).
func New[In, Out any](ctx context.Context, cfg Config[In, Out]) *Queue[In, Out] {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	q := &Queue[In, Out]{
		cfg:      cfg,
		slots:    make(chan struct{}, cfg.MaxPending),
		jobs:     make(chan *item[In, Out], cfg.MaxPending),
		order:    make(chan *item[In, Out], cfg.MaxPending),
		finished: make(chan struct{}),
	}
	if cfg.Overlap != nil {
		q.room = make(chan struct{}, maxFlights)
		q.flights = make(chan *flight[Out], maxFlights)
	}
	q.ctx, q.cancel = context.WithCancelCause(ctx)
	go q.run()
	return q
}

// maxFlights is the most pushes under way at once with Config.Overlap.
const maxFlights = 2

// run owns the parse workers and runs the push loop; its exit, once the
// workers have exited too, closes finished.
func (q *Queue[In, Out]) run() {
	defer close(q.finished)
	var workers errgroup.Group
	for range q.cfg.Workers {
		workers.Go(q.parseLoop)
	}
	var acked chan error
	if q.flights != nil {
		acked = make(chan error, 1)
		go func() { acked <- q.ackLoop() }()
	}
	err := q.pushLoop()
	if acked != nil {
		// The pushes under way end (cancelled, when the queue failed),
		// and the ack loop acks them in order or reports the first
		// error, which comes before the push loop's in item order.
		close(q.flights)
		if aerr := <-acked; aerr != nil {
			err = aerr
		}
	}
	if err != nil {
		q.cancel(err)
	} else {
		q.cancel(ErrClosed)
	}
	_ = workers.Wait() // workers always return nil; their errors travel with the items
}

func (q *Queue[In, Out]) parseLoop() error {
	done := q.ctx.Done()
	for {
		select {
		case <-done:
			return nil
		case it, ok := <-q.jobs:
			if !ok {
				return nil
			}
			it.out, it.err = q.cfg.Parse(q.ctx, it.in)
			close(it.done)
		}
	}
}

func (q *Queue[In, Out]) pushLoop() error {
	if q.cfg.PushGroup != nil {
		return q.groupLoop()
	}
	done := q.ctx.Done()
	for {
		var it *item[In, Out]
		select {
		case <-done:
			return context.Cause(q.ctx)
		case next, ok := <-q.order:
			if !ok {
				return nil
			}
			it = next
		}
		select {
		case <-done:
			return context.Cause(q.ctx)
		case <-it.done:
		}
		if it.err != nil {
			return it.err
		}
		if q.ctx.Err() != nil {
			return context.Cause(q.ctx)
		}
		if err := q.cfg.Push(q.ctx, it.out); err != nil {
			return err
		}
		if q.cfg.Ack != nil {
			if err := q.cfg.Ack(it.out); err != nil {
				return err
			}
		}
		<-q.slots
	}
}

// groupLoop is the push loop with PushGroup: it takes the next item, adds
// the items after it that are parsed (waiting up to Linger for them) until
// the group is Full, pushes the group and acks its items.
func (q *Queue[In, Out]) groupLoop() error {
	done := q.ctx.Done()
	var held *item[In, Out] // taken from order, not yet pushed
	var group []Out
	for {
		it := held
		held = nil
		if it == nil {
			select {
			case <-done:
				return context.Cause(q.ctx)
			case next, ok := <-q.order:
				if !ok {
					return nil
				}
				it = next
			}
		}
		select {
		case <-done:
			return context.Cause(q.ctx)
		case <-it.done:
		}
		if it.err != nil {
			return it.err
		}
		group = append(group[:0], it.out)
		var linger <-chan time.Time
		var timer *time.Timer
		if q.cfg.Linger > 0 {
			timer = time.NewTimer(q.cfg.Linger)
			linger = timer.C
		}
		closed := false
	collect:
		for !closed && !q.cfg.Full(group) {
			// The next item, when one was added (or while lingering).
			var next *item[In, Out]
			select {
			case n, ok := <-q.order:
				next, closed = n, !ok
			default:
				if linger == nil {
					break collect
				}
				select {
				case n, ok := <-q.order:
					next, closed = n, !ok
				case <-linger:
					break collect
				case <-done:
					return context.Cause(q.ctx)
				}
			}
			if next == nil {
				break
			}
			held = next
			// Its parse, when done (or while lingering).
			select {
			case <-next.done:
			default:
				if linger == nil {
					break collect
				}
				select {
				case <-next.done:
				case <-linger:
					break collect
				case <-done:
					return context.Cause(q.ctx)
				}
			}
			if next.err != nil {
				break
			}
			group = append(group, next.out)
			held = nil
		}
		if timer != nil {
			timer.Stop()
		}
		if q.ctx.Err() != nil {
			return context.Cause(q.ctx)
		}
		if err := q.deliver(group); err != nil {
			return err
		}
		if closed && held == nil {
			return nil
		}
	}
}

// deliver pushes group and acks its items; with Config.Overlap, it starts
// the push on a goroutine of its own, once there is room, and leaves the
// acks to the ack loop.
func (q *Queue[In, Out]) deliver(group []Out) error {
	if q.flights == nil {
		if err := q.cfg.PushGroup(q.ctx, group); err != nil {
			return err
		}
		for _, out := range group {
			if q.cfg.Ack != nil {
				if err := q.cfg.Ack(out); err != nil {
					return err
				}
			}
			<-q.slots
		}
		return nil
	}
	f := &flight[Out]{group: slices.Clone(group), cost: maxFlights, done: make(chan struct{})}
	if q.cfg.Overlap(f.group) {
		f.cost = 1
	}
	done := q.ctx.Done()
	for range f.cost {
		select {
		case q.room <- struct{}{}:
		case <-done:
			// The tokens taken are freed with the queue.
			return context.Cause(q.ctx)
		}
	}
	if q.ctx.Err() != nil {
		return context.Cause(q.ctx)
	}
	q.flights <- f // never blocks: each flight holds room
	go func() {
		defer close(f.done)
		f.err = q.cfg.PushGroup(q.ctx, f.group)
	}()
	return nil
}

// ackLoop waits for the pushes under way in their order, acks the items of
// each, and frees its room. The first error stops the queue at once (the
// pushes still under way are cancelled); it waits for every push all the
// same, until the push loop has exited and closed flights.
func (q *Queue[In, Out]) ackLoop() error {
	var err error
	for f := range q.flights {
		<-f.done
		if err == nil {
			err = f.err
			for _, out := range f.group {
				if err != nil {
					break
				}
				if q.cfg.Ack != nil {
					err = q.cfg.Ack(out)
				}
				if err == nil {
					<-q.slots
				}
			}
			if err != nil {
				q.cancel(err)
			}
		}
		for range f.cost {
			<-q.room
		}
	}
	return err
}

// Add queues in, blocking while MaxPending items are pending. It returns
// ctx.Err() if ctx is done first, the queue's error once the queue has
// failed or was cancelled, and ErrClosed after Close. When Add returns an
// error, in was not added.
func (q *Queue[In, Out]) Add(ctx context.Context, in In) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.ctx.Err() != nil {
		return q.stopErr()
	}
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-q.ctx.Done():
		return q.stopErr()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		<-q.slots
		return ErrClosed
	}
	if q.ctx.Err() != nil {
		<-q.slots
		return q.stopErr()
	}
	it := &item[In, Out]{in: in, done: make(chan struct{})}
	q.jobs <- it
	q.order <- it
	return nil
}

// Close stops Add and waits until every added item is pushed and acked,
// the queue fails, or ctx is done. When ctx is done first, Close cancels
// the work in flight (the queue's error becomes ctx.Err()). It returns the
// queue's error once all its goroutines have exited. Close may be called
// more than once.
func (q *Queue[In, Out]) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
		close(q.order)
	}
	q.mu.Unlock()
	select {
	case <-q.finished:
		return q.Err()
	default:
	}
	select {
	case <-q.finished:
	case <-ctx.Done():
		q.cancel(ctx.Err())
		<-q.finished
	}
	return q.Err()
}

// Err returns the error that stopped the queue, or nil while it runs and
// after it was closed and drained.
func (q *Queue[In, Out]) Err() error {
	if q.ctx.Err() == nil {
		return nil
	}
	if err := context.Cause(q.ctx); err != ErrClosed {
		return err
	}
	return nil
}

// Context returns the context Parse and Push run under. It is done once the
// queue has stopped (failed, cancelled, or closed and drained), so a caller
// can use it to stop waiting on something only the queue's progress would
// provide. When it is done and Err returns nil, the queue was closed and
// drained: every Push and Ack has returned and none will run again.
func (q *Queue[In, Out]) Context() context.Context { return q.ctx }

// stopErr is what Add returns once the queue has stopped.
func (q *Queue[In, Out]) stopErr() error {
	if err := q.Err(); err != nil {
		return err
	}
	return ErrClosed
}
