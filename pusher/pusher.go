// Package pusher moves Chunks from file readers to a target and tracks when
// a file is done.
//
// It also holds the model every layer shares: the file identity (Object),
// positions in a file (Position), a batch of records stored without
// per-field allocation (Batch), the Chunk that carries one batch of one
// file, and the record and file errors. Readers (package source) produce
// chunks; targets (package targets) implement Target and state stores
// (package state) implement Progress, and both use only this model.
//
// Push hands a chunk over; Ack reports the chunk's records committed and
// whether that completed its file.
//
// The sync pusher (snapshots) writes in Push, so a chunk is committed when
// Push returns; the reader then calls Ack, which needs no bookkeeping.
//
// The async pusher (replication) queues the chunk in Push and returns; a
// parse queue (package parsequeue) writes chunks on one goroutine in push
// order and acks each after its write. It keeps, per file, the chunks
// pushed and not yet acked and whether the last one was pushed, holds the
// bytes of un-acked chunks under a budget, and reports a file done (through
// AsyncConfig.Done) when its last chunk is acked. With it the reader does
// not call Ack and does not look at a chunk after Push: the queue acks.
package pusher

import "context"

// Pusher is where readers send chunks.
type Pusher interface {
	// Push hands the chunk to the target. Chunks of one file are pushed in
	// order. The pusher owns c from then on and calls c.Release when the
	// target is done with it; the caller must not touch c.Batch again.
	Push(ctx context.Context, c *Chunk) error
	// Ack confirms a pushed chunk; fileDone is true when it was the file's
	// last chunk and nothing of the file is pending.
	Ack(c *Chunk) (fileDone bool, err error)
}

// Target writes chunks. Implementations live in package targets.
type Target interface {
	// Write makes the chunk's records durable in the target. It is called
	// concurrently for chunks of different files, and in order for the
	// chunks of one file. A bad record fails the whole chunk with a
	// *RecordError naming it; nothing of that chunk is written.
	Write(ctx context.Context, c *Chunk) error
	// CommitsProgress reports whether Write also commits the file's progress
	// in the same transaction (so the pusher must not).
	CommitsProgress() bool
	// String names the target for logs (no credentials).
	String() string
	Close() error
}

// Progress records a committed chunk's position when the target does not
// commit progress itself (package state implements it).
type Progress interface {
	// Advance records that the chunk is committed in the target: the file
	// is at c.End, and done when c.Last.
	Advance(ctx context.Context, pipeline string, c *Chunk) error
}
