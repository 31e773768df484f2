//go:build integration

package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	parquetgo "github.com/parquet-go/parquet-go"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	_ "github.com/ferrydata/ferry/source/format/parquet"
)

func TestMinIOOpenAt(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	bucket := testBucket(t, c)

	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	put(t, c, bucket, "big.bin", data)
	put(t, c, bucket, "small.bin", []byte("0123456789"))
	put(t, c, bucket, "empty.bin", nil)

	s, err := New(ctx, Config{URL: "s3://" + bucket, Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]pusher.Object{}
	if err := s.List(ctx, func(page []pusher.Object) error {
		for _, o := range page {
			byKey[o.Key] = o
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	big, small, empty := byKey["big.bin"], byKey["small.bin"], byKey["empty.bin"]

	t.Run("reads", func(t *testing.T) {
		ra, err := s.OpenAt(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		defer ra.Close()
		rr := ra.(*rangeReader)
		if n := rr.requests.Load(); n != 1 {
			t.Errorf("OpenAt made %d requests, want 1 (the last block)", n)
		}
		// The tail is cached: reading a footer costs nothing more.
		p := make([]byte, 8)
		if _, err := ra.ReadAt(p, big.Size-8); err != nil || !bytes.Equal(p, data[len(data)-8:]) {
			t.Errorf("ReadAt(tail) = %v", err)
		}
		if n := rr.requests.Load(); n != 1 {
			t.Errorf("%d requests after reading the tail, want 1", n)
		}
		// Sequential small reads: one request per block.
		rr.requests.Store(0)
		q := make([]byte, 4096)
		var got bytes.Buffer
		for off := int64(0); ; off += int64(len(q)) {
			n, err := ra.ReadAt(q, off)
			got.Write(q[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Error("sequential reads: wrong bytes")
		}
		if n := rr.requests.Load(); n > 4 {
			t.Errorf("sequential 4 KiB reads made %d requests, want at most 4", n)
		}
		// Concurrent reads of scattered ranges.
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				p := make([]byte, 100_000)
				for i := range 10 {
					off := int64((g*10+i)*37_000) % (big.Size - int64(len(p)))
					if _, err := ra.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+int64(len(p))]) {
						t.Errorf("ReadAt(%d) = %v or wrong bytes", off, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n, err := ra.ReadAt(make([]byte, 10), big.Size-4); n != 4 || err != io.EOF {
			t.Errorf("ReadAt across the end = %d, %v", n, err)
		}
		if n, err := ra.ReadAt(make([]byte, 10), big.Size); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at the end = %d, %v", n, err)
		}
	})

	t.Run("small and empty", func(t *testing.T) {
		for _, obj := range []pusher.Object{small, {Key: "small.bin", Size: 10}} { // listed, and without an ETag
			ra, err := s.OpenAt(ctx, obj)
			if err != nil {
				t.Fatal(err)
			}
			p := make([]byte, 4)
			if n, err := ra.ReadAt(p, 3); n != 4 || err != nil || string(p) != "3456" {
				t.Errorf("ReadAt = %q, %v", p[:n], err)
			}
			ra.Close()
		}
		ra, err := s.OpenAt(ctx, empty)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := ra.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
			t.Errorf("ReadAt(empty) = %d, %v", n, err)
		}
		ra.Close()
	})

	t.Run("errors", func(t *testing.T) {
		for _, obj := range []pusher.Object{{Key: "missing", Size: 10, ETag: "abc"}, {Key: "missing", Size: 10}, {Key: "missing"}} {
			if _, err := s.OpenAt(ctx, obj); !errors.Is(err, source.ErrNotFound) {
				t.Errorf("OpenAt(%+v) = %v, want ErrNotFound", obj, err)
			} else {
				t.Log(err)
			}
		}
		if _, err := s.OpenAt(ctx, pusher.Object{Key: "small.bin", Size: 10, ETag: "0123"}); !errors.Is(err, ErrChanged) {
			t.Errorf("OpenAt with a wrong ETag = %v, want ErrChanged", err)
		} else {
			t.Log(err)
		}
		// A wrong size without an ETag is caught by the Content-Range.
		if _, err := s.OpenAt(ctx, pusher.Object{Key: "small.bin", Size: 8}); !errors.Is(err, ErrChanged) {
			t.Errorf("OpenAt with a wrong size = %v, want ErrChanged", err)
		} else {
			t.Log(err)
		}
		if _, err := s.OpenAt(ctx, pusher.Object{Key: "small.bin", Size: 0}); !errors.Is(err, ErrChanged) {
			t.Errorf("OpenAt with size 0 = %v, want ErrChanged", err)
		}

		// Rewritten after OpenAt: cached bytes still read, the rest fails.
		ra, err := s.OpenAt(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		defer ra.Close()
		put(t, c, bucket, "big.bin", data[:1000])
		p := make([]byte, 100)
		if _, err := ra.ReadAt(p, big.Size-100); err != nil {
			t.Errorf("ReadAt(cached tail) = %v", err)
		}
		if _, err := ra.ReadAt(p, 0); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "big.bin") {
			t.Errorf("ReadAt after a rewrite = %v, want ErrChanged", err)
		} else {
			t.Log(err)
		}
		// Deleted after OpenAt.
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("big.bin")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ra.ReadAt(p, 0); !errors.Is(err, source.ErrNotFound) {
			t.Errorf("ReadAt after a delete = %v, want ErrNotFound", err)
		}
		// A canceled context fails the reads that need a request.
		put(t, c, bucket, "big2.bin", data)
		big2 := big
		big2.Key, big2.ETag = "big2.bin", ""
		cctx, cancel := context.WithCancel(ctx)
		ra2, err := s.OpenAt(cctx, big2)
		if err != nil {
			t.Fatal(err)
		}
		defer ra2.Close()
		cancel()
		if _, err := ra2.ReadAt(p, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadAt with a canceled context = %v", err)
		}
	})
}

type pqRow struct {
	ID   int64    `parquet:"id"`
	Name string   `parquet:"name"`
	Tags []string `parquet:"tags,list"`
}

// TestMinIOOpenAtParquet reads a Parquet file of several row groups through
// OpenAt and counts the requests it takes.
func TestMinIOOpenAtParquet(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	bucket := testBucket(t, c)

	const n = 1_000_000
	data := parquetFile(t, n)
	put(t, c, bucket, "f.parquet", data)
	s, err := New(ctx, Config{URL: "s3://" + bucket, Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	var obj pusher.Object
	s.List(ctx, func(page []pusher.Object) error { obj = page[0]; return nil })

	for _, tt := range []struct {
		start int64
		o     ReadAtOptions
	}{{0, ReadAtOptions{}}, {123_456, ReadAtOptions{}}, {0, ReadAtOptions{Block: 64 << 10, Blocks: 2}}} {
		start := tt.start
		ra, err := s.OpenAtWith(ctx, obj, tt.o)
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewAt(ra, obj.Size, format.Options{Format: format.Parquet}, pusher.Position{Records: start})
		if err != nil {
			t.Fatal(err)
		}
		var b pusher.Batch
		got := start
		for {
			err := r.Next(&b)
			for i := range b.Len() {
				f := b.Record(i)[0]
				if string(b.Value(f)) != fmt.Sprint(got) {
					t.Fatalf("record %d: id %s", got+1, b.Value(f))
				}
				got++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		ra.Close()
		if got != n {
			t.Errorf("start %d: read to %d, want %d", start, got, n)
		}
		t.Logf("start %d, %+v: %d-byte file read in %d requests", start, tt.o, obj.Size, ra.(*rangeReader).requests.Load())
	}
}

// parquetFile returns a file of n rows in row groups of 50,000.
func parquetFile(t testing.TB, n int) []byte {
	t.Helper()
	rows := make([]pqRow, n)
	for i := range rows {
		rows[i] = pqRow{ID: int64(i), Name: fmt.Sprintf("%x", uint64(i)*0x9e3779b97f4a7c15), Tags: []string{"a", "b"}[:i%3%2+1]}
	}
	var buf bytes.Buffer
	if err := parquetgo.Write(&buf, rows, parquetgo.MaxRowsPerRowGroup(50_000), parquetgo.Compression(&parquetgo.Snappy)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkMinIOOpenAtParquet reads a Parquet file of 1,000,000 rows
// through OpenAt.
func BenchmarkMinIOOpenAtParquet(b *testing.B) {
	ep := testEndpoint(b)
	ctx := context.Background()
	c := testClient(b, ep)
	bucket := testBucket(b, c)
	data := parquetFile(b, 1_000_000)
	put(b, c, bucket, "f.parquet", data)
	s, err := New(ctx, Config{URL: "s3://" + bucket, Endpoint: ep, PathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	var obj pusher.Object
	s.List(ctx, func(page []pusher.Object) error { obj = page[0]; return nil })
	b.SetBytes(obj.Size)
	var batch pusher.Batch
	var requests int64
	for b.Loop() {
		ra, err := s.OpenAt(ctx, obj)
		if err != nil {
			b.Fatal(err)
		}
		r, err := format.NewAt(ra, obj.Size, format.Options{Format: format.Parquet}, pusher.Position{})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			err := r.Next(&batch)
			rows += batch.Len()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if rows != 1_000_000 {
			b.Fatalf("%d rows", rows)
		}
		requests += ra.(*rangeReader).requests.Load()
		ra.Close()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
}
