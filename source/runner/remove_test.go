package runner

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
)

// removeTarget records the writes and removals it gets; a write waits
// for gate when it is set, after closing writing.
type removeTarget struct {
	mu      sync.Mutex
	events  []string
	gate    chan struct{}
	writing chan struct{}
	once    sync.Once
}

func (t *removeTarget) Write(_ context.Context, c *pusher.Chunk) error {
	if t.gate != nil {
		t.once.Do(func() { close(t.writing) })
		<-t.gate
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Last {
		t.events = append(t.events, "wrote "+c.File.Key)
	}
	return nil
}

func (t *removeTarget) Remove(_ context.Context, key string) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, "removed "+key)
	return 1, nil
}

func (t *removeTarget) CommitsProgress() bool { return false }
func (t *removeTarget) String() string        { return "remove target" }
func (t *removeTarget) Close() error          { return nil }

// signalWriter closes seen once a log line holds want.
type signalWriter struct {
	want string
	seen chan struct{}
	once sync.Once
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return w.buf.Write(p)
}

// TestRemoveWaitsForTheLoad: a removal of a key being loaded waits for
// the load to end, then deletes the rows (after the load's last write)
// and marks every version of the key removed in the state (which is not
// in the target); a removal of a key not loading removes at once.
func TestRemoveWaitsForTheLoad(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	store.set("a.csv", "id\n1\n2\n")
	a := pusher.Object{Key: "a.csv", ETag: etagOf("id\n1\n2\n"), Size: 7}
	target := &removeTarget{gate: make(chan struct{}), writing: make(chan struct{})}
	logs := &signalWriter{want: "the removal waits for the load to end", seen: make(chan struct{})}
	r, err := New(Config{
		Store: store, Target: target, State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 1, Async: true, OnError: OnErrorSkipFile},
		Log:     zerolog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var results []string
	task := func(obj pusher.Object, remove bool) Task {
		return Task{Object: obj, Remove: remove, Done: func(res Result) {
			mu.Lock()
			defer mu.Unlock()
			what := "load "
			if remove {
				what = "remove "
			}
			results = append(results, what+obj.Key+": "+res.Outcome.String())
		}}
	}
	feed := func(ctx context.Context, send Send) error {
		if err := send(ctx, []Task{task(a, false)}); err != nil {
			return err
		}
		<-target.writing
		if err := send(ctx, []Task{task(pusher.Object{Key: "a.csv"}, true)}); err != nil {
			return err
		}
		<-logs.seen // the removal waits for the load
		close(target.gate)
		return send(ctx, []Task{task(pusher.Object{Key: "b.csv"}, true)})
	}
	if _, err := r.Pass(t.Context(), t.Context(), feed); err != nil {
		t.Fatal(err)
	}
	target.mu.Lock()
	events := strings.Join(target.events, ", ")
	target.mu.Unlock()
	w, rm := strings.Index(events, "wrote a.csv"), strings.Index(events, "removed a.csv")
	if w < 0 || rm < w || !strings.Contains(events, "removed b.csv") {
		t.Fatalf("target events: %s; want a.csv's last write, then its removal, and b.csv's removal", events)
	}
	mu.Lock()
	got := strings.Join(results, ", ")
	mu.Unlock()
	for _, want := range []string{"load a.csv: loaded", "remove a.csv: loaded", "remove b.csv: loaded"} {
		if !strings.Contains(got, want) {
			t.Errorf("results %s; want %s", got, want)
		}
	}
	pr, err := st.Lookup(t.Context(), "p", []pusher.Object{a})
	if err != nil {
		t.Fatal(err)
	}
	if p := pr[a.ID()]; p.Status != state.Removed {
		t.Fatalf("a.csv in the state: %+v; want removed", p)
	}
	if r.Removed.Load() != 2 {
		t.Fatalf("Removed = %d; want 2", r.Removed.Load())
	}
}
