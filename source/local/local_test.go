package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

func write(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func listAll(t *testing.T, s *Store) ([]pusher.Object, []int) {
	t.Helper()
	var all []pusher.Object
	var pages []int
	err := s.List(context.Background(), func(page []pusher.Object) error {
		pages = append(pages, len(page))
		all = append(all, page...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all, pages
}

func keys(objs []pusher.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f.txt", "x")
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: dir},
		{in: "file://" + filepath.ToSlash(dir)},
		{in: "file://localhost" + filepath.ToSlash(dir)},
		{in: ".", wantErr: ""},
		{in: filepath.Join(dir, "nope"), wantErr: "does not exist"},
		{in: "file://" + filepath.ToSlash(dir) + "/nope", wantErr: "does not exist"},
		{in: filepath.Join(dir, "f.txt")}, // a store of one file
		{in: "/dev/null", wantErr: "neither a directory nor a regular file"},
		{in: "file://host/x", wantErr: "names host"},
		{in: "", wantErr: "empty"},
	}
	for _, tt := range tests {
		s, err := New(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tt.in, err)
			continue
		}
		if !filepath.IsAbs(s.Root()) {
			t.Errorf("New(%q).Root() = %q, not absolute", tt.in, s.Root())
		}
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "file://"+filepath.ToSlash(dir); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := s.Rel("a/b.csv"); got != "a/b.csv" {
		t.Errorf("Rel = %q", got)
	}
}

func TestSingleFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f.csv", "id\n1\n")
	write(t, dir, "f.csv.bak", "other")
	write(t, dir, "sub/g.csv", "other")
	if err := os.Symlink(filepath.Join(dir, "f.csv"), filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{filepath.Join(dir, "f.csv"), "file://" + filepath.ToSlash(dir) + "/f.csv", filepath.Join(dir, "link.csv")} {
		s, err := New(in)
		if err != nil {
			t.Fatalf("New(%q): %v", in, err)
		}
		name := filepath.Base(in)
		if got, want := s.String(), "file://"+filepath.ToSlash(dir)+"/"+name; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		all, _ := listAll(t, s)
		if got := keys(all); len(got) != 1 || got[0] != name || all[0].Size != 5 || all[0].ETag == "" {
			t.Fatalf("New(%q) lists %+v, want %s alone", in, all, name)
		}
		rc, err := s.Open(context.Background(), all[0], 3)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "1\n" {
			t.Errorf("Open at 3 = %q", b)
		}
	}
	s, err := New(filepath.Join(dir, "f.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "f.csv")); err != nil {
		t.Fatal(err)
	}
	if all, _ := listAll(t, s); len(all) != 0 {
		t.Errorf("a removed file still lists: %v", keys(all))
	}
}

func TestNewRelative(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	s, err := New("./data")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data"); s.Root() != want {
		t.Errorf("Root() = %q, want %q", s.Root(), want)
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"b.csv", "a/b/c.csv", "a.txt", "a/z.csv", ".hidden/x", "a-b/y", "empty"} {
		data := "data of " + rel
		if rel == "empty" {
			data = ""
		}
		write(t, dir, rel, data)
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlinked file is followed; a symlinked directory is not.
	other := t.TempDir()
	write(t, other, "in-linked-dir.csv", "x")
	if err := os.Symlink(filepath.Join(dir, "b.csv"), filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}

	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := listAll(t, s)
	want := []string{".hidden/x", "a-b/y", "a.txt", "a/b/c.csv", "a/z.csv", "b.csv", "empty", "link.csv"}
	if got := keys(objs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	for _, o := range objs {
		fi, err := os.Stat(filepath.Join(dir, o.Key))
		if err != nil {
			t.Fatal(err)
		}
		if o.Size != fi.Size() || !o.LastModified.Equal(fi.ModTime()) {
			t.Errorf("%s: size %d mtime %v, want %d %v", o.Key, o.Size, o.LastModified, fi.Size(), fi.ModTime())
		}
		if want := fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano()); o.ETag != want {
			t.Errorf("%s: ETag %q, want %q", o.Key, o.ETag, want)
		}
	}
}

func TestListETagChanges(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f", "one")
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := listAll(t, s)
	write(t, dir, "f", "two") // same size
	later := before[0].LastModified.Add(2 * time.Second)
	if err := os.Chtimes(filepath.Join(dir, "f"), later, later); err != nil {
		t.Fatal(err)
	}
	after, _ := listAll(t, s)
	if before[0].ETag == after[0].ETag {
		t.Errorf("ETag unchanged after rewrite: %q", after[0].ETag)
	}
}

func TestListPages(t *testing.T) {
	dir := t.TempDir()
	const n = 2*PageSize + 5
	for i := range n {
		write(t, dir, fmt.Sprintf("d%d/f%04d", i%3, i), "x")
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, pages := listAll(t, s)
	if fmt.Sprint(pages) != fmt.Sprint([]int{PageSize, PageSize, 5}) {
		t.Errorf("pages = %v", pages)
	}
	if len(objs) != n {
		t.Fatalf("%d objects, want %d", len(objs), n)
	}
	for i := 1; i < len(objs); i++ {
		if objs[i-1].Key >= objs[i].Key {
			t.Fatalf("not sorted: %q before %q", objs[i-1].Key, objs[i].Key)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err = s.List(context.Background(), func([]pusher.Object) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with failing fn: err %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.List(ctx, func([]pusher.Object) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with canceled ctx: %v", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sub/f.txt", "0123456789")
	s, err := New("file://" + filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		off  int64
		want string
	}{{0, "0123456789"}, {4, "456789"}, {10, ""}} {
		rc, err := s.Open(ctx, pusher.Object{Key: "sub/f.txt"}, tt.off)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != tt.want {
			t.Errorf("Open at %d = %q, %v; want %q", tt.off, b, err, tt.want)
		}
	}
	if _, err := s.Open(ctx, pusher.Object{Key: "sub/missing"}, 0); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Open missing: %v, want ErrNotFound", err)
	}
	for _, key := range []string{"../x", "/etc/passwd", "a/../../x", ""} {
		if _, err := s.Open(ctx, pusher.Object{Key: key}, 0); err == nil || errors.Is(err, source.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want invalid key error", key, err)
		}
	}
}
