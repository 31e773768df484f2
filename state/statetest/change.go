package statetest

import (
	"context"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// replaced checks state.Replacer: a new version marks the key's other
// versions replaced (done or loading), their position back at the start;
// a load of a replaced version under way can no longer advance; named
// again, a replaced version loads from its start; replacing twice, or
// another key, changes nothing; prune forgets replaced versions.
func replaced(t *testing.T, open func(t *testing.T) (state.Store, func() state.Store)) {
	ctx := context.Background()
	s, reopen := open(t)
	v1 := pusher.Object{Key: "k.csv", ETag: "v1", Size: 10}
	v2 := pusher.Object{Key: "k.csv", ETag: "v2", Size: 10}
	v3 := pusher.Object{Key: "k.csv", ETag: "v3", Size: 10}
	other := pusher.Object{Key: "other.csv", ETag: "v1", Size: 10}
	chunk := func(obj pusher.Object, from, to int64, last bool) *pusher.Chunk {
		return &pusher.Chunk{File: obj, Start: pusher.Position{Records: from, Offset: from * 10}, End: pusher.Position{Records: to, Offset: to * 10}, Last: last}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []pusher.Object{v1, other} {
		_, err := s.Start(ctx, "p", o)
		must(err)
		must(s.Advance(ctx, "p", chunk(o, 0, 3, true)))
	}
	_, err := s.Start(ctx, "p", v2) // loading, a chunk committed
	must(err)
	must(s.Advance(ctx, "p", chunk(v2, 0, 2, false)))
	_, err = s.Start(ctx, "p", v3)
	must(err)
	r := s.(state.Replacer)
	must(r.Replace(ctx, "p", v3))
	must(r.Replace(ctx, "p", v3)) // idempotent

	s = reopen()
	got, err := s.Lookup(ctx, "p", []pusher.Object{v1, other})
	must(err)
	for _, o := range []pusher.Object{v1, v2} {
		if p := got[o.ID()]; p.Status != state.Replaced || p.Pos != (pusher.Position{}) {
			t.Errorf("%s after Replace(v3) = %+v; want replaced at the start", o.ETag, p)
		}
	}
	if p := got[v3.ID()]; p.Status != state.Loading {
		t.Errorf("v3 = %+v; want loading", p)
	}
	if p := got[other.ID()]; p.Status != state.Done || p.Pos.Records != 3 {
		t.Errorf("other key = %+v; want done at 3", p)
	}
	if err := s.Advance(ctx, "p", chunk(v2, 2, 4, true)); err == nil {
		t.Error("a replaced version's load advanced")
	}
	p, err := s.Start(ctx, "p", v1)
	must(err)
	if p.Status != state.Loading || p.Pos != (pusher.Position{}) || p.Attempts != 1 || p.Loaded > 0 {
		t.Errorf("Start(v1) after it was replaced = %+v; want loading from the start, attempt 1", p)
	}
	must(s.Advance(ctx, "p", chunk(v1, 0, 3, true)))
	must(s.(state.Replacer).Replace(ctx, "p", v1))
	got, err = s.Lookup(ctx, "p", []pusher.Object{v1})
	must(err)
	if got[v1.ID()].Status != state.Done || got[v3.ID()].Status != state.Replaced {
		t.Errorf("after Replace(v1): v1 %+v, v3 %+v; want done, replaced", got[v1.ID()], got[v3.ID()])
	}
	n, err := s.Prune(ctx, "p", time.Now().Add(time.Hour), "")
	must(err)
	if n != 4 { // v1 and other done, v2 and v3 replaced
		t.Errorf("Prune = %d; want 4", n)
	}
}

// resumed checks state.Resumer: a done version's Tail is kept (across a
// reopen), a version without one has the zero Tail, a new version starts
// at an older one's position and advances from there, and StartAt is
// refused for a version that is not loading at its start.
func resumed(t *testing.T, open func(t *testing.T) (state.Store, func() state.Store)) {
	ctx := context.Background()
	s, reopen := open(t)
	v1 := pusher.Object{Key: "app.log", ETag: "v1", Size: 100}
	v2 := pusher.Object{Key: "app.log", ETag: "v2", Size: 150}
	at := pusher.Position{Records: 10, Offset: 100}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Start(ctx, "p", v1)
	must(err)
	must(s.Advance(ctx, "p", &pusher.Chunk{File: v1, End: at, Last: true}))
	tail := state.Tail{Offset: 100, Len: 64, Sum: "abc123"}
	must(s.(state.Resumer).SetTail(ctx, "p", v1, tail))

	s = reopen()
	r := s.(state.Resumer)
	if got, err := r.Tail(ctx, "p", v1); err != nil || got != tail {
		t.Fatalf("Tail(v1) = %+v, %v; want %+v", got, err, tail)
	}
	if got, err := r.Tail(ctx, "p", v2); err != nil || got != (state.Tail{}) {
		t.Fatalf("Tail(v2) = %+v, %v; want none", got, err)
	}
	_, err = s.Start(ctx, "p", v2)
	must(err)
	must(r.StartAt(ctx, "p", v2, at))
	if err := r.StartAt(ctx, "p", v2, at); err == nil {
		t.Error("StartAt of a version already past its start succeeded")
	}
	must(s.Advance(ctx, "p", &pusher.Chunk{File: v2, Start: at, End: pusher.Position{Records: 15, Offset: 150}, Last: true}))
	got, err := s.Lookup(ctx, "p", []pusher.Object{v2})
	must(err)
	if p := got[v2.ID()]; p.Status != state.Done || p.Pos.Records != 15 || p.Loaded != 5 {
		t.Errorf("v2 = %+v; want done at record 15 with 5 loaded", p)
	}
	if p := got[v1.ID()]; p.Status != state.Done {
		t.Errorf("v1 = %+v; want still done", p)
	}
	if err := r.StartAt(ctx, "p", pusher.Object{Key: "never", ETag: "x"}, at); err == nil {
		t.Error("StartAt of a version never started succeeded")
	}
}

// removed checks state.Remover: every version of the key (done, loading,
// failed) is marked removed at its start, other keys are untouched, a
// load under way can no longer advance, a removal again changes nothing,
// and a removed version named again loads from its start.
func removed(t *testing.T, open func(t *testing.T) (state.Store, func() state.Store)) {
	ctx := context.Background()
	s, reopen := open(t)
	v1 := pusher.Object{Key: "gone.csv", ETag: "v1", Size: 10}
	v2 := pusher.Object{Key: "gone.csv", ETag: "v2", Size: 10}
	other := pusher.Object{Key: "kept.csv", ETag: "v1", Size: 10}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []pusher.Object{v1, other} {
		_, err := s.Start(ctx, "p", o)
		must(err)
		must(s.Advance(ctx, "p", &pusher.Chunk{File: o, End: pusher.Position{Records: 3, Offset: 30}, Last: true}))
	}
	_, err := s.Start(ctx, "p", v2)
	must(err)
	must(s.Advance(ctx, "p", &pusher.Chunk{File: v2, End: pusher.Position{Records: 2, Offset: 20}}))
	must(s.(state.Remover).Remove(ctx, "p", "gone.csv"))
	s = reopen()
	must(s.(state.Remover).Remove(ctx, "p", "gone.csv"))
	got, err := s.Lookup(ctx, "p", []pusher.Object{v1, other})
	must(err)
	for _, o := range []pusher.Object{v1, v2} {
		if p := got[o.ID()]; p.Status != state.Removed || p.Pos != (pusher.Position{}) {
			t.Errorf("%s = %+v; want removed at the start", o.ETag, p)
		}
	}
	if p := got[other.ID()]; p.Status != state.Done {
		t.Errorf("other key = %+v; want done", p)
	}
	if err := s.Advance(ctx, "p", &pusher.Chunk{File: v2, Start: pusher.Position{Records: 2, Offset: 20}, End: pusher.Position{Records: 4, Offset: 40}, Last: true}); err == nil {
		t.Error("a removed version's load advanced")
	}
	p, err := s.Start(ctx, "p", v1)
	must(err)
	if p.Status != state.Loading || p.Pos != (pusher.Position{}) || p.Attempts != 1 {
		t.Errorf("Start(v1) after its removal = %+v; want loading from the start, attempt 1", p)
	}
}
