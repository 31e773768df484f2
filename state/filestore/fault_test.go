package filestore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// injectWriteFaults makes every write to a state file write half its
// bytes (a torn append) and fail with errno, and truncations fail with
// truncErr when it is not nil, until the returned function is called.
func injectWriteFaults(t *testing.T, errno, truncErr syscall.Errno) (restore func()) {
	t.Helper()
	w, tr := writeTo, truncate
	writeTo = func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, &fs.PathError{Op: "write", Path: f.Name(), Err: errno}
	}
	if truncErr != 0 {
		truncate = func(f *os.File, _ int64) error { return &fs.PathError{Op: "truncate", Path: f.Name(), Err: truncErr} }
	}
	restore = func() { writeTo, truncate = w, tr }
	t.Cleanup(restore)
	return restore
}

// TestUnwritableStateMidRun: a full disk (the append torn, then cut off)
// or a directory turned read-only (the torn append stays, as the cut
// fails too) fails the step with an error naming the log and the cause,
// of class Unavailable (not the file's fault). No step that returned is
// lost, the failed one is not recorded, and the next run (another Store
// on the directory) and this one, once the directory is writable again,
// resume where the last durable step left the files.
func TestUnwritableStateMidRun(t *testing.T) {
	for _, tt := range []struct {
		name            string
		errno, truncErr syscall.Errno
	}{
		{"full disk", syscall.ENOSPC, 0},
		{"read-only", syscall.EROFS, syscall.EROFS},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := mustNew(t, dir)
			a, b, c := obj(1), obj(2), obj(3)
			load(t, s, "p", a, 2, true)
			load(t, s, "p", b, 1, false) // loading at 1
			logPath := logOf(s, "p")

			restore := injectWriteFaults(t, tt.errno, tt.truncErr)
			step := &pusher.Chunk{File: b, Start: pusher.Position{Records: 1}, End: pusher.Position{Records: 2}}
			errs := []error{s.Advance(ctx, "p", step)}
			_, err := s.Start(ctx, "p", c)
			errs = append(errs, err)
			for i, err := range errs {
				if !errors.Is(err, tt.errno) || !strings.Contains(err.Error(), logPath) || pusher.ClassOf(err) != pusher.ClassUnavailable {
					t.Fatalf("step %d: %v (class %v); want %v naming %s, class unavailable", i, err, pusher.ClassOf(err), tt.errno, logPath)
				}
			}
			restore()

			// The next run.
			s2 := mustNew(t, dir)
			got := lookup(t, s2, "p", a, b, c)
			if got[state.ID(a)].Status != state.Done || got[state.ID(b)].Status != state.Loading || got[state.ID(b)].Pos.Records != 1 || len(got) != 2 {
				t.Fatalf("next run reads %+v; want a done, b loading at 1, no c", got)
			}
			p, err := s2.Start(ctx, "p", b)
			if err != nil || p.Pos.Records != 1 || p.Attempts != 1 {
				t.Fatalf("resume b: %+v, %v; want at 1, attempt 1", p, err)
			}
			if err := s2.Advance(ctx, "p", step); err != nil {
				t.Fatal(err)
			}
			s2.Close()
			// This run goes on too, once it can write: it reads what the
			// other one wrote.
			load(t, s, "p", c, 1, true)
			s.Close()
			got = lookup(t, mustNew(t, dir), "p", a, b, c)
			if got[state.ID(b)].Pos.Records != 2 || got[state.ID(c)].Status != state.Done {
				t.Fatalf("after both runs: %+v; want b at 2, c done", got)
			}
		})
	}
}

// TestUnwritableCompaction: a compaction that cannot replace the snapshot
// (the rename fails: read-only) or write it (full disk) fails the step
// with an error naming the file, leaves no temporary file, and the old
// snapshot and log still hold every step, the failed step's included
// (it was appended before).
func TestUnwritableCompaction(t *testing.T) {
	withCompaction(t, 20, 1)
	for _, tt := range []struct {
		name   string
		inject func()
		errno  syscall.Errno
	}{
		{"read-only", func() {
			rename = func(from, to string) error {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EROFS}
			}
		}, syscall.EROFS},
		{"full disk", func() {
			w := writeTo
			writeTo = func(f *os.File, b []byte) (int, error) {
				if strings.Contains(f.Name(), ".state-") {
					return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
				}
				return w(f, b)
			}
		}, syscall.ENOSPC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, r := writeTo, rename
			t.Cleanup(func() { writeTo, rename = w, r })
			dir := t.TempDir()
			s := mustNew(t, dir)
			tt.inject()
			ctx := context.Background()
			var objs []pusher.Object
			var failed error
			for i := 0; failed == nil && i < 50; i++ {
				o := obj(i)
				objs = append(objs, o)
				if _, failed = s.Start(ctx, "p", o); failed == nil {
					failed = s.Advance(ctx, "p", &pusher.Chunk{File: o, End: pusher.Position{Records: 1}, Last: true})
				}
			}
			if !errors.Is(failed, tt.errno) || pusher.ClassOf(failed) != pusher.ClassUnavailable || !strings.Contains(failed.Error(), dir) {
				t.Fatalf("compaction error %v; want %v naming a file in %s", failed, tt.errno, dir)
			}
			writeTo, rename = w, r
			tmps, _ := filepath.Glob(filepath.Join(dir, ".state-*"))
			if len(tmps) != 0 {
				t.Fatalf("temporary files left: %v", tmps)
			}
			got := lookup(t, mustNew(t, dir), "p", objs...)
			last := objs[len(objs)-1]
			for _, o := range objs[:len(objs)-1] {
				if got[state.ID(o)].Status != state.Done {
					t.Fatalf("after the failed compaction %s is %+v; want every file before the failed step done", o.Key, got[state.ID(o)])
				}
			}
			if got[state.ID(last)].Status == state.New {
				t.Fatalf("the failed step's change (appended before the compaction) is lost: %+v", got)
			}
		})
	}
}
