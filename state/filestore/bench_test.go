package filestore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state/filestore"
)

// tracked returns a store whose pipeline "p" already tracks n done files,
// written as the single JSON file that every version of the store reads.
func tracked(b *testing.B, n int) *filestore.Store {
	b.Helper()
	s, err := filestore.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	type entry struct {
		Key      string          `json:"key"`
		ETag     string          `json:"etag"`
		Size     int64           `json:"size"`
		Status   string          `json:"status"`
		Pos      pusher.Position `json:"position"`
		Attempts int             `json:"attempts"`
		Updated  time.Time       `json:"updated_at"`
	}
	doc := struct {
		Version  int     `json:"version"`
		Pipeline string  `json:"pipeline"`
		Files    []entry `json:"files"`
	}{Version: 1, Pipeline: "p"}
	for i := range n {
		doc.Files = append(doc.Files, entry{Key: fmt.Sprintf("landing/2024/05/01/file-%06d.csv", i), ETag: "0123456789abcdef0123456789abcdef",
			Size: 1000, Status: "done", Pos: pusher.Position{Records: 10, Offset: 1000}, Attempts: 1, Updated: time.Now().UTC()})
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(s.Path("p"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkStep is the cost of one durable step (an Advance) with 1,000
// and 10,000 files tracked: flat when a step does not depend on the
// size of the state. Run with -benchtime=2000x or so: every step fsyncs.
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("tracked=%d", n), func(b *testing.B) {
			s := tracked(b, n)
			defer s.Close()
			ctx := context.Background()
			o := pusher.Object{Key: "landing/loading.csv", ETag: "e"}
			if _, err := s.Start(ctx, "p", o); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				c := &pusher.Chunk{File: o, Start: pusher.Position{Records: int64(i)}, End: pusher.Position{Records: int64(i) + 1}}
				if err := s.Advance(ctx, "p", c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStepParallel: steps of concurrent workers (GOMAXPROCS times
// -cpu goroutines) on one pipeline, each loading its own file.
func BenchmarkStepParallel(b *testing.B) {
	s := tracked(b, 1000)
	defer s.Close()
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		o := pusher.Object{Key: fmt.Sprintf("landing/loading-%d.csv", next.Add(1)), ETag: "e"}
		if _, err := s.Start(ctx, "p", o); err != nil {
			b.Error(err)
			return
		}
		for i := int64(0); pb.Next(); i++ {
			c := &pusher.Chunk{File: o, Start: pusher.Position{Records: i}, End: pusher.Position{Records: i + 1}}
			if err := s.Advance(ctx, "p", c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
