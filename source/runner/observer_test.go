package runner

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	files     map[FileStatus][]string
	commits   int
	retries   map[string]int
	state     []error
	source    []error
	loadTimes []time.Duration
}

func (o *recorder) FileEnded(obj pusher.Object, s FileStatus, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.files == nil {
		o.files = map[FileStatus][]string{}
	}
	o.files[s] = append(o.files[s], obj.Key)
	if s == FileLoaded {
		o.loadTimes = append(o.loadTimes, took)
	}
}
func (o *recorder) Committed(time.Duration) { o.mu.Lock(); o.commits++; o.mu.Unlock() }
func (o *recorder) Retried(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.retries == nil {
		o.retries = map[string]int{}
	}
	o.retries[r]++
}
func (o *recorder) StateRoundTrip(err error) {
	o.mu.Lock()
	o.state = append(o.state, err)
	o.mu.Unlock()
}
func (o *recorder) SourceRoundTrip(err error) {
	o.mu.Lock()
	o.source = append(o.source, err)
	o.mu.Unlock()
}

// TestObserverSeesFilesCommitsAndRoundTrips: a snapshot of two good
// files, a bad one (quarantined at its first failure with MaxAttempts 1)
// and a vanished one tells the observer each file's status, the commits
// and the round trips; a second snapshot skips the loaded files; the
// backlog ends at 0 and nothing is left in flight.
func TestObserverSeesFilesCommitsAndRoundTrips(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	var out bytes.Buffer
	r, err := New(Config{
		Store: &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id,x\n3\n"},
			gone: map[string]bool{"b.csv": true}},
		Target:   jsonlines.Writer("test", &out),
		State:    st,
		Pipeline: "p",
		Load:     load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options:  Options{Workers: 2, Async: true, OnError: OnErrorSkipFile, MaxAttempts: 1},
		Log:      zerolog.Nop(),
		Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	if got := obs.files[FileLoaded]; len(got) != 1 || got[0] != "a.csv" {
		t.Errorf("loaded %v, want [a.csv]", got)
	}
	if got := obs.files[FileSkipped]; len(got) != 1 || got[0] != "b.csv" {
		t.Errorf("skipped %v, want [b.csv] (vanished)", got)
	}
	if got := obs.files[FileQuarantined]; len(got) != 1 || got[0] != "c.csv" {
		t.Errorf("quarantined %v, want [c.csv]", got)
	}
	if obs.commits == 0 {
		t.Error("no commit observed")
	}
	if len(obs.state) == 0 || len(obs.source) == 0 {
		t.Errorf("round trips: %d state, %d source; want some of each", len(obs.state), len(obs.source))
	}
	for _, err := range append(obs.state, obs.source...) {
		if err != nil {
			t.Errorf("round trip failed: %v", err)
		}
	}
	obs.mu.Unlock()
	if files, bytes, limit := r.Inflight(); files != 0 || bytes != 0 || limit != pusher.DefaultInflightBytes {
		t.Errorf("in flight after the snapshot: %d files, %d bytes, limit %d", files, bytes, limit)
	}
	if b := r.BacklogFiles(); b != 0 {
		t.Errorf("backlog %d after the snapshot, want 0", b)
	}

	if _, err := r.Snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// a.csv done, c.csv quarantined; b.csv vanishes again.
	if got := len(obs.files[FileSkipped]); got != 4 {
		t.Errorf("skipped %v after the second snapshot, want 4 entries", obs.files[FileSkipped])
	}
}

// TestAnsweredCountsDataErrorsAsAnswers: a refused value and a conflict
// are answers from the service; an unavailable service is a failed round trip; a
// cancellation says nothing.
func TestAnsweredCountsDataErrorsAsAnswers(t *testing.T) {
	for _, tt := range []struct {
		err       error
		ok, known bool
	}{
		{nil, true, true},
		{errors.New("bad value"), true, true},
		{pusher.Unavailable(errors.New("connection refused")), false, true},
		{pusher.Retry(errors.New("conflict")), true, true},
		{context.Canceled, false, false},
	} {
		if ok, known := answered(tt.err); ok != tt.ok || known != tt.known {
			t.Errorf("answered(%v) = %v, %v; want %v, %v", tt.err, ok, known, tt.ok, tt.known)
		}
	}
}
