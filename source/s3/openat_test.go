package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// fakeObject serves ranges of data and records the requests.
type fakeObject struct {
	data []byte
	mu   sync.Mutex
	reqs []string // "off+len"
	err  error    // returned by every fetch when set
}

func (f *fakeObject) fetch(ctx context.Context, p []byte, off int64) error {
	f.mu.Lock()
	f.reqs = append(f.reqs, fmt.Sprintf("%d+%d", off, len(p)))
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if off < 0 || off+int64(len(p)) > int64(len(f.data)) {
		return fmt.Errorf("fake: range %d+%d outside %d bytes", off, len(p), len(f.data))
	}
	copy(p, f.data[off:])
	return nil
}

func (f *fakeObject) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestRangeReaderReadAt(t *testing.T) {
	f := &fakeObject{data: testData(100)}
	r := newRangeReader(context.Background(), 100, ReadAtOptions{Block: 16, Blocks: 2}, f.fetch)
	steps := []struct {
		off  int64
		n    int
		want int // bytes read
		err  error
		reqs string
	}{
		{0, 4, 4, nil, "[0+16]"},     // miss: one block from 0
		{4, 8, 8, nil, "[]"},         // inside the block
		{12, 8, 8, nil, "[16+16]"},   // 4 cached bytes, then a block from 16
		{50, 16, 16, nil, "[50+16]"}, // a read of a whole block goes straight through
		{90, 4, 4, nil, "[90+10]"},   // the last block is short
		{96, 8, 4, io.EOF, "[]"},     // across the end
		{100, 1, 0, io.EOF, "[]"},    // at the end
		{150, 1, 0, io.EOF, "[]"},    // past the end
		{99, 0, 0, nil, "[]"},        // empty read
		{0, 4, 4, nil, "[0+16]"},     // evicted: 16+16 was the least recently used
		{8, 4, 4, nil, "[]"},         // kept
		{20, 4, 4, nil, "[20+16]"},   // 16+16 is gone; 90+10 goes
		{92, 4, 4, nil, "[92+8]"},    // a block from the offset read; 0+16 goes
		{24, 40, 40, nil, "[36+28]"}, // 12 cached bytes, then the rest straight through
		{95, 5, 5, nil, "[]"},        // the end exactly: no EOF
		{16, 84, 84, nil, "[16+84]"}, // not cached at 16: straight through
		{20, 8, 8, nil, "[]"},        // 20+16 still kept
	}
	for _, s := range steps {
		p := make([]byte, s.n)
		n, err := r.ReadAt(p, s.off)
		if n != s.want || err != s.err {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d, %v", s.n, s.off, n, err, s.want, s.err)
		}
		if lo := min(s.off, 100); !bytes.Equal(p[:n], f.data[lo:lo+int64(n)]) {
			t.Errorf("ReadAt(%d bytes at %d): wrong bytes", s.n, s.off)
		}
		if got := fmt.Sprint(f.requests()); got != s.reqs {
			t.Errorf("ReadAt(%d bytes at %d): requests %s, want %s", s.n, s.off, got, s.reqs)
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset: no error")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 100} {
		if _, err := r.ReadAt(make([]byte, 1), off); !errors.Is(err, errClosed) {
			t.Errorf("ReadAt(%d) after Close = %v", off, err)
		}
	}
}

func TestRangeReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeObject{data: testData(100), err: boom}
	r := newRangeReader(context.Background(), 100, ReadAtOptions{Block: 16, Blocks: 2}, f.fetch)
	if n, err := r.ReadAt(make([]byte, 4), 10); n != 0 || !errors.Is(err, boom) {
		t.Errorf("ReadAt = %d, %v; want the fetch error", n, err)
	}
	f.err = nil
	if _, err := r.ReadAt(make([]byte, 4), 0); err != nil {
		t.Fatal(err)
	}
	f.err = boom
	// 16 bytes come from the cache, the rest fails.
	if n, err := r.ReadAt(make([]byte, 20), 0); n != 16 || !errors.Is(err, boom) {
		t.Errorf("ReadAt = %d, %v; want 16 and the fetch error", n, err)
	}
	f.err = nil
	ctx, cancel := context.WithCancel(context.Background())
	r = newRangeReader(ctx, 100, ReadAtOptions{Block: 16}, f.fetch)
	cancel()
	if _, err := r.ReadAt(make([]byte, 4), 50); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAt with a canceled context = %v", err)
	}
}

func TestRangeReaderDefaults(t *testing.T) {
	f := &fakeObject{data: testData(3 << 20)}
	r := newRangeReader(context.Background(), int64(len(f.data)), ReadAtOptions{}, f.fetch)
	if r.block != DefaultReadAtBlock || r.nspans != DefaultReadAtBlocks {
		t.Errorf("block %d, spans %d", r.block, r.nspans)
	}
	// Reading the object in 4 KiB pieces makes one request per MiB.
	p := make([]byte, 4096)
	for off := int64(0); off < int64(len(f.data)); off += int64(len(p)) {
		if _, err := r.ReadAt(p, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, f.data[off:off+int64(len(p))]) {
			t.Fatalf("wrong bytes at %d", off)
		}
	}
	if got := len(f.requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
}

// TestRangeReaderConcurrent reads random ranges from several goroutines,
// the way a Parquet reader reads column chunks side by side.
func TestRangeReaderConcurrent(t *testing.T) {
	f := &fakeObject{data: testData(1 << 16)}
	r := newRangeReader(context.Background(), int64(len(f.data)), ReadAtOptions{Block: 1024, Blocks: 3}, f.fetch)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			p := make([]byte, 3000)
			for range 500 {
				off := rng.Int64N(int64(len(f.data)))
				n := rng.IntN(len(p))
				got, err := r.ReadAt(p[:n], off)
				want := min(n, len(f.data)-int(off))
				if got != want || (err != nil && !(err == io.EOF && want < n)) {
					t.Errorf("ReadAt(%d at %d) = %d, %v", n, off, got, err)
					return
				}
				if !bytes.Equal(p[:got], f.data[off:off+int64(got)]) {
					t.Errorf("ReadAt(%d at %d): wrong bytes", n, off)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRangeTotal(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int64
		okay bool
	}{
		{"bytes 0-9/1234", 1234, true},
		{"bytes 0-0/1", 1, true},
		{"bytes */1234", 1234, true},
		{"bytes 0-9/*", 0, false},
		{"", 0, false},
	} {
		n, ok := rangeTotal(tt.in)
		if n != tt.n || ok != tt.okay {
			t.Errorf("rangeTotal(%q) = %d, %v", tt.in, n, ok)
		}
	}
}
