package pusher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// overlapTarget is an OverlapTarget over a fake table: it keeps each
// file's committed position and the records committed, and commits a
// chunk only at the position it starts at (as the PostgreSQL target's
// position check), after the write before it (o.Before) committed.
type overlapTarget struct {
	// hold, when set, is called by each write once it started, before it
	// commits; an error fails the write (nothing committed).
	hold func(ctx context.Context, c *Chunk) error
	// extra: rejects of the target's own added to each chunk.
	extra int

	mu      sync.Mutex
	pos     map[string]int64 // committed position by file
	records map[string][]int64
	limits  []int // each chunk's RejectLimit when it commits
	plain   int   // writes through Write
	log     []string
}

func (f *overlapTarget) logf(format string, args ...any) {
	f.mu.Lock()
	f.log = append(f.log, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *overlapTarget) Write(ctx context.Context, c *Chunk) error {
	f.mu.Lock()
	f.plain++
	f.mu.Unlock()
	return f.WriteAfter(ctx, c, Order{})
}

func (f *overlapTarget) WriteAfter(ctx context.Context, c *Chunk, o Order) error {
	if o.Before != nil {
		if err := o.Before.Started(ctx); err != nil {
			return err
		}
	}
	f.logf("start %s", name(c))
	if o.Started != nil {
		o.Started()
	}
	if f.hold != nil {
		if err := f.hold(ctx, c); err != nil {
			f.logf("fail %s", name(c))
			return err
		}
	}
	if o.Before != nil {
		if err := o.Before.Wait(ctx); err != nil {
			f.logf("abandon %s", name(c))
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pos[c.File.Key] != c.Start.Records {
		return Retry(fmt.Errorf("%s starts at %d, the file is at %d", name(c), c.Start.Records, f.pos[c.File.Key]))
	}
	f.pos[c.File.Key] = c.End.Records
	for r := c.Start.Records + 1; r <= c.End.Records; r++ {
		f.records[c.File.Key] = append(f.records[c.File.Key], r)
	}
	f.limits = append(f.limits, c.RejectLimit)
	for range f.extra {
		c.Rejects = append(c.Rejects, &RecordError{})
	}
	f.log = append(f.log, "commit "+name(c))
	return nil
}

func (f *overlapTarget) CommitsProgress() bool { return true }
func (f *overlapTarget) String() string        { return "overlap" }
func (f *overlapTarget) Close() error          { return nil }

func newOverlapTarget() *overlapTarget {
	return &overlapTarget{pos: map[string]int64{}, records: map[string][]int64{}}
}

// bigChunk is chunk seq of a file of chunks of 10 records, large enough
// to fill its group (GroupBytes 64).
func bigChunk(key string, seq int, last bool) *Chunk {
	b := GetBatch()
	b.StartRecord()
	b.AddField(String, make([]byte, 100))
	return &Chunk{File: obj(key), Seq: seq, Last: last, Batch: b, RejectLimit: -1,
		Start: Position{Records: int64(seq) * 10}, End: Position{Records: int64(seq+1) * 10}}
}

// loadFile pushes n big chunks of key into a and finishes the file; it
// returns the file's result once a is closed.
func loadFile(t *testing.T, a *Async, key string, n int, mod func(*Chunk)) (FileResult, error) {
	t.Helper()
	var res FileResult
	got := make(chan struct{})
	for i := range n {
		c := bigChunk(key, i, i == n-1)
		if mod != nil {
			mod(c)
		}
		if err := a.Push(context.Background(), c); err != nil {
			a.Finish(obj(key), err, func(r FileResult) { res = r; close(got) })
			err := a.Close(context.Background())
			<-got
			return res, err
		}
	}
	a.Finish(obj(key), nil, func(r FileResult) { res = r; close(got) })
	err := a.Close(context.Background())
	<-got
	return res, err
}

func overlapConfig(target Target) AsyncConfig {
	return AsyncConfig{Target: target, Overlap: true, GroupBytes: 64, Linger: -1}
}

func seqRecords(n int64) []int64 {
	var out []int64
	for r := int64(1); r <= n; r++ {
		out = append(out, r)
	}
	return out
}

// TestAsyncOverlap: the chunks of a big file are written two at a time
// (each write of a chunk but the last waits until the next one started),
// commit in order, and the file completes once all are.
func TestAsyncOverlap(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newOverlapTarget()
	var started sync.Map // chunk name -> chan closed when its write started
	startedCh := func(key string, seq int) chan struct{} {
		ch, _ := started.LoadOrStore(fmt.Sprintf("%s#%d", key, seq), make(chan struct{}))
		return ch.(chan struct{})
	}
	const n = 6
	f.hold = func(ctx context.Context, c *Chunk) error {
		close(startedCh(c.File.Key, c.Seq))
		if c.Last {
			return nil
		}
		select {
		case <-startedCh(c.File.Key, c.Seq+1):
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s: the next chunk's write did not start while it was under way", name(c))
		}
	}
	a := NewAsync(context.Background(), overlapConfig(f))
	res, err := loadFile(t, a, "a", n, nil)
	if err != nil || res.Err != nil {
		t.Fatalf("Close: %v; file: %v", err, res.Err)
	}
	if got, want := f.records["a"], seqRecords(n*10); !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	var commits []string
	for _, l := range f.log {
		if len(l) > 7 && l[:7] == "commit " {
			commits = append(commits, l[7:])
		}
	}
	if want := []string{"a#0", "a#1", "a#2", "a#3", "a#4", "a#5"}; !slices.Equal(commits, want) {
		t.Fatalf("commits %v, want %v", commits, want)
	}
	if f.plain != 0 {
		t.Errorf("%d chunks written with Write", f.plain)
	}
}

// TestAsyncOverlapFailure: the write of chunk 2 fails while chunk 3's is
// under way. A data error fails the file; chunk 3 is not committed (its
// write gets ErrBeforeFailed), nor anything after, so the file is at chunk
// 2's start: no gap, nothing twice. Any other error stops the pusher with
// it, with the same state.
func TestAsyncOverlapFailure(t *testing.T) {
	for _, class := range []Class{ClassData, ClassUnavailable} {
		t.Run(class.String(), func(t *testing.T) {
			defer goleak.VerifyNone(t)
			f := newOverlapTarget()
			bad := errors.New("chunk 2 failed")
			var failWith error = bad
			if class == ClassUnavailable {
				failWith = Unavailable(bad)
			}
			next := make(chan struct{})
			f.hold = func(ctx context.Context, c *Chunk) error {
				switch c.Seq {
				case 2:
					select {
					case <-next:
					case <-time.After(10 * time.Second):
						t.Error("chunk 3's write did not start while chunk 2's was under way")
					}
					return failWith
				case 3:
					close(next)
				}
				return nil
			}
			a := NewAsync(context.Background(), overlapConfig(f))
			res, err := loadFile(t, a, "a", 6, nil)
			if !errors.Is(res.Err, bad) {
				t.Fatalf("file result %v, want %v", res.Err, bad)
			}
			if class == ClassData && err != nil {
				t.Fatalf("Close: %v (a file's data error must not stop the pusher)", err)
			}
			if class != ClassData && !errors.Is(err, bad) {
				t.Fatalf("Close: %v, want %v", err, bad)
			}
			if got, want := f.records["a"], seqRecords(20); !slices.Equal(got, want) {
				t.Fatalf("records %v, want %v (chunks 0 and 1)", got, want)
			}
			if f.pos["a"] != 20 {
				t.Fatalf("file at %d, want 20 (chunk 2's start)", f.pos["a"])
			}
			if !slices.Contains(f.log, "abandon a#3") {
				t.Errorf("chunk 3's write did not end with ErrBeforeFailed: %v", f.log)
			}
		})
	}
}

// TestAsyncOverlapRejectLimit: a chunk written while the one before it is
// under way commits under a RejectLimit that counts the target's rejects
// of that chunk too.
func TestAsyncOverlapRejectLimit(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newOverlapTarget()
	f.extra = 2
	a := NewAsync(context.Background(), overlapConfig(f))
	res, err := loadFile(t, a, "a", 4, func(c *Chunk) { c.RejectLimit = 100 })
	if err != nil || res.Err != nil {
		t.Fatalf("Close: %v; file: %v", err, res.Err)
	}
	if want := []int{100, 98, 96, 94}; !slices.Equal(f.limits, want) {
		t.Fatalf("RejectLimits %v, want %v", f.limits, want)
	}
	if res.Rejects != 8 {
		t.Fatalf("%d rejects, want 8", res.Rejects)
	}
}

// TestAsyncOverlapOff: without AsyncConfig.Overlap, or with a target that
// does not commit progress, chunks are written one at a time with Write.
func TestAsyncOverlapOff(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newOverlapTarget()
	cfg := overlapConfig(f)
	cfg.Overlap = false
	a := NewAsync(context.Background(), cfg)
	if res, err := loadFile(t, a, "a", 4, nil); err != nil || res.Err != nil {
		t.Fatalf("Close: %v; file: %v", err, res.Err)
	}
	if f.plain != 4 {
		t.Fatalf("%d chunks written with Write, want 4", f.plain)
	}
}
