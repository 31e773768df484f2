// Package state keeps per-file load progress for a pipeline: which object
// versions are loading, done or failed, and the position up to which a file
// is committed.
//
// Two stores implement Store: state/postgres (the default when the target
// is PostgreSQL; the target then advances progress in the same transaction
// as the rows, which makes loading exactly-once) and state/filestore (a
// local append-only log, the default for other targets; progress is written after
// the target has the rows, which makes loading at-least-once).
//
// A file is identified by pipeline, key and ETag: a changed object is a new
// version with its own progress.
package state

import (
	"context"
	"errors"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

// Status of a file version.
type Status string

const (
	// New: never seen.
	New Status = ""
	// Loading: started, possibly with some chunks committed.
	Loading Status = "loading"
	// Done: every record committed.
	Done Status = "done"
	// Failed: the last attempt failed; Error says why. A later run retries.
	Failed Status = "failed"
	// Replaced: a newer version of the key deleted this version's rows
	// (--on-change replace). Named again, it loads again from its start.
	Replaced Status = "replaced"
	// Removed: the object was removed and the key's rows deleted
	// (--delete-on-remove). Named again, it loads again from its start.
	Removed Status = "removed"
)

// Gone says whether a version's rows are gone from the target (replaced
// or removed): such a version loads again from its start when named.
func (s Status) Gone() bool { return s == Replaced || s == Removed }

// Progress of one file version.
type Progress struct {
	Status Status
	// Pos is the position up to which the file is committed: Pos.Records
	// counts the records read through, loaded and rejected alike.
	Pos      pusher.Position
	Attempts int
	Error    string
	// Loaded and Rejected count the committed records of Pos.Records that
	// are in the target and that were rejected (kept in ferry.rejects or
	// the rejects file); -1 when not known (progress recorded by a ferry
	// that did not count them).
	Loaded, Rejected int64
}

// Counts returns how many records of a committed chunk were loaded and how
// many rejected. Every record of the chunk's range (after Start, up to
// End) is one or the other, and once the target has written the chunk,
// c.Rejects holds the rejected ones: the reader's and the target's.
func Counts(c *pusher.Chunk) (loaded, rejected int64) {
	rejected = int64(len(c.Rejects))
	return c.End.Records - c.Start.Records - rejected, rejected
}

// Store keeps progress.
type Store interface {
	// Lookup returns the progress of every stored version of the given
	// objects' keys (one listing page), keyed by ID(key, etag). Versions
	// never seen are absent.
	Lookup(ctx context.Context, pipeline string, objs []pusher.Object) (map[string]Progress, error)
	// Start marks obj as loading unless it is done, and returns its
	// progress: a done file is not loaded again; a loading or failed one
	// resumes at Pos. Starting a new or failed file counts an attempt;
	// resuming a loading one (after a transient failure, a stop or a
	// crash) does not: only a data error moves a file towards quarantine.
	Start(ctx context.Context, pipeline string, obj pusher.Object) (Progress, error)
	// Advance records that the chunk is committed in the target: the file
	// is at c.End, and done when c.Last; its records count as loaded or
	// rejected (Counts).
	Advance(ctx context.Context, pipeline string, c *pusher.Chunk) error
	// Fail marks obj failed with the error.
	Fail(ctx context.Context, pipeline string, obj pusher.Object, cause error) error
	// Prune forgets done files completed before the given time whose key
	// sorts (bytewise) before belowKey when it is not "", and says how many.
	// A pruned file that is listed again loads again.
	Prune(ctx context.Context, pipeline string, before time.Time, belowKey string) (int64, error)
	// Anchor returns the time recorded for the pipeline, recording t first
	// if there is none: the start of a replication that does not backfill,
	// kept across restarts so files that arrive while it is stopped load.
	Anchor(ctx context.Context, pipeline string, t time.Time) (time.Time, error)
	// StartAfter returns the key a listing can start after (keys compare
	// bytewise, as S3 orders them), skipping done
	// keys that are older than the lookback window: the window keeps the
	// keepKeys largest done keys (when > 0) and the keys done since the
	// given time (when not zero). "" means list everything.
	StartAfter(ctx context.Context, pipeline string, keepKeys int, since time.Time) (string, error)
	Close() error
}

// ErrClaimed: another process holds the claim on the file (it is loading
// it). It is of class pusher.ClassRetry: the file is not at fault, and
// loads later.
var ErrClaimed = pusher.Retry(errors.New("another ferry process is loading this file"))

// Claimer is a Store that can reserve a file version for one process while
// it loads, so that processes sharing the state (several consumers of one
// queue, several pollers of one bucket) do not load the same file at the
// same time. The claim is a convenience that saves duplicate work; the
// guarded Advance is what keeps rows exactly-once.
type Claimer interface {
	// Claim reserves obj for this process until release is called or the
	// process ends, or returns an error wrapping ErrClaimed when another
	// process holds it.
	Claim(ctx context.Context, pipeline string, obj pusher.Object) (release func(), err error)
}

// Replacer is a Store that records that a new version of a key replaced
// the others (--on-change replace).
type Replacer interface {
	// Replace marks every version of obj.Key but obj Replaced, its
	// position back at the start. It is idempotent.
	Replace(ctx context.Context, pipeline string, obj pusher.Object) error
}

// Remover is a Store that records that an object was removed and its
// rows deleted (--delete-on-remove).
type Remover interface {
	// Remove marks every version of key Removed, its position back at the
	// start. It is idempotent.
	Remove(ctx context.Context, pipeline, key string) error
}

// Tail is a checksum of the bytes of a loaded version just before Offset
// (Len of them): what a later version of the key must still hold there
// for --on-change resume to load only what follows. The zero Tail is none.
type Tail struct {
	Offset int64
	Len    int
	// Sum is the hex SHA-256 of the bytes [Offset-Len, Offset).
	Sum string
}

// Resumer is a Store that supports --on-change resume: it keeps a done
// version's Tail, and starts a new version of the key where an older one
// left off.
type Resumer interface {
	// SetTail records obj's Tail.
	SetTail(ctx context.Context, pipeline string, obj pusher.Object, t Tail) error
	// Tail returns obj's Tail (the zero Tail when none is recorded).
	Tail(ctx context.Context, pipeline string, obj pusher.Object) (Tail, error)
	// StartAt moves obj, loading at its start, to pos: its records before
	// pos are an older version's, already loaded. It fails when obj is
	// not loading at its start.
	StartAt(ctx context.Context, pipeline string, obj pusher.Object, pos pusher.Position) error
}

// GroupStarter is a Store that starts several files in one step (one
// statement), as Start starts each: a group of small files costs one round
// trip instead of one each.
type GroupStarter interface {
	// StartGroup starts objs (distinct versions) and returns their
	// progress, in objs' order.
	StartGroup(ctx context.Context, pipeline string, objs []pusher.Object) ([]Progress, error)
}

// GroupClaimer is a Claimer that claims several files in one step.
type GroupClaimer interface {
	// ClaimGroup claims each of objs (distinct versions) as Claim does,
	// in one step. releases[i] is nil when another process holds objs[i].
	ClaimGroup(ctx context.Context, pipeline string, objs []pusher.Object) (releases []func(), err error)
}

// Haver is a Store that can say whether it holds anything for a pipeline
// (a file's progress, or its anchor) without creating it.
type Haver interface {
	Has(ctx context.Context, pipeline string) (bool, error)
}

// ID identifies an object version within a pipeline.
func ID(obj pusher.Object) string { return obj.Key + "\x00" + obj.ETag }

// KeyOf returns the key part of an ID.
func KeyOf(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return id[:i]
		}
	}
	return id
}

// AfterLoadStatus is how far a done file's --after-load action is.
type AfterLoadStatus string

const (
	// AfterLoadNone: no action (keep, or loaded by a ferry without one).
	AfterLoadNone AfterLoadStatus = ""
	// AfterLoadPending: recorded with the file's last commit, not yet
	// done (a crash between the two leaves it so: a later pass does it).
	AfterLoadPending AfterLoadStatus = "pending"
	// AfterLoadDone: done.
	AfterLoadDone AfterLoadStatus = "done"
	// AfterLoadFailed: the last try failed (AfterLoad.Error says why); a
	// later pass tries again. The file stays done: it never loads again.
	AfterLoadFailed AfterLoadStatus = "failed"
	// AfterLoadSkipped: not done, for good: the object changed (a new
	// version is at its key, left as it is) or vanished before it.
	AfterLoadSkipped AfterLoadStatus = "skipped"
)

// AfterLoad is the --after-load action of a done file.
type AfterLoad struct {
	Status AfterLoadStatus
	// Action is the action's text (delete, move:PREFIX, tag:KEY=VALUE).
	Action string
	// Attempts counts the failed tries; Error is the last one's.
	Attempts int
	Error    string
	// At is when the status last changed.
	At time.Time
}

// AfterLoadFile is a done file version with its action to do.
type AfterLoadFile struct {
	Object    pusher.Object
	AfterLoad AfterLoad
}

// AfterLoader is a Store that keeps each done file's --after-load action:
// the Advance of a chunk with Last and AfterLoad set records it pending
// with the file's end (in the same transaction as the rows, when the
// target commits progress).
type AfterLoader interface {
	// AfterLoads returns up to limit done versions whose action is
	// pending or failed, the longest waiting first.
	AfterLoads(ctx context.Context, pipeline string, limit int) ([]AfterLoadFile, error)
	// AfterLoaded records how obj's action ended: AfterLoadDone,
	// AfterLoadSkipped, or AfterLoadFailed with cause (an attempt more).
	AfterLoaded(ctx context.Context, pipeline string, obj pusher.Object, status AfterLoadStatus, cause error) error
	// TakenByAfterLoad says whether key's versions are all gone from
	// the source by ferry's own --after-load delete or move (pending or
	// done), at least one of them: a removal of the key (an
	// ObjectRemoved notification) is then ferry's own, not one to delete
	// rows for. Versions already replaced or removed do not count.
	TakenByAfterLoad(ctx context.Context, pipeline, key string) (bool, error)
}
