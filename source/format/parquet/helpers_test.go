package parquet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	parquetgo "github.com/parquet-go/parquet-go"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// writeRows writes rows to an in-memory Parquet file with the library, the
// schema taken from T's struct tags (in field order). This is how to write
// a Parquet file for a test:
//
//	type row struct {
//		ID   int64      `parquet:"id"`
//		Name *string    `parquet:"name,optional"`
//		At   time.Time  `parquet:"at,timestamp(microsecond)"`
//		Tags []string   `parquet:"tags,list"`
//	}
//	data := writeRows(t, []row{...}, parquetgo.MaxRowsPerRowGroup(1000))
func writeRows[T any](t testing.TB, rows []T, opts ...parquetgo.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquetgo.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeSchemaRows writes rows built by hand (values with their levels) for
// a schema built by hand: for types and layouts struct tags cannot make.
func writeSchemaRows(t testing.TB, schema *parquetgo.Schema, rows []parquetgo.Row, opts ...parquetgo.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquetgo.NewWriter(&buf, append([]parquetgo.WriterOption{schema}, opts...)...)
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func opts(mods ...func(*format.Options)) format.Options {
	o := format.Options{Format: format.Parquet}
	for _, m := range mods {
		m(&o)
	}
	return o.WithDefaults()
}

func open(t testing.TB, data []byte, o format.Options, start pusher.Position) *Reader {
	t.Helper()
	r, err := newReader(bytes.NewReader(data), int64(len(data)), o, start)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fieldText renders a field as kind:value ("null" for Null).
func fieldText(b *pusher.Batch, f pusher.Field) string {
	v := string(b.Value(f))
	switch f.Kind {
	case pusher.Null:
		return "null"
	case pusher.String:
		return "s:" + v
	case pusher.Number:
		return "n:" + v
	case pusher.Bool:
		return "b:" + v
	case pusher.JSON:
		return "j:" + v
	}
	return fmt.Sprintf("?%d:%s", f.Kind, v)
}

func records(b *pusher.Batch) [][]string {
	var out [][]string
	for i := range b.Len() {
		rec := []string{}
		for _, f := range b.Record(i) {
			rec = append(rec, fieldText(b, f))
		}
		out = append(out, rec)
	}
	return out
}

// dump reads r to the end and returns its records.
func dump(t testing.TB, r format.Reader) [][]string {
	t.Helper()
	var out [][]string
	var b pusher.Batch
	for {
		err := r.Next(&b)
		out = append(out, records(&b)...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
	}
}

func readAll(t testing.TB, data []byte) [][]string {
	t.Helper()
	return dump(t, open(t, data, opts(), pusher.Position{}))
}

// diff compares records and reports the first differences.
func diff(t testing.TB, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d records, want %d", len(got), len(want))
	}
	n := 0
	for i := range min(len(got), len(want)) {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("record %d:\n got %q\nwant %q", i+1, got[i], want[i])
			if n++; n == 5 {
				return
			}
		}
	}
}

// countingReaderAt counts the bytes read and can fail reads of a range.
type countingReaderAt struct {
	r        io.ReaderAt
	n        int64
	failFrom int64 // reads overlapping [failFrom, failTo) fail
	failTo   int64
	failWith error
	mu       chan struct{}
}

func newCounting(data []byte) *countingReaderAt {
	return &countingReaderAt{r: bytes.NewReader(data), mu: make(chan struct{}, 1)}
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.mu <- struct{}{}
	c.n += int64(len(p))
	fail := c.failWith != nil && off < c.failTo && off+int64(len(p)) > c.failFrom
	<-c.mu
	if fail {
		return 0, c.failWith
	}
	return c.r.ReadAt(p, off)
}

func (c *countingReaderAt) read() int64 {
	c.mu <- struct{}{}
	defer func() { <-c.mu }()
	return c.n
}

func kindPrefix(k pusher.Kind) string {
	switch k {
	case pusher.String:
		return "s:"
	case pusher.Number:
		return "n:"
	case pusher.Bool:
		return "b:"
	case pusher.JSON:
		return "j:"
	}
	return "null"
}
