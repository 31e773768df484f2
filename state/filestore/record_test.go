package filestore

import (
	"bytes"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

func FuzzDecodeLine(f *testing.F) {
	for _, r := range []record{
		{Put: []*entry{{Key: "a.csv", ETag: "e", Status: "loading", Pos: pusher.Position{Records: 3, Offset: 30}, Attempts: 1, Updated: time.Unix(1, 0).UTC()}}},
		{Del: []fileID{{Key: "a.csv", ETag: "e"}}},
		{Anchor: time.Unix(1, 0).UTC()},
	} {
		line, err := encodeLine(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(line)
		f.Add(line[:len(line)/2])
	}
	f.Add([]byte("00000000 {}\n"))
	f.Add([]byte("zzzzzzzz {}\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeLine(line)
		if err != nil {
			return
		}
		// What decodes is a whole line with its checksum, and encodes back
		// to a line that decodes to the same record.
		if line[len(line)-1] != '\n' || r.empty() {
			t.Fatalf("accepted %q", line)
		}
		again, err := encodeLine(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeLine(again)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := encodeLine(r2)
		if !bytes.Equal(a, again) {
			t.Fatalf("round trip: %q then %q", again, a)
		}
	})
}
