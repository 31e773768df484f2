package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

func obj(i int) pusher.Object {
	return pusher.Object{Key: fmt.Sprintf("k/%05d.csv", i), ETag: "e", Size: int64(i)}
}

// load starts obj and advances it by chunks of one record, the last one
// ending the file when done.
func load(t testing.TB, s *Store, pipeline string, o pusher.Object, chunks int, done bool) {
	t.Helper()
	ctx := context.Background()
	p, err := s.Start(ctx, pipeline, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < chunks; i++ {
		from := p.Pos.Records + int64(i)
		c := &pusher.Chunk{File: o, Start: pusher.Position{Records: from}, End: pusher.Position{Records: from + 1}, Last: done && i == chunks-1}
		if err := s.Advance(ctx, pipeline, c); err != nil {
			t.Fatal(err)
		}
	}
}

func mustNew(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lookup(t testing.TB, s *Store, pipeline string, objs ...pusher.Object) map[string]state.Progress {
	t.Helper()
	got, err := s.Lookup(context.Background(), pipeline, objs)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func logOf(s *Store, pipeline string) string {
	return strings.TrimSuffix(s.Path(pipeline), ".json") + ".log"
}

func TestReplayGivesTheSameState(t *testing.T) {
	dir := t.TempDir()
	s := mustNew(t, dir)
	var objs []pusher.Object
	for i := range 20 {
		objs = append(objs, obj(i))
		load(t, s, "p", obj(i), i%4, i%2 == 0)
	}
	if err := s.Fail(context.Background(), "p", obj(3), errors.New("record 4: bad")); err != nil {
		t.Fatal(err)
	}
	want := lookup(t, s, "p", objs...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := lookup(t, mustNew(t, dir), "p", objs...)
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 20 {
		t.Fatalf("after replay:\n%v\nwant\n%v", got, want)
	}
	if _, err := os.Stat(s.Path("p")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a snapshot was written below the compaction threshold: %v", err)
	}
}

func TestTornTailIsDropped(t *testing.T) {
	for name, tear := range map[string]func([]byte) []byte{
		"cut in the middle": func(b []byte) []byte { return b[:len(b)-7] },
		"newline missing":   func(b []byte) []byte { return b[:len(b)-1] },
		"only the checksum": func(b []byte) []byte { return b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+5] },
		"zeros": func(b []byte) []byte {
			return append(b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1], make([]byte, 300)...)
		},
		"zeros then newline": func(b []byte) []byte {
			return append(b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1], "\x00\x00\x00\n"...)
		},
		"a flipped byte": func(b []byte) []byte {
			b[len(b)-5] ^= 1
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustNew(t, dir)
			a, b := obj(1), obj(2)
			load(t, s, "p", a, 1, true)
			load(t, s, "p", b, 1, false) // its Advance is the line torn below
			s.Close()
			logPath := logOf(s, "p")
			raw, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logPath, tear(raw), 0o644); err != nil {
				t.Fatal(err)
			}

			s2 := mustNew(t, dir)
			got := lookup(t, s2, "p", a, b)
			if got[state.ID(a)].Status != state.Done || got[state.ID(b)].Status != state.Loading || got[state.ID(b)].Pos.Records != 0 {
				t.Fatalf("after a torn append: %+v; want a done, b loading at 0", got)
			}
			// The torn end is gone: the next append makes a good log.
			c := &pusher.Chunk{File: b, End: pusher.Position{Records: 1}, Last: true}
			if err := s2.Advance(context.Background(), "p", c); err != nil {
				t.Fatal(err)
			}
			s2.Close()
			got = lookup(t, mustNew(t, dir), "p", a, b)
			if got[state.ID(b)].Status != state.Done {
				t.Fatalf("after the append that follows a torn one: %+v", got)
			}
		})
	}
}

func TestCorruptLineBeforeTheEndIsAnError(t *testing.T) {
	dir := t.TempDir()
	s := mustNew(t, dir)
	for i := range 3 {
		load(t, s, "p", obj(i), 0, false) // one line each
	}
	s.Close()
	logPath := logOf(s, "p")
	raw, _ := os.ReadFile(logPath)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	lines[1][20] ^= 1
	os.WriteFile(logPath, bytes.Join(lines, nil), 0o644)

	_, err := mustNew(t, dir).Lookup(context.Background(), "p", nil)
	if err == nil || !strings.Contains(err.Error(), logPath+" line 2") {
		t.Fatalf("Lookup over a corrupt log = %v; want an error naming %s line 2", err, logPath)
	}
	if err := mustNew(t, dir).Advance(context.Background(), "p", &pusher.Chunk{File: obj(0), End: pusher.Position{Records: 1}}); err == nil {
		t.Fatal("a step was written after a corrupt line")
	}
	if raw2, _ := os.ReadFile(logPath); !bytes.Equal(raw2, bytes.Join(lines, nil)) {
		t.Fatal("the corrupt log was changed")
	}
}

func TestUnknownRecordIsAnError(t *testing.T) {
	// A good checksum over something this version does not understand
	// (written by a newer ferry) is not taken for a torn append.
	dir := t.TempDir()
	s := mustNew(t, dir)
	load(t, s, "p", obj(1), 0, false)
	s.Close()
	line, _ := encodeLine(record{})
	f, _ := os.OpenFile(logOf(s, "p"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(line)
	f.Close()
	if _, err := mustNew(t, dir).Lookup(context.Background(), "p", nil); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Lookup = %v; want an error naming line 2", err)
	}
}

func withCompaction(t *testing.T, floor, ratio int) {
	oldFloor, oldRatio := compactFloor, compactRatio
	compactFloor, compactRatio = floor, ratio
	t.Cleanup(func() { compactFloor, compactRatio = oldFloor, oldRatio })
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCompactionBoundsTheLog(t *testing.T) {
	withCompaction(t, 50, 2)
	dir := t.TempDir()
	s := mustNew(t, dir)
	var objs []pusher.Object
	var maxLog int64
	for i := range 40 {
		objs = append(objs, obj(i))
		load(t, s, "p", obj(i), 5, true) // 6 changes per file
		maxLog = max(maxLog, size(t, logOf(s, "p")))
	}
	snap := size(t, s.Path("p"))
	// The log never holds much more than the floor or twice the live
	// entries (each change is about one entry's size).
	if limit := 3*snap + 60*300; maxLog > limit {
		t.Fatalf("log grew to %d bytes (snapshot %d, limit %d)", maxLog, snap, limit)
	}
	want := lookup(t, s, "p", objs...)
	s.Close()
	got := lookup(t, mustNew(t, dir), "p", objs...)
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 40 {
		t.Fatalf("after compaction and replay:\n%v\nwant\n%v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("directory holds %v; want the snapshot, the log and the lock file", entries)
	}
}

func TestCrashDuringCompaction(t *testing.T) {
	// The new snapshot is in place but the old log was not replaced yet:
	// replaying the old log over it gives the same state.
	dir := t.TempDir()
	s := mustNew(t, dir)
	var objs []pusher.Object
	for i := range 10 {
		objs = append(objs, obj(i))
		load(t, s, "p", obj(i), i%3, i%2 == 0)
	}
	s.Prune(context.Background(), "p", time.Now().Add(time.Hour), obj(3).Key)
	want := lookup(t, s, "p", objs...)
	oldLog, _ := os.ReadFile(logOf(s, "p"))
	err := s.file("p").do(func(f *pipelineFile) (record, error) { return record{}, f.compact() })
	if err != nil || size(t, logOf(s, "p")) != 0 || size(t, s.Path("p")) == 0 {
		t.Fatalf("compact: %v", err)
	}
	s.Close()
	os.WriteFile(logOf(s, "p"), oldLog, 0o644)
	got := lookup(t, mustNew(t, dir), "p", objs...)
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 9 {
		t.Fatalf("old log over the new snapshot:\n%v\nwant\n%v", got, want)
	}
}

func TestPruneShrinksTheDirectory(t *testing.T) {
	withCompaction(t, 20, 2)
	dir := t.TempDir()
	s := mustNew(t, dir)
	for i := range 100 {
		load(t, s, "p", obj(i), 1, true)
	}
	load(t, s, "p", obj(1000), 1, false)
	full := size(t, s.Path("p")) + size(t, logOf(s, "p"))
	n, err := s.Prune(context.Background(), "p", time.Now().Add(time.Hour), "")
	if err != nil || n != 100 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	load(t, s, "p", obj(1001), 1, false) // the next step compacts
	pruned := size(t, s.Path("p")) + size(t, logOf(s, "p"))
	if pruned > full/10 {
		t.Fatalf("state is %d bytes after pruning 100 of 102 files, %d before", pruned, full)
	}
	s.Close()
	if got := lookup(t, mustNew(t, dir), "p", obj(1), obj(1000), obj(1001)); len(got) != 2 {
		t.Fatalf("after prune and reopen: %v", got)
	}
}

func TestOpensTheSingleFileOfOlderVersions(t *testing.T) {
	dir := t.TempDir()
	s := mustNew(t, dir)
	const p = "old pipeline"
	old, err := os.ReadFile("testdata/v1-single-file.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(p), old, 0o644); err != nil {
		t.Fatal(err)
	}
	a := pusher.Object{Key: "dir/a.csv", ETag: "e1"}
	a2 := pusher.Object{Key: "dir/a.csv", ETag: "e2"}
	b := pusher.Object{Key: "dir/b.csv", ETag: "e1"}
	c := pusher.Object{Key: "dir/c.csv", ETag: "e1"}
	check := func(s *Store) {
		t.Helper()
		got := lookup(t, s, p, a, b, c)
		if got[state.ID(a)].Status != state.Done || got[state.ID(a)].Pos != (pusher.Position{Records: 4, Offset: 40}) ||
			got[state.ID(a2)].Status != state.Loading ||
			got[state.ID(c)].Status != state.Failed || got[state.ID(c)].Error != "record 1: bad" || len(got) != 4 {
			t.Fatalf("old state read as %+v", got)
		}
		at, err := s.Anchor(context.Background(), p, time.Now())
		if err != nil || !at.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("anchor = %v, %v", at, err)
		}
	}
	check(s)
	pr, err := s.Start(context.Background(), p, b)
	if err != nil || pr.Pos.Records != 2 || pr.Attempts != 1 {
		t.Fatalf("resuming an old file: %+v, %v", pr, err)
	}
	s.Close()
	check(mustNew(t, dir))

	// Compaction writes the same format.
	withCompaction(t, 0, 0)
	s = mustNew(t, dir)
	load(t, s, p, obj(1), 1, true)
	s.Close()
	if size(t, logOf(s, p)) != 0 {
		t.Fatal("not compacted")
	}
	check(mustNew(t, dir))
}

func TestConcurrentWorkersAndStores(t *testing.T) {
	// Several workers on one Store, and a second Store on the same
	// directory (as a second process would, with its own lock file
	// descriptor), all on one pipeline; and compactions under way.
	withCompaction(t, 30, 2)
	dir := t.TempDir()
	stores := []*Store{mustNew(t, dir), mustNew(t, dir)}
	const workers, files = 4, 25
	var wg sync.WaitGroup
	for w := range 2 * workers {
		wg.Go(func() {
			s := stores[w%2]
			for i := range files {
				load(t, s, "p", obj(w*files+i), 3, true)
				if _, err := s.Lookup(context.Background(), "p", []pusher.Object{obj(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// Another pipeline in the same directory, meanwhile.
	wg.Go(func() {
		for i := range files {
			load(t, stores[0], "q", obj(i), 1, true)
		}
	})
	wg.Wait()
	var objs []pusher.Object
	for i := range 2 * workers * files {
		objs = append(objs, obj(i))
	}
	for _, s := range append(stores, mustNew(t, dir)) {
		got := lookup(t, s, "p", objs...)
		for _, o := range objs {
			if p := got[state.ID(o)]; p.Status != state.Done || p.Pos.Records != 3 || p.Attempts != 1 {
				t.Fatalf("%s: %+v", o.Key, p)
			}
		}
		if got := lookup(t, s, "q", objs[:files]...); len(got) != files {
			t.Fatalf("pipeline q: %d files", len(got))
		}
	}
}

func TestStepsOfAnotherStoreAreSeen(t *testing.T) {
	// A second process on the same directory continues from the first
	// one's steps instead of undoing them.
	dir := t.TempDir()
	s1, s2 := mustNew(t, dir), mustNew(t, dir)
	a := obj(1)
	load(t, s1, "p", a, 1, false)
	if p, err := s2.Start(context.Background(), "p", a); err != nil || p.Pos.Records != 1 || p.Attempts != 1 {
		t.Fatalf("second store Start = %+v, %v", p, err)
	}
	if err := s1.Advance(context.Background(), "p", &pusher.Chunk{File: a, Start: pusher.Position{Records: 1}, End: pusher.Position{Records: 2}}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, s2, "p", a); got[state.ID(a)].Pos.Records != 2 {
		t.Fatalf("second store sees %+v", got)
	}
}
