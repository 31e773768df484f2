package compress

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ferrydata/ferry/pusher"
)

// cutReader returns the first n bytes of data, then err.
type cutReader struct {
	r   io.Reader
	n   int
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, c.err
	}
	p = p[:min(len(p), c.n)]
	m, err := c.r.Read(p)
	c.n -= m
	return m, err
}

// A body cut short by the network keeps its class through the
// decompressor; the same bytes ending cleanly are a corrupt stream.
func TestTransientReadErrorKeepsClass(t *testing.T) {
	data := csvData(20000)
	cut := pusher.Unavailable(errors.New("object body cut short: unexpected EOF"))
	for _, tc := range []struct {
		codec string
		enc   []byte
	}{
		{Gzip, gz(t, data)},
		{Zstd, zst(t, data)},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			for _, at := range []int{5, len(tc.enc) / 3, len(tc.enc) - 3} {
				rc, _, err := Reader(&cutReader{r: bytes.NewReader(tc.enc), n: at, err: cut}, Auto, "f."+map[string]string{Gzip: "gz", Zstd: "zst"}[tc.codec])
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err == nil || pusher.ClassOf(err) != pusher.ClassUnavailable {
					t.Errorf("cut at %d of %d: error %v, class %v; want unavailable", at, len(tc.enc), err, pusher.ClassOf(err))
				}
				// The same prefix as a whole object: a truncated file, data.
				rc, _, err = Reader(bytes.NewReader(tc.enc[:at]), Auto, "f."+map[string]string{Gzip: "gz", Zstd: "zst"}[tc.codec])
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err == nil || pusher.ClassOf(err) != pusher.ClassData {
					t.Errorf("truncated at %d of %d: error %v, class %v; want data", at, len(tc.enc), err, pusher.ClassOf(err))
				}
			}
		})
	}
}
