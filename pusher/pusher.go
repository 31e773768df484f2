// Package pusher moves Chunks from file readers to a target and tracks when
// a file is done.
//
// Push hands a chunk over; Ack reports the chunk's records committed and
// whether that completed its file. The sync pusher (snapshots) writes in
// Push, so a chunk is committed when Push returns and Ack needs no
// bookkeeping. The async pusher (replication) will queue chunks and track
// per-file progress.
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
