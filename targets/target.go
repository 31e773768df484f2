// Package targets holds the Target contract; implementations live in
// sub-packages: postgres (COPY, exactly-once with state in the same
// transaction) and jsonlines (stdout or a file, at-least-once).
package targets

import (
	"context"

	"github.com/ferrydata/ferry/source"
)

// Target writes chunks.
type Target interface {
	// Write makes the chunk's records durable in the target. It is called
	// concurrently for chunks of different files, and in order for the
	// chunks of one file. A bad record fails the whole chunk with a
	// *source.RecordError naming it; nothing of that chunk is written.
	Write(ctx context.Context, c *source.Chunk) error
	// CommitsProgress reports whether Write also commits the file's progress
	// in the same transaction (so the pusher must not).
	CommitsProgress() bool
	// String names the target for logs (no credentials).
	String() string
	Close() error
}
