package filestore_test

import (
	"os"
	"path/filepath"
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
