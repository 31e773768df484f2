//go:build integration

package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// testEndpoint returns the MinIO (or other S3) endpoint for integration
// tests, from FERRY_TEST_S3_ENDPOINT. Credentials come from the default
// chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Without the variable the
// test is skipped, except in CI (CI=true), where it fails.
func testEndpoint(t testing.TB) string {
	ep := os.Getenv("FERRY_TEST_S3_ENDPOINT")
	if ep == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("FERRY_TEST_S3_ENDPOINT is not set (required when CI=true)")
		}
		t.Skip("FERRY_TEST_S3_ENDPOINT is not set")
	}
	return ep
}

// testClient returns a raw S3 client for setting up fixtures.
func testClient(t testing.TB, endpoint string, mods ...func(*s3.Options)) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(endpoint)
	}}, mods...)...)
}

// testBucket creates a bucket of its own for the test and removes it after.
func testBucket(t testing.TB, c *s3.Client) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := fmt.Sprintf("ferry-test-%x", b)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	t.Cleanup(func() {
		pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				t.Logf("cleanup: %v", err)
				return
			}
			var ids []types.ObjectIdentifier
			for _, o := range out.Contents {
				ids = append(ids, types.ObjectIdentifier{Key: o.Key})
			}
			if len(ids) > 0 {
				if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(name), Delete: &types.Delete{Objects: ids}}); err != nil {
					t.Logf("cleanup: %v", err)
				}
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return name
}

func put(t testing.TB, c *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func readAll(t *testing.T, s *Store, obj pusher.Object, off int64) (string, error) {
	t.Helper()
	rc, err := s.Open(context.Background(), obj, off)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestMinIO(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	bucket := testBucket(t, c)

	put(t, c, bucket, "in/a.csv", []byte("0123456789"))
	put(t, c, bucket, "in/sub/b.csv", []byte("b"))
	put(t, c, bucket, "in/empty", nil)
	put(t, c, bucket, "inx/c.csv", []byte("not under in/"))
	put(t, c, bucket, "top.csv", []byte("top"))

	t.Run("errors", func(t *testing.T) {
		_, err := New(ctx, Config{URL: "s3://" + bucket + "-nope/in", Endpoint: ep, PathStyle: true})
		if want := fmt.Sprintf("bucket %q does not exist", bucket+"-nope"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("missing bucket: %v, want %q", err, want)
		}
		t.Log(err)
		t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
		_, err = New(ctx, Config{URL: "s3://" + bucket, Endpoint: ep, PathStyle: true})
		if want := fmt.Sprintf("access denied to bucket %q", bucket); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("bad credentials: %v, want %q", err, want)
		}
		t.Log(err)
	})

	t.Run("endpoint from env", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_S3", ep)
		s, err := New(ctx, Config{URL: "s3://" + bucket, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.endpoint != ep {
			t.Errorf("endpoint %q, want %q", s.endpoint, ep)
		}
	})

	s, err := New(ctx, Config{URL: "s3://" + bucket + "/in/", Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "s3://"+bucket+"/in"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	var objs []pusher.Object
	if err := s.List(ctx, func(page []pusher.Object) error { objs = append(objs, page...); return nil }); err != nil {
		t.Fatal(err)
	}
	var got []string
	byKey := map[string]pusher.Object{}
	for _, o := range objs {
		got = append(got, fmt.Sprintf("%s %s %d", o.Key, s.Rel(o.Key), o.Size))
		byKey[o.Key] = o
		if o.ETag == "" || strings.Contains(o.ETag, `"`) || o.LastModified.IsZero() {
			t.Errorf("%s: ETag %q, LastModified %v", o.Key, o.ETag, o.LastModified)
		}
	}
	want := []string{"in/a.csv a.csv 10", "in/empty empty 0", "in/sub/b.csv sub/b.csv 1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("list = %q, want %q", got, want)
	}

	a := byKey["in/a.csv"]
	for _, tt := range []struct {
		obj  pusher.Object
		off  int64
		want string
	}{
		{a, 0, "0123456789"},
		{a, 3, "3456789"},
		{a, 10, ""}, // resuming at the end
		{pusher.Object{Key: "in/a.csv"}, 5, "56789"}, // no ETag: no If-Match
		{byKey["in/empty"], 0, ""},
	} {
		if got, err := readAll(t, s, tt.obj, tt.off); err != nil || got != tt.want {
			t.Errorf("Open(%s, %d) = %q, %v; want %q", tt.obj.Key, tt.off, got, err, tt.want)
		}
	}
	if _, err := readAll(t, s, a, 11); err == nil || errors.Is(err, source.ErrNotFound) {
		t.Errorf("Open past the end: %v", err)
	} else {
		t.Log(err)
	}
	if _, err := readAll(t, s, pusher.Object{Key: "in/missing", ETag: "abc"}, 0); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Open missing: %v, want ErrNotFound", err)
	}
	if _, err := readAll(t, s, pusher.Object{Key: "in/missing"}, 4); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Open missing at offset: %v, want ErrNotFound", err)
	}

	// Rewritten after listing: the listed version is gone.
	put(t, c, bucket, "in/a.csv", []byte("ABCDEFGHIJ"))
	for _, off := range []int64{0, 3} {
		_, err := readAll(t, s, a, off)
		if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "changed since listing") {
			t.Errorf("Open rewritten at %d: %v, want ErrChanged", off, err)
		}
		t.Log(err)
	}
	// Deleted after listing.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/sub/b.csv")}); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, s, byKey["in/sub/b.csv"], 0); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Open deleted: %v, want ErrNotFound", err)
	} else {
		t.Log(err)
	}
}

func TestMinIOPages(t *testing.T) {
	ep := testEndpoint(t)
	c := testClient(t, ep)
	bucket := testBucket(t, c)
	const n = 2*PageSize + 7
	keys := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range keys {
				put(t, c, bucket, fmt.Sprintf("p/%05d.csv", i), []byte("x"))
			}
		})
	}
	for i := range n {
		keys <- i
	}
	close(keys)
	wg.Wait()
	put(t, c, bucket, "q/outside", []byte("x"))

	s, err := New(context.Background(), Config{URL: "s3://" + bucket + "/p", Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	last := ""
	err = s.List(context.Background(), func(page []pusher.Object) error {
		sizes = append(sizes, len(page))
		for _, o := range page {
			if o.Key <= last || !strings.HasPrefix(o.Key, "p/") {
				return fmt.Errorf("key %q after %q", o.Key, last)
			}
			last = o.Key
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != fmt.Sprint([]int{PageSize, PageSize, 7}) {
		t.Errorf("pages %v", sizes)
	}
}

// BenchmarkOpen reads one large object through Store.Open, with the SDK's
// response checksum validation as configured by New (only when required)
// and with the SDK default (when supported), on an object uploaded with a
// CRC32 and a CRC64NVME checksum.
func BenchmarkOpen(b *testing.B) {
	ep := testEndpoint(b)
	ctx := context.Background()
	c := testClient(b, ep)
	bucket := testBucket(b, c)
	data := make([]byte, 64<<20)
	rand.Read(data)
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc64nvme} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(string(alg)), Body: bytes.NewReader(data),
			ChecksumAlgorithm: alg,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []aws.ResponseChecksumValidation{aws.ResponseChecksumValidationWhenRequired, aws.ResponseChecksumValidationWhenSupported} {
		s, err := New(ctx, Config{URL: "s3://" + bucket, Endpoint: ep, PathStyle: true})
		if err != nil {
			b.Fatal(err)
		}
		s.client = testClient(b, ep, func(o *s3.Options) { o.ResponseChecksumValidation = mode })
		for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc64nvme} {
			name := map[aws.ResponseChecksumValidation]string{
				aws.ResponseChecksumValidationWhenRequired:  "validate=when_required",
				aws.ResponseChecksumValidationWhenSupported: "validate=when_supported",
			}[mode] + "/" + string(alg)
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					rc, err := s.Open(ctx, pusher.Object{Key: string(alg)}, 0)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, rc)
					rc.Close()
					if err != nil || n != int64(len(data)) {
						b.Fatalf("read %d, %v", n, err)
					}
				}
			})
		}
	}
}
