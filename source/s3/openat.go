package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

var _ source.RandomAccessStore = (*Store)(nil)

// Defaults for ReadAtOptions.
const (
	// DefaultReadAtBlock is the smallest range one GetObject fetches.
	DefaultReadAtBlock = 1 << 20
	// DefaultReadAtBlocks is how many fetched ranges a reader keeps. A
	// Parquet reader reads the column chunks of a row group side by side,
	// so this is roughly how many columns stream without refetching.
	DefaultReadAtBlocks = 16
)

// bodyAttempts bounds how often a range whose body failed mid-transfer is
// requested again (the SDK already retries requests that fail before the
// body).
const bodyAttempts = 3

// ReadAtOptions tune the reader OpenAtWith returns. Zero fields take the
// defaults.
type ReadAtOptions struct {
	// Block is the smallest range fetched per request (default 1 MiB): a
	// small read fetches Block bytes from its offset and keeps them, so
	// that the reads after it are served from memory.
	Block int
	// Blocks is how many fetched ranges are kept, least recently used
	// dropped first (default 16). Memory per reader is at most
	// Block*Blocks plus the reads in progress.
	Blocks int
}

func (o ReadAtOptions) withDefaults() ReadAtOptions {
	if o.Block <= 0 {
		o.Block = DefaultReadAtBlock
	}
	if o.Blocks <= 0 {
		o.Blocks = DefaultReadAtBlocks
	}
	return o
}

// OpenAt returns random access to the object version obj, with the default
// ReadAtOptions; see OpenAtWith.
func (s *Store) OpenAt(ctx context.Context, obj pusher.Object) (source.ReaderAtCloser, error) {
	return s.OpenAtWith(ctx, obj, ReadAtOptions{})
}

// OpenAtWith returns random access to the object version obj: each ReadAt
// not served from the reader's cache is a ranged GetObject carrying
// If-Match obj.ETag (when set), so a rewritten object fails with an error
// wrapping ErrChanged and a deleted one with source.ErrNotFound, as Open
// does. obj.Size is the size the reader serves: ReadAt at or past it
// returns io.EOF. Requests use ctx, which must stay live while the reader
// is used. ReadAt is safe for concurrent use.
//
// OpenAtWith fetches the object's last block at once (Parquet keeps its
// footer there), so a missing or changed object fails here rather than at
// the first read.
func (s *Store) OpenAtWith(ctx context.Context, obj pusher.Object, o ReadAtOptions) (source.ReaderAtCloser, error) {
	if obj.Size < 0 {
		return nil, fmt.Errorf("open %s: negative size %d", s.objURL(obj.Key), obj.Size)
	}
	r := newRangeReader(ctx, obj.Size, o, func(ctx context.Context, p []byte, off int64) error {
		return s.getRange(ctx, obj, p, off)
	})
	if obj.Size == 0 {
		if err := s.head(ctx, obj); err != nil {
			return nil, err
		}
		return r, nil
	}
	if _, err := r.prefetch(max(0, obj.Size-int64(r.block))); err != nil {
		return nil, err
	}
	return r, nil
}

// getRange fills p with the object's bytes from off.
func (s *Store) getRange(ctx context.Context, obj pusher.Object, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	in := &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(obj.Key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)),
	}
	if obj.ETag != "" {
		in.IfMatch = aws.String(`"` + obj.ETag + `"`)
	}
	var err error
	for range bodyAttempts {
		var out *s3.GetObjectOutput
		out, err = s.client.GetObject(ctx, in)
		if err != nil {
			return s.rangeError(obj, off, len(p), err)
		}
		if total, ok := rangeTotal(aws.ToString(out.ContentRange)); ok && total != obj.Size {
			out.Body.Close()
			return fmt.Errorf("read %s: %w (size %d, %d when listed)", s.objURL(obj.Key), ErrChanged, total, obj.Size)
		}
		if n := aws.ToInt64(out.ContentLength); n != int64(len(p)) {
			out.Body.Close()
			return fmt.Errorf("read %s bytes %d-%d: got %d bytes (size %d when listed)", s.objURL(obj.Key), off, off+int64(len(p))-1, n, obj.Size)
		}
		_, err = io.ReadFull(out.Body, p)
		out.Body.Close()
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("read %s bytes %d-%d: %w", s.objURL(obj.Key), off, off+int64(len(p))-1, classify(err))
	}
	return nil
}

// head checks that an empty object is still there, unchanged.
func (s *Store) head(ctx context.Context, obj pusher.Object) error {
	in := &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key)}
	if obj.ETag != "" {
		in.IfMatch = aws.String(`"` + obj.ETag + `"`)
	}
	out, err := s.client.HeadObject(ctx, in)
	if err != nil {
		return s.rangeError(obj, 0, 0, err)
	}
	if n := aws.ToInt64(out.ContentLength); n != obj.Size {
		return fmt.Errorf("open %s: %w (size %d, %d when listed)", s.objURL(obj.Key), ErrChanged, n, obj.Size)
	}
	return nil
}

// rangeError translates a failed GetObject or HeadObject as Open does.
func (s *Store) rangeError(obj pusher.Object, off int64, n int, err error) error {
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	var respErr *awshttp.ResponseError
	switch {
	case errors.As(err, &noKey), errors.As(err, &notFound):
		return fmt.Errorf("read %s: %w", s.objURL(obj.Key), source.ErrNotFound)
	case errors.As(err, &respErr):
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("read %s: %w (%s)", s.objURL(obj.Key), source.ErrNotFound, apiMessage(err))
		case http.StatusForbidden:
			return fmt.Errorf("access denied to %s (endpoint %s; check the credentials, the bucket policy and the object's encryption key): %s", s.objURL(obj.Key), s.endpoint, apiMessage(err))
		case http.StatusPreconditionFailed:
			return fmt.Errorf("read %s: %w (listed ETag %q no longer matches)", s.objURL(obj.Key), ErrChanged, obj.ETag)
		case http.StatusRequestedRangeNotSatisfiable:
			return fmt.Errorf("read %s bytes %d-%d: beyond the end of the object (size %d when listed)", s.objURL(obj.Key), off, off+int64(n)-1, obj.Size)
		}
	}
	return fmt.Errorf("read %s: %w", s.objURL(obj.Key), classify(err))
}

// rangeTotal returns the complete length from a Content-Range header
// ("bytes 0-9/1234").
func rangeTotal(h string) (int64, bool) {
	i := strings.LastIndexByte(h, '/')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(h[i+1:], 10, 64)
	return n, err == nil
}

// errClosed is returned by ReadAt after Close.
var errClosed = errors.New("read from a closed S3 object reader")

// rangeReader is an io.ReaderAt over fetch with a small cache of fetched
// ranges.
type rangeReader struct {
	ctx   context.Context
	size  int64
	block int
	fetch func(ctx context.Context, p []byte, off int64) error

	mu     sync.Mutex
	spans  []span // least recently used first
	nspans int    // most spans kept
	closed bool

	requests atomic.Int64 // fetches made, for tests
}

// span is a fetched range: the bytes at off.
type span struct {
	off  int64
	data []byte
}

func newRangeReader(ctx context.Context, size int64, o ReadAtOptions, fetch func(ctx context.Context, p []byte, off int64) error) *rangeReader {
	o = o.withDefaults()
	return &rangeReader{ctx: ctx, size: size, block: o.Block, nspans: o.Blocks, fetch: fetch}
}

// ReadAt reads len(p) bytes at off, per io.ReaderAt: fewer only at the end
// of the object (with io.EOF) or on an error.
func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= r.size {
		if r.isClosed() {
			return 0, errClosed
		}
		return 0, io.EOF
	}
	want := p
	if rest := r.size - off; int64(len(p)) > rest {
		want = p[:rest]
	}
	n := 0
	for n < len(want) {
		cur := off + int64(n)
		c, err := r.cached(want[n:], cur)
		if err != nil {
			return n, err
		}
		if c > 0 {
			n += c
			continue
		}
		if len(want)-n >= r.block {
			// A large read goes straight into p and is not kept.
			r.requests.Add(1)
			if err := r.fetch(r.ctx, want[n:], cur); err != nil {
				return n, err
			}
			n = len(want)
			break
		}
		data, err := r.prefetch(cur)
		if err != nil {
			return n, err
		}
		n += copy(want[n:], data)
	}
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// cached copies into p what the cache holds at off, marking the span used.
func (r *rangeReader) cached(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errClosed
	}
	for i := len(r.spans) - 1; i >= 0; i-- {
		s := r.spans[i]
		if off < s.off || off >= s.off+int64(len(s.data)) {
			continue
		}
		n := copy(p, s.data[off-s.off:])
		if i != len(r.spans)-1 {
			copy(r.spans[i:], r.spans[i+1:])
			r.spans[len(r.spans)-1] = s
		}
		return n, nil
	}
	return 0, nil
}

// prefetch fetches a block from off (less at the end of the object), keeps
// it and returns it. The fetch runs without the lock, so that readers of
// other ranges are not held up.
func (r *rangeReader) prefetch(off int64) ([]byte, error) {
	buf := make([]byte, min(int64(r.block), r.size-off))
	r.requests.Add(1)
	if err := r.fetch(r.ctx, buf, off); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if len(r.spans) >= r.nspans {
		copy(r.spans, r.spans[1:])
		r.spans = r.spans[:len(r.spans)-1]
	}
	r.spans = append(r.spans, span{off: off, data: buf})
	return buf, nil
}

func (r *rangeReader) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Close drops the cache; later reads fail.
func (r *rangeReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.spans = nil
	return nil
}
