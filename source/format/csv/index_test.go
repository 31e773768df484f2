package csv

import (
	"math/rand/v2"
	"testing"
)

// TestIndexShort checks indexShort against indexIn on random lines over a
// small alphabet, every start and end.
func TestIndexShort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		data := make([]byte, r.IntN(80))
		for k := range data {
			data[k] = ",a\x00\x80\xff"[r.IntN(5)]
		}
		for i := 0; i <= len(data); i++ {
			for end := i; end <= len(data); end++ {
				for _, c := range []byte{',', 0, 0xff} {
					if got, want := indexShort(data, i, end, c), indexIn(data, i, end, c); got != want {
						t.Fatalf("indexShort(%q, %d, %d, %q) = %d, want %d", data, i, end, c, got, want)
					}
				}
			}
		}
	}
}
