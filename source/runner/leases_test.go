package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/runner/lease"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// leasedState is a state whose leases give this process range 0 of 2
// (another process holds range 1), and that records the keys looked up.
type leasedState struct {
	state.Store
	mu     sync.Mutex
	looked []string
	left   bool
}

func (s *leasedState) Lookup(ctx context.Context, pipeline string, objs []pusher.Object) (map[string]state.Progress, error) {
	s.mu.Lock()
	for _, o := range objs {
		s.looked = append(s.looked, o.Key)
	}
	s.mu.Unlock()
	return s.Store.Lookup(ctx, pipeline, objs)
}

func (s *leasedState) LeaseJoin(context.Context, string, string, int, time.Duration) error {
	return nil
}
func (s *leasedState) LeaseBeat(context.Context, string, string, int, time.Duration) (state.Heartbeat, error) {
	return state.Heartbeat{Held: []int{0}, Owners: 2, Rank: 0}, nil
}
func (s *leasedState) LeaseAcquire(context.Context, string, string, int, time.Duration) ([]int, error) {
	return nil, nil
}
func (s *leasedState) LeaseRelease(context.Context, string, string, []int) error { return nil }
func (s *leasedState) LeaseLeave(context.Context, string, string) error {
	s.mu.Lock()
	s.left = true
	s.mu.Unlock()
	return nil
}

// TestPollLoadsOnlyItsRanges: with leases, a poll looks up and loads only
// the keys of the ranges the process holds, counts the others, and leaves
// the leases when it stops.
func TestPollLoadsOnlyItsRanges(t *testing.T) {
	fs, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &leasedState{Store: fs}
	store := &memStore{}
	var mine, others []string
	for i := range 20 {
		k := fmt.Sprintf("in/%02d.csv", i)
		store.set(k, fmt.Sprintf("id\n%d\n", i))
		if lease.Range(k, 2) == 0 {
			mine = append(mine, k)
		} else {
			others = append(others, k)
		}
	}
	if len(mine) == 0 || len(others) == 0 {
		t.Fatalf("keys split %d/%d; want some in each range", len(mine), len(others))
	}
	out := &syncBuffer{}
	r, err := New(Config{
		Store: store, Target: jsonlines.Writer("test", out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 2, Async: true},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- r.Poll(ctx, context.Background(), PollOptions{Interval: 10 * time.Millisecond, Backfill: true, LeaseRanges: 2, LeaseExpiry: time.Second})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "\n") < len(mine) || r.Others.Load() < int64(2*len(others)) { // two polls at least
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: output %q, %d others", out.String(), r.Others.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.LeasesHeld.Load(); got != 1 || r.LeaseRanges.Load() != 2 {
		t.Fatalf("holds %d of %d ranges, want 1 of 2", got, r.LeaseRanges.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != len(mine) {
		t.Fatalf("%d records loaded, want %d (the keys of range 0): %q", n, len(mine), out.String())
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, k := range st.looked {
		if !slices.Contains(mine, k) {
			t.Fatalf("looked up %s, of another process's range", k)
		}
	}
	if !st.left {
		t.Fatal("the leases were not left when Poll returned")
	}
	if r.LeasesHeld.Load() != 0 {
		t.Fatalf("still holds %d ranges after Poll returned", r.LeasesHeld.Load())
	}
}

// TestLeasesNeedALeaser: leases with a state that keeps none fail Poll at
// once; Follow refuses them.
func TestLeasesNeedALeaser(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{
		Store: &memStore{}, Target: jsonlines.Writer("test", &syncBuffer{}), State: st, Pipeline: "p",
		Load: load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"}, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := PollOptions{Interval: time.Second, Backfill: true, LeaseRanges: 4}
	if err := r.Poll(t.Context(), t.Context(), opts); !errors.Is(err, ErrNoLeases) {
		t.Fatalf("Poll: %v, want ErrNoLeases", err)
	}
	if err := r.Follow(t.Context(), t.Context(), nil, FollowOptions{Reconcile: opts}); err == nil {
		t.Fatal("Follow accepted lease ranges")
	}
	for _, bad := range []PollOptions{{Interval: time.Second, LeaseRanges: 3}, {Interval: time.Second, LeaseRanges: 4, LeaseExpiry: time.Millisecond},
		{Interval: time.Second, LeaseRanges: 4, Reconcile: time.Second}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
