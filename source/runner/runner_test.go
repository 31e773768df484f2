package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	_ "github.com/ferrydata/ferry/source/format/csv"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// vanishingStore lists its objects, but some are gone by the time they
// are opened.
type vanishingStore struct {
	objs map[string]string
	gone map[string]bool
}

func (s *vanishingStore) List(_ context.Context, fn func([]pusher.Object) error) error {
	var page []pusher.Object
	for _, k := range []string{"a.csv", "b.csv", "c.csv"} {
		page = append(page, pusher.Object{Key: k, ETag: "e", Size: int64(len(s.objs[k]))})
	}
	return fn(page)
}
func (s *vanishingStore) Rel(k string) string { return k }
func (s *vanishingStore) String() string      { return "mem://" }
func (s *vanishingStore) Open(_ context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	if s.gone[o.Key] {
		return nil, fmt.Errorf("open %s: %w", o.Key, source.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(s.objs[o.Key][off:])), nil
}

func TestSnapshotCountsVanishedFilesAsSkipped(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := New(Config{
		Store:    &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id\n3\n"}, gone: map[string]bool{"b.csv": true}},
		Target:   jsonlines.Writer("test", &out),
		State:    st,
		Pipeline: "p",
		Load:     load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options:  Options{Workers: 1},
		Log:      zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 3 || sum.Loaded != 2 || sum.Vanished != 1 || sum.Failed != 0 || sum.Aborted {
		t.Fatalf("summary %+v", sum)
	}
	if out.String() != "{\"id\":\"1\"}\n{\"id\":\"3\"}\n" {
		t.Fatalf("output %q", out.String())
	}
}

func TestWanted(t *testing.T) {
	obj := pusher.Object{Key: "k", ETag: "new"}
	old := pusher.Object{Key: "k", ETag: "old"}
	done := state.Progress{Status: state.Done}
	failed3 := state.Progress{Status: state.Failed, Attempts: 3}
	tests := []struct {
		name     string
		change   OnChange
		attempts int
		progress map[string]state.Progress
		want     bool
	}{
		{"new file", OnChangeAppend, 3, nil, true},
		{"done", OnChangeAppend, 3, map[string]state.Progress{state.ID(obj): done}, false},
		{"loading resumes", OnChangeAppend, 3, map[string]state.Progress{state.ID(obj): {Status: state.Loading}}, true},
		{"failed under the attempt limit", OnChangeAppend, 3, map[string]state.Progress{state.ID(obj): {Status: state.Failed, Attempts: 2}}, true},
		{"quarantined", OnChangeAppend, 3, map[string]state.Progress{state.ID(obj): failed3}, false},
		{"failed, no limit", OnChangeAppend, 0, map[string]state.Progress{state.ID(obj): failed3}, true},
		{"changed, reload", OnChangeAppend, 3, map[string]state.Progress{state.ID(old): done}, true},
		{"changed, no reload", OnChangeIgnore, 3, map[string]state.Progress{state.ID(old): done}, false},
		{"other key done, no reload", OnChangeIgnore, 3, map[string]state.Progress{state.ID(pusher.Object{Key: "k2", ETag: "x"}): done}, true},
		{"changed, replace", OnChangeReplace, 3, map[string]state.Progress{state.ID(old): done}, true},
		{"changed after a replace, ignore", OnChangeIgnore, 3, map[string]state.Progress{state.ID(old): {Status: state.Replaced}}, false},
		{"replaced, named again", OnChangeReplace, 3, map[string]state.Progress{state.ID(obj): {Status: state.Replaced}, state.ID(old): done}, true},
		{"removed, named again", OnChangeIgnore, 3, map[string]state.Progress{state.ID(obj): {Status: state.Removed}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{opts: Options{OnChange: tt.change, MaxAttempts: tt.attempts}}
			if got := r.wanted(obj, tt.progress); got != tt.want {
				t.Fatalf("wanted = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPassCompletesEveryTaskOnce: a file named twice in one batch loads
// once and both tasks complete; a bad file fails under skip-file and the
// others load; a vanished file is skipped.
func TestPassCompletesEveryTaskOnce(t *testing.T) {
	for _, mode := range []struct {
		async bool
		fetch int
	}{{false, 0}, {true, 0}, {true, 2}} {
		async := mode.async
		t.Run(fmt.Sprintf("async=%v,fetch=%d", async, mode.fetch), func(t *testing.T) {
			st, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			store := &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id,x\n2\n", "c.csv": "id\n3\n"}, gone: map[string]bool{"c.csv": true}}
			r, err := New(Config{
				Store: store, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
				Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
				Options: Options{Workers: 2, OnError: OnErrorSkipFile, Async: async, FetchAhead: mode.fetch},
				Log:     zerolog.Nop(),
			})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			got := map[string][]Outcome{}
			task := func(key string) Task {
				return Task{Object: pusher.Object{Key: key, ETag: "e", Size: int64(len(store.objs[key]))}, Done: func(res Result) {
					mu.Lock()
					got[key] = append(got[key], res.Outcome)
					mu.Unlock()
				}}
			}
			feed := func(ctx context.Context, send Send) error {
				return send(ctx, []Task{task("a.csv"), task("a.csv"), task("b.csv"), task("c.csv")})
			}
			sum, err := r.Pass(t.Context(), t.Context(), feed)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]Outcome{"a.csv": {Loaded, Loaded}, "b.csv": {Failed}, "c.csv": {Skipped}}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("outcomes %v, want %v", got, want)
			}
			if sum.Loaded != 1 || sum.Failed != 1 || sum.Vanished != 1 || len(sum.Errors) != 1 {
				t.Fatalf("summary %+v", sum)
			}
			if out.String() != "{\"id\":\"1\"}\n" {
				t.Fatalf("output %q", out.String())
			}
			pr, err := st.Lookup(t.Context(), "p", []pusher.Object{{Key: "b.csv", ETag: "e"}})
			if err != nil {
				t.Fatal(err)
			}
			if p := pr["b.csv\x00e"]; p.Status != "failed" || p.Error == "" {
				t.Fatalf("b.csv state %+v, want failed with its error", p)
			}
		})
	}
}

// downStore answers every Open as an unavailable service would.
type downStore struct{ vanishingStore }

func (s *downStore) Open(context.Context, pusher.Object, int64) (io.ReadCloser, error) {
	return nil, pusher.Unavailable(fmt.Errorf("503 Service Unavailable"))
}

// TestPassStopsWhenAServiceIsDown: an unavailable store is not the file's
// fault: the file is retried later (no attempt recorded as failed), the
// pass stops taking files and says the service was unavailable, and every
// task still completes once.
func TestPassStopsWhenAServiceIsDown(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := New(Config{
		Store: &downStore{}, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto", RetryMaxElapsed: -1},
		Options: Options{Workers: 1, OnError: OnErrorSkipFile},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var outcomes []Outcome
	var tasks []Task
	for i := range 5 {
		tasks = append(tasks, Task{Object: pusher.Object{Key: fmt.Sprintf("f%d.csv", i), ETag: "e"},
			Done: func(res Result) {
				mu.Lock()
				outcomes = append(outcomes, res.Outcome)
				mu.Unlock()
			}})
	}
	sent := 0 // tasks handed to Send: the pass completes each
	sum, err := r.Pass(t.Context(), t.Context(), func(ctx context.Context, send Send) error {
		for _, task := range tasks {
			sent++
			if err := send(ctx, []Task{task}); err != nil {
				return err
			}
		}
		return nil
	})
	if pusher.ClassOf(err) != pusher.ClassUnavailable || !sum.Unavailable {
		t.Fatalf("Pass = %+v, %v; want the unavailable error", sum, err)
	}
	if len(outcomes) != sent {
		t.Fatalf("%d of %d tasks sent completed", len(outcomes), sent)
	}
	for _, o := range outcomes {
		if o != Retry {
			t.Fatalf("outcomes %v, want every task Retry", outcomes)
		}
	}
	if sum.Failed != 0 || r.Retry.Load() != 1 {
		t.Fatalf("failed %d, retried %d: only the first file should have been tried", sum.Failed, r.Retry.Load())
	}
	pr, err := st.Lookup(t.Context(), "p", []pusher.Object{tasks[0].Object})
	if err != nil {
		t.Fatal(err)
	}
	if p := pr[tasks[0].Object.ID()]; p.Status == state.Failed {
		t.Fatalf("f0 recorded failed (%+v): an unavailable store is not the file's fault", p)
	}
}

// countingStore counts the bodies open.
type countingStore struct {
	vanishingStore
	open, opened atomic.Int64
}

type countedBody struct {
	io.ReadCloser
	s *countingStore
}

func (b countedBody) Close() error { b.s.open.Add(-1); return b.ReadCloser.Close() }

func (s *countingStore) Open(ctx context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	body, err := s.vanishingStore.Open(ctx, o, off)
	if err != nil {
		return nil, err
	}
	s.open.Add(1)
	s.opened.Add(1)
	return countedBody{body, s}, nil
}

// TestFetchAhead: with GETs started ahead, every file loads once from the
// body fetched for it, and every body is closed, also when the pass stops
// early (abort).
func TestFetchAhead(t *testing.T) {
	for _, bad := range []bool{false, true} {
		st, _ := filestore.New(t.TempDir())
		store := &countingStore{vanishingStore: vanishingStore{objs: map[string]string{}}}
		var tasks []Task
		var loaded atomic.Int64
		for i := range 60 {
			key := fmt.Sprintf("f%02d.csv", i)
			store.objs[key] = fmt.Sprintf("id\n%d\n", i)
			if bad && i == 5 {
				store.objs[key] = "id,x\n1\n"
			}
			tasks = append(tasks, Task{Object: pusher.Object{Key: key, ETag: "e"}, Done: func(res Result) {
				if res.Outcome == Loaded {
					loaded.Add(1)
				}
			}})
		}
		var out bytes.Buffer
		r, err := New(Config{
			Store: store, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
			Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
			Options: Options{Workers: 2, Async: true, FetchAhead: 3},
			Log:     zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Pass(t.Context(), t.Context(), func(ctx context.Context, send Send) error { return send(ctx, tasks) }); err != nil {
			t.Fatal(err)
		}
		// Bodies discarded after the pass close asynchronously.
		deadline := time.Now().Add(10 * time.Second)
		for store.open.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := store.open.Load(); n != 0 {
			t.Errorf("bad=%v: %d bodies left open", bad, n)
		}
		if !bad && (loaded.Load() != 60 || store.opened.Load() != 60) {
			t.Errorf("loaded %d files with %d GETs, want 60 and 60", loaded.Load(), store.opened.Load())
		}
		if bad && loaded.Load() >= 60 {
			t.Errorf("abort after a bad file: %d files loaded", loaded.Load())
		}
	}
}

func TestMemoryBudget(t *testing.T) {
	st, _ := filestore.New(t.TempDir())
	build := func(async bool, parseWorkers int) *Runner {
		r, err := New(Config{
			Store: &downStore{}, Target: jsonlines.Writer("test", io.Discard), State: st, Pipeline: "p",
			Load:    load.Config{ParseWorkers: parseWorkers, Format: format.Options{BatchBytes: 8 << 20}},
			Options: Options{Workers: 2, Async: async, InflightBytes: 64 << 20},
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if got, want := build(true, 1).MemoryBudget(), int64(64<<20+memoryRoom); got != want {
		t.Errorf("sequential parsing: budget %d, want %d", got, want)
	}
	// Two workers, each with 4 parsers holding 4+2 batches of 8 MiB.
	if got, want := build(true, 4).MemoryBudget(), int64(64<<20+memoryRoom+2*6*8<<20); got != want {
		t.Errorf("parallel parsing: budget %d, want %d", got, want)
	}
}

// lookupCounter counts the state's lookups.
type lookupCounter struct {
	state.Store
	lookups atomic.Int64
}

func (s *lookupCounter) Lookup(ctx context.Context, pipeline string, objs []pusher.Object) (map[string]state.Progress, error) {
	s.lookups.Add(1)
	return s.Store.Lookup(ctx, pipeline, objs)
}

// TestDoneCostsNoLookup: a version the runner loaded, or looked up done,
// is skipped when named again without a state query, until a prune.
func TestDoneCostsNoLookup(t *testing.T) {
	fs, _ := filestore.New(t.TempDir())
	st := &lookupCounter{Store: fs}
	var out bytes.Buffer
	r, err := New(Config{
		Store:  &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n"}},
		Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 1, Async: true},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []Outcome
	pass := func() {
		t.Helper()
		task := Task{Object: pusher.Object{Key: "a.csv", ETag: "e"}, Done: func(res Result) { outcomes = append(outcomes, res.Outcome) }}
		if _, err := r.Pass(t.Context(), t.Context(), func(ctx context.Context, send Send) error { return send(ctx, []Task{task}) }); err != nil {
			t.Fatal(err)
		}
	}
	pass()
	pass()
	if got := st.lookups.Load(); got != 1 || out.String() != "{\"id\":\"1\"}\n" {
		t.Fatalf("%d lookups, output %q; want 1 lookup and the record once", got, out.String())
	}
	if r.Skipped.Load() != 1 || fmt.Sprint(outcomes) != fmt.Sprint([]Outcome{Loaded, Loaded}) {
		t.Fatalf("skipped %d, outcomes %v", r.Skipped.Load(), outcomes)
	}
	r.done.clear() // as a prune does
	pass()
	if got := st.lookups.Load(); got != 2 {
		t.Fatalf("%d lookups after the cache was cleared, want 2", got)
	}
}

// gateStore is a vanishingStore whose Open waits for open to close,
// after saying it was called on opened.
type gateStore struct {
	vanishingStore
	opened chan struct{}
	open   chan struct{}
}

func (s *gateStore) Open(ctx context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	s.opened <- struct{}{}
	<-s.open
	return s.vanishingStore.Open(ctx, o, off)
}

// TestDuplicateInFlightCostsNoLookup: a version named again while it
// loads in the pass joins that load, with no state query, and loads once.
func TestDuplicateInFlightCostsNoLookup(t *testing.T) {
	fs, _ := filestore.New(t.TempDir())
	st := &lookupCounter{Store: fs}
	var out bytes.Buffer
	store := &gateStore{vanishingStore: vanishingStore{objs: map[string]string{"a.csv": "id\n1\n"}},
		opened: make(chan struct{}, 2), open: make(chan struct{})}
	r, err := New(Config{
		Store: store, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 1, Async: true},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var outcomes []Outcome
	task := Task{Object: pusher.Object{Key: "a.csv", ETag: "e"}, Done: func(res Result) {
		mu.Lock()
		outcomes = append(outcomes, res.Outcome)
		mu.Unlock()
	}}
	if _, err := r.Pass(t.Context(), t.Context(), func(ctx context.Context, send Send) error {
		if err := send(ctx, []Task{task}); err != nil {
			return err
		}
		<-store.opened // loading
		err := send(ctx, []Task{task})
		close(store.open)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := st.lookups.Load(); got != 1 || out.String() != "{\"id\":\"1\"}\n" {
		t.Fatalf("%d lookups, output %q; want 1 lookup and the record once", got, out.String())
	}
	if fmt.Sprint(outcomes) != fmt.Sprint([]Outcome{Loaded, Loaded}) {
		t.Fatalf("outcomes %v, want both tasks loaded", outcomes)
	}
}

// flakyStore answers the first fails opens as an unavailable service.
type flakyStore struct {
	vanishingStore
	fails atomic.Int64
}

func (s *flakyStore) Open(ctx context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, pusher.Unavailable(fmt.Errorf("503 SlowDown"))
	}
	return s.vanishingStore.Open(ctx, o, off)
}

// TestTransientFailureIsNoAttempt: a file whose load ends for a transient
// reason several times (no retry budget: each ends the pass) and then
// loads has one attempt, and every task ended as Retry without attempts.
func TestTransientFailureIsNoAttempt(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const fails = 3
	store := &flakyStore{vanishingStore: vanishingStore{objs: map[string]string{"a.csv": "id\n1\n2\n"}}}
	store.fails.Store(fails)
	var out bytes.Buffer
	r, err := New(Config{
		Store: store, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto", RetryMaxElapsed: -1},
		Options: Options{Workers: 1, OnError: OnErrorSkipFile, MaxAttempts: 1},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	obj := pusher.Object{Key: "a.csv", ETag: "e", Size: int64(len(store.objs["a.csv"]))}
	for i := range fails + 1 {
		var res []Result
		_, err := r.Pass(t.Context(), t.Context(), func(ctx context.Context, send Send) error {
			return send(ctx, []Task{{Object: obj, Done: func(r Result) { res = append(res, r) }}})
		})
		want := Retry
		if i == fails {
			want = Loaded
			if err != nil {
				t.Fatalf("pass %d: %v", i+1, err)
			}
		}
		if len(res) != 1 || res[0].Outcome != want || res[0].Attempts != 0 {
			t.Fatalf("pass %d: results %+v, want one %v without attempts", i+1, res, want)
		}
		pr, err := st.Lookup(t.Context(), "p", []pusher.Object{obj})
		if err != nil {
			t.Fatal(err)
		}
		if p := pr[obj.ID()]; p.Attempts != 1 || p.Status == state.Failed {
			t.Fatalf("pass %d: state %+v, want 1 attempt, not failed", i+1, p)
		}
	}
	if out.String() != "{\"id\":\"1\"}\n{\"id\":\"2\"}\n" {
		t.Fatalf("output %q", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// freshStore lists its objects as modified now.
type freshStore struct{ vanishingStore }

func (s *freshStore) List(ctx context.Context, fn func([]pusher.Object) error) error {
	return s.vanishingStore.List(ctx, func(page []pusher.Object) error {
		for i := range page {
			page[i].LastModified = time.Now()
		}
		return fn(page)
	})
}

// TestFollowReconciles: following a queue that names nothing, without
// backfill, the reconciliation listings load the objects modified since
// the start, each once however many listings run.
func TestFollowReconciles(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	r, err := New(Config{
		Store:  &freshStore{vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id\n3\n"}}},
		Target: jsonlines.Writer("test", out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 1},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	silent := func(ctx context.Context, send Send) error { <-ctx.Done(); return nil }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(ctx, context.Background(), silent, FollowOptions{Reconcile: PollOptions{Reconcile: 10 * time.Millisecond}})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "\n") < 3 || r.Keys.Load() < 9 { // loaded, and listed 3 times
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: output %q, %d keys listed", out.String(), r.Keys.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2", "3"} {
		if n := strings.Count(out.String(), `{"id":"`+id+`"}`); n != 1 {
			t.Fatalf("id %s written %d times in %d listings: %q", id, n, r.Keys.Load()/3, out.String())
		}
	}
	if a, err := st.Anchor(t.Context(), "p", time.Time{}); err != nil || a.IsZero() {
		t.Fatalf("anchor %v, %v: want the pipeline's start recorded", a, err)
	}
}

// blockingLookups is a lookupCounter whose lookups say they started on
// started and wait for release.
type blockingLookups struct {
	lookupCounter
	started chan struct{}
	release chan struct{}
}

func (s *blockingLookups) Lookup(ctx context.Context, pipeline string, objs []pusher.Object) (map[string]state.Progress, error) {
	s.started <- struct{}{}
	<-s.release
	return s.lookupCounter.Lookup(ctx, pipeline, objs)
}

// TestConcurrentLookupsCoalesce: a version named by several Sends at
// once (receivers handed the same notification) is looked up once, and
// loads once.
func TestConcurrentLookupsCoalesce(t *testing.T) {
	fs, _ := filestore.New(t.TempDir())
	st := &blockingLookups{lookupCounter: lookupCounter{Store: fs}, started: make(chan struct{}, 2), release: make(chan struct{})}
	var out bytes.Buffer
	r, err := New(Config{
		Store:  &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n"}},
		Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 2, Async: true},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ended atomic.Int64
	task := func(key string) Task {
		return Task{Object: pusher.Object{Key: key, ETag: "e"}, Done: func(res Result) {
			if res.Outcome == Loaded {
				ended.Add(1)
			}
		}}
	}
	if _, err := r.Pass(t.Context(), t.Context(), func(ctx context.Context, send Send) error {
		first := make(chan error, 1)
		go func() { first <- send(ctx, []Task{task("a.csv")}) }()
		<-st.started // a.csv's lookup is under way
		second := make(chan error, 1)
		go func() { second <- send(ctx, []Task{task("a.csv"), task("b.csv")}) }()
		<-st.started // b.csv's: a.csv waits for the first lookup
		third := make(chan error, 1)
		go func() { third <- send(ctx, []Task{task("a.csv")}) }()
		// Without coalescing the third would look a.csv up again; give it
		// the time to (it asks nothing else, so nothing signals it waits).
		time.Sleep(100 * time.Millisecond)
		close(st.release)
		return errors.Join(<-first, <-second, <-third)
	}); err != nil {
		t.Fatal(err)
	}
	if got := st.lookups.Load(); got != 2 {
		t.Errorf("%d lookups, want 2 (a.csv once, b.csv once)", got)
	}
	if got := out.String(); strings.Count(got, `{"id":"1"}`) != 1 || strings.Count(got, `{"id":"2"}`) != 1 {
		t.Errorf("output %q, want each record once", got)
	}
	if ended.Load() != 4 {
		t.Errorf("%d tasks loaded, want 4", ended.Load())
	}
}
