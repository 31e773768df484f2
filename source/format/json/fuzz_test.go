package json

import (
	"bytes"
	stdjson "encoding/json"
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
	"github.com/ferrydata/ferry/source/format/internal/jsonscan"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
)

// FuzzJSON checks that the reader never panics; that on a document
// encoding/json accepts it reads each array element (or the only object)
// as encoding/json does, rejecting exactly the elements that are not
// objects; that it reports an error for a document encoding/json rejects;
// and that buffer sizes, batching and resuming do not change what it
// reads, with or without a records field.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`[{"a":1,"b":"x"},{"b":[1,{"c":null}],"d":true}]`,
		`[{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x"}]`,
		`[1, "s", [], {"a":01}, {"a":1}x, {"a":{"b":[}}, {}]`,
		"\n [ {\"a\" :-0.5e+10,\"b\":1E5,\"c\":{\"d\":[[],{}]}} ] \n",
		"\xEF\xBB\xBF[{\"a\":{}}]",
		`{"a":1,"a":2,"":null}`,
		`[{"a":"\u12"},{"a":"` + "\x01" + `"}]`,
		`[{"a":1}] x`,
		`[{"a":1},`,
		`[{"a":1} {"b":2}]`,
		`"scalar"`,
		genDoc(genRecords(15), ""),
	} {
		f.Add([]byte(s), uint8(3), uint8(2), uint8(0))
	}
	f.Add([]byte(genDoc(genRecords(15), "Records")), uint8(5), uint8(3), uint8(1))
	f.Add([]byte(`{"x":[1,{"y":"]"}],"Records":[{"a":1},2],"z":{}}`), uint8(1), uint8(1), uint8(1))
	f.Add([]byte(`{"a":{"x":null,"b":[{"a":1},{}],"c":2},"d":[]}`), uint8(2), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, size, rows, field uint8) {
		// Records: the top-level array, or the array at "Records" or "a.b".
		o := format.Options{MaxRecordBytes: 256, RecordsField: []string{"", "Records", "a.b"}[field%3]}
		full := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, 4096, formattest.Identity), formattest.Canonical)

		o.BatchRows = int(rows%5) + 1
		small := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, int(size%16)+1, iotest.OneByteReader), formattest.Canonical)
		formattest.CheckBatches(t, string(in), '}', o, full, small, len(small.Batches)/8, func(p pusher.Position) formattest.Result {
			return formattest.Drain(t, open(t, string(in), o, p, int(size%16)+1, iotest.HalfReader), formattest.Canonical)
		})

		if o.RecordsField == "" {
			compareStd(t, in, 256)
		}
	})
}

func compareStd(t *testing.T, in []byte, maxRecord int) {
	r := open(t, string(in), format.Options{MaxRecordBytes: maxRecord, BatchRows: 3}, pusher.Position{}, 4096, formattest.Identity)
	got, final := formattest.Outcomes(t, r)
	if readerr.IsRecordError(final) {
		t.Fatalf("final error %v is a RecordError", final)
	}
	doc := bytes.TrimPrefix(in, bom)
	if !stdjson.Valid(doc) {
		if final == io.EOF && len(bytes.Trim(doc, " \t\r\n")) > 0 && !slices.ContainsFunc(mapValues(got), func(o formattest.Outcome) bool { return o.Err != nil }) {
			t.Fatalf("encoding/json rejects the document; the reader read %d records without error", len(got))
		}
		return
	}
	var elems []stdjson.RawMessage
	switch bytes.Trim(doc, " \t\r\n")[0] {
	case '[':
		if err := stdjson.Unmarshal(doc, &elems); err != nil {
			t.Fatal(err)
		}
	case '{':
		elems = []stdjson.RawMessage{bytes.Trim(doc, " \t\r\n")}
	default:
		if final == io.EOF || !strings.Contains(final.Error(), "not an array or an object") {
			t.Fatalf("scalar document: final %v", final)
		}
		return
	}
	if final != io.EOF {
		t.Fatalf("encoding/json accepts the document; reader: %v", final)
	}
	if len(got) != len(elems) {
		t.Fatalf("%d outcomes for %d elements", len(got), len(elems))
	}
	for i, e := range elems {
		what := fmt.Sprintf("element %d", i+1)
		o := got[int64(i+1)]
		switch {
		case o.Err != nil && !bytes.Equal(o.Err.Raw, e[:min(len(e), pusher.MaxRawBytes)]):
			t.Fatalf("%s (%q): Raw %q", what, e, o.Err.Raw)
		case len(e) > maxRecord:
			if o.Err == nil || !strings.Contains(o.Err.Error(), "longer than") {
				t.Fatalf("%s: %d bytes, want too long, got %v", what, len(e), o.Err)
			}
		case e[0] != '{':
			if o.Err == nil {
				t.Fatalf("%s (%q) is not an object; the reader accepted it", what, e)
			}
		case o.Err != nil && errors.Is(o.Err, jsonscan.ErrTooDeep):
		default:
			formattest.MatchStd(t, what, o, e)
		}
	}
}

func mapValues(m map[int64]formattest.Outcome) []formattest.Outcome {
	var v []formattest.Outcome
	for _, o := range m {
		v = append(v, o)
	}
	return v
}
