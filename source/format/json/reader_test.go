package json

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
	"github.com/ferrydata/ferry/source/format/internal/readerr"
)

var bufSizes = []int{1, 2, 3, 5, 8, 64, bufSize}

func open(t testing.TB, in string, o format.Options, start pusher.Position, size int, wrap func(io.Reader) io.Reader) *Reader {
	t.Helper()
	r, err := newReader(wrap(strings.NewReader(in)), o, start, size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type readTest struct {
	name  string
	in    string
	field string // Options.RecordsField
	cols  []string
	want  []string // records and errors, as formattest.Drain renders them
	final string   // the final error; "" for io.EOF
}

func TestRead(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []readTest{
		{name: "empty stream", in: ""},
		{name: "only whitespace", in: " \n\t\r\n"},
		{name: "empty array", in: "[]"},
		{name: "empty array spaced", in: " \n[ \n ] \n"},
		{name: "array", in: `[{"a":1,"b":"x"},{"a":2,"b":"y"}]`, cols: []string{"a", "b"},
			want: []string{`a=1 b="x"`, `a=2 b="y"`}},
		{name: "whitespace everywhere", in: "\r\n [\n\t{ \"a\" :\n1 ,\r\n\"b\"\t:\"x\" }\r\n ,\n\n {\"a\":2}\n]\n\n", cols: []string{"a", "b"},
			want: []string{`a=1 b="x"`, "a=2 b=∅"}},
		{name: "bom", in: "\xEF\xBB\xBF[{\"a\":1}]", cols: []string{"a"}, want: []string{"a=1"}},
		{name: "single object", in: " {\"a\":1,\"b\":[1, 2],\"c\":{\"d\":null}}\n", cols: []string{"a", "b", "c"},
			want: []string{"a=1 b=J[1, 2] c=J{\"d\":null}"}},
		{name: "empty single object", in: "{}", cols: nil, want: []string{""}},
		{name: "new keys", in: `[{"a":1},{"b":2,"a":3},{"c":4},{}]`, cols: []string{"a", "b", "c"},
			want: []string{"a=1", "a=3 b=2", "a=∅ b=∅ c=4", "a=∅ b=∅ c=∅"}},
		{name: "kinds", in: `[{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"o":{},"l":[]}]`,
			cols: []string{"s", "n", "t", "f", "z", "o", "l"}, want: []string{`s="x" n=-1.5e+3 t=true f=false z=∅ o=J{} l=J[]`}},
		{name: "nested kept raw", in: `[{"a": { "x" : [1, 2.0 ,{"y":"\u00e9"}] } , "b":[ "s" , null,true ]}]`,
			cols: []string{"a", "b"}, want: []string{`a=J{ "x" : [1, 2.0 ,{"y":"\u00e9"}] } b=J[ "s" , null,true ]`}},
		{name: "escapes", in: `[{"s":"\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00 ]}x"}]`, cols: []string{"s"},
			want: []string{`s="\"\\/\b\f\n\r\té€😀 ]}x"`}},
		{name: "duplicate key last wins", in: `[{"a":1,"a":"x"}]`, cols: []string{"a"}, want: []string{`a="x"`}},
		{name: "records field", field: "Records",
			in:   `{"v":"1.0","meta":{"x":[1,{"y":"]}\"["}],"z":-0.5e3},"Records":[{"a":1},{"a":2}],"n":3,"t":[true,null,{}]}`,
			cols: []string{"a"}, want: []string{"a=1", "a=2"}},
		{name: "records field first", field: "Records", in: `{"Records":[{"a":1}]}`, cols: []string{"a"}, want: []string{"a=1"}},
		{name: "records field empty", field: "Records", in: ` { "Records" : [ ] , "x" : { } } `},
		{name: "records field spaced", field: "Records", in: "{\n \"x\" : 1 ,\n \"Records\" :\n [\n {\"a\":1}\n ]\n ,\"y\":2\n}\n",
			cols: []string{"a"}, want: []string{"a=1"}},
		{name: "records field escaped key", field: "Records", in: `{"Rec\u006frds":[{"a":1}]}`, cols: []string{"a"}, want: []string{"a=1"}},
		{name: "records field repeated", field: "Records", in: `{"Records":[{"a":1}],"Records":[{"a":2}]}`, cols: []string{"a"}, want: []string{"a=1"}},
		{name: "dotted path", field: "data.items",
			in:   `{"x":1,"items":[{"no":1}],"data":{"count":2,"items":[{"a":1},{"b":2}],"more":false},"z":"q"}`,
			cols: []string{"a", "b"}, want: []string{"a=1", "a=∅ b=2"}},
		{name: "missing path", field: "data.items", in: `{"data":{"count":0},"items":[]}`,
			final: `json: records field "data.items" not found: no key "items" in "data"`},
		{name: "missing top", field: "Records", in: `{"records":[{"a":1}]}`,
			final: `json: records field "Records" not found: no key "Records" in the document`},
		{name: "missing in empty object", field: "Records", in: `{}`,
			final: `json: records field "Records" not found: no key "Records" in the document`},
		{name: "path to object", field: "Records", in: `{"Records":{"a":1}}`,
			final: `json: records field "Records" is an object, not an array`},
		{name: "path to null", field: "data.items", in: `{"data":{"items":null}}`,
			final: `json: records field "data.items" is null, not an array`},
		{name: "path through array", field: "data.items", in: `{"data":[{"items":[]}]}`,
			final: `json: records field "data.items": "data" is an array, not an object`},
		{name: "path in array document", field: "Records", in: `[{"a":1}]`,
			final: `json: records field "Records": the document is an array, not an object`},
		{name: "top-level number", in: " 12", final: "json: the document is a number, not an array or an object"},
		{name: "top-level string", in: `"x"`, final: "json: the document is a string, not an array or an object"},
		{name: "top-level junk", in: "x", final: "json: invalid JSON at byte 0: unexpected 'x' looking for a value"},
		{name: "records field junk", field: "Records", in: `{"Records":x}`, final: "json: invalid JSON at byte 11: unexpected 'x' looking for a value"},
		{name: "non-object elements", in: `[{"a":1},2,"s]",[1,{}],true,null,-1e5,{"a":3}]`, cols: []string{"a"},
			want: []string{"a=1",
				"ERR record 2 (byte 9): not a JSON object: the array element is a number",
				"ERR record 3 (byte 11): not a JSON object: the array element is a string",
				"ERR record 4 (byte 16): not a JSON object: the array element is an array",
				"ERR record 5 (byte 23): not a JSON object: the array element is a boolean",
				"ERR record 6 (byte 28): not a JSON object: the array element is null",
				"ERR record 7 (byte 33): not a JSON object: the array element is a number",
				"a=3"}},
		{name: "invalid element", in: `[{"a":1 "b":2}, {"a":3}]`, cols: []string{"a"},
			want: []string{`ERR record 1 (byte 1): invalid JSON at byte 8: unexpected '"' after object value`, "a=3"}},
		{name: "invalid element columns forgotten", in: `[{"a":1},{"x":1,"y":},{"b":2}]`, cols: []string{"a", "b"},
			want: []string{"a=1", "ERR record 2 (byte 9): invalid JSON at byte 20: unexpected '}' looking for a value", "a=∅ b=2"}},
		{name: "invalid nested", in: `[{"a":[1,]},{"a":{"b"}}, {"a":"\x"},{"a":tru},{"a":01}]`, cols: nil,
			want: []string{
				"ERR record 1 (byte 1): invalid JSON at byte 9: unexpected ']' looking for a value",
				"ERR record 2 (byte 12): invalid JSON at byte 21: unexpected '}' after object key",
				`ERR record 3 (byte 25): invalid JSON at byte 31: invalid escape "\\x" in string`,
				"ERR record 4 (byte 36): invalid JSON at byte 41: unexpected 't' looking for a value",
				"ERR record 5 (byte 46): invalid JSON at byte 52: unexpected '1' after object value",
			}},
		{name: "control character", in: "[{\"a\":\"x\ty\"},{}]", want: []string{
			"ERR record 1 (byte 1): invalid JSON at byte 8: unexpected byte 0x09 in string (control characters must be escaped)", ""}},
		{name: "mismatched brackets swallow the rest", in: `[{"a":[1},{"b":2}]`,
			want:  []string{`ERR record 1 (byte 1): invalid JSON at byte 8: unexpected '}' after array element`},
			final: "json: unexpected end of the document after a record"},
		{name: "invalid single object", in: `{"a":}`,
			want: []string{"ERR record 1 (byte 0): invalid JSON at byte 5: unexpected '}' looking for a value"}},
		{name: "depth limit ok", in: `[{"a":` + deep(999) + "}]", cols: []string{"a"}, want: []string{"a=J" + deep(999)}},
		{name: "depth limit exceeded", in: `[{"a":` + deep(1000) + `},{"b":1}]`, cols: []string{"b"},
			want: []string{"ERR record 1 (byte 1): JSON nested deeper than 1000 levels", "b=1"}},
		{name: "truncated in record", in: `[{"a":1},{"a":`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: unexpected end of the document in record 2 (byte 9)"},
		{name: "truncated in string", in: `[{"a":"1}]`, final: "json: unexpected end of the document in record 1 (byte 1)"},
		{name: "truncated after record", in: "[{\"a\":1}, {\"a\":2}\n", cols: []string{"a"}, want: []string{"a=1", "a=2"},
			final: "json: unexpected end of the document after a record"},
		{name: "truncated after comma", in: `[{"a":1},`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: unexpected end of the document looking for a record"},
		{name: "truncated after bracket", in: `[`, final: "json: unexpected end of the document looking for a record"},
		{name: "truncated scalar", in: `[1`, want: []string{"ERR record 1 (byte 1): not a JSON object: the array element is a number"},
			final: "json: unexpected end of the document after a record"},
		{name: "truncated head", field: "Records", in: `{"x":[1,2`, final: "json: unexpected end of the document in a value"},
		{name: "truncated head key", field: "Records", in: `{"x`, final: "json: unexpected end of the document in an object key"},
		{name: "truncated head colon", field: "Records", in: `{"x" `, final: "json: unexpected end of the document after object key"},
		{name: "truncated tail", field: "Records", in: `{"Records":[{"a":1}]`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: unexpected end of the document in an object"},
		{name: "truncated single", in: `{"a":1`, final: "json: unexpected end of the document in record 1 (byte 0)"},
		{name: "trailing garbage", in: `[{"a":1}] x`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 10: unexpected 'x' after the document"},
		{name: "second document", in: "[{\"a\":1}]\n[]", cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 10: unexpected '[' after the document"},
		{name: "second single document", in: `{"a":1}{"a":2}`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 7: unexpected '{' after the document"},
		{name: "trailing garbage after records field", field: "Records", in: `{"Records":[{"a":1}]},`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 21: unexpected ',' after the document"},
		{name: "missing comma", in: `[{"a":1} {"a":2}]`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 9: unexpected '{' after array element"},
		{name: "trailing comma", in: `[{"a":1},]`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 9: unexpected ']' looking for a record"},
		{name: "junk element", in: `[{"a":1},x]`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 9: unexpected 'x' looking for a record"},
		{name: "array closed by brace", in: `[{"a":1}}`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 8: unexpected '}' after array element"},
		{name: "invalid head value", field: "Records", in: `{"x":[1,],"Records":[]}`,
			final: "json: invalid JSON at byte 8: unexpected ']' looking for a value"},
		{name: "invalid head scalar", field: "Records", in: `{"x":1.,"Records":[]}`,
			final: "json: invalid JSON at byte 7: unexpected ',' after decimal point in number"},
		{name: "invalid head key", field: "Records", in: `{x:1,"Records":[]}`,
			final: "json: invalid JSON at byte 1: unexpected 'x' looking for an object key"},
		{name: "invalid head key escape", field: "Records", in: `{"\q":1,"Records":[]}`,
			final: `json: invalid JSON at byte 2: invalid escape "\\q" in string`},
		{name: "head missing colon", field: "Records", in: `{"x" 1,"Records":[]}`,
			final: "json: invalid JSON at byte 5: unexpected '1' after object key"},
		{name: "head missing comma", field: "Records", in: `{"x":1 "Records":[]}`,
			final: `json: invalid JSON at byte 7: unexpected '"' after object value`},
		{name: "head trailing comma", field: "Records", in: `{"x":1,}`,
			final: "json: invalid JSON at byte 7: unexpected '}' looking for an object key"},
		{name: "head junk value", field: "Records", in: `{"x":?}`,
			final: "json: invalid JSON at byte 5: unexpected '?' looking for a value"},
		{name: "invalid tail value", field: "Records", in: `{"Records":[{"a":1}],"x":tru}`, cols: []string{"a"}, want: []string{"a=1"},
			final: "json: invalid JSON at byte 25: unexpected 't' looking for a value"},
		{name: "tail missing comma", field: "data.items", in: `{"data":{"items":[] "x":1}}`,
			final: `json: invalid JSON at byte 20: unexpected '"' after object value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRead(t, tt) })
	}
}

func checkRead(t *testing.T, tt readTest) {
	t.Helper()
	for _, rd := range formattest.Readers {
		for _, size := range bufSizes {
			res := formattest.Drain(t, open(t, tt.in, format.Options{RecordsField: tt.field}, pusher.Position{}, size, rd.Wrap), formattest.Named)
			want := tt.want
			if tt.final == "" {
				if res.Final != io.EOF {
					t.Fatalf("%s/%d: final error %v", rd.Name, size, res.Final)
				}
			} else {
				if res.Final == nil || res.Final.Error() != tt.final {
					t.Fatalf("%s/%d: final error %v, want %s", rd.Name, size, res.Final, tt.final)
				}
				if readerr.IsRecordError(res.Final) {
					t.Fatalf("%s/%d: final error is a RecordError", rd.Name, size)
				}
				want = append(slices.Clone(want), "ERR "+tt.final)
			}
			if !slices.Equal(res.Events, want) {
				t.Fatalf("%s/%d: got\n%q\nwant\n%q", rd.Name, size, res.Events, want)
			}
			if !slices.Equal(res.Cols, tt.cols) {
				t.Fatalf("%s/%d: columns %q, want %q", rd.Name, size, res.Cols, tt.cols)
			}
		}
	}
}

func TestRaw(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 5000) + `"}`
	in := "[ 12 , {\"a\":\n 1 \"b\"} ,\"s\",\n" + long + ",[1,\n2], {}, " + long + "]"
	want := []string{"12", "{\"a\":\n 1 \"b\"}", `"s"`, long[:pusher.MaxRawBytes], "[1,\n2]", long[:pusher.MaxRawBytes]}
	for _, max := range []int{0, 100, 4096} {
		for _, rd := range formattest.Readers {
			for _, size := range bufSizes {
				r := open(t, in, format.Options{MaxRecordBytes: max}, pusher.Position{}, size, rd.Wrap)
				res := formattest.Drain(t, r, formattest.Named)
				var raws []string
				for _, re := range res.Rejects {
					raws = append(raws, string(re.Raw))
				}
				w := want
				if max == 0 {
					w = slices.Delete(slices.Clone(want), 3, 4)[:4]
				}
				if res.Final != io.EOF || !slices.Equal(raws, w) {
					t.Fatalf("max %d %s/%d: %q, final %v\nraws %q", max, rd.Name, size, res.Events, res.Final, raws)
				}
			}
		}
	}
}

// genRecords makes n array elements with varying keys, nesting, escapes
// and whitespace; every seventh is not an object and every seventh (other)
// is invalid.
func genRecords(n int) []string {
	var recs []string
	for i := range n {
		var s string
		switch i % 7 {
		case 0:
			s = fmt.Sprintf(`{"id":%d,"name":"n%d"}`, i, i)
		case 1:
			s = fmt.Sprintf("{ \"id\" : %d ,\n \"tags\":[\"a\",{\"b\":[%d]}],\"note\":\"caf\\u00e9 \\\"x\\\" ]}\"}", i, i)
		case 2:
			s = fmt.Sprintf(`{"id":%d,"k%d":true}`, i, i%5)
		case 3:
			s = fmt.Sprintf(`{"name":"%s","id":%d}`, strings.Repeat("long", i%13), i)
		case 4:
			s = fmt.Sprintf(`%d`, i)
		case 5:
			s = fmt.Sprintf(`{"id":%d,"bad":}`, i)
		case 6:
			s = fmt.Sprintf(`{"id":%d,"z":null,"u":{"id":%d}}`, i, i)
		}
		recs = append(recs, s)
	}
	return recs
}

// genDoc wraps records in a document for RecordsField field ("", "Records"
// or "data.items").
func genDoc(recs []string, field string) string {
	arr := "[\n  " + strings.Join(recs, " ,\n  ") + "\n]"
	switch field {
	case "":
		return arr + "\n"
	case "Records":
		return `{"version":"1.0","meta":{"a":[1,{"b":"]}"}]},` + "\n" + `"Records":` + arr + `,"count":` + fmt.Sprint(len(recs)) + `,"tail":{"x":null}}`
	case "data.items":
		return `{"data":{"total":1,"items":` + arr + `,"next":null},"ok":true}` + "\n"
	}
	panic(field)
}

func TestBatchingAndResume(t *testing.T) {
	recs := genRecords(100)
	for _, field := range []string{"", "Records", "data.items"} {
		in := genDoc(recs, field)
		base := format.Options{RecordsField: field}
		full := formattest.Drain(t, open(t, in, base, pusher.Position{}, bufSize, iotest.HalfReader), formattest.Canonical)
		if len(full.Events) != len(recs) || full.Final != io.EOF {
			t.Fatalf("%q: got %d events, final %v", field, len(full.Events), full.Final)
		}
		for _, o := range formattest.Limits {
			o.RecordsField = field
			t.Run(fmt.Sprintf("%q,rows=%d,bytes=%d", field, o.BatchRows, o.BatchBytes), func(t *testing.T) {
				for _, size := range []int{3, 100, bufSize} {
					res := formattest.Drain(t, open(t, in, o, pusher.Position{}, size, iotest.OneByteReader), formattest.Canonical)
					formattest.CheckBatches(t, in, '}', o, full, res, 1, func(p pusher.Position) formattest.Result {
						return formattest.Drain(t, open(t, in, o, p, size, iotest.HalfReader), formattest.Canonical)
					})
					// The same with a ranged read instead of reading up to
					// the offset.
					seeks, total := 0, 0
					so := o
					so.Seek = func(off int64) (io.Reader, error) {
						seeks++
						return iotest.HalfReader(strings.NewReader(in[off:])), nil
					}
					formattest.CheckBatches(t, in, '}', o, full, res, 1, func(p pusher.Position) formattest.Result {
						seeks = 0
						rest := formattest.Drain(t, open(t, in, so, p, size, iotest.HalfReader), formattest.Canonical)
						if total += seeks; seeks > 1 {
							t.Fatalf("resume at %+v: %d seeks", p, seeks)
						}
						return rest
					})
					if total == 0 && size < len(in)/2 {
						t.Fatal("no resume used Seek")
					}
				}
			})
		}
	}
}

func TestPositions(t *testing.T) {
	in := "[{\"a\":1} ,\n{\"a\":2}, 3, {\"a\":3} ]\n"
	r := open(t, in, format.Options{BatchRows: 1}, pusher.Position{}, bufSize, iotest.OneByteReader)
	res := formattest.Drain(t, r, formattest.Named)
	var got []pusher.Position
	for _, be := range res.Batches {
		got = append(got, be.Pos)
	}
	if want := []pusher.Position{{Records: 1, Offset: 8}, {Records: 2, Offset: 18}, {Records: 4, Offset: 30}}; !slices.Equal(got, want) {
		t.Fatalf("batch ends %+v, want %+v", got, want)
	}
	if res.Events[2] != "ERR record 3 (byte 20): not a JSON object: the array element is a number" {
		t.Fatalf("events %q", res.Events)
	}
	// The only record of a document ends at its closing brace.
	res = formattest.Drain(t, open(t, " {\"a\":1} \n", format.Options{}, pusher.Position{}, 1, iotest.OneByteReader), formattest.Named)
	if len(res.Batches) != 1 || res.Batches[0].Pos != (pusher.Position{Records: 1, Offset: 8}) {
		t.Fatalf("single: %+v", res.Batches)
	}
	res = formattest.Drain(t, open(t, " {\"a\":1} \n", format.Options{}, pusher.Position{Records: 1, Offset: 8}, 1, iotest.OneByteReader), formattest.Named)
	if len(res.Events) != 0 || res.Final != io.EOF {
		t.Fatalf("single resumed: %q %v", res.Events, res.Final)
	}
}

func TestResumeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string
		start pusher.Position
		want  string
	}{
		{"beyond end", "[{}]", "", pusher.Position{Records: 5, Offset: 100}, "json: start offset 100 is beyond the end of the stream (4 bytes)"},
		{"inside a record", `[{"a":{}},{}]`, "", pusher.Position{Records: 1, Offset: 4}, "json: start offset 4 is not just after a record"},
		{"before the records", `{"x":1,"Records":[{}]}`, "Records", pusher.Position{Records: 1, Offset: 18}, "json: start offset 18 is not after a record (the records start at byte 18)"},
		{"single, not at end", `{"a":[1]} `, "", pusher.Position{Records: 1, Offset: 8}, "json: start offset 8 is not just after a record"},
		{"empty stream", "", "", pusher.Position{Records: 1, Offset: 3}, "json: start offset 3 is beyond the end of the stream (0 bytes)"},
		{"head error", `{"x":1}`, "Records", pusher.Position{Records: 1, Offset: 3}, `json: records field "Records" not found: no key "Records" in the document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, bufSize} {
				res := formattest.Drain(t, open(t, tt.in, format.Options{RecordsField: tt.field}, tt.start, size, iotest.OneByteReader), formattest.Named)
				if res.Final == nil || res.Final.Error() != tt.want {
					t.Fatalf("got %v, want %s", res.Final, tt.want)
				}
			}
		})
	}
	for _, p := range []pusher.Position{{Records: 3}, {Offset: -1}, {Records: -1, Offset: 3}} {
		if _, err := New(strings.NewReader(""), format.Options{}, p); err == nil {
			t.Fatalf("start %+v accepted", p)
		}
	}
	for _, f := range []string{".", "a.", ".a", "a..b"} {
		if _, err := New(strings.NewReader(""), format.Options{RecordsField: f}, pusher.Position{}); err == nil {
			t.Fatalf("records field %q accepted", f)
		}
	}
	seekErr := errors.New("no range")
	o := format.Options{Seek: func(int64) (io.Reader, error) { return nil, seekErr }}
	res := formattest.Drain(t, open(t, `[{},{},{}]`, o, pusher.Position{Records: 2, Offset: 6}, 1, iotest.OneByteReader), formattest.Named)
	if !errors.Is(res.Final, seekErr) {
		t.Fatalf("seek error: %v", res.Final)
	}
}

func TestErrorAfterGoodRecords(t *testing.T) {
	in := `[{"a":1},{"a":2},[],{"a":3}]`
	r := open(t, in, format.Options{}, pusher.Position{}, bufSize, formattest.Identity)
	var b pusher.Batch
	if err := r.Next(&b); err != nil || b.Len() != 2 {
		t.Fatalf("first Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 16}) {
		t.Fatalf("pos %+v", p)
	}
	err := r.Next(&b)
	var re *pusher.RecordError
	if !errors.As(err, &re) || re.Record != 3 || re.Offset != 17 || string(re.Raw) != "[]" || b.Len() != 0 {
		t.Fatalf("second Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 2, Offset: 16}) {
		t.Fatalf("pos after error %+v", p)
	}
	if err := r.Next(&b); err != nil || b.Len() != 1 || formattest.RecString(&b, 0, false) != "a=3" {
		t.Fatalf("third Next: %v, %d records", err, b.Len())
	}
	if p := r.Pos(); p != (pusher.Position{Records: 4, Offset: int64(len(in) - 1)}) {
		t.Fatalf("pos %+v", p)
	}
	if err := r.Next(&b); err != io.EOF {
		t.Fatalf("last Next: %v", err)
	}
}

func TestReadError(t *testing.T) {
	in := `[{"a":1},{"a":2},{"a":`
	formattest.CheckReadError(t, in, []int{1, 4, bufSize}, func(rd io.Reader, size int) format.Reader {
		r, err := newReader(rd, format.Options{}, pusher.Position{}, size)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, formattest.Named, []string{"a=1", "a=2"}, "read at byte 22: unexpected EOF", pusher.Position{Records: 2, Offset: 16})
}

func TestMaxRecordBytes(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 50) + `"}`
	longer := `{"a":[` + strings.Repeat(`{"b":"]}x"},`, 5000) + `1]}`
	tests := []struct {
		name  string
		in    string
		field string
		want  []string
		final string
	}{
		{name: "middle", in: `[{"a":1},` + long + `,{"a":2}]`, want: []string{"a=1", "ERR record 2 (byte 9): record longer than 20 bytes", "a=2"}},
		{name: "much longer", in: `[{"a":1},` + longer + `,{"a":2}]`, want: []string{"a=1", "ERR record 2 (byte 9): record longer than 20 bytes", "a=2"}},
		{name: "long invalid", in: `[` + longer[:len(longer)-1] + `,{"a":2}]`, want: []string{"ERR record 1 (byte 1): record longer than 20 bytes"},
			final: "json: unexpected end of the document after a record"},
		{name: "long scalar", in: `["` + strings.Repeat("s", 30) + `",{"a":2}]`, want: []string{"ERR record 1 (byte 1): record longer than 20 bytes", "a=2"}},
		{name: "last", in: `[{"a":1},` + longer + `]`, want: []string{"a=1", "ERR record 2 (byte 9): record longer than 20 bytes"}},
		{name: "truncated", in: `[{"a":1},` + longer[:len(longer)-2], want: []string{"a=1", "ERR record 2 (byte 9): record longer than 20 bytes"},
			final: "json: unexpected end of the document in record 2 (byte 9)"},
		{name: "exactly", in: `[{"a":"` + strings.Repeat("x", 12) + `"}]`, want: []string{`a="xxxxxxxxxxxx"`}},
		{name: "one over", in: `[{"a":"` + strings.Repeat("x", 13) + `"},{}]`, want: []string{"ERR record 1 (byte 1): record longer than 20 bytes", ""}},
		{name: "single", in: longer + " ", want: []string{"ERR record 1 (byte 0): record longer than 20 bytes"}},
		{name: "long head and tail values", field: "Records", in: `{"x":` + longer + `,"Records":[{"a":1}],"y":` + longer + `}`, want: []string{"a=1"}},
		{name: "long head value not checked", field: "Records", in: `{"x":[` + strings.Repeat("1 ", 30) + `],"Records":[{"a":1}]}`, want: []string{"a=1"}},
		{name: "long key", field: "Records", in: `{"` + strings.Repeat("k", 30) + `":1,"Records":[]}`,
			final: "json: object key at byte 1 is longer than 20 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 7, 30, 5000, bufSize} {
				for _, rd := range formattest.Readers {
					r := open(t, tt.in, format.Options{MaxRecordBytes: 20, RecordsField: tt.field}, pusher.Position{}, size, rd.Wrap)
					res := formattest.Drain(t, r, formattest.Named)
					want := tt.want
					if tt.final != "" {
						want = append(slices.Clone(want), "ERR "+tt.final)
					} else if res.Final != io.EOF {
						t.Fatalf("%s/%d: final %v", rd.Name, size, res.Final)
					}
					if !slices.Equal(res.Events, want) {
						t.Fatalf("%s/%d: got %q, want %q", rd.Name, size, res.Events, want)
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
	r, err := format.New(strings.NewReader(`{"Records":[{"a":1}]}`), format.Options{Format: format.JSON, RecordsField: "Records"}, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var b pusher.Batch
	if err := r.Next(&b); err != nil || formattest.RecString(&b, 0, false) != "a=1" {
		t.Fatalf("%v", err)
	}
}

func TestNoAllocsPerRecord(t *testing.T) {
	data := benchDoc(1 << 20)
	var b pusher.Batch
	o := format.Options{RecordsField: "Records", BatchRows: 1000}
	allocs := testing.AllocsPerRun(3, func() {
		r, _ := New(bytes.NewReader(data), o, pusher.Position{})
		for r.Next(&b) == nil {
		}
	})
	// The reader, its buffer and path, one string per column and a few
	// for the head.
	if allocs > 60 {
		t.Fatalf("%v allocations reading %d bytes", allocs, len(data))
	}
}
