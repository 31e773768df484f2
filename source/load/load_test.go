package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	_ "github.com/ferrydata/ferry/source/format/csv"
)

// memStore is a one-level in-memory store.
type memStore map[string][]byte

func (m memStore) List(context.Context, func([]pusher.Object) error) error { return nil }
func (m memStore) Rel(k string) string                                     { return k }
func (m memStore) String() string                                          { return "mem://" }
func (m memStore) Open(_ context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	b, ok := m[o.Key]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", o.Key, source.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b[off:])), nil
}

// recorder is a pusher that keeps copies of what it was given.
type recorder struct {
	chunks []pusher.Chunk
	ids    [][]string
	failAt int // fail the Push of this chunk seq (-1: never)
}

func (r *recorder) Push(_ context.Context, c *pusher.Chunk) error {
	if c.Seq == r.failAt {
		return errors.New("target down")
	}
	cp := *c
	cp.Batch = nil
	r.chunks = append(r.chunks, cp)
	var ids []string
	for i := 0; i < c.Batch.Len(); i++ {
		ids = append(ids, string(c.Batch.Value(c.Batch.Record(i)[0])))
	}
	r.ids = append(r.ids, ids)
	return nil
}

func (r *recorder) Finish(_ pusher.Object, err error, done func(pusher.FileResult)) {
	done(pusher.FileResult{Err: err})
}

func csvRows(n int) string {
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,x\n", i)
	}
	return b.String()
}

func TestFile(t *testing.T) {
	store := memStore{
		"ten.csv":   []byte(csvRows(10)),
		"empty.csv": []byte("id,v\n"),
		"bad.csv":   []byte("id,v\n1,x\n2,x\n3\n4,x\n"),
	}
	cfg := Config{Format: format.Options{Format: "auto", Header: true, BatchRows: 3}, Compression: "auto"}
	ctx := context.Background()

	t.Run("chunks in order, last flagged once", func(t *testing.T) {
		r := &recorder{failAt: -1}
		st, err := File(ctx, store, pusher.Object{Key: "ten.csv"}, pusher.Position{}, cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != 10 || st.Chunks != 4 || len(r.chunks) != 4 {
			t.Fatalf("stats %+v, chunks %d", st, len(r.chunks))
		}
		var prev pusher.Position
		for i, c := range r.chunks {
			if c.Seq != i || c.Start != prev || c.Last != (i == 3) {
				t.Fatalf("chunk %d: %+v (prev end %+v)", i, c, prev)
			}
			prev = c.End
		}
		if prev.Records != 10 || prev.Offset != int64(len(store["ten.csv"])) {
			t.Fatalf("end position %+v", prev)
		}
		if strings.Join(r.ids[3], ",") != "10" {
			t.Fatalf("last chunk ids %v", r.ids[3])
		}
	})

	t.Run("resume at every chunk boundary", func(t *testing.T) {
		full := &recorder{failAt: -1}
		if _, err := File(ctx, store, pusher.Object{Key: "ten.csv"}, pusher.Position{}, cfg, full); err != nil {
			t.Fatal(err)
		}
		for i, c := range full.chunks {
			r := &recorder{failAt: -1}
			if _, err := File(ctx, store, pusher.Object{Key: "ten.csv"}, c.End, cfg, r); err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, ids := range r.ids {
				got = append(got, ids...)
			}
			for _, ids := range full.ids[i+1:] {
				want = append(want, ids...)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("resume after chunk %d: got %v, want %v", i, got, want)
			}
			if len(r.chunks) == 0 || !r.chunks[len(r.chunks)-1].Last {
				t.Fatalf("resume after chunk %d: no last chunk", i)
			}
		}
	})

	t.Run("empty file has one empty last chunk", func(t *testing.T) {
		r := &recorder{failAt: -1}
		if _, err := File(ctx, store, pusher.Object{Key: "empty.csv"}, pusher.Position{}, cfg, r); err != nil {
			t.Fatal(err)
		}
		if len(r.chunks) != 1 || !r.chunks[0].Last || len(r.ids[0]) != 0 {
			t.Fatalf("chunks %+v", r.chunks)
		}
	})

	t.Run("good records before a bad one are pushed", func(t *testing.T) {
		r := &recorder{failAt: -1}
		_, err := File(ctx, store, pusher.Object{Key: "bad.csv"}, pusher.Position{}, cfg, r)
		var fe *pusher.FileError
		var re *pusher.RecordError
		if !errors.As(err, &fe) || fe.Key != "bad.csv" || !errors.As(err, &re) || re.Record != 3 {
			t.Fatalf("error %v", err)
		}
		if len(r.chunks) != 1 || strings.Join(r.ids[0], ",") != "1,2" || r.chunks[0].Last {
			t.Fatalf("pushed %v", r.ids)
		}
	})

	t.Run("push error stops the file", func(t *testing.T) {
		r := &recorder{failAt: 1}
		_, err := File(ctx, store, pusher.Object{Key: "ten.csv"}, pusher.Position{}, cfg, r)
		if err == nil || !strings.Contains(err.Error(), "target down") || len(r.chunks) != 1 {
			t.Fatalf("err %v, chunks %d", err, len(r.chunks))
		}
	})

	t.Run("missing file", func(t *testing.T) {
		_, err := File(ctx, store, pusher.Object{Key: "gone.csv"}, pusher.Position{}, cfg, &recorder{failAt: -1})
		if !errors.Is(err, source.ErrNotFound) {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("unknown extension", func(t *testing.T) {
		_, err := File(ctx, store, pusher.Object{Key: "x.xml"}, pusher.Position{}, cfg, &recorder{failAt: -1})
		if err == nil || !strings.Contains(err.Error(), "--format") {
			t.Fatalf("err %v", err)
		}
	})
}

// openLog records the offsets a store was opened at.
type openLog struct {
	memStore
	offsets []int64
}

func (o *openLog) Open(ctx context.Context, obj pusher.Object, off int64) (io.ReadCloser, error) {
	o.offsets = append(o.offsets, off)
	return o.memStore.Open(ctx, obj, off)
}

func TestResumeWithRangedRead(t *testing.T) {
	const n = 300_000
	plain := []byte(csvRows(n))
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	zw.Write(plain)
	zw.Close()
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 100_000}, Compression: "auto"}
	for _, tt := range []struct {
		key        string
		body       []byte
		wantRanged bool
	}{{"big.csv", plain, true}, {"big.csv.gz", gzBuf.Bytes(), false}} {
		t.Run(tt.key, func(t *testing.T) {
			store := &openLog{memStore: memStore{tt.key: tt.body}}
			full := &recorder{failAt: -1}
			if _, err := File(t.Context(), store, pusher.Object{Key: tt.key}, pusher.Position{}, cfg, full); err != nil {
				t.Fatal(err)
			}
			at := full.chunks[1].End // resume after 200,000 records
			store.offsets = nil
			r := &recorder{failAt: -1}
			if _, err := File(t.Context(), store, pusher.Object{Key: tt.key}, at, cfg, r); err != nil {
				t.Fatal(err)
			}
			if len(r.ids) != 1 || len(r.ids[0]) != n-200_000 || r.ids[0][0] != "200001" || !r.chunks[0].Last {
				t.Fatalf("resumed chunks: %d, first %v", len(r.chunks), r.chunks)
			}
			ranged := len(store.offsets) == 2 && store.offsets[1] == at.Offset-1
			if ranged != tt.wantRanged {
				t.Fatalf("opened at %v (resume offset %d), want ranged=%v", store.offsets, at.Offset, tt.wantRanged)
			}
		})
	}
}

func TestSkipRecords(t *testing.T) {
	store := memStore{
		"bad.csv":  []byte("id,v\n1,x\n2,x\n3\n4,x\n5\n"),
		"bad2.csv": []byte("id,v\n1\n2\n3,x\n"),
	}
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 2}, SkipRecords: true, MaxRejects: -1}
	// rejects-aware recorder
	type seen struct {
		ids     []string
		first   int64
		rejects []int64
		last    bool
	}
	run := func(key string, cfg Config) ([]seen, error) {
		var out []seen
		p := &funcPusher{push: func(c *pusher.Chunk) error {
			s := seen{first: c.First(), last: c.Last}
			for i := 0; i < c.Batch.Len(); i++ {
				s.ids = append(s.ids, string(c.Batch.Value(c.Batch.Record(i)[0])))
			}
			for _, r := range c.Rejects {
				s.rejects = append(s.rejects, r.Record)
				if len(r.Raw) == 0 {
					t.Errorf("reject %d has no raw record", r.Record)
				}
			}
			out = append(out, s)
			return nil
		}}
		_, err := File(t.Context(), store, pusher.Object{Key: key}, pusher.Position{}, cfg, p)
		return out, err
	}
	got, err := run("bad.csv", cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]seen{{[]string{"1", "2"}, 1, nil, false}, {[]string{"4"}, 4, []int64{3}, false}, {nil, 6, []int64{5}, true}})
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
	got, err = run("bad2.csv", cfg)
	if err != nil || fmt.Sprint(got) != fmt.Sprint([]seen{{[]string{"3"}, 3, []int64{1, 2}, true}}) {
		t.Fatalf("got %v, %v", got, err)
	}
	cfg.MaxRejects = 1
	if _, err := run("bad2.csv", cfg); err == nil || !strings.Contains(err.Error(), "more than 1 rejected") {
		t.Fatalf("max rejects: %v", err)
	}
}

type funcPusher struct{ push func(c *pusher.Chunk) error }

func (f *funcPusher) Push(_ context.Context, c *pusher.Chunk) error { return f.push(c) }
func (f *funcPusher) Finish(_ pusher.Object, err error, done func(pusher.FileResult)) {
	done(pusher.FileResult{Err: err})
}

// TestWarnCROnly: a text file whose lines end with CR alone loads as
// before (CR is not a line end) but with a warning naming the file; files
// with LF or CRLF, or a single line without CR, give none.
func TestWarnCROnly(t *testing.T) {
	store := memStore{
		"mac.csv":    []byte("a,b\r1,2\r3,4\r"),
		"crlf.csv":   []byte("a,b\r\n1,2\r\n"),
		"late.csv":   []byte("a,b\n1,\"x\ry\"\n"),
		"one.csv":    []byte("a,b"),
		"mac.csv.gz": gz(t, []byte("a,b\r1,2\r")),
	}
	for key, want := range map[string]string{
		"mac.csv":    `file "mac.csv": no LF or CRLF found in 12 bytes`,
		"mac.csv.gz": `file "mac.csv.gz": no LF or CRLF found in 8 bytes`,
		"crlf.csv":   "",
		"late.csv":   "",
		"one.csv":    "",
	} {
		var warned []string
		cfg := Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto",
			Warn: func(msg string) { warned = append(warned, msg) }}
		if _, err := File(t.Context(), store, pusher.Object{Key: key}, pusher.Position{}, cfg, &recorder{failAt: -1}); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		switch {
		case want == "" && len(warned) > 0:
			t.Errorf("%s: warned %q", key, warned)
		case want != "" && (len(warned) != 1 || !strings.HasPrefix(warned[0], want)):
			t.Errorf("%s: warned %q, want one warning starting %q", key, warned, want)
		}
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
