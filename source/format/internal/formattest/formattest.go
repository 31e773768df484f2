// Package formattest holds the test helpers the record readers (CSV,
// JSON lines, JSON documents, lines) share: reading a Reader to its end
// while checking the format.Reader contract, rendering its records, and
// the checks of batching, resuming and read errors built on that.
package formattest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// Null stands for a Null field in rendered records.
const Null = "∅"

// RecString renders record i of b as "col=value ..." in column order:
// strings quoted, Null as ∅, numbers, booleans and JSON as written. With
// canonical, Null fields are left out and the rest sorted by column name,
// which does not depend on the order columns were discovered in.
func RecString(b *pusher.Batch, i int, canonical bool) string {
	var parts []string
	for c, f := range b.Record(i) {
		v := b.Value(f)
		var s string
		switch f.Kind {
		case pusher.Null:
			if canonical {
				continue
			}
			s = Null
		case pusher.String:
			s = fmt.Sprintf("%q", v)
		case pusher.Number, pusher.Bool:
			s = string(v)
		case pusher.JSON:
			s = "J" + string(v)
		}
		parts = append(parts, b.Columns[c]+"="+s)
	}
	if canonical {
		sort.Strings(parts)
	}
	return strings.Join(parts, " ")
}

// ValString renders record i of b as "v1|v2|...": strings as they are,
// Null as ∅, other kinds as "kind:value".
func ValString(b *pusher.Batch, i int) string {
	var parts []string
	for _, f := range b.Record(i) {
		switch f.Kind {
		case pusher.Null:
			parts = append(parts, Null)
		case pusher.String:
			parts = append(parts, string(b.Value(f)))
		default:
			parts = append(parts, fmt.Sprintf("%s:%s", f.Kind, b.Value(f)))
		}
	}
	return strings.Join(parts, "|")
}

// Form is how Drain renders records, and how many fields it expects of
// them.
type Form struct {
	Render func(b *pusher.Batch, i int) string
	// Full: every record has a field for every column (CSV, lines).
	// Otherwise a record may lack the columns found after it (JSON).
	Full bool
}

// The forms of the readers' tests.
var (
	// Named renders records with RecString.
	Named = Form{Render: func(b *pusher.Batch, i int) string { return RecString(b, i, false) }}
	// Canonical renders records with RecString, canonical.
	Canonical = Form{Render: func(b *pusher.Batch, i int) string { return RecString(b, i, true) }}
	// Values renders records with ValString; they are Full.
	Values = Form{Render: ValString, Full: true}
)

// Result is what Drain read.
type Result struct {
	Events  []string // records as rendered, errors as "ERR " + message
	Raws    []string // Events, with Raw after each record error's message
	Cols    []string // the columns after the last call
	Batches []BatchEnd
	Rejects []*pusher.RecordError
	Final   error // the error that ended reading (io.EOF when clean)
}

// BatchEnd is the state after one batch.
type BatchEnd struct {
	Pos     pusher.Position
	NRecs   int // records before this point
	NEvents int // events before this point
}

// Drain reads r to its end, continuing after record errors, rendering
// records in form, and checks the Reader contract on the way: Pos moves
// only with records, and at least by their number; an error comes with an
// empty batch; a record error is after Pos and has a Raw of 1 to
// pusher.MaxRawBytes bytes; a final error is returned again.
func Drain(t testing.TB, r format.Reader, form Form) Result {
	t.Helper()
	var res Result
	var b pusher.Batch
	nrecs := 0
	for range 100000 {
		before := r.Pos()
		err := r.Next(&b)
		res.Cols = b.Columns
		for i := range b.Len() {
			if n := len(b.Record(i)); n > len(b.Columns) || form.Full && n != len(b.Columns) {
				t.Fatalf("record with %d fields, %d columns", n, len(b.Columns))
			}
			s := form.Render(&b, i)
			res.Events = append(res.Events, s)
			res.Raws = append(res.Raws, s)
		}
		nrecs += b.Len()
		var re *pusher.RecordError
		switch {
		case err == nil:
			if b.Len() == 0 {
				t.Fatalf("Next returned no records and no error")
			}
			res.Batches = append(res.Batches, BatchEnd{r.Pos(), nrecs, len(res.Events)})
			if p := r.Pos(); p.Records < before.Records+int64(b.Len()) || p.Offset <= before.Offset {
				t.Fatalf("Pos went from %+v to %+v after %d records", before, p, b.Len())
			}
		case errors.As(err, &re):
			if b.Len() != 0 || r.Pos() != before {
				t.Fatalf("error %v with %d records, pos %+v -> %+v", err, b.Len(), before, r.Pos())
			}
			if re.Record <= before.Records {
				t.Fatalf("error %v at or before pos %+v", err, before)
			}
			if len(re.Raw) == 0 || len(re.Raw) > pusher.MaxRawBytes {
				t.Fatalf("%v: Raw has %d bytes", err, len(re.Raw))
			}
			res.Events = append(res.Events, "ERR "+err.Error())
			res.Raws = append(res.Raws, fmt.Sprintf("ERR %v raw=%q", err, re.Raw))
			res.Rejects = append(res.Rejects, re)
		default:
			if b.Len() != 0 || r.Pos() != before {
				t.Fatalf("error %v with %d records, pos %+v -> %+v", err, b.Len(), before, r.Pos())
			}
			if err != io.EOF {
				res.Events = append(res.Events, "ERR "+err.Error())
				res.Raws = append(res.Raws, "ERR "+err.Error())
			}
			res.Final = err
			if err2 := r.Next(&b); err2 != err || b.Len() != 0 {
				t.Fatalf("after final error %v, Next returned %v with %d records", err, err2, b.Len())
			}
			return res
		}
	}
	t.Fatal("reader does not end")
	return res
}

// Readers wrap the input to split reads in various ways.
var Readers = []struct {
	Name string
	Wrap func(io.Reader) io.Reader
}{
	{"plain", Identity},
	{"onebyte", iotest.OneByteReader},
	{"dataerr", iotest.DataErrReader},
	{"half", iotest.HalfReader},
}

// Identity returns r.
func Identity(r io.Reader) io.Reader { return r }

// FailingReader returns Data, then Err.
type FailingReader struct {
	Data []byte
	Err  error
}

func (f *FailingReader) Read(p []byte) (int, error) {
	if len(f.Data) == 0 {
		return 0, f.Err
	}
	n := copy(p, f.Data)
	f.Data = f.Data[n:]
	return n, nil
}

// Limits are batch bounds worth testing: tiny, odd and mixed.
var Limits = []format.Options{
	{BatchRows: 1},
	{BatchRows: 7},
	{BatchBytes: 1},
	{BatchBytes: 400},
	{BatchRows: 13, BatchBytes: 600},
}

// CheckBatches checks res, a read of in with options o, against full, a
// read of in all in one go: the same events and Raws, batches of at most
// o.BatchRows records, each ending just after a byte last of in (unless
// last is 0). Reopened at the end of every step-th batch, the reader
// (reopen) must read the rest of full.
func CheckBatches(t testing.TB, in string, last byte, o format.Options, full, res Result, step int, reopen func(pusher.Position) Result) {
	t.Helper()
	if !slices.Equal(res.Raws, full.Raws) {
		t.Fatalf("events differ from one read:\n%q\nwant\n%q", res.Raws, full.Raws)
	}
	prev := 0
	for _, be := range res.Batches {
		n := be.NRecs - prev
		prev = be.NRecs
		if o.BatchRows > 0 && n > o.BatchRows {
			t.Fatalf("batch of %d records, limit %d", n, o.BatchRows)
		}
		if last != 0 && in[be.Pos.Offset-1] != last {
			t.Fatalf("pos %+v is not after %q", be.Pos, last)
		}
	}
	for k := 0; k < len(res.Batches); k += max(step, 1) {
		be := res.Batches[k]
		rest := reopen(be.Pos)
		if !slices.Equal(rest.Raws, full.Raws[be.NEvents:]) {
			t.Fatalf("resume at %+v:\n%q\nwant\n%q", be.Pos, rest.Raws, full.Raws[be.NEvents:])
		}
	}
}

// CheckReadError reads in, then a read error, through every reader
// wrapper and each buffer size (open makes the Reader): it must return the
// records of in (want, rendered in form), then the read error as final (what the error
// says: final), with Pos at pos.
func CheckReadError(t testing.TB, in string, sizes []int, open func(r io.Reader, size int) format.Reader, form Form, want []string, final string, pos pusher.Position) {
	t.Helper()
	for _, size := range sizes {
		for _, rd := range Readers {
			r := open(rd.Wrap(&FailingReader{Data: []byte(in), Err: io.ErrUnexpectedEOF}), size)
			res := Drain(t, r, form)
			if !errors.Is(res.Final, io.ErrUnexpectedEOF) || res.Final.Error() != final {
				t.Fatalf("%s/%d: final %v", rd.Name, size, res.Final)
			}
			if want := append(slices.Clone(want), "ERR "+final); !slices.Equal(res.Events, want) {
				t.Fatalf("%s/%d: events %q", rd.Name, size, res.Events)
			}
			if p := r.Pos(); p != pos {
				t.Fatalf("%s/%d: pos %+v", rd.Name, size, p)
			}
		}
	}
}

// Bench reads data with the Reader open makes, as a benchmark of MB/s.
func Bench(b *testing.B, data []byte, open func(io.Reader) (format.Reader, error)) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var batch pusher.Batch
	for b.Loop() {
		r, err := open(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			err := r.Next(&batch)
			rows += batch.Len()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if rows == 0 {
			b.Fatal("no rows")
		}
	}
}
