package jsonlines

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
