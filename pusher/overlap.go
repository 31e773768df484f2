package pusher

import "context"

// The overlapping writes of a big file (AsyncConfig.Overlap): each chunk
// pushed gets a turn, and the write of a file's chunk is told of the turn
// of the chunk before it (pusher.Order), which it waits for before it
// commits, so that the queue may write two chunks at once.

// overlaps is the queue's Overlap: a chunk alone in its group, of a file
// that has more than one (a later chunk, or a first one that filled its
// group), is written while the group before it is.
func (a *Async) overlaps(cs []*Chunk) bool {
	return len(cs) == 1 && (cs[0].Seq > 0 || a.full(cs))
}

// turn is the write of one chunk, which the write of the file's next
// chunk may wait for (pusher.Before). Its fields are set under Async.mu.
type turn struct {
	started chan struct{} // closed once the write started (Order.Started) or ended
	done    chan struct{} // closed once the write ended
	err     error         // nil when the chunk committed
	ended   bool
	begun   bool
}

func newTurn() *turn { return &turn{started: make(chan struct{}), done: make(chan struct{})} }

// start marks the write started. Called under Async.mu.
func (t *turn) start() {
	if !t.begun {
		t.begun = true
		close(t.started)
	}
}

// end ends the turn: committed when err is nil. Called under Async.mu;
// only the first call counts.
func (t *turn) end(err error) {
	if t == nil || t.ended {
		return
	}
	t.start()
	t.ended, t.err = true, err
	close(t.done)
}

// before is a pusher.Before: the turn a chunk's write waits for, which
// lowers the chunk's RejectLimit by the target's rejects of the file's
// earlier chunks once it ended.
type before struct {
	a       *Async
	f       *fileProgress
	c       *Chunk
	t       *turn
	limited bool // the writer's goroutine's only
}

func (b *before) Started(ctx context.Context) error {
	select {
	case <-b.t.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *before) Done() bool {
	select {
	case <-b.t.done:
		return true
	default:
		return false
	}
}

func (b *before) Wait(ctx context.Context) error {
	select {
	case <-b.t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.a.mu.Lock()
	defer b.a.mu.Unlock()
	if b.t.err != nil {
		return ErrBeforeFailed
	}
	if !b.limited {
		b.limited = true
		b.f.rejects.limit(b.c)
	}
	return nil
}

// beforeOf returns the write that the write of p (of file f) waits for,
// nil when it has none under way: then p's RejectLimit is lowered now,
// else once that write ended. Called under a.mu.
func (a *Async) beforeOf(f *fileProgress, p *pendingChunk) *before {
	if p.before != nil && !p.before.ended {
		return &before{a: a, f: f, c: p.c, t: p.before}
	}
	f.rejects.limit(p.c)
	return nil
}

// writer returns how the chunk c is written, alone: with WriteAfter when
// writes overlap (after b, when not nil), else with Write.
func (a *Async) writer(c *Chunk, b *before) func(context.Context, []*Chunk) error {
	if a.overlap == nil {
		return func(ctx context.Context, cs []*Chunk) error { return a.cfg.Target.Write(ctx, cs[0]) }
	}
	o := Order{Started: a.started(c)}
	if b != nil {
		o.Before = b
	}
	return func(ctx context.Context, cs []*Chunk) error { return a.overlap.WriteAfter(ctx, cs[0], o) }
}

// failTurns ends the turns of cs as not committed.
func (a *Async) failTurns(cs []*Chunk) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range cs {
		a.files[c.File.ID()].pending[c.Seq].turn.end(ErrBeforeFailed)
	}
}

// started returns the Order.Started of c's write.
func (a *Async) started(c *Chunk) func() {
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if f := a.files[c.File.ID()]; f != nil && f.pending[c.Seq] != nil {
			f.pending[c.Seq].turn.start()
		}
	}
}
