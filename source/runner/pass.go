package runner

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// pass is one run of the workers over one feed.
type pass struct {
	r        *Runner
	ctx      context.Context // reading
	writeCtx context.Context // writing
	p        pusher.Pusher

	// dispatch is cancelled to stop taking files (abort, a service down,
	// the async pusher stopped).
	dispatch     context.Context
	stopDispatch context.CancelFunc
	pending      chan Task    // wanted, to be claimed and started
	files        chan *flight // started, to be loaded
	// fetchSlots holds a token per body fetched ahead and not yet closed
	// (nil: no fetching ahead).
	fetchSlots chan struct{}
	// fetches is the queue of GETs started ahead, run by FetchAhead
	// goroutines that live as long as the pass (a goroutine per GET
	// would grow a new stack through the SDK's middleware every time).
	fetches chan func()

	mu          sync.Mutex
	flights     map[string]*flight     // by Object.ID
	asking      map[string]*lookup     // by Object.ID: lookups under way
	bases       map[string]*resumeBase // by Object.ID, sent and not yet started (OnChangeResume)
	removals    sync.WaitGroup         // removals under way (--delete-on-remove)
	actions     sync.WaitGroup         // after-load actions under way
	errs        []error                // failed files
	unavailable error                  // the first unavailable service
	aborted     atomic.Bool
	// once: no later pass retries what this one leaves (a snapshot).
	once bool
}

// flight is a file being loaded in a pass, with the tasks waiting for it.
type flight struct {
	obj      pusher.Object
	tasks    []Task
	attempts int             // as state.Start counted them
	pos      pusher.Position // committed, where loading resumes
	release  func()          // frees the state claim
	fetch    *fetch          // its GET, started ahead
	began    time.Time       // when its load began
	// ended is closed once the flight ended (a removal of its key waits
	// for it).
	ended chan struct{}
	// base, under OnChangeResume, is the version of the key it may
	// continue.
	base *resumeBase
}

// startGroup is the most files claimed and started in one step.
const startGroup = 64

// Pass loads every file fd sends that is not done, reading under ctx and
// writing under writeCtx (which outlives ctx by the shutdown timeout, so
// that chunks already pushed commit on a graceful stop). Every task's Done
// is called exactly once before Pass returns. It returns an error when the
// feed fails or a service was unavailable (Summary.Unavailable); failed
// files are counted in the summary.
func (r *Runner) Pass(ctx, writeCtx context.Context, fd Feed) (Summary, error) {
	return r.pass(ctx, writeCtx, fd, false)
}

// pass is Pass; once says that no later pass follows (a snapshot), for
// the log lines.
func (r *Runner) pass(ctx, writeCtx context.Context, fd Feed, once bool) (Summary, error) {
	start := time.Now()
	before := r.counts()
	ps := &pass{r: r, ctx: ctx, writeCtx: writeCtx, flights: map[string]*flight{}, once: once,
		pending: make(chan Task, startGroup), files: make(chan *flight, max(r.opts.Workers, r.opts.FetchAhead))}
	if r.opts.FetchAhead > 0 {
		ps.fetchSlots = make(chan struct{}, r.opts.FetchAhead)
		ps.fetches = make(chan func(), r.opts.FetchAhead)
		for range r.opts.FetchAhead {
			go func() {
				for fn := range ps.fetches {
					fn()
				}
			}()
		}
		// Fetches are queued by the start loop only, which has returned
		// when Pass does; the goroutines finish the queue and exit.
		defer close(ps.fetches)
	}
	ps.dispatch, ps.stopDispatch = context.WithCancel(ctx)
	defer ps.stopDispatch()
	var async *pusher.Async
	if r.opts.Async {
		async = pusher.NewAsync(writeCtx, pusher.AsyncConfig{Target: r.target, Progress: observedProgress{r},
			Pipeline: r.pipeline, InflightBytes: r.opts.InflightBytes,
			GroupRows: r.load.Format.BatchRows, GroupBytes: int64(r.load.Format.BatchBytes),
			GroupChunks: r.opts.GroupFiles, Linger: r.opts.GroupLinger, Overlap: r.opts.OverlapWrites, Wrote: r.wrote})
		ps.p = async
		r.async.Store(async)
		defer r.async.CompareAndSwap(async, nil)
		// A write that stops the queue stops taking files too (a feed that
		// never ends on its own, such as a queue, ends the pass).
		defer context.AfterFunc(async.Context(), ps.stopDispatch)()
	} else {
		ps.p = pusher.NewSync(r.target, r.state, r.pipeline)
	}
	var wg, sweep sync.WaitGroup
	sweepDone := make(chan struct{})
	if r.after != nil {
		sweep.Go(func() { ps.sweepAfterLoads(sweepDone) })
	}
	for range r.opts.Workers {
		wg.Go(ps.work)
	}
	wg.Go(ps.startLoop)
	feedErr := fd(ps.dispatch, ps.send)
	close(ps.pending)
	wg.Wait()
	if async != nil {
		// Every chunk pushed is written and acked, or the queue stopped:
		// Close completes the files it still held.
		if err := async.Close(writeCtx); err != nil && ctx.Err() == nil && pusher.ClassOf(err) != pusher.ClassUnavailable {
			r.log.Warn().Msg(err.Error())
		}
	}
	// Files still in flight did not finish: they resume later.
	ps.mu.Lock()
	left := make([]*flight, 0, len(ps.flights))
	for _, f := range ps.flights {
		left = append(left, f)
	}
	ps.mu.Unlock()
	for _, f := range left {
		ps.end(f, Result{Outcome: Retry})
	}
	ps.removals.Wait()
	close(sweepDone)
	sweep.Wait()
	ps.actions.Wait()
	var sum Summary
	r.summary(&sum, before, start)
	sum.Aborted = ps.aborted.Load()
	sum.Errors = ps.errs
	if errors.Is(feedErr, ErrStopped) || (feedErr != nil && ctx.Err() != nil) {
		feedErr = nil
	}
	if feedErr != nil {
		return sum, feedErr
	}
	if ps.unavailable != nil {
		sum.Unavailable = true
		return sum, ps.unavailable
	}
	return sum, nil
}

// lookupError is a Send's failed progress lookup: a state error, not the
// feed's.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return "look up progress: " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// lookup is a Send's progress lookup under way: another Send asking for
// one of its versions waits for its answer instead of asking again.
type lookup struct {
	done     chan struct{} // closed when progress and err are set
	progress map[string]state.Progress
	err      error
}

// send is the pass's Send. Versions the runner knows are done are
// skipped without a query, versions loading in this pass join their load
// without one, and versions another Send is looking up wait for its
// answer (a duplicate notification costs no query); the others are
// looked up in one.
func (ps *pass) send(ctx context.Context, tasks []Task) error {
	r := ps.r
	var ask []pusher.Object
	loads := tasks[:0:0]
	for _, t := range tasks {
		if t.Remove {
			if ps.dispatch.Err() != nil {
				t.done(Result{Outcome: Retry})
				continue
			}
			ps.remove(t)
		} else {
			loads = append(loads, t)
		}
	}
	tasks = loads
	mine := &lookup{done: make(chan struct{})}
	var others []*lookup
	ps.mu.Lock()
	for _, t := range tasks {
		id := t.Object.ID()
		switch l := ps.asking[id]; {
		case r.done.has(id) || ps.flights[id] != nil || l == mine:
		case l != nil:
			if !slices.Contains(others, l) {
				others = append(others, l)
			}
		default:
			if ps.asking == nil {
				ps.asking = map[string]*lookup{}
			}
			ps.asking[id] = mine
			ask = append(ask, t.Object)
		}
	}
	ps.mu.Unlock()
	var progress map[string]state.Progress
	var err error
	if len(ask) > 0 {
		progress, err = r.state.Lookup(ctx, r.pipeline, ask)
		r.stateRoundTrip(err)
		for id, p := range progress {
			if err == nil && p.Status == state.Done {
				r.done.add(id)
			}
		}
		mine.progress, mine.err = progress, err
		ps.mu.Lock()
		for _, o := range ask {
			delete(ps.asking, o.ID())
		}
		ps.mu.Unlock()
		close(mine.done)
	}
	for _, l := range others {
		if err != nil {
			break
		}
		select {
		case <-l.done:
		case <-ctx.Done():
			err = ctx.Err()
			continue
		}
		if err = l.err; err == nil {
			progress = merged(progress, l.progress)
		}
	}
	if err != nil {
		for _, t := range tasks {
			t.done(Result{Outcome: Retry, Err: err})
		}
		return &lookupError{err}
	}
	var want []Task
	for _, t := range tasks {
		if r.done.has(t.Object.ID()) || !r.wanted(t.Object, progress) {
			r.Skipped.Add(1)
			r.obs.FileEnded(t.Object, FileSkipped, 0)
			t.done(Result{Outcome: Loaded})
			continue
		}
		if b := r.resumeBase(t.Object, progress); b != nil {
			ps.mu.Lock()
			if ps.bases == nil {
				ps.bases = map[string]*resumeBase{}
			}
			ps.bases[t.Object.ID()] = b
			ps.mu.Unlock()
		}
		want = append(want, r.inBacklog(t))
	}
	for i, t := range want {
		if ps.dispatch.Err() == nil {
			select {
			case ps.pending <- t:
				continue
			case <-ps.dispatch.Done():
			}
		}
		for _, t := range want[i:] {
			t.done(Result{Outcome: Retry})
		}
		return ErrStopped
	}
	return nil
}

// merged is a and b in one map (a itself when b adds nothing).
func merged(a, b map[string]state.Progress) map[string]state.Progress {
	if len(b) == 0 {
		return a
	}
	m := make(map[string]state.Progress, len(a)+len(b))
	maps.Copy(m, a)
	maps.Copy(m, b)
	return m
}

// inBacklog counts t in the backlog until it ends.
func (r *Runner) inBacklog(t Task) Task {
	r.Backlog.Add(1)
	r.WantedBytes.Add(t.Object.Size)
	done := t.Done
	t.Done = func(res Result) {
		r.Backlog.Add(-1)
		if done != nil {
			done(res)
		}
	}
	return t
}

// startLoop claims and starts the files sent, several in one step when
// several wait (state.GroupClaimer, state.GroupStarter), and hands them to
// the workers, until the feed ends.
func (ps *pass) startLoop() {
	defer close(ps.files)
	for t := range ps.pending {
		batch := []Task{t}
	more:
		for len(batch) < startGroup {
			select {
			case t, ok := <-ps.pending:
				if !ok {
					break more
				}
				batch = append(batch, t)
			default:
				break more
			}
		}
		ps.start(batch)
	}
}

// work loads the files started, until the feed ends. Once the pass stops
// for a service that is down, or is cancelled, the files not yet read end
// to be retried; after OnErrorAbort the files already started still load
// (no file starts after the failure is known).
func (ps *pass) work() {
	for f := range ps.files {
		ps.mu.Lock()
		down := ps.unavailable != nil
		ps.mu.Unlock()
		if ps.ctx.Err() != nil || down || (ps.dispatch.Err() != nil && !ps.aborted.Load()) {
			ps.end(f, Result{Outcome: Retry}) // stopping: drain
			continue
		}
		ps.load(f)
	}
}

// end ends f with res: the claim is freed and every task told.
func (ps *pass) end(f *flight, res Result) {
	ps.mu.Lock()
	if ps.flights[f.obj.ID()] != f {
		ps.mu.Unlock()
		return // ended already
	}
	delete(ps.flights, f.obj.ID())
	ps.mu.Unlock()
	ps.r.flying.Add(-1)
	close(f.ended)
	if f.fetch != nil {
		f.fetch.discard()
	}
	if f.release != nil {
		f.release()
	}
	for _, t := range f.tasks {
		t.done(res)
	}
}

// retryNote ends the log line of a file left to be retried.
func (ps *pass) retryNote() string {
	if ps.once {
		return " (not loaded; the next run resumes it)"
	}
	return " (will retry)"
}

// wrote is the async pusher's Wrote: a transaction's write returned.
func (r *Runner) wrote(took time.Duration, err error) {
	r.stateRoundTrip(err)
	if err == nil {
		r.obs.Committed(took)
	}
}

// observedProgress is the state store as the async pusher records
// progress with it, its round trips told to the observer.
type observedProgress struct{ r *Runner }

func (p observedProgress) Advance(ctx context.Context, pipeline string, c *pusher.Chunk) error {
	err := p.r.state.Advance(ctx, pipeline, c)
	p.r.stateRoundTrip(err)
	return err
}

// AdvanceGroup implements pusher.GroupProgress, in one step when the
// state store can.
func (p observedProgress) AdvanceGroup(ctx context.Context, pipeline string, cs []*pusher.Chunk) error {
	var err error
	if gp, ok := p.r.state.(pusher.GroupProgress); ok {
		err = gp.AdvanceGroup(ctx, pipeline, cs)
	} else {
		for _, c := range cs {
			if err = p.r.state.Advance(ctx, pipeline, c); err != nil {
				break
			}
		}
	}
	p.r.stateRoundTrip(err)
	return err
}

// stop stops dispatching new files because of err: OnErrorAbort after a
// failed file, or a service that is unavailable (the caller backs off).
func (ps *pass) stop(err error, unavailable bool) {
	ps.mu.Lock()
	if unavailable && ps.unavailable == nil {
		ps.unavailable = err
	}
	ps.mu.Unlock()
	if !unavailable {
		ps.aborted.Store(true)
	}
	ps.stopDispatch()
}
