package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
)

// FuzzJSONL checks that the reader never panics, that it accepts exactly
// the lines encoding/json decodes as one object and reads the same values,
// and that batching, buffer sizes and resuming do not change what it reads.
func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x"}` + "\n" + `{"b":[1,{"c":null}],"d":true}`,
		`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x"}` + "\r\n\n  \n",
		`[1]` + "\n" + `"s"` + "\n" + `{"a":01}` + "\n" + `{"a":1}x`,
		`{"a":-0.5e+10,"b":1E5,"c":{"d":[[],{}]}}`,
		"\xEF\xBB\xBF{\"a\":{}}\n",
		`{"a":1,"a":2,"":null}`,
		`{"a":"\u12"}` + "\n" + `{"a":"` + "\x01" + `"}`,
		genJSONL(20),
	} {
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	f.Fuzz(func(t *testing.T, in []byte, size, rows uint8) {
		o := format.Options{MaxRecordBytes: 256}
		full := drain(t, open(t, string(in), o, source.Position{}, 4096, identity), true)
		if full.final != io.EOF {
			t.Fatalf("final error %v", full.final)
		}

		o.BatchRows = int(rows%5) + 1
		small := drain(t, open(t, string(in), o, source.Position{}, int(size%16)+1, iotest.OneByteReader), true)
		if !slices.Equal(small.events, full.events) {
			t.Fatalf("small reads:\n%q\nwant\n%q", small.events, full.events)
		}
		step := max(1, len(small.batches)/8)
		for k := 0; k < len(small.batches); k += step {
			be := small.batches[k]
			rest := drain(t, open(t, string(in), o, be.pos, int(size%16)+1, iotest.HalfReader), true)
			if !slices.Equal(rest.events, full.events[be.nevents:]) {
				t.Fatalf("resume at %+v:\n%q\nwant\n%q", be.pos, rest.events, full.events[be.nevents:])
			}
		}

		compareStd(t, in, o.MaxRecordBytes)
	})
}

func identity(r io.Reader) io.Reader { return r }

// outcome is what the reader made of one record ordinal.
type outcome struct {
	fields map[string]source.Field
	data   []byte
	err    error
}

func compareStd(t *testing.T, in []byte, maxRecord int) {
	r := open(t, string(in), format.Options{MaxRecordBytes: maxRecord, BatchRows: 3}, source.Position{}, 4096, identity)
	got := map[int64]outcome{}
	var b source.Batch
	next := int64(1)
	for {
		err := r.Next(&b)
		var re *source.RecordError
		if errors.As(err, &re) {
			if re.Record < next {
				t.Fatalf("error ordinal %d, expected at least %d", re.Record, next)
			}
			got[re.Record] = outcome{err: re.Err}
			next = re.Record + 1
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Clone(b.Data)
		for i := range b.Len() {
			m := map[string]source.Field{}
			for c, f := range b.Record(i) {
				m[b.Columns[c]] = f
			}
			got[next] = outcome{fields: m, data: data}
			next++
		}
		if r.Pos().Records != next-1 {
			t.Fatalf("pos %+v after record %d", r.Pos(), next-1)
		}
	}

	in = bytes.TrimPrefix(in, bom)
	ord := int64(0)
	for line := range bytes.SplitSeq(in, []byte("\n")) {
		long := len(line) > maxRecord && !(len(line) == maxRecord+1 && line[maxRecord] == '\r')
		if !long && len(bytes.Trim(line, " \t\r")) == 0 {
			continue
		}
		ord++
		o, ok := got[ord]
		if !ok {
			t.Fatalf("line %d (%q): no outcome", ord, line)
		}
		if long {
			if o.err == nil || !strings.Contains(o.err.Error(), "longer than") {
				t.Fatalf("line %d: %d bytes, want too long, got %v", ord, len(line), o.err)
			}
			continue
		}
		trimmed := bytes.TrimLeft(line, " \t\r")
		isObject := json.Valid(line) && trimmed[0] == '{'
		if !isObject {
			if o.err == nil {
				t.Fatalf("line %d (%q): encoding/json rejects it as an object; reader accepted it", ord, line)
			}
			continue
		}
		if o.err != nil {
			if errors.Is(o.err, errTooDeep) {
				continue
			}
			t.Fatalf("line %d (%q): encoding/json accepts it; reader: %v", ord, line, o.err)
		}
		if !utf8.Valid(line) {
			continue // encoding/json replaces invalid UTF-8
		}
		var want map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		for k, f := range o.fields {
			if _, ok := want[k]; !ok && f.Kind != source.Null {
				t.Fatalf("line %d: reader has %q=%s, encoding/json has no such key", ord, k, o.data[f.Start:f.End])
			}
		}
		for k, w := range want {
			f, ok := o.fields[k]
			if !ok {
				if w != nil {
					t.Fatalf("line %d: reader lacks key %q", ord, k)
				}
				continue
			}
			v := o.data[f.Start:f.End]
			switch w := w.(type) {
			case nil:
				ok = f.Kind == source.Null
			case string:
				ok = f.Kind == source.String && string(v) == w
			case json.Number:
				ok = f.Kind == source.Number && string(v) == string(w)
			case bool:
				ok = f.Kind == source.Bool && string(v) == map[bool]string{true: "true", false: "false"}[w]
			default:
				var gv any
				dec := json.NewDecoder(bytes.NewReader(v))
				dec.UseNumber()
				ok = f.Kind == source.JSON && json.Valid(v) && dec.Decode(&gv) == nil && reflect.DeepEqual(gv, w)
			}
			if !ok {
				t.Fatalf("line %d key %q: reader has %s %q, encoding/json %#v", ord, k, f.Kind, v, w)
			}
		}
	}
}
