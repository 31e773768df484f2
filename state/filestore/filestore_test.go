package filestore_test

import (
	"os"
	"path/filepath"
	"testing"

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
