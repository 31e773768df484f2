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

// StartAfterLister is a Store that can list only the keys after a given
// key, without reading the ones before (S3 ListObjectsV2 StartAfter).
type StartAfterLister interface {
	ListAfter(ctx context.Context, startAfter string, fn func(page []Object) error) error
}

// RandomAccessStore is a Store that can also read an object at arbitrary
// offsets, for formats that need it (Parquet reads its footer first).
type RandomAccessStore interface {
	Store
	// OpenAt returns random access to the object version obj (which must
	// not change while it is read). Close releases it.
	OpenAt(ctx context.Context, obj Object) (ReaderAtCloser, error)
}

// ReaderAtCloser reads at offsets and is closed after use.
type ReaderAtCloser interface {
	io.ReaderAt
	io.Closer
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
	// Batch holds the records: record i of the batch has ordinal
	// First()+i. Records rejected by the reader are not in the batch.
	Batch *Batch
	// Rejects are records of this chunk's range that could not be read,
	// kept under the skip-record policy; they commit with the chunk.
	Rejects []*RecordError
	// RejectLimit, when >= 0, is how many rejects (the reader's and the
	// target's together) the chunk may commit; past it, the target fails
	// the chunk instead (--max-rejects).
	RejectLimit int
	// OnRelease, when set, takes the batch back on Release (the reader's
	// own free list); otherwise it goes to the shared pool.
	OnRelease func(*Batch)
}

// Release gives the chunk's batch back for reuse. The pusher calls it once
// the target no longer needs the chunk (after the write for the sync
// pusher, after the ack for the async one); nothing may use c.Batch after.
func (c *Chunk) Release() {
	if c.OnRelease != nil {
		c.OnRelease(c.Batch)
	} else {
		PutBatch(c.Batch)
	}
	c.Batch = nil
}

// First is the ordinal of the batch's first record: the record after the
// chunk's start and after the rejects that precede the batch.
func (c *Chunk) First() int64 {
	if c.Batch == nil {
		return c.End.Records + 1
	}
	return c.End.Records - int64(c.Batch.Len()) + 1
}

// Bytes is the chunk's size for in-flight accounting.
func (c *Chunk) Bytes() int64 {
	if c.Batch == nil {
		return 0
	}
	return int64(c.Batch.Size())
}
