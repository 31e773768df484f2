// Package s3 is a source.Store over an S3 bucket and key prefix, for AWS S3
// and S3-compatible stores such as MinIO.
//
// The root is s3://bucket/prefix. A non-empty prefix names a "directory":
// List returns the objects whose keys start with prefix + "/", with full
// keys, and Rel strips prefix + "/". List passes pages of up to 1000
// objects in key order, as ListObjectsV2 returns them.
//
// A root may also name one object (s3://bucket/dir/file.csv.gz): when the
// URL does not end in "/", an object's key is the prefix exactly, and no
// key lies under prefix + "/", New takes the root for that object alone;
// List returns it (while it exists) and Rel gives its last path element.
//
// Open reads an object from a byte offset (a Range request), and only the
// version that was listed: when the object's ETag is known, the request
// carries If-Match, so an object rewritten since it was listed fails with
// an error wrapping ErrChanged instead of being read as if it were the old
// one. A deleted object gives an error wrapping source.ErrNotFound.
//
// Credentials and region come from the SDK's default chain (environment,
// shared config, SSO, web identity, instance role). The endpoint is
// Config.Endpoint when set, else what the SDK resolves, which honours
// AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL. With no region configured,
// us-east-1 is used, which is what MinIO expects by default.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/backoff"
)

// DefaultRegion is used when no region is configured anywhere.
const DefaultRegion = "us-east-1"

// PageSize is the number of keys asked for per ListObjectsV2 call.
const PageSize = 1000

// CheckTimeout bounds the bucket check New makes.
const CheckTimeout = 10 * time.Second

// ErrChanged is wrapped by Open when the object's ETag no longer matches
// the listed one: the object was rewritten since it was listed.
// It is classed pusher.ClassGone: the version listed is no longer there.
var ErrChanged = pusher.Gone(errors.New("object changed since listing"))

// Config says where the store is and how to reach it.
type Config struct {
	// URL is the root: s3://bucket or s3://bucket/prefix.
	URL string
	// Endpoint overrides the S3 endpoint (http://127.0.0.1:9000 for a
	// local MinIO). Empty: the SDK's resolution, which honours the
	// AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL environment variables.
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket rather than
	// bucket.endpoint; MinIO usually needs it. (The SDK uses path style
	// for an IP-address endpoint anyway, but not for a host name such as
	// localhost.)
	PathStyle bool
	// Region overrides the region from the default chain.
	Region string
	// RetryMaxElapsed bounds the retries of a listing page or a HEAD
	// (Stat) that failed for a transient reason (5xx, throttling, a
	// reset), beyond the SDK's own few attempts: 0:
	// backoff.DefaultMaxElapsed; negative: none.
	RetryMaxElapsed time.Duration
	// Log receives a warning for each such retry.
	Log zerolog.Logger
}

// Validate checks the URL and endpoint without contacting S3.
func (c Config) Validate() error {
	if _, _, err := ParseURL(c.URL); err != nil {
		return err
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("S3 endpoint %q: want http://host[:port] or https://host[:port]", c.Endpoint)
		}
	}
	return nil
}

// ParseURL splits s3://bucket/prefix into bucket and prefix. The prefix has
// no leading or trailing '/' and may be empty.
func ParseURL(u string) (bucket, prefix string, err error) {
	const scheme = "s3://"
	if len(u) < len(scheme) || !strings.EqualFold(u[:len(scheme)], scheme) {
		return "", "", fmt.Errorf("S3 URL %q: want s3://bucket[/prefix]", u)
	}
	bucket, prefix, _ = strings.Cut(u[len(scheme):], "/")
	if bucket == "" {
		return "", "", fmt.Errorf("S3 URL %q: no bucket", u)
	}
	for _, r := range bucket {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return "", "", fmt.Errorf("S3 URL %q: invalid bucket name %q", u, bucket)
		}
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

// Store is a bucket and prefix.
type Store struct {
	cfg      Config
	client   *s3.Client
	bucket   string
	prefix   string // no leading or trailing '/'
	endpoint string // for messages
	custom   bool   // endpoint is not AWS's default
	object   bool   // the prefix is the key of the one object listed
}

var _ source.Store = (*Store)(nil)

// New connects to the bucket named by cfg.URL and checks, within
// CheckTimeout, that it exists and is accessible, so that a wrong bucket,
// endpoint or credentials fail at once with a one-line error.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bucket, prefix, _ := ParseURL(cfg.URL)
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		// Checksums only where S3 requires them: no CRC over every
		// downloaded byte (TLS and Content-Length already guard the
		// transfer) and no CRC trailer on uploads, which older
		// S3-compatible servers reject.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	s := &Store{cfg: cfg, client: client, bucket: bucket, prefix: prefix}
	if ep := client.Options().BaseEndpoint; ep != nil {
		s.endpoint, s.custom = *ep, true
	} else {
		s.endpoint = "https://s3." + awsCfg.Region + ".amazonaws.com"
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if prefix != "" && !strings.HasSuffix(cfg.URL, "/") {
		if s.object, err = s.isObject(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// isObject reports whether the prefix is the key of an object and no key
// lies under prefix + "/": two listings of one key each (the key equal
// to a prefix sorts first among the keys that start with it).
func (s *Store) isObject(ctx context.Context) (bool, error) {
	first := func(prefix string) (string, error) {
		out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
		if err != nil {
			return "", fmt.Errorf("list %s: %w", s, classify(err))
		}
		if len(out.Contents) == 0 {
			return "", nil
		}
		return aws.ToString(out.Contents[0].Key), nil
	}
	if k, err := first(s.prefix); err != nil || k != s.prefix {
		return false, err
	}
	k, err := first(s.prefix + "/")
	return k == "", err
}

// Object reports whether the store is one object (see the package doc).
func (s *Store) Object() bool { return s.object }

// check makes a HeadBucket call and translates its failure.
func (s *Store) check(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	_, err := s.client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		hint := ""
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && !s.client.Options().UsePathStyle && s.custom {
			hint = " (virtual-hosted addressing looks up bucket.host; MinIO and most self-hosted stores need path-style addressing)"
		}
		return fmt.Errorf("cannot reach S3 endpoint %s: %v%s", s.endpoint, netCause(sendErr.Err), hint)
	}
	if hctx.Err() != nil {
		return fmt.Errorf("cannot reach S3 endpoint %s: no answer within %v", s.endpoint, CheckTimeout)
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch code := respErr.HTTPStatusCode(); {
		case code == http.StatusNotFound:
			return fmt.Errorf("bucket %q does not exist (endpoint %s)", s.bucket, s.endpoint)
		case code == http.StatusForbidden:
			return fmt.Errorf("access denied to bucket %q (endpoint %s; check the credentials and the bucket policy)", s.bucket, s.endpoint)
		case code == http.StatusMovedPermanently || code == http.StatusBadRequest:
			if r := respErr.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
				return fmt.Errorf("bucket %q is in region %s, not %s: set the region", s.bucket, r, s.client.Options().Region)
			}
		}
		return fmt.Errorf("bucket %q at %s: HTTP %d: %v", s.bucket, s.endpoint, respErr.HTTPStatusCode(), apiMessage(err))
	}
	return fmt.Errorf("bucket %q at %s: %w", s.bucket, s.endpoint, err)
}

// netCause returns the most specific part of a transport error: "dial tcp
// 127.0.0.1:9000: connect: connection refused" rather than the whole chain.
func netCause(err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// apiMessage returns the service's error code and message when there is
// one.
func apiMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if m := apiErr.ErrorMessage(); m != "" {
			return apiErr.ErrorCode() + ": " + m
		}
		return apiErr.ErrorCode()
	}
	return err.Error()
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix, without leading or trailing '/'.
func (s *Store) Prefix() string { return s.prefix }

// Client returns the S3 client.
func (s *Store) Client() *s3.Client { return s.client }

// listPrefix is what keys under the root start with.
func (s *Store) listPrefix() string {
	if s.object {
		return s.prefix
	}
	if s.prefix == "" {
		return ""
	}
	return s.prefix + "/"
}

// List calls fn with each page of objects under the root.
func (s *Store) List(ctx context.Context, fn func(page []pusher.Object) error) error {
	return s.ListAfter(ctx, "", fn)
}

var _ source.StartAfterLister = (*Store)(nil)

// ListAfter is List for the keys after startAfter only (S3's StartAfter):
// the pages before it are not fetched at all.
func (s *Store) ListAfter(ctx context.Context, startAfter string, fn func(page []pusher.Object) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		MaxKeys: aws.Int32(PageSize),
	}
	if p := s.listPrefix(); p != "" {
		in.Prefix = aws.String(p)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	if s.object {
		// The object's key sorts first under its prefix: one key is
		// enough, and it is the object only when it is equal to it.
		in.MaxKeys = aws.Int32(1)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	bo := backoff.New(backoff.Policy{MaxElapsed: s.cfg.RetryMaxElapsed})
	for pages.HasMorePages() {
		// A failed NextPage leaves the paginator where it was: calling it
		// again asks for the same page.
		out, err := pages.NextPage(ctx)
		if err != nil {
			err = classify(err)
			if pusher.ClassOf(err) == pusher.ClassUnavailable && ctx.Err() == nil {
				if wait, ok := bo.Next(); ok {
					s.cfg.Log.Warn().Str("store", s.String()).Int("retry", bo.Tries()).Dur("retry_in", wait).Msg("list failed, retrying: " + err.Error())
					if backoff.Sleep(ctx, wait) == nil {
						continue
					}
				}
			}
			return fmt.Errorf("list %s: %w", s, err)
		}
		bo.Reset()
		if len(out.Contents) == 0 {
			continue
		}
		if s.object && aws.ToString(out.Contents[0].Key) != s.prefix {
			return nil
		}
		page := make([]pusher.Object, 0, len(out.Contents))
		for _, o := range out.Contents {
			page = append(page, pusher.Object{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
				LastModified: aws.ToTime(o.LastModified),
			})
		}
		if err := fn(page); err != nil {
			return err
		}
		if s.object {
			return nil
		}
	}
	return nil
}

// Open returns the object's content from byte off. The body is the HTTP
// response body itself; close it.
func (s *Store) Open(ctx context.Context, obj pusher.Object, off int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(obj.Key),
	}
	if off > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	if obj.ETag != "" {
		in.IfMatch = aws.String(`"` + obj.ETag + `"`)
	}
	out, err := s.client.GetObject(ctx, in)
	if err == nil {
		size := int64(-1)
		if out.ContentLength != nil {
			size = *out.ContentLength
		}
		return &body{ReadCloser: out.Body, size: size}, nil
	}
	var noKey *types.NoSuchKey
	var respErr *awshttp.ResponseError
	switch {
	case errors.As(err, &noKey):
		return nil, fmt.Errorf("open %s: %w", s.objURL(obj.Key), source.ErrNotFound)
	case errors.As(err, &respErr):
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return nil, fmt.Errorf("open %s: %w (%s)", s.objURL(obj.Key), source.ErrNotFound, apiMessage(err))
		case http.StatusForbidden:
			return nil, fmt.Errorf("access denied to %s (endpoint %s; check the credentials, the bucket policy and the object's encryption key): %s", s.objURL(obj.Key), s.endpoint, apiMessage(err))
		case http.StatusPreconditionFailed:
			return nil, fmt.Errorf("open %s: %w (listed ETag %q no longer matches)", s.objURL(obj.Key), ErrChanged, obj.ETag)
		case http.StatusRequestedRangeNotSatisfiable:
			if off == obj.Size {
				// Resuming exactly at the end of an unchanged object.
				return http.NoBody, nil
			}
			return nil, fmt.Errorf("open %s at byte %d: beyond the end of the object (size %d when listed)", s.objURL(obj.Key), off, obj.Size)
		}
	}
	return nil, fmt.Errorf("open %s: %w", s.objURL(obj.Key), classify(err))
}

func (s *Store) objURL(key string) string { return "s3://" + s.bucket + "/" + key }

// Rel returns key without the root's prefix and the '/' after it (for a
// store of one object, its key's last path element). A key outside the
// root is returned unchanged.
func (s *Store) Rel(key string) string {
	if s.prefix == "" {
		return key
	}
	if s.object && key == s.prefix {
		return path.Base(key)
	}
	if rest, ok := strings.CutPrefix(key, s.prefix+"/"); ok {
		return rest
	}
	return key
}

// String returns the root as s3://bucket/prefix.
func (s *Store) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

// Contains reports whether key is under the root (or is the root's one
// object).
func (s *Store) Contains(key string) bool {
	if s.object {
		return key == s.prefix
	}
	return s.prefix == "" || strings.HasPrefix(key, s.prefix+"/")
}

// Stat returns the current version of the object at key (a HeadObject
// call), for callers that know a key but not its ETag or size. A call
// that fails for a transient reason is retried with backoff, as a listing
// page is (Config.RetryMaxElapsed).
func (s *Store) Stat(ctx context.Context, key string) (pusher.Object, error) {
	bo := backoff.New(backoff.Policy{MaxElapsed: s.cfg.RetryMaxElapsed})
	var out *s3.HeadObjectOutput
	for {
		var err error
		out, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		if err == nil {
			break
		}
		err = s.rangeError(pusher.Object{Key: key}, 0, 0, err)
		if pusher.ClassOf(err) != pusher.ClassUnavailable || ctx.Err() != nil {
			return pusher.Object{}, err
		}
		wait, ok := bo.Next()
		if !ok {
			return pusher.Object{}, err
		}
		s.cfg.Log.Warn().Str("file", key).Int("retry", bo.Tries()).Dur("retry_in", wait).Msg("head failed, retrying: " + err.Error())
		if backoff.Sleep(ctx, wait) != nil {
			return pusher.Object{}, err
		}
	}
	return pusher.Object{
		Key: key, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}
