package jsonscan

import (
	"math/rand/v2"
	"testing"
)

// TestPlainRun checks plainRun against a byte loop on random strings over
// an alphabet of plain and special bytes, from every start.
func TestPlainRun(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "a \x1f\x20\"\\\x7f\x80\xff\x00\x21\x5b\x5d"
	for range 5000 {
		data := make([]byte, r.IntN(40))
		for k := range data {
			if r.IntN(4) == 0 {
				data[k] = alphabet[r.IntN(len(alphabet))]
			} else {
				data[k] = 'a'
			}
		}
		for i := 0; i <= len(data); i++ {
			want := i
			for want < len(data) && plain[data[want]] {
				want++
			}
			if got := plainRun(data, i); got != want {
				t.Fatalf("plainRun(%q, %d) = %d, want %d", data, i, got, want)
			}
		}
	}
}
