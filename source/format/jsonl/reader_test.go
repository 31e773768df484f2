package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

var bufSizes = []int{1, 2, 3, 5, 8, 64, bufSize}

func open(t *testing.T, in string, o format.Options, start pusher.Position, size int, wrap func(io.Reader) io.Reader) *Reader {
	t.Helper()
	r, err := newReader(wrap(strings.NewReader(in)), o, start, size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRead(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string
		in   string
		cols []string
		want []string
	}{
		{name: "empty", in: ""},
		{name: "blank lines", in: "\n \t\r\n\r\n  \n"},
		{name: "simple", in: `{"a":1,"b":"x"}` + "\n" + `{"a":2,"b":"y"}` + "\n", cols: []string{"a", "b"},
			want: []string{`a=1 b="x"`, `a=2 b="y"`}},
		{name: "no trailing newline", in: `{"a":1}` + "\n" + `{"a":2}`, cols: []string{"a"}, want: []string{"a=1", "a=2"}},
		{name: "crlf and blank lines", in: "\r\n" + `{"a":1}` + "\r\n\r\n  \r\n" + `{"a":2}` + "\r\n", cols: []string{"a"}, want: []string{"a=1", "a=2"}},
		{name: "whitespace around", in: " \t{ \"a\" :\t1 , \"b\" : \"x\" } \t\r\n", cols: []string{"a", "b"}, want: []string{`a=1 b="x"`}},
		{name: "trailing CRs are whitespace", in: "{\"a\":1}\r\r\n", cols: []string{"a"}, want: []string{"a=1"}},
		{name: "bom", in: "\xEF\xBB\xBF{\"a\":1}\n", cols: []string{"a"}, want: []string{"a=1"}},
		{name: "new keys mid-file", in: `{"a":1}` + "\n" + `{"b":2,"a":3}` + "\n" + `{"c":4}` + "\n",
			cols: []string{"a", "b", "c"}, want: []string{"a=1", "a=3 b=2", "a=∅ b=∅ c=4"}},
		{name: "missing keys null", in: `{"a":1,"b":2}` + "\n" + `{}` + "\n" + `{"b":3}` + "\n",
			cols: []string{"a", "b"}, want: []string{"a=1 b=2", "a=∅ b=∅", "a=∅ b=3"}},
		{name: "duplicate key last wins", in: `{"a":1,"b":2,"a":"x"}` + "\n" + `{"c":1,"c":null}` + "\n",
			cols: []string{"a", "b", "c"}, want: []string{`a="x" b=2`, "a=∅ b=∅ c=∅"}},
		{name: "kinds", in: `{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"o":{},"l":[]}` + "\n",
			cols: []string{"s", "n", "t", "f", "z", "o", "l"}, want: []string{`s="x" n=-1.5e+3 t=true f=false z=∅ o=J{} l=J[]`}},
		{name: "nested kept raw", in: `{"a": { "x" : [1, 2.0 ,{"y":"\u00e9"}] } , "b":[ "s" , null,true ]}` + "\n",
			cols: []string{"a", "b"}, want: []string{`a=J{ "x" : [1, 2.0 ,{"y":"\u00e9"}] } b=J[ "s" , null,true ]`}},
		{name: "escapes", in: `{"s":"\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00 x"}` + "\n", cols: []string{"s"},
			want: []string{`s="\"\\/\b\f\n\r\té€😀 x"`}},
		{name: "lone surrogates", in: `{"s":"\ud83d x","t":"\ude00","u":"\ud83d\u0041"}` + "\n", cols: []string{"s", "t", "u"},
			want: []string{"s=\"\uFFFD x\" t=\"\uFFFD\" u=\"\uFFFDA\""}},
		{name: "raw utf8", in: `{"s":"café ☕"}` + "\n", cols: []string{"s"}, want: []string{`s="café ☕"`}},
		{name: "escaped key", in: `{"a\u0062":1,"ab":2}` + "\n", cols: []string{"ab"}, want: []string{"ab=2"}},
		{name: "empty key", in: `{"":1}` + "\n", cols: []string{""}, want: []string{"=1"}},
		{name: "numbers", in: `{"a":0,"b":-0,"c":1E5,"d":0.25e-1,"e":123456789012345678901234567890}` + "\n", cols: []string{"a", "b", "c", "d", "e"},
			want: []string{"a=0 b=-0 c=1E5 d=0.25e-1 e=123456789012345678901234567890"}},
		{name: "depth limit ok", in: `{"a":` + deep(999) + "}\n", cols: []string{"a"}, want: []string{"a=J" + deep(999)}},
		{name: "depth limit exceeded", in: `{"a":` + deep(1000) + "}\n" + `{"b":1}` + "\n", cols: []string{"b"},
			want: []string{"ERR record 1 (byte 0): JSON nested deeper than 1000 levels", "b=1"}},
		{name: "bad record columns forgotten", in: `{"a":1}` + "\n" + `{"x":1,"y":}` + "\n" + `{"b":2}` + "\n", cols: []string{"a", "b"},
			want: []string{"a=1", "ERR record 2 (byte 8): invalid JSON at column 12: unexpected '}' looking for a value", "a=∅ b=2"}},
	}
	bad := []struct{ line, err string }{
		{`[1,2]`, "not a JSON object: the line holds an array"},
		{`"s"`, "not a JSON object: the line holds a string"},
		{`12`, "not a JSON object: the line holds a number"},
		{`true`, "not a JSON object: the line holds a boolean"},
		{`null`, "not a JSON object: the line holds null"},
		{`x`, "invalid JSON at column 1: unexpected 'x' looking for the beginning of an object"},
		{`{`, "invalid JSON: unexpected end of line looking for an object key"},
		{`{"a"}`, "invalid JSON at column 5: unexpected '}' after object key"},
		{`{"a":1,}`, "invalid JSON at column 8: unexpected '}' looking for an object key"},
		{`{"a":1 "b":2}`, `invalid JSON at column 8: unexpected '"' after object value`},
		{`{a:1}`, "invalid JSON at column 2: unexpected 'a' looking for an object key"},
		{`{"a":1}x`, "invalid JSON at column 8: unexpected 'x' after the object (one object per line)"},
		{`{"a":1}{}`, "invalid JSON at column 8: unexpected '{' after the object (one object per line)"},
		{`{"a":tru}`, "invalid JSON at column 6: unexpected 't' looking for a value"},
		{`{"a":nul}`, "invalid JSON at column 6: unexpected 'n' looking for a value"},
		{`{"a":01}`, "invalid JSON at column 7: unexpected '1' after object value"},
		{`{"a":1.}`, "invalid JSON at column 8: unexpected '}' after decimal point in number"},
		{`{"a":.5}`, "invalid JSON at column 6: unexpected '.' looking for a value"},
		{`{"a":-}`, "invalid JSON at column 7: unexpected '}' in number"},
		{`{"a":+1}`, "invalid JSON at column 6: unexpected '+' looking for a value"},
		{`{"a":1e}`, "invalid JSON at column 8: unexpected '}' in exponent of number"},
		{`{"a":"x}`, "invalid JSON: unterminated string"},
		{`{"a":"\x"}`, `invalid JSON at column 7: invalid escape "\\x" in string`},
		{`{"a":"\u12"}`, `invalid JSON at column 7: invalid \u escape in string`},
		{"{\"a\":\"x\ty\"}", `invalid JSON at column 8: unexpected byte 0x09 in string (control characters must be escaped)`},
		{`{"a":[1,]}`, "invalid JSON at column 9: unexpected ']' looking for a value"},
		{`{"a":[1 2]}`, "invalid JSON at column 9: unexpected '2' after array element"},
		{`{"a":{"b"}}`, "invalid JSON at column 10: unexpected '}' after object key"},
		{`{"a":{"b":"\q"}}`, `invalid JSON at column 12: invalid escape "\\q" in string`},
		{`{"a":[01]}`, "invalid JSON at column 8: unexpected '1' after array element"},
		{`{"a":1`, "invalid JSON: unexpected end of line after object value"},
		{`{"a":[`, "invalid JSON: unexpected end of line looking for a value"},
	}
	for _, b := range bad {
		tests = append(tests, struct {
			name string
			in   string
			cols []string
			want []string
		}{name: "bad " + b.line, in: "{\"k\":0}\n" + b.line + "\n{\"k\":1}", cols: []string{"k"},
			want: []string{"k=0", "ERR record 2 (byte 8): " + b.err, "k=1"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range formattest.Readers {
				for _, size := range bufSizes {
					res := formattest.Drain(t, open(t, tt.in, format.Options{}, pusher.Position{}, size, rd.Wrap), formattest.Named)
					if res.Final != io.EOF {
						t.Fatalf("%s/%d: final error %v", rd.Name, size, res.Final)
					}
					if !slices.Equal(res.Events, tt.want) {
						t.Fatalf("%s/%d: got\n%q\nwant\n%q", rd.Name, size, res.Events, tt.want)
					}
					if !slices.Equal(res.Cols, tt.cols) {
						t.Fatalf("%s/%d: columns %q, want %q", rd.Name, size, res.Cols, tt.cols)
					}
				}
			}
		})
	}
}

// genJSONL makes n lines with varying keys, nesting, escapes and blanks.
func genJSONL(n int) string {
	var sb strings.Builder
	for i := range n {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&sb, `{"id":%d,"name":"n%d"}`+"\n", i, i)
		case 1:
			fmt.Fprintf(&sb, `{"id":%d,"tags":["a",{"b":[%d]}],"note":"caf\u00e9 \"x\""}`+"\r\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "\n  \n"+`{"id":%d,"k%d":true}`+"\n", i, i%7)
		case 3:
			fmt.Fprintf(&sb, `{"name":"%s","id":%d}`+"\n", strings.Repeat("long", i%13), i)
		case 4:
			fmt.Fprintf(&sb, `{"id":%d,"z":null,"u":{"id":%d}}`+"\n", i, i)
		case 5:
			fmt.Fprintf(&sb, `{"id":%d,"bad":}`+"\n", i)
		}
	}
	return sb.String()
}

func TestBatchingAndResume(t *testing.T) {
	in := genJSONL(299)
	full := formattest.Drain(t, open(t, in, format.Options{}, pusher.Position{}, bufSize, iotest.HalfReader), formattest.Canonical)
	if len(full.Events) != 299 {
		t.Fatalf("got %d events", len(full.Events))
	}
	last := full.Batches[len(full.Batches)-1].Pos
	if want := (pusher.Position{Records: 299, Offset: int64(len(in))}); last != want {
		t.Fatalf("final pos %+v, want %+v", last, want)
	}
	for _, o := range formattest.Limits {
		t.Run(fmt.Sprintf("rows=%d,bytes=%d", o.BatchRows, o.BatchBytes), func(t *testing.T) {
			for _, size := range []int{3, 100, bufSize} {
				res := formattest.Drain(t, open(t, in, o, pusher.Position{}, size, iotest.OneByteReader), formattest.Canonical)
				formattest.CheckBatches(t, in, '\n', o, full, res, 1, func(p pusher.Position) formattest.Result {
					return formattest.Drain(t, open(t, in, o, p, size, iotest.HalfReader), formattest.Canonical)
				})
			}
		})
	}
}

func TestPositions(t *testing.T) {
	in := "{\"a\":1}\n\n{\"a\":2}\r\n[]\n{\"a\":3}"
	r := open(t, in, format.Options{BatchRows: 1}, pusher.Position{}, bufSize, iotest.OneByteReader)
	res := formattest.Drain(t, r, formattest.Named)
	want := []pusher.Position{{Records: 1, Offset: 8}, {Records: 2, Offset: 18}, {Records: 4, Offset: 28}}
	if len(res.Batches) != len(want) {
		t.Fatalf("batches %+v", res.Batches)
	}
	for i, be := range res.Batches {
		if be.Pos != want[i] {
			t.Fatalf("batch %d pos %+v, want %+v", i, be.Pos, want[i])
		}
	}
	if res.Events[2] != "ERR record 3 (byte 18): not a JSON object: the line holds an array" {
		t.Fatalf("events %q", res.Events)
	}
}

func TestResumeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		start pusher.Position
		want  string
	}{
		{"beyond end", "{}\n", pusher.Position{Records: 5, Offset: 100}, "jsonl: start offset 100 is beyond the end of the stream (3 bytes)"},
		{"not a line end", "{}\n{}\n", pusher.Position{Records: 1, Offset: 4}, "jsonl: start offset 4 is not at the end of a line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, bufSize} {
				res := formattest.Drain(t, open(t, tt.in, format.Options{}, tt.start, size, iotest.OneByteReader), formattest.Named)
				if res.Final == nil || res.Final.Error() != tt.want {
					t.Fatalf("got %v, want %s", res.Final, tt.want)
				}
			}
		})
	}
	if _, err := New(strings.NewReader(""), format.Options{}, pusher.Position{Records: 3}); err == nil {
		t.Fatal("records without offset accepted")
	}
	res := formattest.Drain(t, open(t, "{}\n{}", format.Options{}, pusher.Position{Records: 2, Offset: 5}, 1, iotest.OneByteReader), formattest.Named)
	if res.Final != io.EOF || len(res.Events) != 0 {
		t.Fatalf("resume at end: %q, %v", res.Events, res.Final)
	}
}

func TestErrorAfterGoodRecords(t *testing.T) {
	in := "{\"a\":1}\n{\"a\":2}\n[\n{\"a\":3}\n"
	r := open(t, in, format.Options{}, pusher.Position{}, bufSize, func(r io.Reader) io.Reader { return r })
	var b pusher.Batch
	if err := r.Next(&b); err != nil || b.Len() != 2 {
		t.Fatalf("first Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 16}) {
		t.Fatalf("pos %+v", p)
	}
	err := r.Next(&b)
	var re *pusher.RecordError
	if !errors.As(err, &re) || re.Record != 3 || re.Offset != 16 || b.Len() != 0 {
		t.Fatalf("second Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 16}) {
		t.Fatalf("pos after error %+v", p)
	}
	if err := r.Next(&b); err != nil || b.Len() != 1 || formattest.RecString(&b, 0, false) != "a=3" {
		t.Fatalf("third Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 4, Offset: int64(len(in))}) {
		t.Fatalf("pos %+v", p)
	}
	if err := r.Next(&b); err != io.EOF {
		t.Fatalf("last Next: %v", err)
	}
}

func TestReadError(t *testing.T) {
	in := "{\"a\":1}\n{\"a\":2}\n{\"a\":"
	formattest.CheckReadError(t, in, []int{1, 4, bufSize}, func(rd io.Reader, size int) format.Reader {
		r, err := newReader(rd, format.Options{}, pusher.Position{}, size)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, formattest.Named, []string{"a=1", "a=2"}, "read at byte 21: unexpected EOF", pusher.Position{Records: 2, Offset: 16})
	fr := &formattest.FailingReader{Data: []byte("{}\n"), Err: io.ErrUnexpectedEOF}
	res := formattest.Drain(t, open(t, "", format.Options{}, pusher.Position{Records: 2, Offset: 6}, 1, func(io.Reader) io.Reader { return fr }), formattest.Named)
	if !errors.Is(res.Final, io.ErrUnexpectedEOF) {
		t.Fatalf("skip: %v", res.Final)
	}
}

func TestMaxRecordBytes(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 50) + `"}`
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"middle", "{\"a\":1}\n" + long + "\n{\"a\":2}\n", []string{"a=1", "ERR record 2 (byte 8): record longer than 20 bytes", "a=2"}},
		{"at eof", "{\"a\":1}\n" + long, []string{"a=1", "ERR record 2 (byte 8): record longer than 20 bytes"}},
		{"exactly", "{\"a\":\"" + strings.Repeat("x", 12) + "\"}\n", []string{`a="xxxxxxxxxxxx"`}},
		{"one over", "{\"a\":\"" + strings.Repeat("x", 13) + "\"}\n{}", []string{"ERR record 1 (byte 0): record longer than 20 bytes", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 7, 30, bufSize} {
				for _, rd := range formattest.Readers {
					r := open(t, tt.in, format.Options{MaxRecordBytes: 20}, pusher.Position{}, size, rd.Wrap)
					res := formattest.Drain(t, r, formattest.Named)
					if !slices.Equal(res.Events, tt.want) {
						t.Fatalf("%s/%d: got %q, want %q", rd.Name, size, res.Events, tt.want)
					}
					if len(r.Buf) > max(size, 20+4096) {
						t.Fatalf("%s/%d: buffer grew to %d", rd.Name, size, len(r.Buf))
					}
				}
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	r, err := format.New(strings.NewReader("{\"a\":1}\n"), format.Options{Format: format.JSONL}, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var b pusher.Batch
	if err := r.Next(&b); err != nil || formattest.RecString(&b, 0, false) != "a=1" {
		t.Fatalf("%v", err)
	}
}

func TestColumnsShared(t *testing.T) {
	// An earlier batch's Columns keep their names while later batches add
	// columns.
	r := open(t, "{\"a\":1}\n{\"b\":1}\n{\"c\":1}\n", format.Options{BatchRows: 1}, pusher.Position{}, bufSize, iotest.OneByteReader)
	var b1, b2 pusher.Batch
	if err := r.Next(&b1); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.Next(&b2); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(b1.Columns, []string{"a"}) || !slices.Equal(b2.Columns, []string{"a", "b", "c"}) {
		t.Fatalf("columns %q, %q", b1.Columns, b2.Columns)
	}
}

func TestNoAllocsPerRecord(t *testing.T) {
	data := benchJSONL(1 << 20)
	var b pusher.Batch
	r, _ := New(bytes.NewReader(data), format.Options{}, pusher.Position{})
	for r.Next(&b) == nil {
	}
	allocs := testing.AllocsPerRun(3, func() {
		r, _ := New(bytes.NewReader(data), format.Options{BatchRows: 1000}, pusher.Position{})
		for r.Next(&b) == nil {
		}
	})
	// The reader, its buffer, its map and one string per column.
	if allocs > 40 {
		t.Fatalf("%v allocations reading %d bytes", allocs, len(data))
	}
}

func TestRaw(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name   string
		in     string
		max    int
		want   []string // Raw of each rejected record
		record []int64
	}{
		{name: "lf", in: "{}\n[1, 2]\n{}\n", want: []string{"[1, 2]"}, record: []int64{2}},
		{name: "crlf", in: "{}\r\n {\"a\":} \r\n{}\r\n", want: []string{` {"a":} `}, record: []int64{2}},
		{name: "at eof", in: "{}\n\n{\"a\"", want: []string{`{"a"`}, record: []int64{2}},
		{name: "cr at eof kept", in: "{}\nx\r", want: []string{"x\r"}, record: []int64{2}},
		{name: "several", in: "1\n\n2\r\n{}\n3", want: []string{"1", "2", "3"}, record: []int64{1, 2, 4}},
		{name: "too long", in: "{}\n" + long + "\n{}\n", max: 20, want: []string{long[:pusher.MaxRawBytes]}, record: []int64{2}},
		{name: "too long at eof", in: long, max: 4500, want: []string{long[:pusher.MaxRawBytes]}, record: []int64{1}},
		{name: "too long short", in: "{\"a\":\"" + strings.Repeat("y", 30) + "\"}\r\n{}", max: 20,
			want: []string{"{\"a\":\"" + strings.Repeat("y", 30) + "\"}"}, record: []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range formattest.Readers {
				for _, size := range bufSizes {
					r := open(t, tt.in, format.Options{MaxRecordBytes: tt.max}, pusher.Position{}, size, rd.Wrap)
					res := formattest.Drain(t, r, formattest.Named)
					if res.Final != io.EOF || len(res.Rejects) != len(tt.want) {
						t.Fatalf("%s/%d: %q, final %v", rd.Name, size, res.Events, res.Final)
					}
					for i, re := range res.Rejects {
						if string(re.Raw) != tt.want[i] || re.Record != tt.record[i] {
							t.Fatalf("%s/%d: reject %d: record %d raw %q, want %d %q", rd.Name, size, i, re.Record, re.Raw, tt.record[i], tt.want[i])
						}
					}
					if len(r.Buf) > max(size, r.o.MaxRecordBytes+4096) {
						t.Fatalf("%s/%d: buffer grew to %d", rd.Name, size, len(r.Buf))
					}
				}
			}
		})
	}
}
