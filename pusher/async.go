package pusher

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/ferrydata/ferry/parsequeue"
)

// Defaults of AsyncConfig.
const (
	DefaultInflightBytes  = 64 << 20
	DefaultInflightChunks = 1024
)

// AsyncConfig configures an Async pusher.
type AsyncConfig struct {
	Target Target
	// State records progress after each write when the target does not
	// commit progress itself; it is not used otherwise.
	State    Progress
	Pipeline string
	// InflightBytes is the budget of pushed, un-acked chunk bytes (default
	// 64 MiB). A chunk larger than the budget takes all of it and passes
	// alone.
	InflightBytes int64
	// InflightChunks bounds the number of pushed, un-acked chunks (default
	// 1024), which the byte budget cannot do for chunks of no records.
	InflightChunks int
	// Done, when set, is called once a file's last chunk is acked: the file
	// is durably complete. It runs on the queue's goroutine, between writes,
	// so it should be quick, and must not call Push.
	Done func(obj Object)
	// FileError, when set, tells a write error that concerns only the
	// chunk's file (bad data) from one that stops the queue (the target is
	// unavailable, the pusher is stopping). After a file error the queue
	// goes on: the file's later chunks are dropped, its Push returns the
	// error, and Failed is called once nothing of it is pending and its
	// reader has stopped (its last chunk was pushed, or Abandon).
	FileError func(error) bool
	// Failed is called, like Done, for a file whose write failed with a
	// file error; its committed progress no longer moves.
	Failed func(obj Object, err *WriteError)
}

// Validate reports a missing Target, or a missing State when the target
// does not commit progress itself.
func (c AsyncConfig) Validate() error {
	if c.Target == nil {
		return errors.New("async pusher: no target")
	}
	if c.State == nil && !c.Target.CommitsProgress() {
		return fmt.Errorf("async pusher: target %s does not commit progress and there is no state store", c.Target)
	}
	return nil
}

// Async queues chunks and writes them on one goroutine, in push order.
// Push returns once the chunk is queued. After each write (and the state
// update, when the pusher keeps it) the queue acks the chunk: Ack drops it
// from its file's pending set, releases its batch and budget, and reports
// the file done (calling AsyncConfig.Done) once its last chunk is acked.
//
// Writes of all files go through one ordered queue, so the first failed
// write stops every file: nothing after it is written or acked, and Push
// and Close return the error. A file whose chunks stop coming without a
// last chunk (its read failed or was cancelled) is never reported done;
// call Abandon so that it is forgotten.
//
// Close drains the queue, then releases the chunks never acked.
type Async struct {
	cfg    AsyncConfig
	budget *semaphore.Weighted
	q      *parsequeue.Queue[*Chunk, *Chunk]

	mu     sync.Mutex
	files  map[string]*fileProgress // by state.ID
	closed bool
}

var _ Pusher = (*Async)(nil)

// fileProgress is what the pusher knows of one file in flight.
type fileProgress struct {
	obj       Object
	pending   map[int]*pendingChunk // by Chunk.Seq
	last      bool                  // the last chunk was pushed
	abandoned bool
	then      func()      // AbandonThen's callback, run once the file is forgotten
	failed    *WriteError // a write of the file failed with a file error
}

type pendingChunk struct {
	c       *Chunk
	cost    int64 // budget held
	written bool  // written (and progress recorded): ackable
}

// NewAsync starts an async pusher; it stops when ctx is cancelled. It
// panics if cfg is invalid (see AsyncConfig.Validate).
func NewAsync(ctx context.Context, cfg AsyncConfig) *Async {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.InflightBytes <= 0 {
		cfg.InflightBytes = DefaultInflightBytes
	}
	if cfg.InflightChunks <= 0 {
		cfg.InflightChunks = DefaultInflightChunks
	}
	a := &Async{
		cfg:    cfg,
		budget: semaphore.NewWeighted(cfg.InflightBytes),
		files:  make(map[string]*fileProgress),
	}
	a.q = parsequeue.New(ctx, parsequeue.Config[*Chunk, *Chunk]{
		Workers: 1,
		// Chunks arrive parsed: the reader built the batch.
		Parse:      func(_ context.Context, c *Chunk) (*Chunk, error) { return c, nil },
		Push:       a.write,
		Ack:        func(c *Chunk) error { _, err := a.Ack(c); return err },
		MaxPending: cfg.InflightChunks,
	})
	return a
}

// Push implements Pusher. It waits for budget (the chunk's bytes, capped
// at the whole budget), records the chunk as pending for its file and
// queues it; it does not wait for the write. It returns ctx.Err() if ctx
// is done first, and the queue's error once a write has failed. Whatever
// it returns, the pusher owns c and releases it; the caller must not use
// c after Push, not even its Rejects, which the target may still change.
func (a *Async) Push(ctx context.Context, c *Chunk) error {
	if err := a.q.Err(); err != nil {
		c.Release()
		return err
	}
	cost := min(c.Bytes(), a.cfg.InflightBytes)
	if err := a.acquire(ctx, cost); err != nil {
		c.Release()
		return err
	}
	p := &pendingChunk{c: c, cost: cost}
	if err := a.track(p); err != nil {
		a.release(p)
		return err
	}
	if err := a.q.Add(ctx, c); err != nil {
		if a.untrack(c) {
			a.release(p)
		}
		return err
	}
	return nil
}

// acquire takes n bytes of budget, waiting until ctx is done or the queue
// stops (then nothing would free budget).
func (a *Async) acquire(ctx context.Context, n int64) error {
	if a.budget.TryAcquire(n) {
		return nil
	}
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.q.Context(), cancel)
	defer stop()
	if err := a.budget.Acquire(wait, n); err != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.q.Err(); err != nil {
			return err
		}
		return parsequeue.ErrClosed
	}
	return nil
}

// track records p as pending for its file.
func (a *Async) track(p *pendingChunk) error {
	c := p.c
	id := c.File.ID()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return parsequeue.ErrClosed
	}
	f := a.files[id]
	if f == nil {
		f = &fileProgress{obj: c.File, pending: make(map[int]*pendingChunk)}
		a.files[id] = f
	}
	switch {
	case f.failed != nil:
		return f.failed
	case f.abandoned:
		return fmt.Errorf("push %q chunk %d: an abandoned read of the file still has chunks in flight", c.File.Key, c.Seq)
	case f.last:
		return fmt.Errorf("push %q chunk %d: pushed after the file's last chunk", c.File.Key, c.Seq)
	case f.pending[c.Seq] != nil:
		return fmt.Errorf("push %q chunk %d: already pending", c.File.Key, c.Seq)
	}
	f.pending[c.Seq] = p
	f.last = c.Last
	return nil
}

// untrack removes c from its file's pending set, reporting whether it was
// there (whoever removes a chunk releases it).
func (a *Async) untrack(c *Chunk) bool {
	id := c.File.ID()
	a.mu.Lock()
	f := a.files[id]
	if f == nil || f.pending[c.Seq] == nil {
		a.mu.Unlock()
		return false
	}
	delete(f.pending, c.Seq)
	if c.Last {
		f.last = false
	}
	var then func()
	if len(f.pending) == 0 && !f.last {
		delete(a.files, id)
		then = f.then
	}
	a.mu.Unlock()
	if then != nil {
		then()
	}
	return true
}

// release gives back p's batch, then its budget.
func (a *Async) release(p *pendingChunk) {
	p.c.Release()
	a.budget.Release(p.cost)
}

// WriteError is the failure that stopped the queue: writing a chunk of File
// (or recording its progress) failed.
type WriteError struct {
	File Object
	Err  error
}

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// write is the queue's Push: it writes the chunk, then records progress
// when the target does not.
func (a *Async) write(ctx context.Context, c *Chunk) error {
	a.mu.Lock()
	if f := a.files[c.File.ID()]; f != nil && f.failed != nil {
		// An earlier chunk of the file failed: drop this one.
		if p := f.pending[c.Seq]; p != nil && p.c == c {
			p.written = true
		}
		a.mu.Unlock()
		return nil
	}
	a.mu.Unlock()
	if err := a.cfg.Target.Write(ctx, c); err != nil {
		we := &WriteError{File: c.File, Err: fmt.Errorf("write %q chunk %d: %w", c.File.Key, c.Seq, err)}
		if a.cfg.FileError == nil || !a.cfg.FileError(err) {
			return we
		}
		a.mu.Lock()
		if f := a.files[c.File.ID()]; f != nil {
			f.failed = we
			if p := f.pending[c.Seq]; p != nil && p.c == c {
				p.written = true
			}
		}
		a.mu.Unlock()
		return nil
	}
	if !a.cfg.Target.CommitsProgress() {
		if err := a.cfg.State.Advance(ctx, a.cfg.Pipeline, c); err != nil {
			return &WriteError{File: c.File, Err: fmt.Errorf("record progress of %q chunk %d: %w", c.File.Key, c.Seq, err)}
		}
	}
	a.mu.Lock()
	if f := a.files[c.File.ID()]; f != nil {
		if p := f.pending[c.Seq]; p != nil && p.c == c {
			p.written = true
		}
	}
	a.mu.Unlock()
	return nil
}

// Ack implements Pusher. The queue calls it after each write; a caller
// need not (and a second Ack of the same chunk is an error). It removes the
// chunk from its file's pending set, releases the chunk's batch and
// budget, and reports fileDone once the file's last chunk was pushed and
// nothing of the file is pending; then it forgets the file and calls
// AsyncConfig.Done. Acking a chunk that is unknown, already acked or not
// yet written is an error.
func (a *Async) Ack(c *Chunk) (fileDone bool, err error) {
	id := c.File.ID()
	a.mu.Lock()
	f := a.files[id]
	var p *pendingChunk
	if f != nil {
		p = f.pending[c.Seq]
	}
	switch {
	case p == nil:
		a.mu.Unlock()
		return false, fmt.Errorf("ack %q chunk %d: not pending (unknown or already acked)", c.File.Key, c.Seq)
	case !p.written:
		a.mu.Unlock()
		return false, fmt.Errorf("ack %q chunk %d: not written yet", c.File.Key, c.Seq)
	}
	delete(f.pending, c.Seq)
	var then func()
	var failed *WriteError
	if len(f.pending) == 0 && (f.last || f.abandoned) {
		fileDone = f.last && !f.abandoned && f.failed == nil
		then, failed = f.then, f.failed
		delete(a.files, id)
	}
	a.mu.Unlock()
	a.release(p)
	if fileDone && a.cfg.Done != nil {
		a.cfg.Done(c.File)
	}
	a.finish(c.File, then, failed)
	return fileDone, nil
}

// Abandon tells the pusher that no more chunks of obj's current read will
// come (the read failed or was cancelled): the file will not be reported
// done, and the pusher forgets it once its pushed chunks are acked (or at
// once if none is pending). Until then a new read of the same file version
// cannot be pushed. Abandon has no effect once the file's last chunk was
// pushed: the file completes normally.
func (a *Async) Abandon(obj Object) { a.AbandonThen(obj, nil) }

// AbandonThen is Abandon, and calls then once the pusher has forgotten the
// file: at once when nothing of it is pending, else after its last pending
// chunk is acked or dropped (by Close). Then the file's committed progress
// no longer moves, and its failure can be recorded. It reports false, and
// does not call then, when the pusher reports the file itself: its last
// chunk was already pushed (AsyncConfig.Done), or a write of it failed
// (AsyncConfig.Failed).
func (a *Async) AbandonThen(obj Object, then func()) bool {
	id := obj.ID()
	a.mu.Lock()
	f := a.files[id]
	switch {
	case f != nil && f.last:
		a.mu.Unlock()
		return false
	case f != nil && f.failed != nil:
		f.abandoned = true
		failed := f.failed
		if len(f.pending) > 0 {
			a.mu.Unlock()
			return false
		}
		delete(a.files, id)
		a.mu.Unlock()
		a.finish(obj, nil, failed)
		return false
	case f == nil:
	case len(f.pending) == 0:
		delete(a.files, id)
	default:
		f.abandoned = true
		f.then = then
		a.mu.Unlock()
		return true
	}
	a.mu.Unlock()
	if then != nil {
		then()
	}
	return true
}

// finish runs what waits for a forgotten file.
func (a *Async) finish(obj Object, then func(), failed *WriteError) {
	if failed != nil && a.cfg.Failed != nil {
		a.cfg.Failed(obj, failed)
	}
	if then != nil {
		then()
	}
}

// Close stops Push and drains the queue: it waits until every pushed chunk
// is written and acked, a write fails, or ctx is done (then the write in
// flight is cancelled). Chunks never acked are released. It returns the
// first error: the failed write, ctx.Err(), or the cancellation of the
// context given to NewAsync.
func (a *Async) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	err := a.q.Close(ctx)
	// The queue's goroutines have exited: nothing uses the chunks left.
	var left []*pendingChunk
	var forgotten []*fileProgress
	a.mu.Lock()
	for id, f := range a.files {
		for _, p := range f.pending {
			left = append(left, p)
		}
		if f.then != nil || f.failed != nil {
			forgotten = append(forgotten, f)
		}
		delete(a.files, id)
	}
	a.mu.Unlock()
	for _, p := range left {
		a.release(p)
	}
	for _, f := range forgotten {
		a.finish(f.obj, f.then, f.failed)
	}
	return err
}

// Context is done once the pusher stops: a write failed, or the context
// given to NewAsync was cancelled.
func (a *Async) Context() context.Context { return a.q.Context() }

// Err returns the error that stopped the pusher, or nil.
func (a *Async) Err() error { return a.q.Err() }

// Files returns the number of files the pusher tracks: pushed and not yet
// done or forgotten. For metrics and tests.
func (a *Async) Files() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.files)
}
