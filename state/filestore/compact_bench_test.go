package filestore

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// BenchmarkCompact is the cost of one compaction with 1,000 and 10,000
// files tracked. It happens at most once per max(compactFloor,
// compactRatio × files) changes, so its share of a step (the reported
// amortized figure) is small and does not grow with the files.
func BenchmarkCompact(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("tracked=%d", n), func(b *testing.B) {
			s := mustNew(b, b.TempDir())
			defer s.Close()
			err := s.file("p").do(func(f *pipelineFile) (record, error) {
				for i := range n {
					f.put(&entry{Key: fmt.Sprintf("landing/2024/05/01/file-%06d.csv", i), ETag: "0123456789abcdef0123456789abcdef",
						Size: 1000, Status: state.Done, Pos: pusher.Position{Records: 10, Offset: 1000}, Attempts: 1, Updated: time.Now().UTC()})
				}
				return record{}, nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := s.file("p").do(func(f *pipelineFile) (record, error) { return record{}, f.compact() }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(max(compactFloor, compactRatio*n)), "µs/step-amortized")
		})
	}
}
