package source

import (
	"context"
	"io"
	"time"
)

// Object is one file in a store, as listed.
type Object struct {
	// Key is the object key (S3) or the slash-separated path relative to the
	// store's root directory (local).
	Key  string
	Size int64
	// ETag identifies the content version: the S3 ETag (quotes removed) or,
	// for local files, a value derived from size and modification time.
	ETag         string
	LastModified time.Time
}

// Store is an object store rooted at a location (bucket and prefix, or a
// directory).
type Store interface {
	// List calls fn with each page of objects under the root, in key order
	// within a page. Keys are full keys; use Rel for the part under the root.
	List(ctx context.Context, fn func(page []Object) error) error
	// Open reads the object from byte offset off (0 for the whole object).
	// It returns an error wrapping ErrNotFound when the object is gone.
	Open(ctx context.Context, obj Object, off int64) (io.ReadCloser, error)
	// Rel returns key relative to the store root, for glob matching.
	Rel(key string) string
	// String names the store root as a URL (s3://bucket/prefix, file:///dir).
	String() string
}

// Position is a place in a file: how many records precede it and the byte
// offset in the decompressed stream where the next record starts.
type Position struct {
	Records int64 `json:"records"`
	Offset  int64 `json:"offset"`
}

// Chunk is one batch of records read from one file.
type Chunk struct {
	File Object
	// Seq numbers the chunks of one read of a file, from 0.
	Seq int
	// Start is the position of the chunk's first record; End the position
	// just after its last. Record ordinals are 1-based: the chunk holds
	// records Start.Records+1 .. End.Records.
	Start, End Position
	// Last is true on the file's final chunk (which may hold no records).
	Last bool
	// Batch holds the records.
	Batch *Batch
}

// Bytes is the chunk's size for in-flight accounting.
func (c *Chunk) Bytes() int64 {
	if c.Batch == nil {
		return 0
	}
	return int64(c.Batch.Size())
}
