package source

import (
	"context"
	"io"

	"github.com/ferrydata/ferry/pusher"
)

// Store is an object store rooted at a location (bucket and prefix, or a
// directory).
type Store interface {
	// List calls fn with each page of objects under the root, in key order
	// within a page. Keys are full keys; use Rel for the part under the root.
	List(ctx context.Context, fn func(page []pusher.Object) error) error
	// Open reads the object from byte offset off (0 for the whole object).
	// It returns an error wrapping ErrNotFound when the object is gone.
	Open(ctx context.Context, obj pusher.Object, off int64) (io.ReadCloser, error)
	// Rel returns key relative to the store root, for glob matching.
	Rel(key string) string
	// String names the store root as a URL (s3://bucket/prefix, file:///dir).
	String() string
}

// StartAfterLister is a Store that can list only the keys after a given
// key, without reading the ones before (S3 ListObjectsV2 StartAfter).
type StartAfterLister interface {
	ListAfter(ctx context.Context, startAfter string, fn func(page []pusher.Object) error) error
}

// RandomAccessStore is a Store that can also read an object at arbitrary
// offsets, for formats that need it (Parquet reads its footer first).
type RandomAccessStore interface {
	Store
	// OpenAt returns random access to the object version obj (which must
	// not change while it is read). Close releases it.
	OpenAt(ctx context.Context, obj pusher.Object) (ReaderAtCloser, error)
}

// ReaderAtCloser reads at offsets and is closed after use.
type ReaderAtCloser interface {
	io.ReaderAt
	io.Closer
}
