package jsonl

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
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
	formattest.Bench(b, benchJSONL(20<<20), func(r io.Reader) (format.Reader, error) {
		return New(r, format.Options{Format: format.JSONL}, pusher.Position{})
	})
}
