// Package statetest is the acceptance suite every state.Store passes.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Run runs the suite. open returns a fresh, empty store each call; reopen
// returns a store over the same data (to check persistence).
func Run(t *testing.T, open func(t *testing.T) (s state.Store, reopen func() state.Store)) {
	ctx := context.Background()
	a := pusher.Object{Key: "dir/a.csv", ETag: "e1", Size: 10}
	b := pusher.Object{Key: "dir/b.csv", ETag: "e1", Size: 20}
	chunk := func(obj pusher.Object, from, to int64, last bool) *pusher.Chunk {
		return &pusher.Chunk{File: obj, Start: pusher.Position{Records: from, Offset: from * 10}, End: pusher.Position{Records: to, Offset: to * 10}, Last: last}
	}

	// Tests of the optional interfaces run for the stores that have them.
	probe, _ := open(t)
	_, haver := probe.(state.Haver)
	_, groupStarter := probe.(state.GroupStarter)
	runIf := func(has bool, name string, fn func(t *testing.T)) {
		if has {
			t.Run(name, fn)
		}
	}

	_, replacer := probe.(state.Replacer)
	runIf(replacer, "replaced versions load again from their start", func(t *testing.T) { replaced(t, open) })
	_, remover := probe.(state.Remover)
	runIf(remover, "removed keys load again from their start", func(t *testing.T) { removed(t, open) })
	_, afterLoader := probe.(state.AfterLoader)
	runIf(afterLoader, "after-load actions are recorded with the last commit", func(t *testing.T) { afterLoaded(t, open) })
	_, resumer := probe.(state.Resumer)
	runIf(resumer, "a new version starts where an older one left off", func(t *testing.T) { resumed(t, open) })

	runIf(haver, "a pipeline with progress or an anchor is had", func(t *testing.T) {
		s, reopen := open(t)
		h := s.(state.Haver)
		has := func(h state.Haver, p string, want bool) {
			t.Helper()
			if got, err := h.Has(ctx, p); err != nil || got != want {
				t.Fatalf("Has(%q) = %v, %v; want %v", p, got, err, want)
			}
		}
		has(h, "p", false)
		if _, err := s.Lookup(ctx, "p", []pusher.Object{a}); err != nil {
			t.Fatal(err)
		}
		has(h, "p", false) // reading creates nothing
		if _, err := s.Start(ctx, "p", a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Anchor(ctx, "anchored", time.Now()); err != nil {
			t.Fatal(err)
		}
		r := reopen().(state.Haver)
		has(r, "p", true)
		has(r, "anchored", true)
		has(r, "q", false)
	})

	t.Run("new files are absent", func(t *testing.T) {
		s, _ := open(t)
		got, err := s.Lookup(ctx, "p", []pusher.Object{a, b})
		if err != nil || len(got) != 0 {
			t.Fatalf("Lookup = %v, %v; want empty", got, err)
		}
	})

	t.Run("read, ack half, reopen at the acked position", func(t *testing.T) {
		s, reopen := open(t)
		p, err := s.Start(ctx, "p", a)
		if err != nil || p.Status != state.Loading || p.Pos.Records != 0 || p.Attempts != 1 {
			t.Fatalf("Start = %+v, %v", p, err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 5, false)); err != nil {
			t.Fatal(err)
		}
		s2 := reopen()
		p, err = s2.Start(ctx, "p", a)
		if err != nil || p.Status != state.Loading || p.Pos != (pusher.Position{Records: 5, Offset: 50}) || p.Attempts != 1 {
			t.Fatalf("Start after reopen = %+v, %v; want loading at 5, still attempt 1 (a resume is no attempt)", p, err)
		}
		if err := s2.Advance(ctx, "p", chunk(a, 5, 9, true)); err != nil {
			t.Fatal(err)
		}
		got, err := s2.Lookup(ctx, "p", []pusher.Object{a, b})
		if err != nil || len(got) != 1 || got[state.ID(a)].Status != state.Done || got[state.ID(a)].Pos.Records != 9 {
			t.Fatalf("Lookup = %+v, %v", got, err)
		}
		p, err = s2.Start(ctx, "p", a)
		if err != nil || p.Status != state.Done || p.Attempts != 1 {
			t.Fatalf("Start of a done file = %+v, %v; want done, still 1 attempt", p, err)
		}
	})

	t.Run("a done file stays done", func(t *testing.T) {
		s, reopen := open(t)
		if _, err := s.Start(ctx, "p", a); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 2, true)); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, "p", a, errors.New("late failure")); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 2, 3, true)); err == nil {
			t.Fatal("a done file advanced")
		}
		got, err := reopen().Lookup(ctx, "p", []pusher.Object{a})
		if p := got[state.ID(a)]; err != nil || p.Status != state.Done || p.Pos.Records != 2 || p.Attempts != 1 || p.Error != "" {
			t.Fatalf("Lookup = %+v, %v; want done at 2, one attempt, no error", got, err)
		}
	})

	t.Run("lookup returns every version of the keys asked", func(t *testing.T) {
		s, _ := open(t)
		a2 := a
		a2.ETag = "e2"
		for _, o := range []pusher.Object{a, a2, b} {
			if _, err := s.Start(ctx, "p", o); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Lookup(ctx, "p", []pusher.Object{{Key: a.Key, ETag: "e3"}})
		if _, ok := got[state.ID(a2)]; err != nil || len(got) != 2 || !ok {
			t.Fatalf("Lookup = %+v, %v; want both versions of %s and not %s", got, err, a.Key, b.Key)
		}
	})

	t.Run("concurrent workers", func(t *testing.T) {
		s, reopen := open(t)
		const workers, files = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range files {
					o := pusher.Object{Key: fmt.Sprintf("w%d/%02d.csv", w, i), ETag: "e"}
					if _, err := s.Start(ctx, "p", o); err != nil {
						errs <- err
						return
					}
					for _, c := range []*pusher.Chunk{chunk(o, 0, 2, false), chunk(o, 2, 3, true)} {
						if err := s.Advance(ctx, "p", c); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var objs []pusher.Object
		for w := range workers {
			for i := range files {
				objs = append(objs, pusher.Object{Key: fmt.Sprintf("w%d/%02d.csv", w, i), ETag: "e"})
			}
		}
		got, err := reopen().Lookup(ctx, "p", objs)
		if err != nil || len(got) != workers*files {
			t.Fatalf("Lookup: %d files, %v", len(got), err)
		}
		for id, p := range got {
			if p.Status != state.Done || p.Pos.Records != 3 || p.Attempts != 1 {
				t.Fatalf("%q: %+v", id, p)
			}
		}
	})

	runIf(groupStarter, "a group starts as each file would", func(t *testing.T) {
		s, _ := open(t)
		g := s.(state.GroupStarter)
		c := pusher.Object{Key: "dir/c.csv", ETag: "e1", Size: 30}
		// a is done, b failed at record 3, c is new.
		for _, o := range []pusher.Object{a, b} {
			if _, err := s.Start(ctx, "p", o); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 4, true)); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(b, 0, 3, false)); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, "p", b, errors.New("bad")); err != nil {
			t.Fatal(err)
		}
		got, err := g.StartGroup(ctx, "p", []pusher.Object{c, a, b})
		if err != nil || len(got) != 3 {
			t.Fatalf("StartGroup = %+v, %v", got, err)
		}
		if got[0].Status != state.Loading || got[0].Pos.Records != 0 || got[0].Attempts != 1 {
			t.Errorf("new file: %+v; want loading at 0, attempt 1", got[0])
		}
		if got[1].Status != state.Done || got[1].Pos.Records != 4 {
			t.Errorf("done file: %+v; want done at 4", got[1])
		}
		if got[2].Status != state.Loading || got[2].Pos.Records != 3 || got[2].Attempts != 2 {
			t.Errorf("failed file: %+v; want loading at 3, attempt 2", got[2])
		}
		if err := s.Advance(ctx, "p", chunk(c, 0, 2, true)); err != nil {
			t.Errorf("advance a file the group started: %v", err)
		}
	})

	t.Run("advance from the wrong position is refused", func(t *testing.T) {
		s, _ := open(t)
		if _, err := s.Start(ctx, "p", a); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 5, false)); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 5, false)); err == nil {
			t.Fatal("the same chunk advanced twice")
		}
		if err := s.Advance(ctx, "p", chunk(b, 0, 1, false)); err == nil {
			t.Fatal("a file never started advanced")
		}
	})

	t.Run("a transient failure is never an attempt", func(t *testing.T) {
		// A file whose load ends N times for a transient reason (it stays
		// loading, nothing recorded) and then loads has one attempt; only
		// a data error (Fail) counts the next start.
		s, reopen := open(t)
		const transient = 4
		for i := range transient {
			if i > 0 && i%2 == 0 {
				s = reopen() // a crash or restart in between
			}
			p, err := s.Start(ctx, "p", a)
			if err != nil || p.Status != state.Loading || p.Pos.Records != int64(i) || p.Attempts != 1 {
				t.Fatalf("start %d = %+v, %v; want loading at %d, attempt 1", i+1, p, err, i)
			}
			if err := s.Advance(ctx, "p", chunk(a, int64(i), int64(i+1), false)); err != nil {
				t.Fatal(err)
			}
		}
		if g, ok := s.(state.GroupStarter); ok {
			got, err := g.StartGroup(ctx, "p", []pusher.Object{a, b})
			if err != nil || len(got) != 2 || got[0].Status != state.Loading || got[0].Attempts != 1 || got[1].Attempts != 1 {
				t.Fatalf("StartGroup = %+v, %v; want both loading, attempt 1", got, err)
			}
		}
		if err := s.Advance(ctx, "p", chunk(a, transient, transient+1, true)); err != nil {
			t.Fatal(err)
		}
		got, err := reopen().Lookup(ctx, "p", []pusher.Object{a})
		if p := got[state.ID(a)]; err != nil || p.Status != state.Done || p.Attempts != 1 {
			t.Fatalf("Lookup = %+v, %v; want done after 1 attempt", got, err)
		}
		// A data error does count: the start after it is attempt 2, and
		// a resume of that attempt is still 2.
		if _, err := s.Start(ctx, "p", b); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, "p", b, errors.New("record 1: bad")); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if p, err := s.Start(ctx, "p", b); err != nil || p.Status != state.Loading || p.Attempts != 2 {
				t.Fatalf("Start after a failure = %+v, %v; want loading, attempt 2", p, err)
			}
		}
	})

	t.Run("fail, then retry resumes", func(t *testing.T) {
		s, reopen := open(t)
		if _, err := s.Start(ctx, "p", a); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 3, false)); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, "p", a, errors.New("record 4: bad")); err != nil {
			t.Fatal(err)
		}
		got, err := reopen().Lookup(ctx, "p", []pusher.Object{a})
		if err != nil || got[state.ID(a)].Status != state.Failed || got[state.ID(a)].Error != "record 4: bad" {
			t.Fatalf("Lookup = %+v, %v", got, err)
		}
		p, err := s.Start(ctx, "p", a)
		if err != nil || p.Status != state.Loading || p.Pos.Records != 3 || p.Attempts != 2 {
			t.Fatalf("retry Start = %+v, %v", p, err)
		}
	})

	t.Run("loaded and rejected records are counted apart", func(t *testing.T) {
		s, reopen := open(t)
		p, err := s.Start(ctx, "p", a)
		if err != nil || p.Loaded != 0 || p.Rejected != 0 {
			t.Fatalf("Start = %+v, %v; want 0 loaded, 0 rejected", p, err)
		}
		bad := func(n int64) *pusher.RecordError {
			return &pusher.RecordError{Record: n, Offset: -1, Err: errors.New("bad")}
		}
		c := chunk(a, 0, 5, false) // records 1-5, 2 and 4 rejected
		c.Rejects = []*pusher.RecordError{bad(2), bad(4)}
		if err := s.Advance(ctx, "p", c); err != nil {
			t.Fatal(err)
		}
		c = chunk(a, 5, 9, true) // records 6-9, 9 rejected
		c.Rejects = []*pusher.RecordError{bad(9)}
		if err := s.Advance(ctx, "p", c); err != nil {
			t.Fatal(err)
		}
		got, err := reopen().Lookup(ctx, "p", []pusher.Object{a})
		if p := got[state.ID(a)]; err != nil || p.Pos.Records != 9 || p.Loaded != 6 || p.Rejected != 3 {
			t.Fatalf("Lookup = %+v, %v; want 9 records read, 6 loaded, 3 rejected", p, err)
		}
	})

	t.Run("versions and pipelines are separate", func(t *testing.T) {
		s, _ := open(t)
		if _, err := s.Start(ctx, "p", a); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 1, true)); err != nil {
			t.Fatal(err)
		}
		a2 := a
		a2.ETag = "e2"
		if p, err := s.Start(ctx, "p", a2); err != nil || p.Status != state.Loading || p.Pos.Records != 0 {
			t.Fatalf("new version Start = %+v, %v", p, err)
		}
		if p, err := s.Start(ctx, "q", a); err != nil || p.Status != state.Loading {
			t.Fatalf("other pipeline Start = %+v, %v", p, err)
		}
	})

	t.Run("prune forgets old done files only", func(t *testing.T) {
		s, reopen := open(t)
		for _, o := range []pusher.Object{a, b} {
			if _, err := s.Start(ctx, "p", o); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Advance(ctx, "p", chunk(a, 0, 1, true)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Prune(ctx, "p", time.Now().Add(-time.Hour), ""); err != nil || n != 0 {
			t.Fatalf("prune of nothing old = %d, %v", n, err)
		}
		if n, err := s.Prune(ctx, "p", time.Now().Add(time.Hour), a.Key); err != nil || n != 0 {
			t.Fatalf("prune below the window = %d, %v; want 0 (a is not below itself)", n, err)
		}
		if n, err := s.Prune(ctx, "p", time.Now().Add(time.Hour), ""); err != nil || n != 1 {
			t.Fatalf("prune = %d, %v; want 1", n, err)
		}
		got, err := s.Lookup(ctx, "p", []pusher.Object{a, b})
		if err != nil || len(got) != 1 || got[state.ID(b)].Status != state.Loading {
			t.Fatalf("after prune: %+v, %v", got, err)
		}
		got, err = reopen().Lookup(ctx, "p", []pusher.Object{a, b})
		if err != nil || len(got) != 1 || got[state.ID(b)].Status != state.Loading {
			t.Fatalf("after prune and reopen: %+v, %v", got, err)
		}
	})

	t.Run("start-after key keeps the lookback window", func(t *testing.T) {
		s, _ := open(t)
		var objs []pusher.Object
		for i := 1; i <= 5; i++ {
			o := pusher.Object{Key: fmt.Sprintf("2024/05/0%d.log", i), ETag: "e"}
			objs = append(objs, o)
			if _, err := s.Start(ctx, "p", o); err != nil {
				t.Fatal(err)
			}
			if err := s.Advance(ctx, "p", chunk(o, 0, 1, true)); err != nil {
				t.Fatal(err)
			}
		}
		check := func(keep int, since time.Time, want string) {
			t.Helper()
			got, err := s.StartAfter(ctx, "p", keep, since)
			if err != nil || got != want {
				t.Fatalf("StartAfter(%d, %v) = %q, %v; want %q", keep, since, got, err, want)
			}
		}
		check(0, time.Time{}, "")
		check(2, time.Time{}, "2024/05/03.log")
		check(10, time.Time{}, "")
		check(0, time.Now().Add(time.Hour), "2024/05/05.log")
		check(0, time.Now().Add(-time.Hour), "")
		check(2, time.Now().Add(time.Hour), "2024/05/03.log")
		// A file still loading is listed again.
		late := pusher.Object{Key: "2024/05/02z.log", ETag: "e"}
		if _, err := s.Start(ctx, "p", late); err != nil {
			t.Fatal(err)
		}
		check(2, time.Time{}, "2024/05/02.log")
	})

	t.Run("anchor is kept across restarts", func(t *testing.T) {
		s, reopen := open(t)
		t1 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		got, err := s.Anchor(ctx, "p", t1)
		if err != nil || !got.Equal(t1) {
			t.Fatalf("first anchor = %v, %v", got, err)
		}
		got, err = reopen().Anchor(ctx, "p", t1.Add(time.Hour))
		if err != nil || !got.Equal(t1) {
			t.Fatalf("anchor after restart = %v, %v; want %v", got, err, t1)
		}
	})

	t.Run("keys compare bytewise, as S3 lists them", func(t *testing.T) {
		s, _ := open(t)
		for _, k := range []string{"x/B", "x/a", "x/b"} { // S3 order: B < a < b
			o := pusher.Object{Key: k, ETag: "e"}
			if _, err := s.Start(ctx, "p", o); err != nil {
				t.Fatal(err)
			}
			if err := s.Advance(ctx, "p", chunk(o, 0, 1, true)); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.StartAfter(ctx, "p", 1, time.Time{}); err != nil || got != "x/a" {
			t.Fatalf("StartAfter = %q, %v; want x/a", got, err)
		}
	})
}
