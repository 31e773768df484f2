package jsonl

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
)

// benchJSONL is about size bytes of lines like
// {"id":1,"ts":"2024-03-01T12:34:56Z","user":{"id":7},"event":"click",
// "amount":12.5,"ok":true,"tags":["a","b"],"note":"caf\u00e9 \"x\""}.
func benchJSONL(size int) []byte {
	events := []string{"click", "view", "purchase", "signup"}
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		buf.WriteString(`{"id":`)
		buf.WriteString(strconv.Itoa(i))
		buf.WriteString(`,"ts":"2024-03-01T12:34:56Z","user":{"id":`)
		buf.WriteString(strconv.Itoa(i % 10007))
		buf.WriteString(`},"event":"`)
		buf.WriteString(events[i%len(events)])
		buf.WriteString(`","amount":`)
		buf.WriteString(strconv.Itoa(i % 1000))
		buf.WriteString(`.5,"ok":true,"tags":["a","b"],"note":"caf\u00e9 \"x\""}`)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkJSONL(b *testing.B) {
	data := benchJSONL(20 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var batch source.Batch
	o := format.Options{Format: format.JSONL}
	for b.Loop() {
		r, err := New(bytes.NewReader(data), o, source.Position{})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			err := r.Next(&batch)
			rows += batch.Len()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if rows == 0 {
			b.Fatal("no rows")
		}
	}
}
