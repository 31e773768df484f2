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
// Push hands a chunk over; Finish says that a file's reader has stopped
// and gives the file's completion, which the pusher calls exactly once,
// when nothing of the file is in flight any more: with a nil error when
// every chunk up to the last is committed, else with the first error (a
// write's or the read's). The ack travels with the data: there is no other
// path by which a file ends.
//
// The sync pusher (the simplest, for a library user) writes in Push, so a chunk is committed when
// Push returns, and Finish completes the file at once.
//
// The async pusher queues the chunk in Push and returns; a parse queue
// (package parsequeue) writes chunks on one goroutine in push order, the
// chunks that are ready together in one group (one transaction with a
// GroupTarget), and acks each after its group's write; with
// AsyncConfig.Overlap and an OverlapTarget, a big file's next chunk is
// written while the one before it is, committing after it (Order). It
// keeps, per file, the chunks
// pushed and not yet acked and whether the last one was pushed, holds the
// bytes of un-acked chunks under a budget, and completes a file when its
// reader has finished and its last chunk is acked.
//
// Both fail only the file for a data error (ClassOf), count the rejects a
// file commits, and hold a file's rejects (the reader's and the target's
// together) under each chunk's RejectLimit.
package pusher

import (
	"context"
	"errors"
)

// Pusher is where readers send chunks.
type Pusher interface {
	// Push hands the chunk to the target. Chunks of one file are pushed in
	// order. The pusher owns c from then on and calls c.Release when the
	// target is done with it; the caller must not touch c again.
	Push(ctx context.Context, c *Chunk) error
	// Finish says that the reader of obj has stopped: readErr is nil when
	// it pushed the file's last chunk, else why it stopped. done is called
	// exactly once, when nothing of the file is in flight: with a nil Err
	// when every chunk up to the last is committed, else with the first
	// error (a failed write's, or readErr). The caller calls Finish once
	// per read of a file, after its last Push.
	Finish(obj Object, readErr error, done func(FileResult))
}

// FileResult is how a file's read ended in the pusher.
type FileResult struct {
	// Err is nil when every chunk up to the last is committed.
	Err error
	// Rejects is the number of rejected records committed with the file's
	// chunks in this read (the reader's and the target's).
	Rejects int64
	// Rescued is the number of records committed in this read with values
	// kept in the target's rescue column (Chunk.Rescued).
	Rescued int64
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

// GroupTarget is a Target that can commit chunks of several files in one
// transaction, each file's progress advanced in it when the target commits
// progress: many small files cost one commit instead of one each.
type GroupTarget interface {
	Target
	// WriteGroup makes every chunk of cs durable, or none of them. The
	// chunks are of different files. A bad chunk fails the group with a
	// *ChunkError naming it, so the caller can write the others again
	// without it; other errors are the group's.
	WriteGroup(ctx context.Context, cs []*Chunk) error
}

// OverlapTarget is a Target that can write a chunk of a file while the
// write of the file's chunk before it is still under way (on another
// connection), committing only after it: two writes of one big file then
// share the target's work.
type OverlapTarget interface {
	Target
	// WriteAfter writes c as Write does, in its file's order o: it calls
	// o.Started once it holds what the write of the file's next chunk
	// waits on, and, when o.Before is not nil, commits only once the
	// write of the chunk before (c.Seq-1) committed, and fails with
	// ErrBeforeFailed, nothing of c written, when that did not commit. It
	// must not wait for o.Before while holding anything the write before
	// may wait for (locks, a connection), except once that committed.
	WriteAfter(ctx context.Context, c *Chunk, o Order) error
}

// Order places a write among the overlapping writes of its file
// (OverlapTarget).
type Order struct {
	// Before is the write of the file's chunk before this one; nil when
	// there is none or it has ended.
	Before Before
	// Started, when not nil, is called once the write holds what the
	// write of the file's next chunk waits on (at most once per try).
	Started func()
}

// Before is the write of a file's chunk before the one a WriteAfter
// writes.
type Before interface {
	// Started returns once that write called its Order.Started or has
	// ended, or with ctx.Err().
	Started(ctx context.Context) error
	// Wait returns once the write has ended: nil when it committed, else
	// ErrBeforeFailed, or ctx.Err(). After Wait returned nil, the chunk's
	// RejectLimit counts the target's rejects of every earlier chunk.
	Wait(ctx context.Context) error
	// Done reports whether the write has ended (Wait would not wait).
	Done() bool
}

// ErrBeforeFailed: the write of a file's chunk before this one did not
// commit, so this one may not either (OverlapTarget).
var ErrBeforeFailed = errors.New("the file's chunk before this one was not written")

// Remover is a Target that can delete the rows loaded from a key, which
// it can tell by the key it keeps on each row (--delete-on-remove).
type Remover interface {
	// Remove deletes the rows loaded from key, and returns how many. When
	// the target commits progress, it marks every version of the key
	// removed in the same transaction. Removing a key again deletes
	// nothing.
	Remove(ctx context.Context, key string) (int64, error)
}

// ChunkError is the failure of one chunk of a group: cs[Index].
type ChunkError struct {
	Index int
	Err   error
}

func (e *ChunkError) Error() string { return e.Err.Error() }
func (e *ChunkError) Unwrap() error { return e.Err }

// Progress records a committed chunk's position when the target does not
// commit progress itself (package state implements it).
type Progress interface {
	// Advance records that the chunk is committed in the target: the file
	// is at c.End, and done when c.Last.
	Advance(ctx context.Context, pipeline string, c *Chunk) error
}

// GroupProgress is a Progress that records the progress of several
// chunks (of different files) at once, as one durable write.
type GroupProgress interface {
	Progress
	// AdvanceGroup records every chunk of cs as Advance does, all or none.
	AdvanceGroup(ctx context.Context, pipeline string, cs []*Chunk) error
}

// rejectCount keeps the rejects one read of a file has committed.
type rejectCount struct {
	total   int64 // committed rejects
	extra   int   // of them, the target's own (values that did not convert)
	rescued int64 // committed records with rescued values
}

// limit lowers c's RejectLimit, which the reader set from its own rejects,
// by the target's rejects committed so far.
func (r *rejectCount) limit(c *Chunk) {
	if c.RejectLimit >= 0 {
		c.RejectLimit = max(c.RejectLimit-r.extra, 0)
	}
}

// add counts a committed chunk that the reader gave readerRejects rejects.
func (r *rejectCount) add(c *Chunk, readerRejects int) {
	r.total += int64(len(c.Rejects))
	r.rescued += int64(c.Rescued)
	r.extra += len(c.Rejects) - readerRejects
}
