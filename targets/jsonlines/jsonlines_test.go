package jsonlines

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrydata/ferry/source"
)

func TestWrite(t *testing.T) {
	b := &source.Batch{Columns: []string{"s", "n", "b", "j", "null", "missing"}}
	b.StartRecord()
	b.AddField(source.String, []byte("a\"b\\c\n\x01é\xff"))
	b.AddField(source.Number, []byte("1.5e3"))
	b.AddField(source.Bool, []byte("true"))
	b.AddField(source.JSON, []byte(`{"x":[1,2]}`))
	b.AddNull()
	var out bytes.Buffer
	tg := Writer("test", &out)
	tg.System = true
	c := &source.Chunk{File: source.Object{Key: "k\"ey"}, Start: source.Position{Records: 41}, End: source.Position{Records: 42}, Batch: b}
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
		b := &source.Batch{Columns: []string{"a"}}
		b.StartRecord()
		b.AddField(source.String, []byte("x"))
		if err := tg.Write(t.Context(), &source.Chunk{Batch: b}); err != nil {
			t.Fatal(err)
		}
		tg.Close()
	}
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\":\"x\"}\n{\"a\":\"x\"}\n" {
		t.Fatalf("file = %q", got)
	}
}
