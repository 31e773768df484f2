package statetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// afterLoaded checks state.AfterLoader: the action recorded pending with
// the last chunk, its outcome, the removal check and Prune keeping what
// is still to do.
func afterLoaded(t *testing.T, open func(t *testing.T) (state.Store, func() state.Store)) {
	ctx := context.Background()
	mod := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	a := pusher.Object{Key: "in/a.csv", ETag: "e1", Size: 10, LastModified: mod}
	b := pusher.Object{Key: "in/b.csv", ETag: "e1", Size: 20, LastModified: mod}
	c := pusher.Object{Key: "in/c.csv", ETag: "e1", Size: 30, LastModified: mod}
	d := pusher.Object{Key: "in/d.csv", ETag: "e1", Size: 40, LastModified: mod}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s, reopen := open(t)
	al := s.(state.AfterLoader)
	for _, o := range []pusher.Object{a, b, c, d} {
		_, err := s.Start(ctx, "p", o)
		must(err)
	}
	// a: two chunks, the action on the last; b: no action; c: a tag.
	first := &pusher.Chunk{File: a, End: pusher.Position{Records: 2, Offset: 20}, AfterLoad: "delete"} // not last: no action yet
	must(s.Advance(ctx, "p", first))
	if got, err := al.AfterLoads(ctx, "p", 10); err != nil || len(got) != 0 {
		t.Fatalf("AfterLoads before the last chunk = %+v, %v; want none", got, err)
	}
	must(s.Advance(ctx, "p", &pusher.Chunk{File: a, Start: first.End, End: pusher.Position{Records: 3, Offset: 30}, Last: true, AfterLoad: "delete"}))
	must(s.Advance(ctx, "p", &pusher.Chunk{File: b, End: pusher.Position{Records: 1, Offset: 10}, Last: true}))
	last := []*pusher.Chunk{
		{File: c, End: pusher.Position{Records: 1, Offset: 10}, Last: true, AfterLoad: "tag:ferry=loaded"},
		{File: d, End: pusher.Position{Records: 1, Offset: 10}, Last: true, AfterLoad: "move:archive/"},
	}
	if g, ok := s.(pusher.GroupProgress); ok {
		must(g.AdvanceGroup(ctx, "p", last)) // in one step, as the async pusher does
	} else {
		for _, ch := range last {
			must(s.Advance(ctx, "p", ch))
		}
	}

	pending := func(st state.Store, want ...string) []state.AfterLoadFile {
		t.Helper()
		got, err := st.(state.AfterLoader).AfterLoads(ctx, "p", 10)
		must(err)
		var keys []string
		for _, f := range got {
			keys = append(keys, f.Object.Key+" "+f.AfterLoad.Action+" "+string(f.AfterLoad.Status))
		}
		if strings.Join(keys, ", ") != strings.Join(want, ", ") {
			t.Fatalf("AfterLoads = %q; want %q", keys, want)
		}
		return got
	}
	got := pending(s, "in/a.csv delete pending", "in/c.csv tag:ferry=loaded pending", "in/d.csv move:archive/ pending")
	if o := got[0].Object; o.Key != a.Key || o.ETag != a.ETag || o.Size != a.Size || !o.LastModified.Equal(mod) {
		t.Errorf("AfterLoads object = %+v; want %+v", o, a)
	}
	pending(reopen(), "in/a.csv delete pending", "in/c.csv tag:ferry=loaded pending", "in/d.csv move:archive/ pending")
	if got, err := al.AfterLoads(ctx, "p", 1); err != nil || len(got) != 1 {
		t.Errorf("AfterLoads with limit 1 = %d files, %v", len(got), err)
	}
	// A done file with an action pending is done: it never loads again.
	if p, err := s.Start(ctx, "p", a); err != nil || p.Status != state.Done {
		t.Fatalf("Start of a file whose action is pending = %+v, %v; want done", p, err)
	}

	taken := func(key string, want bool) {
		t.Helper()
		if got, err := al.TakenByAfterLoad(ctx, "p", key); err != nil || got != want {
			t.Errorf("TakenByAfterLoad(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	taken(a.Key, true)  // delete pending
	taken(b.Key, false) // no action
	taken(c.Key, false) // a tag leaves the object
	taken(d.Key, true)  // move pending
	taken("in/none.csv", false)

	// Prune keeps the files whose action is to do.
	if n, err := s.Prune(ctx, "p", time.Now().Add(time.Hour), ""); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 (b, whose action is none)", n, err)
	}

	must(al.AfterLoaded(ctx, "p", a, state.AfterLoadFailed, errors.New("delete s3://b/in/a.csv: SlowDown")))
	must(al.AfterLoaded(ctx, "p", a, state.AfterLoadFailed, errors.New("delete s3://b/in/a.csv: SlowDown again")))
	got = pending(reopen(), "in/c.csv tag:ferry=loaded pending", "in/d.csv move:archive/ pending", "in/a.csv delete failed")
	if f := got[2].AfterLoad; f.Attempts != 2 || f.Error != "delete s3://b/in/a.csv: SlowDown again" || f.At.IsZero() {
		t.Errorf("failed action = %+v; want 2 attempts and the last error", f)
	}
	taken(a.Key, false) // failed: the object may still be there
	must(al.AfterLoaded(ctx, "p", a, state.AfterLoadDone, nil))
	must(al.AfterLoaded(ctx, "p", c, state.AfterLoadSkipped, errors.New("object changed since it was loaded")))
	must(al.AfterLoaded(ctx, "p", d, state.AfterLoadDone, nil))
	pending(reopen())
	taken(a.Key, true)
	taken(d.Key, true)

	// A new version of a key taken away is not: its removal is the user's.
	a2 := a
	a2.ETag = "e2"
	_, err := s.Start(ctx, "p", a2)
	must(err)
	taken(a.Key, false)

	if in, ok := s.(state.Inspector); ok {
		fs, err := in.Files(ctx, state.FileQuery{Pipeline: "p", Keys: []string{a.Key, c.Key}})
		must(err)
		for _, f := range fs {
			switch {
			case f.Key == a.Key && f.ETag == "e1" && (f.AfterLoad.Status != state.AfterLoadDone || f.AfterLoad.Action != "delete" || f.AfterLoad.Attempts != 2 || f.AfterLoad.Error != ""):
				t.Errorf("file a = %+v; want its delete done after 2 failures", f.AfterLoad)
			case f.Key == a.Key && f.ETag == "e2" && f.AfterLoad.Status != state.AfterLoadNone:
				t.Errorf("loading a = %+v; want no action", f.AfterLoad)
			case f.Key == c.Key && (f.AfterLoad.Status != state.AfterLoadSkipped || f.AfterLoad.Error == ""):
				t.Errorf("file c = %+v; want skipped with why", f.AfterLoad)
			}
		}
		sum, err := in.Summary(ctx, "p", 0)
		must(err)
		if sum.AfterLoadPending != 0 || sum.AfterLoadFailed != 0 {
			t.Errorf("Summary after-load = %d pending, %d failed; want none", sum.AfterLoadPending, sum.AfterLoadFailed)
		}
	}
	// Done actions no longer hold Prune back.
	if n, err := s.Prune(ctx, "p", time.Now().Add(time.Hour), ""); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
}
