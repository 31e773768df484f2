package pusher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ferrydata/ferry/parsequeue"
)

// Defaults of AsyncConfig.
const (
	DefaultInflightBytes  = 64 << 20
	DefaultInflightChunks = 1024
	DefaultGroupRows      = 100_000
	DefaultGroupBytes     = 8 << 20
	DefaultGroupChunks    = 500
	DefaultLinger         = 5 * time.Millisecond
)

// AsyncConfig configures an Async pusher.
type AsyncConfig struct {
	Target Target
	// Progress records progress after each write when the target does not
	// commit progress itself; it is not used otherwise.
	Progress Progress
	Pipeline string
	// InflightBytes is the budget of pushed, un-acked chunk bytes (default
	// 64 MiB). A chunk larger than the budget takes all of it and passes
	// alone.
	InflightBytes int64
	// InflightChunks bounds the number of pushed, un-acked chunks (default
	// 1024), which the byte budget cannot do for chunks of no records.
	InflightChunks int
	// A group (chunks of different files committed together, with a
	// GroupTarget) is full at GroupRows records, GroupBytes bytes or
	// GroupChunks chunks (defaults 100,000, 8 MiB, 500); while it is not,
	// it waits up to Linger (default 5ms; negative: not at all) for more.
	// GroupChunks 1 writes every chunk in its own transaction.
	GroupRows   int
	GroupBytes  int64
	GroupChunks int
	Linger      time.Duration
	// Overlap writes the consecutive chunks of a big file two at a time
	// when the target is a pusher.OverlapTarget that commits progress: the
	// write of a chunk alone in its group starts while the group before
	// it is still being written, and commits after it. Groups of several
	// chunks (small files) are written alone.
	Overlap bool
	// Wrote, when set, is told of every write of a transaction (a group of
	// chunks, or one chunk) once it returned: how long it took and its
	// error (metrics).
	Wrote func(took time.Duration, err error)
}

// Validate reports a missing Target, or a missing Progress when the target
// does not commit progress itself.
func (c AsyncConfig) Validate() error {
	if c.Target == nil {
		return errors.New("async pusher: no target")
	}
	if c.Progress == nil && !c.Target.CommitsProgress() {
		return fmt.Errorf("async pusher: target %s does not commit progress and there is no progress store", c.Target)
	}
	return nil
}

// Async queues chunks and writes them in push order, one group at a time
// (with Overlap, two chunks of big files at a time, each committing after
// the one before). Push returns once the chunk is queued. After each write (and the
// progress update, when the pusher keeps it) the queue acks the chunk: it
// drops it from its file's pending set and releases its batch and budget.
// A file completes (Finish's done) once its reader has finished and
// nothing of it is pending.
//
// A write that fails with a data error (ClassOf is ClassData: a value the
// target refuses) fails only its file: the file's later chunks are
// dropped, its next Push returns the error, and its done gets it. Any
// other failed write stops the queue (the target is unavailable, the
// pusher is stopping): nothing after it is written or acked, Push and
// Close return the error, and Close completes every finished file with it.
//
// Close drains the queue, then releases the chunks never acked.
type Async struct {
	cfg    AsyncConfig
	budget *semaphore.Weighted
	held   atomic.Int64 // budget taken
	q      *parsequeue.Queue[*Chunk, *Chunk]

	// overlap: the target writes a chunk while the one before it is
	// being written (AsyncConfig.Overlap, when the target can).
	overlap OverlapTarget

	mu     sync.Mutex
	files  map[string]*fileProgress // by Object.ID
	closed bool
}

var _ Pusher = (*Async)(nil)

// fileProgress is what the pusher knows of one file in flight.
type fileProgress struct {
	obj     Object
	pending map[int]*pendingChunk // by Chunk.Seq
	last    bool                  // the last chunk was pushed
	rejects rejectCount
	// failed: a write of the file failed with a data error; its later
	// chunks are dropped.
	failed error
	// readErr: why its read stopped (Finish); its pending chunks are still
	// written.
	readErr error
	// done is Finish's callback; set once the reader has finished.
	done func(FileResult)
	// tail is the write of the last chunk pushed (with overlap).
	tail *turn
}

type pendingChunk struct {
	c       *Chunk
	cost    int64 // budget held
	rejects int   // the reader's rejects in c
	written bool  // written (and progress recorded): ackable
	// With overlap: the chunk's write, and the write of the file's chunk
	// before it (nil for the first chunk pushed).
	turn, before *turn
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
	if cfg.GroupRows <= 0 {
		cfg.GroupRows = DefaultGroupRows
	}
	if cfg.GroupBytes <= 0 {
		cfg.GroupBytes = DefaultGroupBytes
	}
	if cfg.GroupChunks <= 0 {
		cfg.GroupChunks = DefaultGroupChunks
	}
	switch {
	case cfg.Linger == 0:
		cfg.Linger = DefaultLinger
	case cfg.Linger < 0:
		cfg.Linger = 0
	}
	a := &Async{
		cfg:    cfg,
		budget: semaphore.NewWeighted(cfg.InflightBytes),
		files:  make(map[string]*fileProgress),
	}
	var overlaps func([]*Chunk) bool
	if ot, ok := cfg.Target.(OverlapTarget); ok && cfg.Overlap && cfg.Target.CommitsProgress() {
		a.overlap, overlaps = ot, a.overlaps
	}
	a.q = parsequeue.New(ctx, parsequeue.Config[*Chunk, *Chunk]{
		Workers: 1,
		// Chunks arrive parsed: the reader built the batch.
		Parse:      func(_ context.Context, c *Chunk) (*Chunk, error) { return c, nil },
		PushGroup:  a.writeGroup,
		Full:       a.full,
		Linger:     cfg.Linger,
		Ack:        a.ack,
		MaxPending: cfg.InflightChunks,
		Overlap:    overlaps,
	})
	return a
}

// Push implements Pusher. It waits for budget (the chunk's bytes, capped
// at the whole budget), records the chunk as pending for its file and
// queues it; it does not wait for the write. It returns ctx.Err() if ctx
// is done first, the file's error once a write of the file has failed, and
// the queue's error once the queue has stopped. Whatever it returns, the
// pusher owns c and releases it.
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
	p := &pendingChunk{c: c, cost: cost, rejects: len(c.Rejects)}
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
		a.held.Add(n)
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
	a.held.Add(n)
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
	case f.done != nil:
		return fmt.Errorf("push %q chunk %d: a finished read of the file still has chunks in flight", c.File.Key, c.Seq)
	case f.last:
		return fmt.Errorf("push %q chunk %d: pushed after the file's last chunk", c.File.Key, c.Seq)
	case f.pending[c.Seq] != nil:
		return fmt.Errorf("push %q chunk %d: already pending", c.File.Key, c.Seq)
	}
	f.pending[c.Seq] = p
	f.last = c.Last
	if a.overlap != nil {
		p.turn, p.before = newTurn(), f.tail
		f.tail = p.turn
	}
	return nil
}

// untrack removes c, which the queue did not take, from its file's
// pending set, reporting whether it was there (whoever removes a chunk
// releases it).
func (a *Async) untrack(c *Chunk) bool {
	id := c.File.ID()
	a.mu.Lock()
	f := a.files[id]
	if f == nil || f.pending[c.Seq] == nil {
		a.mu.Unlock()
		return false
	}
	f.pending[c.Seq].turn.end(ErrBeforeFailed)
	delete(f.pending, c.Seq)
	if c.Last {
		f.last = false
	}
	a.mu.Unlock() // the file is forgotten by Finish, or by Close
	return true
}

// release gives back p's batch, then its budget.
func (a *Async) release(p *pendingChunk) {
	p.c.Release()
	a.held.Add(-p.cost)
	a.budget.Release(p.cost)
}

// WriteError is a failed write: writing a chunk of File (or recording its
// progress) failed. Its class is Err's.
type WriteError struct {
	File Object
	Err  error
}

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// full says whether a group of chunks takes no more.
func (a *Async) full(cs []*Chunk) bool {
	if len(cs) >= a.cfg.GroupChunks {
		return true
	}
	rows, bytes := 0, int64(0)
	for _, c := range cs {
		if c.Batch != nil {
			rows += c.Batch.Len()
		}
		bytes += c.Bytes()
	}
	return rows >= a.cfg.GroupRows || bytes >= a.cfg.GroupBytes
}

// writeGroup is the queue's PushGroup. It writes the chunks in groups of
// different files (one transaction each with a GroupTarget), then records
// progress when the target does not.
func (a *Async) writeGroup(ctx context.Context, cs []*Chunk) error {
	for len(cs) > 0 {
		// The chunks up to the first that repeats a file: each chunk's
		// RejectLimit counts the target's rejects of the file's earlier
		// chunks, known once they are written.
		n, seen := 0, make(map[string]bool, len(cs))
		for ; n < len(cs) && !seen[cs[n].File.ID()]; n++ {
			seen[cs[n].File.ID()] = true
		}
		if err := a.writeFiles(ctx, cs[:n]); err != nil {
			return err
		}
		cs = cs[n:]
	}
	return nil
}

// writeFiles writes chunks of different files: together in one
// transaction with a GroupTarget, else one by one.
func (a *Async) writeFiles(ctx context.Context, cs []*Chunk) error {
	live := make([]*Chunk, 0, len(cs))
	var waits []*before // with overlap, by live chunk: the write to wait for
	a.mu.Lock()
	for _, c := range cs {
		f := a.files[c.File.ID()]
		p := f.pending[c.Seq]
		if f.failed != nil {
			// An earlier chunk of the file failed: drop this one.
			p.written = true
			p.turn.end(ErrBeforeFailed)
			continue
		}
		live = append(live, c)
		waits = append(waits, a.beforeOf(f, p))
	}
	a.mu.Unlock()
	if g, ok := a.cfg.Target.(GroupTarget); ok && len(live) > 1 {
		return a.commit(ctx, live, g.WriteGroup)
	}
	for i, c := range live {
		if err := a.commit(ctx, []*Chunk{c}, a.writer(c, waits[i])); err != nil {
			return err
		}
	}
	return nil
}

// commit writes cs with write, then records progress when the target does
// not. A chunk that fails with a data error (ClassOf is ClassData: a value
// the target refuses; a *ChunkError names the chunk of a group) fails its
// file, and the others are written again without it; one that was not
// written because the file's chunk before it failed so is dropped. Any
// other error is returned, as a *WriteError.
func (a *Async) commit(ctx context.Context, cs []*Chunk, write func(context.Context, []*Chunk) error) (err error) {
	defer func() {
		if err != nil {
			a.failTurns(cs) // the writes of the files' next chunks do not commit
		}
	}()
	for len(cs) > 0 {
		began := time.Now()
		err := write(ctx, cs)
		if a.cfg.Wrote != nil {
			a.cfg.Wrote(time.Since(began), err)
		}
		if err == nil {
			break
		}
		i := 0
		if ce := (*ChunkError)(nil); errors.As(err, &ce) && ce.Index >= 0 && ce.Index < len(cs) {
			i, err = ce.Index, ce.Err
		}
		c := cs[i]
		we := &WriteError{File: c.File, Err: fmt.Errorf("file %q: %w", c.File.Key, err)}
		a.mu.Lock()
		f := a.files[c.File.ID()]
		// A chunk whose file's chunk before failed is dropped when that
		// failed the file; else the queue is stopping with that error,
		// which comes first.
		before := errors.Is(err, ErrBeforeFailed)
		dropped := before && f.failed != nil
		if !dropped && (before || ClassOf(err) != ClassData || ctx.Err() != nil) {
			a.mu.Unlock()
			return we
		}
		if !dropped {
			f.failed = we
		}
		p := f.pending[c.Seq]
		p.written = true
		p.turn.end(ErrBeforeFailed)
		a.mu.Unlock()
		cs = slices.Delete(slices.Clone(cs), i, i+1)
	}
	if !a.cfg.Target.CommitsProgress() {
		if err := a.advance(ctx, cs); err != nil {
			return err
		}
	}
	for _, c := range cs {
		a.mu.Lock()
		f := a.files[c.File.ID()]
		p := f.pending[c.Seq]
		f.rejects.add(c, p.rejects)
		p.written = true
		p.turn.end(nil)
		a.mu.Unlock()
	}
	return nil
}

// advance records the progress of the written chunks cs, in one step
// when the store can (GroupProgress).
func (a *Async) advance(ctx context.Context, cs []*Chunk) error {
	if gp, ok := a.cfg.Progress.(GroupProgress); ok && len(cs) > 1 {
		if err := gp.AdvanceGroup(ctx, a.cfg.Pipeline, cs); err != nil {
			return &WriteError{File: cs[0].File, Err: fmt.Errorf("files %q and %d more: record progress: %w", cs[0].File.Key, len(cs)-1, err)}
		}
		return nil
	}
	for _, c := range cs {
		if err := a.cfg.Progress.Advance(ctx, a.cfg.Pipeline, c); err != nil {
			return &WriteError{File: c.File, Err: fmt.Errorf("file %q: record progress: %w", c.File.Key, err)}
		}
	}
	return nil
}

// ack is the queue's Ack, after each write: it removes the chunk from its
// file's pending set, releases the chunk's batch and budget, and completes
// the file once its reader has finished and nothing of it is pending.
// Acking a chunk that is unknown, already acked or not yet written is an
// error.
func (a *Async) ack(c *Chunk) error {
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
		return fmt.Errorf("ack %q chunk %d: not pending (unknown or already acked)", c.File.Key, c.Seq)
	case !p.written:
		a.mu.Unlock()
		return fmt.Errorf("ack %q chunk %d: not written yet", c.File.Key, c.Seq)
	}
	delete(f.pending, c.Seq)
	complete := len(f.pending) == 0 && f.done != nil
	if complete {
		delete(a.files, id)
	}
	a.mu.Unlock()
	a.release(p)
	if complete {
		f.complete(nil)
	}
	return nil
}

// Finish implements Pusher. done runs on the caller's goroutine when
// nothing of the file is pending, else on the queue's after the last
// pending chunk is acked, or in Close for chunks never written.
func (a *Async) Finish(obj Object, readErr error, done func(FileResult)) {
	id := obj.ID()
	a.mu.Lock()
	f := a.files[id]
	if f == nil {
		a.mu.Unlock()
		if readErr == nil {
			readErr = fmt.Errorf("file %q: finished without a last chunk", obj.Key)
		}
		done(FileResult{Err: readErr})
		return
	}
	if readErr == nil && !f.last {
		readErr = fmt.Errorf("file %q: finished without a last chunk", obj.Key)
	}
	f.readErr = readErr
	f.done = done
	complete := len(f.pending) == 0
	if complete {
		delete(a.files, id)
	}
	a.mu.Unlock()
	if complete {
		f.complete(nil)
	}
}

// complete reports the file's end to its done: its failed write, else
// its read's error, else stopped (the queue's error, for a file whose
// chunks were never all written), else loaded.
func (f *fileProgress) complete(stopped error) {
	err := f.failed
	if err == nil {
		err = f.readErr
	}
	if err == nil {
		err = stopped
	}
	f.done(FileResult{Err: err, Rejects: f.rejects.total, Rescued: f.rejects.rescued})
}

// Close stops Push and drains the queue: it waits until every pushed chunk
// is written and acked, a write stops the queue, or ctx is done (then the
// write in flight is cancelled). Chunks never acked are released, and
// every finished file that still had some is completed with the error
// that stopped the queue. It returns that error: the failed write,
// ctx.Err(), or the cancellation of the context given to NewAsync.
func (a *Async) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	err := a.q.Close(ctx)
	stopped := err
	if stopped == nil {
		stopped = parsequeue.ErrClosed
	}
	// The queue's goroutines have exited: nothing uses the chunks left.
	var left []*pendingChunk
	var finished []*fileProgress
	a.mu.Lock()
	for id, f := range a.files {
		for _, p := range f.pending {
			p.turn.end(ErrBeforeFailed)
			left = append(left, p)
		}
		if f.done != nil {
			finished = append(finished, f)
		}
		delete(a.files, id)
	}
	a.mu.Unlock()
	for _, p := range left {
		a.release(p)
	}
	for _, f := range finished {
		f.complete(stopped)
	}
	return err
}

// Context is done once the pusher stops: a write failed, or the context
// given to NewAsync was cancelled.
func (a *Async) Context() context.Context { return a.q.Context() }

// Err returns the error that stopped the pusher, or nil.
func (a *Async) Err() error { return a.q.Err() }

// InflightBytes returns the budget taken: the bytes of the chunks pushed
// and not yet acked (each capped at the whole budget). For metrics.
func (a *Async) InflightBytes() int64 { return a.held.Load() }

// InflightLimit returns the budget (AsyncConfig.InflightBytes, defaulted).
func (a *Async) InflightLimit() int64 { return a.cfg.InflightBytes }

// Files returns the number of files the pusher tracks: pushed and not yet
// completed. For metrics and tests.
func (a *Async) Files() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.files)
}
