// Package pusher moves Chunks from file readers to a target and tracks when
// a file is done.
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

import (
	"context"

	"github.com/ferrydata/ferry/source"
)

// Pusher is where readers send chunks.
type Pusher interface {
	// Push hands the chunk to the target. Chunks of one file are pushed in
	// order. The pusher owns c from then on and calls c.Release when the
	// target is done with it; the caller must not touch c.Batch again.
	Push(ctx context.Context, c *source.Chunk) error
	// Ack confirms a pushed chunk; fileDone is true when it was the file's
	// last chunk and nothing of the file is pending.
	Ack(c *source.Chunk) (fileDone bool, err error)
}
