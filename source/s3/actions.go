package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// This file is --after-load: what the store does with an object once its
// rows are committed. Each action acts on the version loaded only (the
// ETag is checked), so an object rewritten since is left alone.

var (
	_ source.ActionStore = (*Store)(nil)
	_ source.Tagger      = (*Store)(nil)
)

// MaxCopySize is the largest object CopyObject copies in one request;
// a larger one is copied in parts (UploadPartCopy).
var MaxCopySize int64 = 5 << 30

// copyPartSize is the size of a part of a multipart copy.
var copyPartSize int64 = 512 << 20

// actionError maps an action's failure: the object gone (404) or changed
// (412) is of class pusher.ClassGone, a transient failure of class
// pusher.ClassUnavailable.
func (s *Store) actionError(what string, obj pusher.Object, err error) error {
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	var respErr *awshttp.ResponseError
	switch {
	case errors.As(err, &noKey), errors.As(err, &notFound):
		return fmt.Errorf("%s %s: %w", what, s.objURL(obj.Key), source.ErrNotFound)
	case errors.As(err, &respErr):
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%s %s: %w (%s)", what, s.objURL(obj.Key), source.ErrNotFound, apiMessage(err))
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%s %s: %w (the ETag %q loaded no longer matches)", what, s.objURL(obj.Key), ErrChanged, obj.ETag)
		case http.StatusForbidden:
			return fmt.Errorf("%s %s: access denied (check the credentials and the bucket policy): %s", what, s.objURL(obj.Key), apiMessage(err))
		}
	}
	return fmt.Errorf("%s %s: %w", what, s.objURL(obj.Key), classify(err))
}

func quoted(etag string) *string {
	if etag == "" {
		return nil
	}
	return aws.String(`"` + etag + `"`)
}

// Delete implements source.ActionStore: a HEAD checks that the object is
// still the version loaded (If-Match), then a DELETE carries If-Match too
// (S3 honours it; a store that ignores it leaves the short window between
// the two).
func (s *Store) Delete(ctx context.Context, obj pusher.Object) error {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key), IfMatch: quoted(obj.ETag)})
	if err != nil {
		err = s.actionError("delete", obj, err)
		if errors.Is(err, source.ErrNotFound) {
			return nil // deleted already
		}
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key), IfMatch: quoted(obj.ETag)})
	if err != nil {
		err = s.actionError("delete", obj, err)
		if errors.Is(err, source.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// Dest implements source.ActionStore: prefix is a key prefix in the
// source's bucket.
func (s *Store) Dest(prefix, key string) (string, error) {
	p := strings.Trim(prefix, "/")
	if p == "" {
		return "", errors.New("move needs a key prefix")
	}
	dst := p + "/" + s.Rel(key)
	if s.Contains(dst) || dst == key {
		return "", fmt.Errorf("s3://%s/%s/ is under the source %s, which would list what is moved there as new files: move to a prefix outside it", s.bucket, p, s)
	}
	return dst, nil
}

// Copy implements source.ActionStore: CopyObject with
// x-amz-copy-source-if-match, or a multipart copy past MaxCopySize.
func (s *Store) Copy(ctx context.Context, obj pusher.Object, dst string) error {
	src := s.bucket + "/" + escapeKey(obj.Key)
	if obj.Size > MaxCopySize {
		return s.copyParts(ctx, obj, src, dst)
	}
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(dst),
		CopySource: aws.String(src), CopySourceIfMatch: quoted(obj.ETag), TaggingDirective: types.TaggingDirectiveCopy})
	if err != nil {
		return s.actionError("copy", obj, err)
	}
	return nil
}

// copyParts copies obj in parts of copyPartSize (UploadPartCopy), for an
// object larger than one CopyObject copies.
func (s *Store) copyParts(ctx context.Context, obj pusher.Object, src, dst string) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst)})
	if err != nil {
		return s.actionError("copy", obj, err)
	}
	defer func() {
		if err != nil {
			s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{ //nolint:errcheck // best effort
				Bucket: aws.String(s.bucket), Key: aws.String(dst), UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < obj.Size; off, n = off+copyPartSize, n+1 {
		end := min(off+copyPartSize, obj.Size) - 1
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(s.bucket), Key: aws.String(dst),
			UploadId: up.UploadId, PartNumber: aws.Int32(n), CopySource: aws.String(src), CopySourceIfMatch: quoted(obj.ETag),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
		if err != nil {
			return s.actionError("copy", obj, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return s.actionError("copy", obj, err)
	}
	return nil
}

// escapeKey escapes a key for x-amz-copy-source: each path segment
// URL-encoded, the slashes kept.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, p := range segs {
		segs[i] = url.PathEscape(p)
	}
	return strings.Join(segs, "/")
}

// Tag implements source.Tagger: the object's tags are read, key=value is
// set among them, and they are written back (PutObjectTagging replaces
// the whole set). The ETag is checked first (a HEAD with If-Match); tags
// do not change it.
func (s *Store) Tag(ctx context.Context, obj pusher.Object, key, value string) error {
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key), IfMatch: quoted(obj.ETag)}); err != nil {
		return s.actionError("tag", obj, err)
	}
	cur, err := s.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key)})
	if err != nil {
		return s.actionError("tag", obj, err)
	}
	tags := make([]types.Tag, 0, len(cur.TagSet)+1)
	for _, t := range cur.TagSet {
		if aws.ToString(t.Key) == key {
			if aws.ToString(t.Value) == value {
				return nil // tagged already
			}
			continue
		}
		tags = append(tags, t)
	}
	tags = append(tags, types.Tag{Key: aws.String(key), Value: aws.String(value)})
	_, err = s.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key),
		Tagging: &types.Tagging{TagSet: tags}})
	if err != nil {
		return s.actionError("tag", obj, err)
	}
	return nil
}
