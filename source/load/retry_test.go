package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// flakyStore serves memStore's objects, but the body of each of the
// first len(cuts) opens fails after cuts[i] bytes with a transient
// error (or, for a cut of -1, blocks until its request is cancelled: a
// stall; for -2, the open itself does).
type flakyStore struct {
	memStore
	mu      sync.Mutex
	cuts    []int
	offsets []int64
}

var errCut = pusher.Unavailable(errors.New("connection reset by peer"))

func (s *flakyStore) Open(ctx context.Context, obj pusher.Object, off int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offsets = append(s.offsets, off)
	rc, err := s.memStore.Open(ctx, obj, off)
	if err != nil || len(s.offsets) > len(s.cuts) {
		return rc, err
	}
	cut := s.cuts[len(s.offsets)-1]
	if cut == -2 { // no answer at all
		<-ctx.Done()
		return nil, fmt.Errorf("get %s: %w", obj.Key, ctx.Err())
	}
	if cut < 0 {
		return &stallBody{ctx: ctx}, nil
	}
	return io.NopCloser(io.MultiReader(io.LimitReader(rc, int64(cut)), errReader{errCut})), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// stallBody blocks every read until its context ends, as an HTTP body
// does when the server sends nothing.
type stallBody struct{ ctx context.Context }

func (b *stallBody) Read([]byte) (int, error) { <-b.ctx.Done(); return 0, b.ctx.Err() }
func (b *stallBody) Close() error             { return nil }

// checkOnce checks that r got records 1..n once each, in chunks that
// follow each other, numbered without a gap.
func checkOnce(t *testing.T, r *recorder, n int) {
	t.Helper()
	next := 1
	for i, ids := range r.ids {
		for _, id := range ids {
			if id != strconv.Itoa(next) {
				t.Fatalf("chunk %d: record %s, want %d", i, id, next)
			}
			next++
		}
	}
	if next != n+1 {
		t.Fatalf("got %d records, want %d", next-1, n)
	}
	for i, c := range r.chunks {
		if c.Seq != i {
			t.Errorf("chunk %d has Seq %d", i, c.Seq)
		}
		if i > 0 && c.Start != r.chunks[i-1].End {
			t.Errorf("chunk %d starts at %v, the one before ends at %v", i, c.Start, r.chunks[i-1].End)
		}
		if c.Last != (i == len(r.chunks)-1) {
			t.Errorf("chunk %d: Last %v", i, c.Last)
		}
	}
}

func TestRetryTransientRead(t *testing.T) {
	const n = 20_000
	plain := []byte(csvRows(n))
	for _, tc := range []struct {
		key     string
		body    []byte
		workers int
		ranged  bool // reopened at an offset
	}{
		{"f.csv", plain, 1, true},
		{"f.csv", plain, 3, true},
		{"f.csv.gz", gz(t, plain), 1, false},
	} {
		t.Run(fmt.Sprintf("%s/workers=%d", tc.key, tc.workers), func(t *testing.T) {
			size := len(tc.body)
			store := &flakyStore{memStore: memStore{tc.key: tc.body}, cuts: []int{size / 3, size / 3, 2 * size / 3}}
			var retries []pusher.Position
			cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 1000}, Compression: "auto",
				ParseWorkers: tc.workers, blockBytes: 4096,
				Retrying: func(obj pusher.Object, at pusher.Position, retry int, wait time.Duration, err error) {
					if obj.Key != tc.key || pusher.ClassOf(err) != pusher.ClassUnavailable || !errors.Is(err, errCut) {
						t.Errorf("retry %d of %s: %v", retry, obj.Key, err)
					}
					retries = append(retries, at)
				}}
			r := &recorder{failAt: -1}
			st, err := File(t.Context(), store, pusher.Object{Key: tc.key, Size: int64(size)}, pusher.Position{}, cfg, r)
			if err != nil {
				t.Fatal(err)
			}
			checkOnce(t, r, n)
			if st.Records != n {
				t.Errorf("stats: %d records", st.Records)
			}
			if len(retries) != 3 {
				t.Fatalf("retries %v, want 3", retries)
			}
			if retries[len(retries)-1].Records == 0 {
				t.Errorf("the last retry resumes at %v, want past the start", retries[len(retries)-1])
			}
			ranged := false
			for _, off := range store.offsets[1:] {
				ranged = ranged || off > 0
			}
			if ranged != tc.ranged {
				t.Errorf("opened at %v, want ranged reads %v", store.offsets, tc.ranged)
			}
		})
	}
}

func TestRetryBudget(t *testing.T) {
	body := []byte(csvRows(1000))
	store := &flakyStore{memStore: memStore{"f.csv": body}, cuts: []int{10, 10, 10, 10, 10, 10, 10, 10}}
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 100}, RetryMaxElapsed: -1}
	_, err := File(t.Context(), store, pusher.Object{Key: "f.csv"}, pusher.Position{}, cfg, &recorder{failAt: -1})
	if pusher.ClassOf(err) != pusher.ClassUnavailable || !errors.Is(err, errCut) {
		t.Fatalf("error %v (class %v), want the transient error", err, pusher.ClassOf(err))
	}
	if len(store.offsets) != 1 {
		t.Errorf("opened %d times with no retry budget", len(store.offsets))
	}
	// A budget too short for a first delay: the error says the retries
	// ended.
	store = &flakyStore{memStore: memStore{"f.csv": body}, cuts: []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}}
	cfg.RetryMaxElapsed = 400 * time.Millisecond
	_, err = File(t.Context(), store, pusher.Object{Key: "f.csv"}, pusher.Position{}, cfg, &recorder{failAt: -1})
	if pusher.ClassOf(err) != pusher.ClassUnavailable || !strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("error %v (class %v)", err, pusher.ClassOf(err))
	}
}

// A corrupt file and a failed push are not retried.
func TestNoRetry(t *testing.T) {
	calls := 0
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 100}, Compression: "auto",
		Retrying: func(pusher.Object, pusher.Position, int, time.Duration, error) { calls++ }}
	store := &flakyStore{memStore: memStore{"f.csv.gz": gz(t, []byte(csvRows(1000)))[:200], "g.csv": []byte(csvRows(1000))}}
	_, err := File(t.Context(), store, pusher.Object{Key: "f.csv.gz"}, pusher.Position{}, cfg, &recorder{failAt: -1})
	if err == nil || pusher.ClassOf(err) != pusher.ClassData {
		t.Errorf("truncated gzip: error %v, class %v", err, pusher.ClassOf(err))
	}
	p := &funcPusher{push: func(c *pusher.Chunk) error {
		if c.Seq == 2 {
			return pusher.Unavailable(errors.New("database down"))
		}
		return nil
	}}
	_, err = File(t.Context(), store, pusher.Object{Key: "g.csv"}, pusher.Position{}, cfg, p)
	if pusher.ClassOf(err) != pusher.ClassUnavailable {
		t.Errorf("push: error %v, class %v", err, pusher.ClassOf(err))
	}
	if calls != 0 || len(store.offsets) != 2 {
		t.Errorf("%d retries, %d opens", calls, len(store.offsets))
	}
}

func TestReadTimeout(t *testing.T) {
	const n = 5000
	body := []byte(csvRows(n))
	// The first open gets no answer, the second's body stalls at once;
	// the third reads the whole file.
	store := &flakyStore{memStore: memStore{"f.csv": body}, cuts: []int{-2, -1}}
	var errs []error
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 100}, ReadTimeout: 50 * time.Millisecond,
		Retrying: func(_ pusher.Object, _ pusher.Position, _ int, _ time.Duration, err error) { errs = append(errs, err) }}
	r := &recorder{failAt: -1}
	if _, err := File(t.Context(), store, pusher.Object{Key: "f.csv"}, pusher.Position{}, cfg, r); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, r, n)
	if len(errs) != 2 {
		t.Fatalf("retried after %v, want two stalls", errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrStalled) || pusher.ClassOf(err) != pusher.ClassUnavailable {
			t.Errorf("retried after %v (class %v), want a stall", err, pusher.ClassOf(err))
		}
	}
	if !strings.Contains(errs[0].Error(), `"f.csv"`) {
		t.Errorf("stall error %q does not name the file", errs[0])
	}
}

// TestTruncatedSaysWhere: a compressed file cut short fails naming the
// records read before the cut, as its byte offset (in decompressed data)
// names no place in the file; an error with nothing before it has none.
func TestTruncatedSaysWhere(t *testing.T) {
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 100}, Compression: "auto"}
	full := gz(t, []byte(csvRows(20000)))
	store := &flakyStore{memStore: memStore{"f.csv.gz": full[:len(full)/2], "g.csv.gz": full[:20]}}
	st, err := File(t.Context(), store, pusher.Object{Key: "f.csv.gz"}, pusher.Position{}, cfg, &recorder{failAt: -1})
	if want := fmt.Sprintf("file %q: after %d records: ", "f.csv.gz", st.Records); err == nil || st.Records == 0 || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v (%d records), want it to start with %q", err, st.Records, want)
	}
	if pusher.ClassOf(err) != pusher.ClassData {
		t.Errorf("class %v, want data", pusher.ClassOf(err))
	}
	_, err = File(t.Context(), store, pusher.Object{Key: "g.csv.gz"}, pusher.Position{}, cfg, &recorder{failAt: -1})
	if err == nil || strings.Contains(err.Error(), "after") {
		t.Errorf("nothing read: error %v", err)
	}
}
