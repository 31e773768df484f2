package jsonlines

import (
	"bytes"
	"encoding/json"
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
