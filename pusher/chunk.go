package pusher

import "time"

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
	// AfterLoad, on the last chunk, is the --after-load action (its text,
	// "" for none) that the state records pending with the file's end, in
	// the same transaction: a crash after the commit still does it.
	AfterLoad string
	// Batch holds the records: record i of the batch has ordinal
	// First()+i. Records rejected by the reader are not in the batch.
	Batch *Batch
	// Rejects are records of this chunk's range that could not be read,
	// kept under the skip-record policy; they commit with the chunk.
	Rejects []*RecordError
	// Rescued is set by a target that kept values that did not convert in
	// a rescue column: how many of the chunk's records it loaded so.
	Rescued int
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

// ID identifies an object version (key and ETag) within a pipeline.
func (o Object) ID() string { return o.Key + "\x00" + o.ETag }
