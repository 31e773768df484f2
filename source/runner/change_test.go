package runner

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// memStore is a store of files that can be rewritten: an object's ETag
// is its content's MD5, as S3's.
type memStore struct {
	mu    sync.Mutex
	files map[string]string
	opens []string // "key@offset" of each Open
}

func (s *memStore) set(key, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]string{}
	}
	s.files[key] = content
}

func etagOf(content string) string {
	sum := md5.Sum([]byte(content))
	return hex.EncodeToString(sum[:])
}

func (s *memStore) List(_ context.Context, fn func([]pusher.Object) error) error {
	s.mu.Lock()
	var page []pusher.Object
	for k, c := range s.files {
		page = append(page, pusher.Object{Key: k, Size: int64(len(c)), ETag: etagOf(c)})
	}
	s.mu.Unlock()
	sort.Slice(page, func(i, j int) bool { return page[i].Key < page[j].Key })
	return fn(page)
}

func (s *memStore) Open(_ context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.files[o.Key]
	if !ok || etagOf(c) != o.ETag {
		return nil, fmt.Errorf("open %s: %w", o.Key, source.ErrNotFound)
	}
	s.opens = append(s.opens, fmt.Sprintf("%s@%d", o.Key, off))
	return io.NopCloser(strings.NewReader(c[off:])), nil
}

func (s *memStore) Rel(k string) string { return k }
func (s *memStore) String() string      { return "mem://" }

// changeRunner is a runner over store into JSON lines (out), with its
// state in a directory (not in the target: replaced versions are marked
// by the runner) and its warnings in logs.
func changeRunner(t *testing.T, store source.Store, st state.Store, opts Options, out, logs *bytes.Buffer) *Runner {
	t.Helper()
	opts.Workers = 1
	r, err := New(Config{
		Store: store, Target: jsonlines.Writer("test", out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: opts, Log: zerolog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func snapshot(t *testing.T, r *Runner) Summary {
	t.Helper()
	sum, err := r.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestOnChangeResume: a file that grew loads only its new records; one
// whose loaded part changed loads whole, with a warning; a file that did
// not grow (a new ETag, the same bytes loaded) loads nothing new.
func TestOnChangeResume(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			st, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := &memStore{}
			var out, logs bytes.Buffer
			r := changeRunner(t, store, st, Options{OnChange: OnChangeResume, Async: async}, &out, &logs)

			store.set("app.csv", "id\n1\n2\n")
			snapshot(t, r)
			store.set("app.csv", "id\n1\n2\n3\n4\n")
			snapshot(t, r)
			if got := out.String(); got != `{"id":"1"}`+"\n"+`{"id":"2"}`+"\n"+`{"id":"3"}`+"\n"+`{"id":"4"}`+"\n" {
				t.Fatalf("after the file grew, output:\n%s", got)
			}
			if !strings.Contains(logs.String(), "file grew") {
				t.Errorf("no log line says the file grew:\n%s", logs.String())
			}
			v2 := pusher.Object{Key: "app.csv", ETag: etagOf("id\n1\n2\n3\n4\n")}
			pr, err := st.Lookup(t.Context(), "p", []pusher.Object{v2})
			if err != nil {
				t.Fatal(err)
			}
			if p := pr[v2.ID()]; p.Status != state.Done || p.Pos.Records != 4 || p.Loaded != 2 {
				t.Fatalf("grown version %+v; want done at record 4, 2 loaded", p)
			}

			// The loaded part changed: loaded whole (append), with a warning.
			out.Reset()
			store.set("app.csv", "id\n9\n2\n3\n4\n5\n")
			snapshot(t, r)
			if got := strings.Count(out.String(), "\n"); got != 5 || !strings.HasPrefix(out.String(), `{"id":"9"}`) {
				t.Fatalf("after the loaded part changed, output:\n%s", out.String())
			}
			if !strings.Contains(logs.String(), "differ from the part loaded") || !strings.Contains(logs.String(), "falls back to append") {
				t.Errorf("no warning that the file changed:\n%s", logs.String())
			}

			// Grown again from the rewritten version.
			out.Reset()
			store.set("app.csv", "id\n9\n2\n3\n4\n5\n6\n")
			snapshot(t, r)
			if got := out.String(); got != `{"id":"6"}`+"\n" {
				t.Fatalf("after the rewritten file grew, output:\n%s", got)
			}
		})
	}
}

// TestOnChangeResumeCompressedLoadsWhole: a compressed file cannot be
// checked as it grows: a new version loads whole, with a warning.
func TestOnChangeResumeCompressedLoadsWhole(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{opts: Options{OnChange: OnChangeResume}, state: st, load: load.Config{Format: format.Options{Format: "auto"}, Compression: "auto"}}
	for key, want := range map[string]bool{"a.csv": true, "a.jsonl": true, "a.log": true, "a.csv.gz": false, "a.json": false, "a.parquet": false, "a.jsonl.zst": false} {
		if got := r.appendable(pusher.Object{Key: key}); got != want {
			t.Errorf("appendable(%s) = %v, want %v", key, got, want)
		}
	}
}

// TestOnChangeReplaceStateElsewhere: with the state not in the target,
// the runner marks the older versions replaced once the new one is done.
func TestOnChangeReplaceStateElsewhere(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	var out, logs bytes.Buffer
	r := changeRunner(t, store, st, Options{OnChange: OnChangeReplace, Async: true}, &out, &logs)
	store.set("a.csv", "id\n1\n")
	store.set("b.csv", "id\n7\n")
	snapshot(t, r)
	store.set("a.csv", "id\n2\n3\n")
	snapshot(t, r)
	v1 := pusher.Object{Key: "a.csv", ETag: etagOf("id\n1\n")}
	v2 := pusher.Object{Key: "a.csv", ETag: etagOf("id\n2\n3\n")}
	b := pusher.Object{Key: "b.csv", ETag: etagOf("id\n7\n")}
	pr, err := st.Lookup(t.Context(), "p", []pusher.Object{v1, b})
	if err != nil {
		t.Fatal(err)
	}
	if pr[v1.ID()].Status != state.Replaced || pr[v2.ID()].Status != state.Done || pr[b.ID()].Status != state.Done {
		t.Fatalf("state %+v; want v1 replaced, v2 and b done", pr)
	}

	// The first content again (the same ETag, which this runner loaded
	// before): it loads again, and replaces v2.
	out.Reset()
	store.set("a.csv", "id\n1\n")
	snapshot(t, r)
	if out.String() != `{"id":"1"}`+"\n" {
		t.Fatalf("the first content again, output %q", out.String())
	}
	pr, err = st.Lookup(t.Context(), "p", []pusher.Object{v1})
	if err != nil {
		t.Fatal(err)
	}
	if pr[v1.ID()].Status != state.Done || pr[v2.ID()].Status != state.Replaced {
		t.Fatalf("state %+v; want v1 done, v2 replaced", pr)
	}
}
