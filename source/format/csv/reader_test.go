package csv

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

// bufSizes are initial buffer sizes: tiny ones make every record straddle
// reads and grow the buffer.
var bufSizes = []int{1, 2, 3, 5, 8, 64, bufSize}

func open(t *testing.T, in string, o format.Options, start pusher.Position, size int, wrap func(io.Reader) io.Reader) *Reader {
	t.Helper()
	if o.Format == "" {
		o.Format = format.CSV
	}
	r, err := newReader(wrap(strings.NewReader(in)), o, start, size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRead(t *testing.T) {
	hdr := format.Options{Header: true}
	tests := []struct {
		name string
		in   string
		o    format.Options
		cols []string
		want []string
	}{
		{name: "empty", in: "", o: hdr},
		{name: "empty no header", in: ""},
		{name: "only blank lines", in: "\n\r\n\n", o: hdr},
		{name: "header only", in: "a,b\n", o: hdr},
		{name: "simple", in: "a,b\n1,2\n3,4\n", o: hdr, cols: []string{"a", "b"}, want: []string{"1|2", "3|4"}},
		{name: "no trailing newline", in: "a,b\n1,2\n3,4", o: hdr, cols: []string{"a", "b"}, want: []string{"1|2", "3|4"}},
		{name: "crlf", in: "a,b\r\n1,2\r\n3,4\r\n", o: hdr, cols: []string{"a", "b"}, want: []string{"1|2", "3|4"}},
		{name: "crlf no trailing newline", in: "a,b\r\n1,2\r\n3,4\r", o: hdr, cols: []string{"a", "b"}, want: []string{"1|2", "3|4"}},
		{name: "lone cr kept", in: "a,b\n1\r2,3\n", o: hdr, cols: []string{"a", "b"}, want: []string{"1\r2|3"}},
		{name: "bom", in: "\xEF\xBB\xBFa,b\n1,2\n", o: hdr, cols: []string{"a", "b"}, want: []string{"1|2"}},
		{name: "bom no header", in: "\xEF\xBB\xBF1,2\n", cols: []string{"column_1", "column_2"}, want: []string{"1|2"}},
		{name: "bom only", in: "\xEF\xBB\xBF", o: hdr},
		{name: "bom not at start kept", in: "x\n\xEF\xBB\xBF\n", cols: []string{"column_1"}, want: []string{"x", "\xEF\xBB\xBF"}},
		{name: "partial bom is data", in: "\xEF\xBBx\n", cols: []string{"column_1"}, want: []string{"\xEF\xBBx"}},
		{name: "blank lines skipped", in: "\na,b\n\n1,2\r\n\r\n\n3,4\n\n", o: hdr, cols: []string{"a", "b"}, want: []string{"1|2", "3|4"}},
		{name: "whitespace line is a record", in: "a\n \n", o: hdr, cols: []string{"a"}, want: []string{" "}},
		{name: "quoted", in: `a,b` + "\n" + `"x,y","say ""hi"""` + "\n", o: hdr, cols: []string{"a", "b"}, want: []string{`x,y|say "hi"`}},
		{name: "quoted only quotes", in: `"""",""""""` + "\n", want: []string{`"|""`}},
		{name: "quoted newlines", in: "a,b\n\"l1\nl2\",\"\n\"\n", o: hdr, cols: []string{"a", "b"}, want: []string{"l1\nl2|\n"}},
		{name: "quoted crlf kept", in: "a,b\r\n\"l1\r\nl2\",x\r\n", o: hdr, cols: []string{"a", "b"}, want: []string{"l1\r\nl2|x"}},
		{name: "quoted lone cr kept", in: "\"a\rb\",\"\r\"\n", want: []string{"a\rb|\r"}},
		{name: "quoted blank line kept", in: "\"a\n\nb\"\n", want: []string{"a\n\nb"}},
		{name: "quoted at eof", in: `1,"x"`, want: []string{"1|x"}},
		{name: "quoted then crlf at eof", in: "1,\"x\"\r\n", want: []string{"1|x"}},
		{name: "quoted then cr at eof", in: "1,\"x\"\r", want: []string{"1|x"}},
		{name: "null empty unquoted", in: "a,b,c\n,\"\",x\n", o: hdr, cols: []string{"a", "b", "c"}, want: []string{null + "||x"}},
		{name: "null trailing", in: "1,\n2,\r\n", want: []string{"1|" + null, "2|" + null}},
		{name: "null string", in: `\N,"\N",,x` + "\n", o: format.Options{NullString: `\N`}, want: []string{null + `|\N||x`}},
		{name: "single column empty", in: "a\n\"\"\nx\n", o: hdr, cols: []string{"a"}, want: []string{"", "x"}},
		{name: "delimiter", in: "a;b\n1,5;\"x;y\"\n", o: format.Options{Header: true, Delimiter: ';'}, cols: []string{"a", "b"}, want: []string{"1,5|x;y"}},
		{name: "tsv", in: "a\tb\n1,5\t\"x\ty\"\n\t\n", o: format.Options{Header: true, Format: format.TSV}, cols: []string{"a", "b"}, want: []string{"1,5|x\ty", null + "|" + null}},
		{name: "header trimmed and named", in: " a ,,\"c\",\" \"\n1,2,3,4\n", o: hdr, cols: []string{"a", "column_2", "c", "column_4"}, want: []string{"1|2|3|4"}},
		{name: "given columns", in: "1,2\n", o: format.Options{Columns: []string{"x", "y"}}, cols: []string{"x", "y"}, want: []string{"1|2"}},
		{name: "given columns wrong width", in: "1,2,3\n4,5\n", o: format.Options{Columns: []string{"x", "y"}}, cols: []string{"x", "y"},
			want: []string{"ERR record 1 (byte 0): has 3 fields, expected 2", "4|5"}},
		{name: "discovered width", in: "1,2\n3,4,5\n6,7\n", cols: []string{"column_1", "column_2"},
			want: []string{"1|2", "ERR record 2 (byte 4): has 3 fields, expected 2", "6|7"}},
		{name: "wrong field count", in: "a,b\n1,2\n3\n4,5,6\n7,8\n", o: hdr, cols: []string{"a", "b"},
			want: []string{"1|2", "ERR record 2 (byte 8): has 1 fields, header has 2", "ERR record 3 (byte 10): has 3 fields, header has 2", "7|8"}},
		{name: "bare quote", in: "a,b\n1,2\nx\"y,3\n4,5\n", o: hdr, cols: []string{"a", "b"},
			want: []string{"1|2", `ERR record 2 (byte 8): bare " in non-quoted field`, "4|5"}},
		{name: "bare quote after space", in: "1, \"x\"\n4,5\n",
			want: []string{`ERR record 1 (byte 0): bare " in non-quoted field`, "4|5"}},
		{name: "bare quote in last field", in: "1,2\n3,4\"\n5,6\n",
			want: []string{"1|2", `ERR record 2 (byte 4): bare " in non-quoted field`, "5|6"}},
		{name: "extraneous after quote", in: "1,2\n\"a\"b,3\n4,5\n",
			want: []string{"1|2", "ERR record 2 (byte 4): extraneous character after closing quote", "4|5"}},
		{name: "extraneous cr after quote", in: "1,2\n\"a\"\rb,3\n4,5\n",
			want: []string{"1|2", "ERR record 2 (byte 4): extraneous character after closing quote", "4|5"}},
		{name: "extraneous on later line", in: "1,2\n\"a\nb\"c,3\n4,5\n",
			want: []string{"1|2", "ERR record 2 (byte 4): extraneous character after closing quote", "4|5"}},
		{name: "unterminated", in: "1,2\n3,\"abc\n4,5\n",
			want: []string{"1|2", "ERR record 2 (byte 4): unterminated quoted field"}},
		{name: "unterminated after escaped quote", in: "1,2\n3,\"abc\"\"",
			want: []string{"1|2", "ERR record 2 (byte 4): unterminated quoted field"}},
		{name: "error ordinals count bad records", in: "a\n\"\n", o: hdr, cols: nil,
			want: []string{"ERR record 1 (byte 2): unterminated quoted field"}},
		{name: "quoted field spans lines then more fields", in: "\"a\nb\",c,\"d\"\n1,2,3\n", want: []string{"a\nb|c|d", "1|2|3"}},
		{name: "quoted field spans lines then bare quote", in: "\"a\nb\",c\"\n1,2\n", want: []string{`ERR record 1 (byte 0): bare " in non-quoted field`, "1|2"}},
		{name: "trailing delimiter", in: "1,\n", want: []string{"1|" + null}},
		{name: "long record", in: "a\n" + strings.Repeat("x", 100) + "\n", o: hdr, cols: []string{"a"}, want: []string{strings.Repeat("x", 100)}},
		{name: "utf8", in: "a\ncafé ☕\n", o: hdr, cols: []string{"a"}, want: []string{"café ☕"}},

		// Header names made unique.
		{name: "header duplicates", in: "a,a,,a\n1,2,3,4\n", o: hdr, cols: []string{"a", "a_2", "column_3", "a_3"}, want: []string{"1|2|3|4"}},
		{name: "header duplicate trimmed", in: "a,b, a\n1,2,3\n", o: hdr, cols: []string{"a", "b", "a_2"}, want: []string{"1|2|3"}},
		{name: "header duplicate generated", in: "a,,column_2\n1,2,3\n", o: hdr, cols: []string{"a", "column_2", "column_2_2"}, want: []string{"1|2|3"}},
		{name: "header suffix taken", in: "a_2,a,a,a_3\n1,2,3,4\n", o: hdr, cols: []string{"a_2", "a", "a_3", "a_3_2"}, want: []string{"1|2|3|4"}},
		{name: "header empty names", in: ",\n1,2\n", o: hdr, cols: []string{"column_1", "column_2"}, want: []string{"1|2"}},

		// Quote.
		{name: "quote option", in: "a,b\n'x,y','it''s'\n\"q\",'\"'\n", o: format.Options{Header: true, Quote: '\''}, cols: []string{"a", "b"},
			want: []string{"x,y|it's", `"q"|"`}},
		{name: "quote option bare", in: "x'y,1\n2,3\n", o: format.Options{Quote: '\''},
			want: []string{"ERR record 1 (byte 0): bare ' in non-quoted field", "2|3"}},
		{name: "quote option tsv", in: "a\tb\n|x\ty|\t||||\n", o: format.Options{Header: true, Format: format.TSV, Quote: '|'}, cols: []string{"a", "b"},
			want: []string{"x\ty||"}},

		// Escape.
		{name: "escape", in: `"a\"b","c\\d","e""f",x\y,"\x"` + "\n", o: format.Options{Escape: '\\'},
			want: []string{`a"b|c\d|e"f|x\y|x`}},
		{name: "escape quote only", in: `"\"","\"\"",""""` + "\n", o: format.Options{Escape: '\\'}, want: []string{`"|""|"`}},
		{name: "escape newline and delimiter", in: "\"a\\\nb\\,c\",\"\\\r\n\"\n", o: format.Options{Escape: '\\'}, want: []string{"a\nb,c|\r\n"}},
		{name: "escape with quote option", in: `'it\'s','a\\'` + "\n", o: format.Options{Quote: '\'', Escape: '\\'}, want: []string{`it's|a\`}},
		{name: "escape is quote", in: `"a""b"` + "\n", o: format.Options{Escape: '"'}, want: []string{`a"b`}},
		{name: "escape outside quotes ordinary", in: `a\,b` + "\n" + `a\"b,c` + "\n1,2\n", o: format.Options{Escape: '\\'},
			want: []string{`a\|b`, "ERR record 2 (byte 5): bare \" in non-quoted field", "1|2"}},
		{name: "escape then closing quote then junk", in: `"a\\"b,c` + "\n1,2\n", o: format.Options{Escape: '\\'},
			want: []string{"ERR record 1 (byte 0): extraneous character after closing quote", "1|2"}},
		{name: "escape at eof", in: "1,2\n3,\"abc\\", o: format.Options{Escape: '\\'},
			want: []string{"1|2", "ERR record 2 (byte 4): unterminated quoted field"}},
		{name: "escaped quote at eof", in: "1,2\n3,\"abc\\\"", o: format.Options{Escape: '\\'},
			want: []string{"1|2", "ERR record 2 (byte 4): unterminated quoted field"}},
		{name: "escape at eof after quote", in: "\"a\\\\\"", o: format.Options{Escape: '\\'}, want: []string{`a\`}},
		{name: "many escapes", in: "\"" + strings.Repeat(`\\`, 50) + "\",x\n", o: format.Options{Escape: '\\'}, want: []string{strings.Repeat(`\`, 50) + "|x"}},

		// Comment.
		{name: "comment", in: "#c\na,b\n1,2\n#,\n3,4\n#no newline", o: format.Options{Header: true, Comment: '#'}, cols: []string{"a", "b"},
			want: []string{"1|2", "3|4"}},
		{name: "comment crlf and quotes", in: "#\"\r\n1,2\r\n#x\"y\r\n", o: format.Options{Comment: '#'}, want: []string{"1|2"}},
		{name: "comment only at line start", in: "1,#2\n #3,4\n", o: format.Options{Comment: '#'}, want: []string{"1|#2", " #3|4"}},
		{name: "comment inside quoted field", in: "\"a\n#b\",c\n", o: format.Options{Comment: '#'}, want: []string{"a\n#b|c"}},
		{name: "comment after bom", in: "\xEF\xBB\xBF#c\na\n1\n", o: format.Options{Header: true, Comment: '#'}, cols: []string{"a"}, want: []string{"1"}},
		{name: "comment only", in: "#a\n#b", o: format.Options{Header: true, Comment: '#'}},
		{name: "comment semicolon", in: ";x\n1;2\n", o: format.Options{Comment: ';'}, want: []string{"1;2"}},

		// SkipRows.
		{name: "skip rows", in: "title\n\"junk\na,b\n1,2\n", o: format.Options{Header: true, SkipRows: 2}, cols: []string{"a", "b"}, want: []string{"1|2"}},
		{name: "skip rows counts blank lines", in: "\n\r\nx\ny\n", o: format.Options{SkipRows: 2}, want: []string{"x", "y"}},
		{name: "skip rows drops bom line", in: "\xEF\xBB\xBFtitle\na\n1\n", o: format.Options{Header: true, SkipRows: 1}, cols: []string{"a"}, want: []string{"1"}},
		{name: "skip rows past end", in: "a\nb", o: format.Options{Header: true, SkipRows: 5}},
		{name: "skip rows no trailing newline", in: "a\nb", o: format.Options{SkipRows: 1}, want: []string{"b"}},
		{name: "skip rows then comment", in: "#x\ny\n#z\n1\n", o: format.Options{SkipRows: 1, Comment: '#', Header: true}, cols: []string{"y"}, want: []string{"1"}},
		{name: "skip rows then blank and header", in: "t\n\na\n1\n", o: format.Options{SkipRows: 1, Header: true}, cols: []string{"a"}, want: []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range formattest.Readers {
				for _, size := range bufSizes {
					r := open(t, tt.in, tt.o, pusher.Position{}, size, rd.Wrap)
					res := formattest.Drain(t, r, formattest.Values)
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

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bad quote", "a,\"b\n", `csv header (byte 0): unterminated quoted field`},
		{"bare quote", "a,b\"\n1,2\n", `csv header (byte 0): bare " in non-quoted field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, tt.in, format.Options{Header: true}, pusher.Position{}, bufSize, func(r io.Reader) io.Reader { return r })
			res := formattest.Drain(t, r, formattest.Values)
			if res.Final == nil || res.Final.Error() != tt.want {
				t.Fatalf("got %v, want %s", res.Final, tt.want)
			}
			if len(res.Events) != 1 {
				t.Fatalf("events %q", res.Events)
			}
		})
	}
}

func TestRaw(t *testing.T) {
	long := strings.Repeat("y", 5000)
	esc := format.Options{Escape: '\\'}
	tests := []struct {
		name string
		in   string
		o    format.Options
		want []string // records and "ERR message raw=%q"
	}{
		{"field count", "a,b\n1,2,3\r\n4,5\n", format.Options{Header: true},
			[]string{`ERR record 1 (byte 4): has 3 fields, header has 2 raw="1,2,3"`, "4|5"}},
		{"field count quoted", "a,b\n\"x\ny\"\n4,5", format.Options{Header: true},
			[]string{`ERR record 1 (byte 4): has 1 fields, header has 2 raw="\"x\ny\""`, "4|5"}},
		{"field count at eof with cr", "1,2\n3\r", format.Options{},
			[]string{"1|2", `ERR record 2 (byte 4): has 1 fields, expected 2 raw="3"`}},
		{"bare quote", "1,2\n1,x\"y\r\n2,3\n", format.Options{},
			[]string{"1|2", `ERR record 2 (byte 4): bare " in non-quoted field raw="1,x\"y"`, "2|3"}},
		{"bare quote after multiline field", "\"a\nb\",c\"d\ne,f\n", format.Options{},
			[]string{`ERR record 1 (byte 0): bare " in non-quoted field raw="\"a\nb\",c\"d"`, "e|f"}},
		{"extraneous", "\"a\"b,c\n1,2\n", format.Options{},
			[]string{`ERR record 1 (byte 0): extraneous character after closing quote raw="\"a\"b,c"`, "1|2"}},
		{"unterminated", "1,2\n3,\"abc\n4,5\n", format.Options{},
			[]string{"1|2", `ERR record 2 (byte 4): unterminated quoted field raw="3,\"abc\n4,5"`}},
		{"unterminated escape", "1,2\n3,\"a\\\"\n", esc,
			[]string{"1|2", `ERR record 2 (byte 4): unterminated quoted field raw="3,\"a\\\""`}},
		{"too long", "1,2\n" + strings.Repeat("x", 30) + ",3\r\n4,5\n", format.Options{MaxRecordBytes: 20},
			[]string{"1|2", `ERR record 2 (byte 4): record longer than 20 bytes raw="` + strings.Repeat("x", 30) + `,3"`, "4|5"}},
		{"too long quoted", "1,2\n\"" + strings.Repeat("x", 20) + "\n\",3\n4,5\n", format.Options{MaxRecordBytes: 20},
			[]string{"1|2", `ERR record 2 (byte 4): record longer than 20 bytes raw="\"` + strings.Repeat("x", 20) + `\n\",3"`, "4|5"}},
		{"too long escaped", "1,2\n\"" + strings.Repeat("x", 20) + "\\\"\n\",3\n4,5\n", format.Options{MaxRecordBytes: 20, Escape: '\\'},
			[]string{"1|2", `ERR record 2 (byte 4): record longer than 20 bytes raw="\"` + strings.Repeat("x", 20) + `\\\"\n\",3"`, "4|5"}},
		{"too long cut", "1,2\n" + long + "\n4,5\n", format.Options{MaxRecordBytes: 20},
			[]string{"1|2", fmt.Sprintf("ERR record 2 (byte 4): record longer than 20 bytes raw=%q", long[:pusher.MaxRawBytes]), "4|5"}},
		{"too long default limit cut", "1,2\n" + long + "\n4,5\n", format.Options{MaxRecordBytes: 4097},
			[]string{"1|2", fmt.Sprintf("ERR record 2 (byte 4): record longer than 4097 bytes raw=%q", long[:pusher.MaxRawBytes]), "4|5"}},
		{"bare quote cut", "1,2\nx\"" + long + "\n4,5\n", format.Options{},
			[]string{"1|2", fmt.Sprintf("ERR record 2 (byte 4): bare \" in non-quoted field raw=%q", ("x\"" + long)[:pusher.MaxRawBytes]), "4|5"}},
		{"bare quote just over the cut", "1,2\nx\"" + long[:pusher.MaxRawBytes-1] + "\r\n4,5\n", format.Options{},
			[]string{"1|2", fmt.Sprintf("ERR record 2 (byte 4): bare \" in non-quoted field raw=%q", ("x\"" + long)[:pusher.MaxRawBytes]), "4|5"}},
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

func TestOptionErrors(t *testing.T) {
	for _, o := range []format.Options{
		{Delimiter: '"'},
		{Delimiter: '\n'},
		{Quote: '\r'},
		{Quote: ';', Delimiter: ';'},
		{Escape: ','},
		{Escape: '\n'},
		{Comment: ','},
		{Comment: '"'},
		{Comment: '\n'},
		{SkipRows: -1},
	} {
		if _, err := New(strings.NewReader(""), o, pusher.Position{}); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for _, o := range []format.Options{
		{Escape: '"'},
		{Escape: '#', Comment: '#'},
		{Quote: '\'', Escape: '\\', Comment: ';', Delimiter: '\t'},
	} {
		if _, err := New(strings.NewReader(""), o, pusher.Position{}); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// genCSV makes n rows with quoting, embedded newlines, CRLF and blank lines.
func genCSV(n int) string {
	var sb strings.Builder
	sb.WriteString("id,name,note\r\n")
	for i := range n {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&sb, "%d,name%d,plain\n", i, i)
		case 1:
			fmt.Fprintf(&sb, "%d,\"quoted, %d\",\"multi\nline\"\r\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "%d,,\"\"\"q\"\"\"\n\n", i)
		case 3:
			fmt.Fprintf(&sb, "%d,%s,x\n", i, strings.Repeat("long", i%17))
		case 4:
			fmt.Fprintf(&sb, "%d,\"\",\r\n", i)
		}
	}
	return sb.String()
}

func TestBatchingAndResume(t *testing.T) {
	in := genCSV(200)
	full := formattest.Drain(t, open(t, in, format.Options{Header: true}, pusher.Position{}, bufSize, iotest.HalfReader), formattest.Values)
	if len(full.Events) != 200 || len(full.Batches) != 1 {
		t.Fatalf("got %d records in %d batches", len(full.Events), len(full.Batches))
	}
	if want := (pusher.Position{Records: 200, Offset: int64(len(in))}); full.Batches[0].Pos != want {
		t.Fatalf("final pos %+v, want %+v", full.Batches[0].Pos, want)
	}
	limits := []format.Options{
		{Header: true, BatchRows: 1},
		{Header: true, BatchRows: 7},
		{Header: true, BatchBytes: 1},
		{Header: true, BatchBytes: 300},
		{Header: true, BatchRows: 13, BatchBytes: 500},
	}
	for _, o := range limits {
		t.Run(fmt.Sprintf("rows=%d,bytes=%d", o.BatchRows, o.BatchBytes), func(t *testing.T) {
			for _, size := range []int{3, 100, bufSize} {
				res := formattest.Drain(t, open(t, in, o, pusher.Position{}, size, iotest.OneByteReader), formattest.Values)
				// Batches end just after a record, at a newline; resuming
				// at every batch end yields exactly the rest.
				formattest.CheckBatches(t, in, '\n', o, full, res, 1, func(p pusher.Position) formattest.Result {
					rest := formattest.Drain(t, open(t, in, o, p, size, iotest.HalfReader), formattest.Values)
					if !slices.Equal(rest.Cols, []string{"id", "name", "note"}) && len(rest.Events) > 0 {
						t.Fatalf("resume at %+v: columns %q", p, rest.Cols)
					}
					for _, rb := range rest.Batches {
						if rb.Pos.Records != p.Records+int64(rb.NRecs) {
							t.Fatalf("resume at %+v: pos %+v after %d records", p, rb.Pos, rb.NRecs)
						}
					}
					return rest
				})
				for _, be := range res.Batches {
					if be.Pos.Records != int64(be.NRecs) {
						t.Fatalf("pos %+v after %d records", be.Pos, be.NRecs)
					}
				}
				if o.BatchRows == 1 && len(res.Batches) != 200 {
					t.Fatalf("%d batches of 1 row", len(res.Batches))
				}
			}
		})
	}
}

// genCSVOpts is like genCSV for SkipRows 2, Comment '#' and Escape '\\':
// junk lines first, comments before the header and between records, and
// escapes inside quotes.
func genCSVOpts(n int) string {
	var sb strings.Builder
	sb.WriteString("report \"x\nskipped,\n#comment\nid,name,note\r\n")
	for i := range n {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&sb, "%d,name%d,plain\\x\n", i, i)
		case 1:
			fmt.Fprintf(&sb, "%d,\"quoted\\\", %d\",\"multi\\\nline\"\r\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "#%d,\"\n%d,,\"\\\\\"\"\"\n\n", i, i)
		case 3:
			fmt.Fprintf(&sb, "%d,%s,x\n", i, strings.Repeat("long", i%17))
		case 4:
			fmt.Fprintf(&sb, "%d,\"\",\r\n#\r\n", i)
		case 5:
			fmt.Fprintf(&sb, "%d,\"#\n#\",\"\\\\\"\n", i)
		}
	}
	return sb.String()
}

func TestBatchingAndResumeOptions(t *testing.T) {
	in := genCSVOpts(120)
	base := format.Options{Header: true, SkipRows: 2, Comment: '#', Escape: '\\'}
	full := formattest.Drain(t, open(t, in, base, pusher.Position{}, bufSize, iotest.HalfReader), formattest.Values)
	if len(full.Events) != 120 || full.Final != io.EOF || !slices.Equal(full.Cols, []string{"id", "name", "note"}) {
		t.Fatalf("got %d records, %q, columns %q", len(full.Events), full.Raws, full.Cols)
	}
	for i, want := range []string{"0|name0|plain\\x", "1|quoted\", 1|multi\nline", "2|" + null + `|\"`, "3|longlonglong|x", "4||" + null, "5|#\n#|\\"} {
		if full.Events[i] != want {
			t.Fatalf("record %d: %q, want %q", i+1, full.Events[i], want)
		}
	}
	for _, rows := range []int{1, 7} {
		o := base
		o.BatchRows = rows
		for _, size := range []int{3, 100} {
			res := formattest.Drain(t, open(t, in, o, pusher.Position{}, size, iotest.OneByteReader), formattest.Values)
			formattest.CheckBatches(t, in, '\n', o, full, res, 1, func(p pusher.Position) formattest.Result {
				return formattest.Drain(t, open(t, in, o, p, size, iotest.HalfReader), formattest.Values)
			})
		}
	}
}

func TestResumeNoHeader(t *testing.T) {
	in := "1,a\n\n2,b\n3,c"
	o := format.Options{BatchRows: 1}
	full := formattest.Drain(t, open(t, in, o, pusher.Position{}, bufSize, iotest.OneByteReader), formattest.Values)
	want := []pusher.Position{{Records: 1, Offset: 4}, {Records: 2, Offset: 9}, {Records: 3, Offset: 12}}
	for i, be := range full.Batches {
		if be.Pos != want[i] {
			t.Fatalf("batch %d pos %+v, want %+v", i, be.Pos, want[i])
		}
		rest := formattest.Drain(t, open(t, in, o, be.Pos, 2, iotest.OneByteReader), formattest.Values)
		if !slices.Equal(rest.Events, full.Events[i+1:]) || rest.Final != io.EOF {
			t.Fatalf("resume at %+v: %q, %v", be.Pos, rest.Events, rest.Final)
		}
	}
}

func TestResumeWithErrors(t *testing.T) {
	// Resuming anywhere gives the same records and the same errors (with
	// the same ordinals and offsets) as reading on.
	inputs := []string{
		"1,2\n3\n4,5\n",
		"a\"b\n1,2\n3\n\n4,5\n",
		"\"a\"x\n\"unterminated\n,\n",
		"1,2\n\"3\"\"\n\",4\n5,\"x\"y,6\n7,8",
		"x\n" + strings.Repeat("y", 40) + "\nz\n",
	}
	optInputs := []string{
		"skip\n#c\n1,2\n#\"\n3\n\"a\\\"b\",\"\\\n\"\n\"x\\\"\"y,1\n5,6\n",
		"s\"\ns\n\"" + strings.Repeat("\\\"", 20) + "\",1\n#" + strings.Repeat("z", 50) + "\n1,2\n\"\\\",\n",
		"\n\n#\n\"a\",\"b\\\\\"\r\n\"c\\\\\"x,d\n#\ne,f",
	}
	opts := []format.Options{{}, {SkipRows: 2, Comment: '#', Escape: '\\'}}
	for k, o := range opts {
		ins := inputs
		if k > 0 {
			ins = append(slices.Clone(inputs), optInputs...)
		}
		for _, in := range ins {
			for _, header := range []bool{false, true} {
				o.Header, o.BatchRows, o.MaxRecordBytes = header, 1, 30
				full := formattest.Drain(t, open(t, in, o, pusher.Position{}, bufSize, iotest.OneByteReader), formattest.Values)
				for _, be := range full.Batches {
					rest := formattest.Drain(t, open(t, in, o, be.Pos, 1, iotest.OneByteReader), formattest.Values)
					if !slices.Equal(rest.Raws, full.Raws[be.NEvents:]) {
						t.Fatalf("%q %+v resume at %+v:\n%q\nwant\n%q", in, o, be.Pos, rest.Raws, full.Raws[be.NEvents:])
					}
				}
			}
		}
	}
}

func TestResumeErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		header bool
		start  pusher.Position
		want   string
	}{
		{"beyond end", "a\n1\n", true, pusher.Position{Records: 5, Offset: 100}, "csv: start offset 100 is beyond the end of the stream (4 bytes)"},
		{"inside header", "abc\n1\n", true, pusher.Position{Records: 0, Offset: 2}, "csv: start offset 2 is inside the header (which ends at byte 4)"},
		{"not a line end", "a\n12\n", true, pusher.Position{Records: 1, Offset: 3}, "csv: start offset 3 is not at the end of a line"},
		{"not a line end no header", "12\n", false, pusher.Position{Records: 1, Offset: 1}, "csv: start offset 1 is not at a record boundary"},
		{"inside skipped rows", "skip\n1\n", false, pusher.Position{Records: 1, Offset: 2}, "csv: start offset 2 is inside the skipped rows (which end at byte 5)"},
		{"inside skipped rows and header", "skip\na\n1\n", true, pusher.Position{Records: 1, Offset: 5}, "csv: start offset 5 is inside the header (which ends at byte 7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := format.Options{Header: tt.header}
			if strings.Contains(tt.name, "skipped") {
				o.SkipRows = 1
			}
			for _, size := range []int{1, bufSize} {
				r := open(t, tt.in, o, tt.start, size, iotest.OneByteReader)
				res := formattest.Drain(t, r, formattest.Values)
				if res.Final == nil || res.Final.Error() != tt.want {
					t.Fatalf("got %v, want %s", res.Final, tt.want)
				}
			}
		})
	}
	if _, err := New(strings.NewReader(""), format.Options{}, pusher.Position{Records: 3}); err == nil {
		t.Fatal("records without offset accepted")
	}
	if _, err := New(strings.NewReader(""), format.Options{Delimiter: '"'}, pusher.Position{}); err == nil {
		t.Fatal("quote delimiter accepted")
	}
	// Resuming exactly at the end of a stream whose last record has no
	// newline is the end.
	res := formattest.Drain(t, open(t, "a\n1\n2", format.Options{Header: true}, pusher.Position{Records: 2, Offset: 5}, 1, iotest.OneByteReader), formattest.Values)
	if res.Final != io.EOF || len(res.Events) != 0 {
		t.Fatalf("resume at end: %q, %v", res.Events, res.Final)
	}
}

func TestErrorAfterGoodRecords(t *testing.T) {
	in := "a,b\n1,2\n3,4\n5\n6,7\n"
	r := open(t, in, format.Options{Header: true}, pusher.Position{}, bufSize, func(r io.Reader) io.Reader { return r })
	var b pusher.Batch
	if err := r.Next(&b); err != nil || b.Len() != 2 {
		t.Fatalf("first Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 12}) {
		t.Fatalf("pos %+v", p)
	}
	err := r.Next(&b)
	var re *pusher.RecordError
	if !errors.As(err, &re) || re.Record != 3 || re.Offset != 12 || b.Len() != 0 {
		t.Fatalf("second Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 12}) {
		t.Fatalf("pos after error %+v", p)
	}
	if err := r.Next(&b); err != nil || b.Len() != 1 || formattest.ValString(&b, 0) != "6|7" {
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
	// The stream breaks in the middle of the third record: the two before
	// it come first, then the read error; the partial record is not one.
	in := "a,b\n1,2\n3,4\n5,"
	formattest.CheckReadError(t, in, []int{1, 4, bufSize}, func(rd io.Reader, size int) format.Reader {
		r, err := newReader(rd, format.Options{Header: true}, pusher.Position{}, size)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, formattest.Values, []string{"1|2", "3|4"}, "read at byte 14: unexpected EOF", pusher.Position{Records: 2, Offset: 12})
	// A failure while reading the header or skipping to the start.
	fr := &formattest.FailingReader{Data: []byte("a,"), Err: io.ErrUnexpectedEOF}
	res := formattest.Drain(t, open(t, "", format.Options{Header: true}, pusher.Position{}, 1, func(io.Reader) io.Reader { return fr }), formattest.Values)
	if !errors.Is(res.Final, io.ErrUnexpectedEOF) {
		t.Fatalf("header: %v", res.Final)
	}
	fr = &formattest.FailingReader{Data: []byte("a\n1\n"), Err: io.ErrUnexpectedEOF}
	res = formattest.Drain(t, open(t, "", format.Options{Header: true}, pusher.Position{Records: 2, Offset: 6}, 1, func(io.Reader) io.Reader { return fr }), formattest.Values)
	if !errors.Is(res.Final, io.ErrUnexpectedEOF) {
		t.Fatalf("skip: %v", res.Final)
	}
}

func TestMaxRecordBytes(t *testing.T) {
	long := strings.Repeat("x", 50)
	tests := []struct {
		name string
		in   string
		want []string
		o    format.Options
	}{
		{"unquoted", "1,2\n" + long + ",3\n4,5\n", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes", "4|5"}, format.Options{}},
		{"long comment", "1,2\n#" + long + "\"\n4,5\n", []string{"1|2", "4|5"}, format.Options{Comment: '#'}},
		{"long comment at eof", "1,2\n#" + long, []string{"1|2"}, format.Options{Comment: '#'}},
		{"long skipped rows", long + "\n\"" + long + "\n1,2\n", []string{"1|2"}, format.Options{SkipRows: 2}},
		{"escaped quotes", "1,2\n\"" + long + "\\\"\n\\\"\",3\n4,5\n", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes", "4|5"}, format.Options{Escape: '\\'}},
		{"escape across reads", "1,2\n\"" + strings.Repeat("\\\"", 30) + "\n\",3\n4,5\n", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes", "4|5"}, format.Options{Escape: '\\'}},
		{"escaped within limit", "1,2\n\"" + strings.Repeat("\\\"", 8) + "\",3\r\n4,5\n", []string{"1|2", strings.Repeat(`"`, 8) + "|3", "4|5"}, format.Options{Escape: '\\'}},
		{"at eof", "1,2\n" + long + ",3", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes"}, format.Options{}},
		{"quoted with newlines", "1,2\n\"" + long + "\n" + long + "\n,\",3\n4,5\n", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes", "4|5"}, format.Options{}},
		{"quoted with escaped quotes", "1,2\n\"" + long + "\"\"\n\"\"" + long + "\",3\n4,5\n", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes", "4|5"}, format.Options{}},
		{"exactly the limit", "1,2\n" + long[:18] + ",3\r\n4,5\n", []string{"1|2", long[:18] + "|3", "4|5"}, format.Options{}},
		{"one over", "1,2\n" + long[:19] + ",3\r\n4,5\n", []string{"1|2", "ERR record 2 (byte 4): record longer than 20 bytes", "4|5"}, format.Options{}},
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
	for _, f := range []string{format.CSV, format.TSV} {
		r, err := format.New(strings.NewReader("a\tb,c\n1\t2,3\n"), format.Options{Format: f, Header: true}, pusher.Position{})
		if err != nil {
			t.Fatal(err)
		}
		var b pusher.Batch
		if err := r.Next(&b); err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{format.CSV: {"a\tb", "c"}, format.TSV: {"a", "b,c"}}[f]
		if !slices.Equal(b.Columns, want) {
			t.Fatalf("%s: columns %q, want %q", f, b.Columns, want)
		}
	}
	// Called directly, the tsv constructor defaults to tabs too.
	r, err := newTSV(strings.NewReader("a\tb\n"), format.Options{}, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var b pusher.Batch
	if err := r.Next(&b); err != nil || formattest.ValString(&b, 0) != "a|b" {
		t.Fatalf("%v %q", err, formattest.ValString(&b, 0))
	}
}

func TestColumnsStable(t *testing.T) {
	// Every batch carries the columns, including after errors.
	r := open(t, "a,b\n1,2\n3\n4,5\n", format.Options{Header: true, BatchRows: 1}, pusher.Position{}, bufSize, iotest.OneByteReader)
	var b pusher.Batch
	for {
		err := r.Next(&b)
		if !slices.Equal(b.Columns, []string{"a", "b"}) {
			t.Fatalf("columns %q (err %v)", b.Columns, err)
		}
		if err == io.EOF {
			break
		}
	}
}

func TestNoAllocsPerRecord(t *testing.T) {
	data := benchCSV(1 << 20)
	var b pusher.Batch
	// Warm the batch buffers.
	r, _ := New(bytes.NewReader(data), format.Options{Header: true}, pusher.Position{})
	for r.Next(&b) == nil {
	}
	allocs := testing.AllocsPerRun(3, func() {
		r, _ := New(bytes.NewReader(data), format.Options{Header: true, BatchRows: 1000}, pusher.Position{})
		for r.Next(&b) == nil {
		}
	})
	if allocs > 30 {
		t.Fatalf("%v allocations reading %d bytes", allocs, len(data))
	}
}
