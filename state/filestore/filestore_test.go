package filestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/state/statetest"
)

func TestAcceptance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) (state.Store, func() state.Store) {
		dir := t.TempDir()
		s, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s, func() state.Store {
			s2, err := filestore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s2
		}
	})
}

func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := filestore.New(dir)
	if err := os.WriteFile(s.Path("p"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(t.Context(), "p", nil); err == nil {
		t.Fatal("corrupt state file accepted")
	}
	if filepath.Dir(s.Path("a/b c")) != dir {
		t.Fatal("pipeline name escapes the state directory")
	}
}

// TestAdvanceGroup: a group's chunks advance together and survive a
// reopen; a group with a chunk at the wrong position advances none.
func TestAdvanceGroup(t *testing.T) {
	dir := t.TempDir()
	s, _ := filestore.New(dir)
	ctx := t.Context()
	a, b := pusher.Object{Key: "a.csv", ETag: "e"}, pusher.Object{Key: "b.csv", ETag: "e"}
	for _, o := range []pusher.Object{a, b} {
		if _, err := s.Start(ctx, "p", o); err != nil {
			t.Fatal(err)
		}
	}
	chunk := func(o pusher.Object, from, to int64, last bool) *pusher.Chunk {
		return &pusher.Chunk{File: o, Start: pusher.Position{Records: from}, End: pusher.Position{Records: to}, Last: last}
	}
	if err := s.AdvanceGroup(ctx, "p", []*pusher.Chunk{chunk(a, 0, 3, true), chunk(b, 0, 2, false)}); err != nil {
		t.Fatal(err)
	}
	// b is at 2, not 0: nothing of the group advances, a included.
	if err := s.AdvanceGroup(ctx, "p", []*pusher.Chunk{chunk(b, 2, 4, true), chunk(b, 0, 1, false)}); err == nil {
		t.Fatal("a group with a chunk at the wrong position advanced")
	}
	s2, _ := filestore.New(dir)
	got, err := s2.Lookup(ctx, "p", []pusher.Object{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if pa, pb := got[state.ID(a)], got[state.ID(b)]; pa.Status != state.Done || pa.Pos.Records != 3 || pb.Status != state.Loading || pb.Pos.Records != 2 {
		t.Fatalf("after the groups: a %+v, b %+v; want a done at 3, b loading at 2", pa, pb)
	}
}

func TestInspector(t *testing.T) {
	statetest.RunInspector(t, func(t *testing.T) statetest.InspectStore {
		s, err := filestore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRejectsFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := filestore.New(dir)
	if _, err := s.Rejects(t.Context(), state.RejectQuery{}); !errors.Is(err, state.ErrNoRejects) {
		t.Fatalf("Rejects without a rejects file: %v; want ErrNoRejects", err)
	}
	s.RejectsFile = filepath.Join(dir, "rejects.jsonl")
	got, err := s.Rejects(t.Context(), state.RejectQuery{})
	if err != nil || len(got) != 0 {
		t.Fatalf("Rejects of a missing file = %+v, %v; want none", got, err)
	}
	lines := `{"pipeline":"p","key":"a.csv","etag":"e","record":2,"byte_offset":10,"error":"bad 1","raw":"x","rejected_at":"2024-05-01T00:00:00Z"}
{"pipeline":"q","key":"a.csv","etag":"e","record":3,"error":"bad q","raw":"y","rejected_at":"2024-05-01T00:00:01Z"}
{"pipeline":"p","key":"b.csv","etag":"e","record":4,"error":"bad 2","raw":"z","rejected_at":"2024-05-01T00:00:02Z"}
{"pipeline":"p","key":"a.csv","etag":"e","record":5,"error":"bad 3","raw":"w","rejected_at":"2024-05-01T00:00:03Z"}
{"pipeline":"p","key":"a.csv","etag":"e","rec`
	if err := os.WriteFile(s.RejectsFile, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	errs := func(rs []state.Reject) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Error)
		}
		return out
	}
	for _, tc := range []struct {
		q    state.RejectQuery
		want []string
	}{
		{state.RejectQuery{}, []string{"bad 3", "bad 2", "bad q", "bad 1"}},
		{state.RejectQuery{Pipeline: "p"}, []string{"bad 3", "bad 2", "bad 1"}},
		{state.RejectQuery{Pipeline: "p", Key: "a.csv"}, []string{"bad 3", "bad 1"}},
		{state.RejectQuery{Pipeline: "p", Limit: 1}, []string{"bad 3"}},
		{state.RejectQuery{Limit: 3}, []string{"bad 3", "bad 2", "bad q"}},
	} {
		got, err := s.Rejects(t.Context(), tc.q)
		if err != nil || !slices.Equal(errs(got), tc.want) {
			t.Errorf("Rejects(%+v) = %q, %v; want %q", tc.q, errs(got), err, tc.want)
		}
	}
	got, _ = s.Rejects(t.Context(), state.RejectQuery{Key: "a.csv", Pipeline: "p", Limit: 5})
	if len(got) != 2 || got[1].Offset != 10 || got[1].Record != 2 || got[1].Raw != "x" || got[0].Offset != -1 || got[0].At.IsZero() {
		t.Errorf("Rejects = %+v", got)
	}
	if err := os.WriteFile(s.RejectsFile, []byte("{oops\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rejects(t.Context(), state.RejectQuery{}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a damaged rejects file: %v; want an error naming line 1", err)
	}
}

// A pipeline is named by its log before any snapshot, and by the snapshot
// after compaction.
func TestPipelinesAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	s, _ := filestore.New(dir)
	obj := pusher.Object{Key: "k", ETag: "e"}
	for _, p := range []string{"a/b c", "x"} {
		if _, err := s.Start(t.Context(), p, obj); err != nil {
			t.Fatal(err)
		}
	}
	if err := filestore.Compact(s, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(t.Context(), "x", pusher.Object{Key: "k2", ETag: "e"}); err != nil {
		t.Fatal(err)
	}
	s2, _ := filestore.New(dir)
	got, err := s2.Pipelines(t.Context())
	if err != nil || !slices.Equal(got, []string{"a/b c", "x"}) {
		t.Fatalf("Pipelines = %q, %v", got, err)
	}
}

// TestRescuedCount: the records a target loaded with rescued values are
// counted per file, and the count survives a reopen and a compaction.
func TestRescuedCount(t *testing.T) {
	dir := t.TempDir()
	s, _ := filestore.New(dir)
	ctx := t.Context()
	a := pusher.Object{Key: "a.csv", ETag: "e"}
	if _, err := s.Start(ctx, "p", a); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{2, 0, 3} {
		c := &pusher.Chunk{File: a, Start: pusher.Position{Records: int64(i * 10)}, End: pusher.Position{Records: int64(i*10 + 10)}, Rescued: n}
		if err := s.Advance(ctx, "p", c); err != nil {
			t.Fatal(err)
		}
	}
	for _, reopen := range []bool{false, true} {
		if reopen {
			if err := filestore.Compact(s, "p"); err != nil {
				t.Fatal(err)
			}
			s, _ = filestore.New(dir)
		}
		if n, err := filestore.Rescued(s, "p", a); err != nil || n != 5 {
			t.Errorf("reopened %v: rescued %d, %v; want 5", reopen, n, err)
		}
	}
}
