package jsonlines

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferrydata/ferry/pusher"
)

func TestWrite(t *testing.T) {
	b := &pusher.Batch{Columns: []string{"s", "n", "b", "j", "null", "missing"}}
	b.StartRecord()
	b.AddField(pusher.String, []byte("a\"b\\c\n\x01é\xff"))
	b.AddField(pusher.Number, []byte("1.5e3"))
	b.AddField(pusher.Bool, []byte("true"))
	b.AddField(pusher.JSON, []byte(`{"x":[1,2]}`))
	b.AddNull()
	var out bytes.Buffer
	tg := Writer("test", &out)
	tg.System = true
	c := &pusher.Chunk{File: pusher.Object{Key: "k\"ey"}, Start: pusher.Position{Records: 41}, End: pusher.Position{Records: 42}, Batch: b}
	if err := tg.Write(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	want := `{"s":"a\"b\\c\n\u0001é�","n":1.5e3,"b":true,"j":{"x":[1,2]},"null":null,"missing":null,"_ferry_file":"k\"ey","_ferry_record":42}` + "\n"
	if out.String() != want {
		t.Fatalf("got  %s\nwant %s", out.String(), want)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	for range 2 {
		tg, err := File(path)
		if err != nil {
			t.Fatal(err)
		}
		b := &pusher.Batch{Columns: []string{"a"}}
		b.StartRecord()
		b.AddField(pusher.String, []byte("x"))
		if err := tg.Write(t.Context(), &pusher.Chunk{Batch: b}); err != nil {
			t.Fatal(err)
		}
		tg.Close()
	}
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\":\"x\"}\n{\"a\":\"x\"}\n" {
		t.Fatalf("file = %q", got)
	}
}

func TestRejectLimit(t *testing.T) {
	var out, rejects bytes.Buffer
	tg := Writer("test", &out)
	tg.Rejects = &rejects
	b := &pusher.Batch{Columns: []string{"a"}}
	b.StartRecord()
	b.AddField(pusher.String, []byte("x"))
	bad := &pusher.RecordError{Record: 1, Offset: 0, Err: errors.New("bad")}
	c := &pusher.Chunk{End: pusher.Position{Records: 2}, Batch: b, Rejects: []*pusher.RecordError{bad}, RejectLimit: 0}
	if err := tg.Write(t.Context(), c); err == nil || pusher.ClassOf(err) != pusher.ClassData {
		t.Fatalf("a chunk past its reject limit: %v; want a data error", err)
	}
	if out.Len() != 0 || rejects.Len() != 0 {
		t.Fatalf("a chunk past its reject limit wrote %q and rejects %q", out.String(), rejects.String())
	}
	c.RejectLimit = 1
	if err := tg.Write(t.Context(), c); err != nil || out.Len() == 0 || rejects.Len() == 0 {
		t.Fatalf("a chunk within its reject limit: %v; wrote %q and rejects %q", err, out.String(), rejects.String())
	}
}

// TestValidLines: whatever the values, every line written is one compact
// JSON object in valid UTF-8.
func TestValidLines(t *testing.T) {
	for _, tc := range []struct {
		name    string
		columns []string
		kind    pusher.Kind
		value   string
		system  bool
		want    string
	}{
		{name: "nested value with newlines is compacted", columns: []string{"j"}, kind: pusher.JSON,
			value: "{\n  \"a\" : [ 1,\n 2 ] ,\r\n\t\"b\":{ } }", want: `{"j":{"a":[1,2],"b":{}}}`},
		{name: "spaces inside nested strings stay", columns: []string{"j"}, kind: pusher.JSON,
			value: `[ "a b\n" , "\u00e9\"" ]`, want: `{"j":["a b\n","\u00e9\""]}`},
		{name: "invalid UTF-8 inside a nested value", columns: []string{"j"}, kind: pusher.JSON,
			value: "{\"k\xfe\":\"v\xff\xc3\"}", want: `{"j":{"k�":"v��"}}`},
		{name: "no fields with system columns", system: true, want: `{"_ferry_file":"f","_ferry_record":1}`},
		{name: "no fields", want: `{}`},
		{name: "invalid UTF-8 in a name", columns: []string{"a\xffb"}, kind: pusher.String, value: "x", want: `{"a�b":"x"}`},
		{name: "a number that is not JSON is text", columns: []string{"n"}, kind: pusher.Number, value: "NaN", want: `{"n":"NaN"}`},
		{name: "a bool that is not JSON is text", columns: []string{"b"}, kind: pusher.Bool, value: "yes", want: `{"b":"yes"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &pusher.Batch{Columns: tc.columns}
			b.StartRecord()
			if len(tc.columns) > 0 {
				b.AddField(tc.kind, []byte(tc.value))
			}
			var out bytes.Buffer
			tg := Writer("test", &out)
			tg.System = tc.system
			if err := tg.Write(t.Context(), &pusher.Chunk{File: pusher.Object{Key: "f"}, End: pusher.Position{Records: 1}, Batch: b}); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want+"\n" {
				t.Fatalf("got  %q\nwant %q", got, tc.want+"\n")
			}
			checkJSONLines(t, out.Bytes())
		})
	}
}

// checkJSONLines fails unless out is lines of one valid JSON object each,
// in valid UTF-8.
func checkJSONLines(t *testing.T, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("output is not valid UTF-8: %q", out)
	}
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if line[len(line)-1] != '\n' || json.Unmarshal(line, &m) != nil || m == nil {
			t.Fatalf("line %q is not one JSON object", line)
		}
	}
}

// TestRejectInvalidUTF8: with RejectInvalidUTF8, a value or field name
// that is not valid UTF-8 is a bad value: it fails the chunk, or is a
// reject under SkipRecords, and the other records are written.
func TestRejectInvalidUTF8(t *testing.T) {
	batch := func() *pusher.Batch {
		b := &pusher.Batch{Columns: []string{"a", "b\xfe"}}
		b.StartRecord()
		b.AddField(pusher.String, []byte("ok"))
		b.AddNull() // a bad name without a value is only made valid
		b.StartRecord()
		b.AddField(pusher.String, []byte("caf\xe9"))
		b.StartRecord()
		b.AddField(pusher.JSON, []byte("[\"\xff\"]"))
		b.StartRecord()
		b.AddField(pusher.String, []byte("ok"))
		b.AddField(pusher.String, []byte("bad name"))
		b.StartRecord()
		b.AddField(pusher.String, []byte("last"))
		return b
	}
	chunk := func() *pusher.Chunk {
		return &pusher.Chunk{File: pusher.Object{Key: "f"}, Start: pusher.Position{Records: 10}, End: pusher.Position{Records: 15}, Batch: batch(), RejectLimit: -1}
	}

	var out bytes.Buffer
	tg := Writer("test", &out)
	tg.RejectInvalidUTF8 = true
	err := tg.Write(t.Context(), chunk())
	var re *pusher.RecordError
	if !errors.As(err, &re) || re.Record != 12 || !strings.Contains(err.Error(), `column "a"`) || !strings.Contains(err.Error(), "invalid UTF-8") {
		t.Fatalf("without skip-record: %v; want a record error for record 12, column a", err)
	}
	if out.Len() != 0 {
		t.Fatalf("a failed chunk wrote %q", out.String())
	}

	var rejects bytes.Buffer
	tg.SkipRecords, tg.Rejects = true, &rejects
	c := chunk()
	if err := tg.Write(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	want := `{"a":"ok","b�":null}` + "\n" + `{"a":"last","b�":null}` + "\n"
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}
	var got []int64
	for _, r := range c.Rejects {
		got = append(got, r.Record)
	}
	if !slices.Equal(got, []int64{12, 13, 14}) {
		t.Fatalf("rejects %v, want records 12, 13, 14", got)
	}
	checkJSONLines(t, rejects.Bytes())
	if n := bytes.Count(rejects.Bytes(), []byte("\n")); n != 3 {
		t.Fatalf("rejects file has %d lines, want 3: %s", n, rejects.String())
	}

	// The target's rejects count against the chunk's limit.
	out.Reset()
	c = chunk()
	c.RejectLimit = 2
	if err := tg.Write(t.Context(), c); err == nil || out.Len() != 0 {
		t.Fatalf("3 rejects under a limit of 2: %v, wrote %q", err, out.String())
	}
}
