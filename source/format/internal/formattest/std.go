package formattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// Outcome is what a reader made of one record ordinal: the record's
// fields by column name (values in Data), or its error.
type Outcome struct {
	Fields map[string]pusher.Field
	Data   []byte
	Err    *pusher.RecordError
}

// Outcomes reads r to its end and returns what it made of each record
// ordinal, and the final error (io.EOF at a clean end).
func Outcomes(t testing.TB, r format.Reader) (map[int64]Outcome, error) {
	t.Helper()
	got := map[int64]Outcome{}
	var b pusher.Batch
	next := int64(1)
	for {
		err := r.Next(&b)
		var re *pusher.RecordError
		if errors.As(err, &re) {
			if re.Record < next {
				t.Fatalf("error ordinal %d, expected at least %d", re.Record, next)
			}
			got[re.Record] = Outcome{Err: re}
			next = re.Record + 1
			continue
		}
		if err != nil {
			return got, err
		}
		data := bytes.Clone(b.Data)
		for i := range b.Len() {
			m := map[string]pusher.Field{}
			for c, f := range b.Record(i) {
				m[b.Columns[c]] = f
			}
			got[next] = Outcome{Fields: m, Data: data}
			next++
		}
		if r.Pos().Records != next-1 {
			t.Fatalf("pos %+v after record %d", r.Pos(), next-1)
		}
	}
}

// MatchStd checks that o, a record read from text (a JSON object that
// encoding/json accepts), holds the values encoding/json decodes.
func MatchStd(t testing.TB, what string, o Outcome, text []byte) {
	t.Helper()
	if o.Err != nil {
		t.Fatalf("%s (%q): encoding/json accepts it; reader: %v", what, text, o.Err)
	}
	if !utf8.Valid(text) {
		return // encoding/json replaces invalid UTF-8
	}
	var want map[string]any
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	for k, f := range o.Fields {
		if _, ok := want[k]; !ok && f.Kind != pusher.Null {
			t.Fatalf("%s: reader has %q=%s, encoding/json has no such key", what, k, o.Data[f.Start:f.End])
		}
	}
	for k, w := range want {
		f, ok := o.Fields[k]
		if !ok {
			if w != nil {
				t.Fatalf("%s: reader lacks key %q", what, k)
			}
			continue
		}
		v := o.Data[f.Start:f.End]
		switch w := w.(type) {
		case nil:
			ok = f.Kind == pusher.Null
		case string:
			ok = f.Kind == pusher.String && string(v) == w
		case json.Number:
			ok = f.Kind == pusher.Number && string(v) == string(w)
		case bool:
			ok = f.Kind == pusher.Bool && string(v) == map[bool]string{true: "true", false: "false"}[w]
		default:
			var gv any
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			ok = f.Kind == pusher.JSON && json.Valid(v) && dec.Decode(&gv) == nil && reflect.DeepEqual(gv, w)
		}
		if !ok {
			t.Fatalf("%s key %q: reader has %s %q, encoding/json %#v", what, k, f.Kind, v, w)
		}
	}
}
