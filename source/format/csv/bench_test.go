package csv

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// benchCSV is about 20 MB of rows shaped like the load benchmark's table:
// id,ts,user_id,event,amount,ok,note, with a quoted note on every other row.
func benchCSV(size int) []byte {
	events := []string{"click", "view", "purchase", "signup"}
	var buf bytes.Buffer
	buf.WriteString("id,ts,user_id,event,amount,ok,note\n")
	for i := 0; buf.Len() < size; i++ {
		buf.WriteString(strconv.Itoa(i))
		buf.WriteString(",2024-03-01T12:34:56.")
		buf.WriteString(strconv.Itoa(100 + i%900))
		buf.WriteString("Z,")
		buf.WriteString(strconv.Itoa(i % 10007))
		buf.WriteByte(',')
		buf.WriteString(events[i%len(events)])
		buf.WriteByte(',')
		buf.WriteString(strconv.Itoa(i % 1000))
		buf.WriteString(".5,")
		if i%3 == 0 {
			buf.WriteString("false,")
		} else {
			buf.WriteString("true,")
		}
		switch i % 4 {
		case 0:
			buf.WriteString(`"say ""hi"", café"`)
		case 1:
			buf.WriteString("plain note")
		case 2:
			buf.WriteString(`"a, b"`)
		case 3:
			// empty: NULL
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkCSV(b *testing.B) {
	o := format.Options{Format: format.CSV, Header: true}
	formattest.Bench(b, benchCSV(20<<20), func(r io.Reader) (format.Reader, error) {
		return New(r, o, pusher.Position{})
	})
}
