package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/local"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// afterLoadRun snapshots dir with action a, into out, with the state in
// stateDir.
func afterLoadRun(t *testing.T, dir, stateDir string, a source.AfterLoad, async bool, out *bytes.Buffer) (Summary, *filestore.Store) {
	t.Helper()
	store, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := filestore.New(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Store: store, Target: jsonlines.Writer("test", out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto", RetryMaxElapsed: -1},
		Options: Options{Workers: 2, Async: async, AfterLoad: a}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return sum, st
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestAfterLoadLocal(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "async"}[async], func(t *testing.T) {
			root := t.TempDir()
			src, archive, stateDir := filepath.Join(root, "in"), filepath.Join(root, "archive"), filepath.Join(root, "state")
			for name, body := range map[string]string{"a.csv": "id\n1\n", "sub/b.csv": "id\n2\n3\n"} {
				os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755)
				if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The archive is a file: moving there fails.
			if err := os.WriteFile(archive, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			move, err := source.ParseAfterLoad("move:" + archive)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			sum, st := afterLoadRun(t, src, stateDir, move, async, &out)
			if sum.Loaded != 2 || sum.Failed != 0 || sum.AfterLoadFailed != 2 || sum.AfterLoadDone != 0 {
				t.Fatalf("summary %+v; want 2 loaded, 2 actions failed", sum)
			}
			fs, err := st.Files(t.Context(), state.FileQuery{Pipeline: "p"})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				if f.Status != state.Done || f.AfterLoad.Status != state.AfterLoadFailed || f.AfterLoad.Attempts != 1 || !strings.Contains(f.AfterLoad.Error, "not a directory") {
					t.Errorf("file %s: %s, after load %+v; want done, the move failed", f.Key, f.Status, f.AfterLoad)
				}
			}
			st.Close()

			// Fixed: the next run moves them, and loads nothing again.
			os.Remove(archive)
			sum, st = afterLoadRun(t, src, stateDir, move, async, &out)
			if sum.Loaded != 0 || sum.AfterLoadDone != 2 { // the sweep may move a file before the listing sees it
				t.Fatalf("second run %+v; want nothing loaded, 2 actions done", sum)
			}
			st.Close()
			if got := strings.Join(files(t, src), ","); got != "" {
				t.Errorf("source holds %s after the move", got)
			}
			if got := strings.Join(files(t, archive), ","); got != "a.csv,sub/b.csv" {
				t.Errorf("archive holds %s", got)
			}
			if strings.Count(out.String(), "\n") != 3 { // loaded once, never again
				t.Errorf("output %q; want 3 records once", out.String())
			}

			// Delete, and a source where nothing is left is fine.
			if err := os.WriteFile(filepath.Join(src, "c.csv"), []byte("id\n4\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			del, _ := source.ParseAfterLoad("delete")
			sum, st = afterLoadRun(t, src, stateDir, del, async, &out)
			st.Close()
			if sum.Loaded != 1 || sum.AfterLoadDone != 1 || len(files(t, src)) != 0 {
				t.Errorf("delete: %+v, left %q", sum, files(t, src))
			}
		})
	}
}

func TestAfterLoadChecks(t *testing.T) {
	dir := t.TempDir()
	store, _ := local.New(dir)
	st, _ := filestore.New(t.TempDir())
	for _, tc := range []struct{ action, want string }{
		{"tag:a=b", "tags are for S3 sources only"},
		{"move:" + filepath.Join(dir, "done"), "under the source"},
		{"move:" + dir, "under the source"},
	} {
		a, err := source.ParseAfterLoad(tc.action)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{Store: store, Target: jsonlines.Writer("test", &bytes.Buffer{}), State: st, Pipeline: "p", Options: Options{AfterLoad: a}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.action, err, tc.want)
		}
	}
}
