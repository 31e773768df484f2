package pusher

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// groupTarget writes groups; a chunk of file bad fails with a data error.
type groupTarget struct {
	mu     sync.Mutex
	groups [][]string
	writes []string
	gate   chan struct{} // the first write waits for it
	// entered, when set, is sent to (without blocking) as a write starts
	// waiting for the gate.
	entered chan struct{}
}

var errBadValue = errors.New("bad value")

func (g *groupTarget) wait(ctx context.Context) error {
	if g.gate == nil {
		return nil
	}
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *groupTarget) WriteGroup(ctx context.Context, cs []*Chunk) error {
	if err := g.wait(ctx); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var names []string
	for i, c := range cs {
		if c.File.Key == "bad" {
			return &ChunkError{Index: i, Err: errBadValue}
		}
		names = append(names, name(c))
	}
	g.groups = append(g.groups, names)
	return nil
}

func (g *groupTarget) Write(ctx context.Context, c *Chunk) error {
	if err := g.wait(ctx); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.File.Key == "bad" {
		return errBadValue
	}
	g.writes = append(g.writes, name(c))
	return nil
}

func (g *groupTarget) CommitsProgress() bool { return true }
func (g *groupTarget) String() string        { return "group" }
func (g *groupTarget) Close() error          { return nil }

// TestAsyncGroups: chunks of different files that are ready together are
// written in one group; a bad file's chunk fails only that file and the
// group is written again without it; a file's second chunk goes in a later
// group than its first.
func TestAsyncGroups(t *testing.T) {
	ClassifyData := func(err error) bool { return ClassOf(err) == ClassData }
	if !ClassifyData(errBadValue) {
		t.Fatal("the fake's error must be a data error")
	}
	g := &groupTarget{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	// A group waits up to Linger for more chunks, and for their parse:
	// long enough for a loaded machine (the race detector, CI) to hand
	// the queue every chunk pushed before the gate opens. (With no
	// linger a group took what was parsed at that instant: a#0 alone,
	// once.)
	a := NewAsync(context.Background(), AsyncConfig{Target: g, Linger: time.Second})
	var mu sync.Mutex
	results := map[string]error{}
	var wg sync.WaitGroup
	push := func(key string, seq int, last bool) {
		if err := a.Push(context.Background(), chunk(t, key, seq, last, 20)); err != nil {
			t.Fatalf("push %s#%d: %v", key, seq, err)
		}
	}
	finish := func(key string) {
		wg.Add(1)
		a.Finish(obj(key), nil, func(r FileResult) {
			mu.Lock()
			results[key] = r.Err
			mu.Unlock()
			wg.Done()
		})
	}
	// "first" is taken alone while the target is gated; the rest queue up
	// behind it and are written together once the gate opens.
	push("first", 0, true)
	finish("first")
	select { // "first" alone, its write waiting at the gate
	case <-g.entered:
	case <-time.After(time.Minute):
		t.Fatal("the first write did not start")
	}
	push("a", 0, false)
	push("b", 0, true)
	push("bad", 0, true)
	push("a", 1, true)
	push("c", 0, true)
	for _, k := range []string{"a", "b", "bad", "c"} {
		finish(k)
	}
	close(g.gate)
	wg.Wait()
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A lone chunk is written alone (Write), a group with WriteGroup.
	want := [][]string{{"a#0", "b#0"}, {"a#1", "c#0"}}
	if !slices.Equal(g.writes, []string{"first#0"}) || !slices.EqualFunc(g.groups, want, slices.Equal) {
		t.Errorf("groups %v, single writes %v; want %v and [first#0]", g.groups, g.writes, want)
	}
	for _, k := range []string{"first", "a", "b", "c"} {
		if results[k] != nil {
			t.Errorf("file %s: %v", k, results[k])
		}
	}
	if err := results["bad"]; !errors.Is(err, errBadValue) || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("file bad: %v, want the bad value naming the file", err)
	}
}
