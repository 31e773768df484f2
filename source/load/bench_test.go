package load

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// benchRows writes rows shaped like the load benchmark's table (id, ts,
// user_id, event, amount, ok, note; a quoted note on every other CSV row)
// until size bytes, as CSV or JSON lines.
func benchRows(size int, jsonl bool) []byte {
	events := []string{"click", "view", "purchase", "signup"}
	notes := []string{`say "hi", café`, "plain note", "a, b\nc", ""}
	var buf bytes.Buffer
	if !jsonl {
		buf.WriteString("id,ts,user_id,event,amount,ok,note\n")
	}
	for i := 0; buf.Len() < size; i++ {
		ts := "2024-03-01T12:34:56." + strconv.Itoa(100+i%900) + "Z"
		ok := i%3 != 0
		note := notes[i%len(notes)]
		if jsonl {
			fmt.Fprintf(&buf, `{"id":%d,"ts":%q,"user_id":%d,"event":%q,"amount":%d.5,"ok":%t,"note":%q}`+"\n",
				i, ts, i%10007, events[i%len(events)], i%1000, ok, note)
			continue
		}
		fmt.Fprintf(&buf, "%d,%s,%d,%s,%d.5,%t,", i, ts, i%10007, events[i%len(events)], i%1000, ok)
		switch i % 4 {
		case 0, 2:
			buf.WriteString(`"` + string(bytes.ReplaceAll([]byte(note), []byte(`"`), []byte(`""`))) + `"`)
		case 1:
			buf.WriteString(note)
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

var benchData = sync.OnceValue(func() memStore {
	return memStore{"b.csv": benchRows(64<<20, false), "b.jsonl": benchRows(64<<20, true)}
})

// discard is a sync pusher whose target is free: what is left is reading
// and parsing.
type discard struct{}

func (discard) Push(_ context.Context, c *pusher.Chunk) error { c.Release(); return nil }
func (discard) Finish(_ pusher.Object, err error, done func(pusher.FileResult)) {
	done(pusher.FileResult{Err: err})
}

// BenchmarkFile loads 64 MB of CSV and of JSON lines from memory with one
// and with two parse workers:
//
//	go test -run XXX -bench BenchmarkFile -benchtime 5x ./source/load
func BenchmarkFile(b *testing.B) {
	store := benchData()
	for _, key := range []string{"b.csv", "b.jsonl"} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", key, workers), func(b *testing.B) {
				cfg := Config{Format: format.Options{Format: "auto", Header: true}, MaxRejects: -1, ParseWorkers: workers}
				b.SetBytes(int64(len(store[key])))
				b.ReportAllocs()
				for b.Loop() {
					st, err := File(b.Context(), store, pusher.Object{Key: key}, pusher.Position{}, cfg, discard{})
					if err != nil {
						b.Fatal(err)
					}
					if st.Records == 0 {
						b.Fatal("no records")
					}
				}
			})
		}
	}
}
