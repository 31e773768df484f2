package json

import (
	"bytes"
	"io"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// benchDoc is about size bytes of a CloudTrail-like document:
// {"Records":[{"eventVersion":"1.08",...},...]}.
func benchDoc(size int) []byte {
	var buf bytes.Buffer
	g := newCloudTrail(int64(size))
	if _, err := io.Copy(&buf, g); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func BenchmarkJSON(b *testing.B) {
	formattest.Bench(b, benchDoc(20<<20), func(r io.Reader) (format.Reader, error) {
		return New(r, format.Options{Format: format.JSON, RecordsField: "Records"}, pusher.Position{})
	})
}
