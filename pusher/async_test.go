package pusher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferrydata/ferry/parsequeue"
)

// events is a log shared by the fakes, to check the order of writes,
// progress updates and completions.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// asyncTarget records writes. With a gate, each Write first waits for a
// value on it (or its close) or for ctx; failAt > 0 fails that write
// (1-based) with err.
type asyncTarget struct {
	ev      *events
	commits bool
	gate    chan struct{}
	failAt  int
	err     error

	mu     sync.Mutex
	writes int
	bad    []string // chunks written after their batch was released
}

func (f *asyncTarget) Write(ctx context.Context, c *Chunk) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Batch == nil {
		f.bad = append(f.bad, name(c))
	}
	f.writes++
	f.ev.add("write %s", name(c))
	if f.writes == f.failAt {
		return f.err
	}
	return nil
}

func (f *asyncTarget) CommitsProgress() bool { return f.commits }
func (f *asyncTarget) String() string        { return "fake" }
func (f *asyncTarget) Close() error          { return nil }

// asyncState records Advance; failAt > 0 fails that call (1-based).
type asyncState struct {
	ev     *events
	failAt int
	err    error
	n      int
}

func (f *asyncState) Advance(_ context.Context, _ string, c *Chunk) error {
	f.n++ // only the queue's goroutine calls Advance
	f.ev.add("advance %s", name(c))
	if f.n == f.failAt {
		return f.err
	}
	return nil
}

func name(c *Chunk) string { return fmt.Sprintf("%s#%d", c.File.Key, c.Seq) }

func obj(key string) Object { return Object{Key: key, ETag: "etag-" + key} }

// chunk returns chunk seq of file key whose batch counts size bytes (0, or
// at least 16: one record of one field).
func chunk(t *testing.T, key string, seq int, last bool, size int) *Chunk {
	t.Helper()
	b := GetBatch()
	if size > 0 {
		b.StartRecord()
		b.AddField(String, make([]byte, size-16))
	}
	c := &Chunk{File: obj(key), Seq: seq, Last: last, Batch: b}
	if c.Bytes() != int64(size) {
		t.Fatalf("chunk of %d bytes, want %d", c.Bytes(), size)
	}
	return c
}

// harness builds an Async over the fakes and checks, at the end of the
// test, that every chunk was released, the budget is whole again, no file
// is tracked and no goroutine is left.
type harness struct {
	t      *testing.T
	ev     *events
	target *asyncTarget
	state  *asyncState
	a      *Async
	chunks []*Chunk

	doneMu sync.Mutex
	done   []string
	doneCh chan string
}

func newHarness(t *testing.T, ctx context.Context, target *asyncTarget, cfg AsyncConfig) *harness {
	ev := &events{}
	target.ev = ev
	h := &harness{t: t, ev: ev, target: target, state: &asyncState{ev: ev}, doneCh: make(chan string, 100)}
	cfg.Target = target
	cfg.Progress = h.state
	cfg.Pipeline = "p"
	h.a = NewAsync(ctx, cfg)
	t.Cleanup(h.check)
	return h
}

// finish tells the pusher that key's reader stopped with readErr; the
// file's completion is logged as "done KEY" (loaded) or "failed KEY: ERR".
func (h *harness) finish(key string, readErr error) {
	h.a.Finish(obj(key), readErr, func(r FileResult) {
		if r.Err != nil {
			h.ev.add("failed %s: %v", key, r.Err)
		} else {
			h.ev.add("done %s", key)
			h.doneMu.Lock()
			h.done = append(h.done, key)
			h.doneMu.Unlock()
		}
		h.doneCh <- key
	})
}

// push pushes c, and finishes its file after its last chunk.
func (h *harness) push(ctx context.Context, c *Chunk) error {
	h.chunks = append(h.chunks, c)
	key, last := c.File.Key, c.Last
	err := h.a.Push(ctx, c)
	if err == nil && last {
		h.finish(key, nil)
	}
	return err
}

func (h *harness) mustPush(c *Chunk) {
	h.t.Helper()
	if err := h.push(context.Background(), c); err != nil {
		h.t.Fatalf("Push %s: %v", name(c), err)
	}
}

func (h *harness) doneFiles() []string {
	h.doneMu.Lock()
	defer h.doneMu.Unlock()
	return slices.Clone(h.done)
}

func (h *harness) check() {
	t := h.t
	// Close again (tests close first, with their own expectations).
	_ = h.a.Close(context.Background())
	for _, c := range h.chunks {
		if c.Batch != nil {
			t.Errorf("chunk %s not released", name(c))
		}
	}
	if !h.a.budget.TryAcquire(h.a.cfg.InflightBytes) {
		t.Error("budget not entirely released")
	}
	if n := h.a.Files(); n != 0 {
		t.Errorf("%d files still tracked", n)
	}
	if len(h.target.bad) > 0 {
		t.Errorf("written after release: %v", h.target.bad)
	}
	goleak.VerifyNone(t)
}

func TestAsyncFileDone(t *testing.T) {
	for _, commits := range []bool{false, true} {
		t.Run(fmt.Sprintf("target commits progress: %v", commits), func(t *testing.T) {
			h := newHarness(t, context.Background(), &asyncTarget{commits: commits, gate: make(chan struct{})}, AsyncConfig{})
			for i := range 3 {
				// The target is blocked: Push must not wait for it.
				h.mustPush(chunk(t, "a", i, i == 2, 20))
			}
			if got := h.ev.get(); len(got) != 0 {
				t.Fatalf("events before the target ran: %v", got)
			}
			close(h.target.gate)
			if err := h.a.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			want := []string{"write a#0", "advance a#0", "write a#1", "advance a#1", "write a#2", "advance a#2", "done a"}
			if commits {
				want = []string{"write a#0", "write a#1", "write a#2", "done a"}
			}
			if got := h.ev.get(); !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
}

func TestAsyncInterleavedFiles(t *testing.T) {
	// One chunk a group, so that the order of writes and completions is
	// the queue's (groups: TestAsyncGroups).
	h := newHarness(t, context.Background(), &asyncTarget{commits: true}, AsyncConfig{GroupChunks: 1})
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.mustPush(chunk(t, "b", 0, false, 20))
	h.mustPush(chunk(t, "c", 0, false, 20))
	h.mustPush(chunk(t, "a", 1, false, 20))
	h.mustPush(chunk(t, "b", 1, true, 0)) // an empty last chunk
	h.mustPush(chunk(t, "c", 1, false, 20))
	h.finish("c", errRead) // c's read failed: no last chunk will come
	h.mustPush(chunk(t, "a", 2, true, 20))
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []string{
		"write a#0", "write b#0", "write c#0", "write a#1", "write b#1", "done b",
		"write c#1", "failed c: read failed", "write a#2", "done a",
	}
	if got := h.ev.get(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestAsyncFinishFailedRead(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{})
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.mustPush(chunk(t, "a", 1, false, 20))
	h.finish("a", errRead)
	if err := h.push(context.Background(), chunk(t, "a", 0, false, 20)); err == nil {
		t.Fatal("a new read of a file pushed while the failed one is in flight")
	}
	h.mustPush(chunk(t, "b", 0, true, 20))
	close(h.target.gate)
	<-h.doneCh // a failed
	<-h.doneCh // b is acked, so a's chunks (pushed before) are too
	if n := h.a.Files(); n != 0 {
		t.Fatalf("%d files tracked after every chunk was acked; want a forgotten", n)
	}
	h.mustPush(chunk(t, "a", 0, true, 20)) // the retry
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.doneFiles(); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("done %v, want b then the retried a", got)
	}
}

func TestAsyncAckErrors(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{})
	a0 := chunk(t, "a", 0, false, 20)
	h.mustPush(a0)
	if err := h.a.ack(a0); err == nil {
		t.Error("Ack of a chunk not yet written succeeded")
	}
	unknown := chunk(t, "z", 0, true, 20)
	h.chunks = append(h.chunks, unknown)
	if err := h.a.ack(unknown); err == nil {
		t.Error("Ack of a chunk never pushed succeeded")
	}
	unknown.Release()
	if err := h.push(context.Background(), chunk(t, "a", 0, false, 20)); err == nil {
		t.Error("a second push of a pending chunk succeeded")
	}
	h.mustPush(chunk(t, "a", 1, true, 20))
	if err := h.push(context.Background(), chunk(t, "a", 2, false, 20)); err == nil {
		t.Error("a push after the file's last chunk succeeded")
	}
	close(h.target.gate)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.a.ack(a0); err == nil {
		t.Error("a second Ack of a chunk succeeded")
	}
	if got := h.doneFiles(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("done %v, want [a]", got)
	}
}

func TestAsyncBudget(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{InflightBytes: 100})
	first := chunk(t, "a", 0, false, 60)
	h.mustPush(first)
	second := chunk(t, "a", 1, true, 60)
	h.chunks = append(h.chunks, second)
	pushed := make(chan error, 1)
	go func() { pushed <- h.a.Push(context.Background(), second) }()
	select {
	case err := <-pushed:
		t.Fatalf("second Push returned (%v) while the first chunk holds 60 of 100 bytes", err)
	case <-time.After(20 * time.Millisecond):
	}
	h.target.gate <- struct{}{} // let the first write through
	if err := <-pushed; err != nil {
		t.Fatalf("second Push: %v", err)
	}
	if first.Batch != nil {
		t.Fatal("second Push got budget before the first chunk was acked and released")
	}
	close(h.target.gate)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncChunkLargerThanBudget(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{InflightBytes: 100})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.push(ctx, chunk(t, "a", 0, false, 250)); err != nil {
		t.Fatalf("Push of a chunk larger than the budget, budget free: %v", err)
	}
	// It took the whole budget: even a small chunk waits.
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if err := h.push(short, chunk(t, "a", 1, true, 20)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Push while the big chunk is in flight = %v, want the deadline", err)
	}
	close(h.target.gate)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.doneFiles(); len(got) != 0 {
		t.Fatalf("done %v: a's last chunk was never pushed", got)
	}
}

func TestAsyncPushCancelled(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{InflightBytes: 100})
	h.mustPush(chunk(t, "a", 0, false, 100))
	ctx, cancel := context.WithCancel(context.Background())
	blocked := chunk(t, "b", 0, true, 50)
	h.chunks = append(h.chunks, blocked)
	pushed := make(chan error, 1)
	go func() { pushed <- h.a.Push(ctx, blocked) }()
	cancel()
	if err := <-pushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Push blocked on the budget, then cancelled = %v", err)
	}
	if blocked.Batch != nil {
		t.Fatal("a chunk whose Push failed was not released")
	}
	if err := h.a.Err(); err != nil {
		t.Fatalf("a cancelled Push failed the pusher: %v", err)
	}
	close(h.target.gate)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncWriteError(t *testing.T) {
	boom := Unavailable(errors.New("boom"))
	tests := []struct {
		name        string
		target      *asyncTarget
		stateFailAt int
		wantEvents  []string
	}{
		{
			name:       "target",
			target:     &asyncTarget{commits: true, failAt: 3, err: boom},
			wantEvents: []string{"write a#0", "write b#0", "write a#1"},
		},
		{
			name:        "state",
			target:      &asyncTarget{},
			stateFailAt: 2,
			wantEvents:  []string{"write a#0", "advance a#0", "write b#0", "advance b#0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, context.Background(), tt.target, AsyncConfig{})
			h.state.failAt, h.state.err = tt.stateFailAt, boom
			// Pushes after the failure may fail already; all chunks must be
			// released either way.
			for i := range 4 {
				_ = h.push(context.Background(), chunk(t, "a", i, i == 3, 20))
				_ = h.push(context.Background(), chunk(t, "b", i, i == 3, 20))
			}
			if err := h.a.Close(context.Background()); !errors.Is(err, boom) {
				t.Fatalf("Close = %v, want %v", err, boom)
			}
			if err := h.a.Err(); !errors.Is(err, boom) {
				t.Fatalf("Err = %v, want %v", err, boom)
			}
			if err := h.push(context.Background(), chunk(t, "c", 0, true, 20)); !errors.Is(err, boom) {
				t.Fatalf("Push after the failure = %v, want %v", err, boom)
			}
			var got []string
			for _, e := range h.ev.get() {
				if strings.HasPrefix(e, "write ") || strings.HasPrefix(e, "advance ") {
					got = append(got, e)
				}
			}
			if !slices.Equal(got, tt.wantEvents) {
				t.Fatalf("events %v, want %v", got, tt.wantEvents)
			}
			// Every finished file completed with the error.
			for _, e := range h.ev.get() {
				if strings.HasPrefix(e, "done ") {
					t.Fatalf("%s after the queue stopped", e)
				}
			}
			// The acked chunks were released by Ack, the rest by Close: the
			// harness checks that none is left.
		})
	}
}

func TestAsyncFailureWakesBlockedPush(t *testing.T) {
	boom := Unavailable(errors.New("boom"))
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{}), failAt: 1, err: boom}, AsyncConfig{InflightBytes: 100})
	h.mustPush(chunk(t, "a", 0, false, 60))
	blocked := chunk(t, "a", 1, true, 60)
	h.chunks = append(h.chunks, blocked)
	pushed := make(chan error, 1)
	go func() { pushed <- h.a.Push(context.Background(), blocked) }()
	close(h.target.gate) // the first write fails; nothing will free the budget
	if err := <-pushed; !errors.Is(err, boom) {
		t.Fatalf("Push blocked on the budget when a write failed = %v, want %v", err, boom)
	}
	if err := h.a.Close(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Close = %v", err)
	}
}

func TestAsyncCloseDeadline(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{})
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.mustPush(chunk(t, "a", 1, true, 20))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.a.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with the target stuck = %v, want the deadline", err)
	}
	if err := h.push(context.Background(), chunk(t, "b", 0, true, 20)); err == nil {
		t.Fatal("Push after Close succeeded")
	}
	if got := h.doneFiles(); len(got) != 0 {
		t.Fatalf("done %v after a cancelled drain", got)
	}
}

func TestAsyncContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newHarness(t, ctx, &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{})
	h.mustPush(chunk(t, "a", 0, false, 20))
	cancel()
	if err := h.a.Close(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after the pusher's context was cancelled = %v", err)
	}
	if err := h.push(context.Background(), chunk(t, "a", 1, true, 20)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Push after cancellation = %v", err)
	}
}

func TestAsyncPushAfterClose(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true}, AsyncConfig{})
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.push(context.Background(), chunk(t, "a", 0, true, 20)); !errors.Is(err, parsequeue.ErrClosed) {
		t.Fatalf("Push after Close = %v, want ErrClosed", err)
	}
}

func TestAsyncConfigValidate(t *testing.T) {
	if err := (AsyncConfig{}).Validate(); err == nil {
		t.Error("no target: valid")
	}
	if err := (AsyncConfig{Target: &asyncTarget{}}).Validate(); err == nil {
		t.Error("target without progress and no state: valid")
	}
	if err := (AsyncConfig{Target: &asyncTarget{commits: true}}).Validate(); err != nil {
		t.Errorf("target committing progress, no state: %v", err)
	}
}

// Many files pushed from several goroutines, as a replication loop does.
func TestAsyncConcurrentFiles(t *testing.T) {
	const files, chunks = 8, 50
	h := newHarness(t, context.Background(), &asyncTarget{}, AsyncConfig{InflightBytes: 500})
	var mu sync.Mutex
	var all []*Chunk
	var wg sync.WaitGroup
	for f := range files {
		wg.Go(func() {
			key := fmt.Sprintf("f%d", f)
			for i := range chunks {
				c := chunk(t, key, i, i == chunks-1, 16+i%7*10)
				mu.Lock()
				all = append(all, c)
				mu.Unlock()
				last := c.Last
				if err := h.a.Push(context.Background(), c); err != nil {
					t.Errorf("Push %s: %v", name(c), err)
					return
				}
				if last {
					h.finish(key, nil)
				}
			}
		})
	}
	wg.Wait()
	h.chunks = all
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := h.doneFiles()
	slices.Sort(done)
	var want []string
	for f := range files {
		want = append(want, fmt.Sprintf("f%d", f))
	}
	if !slices.Equal(done, want) {
		t.Fatalf("done %v, want each of %v once", done, want)
	}
	// Per file, writes are in chunk order and precede the file's done.
	next := map[string]int{}
	for _, e := range h.ev.get() {
		var key string
		var seq int
		if n, _ := fmt.Sscanf(e, "write %2s#%d", &key, &seq); n == 2 {
			if seq != next[key] {
				t.Fatalf("write %s#%d, want chunk %d next", key, seq, next[key])
			}
			next[key]++
		} else if _, err := fmt.Sscanf(e, "done %s", &key); err == nil && next[key] != chunks {
			t.Fatalf("%s done after %d of %d writes", key, next[key], chunks)
		}
	}
}

func TestAsyncFinishWithError(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{GroupChunks: 1})
	// Nothing pending: done runs at once, with the read's error.
	h.finish("x", errRead)
	if got := h.ev.get(); !slices.Equal(got, []string{"failed x: read failed"}) {
		t.Fatalf("events %v after Finish of an unknown file", got)
	}
	// Pending chunks: done runs after the last one is acked, after the
	// write of every chunk of the file.
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.mustPush(chunk(t, "a", 1, false, 20))
	h.finish("a", errRead)
	h.mustPush(chunk(t, "b", 0, true, 20))
	close(h.target.gate)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"failed x: read failed", "write a#0", "write a#1", "failed a: read failed", "write b#0", "done b"}
	if got := h.ev.get(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestAsyncFinishWithoutLastChunk(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true}, AsyncConfig{})
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.finish("a", nil) // the reader says it is done, but pushed no last chunk
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.ev.get(); len(got) != 2 || !strings.HasPrefix(got[1], "failed a: ") {
		t.Fatalf("events %v, want a failed", got)
	}
}

func TestAsyncFinishOnClose(t *testing.T) {
	h := newHarness(t, context.Background(), &asyncTarget{commits: true, gate: make(chan struct{})}, AsyncConfig{})
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.mustPush(chunk(t, "a", 1, true, 20)) // finished: a's done waits for its writes
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.a.Close(ctx); err == nil {
		t.Fatal("Close with a cancelled context and a blocked write returned nil")
	}
	select {
	case key := <-h.doneCh:
		if got := h.ev.get(); key != "a" || len(got) != 1 || !strings.HasPrefix(got[0], "failed a: ") {
			t.Fatalf("events %v, want a failed with the cancellation", got)
		}
	default:
		t.Fatal("done not called for a file dropped by Close")
	}
}

// TestAsyncFileError: a write that fails with a data error fails that file
// only: its later chunks are dropped, its next Push returns the error, and
// its done gets the error once its reader finished; other files go on.
func TestAsyncFileError(t *testing.T) {
	bad := errors.New("bad data")
	target := &asyncTarget{commits: true, gate: make(chan struct{}), failAt: 2, err: bad}
	h := newHarness(t, context.Background(), target, AsyncConfig{})
	h.mustPush(chunk(t, "a", 0, false, 20))
	h.mustPush(chunk(t, "b", 0, false, 20)) // the write that fails
	h.mustPush(chunk(t, "b", 1, false, 20)) // dropped
	h.mustPush(chunk(t, "a", 1, true, 20))
	close(h.target.gate)
	<-h.doneCh // a is done: b's chunks were handled before
	err := h.push(context.Background(), chunk(t, "b", 2, false, 20))
	if !errors.Is(err, bad) {
		t.Fatalf("Push after the file failed: %v, want the write error", err)
	}
	if got := h.ev.get(); len(got) != 4 {
		t.Fatalf("events %v: b completed while its reader may still push", got)
	}
	h.finish("b", err)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v (a file error must not stop the queue)", err)
	}
	want := []string{"write a#0", "write b#0", "write a#1", "done a", `failed b: file "b": bad data`}
	if got := h.ev.get(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestAsyncRejects: a file's rejects are counted in its result, and the
// target's own rejects lower the RejectLimit of the file's later chunks.
func TestAsyncRejects(t *testing.T) {
	target := &rejectingTarget{}
	a := NewAsync(context.Background(), AsyncConfig{Target: target})
	var res FileResult
	for i := range 3 {
		c := &Chunk{File: obj("a"), Seq: i, Last: i == 2, Batch: GetBatch(), RejectLimit: 10 - i,
			Rejects: []*RecordError{{Record: int64(i)}}} // one reader reject each
		if err := a.Push(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	a.Finish(obj("a"), nil, func(r FileResult) { res = r })
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Each write adds two rejects of the target's own.
	if res.Err != nil || res.Rejects != 9 {
		t.Fatalf("result %+v, want 9 rejects", res)
	}
	if want := []int{10, 7, 4}; !slices.Equal(target.limits, want) {
		t.Fatalf("RejectLimits %v, want %v", target.limits, want)
	}
}

// rejectingTarget adds two rejects to every chunk and records its limit.
type rejectingTarget struct{ limits []int }

func (f *rejectingTarget) Write(_ context.Context, c *Chunk) error {
	f.limits = append(f.limits, c.RejectLimit)
	c.Rejects = append(c.Rejects, &RecordError{}, &RecordError{})
	return nil
}
func (f *rejectingTarget) CommitsProgress() bool { return true }
func (f *rejectingTarget) String() string        { return "rejecting" }
func (f *rejectingTarget) Close() error          { return nil }

var errRead = errors.New("read failed")
