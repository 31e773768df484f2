package lines

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

// null stands for a Null field in expected records.
const null = formattest.Null

// bufSizes are initial buffer sizes: tiny ones make every line straddle
// reads and grow the buffer.
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
	line := []string{"line"}
	kv := format.Options{Regex: `^(?P<k>\w+)=(?P<v>\d+)$`}
	tests := []struct {
		name string
		in   string
		o    format.Options
		cols []string
		want []string
	}{
		{name: "empty", in: ""},
		{name: "only blank lines", in: "\n\r\n\n"},
		{name: "plain", in: "a\nb c\n", cols: line, want: []string{"a", "b c"}},
		{name: "no trailing newline", in: "a\nb", cols: line, want: []string{"a", "b"}},
		{name: "crlf", in: "a\r\nb\r\n", cols: line, want: []string{"a", "b"}},
		{name: "cr at eof", in: "a\r\nb\r", cols: line, want: []string{"a", "b"}},
		{name: "lone cr kept", in: "a\rb\n\r\r\n", cols: line, want: []string{"a\rb", "\r"}},
		{name: "blank lines skipped", in: "\n\r\n a\n\n\nb\n\r\n", cols: line, want: []string{" a", "b"}},
		{name: "spaces are a record", in: " \n\t\n", cols: line, want: []string{" ", "\t"}},
		{name: "bom", in: "\xEF\xBB\xBFa\n", cols: line, want: []string{"a"}},
		{name: "bom only", in: "\xEF\xBB\xBF"},
		{name: "bom not at start kept", in: "x\n\xEF\xBB\xBF\n", cols: line, want: []string{"x", "\xEF\xBB\xBF"}},
		{name: "partial bom is data", in: "\xEF\xBBx", cols: line, want: []string{"\xEF\xBBx"}},
		{name: "utf8 and invalid bytes", in: "café ☕\n\xff\xfe\n", cols: line, want: []string{"café ☕", "\xff\xfe"}},
		{name: "dash kept in plain mode", in: "-\n", cols: line, want: []string{"-"}},

		{name: "regex", in: "a=1\nbb=22\r\n", o: kv, cols: []string{"k", "v"}, want: []string{"a|1", "bb|22"}},
		{name: "regex not matching", in: "a=1\nb=x\nc=3", o: kv, cols: []string{"k", "v"},
			want: []string{"a|1", "ERR record 2 (byte 4): line does not match the pattern", "c|3"}},
		{name: "regex ordinals count bad lines", in: "x\n\ny\na=1\n", o: kv, cols: []string{"k", "v"},
			want: []string{"ERR record 1 (byte 0): line does not match the pattern", "ERR record 2 (byte 3): line does not match the pattern", "a|1"}},
		{name: "regex unanchored", in: "a=1 and b=2\n", o: format.Options{Regex: `(?P<k>\w+)=(?P<v>\d+)`}, cols: []string{"k", "v"}, want: []string{"a|1"}},
		{name: "regex optional group null", in: "x\ny 2\n", o: format.Options{Regex: `^(?P<a>\w+)(?: (?P<b>\d+))?$`}, cols: []string{"a", "b"},
			want: []string{"x|" + null, "y|2"}},
		{name: "regex alternative group null", in: "n=1\ns=x\n", o: format.Options{Regex: `^(?:n=(?P<num>\d+)|s=(?P<str>\w+))$`}, cols: []string{"num", "str"},
			want: []string{"1|" + null, null + "|x"}},
		{name: "regex empty match is a string", in: ":x\n", o: format.Options{Regex: `^(?P<a>\w*):(?P<b>\w*)$`}, cols: []string{"a", "b"}, want: []string{"|x"}},
		{name: "regex dash kept", in: "- x\n", o: format.Options{Regex: `^(?P<a>\S+) (?P<b>\S+)$`}, cols: []string{"a", "b"}, want: []string{"-|x"}},
		{name: "regex alternatives of one name are one column", in: "x=\"a b\" y=1\nx=c y=2\nx= y=3\n",
			o:    format.Options{Regex: `^x=(?:"(?P<x>[^"]*)"|(?P<x>[^ "]+))? y=(?P<y>\d)$`},
			cols: []string{"x", "y"}, want: []string{"a b|1", "c|2", null + "|3"}},
		{name: "regex unnamed groups ignored", in: "a-b-c\n", o: format.Options{Regex: `^(\w)-(?P<b>\w)-(\w)$`}, cols: []string{"b"}, want: []string{"b"}},
		{name: "regex blank lines skipped", in: "\n\r\nx\n", o: format.Options{Regex: `^(?P<a>.*)$`}, cols: []string{"a"}, want: []string{"x"}},
		{name: "regex sees no cr", in: "a\r\n", o: format.Options{Regex: `^(?P<a>.*)$`}, cols: []string{"a"}, want: []string{"a"}},
		{name: "regex sees lone cr", in: "a\rb\n", o: format.Options{Regex: `^(?P<a>\w*)\r(?P<b>\w*)$`}, cols: []string{"a", "b"}, want: []string{"a|b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range formattest.Readers {
				for _, size := range bufSizes {
					res := formattest.Drain(t, open(t, tt.in, tt.o, pusher.Position{}, size, rd.Wrap), formattest.Values)
					if res.Final != io.EOF {
						t.Fatalf("%s/%d: final error %v", rd.Name, size, res.Final)
					}
					if !slices.Equal(res.Events, tt.want) {
						t.Fatalf("%s/%d: got\n%q\nwant\n%q", rd.Name, size, res.Events, tt.want)
					}
					if tt.cols != nil && !slices.Equal(res.Cols, tt.cols) {
						t.Fatalf("%s/%d: columns %q, want %q", rd.Name, size, res.Cols, tt.cols)
					}
				}
			}
		})
	}
}

func TestColumnsWithoutRecords(t *testing.T) {
	for _, tt := range []struct {
		o    format.Options
		want []string
	}{
		{format.Options{}, []string{"line"}},
		{format.Options{Regex: `(?P<x>a)|(?P<y>b)`}, []string{"x", "y"}},
		{format.Options{Preset: "common"}, []string{"remote_addr", "remote_user", "time_local", "request_method", "request_url", "request_protocol", "status", "body_bytes_sent"}},
	} {
		r := open(t, "", tt.o, pusher.Position{}, bufSize, formattest.Identity)
		var b pusher.Batch
		if err := r.Next(&b); err != io.EOF || !slices.Equal(b.Columns, tt.want) {
			t.Fatalf("%+v: %v, columns %q", tt.o, err, b.Columns)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	tests := []struct {
		o    format.Options
		want string
	}{
		{format.Options{Regex: `(?P<a>x`}, "lines: invalid regex: error parsing regexp: missing closing ): `(?P<a>x`"},
		{format.Options{Regex: `(a)(b)`}, "lines: regex \"(a)(b)\" has no named groups ((?P<name>...)) to make columns of"},
		{format.Options{Regex: `(?P<a>x)`, Preset: "alb"}, "lines: set a regex or a preset, not both"},
		{format.Options{Preset: "apache"}, `lines: unknown preset "apache" (known: alb, combined, common, nginx, s3-access)`},
	}
	for _, tt := range tests {
		_, err := New(strings.NewReader("x\n"), tt.o, pusher.Position{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v: got %v, want %s", tt.o, err, tt.want)
		}
	}
	if _, err := New(strings.NewReader(""), format.Options{}, pusher.Position{Records: 3}); err == nil {
		t.Fatal("records without offset accepted")
	}
}

func TestRaw(t *testing.T) {
	long := strings.Repeat("y", 5000)
	kv := `^(?P<k>\w+)=(?P<v>\d+)$`
	tests := []struct {
		name string
		in   string
		o    format.Options
		want []string
	}{
		{"no match", "a=1\nb=x\r\nc=3\n", format.Options{Regex: kv},
			[]string{"a|1", `ERR record 2 (byte 4): line does not match the pattern raw="b=x"`, "c|3"}},
		{"no match at eof", "a=1\nb=x\r", format.Options{Regex: kv},
			[]string{"a|1", `ERR record 2 (byte 4): line does not match the pattern raw="b=x"`}},
		{"no match cut", "a=1\n" + long + "\n", format.Options{Regex: kv},
			[]string{"a|1", fmt.Sprintf("ERR record 2 (byte 4): line does not match the pattern raw=%q", long[:pusher.MaxRawBytes])}},
		{"too long", "a\n" + long[:30] + "\r\nb\n", format.Options{MaxRecordBytes: 20},
			[]string{"a", fmt.Sprintf("ERR record 2 (byte 2): line longer than 20 bytes raw=%q", long[:30]), "b"}},
		{"too long at eof", "a\n" + long[:30] + "\r", format.Options{MaxRecordBytes: 20},
			[]string{"a", fmt.Sprintf("ERR record 2 (byte 2): line longer than 20 bytes raw=%q", long[:30])}},
		{"too long cut", "a\n" + long + "\nb\n", format.Options{MaxRecordBytes: 20},
			[]string{"a", fmt.Sprintf("ERR record 2 (byte 2): line longer than 20 bytes raw=%q", long[:pusher.MaxRawBytes]), "b"}},
		{"too long just over the cut", "a\n" + long[:pusher.MaxRawBytes+1] + "\r\nb", format.Options{MaxRecordBytes: 20},
			[]string{"a", fmt.Sprintf("ERR record 2 (byte 2): line longer than 20 bytes raw=%q", long[:pusher.MaxRawBytes]), "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range formattest.Readers {
				for _, size := range bufSizes {
					res := formattest.Drain(t, open(t, tt.in, tt.o, pusher.Position{}, size, rd.Wrap), formattest.Values)
					if !slices.Equal(res.Raws, tt.want) {
						t.Fatalf("%s/%d: got\n%q\nwant\n%q", rd.Name, size, res.Raws, tt.want)
					}
				}
			}
		})
	}
}

// genLines makes n lines "word number" with blank lines, CRLFs, lines the
// test regex rejects and over-long lines.
func genLines(n int) string {
	var sb strings.Builder
	for i := range n {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&sb, "w%d %d\n", i, i)
		case 1:
			fmt.Fprintf(&sb, "w%d %d\r\n\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "bad line %d\n\r\n", i)
		case 3:
			fmt.Fprintf(&sb, "w%s %d\n", strings.Repeat("long", i%13), i)
		case 4:
			fmt.Fprintf(&sb, "w%d -\r\n", i)
		case 5:
			fmt.Fprintf(&sb, "w%d\n", i)
		case 6:
			fmt.Fprintf(&sb, "\xEF\xBB\xBFw%d %d\n", i, i)
		}
	}
	return sb.String()
}

const genRegex = `^(?P<word>\S+)(?: (?P<num>\d+|-))?$`

func TestBatchingAndResume(t *testing.T) {
	in := genLines(200)
	for _, base := range []format.Options{{}, {Regex: genRegex, MaxRecordBytes: 40}} {
		full := formattest.Drain(t, open(t, in, base, pusher.Position{}, bufSize, iotest.HalfReader), formattest.Values)
		if full.Final != io.EOF || len(full.Events) != 200 {
			t.Fatalf("%+v: %d events, %v", base, len(full.Events), full.Final)
		}
		for _, lim := range []struct{ rows, bytes int }{{1, 0}, {7, 0}, {0, 1}, {0, 300}, {13, 500}} {
			o := base
			o.BatchRows, o.BatchBytes = lim.rows, lim.bytes
			for _, size := range []int{3, 100, bufSize} {
				res := formattest.Drain(t, open(t, in, o, pusher.Position{}, size, iotest.OneByteReader), formattest.Values)
				// Resume at every batch end yields exactly the rest,
				// errors included, with the same ordinals.
				formattest.CheckBatches(t, in, '\n', o, full, res, 1, func(p pusher.Position) formattest.Result {
					return formattest.Drain(t, open(t, in, o, p, size, iotest.HalfReader), formattest.Values)
				})
			}
		}
	}
}

func TestPositions(t *testing.T) {
	in := "a\n\nb\r\nc"
	o := format.Options{BatchRows: 1}
	full := formattest.Drain(t, open(t, in, o, pusher.Position{}, bufSize, iotest.OneByteReader), formattest.Values)
	want := []pusher.Position{{Records: 1, Offset: 2}, {Records: 2, Offset: 6}, {Records: 3, Offset: 7}}
	if len(full.Batches) != len(want) {
		t.Fatalf("%d batches", len(full.Batches))
	}
	for i, be := range full.Batches {
		if be.Pos != want[i] {
			t.Fatalf("batch %d pos %+v, want %+v", i, be.Pos, want[i])
		}
	}
}

func TestResumeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		start pusher.Position
		want  string
	}{
		{"beyond end", "a\nb\n", pusher.Position{Records: 5, Offset: 100}, "lines: start offset 100 is beyond the end of the stream (4 bytes)"},
		{"not a line end", "ab\ncd\n", pusher.Position{Records: 1, Offset: 1}, "lines: start offset 1 is not at the end of a line"},
	}
	for _, tt := range tests {
		for _, size := range []int{1, bufSize} {
			res := formattest.Drain(t, open(t, tt.in, format.Options{}, tt.start, size, iotest.OneByteReader), formattest.Values)
			if res.Final == nil || res.Final.Error() != tt.want {
				t.Fatalf("%s: got %v, want %s", tt.name, res.Final, tt.want)
			}
		}
	}
	// Resuming exactly at the end of a stream whose last line has no
	// newline is the end.
	res := formattest.Drain(t, open(t, "a\nb", format.Options{}, pusher.Position{Records: 2, Offset: 3}, 1, iotest.OneByteReader), formattest.Values)
	if res.Final != io.EOF || len(res.Events) != 0 {
		t.Fatalf("resume at end: %q, %v", res.Events, res.Final)
	}
}

func TestErrorAfterGoodRecords(t *testing.T) {
	in := "a=1\nb=2\nbad\nc=3\n"
	r := open(t, in, format.Options{Regex: `^(?P<k>\w)=(?P<v>\d)$`}, pusher.Position{}, bufSize, formattest.Identity)
	var b pusher.Batch
	if err := r.Next(&b); err != nil || b.Len() != 2 {
		t.Fatalf("first Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 8}) {
		t.Fatalf("pos %+v", p)
	}
	err := r.Next(&b)
	var re *pusher.RecordError
	if !errors.As(err, &re) || re.Record != 3 || re.Offset != 8 || string(re.Raw) != "bad" || !errors.Is(err, errNoMatch) || b.Len() != 0 {
		t.Fatalf("second Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 8}) {
		t.Fatalf("pos after error %+v", p)
	}
	if err := r.Next(&b); err != nil || b.Len() != 1 || formattest.ValString(&b, 0) != "c|3" {
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
	// The stream breaks in the middle of the third line: the two before it
	// come first, then the read error; the partial line is not a record.
	in := "a\nbb\ncc"
	formattest.CheckReadError(t, in, []int{1, 4, bufSize}, func(rd io.Reader, size int) format.Reader {
		r, err := newReader(rd, format.Options{}, pusher.Position{}, size)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, formattest.Values, []string{"a", "bb"}, "read at byte 7: unexpected EOF", pusher.Position{Records: 2, Offset: 5})
	// A failure in the middle of an over-long line: the line is reported,
	// then the read error.
	fr := &formattest.FailingReader{Data: []byte("a\n" + strings.Repeat("x", 50)), Err: io.ErrUnexpectedEOF}
	res := formattest.Drain(t, open(t, "", format.Options{MaxRecordBytes: 20}, pusher.Position{}, 4, func(io.Reader) io.Reader { return fr }), formattest.Values)
	want := []string{"a", "ERR record 2 (byte 2): line longer than 20 bytes", "ERR read at byte 52: unexpected EOF"}
	if !slices.Equal(res.Events, want) {
		t.Fatalf("long line: %q", res.Events)
	}
	// A failure while skipping to the start.
	fr = &formattest.FailingReader{Data: []byte("a\n"), Err: io.ErrUnexpectedEOF}
	res = formattest.Drain(t, open(t, "", format.Options{}, pusher.Position{Records: 2, Offset: 6}, 1, func(io.Reader) io.Reader { return fr }), formattest.Values)
	if !errors.Is(res.Final, io.ErrUnexpectedEOF) {
		t.Fatalf("skip: %v", res.Final)
	}
}

func TestMaxRecordBytes(t *testing.T) {
	long := strings.Repeat("x", 50)
	tests := []struct {
		name string
		in   string
		o    format.Options
		want []string
	}{
		{"middle", "a\n" + long + "\nb\n", format.Options{}, []string{"a", "ERR record 2 (byte 2): line longer than 20 bytes", "b"}},
		{"at eof", "a\n" + long, format.Options{}, []string{"a", "ERR record 2 (byte 2): line longer than 20 bytes"}},
		{"exactly", long[:20] + "\r\n" + long[:20], format.Options{}, []string{long[:20], long[:20]}},
		{"exactly with cr at eof", long[:20] + "\r", format.Options{}, []string{long[:20]}},
		{"one over", long[:21] + "\r\nb", format.Options{}, []string{"ERR record 1 (byte 0): line longer than 20 bytes", "b"}},
		{"cr counts inside", long[:20] + "\r\r\nb", format.Options{}, []string{"ERR record 1 (byte 0): line longer than 20 bytes", "b"}},
		{"several", long + "\n" + long + "\r\n\n" + long, format.Options{}, []string{
			"ERR record 1 (byte 0): line longer than 20 bytes", "ERR record 2 (byte 51): line longer than 20 bytes", "ERR record 3 (byte 104): line longer than 20 bytes"}},
		{"regex", "a 1\n" + long + " 2\nb 3\n", format.Options{Regex: genRegex}, []string{"a|1", "ERR record 2 (byte 4): line longer than 20 bytes", "b|3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 7, 30, bufSize} {
				for _, rd := range formattest.Readers {
					o := tt.o
					o.MaxRecordBytes = 20
					r := open(t, tt.in, o, pusher.Position{}, size, rd.Wrap)
					res := formattest.Drain(t, r, formattest.Values)
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
	r, err := format.New(strings.NewReader("a\nb\n"), format.Options{Format: format.Lines}, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var b pusher.Batch
	if err := r.Next(&b); err != nil || b.Len() != 2 || !slices.Equal(b.Columns, []string{"line"}) {
		t.Fatalf("%v, %d records, columns %q", err, b.Len(), b.Columns)
	}
	if _, err := format.New(strings.NewReader(""), format.Options{Format: format.Lines, Preset: "nope"}, pusher.Position{}); err == nil {
		t.Fatal("unknown preset accepted")
	}
}

func TestNoAllocsPerRecord(t *testing.T) {
	data := benchLines(1 << 20)
	var b pusher.Batch
	r, _ := New(bytes.NewReader(data), format.Options{}, pusher.Position{})
	for r.Next(&b) == nil {
	}
	allocs := testing.AllocsPerRun(3, func() {
		r, _ := New(bytes.NewReader(data), format.Options{BatchRows: 1000}, pusher.Position{})
		for r.Next(&b) == nil {
		}
	})
	if allocs > 30 {
		t.Fatalf("%v allocations reading %d bytes", allocs, len(data))
	}
}
