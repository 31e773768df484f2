package state

import (
	"context"
	"errors"
	"time"
)

// Inspector reads the progress a Store keeps, and makes failed files
// eligible again: what the status, files, retry and rejects commands show
// and do. Both stores implement it; it only reads or changes rows, it
// never loads.
type Inspector interface {
	// Pipelines returns the names of the pipelines that have state,
	// sorted.
	Pipelines(ctx context.Context) ([]string, error)
	// Summary sums up a pipeline's files. A failed file with at least
	// maxAttempts attempts counts as quarantined (when maxAttempts > 0).
	Summary(ctx context.Context, pipeline string, maxAttempts int) (Summary, error)
	// Files returns the file versions that match q, the most recently
	// updated first.
	Files(ctx context.Context, q FileQuery) ([]FileInfo, error)
	// Retry makes failed file versions of the pipeline eligible again at
	// the next run or poll: their attempts go back to 0 and the failure
	// (attempts, error, time) is added to their Retries; status, position
	// and error stay until the next attempt. It retries the failed
	// versions of keys, or every failed file when keys is empty, and
	// returns the files it changed, as they were before.
	Retry(ctx context.Context, pipeline string, keys []string) ([]FileInfo, error)
	// Rejects returns the rejected records that match q, the newest first.
	Rejects(ctx context.Context, q RejectQuery) ([]Reject, error)
}

// ErrNoRejects: the store keeps no rejected records (the file store
// without a rejects file).
var ErrNoRejects = errors.New("this state keeps no rejected records")

// Summary of a pipeline's files.
type Summary struct {
	Pipeline string
	// Files by status; Failed leaves out the Quarantined ones.
	Done, Loading, Failed, Quarantined int64
	// Loaded and Rejected sum the records committed, in every file;
	// Bytes the sizes of the done files (as stored: compressed).
	Loaded, Rejected, Bytes int64
	// Rescued sums the records loaded with values kept in the
	// --rescue-column (of Loaded).
	Rescued int64
	// AfterLoadPending and AfterLoadFailed count the done files whose
	// --after-load action is not done yet, or failed its last try.
	AfterLoadPending, AfterLoadFailed int64
	// FirstLoad and LastLoad: when the first and the last done file (of
	// those still kept) finished; zero when none.
	FirstLoad, LastLoad time.Time
	// OldestLoading is the loading file whose attempt started first, nil
	// when none; LastError the failed file updated last, nil when none.
	OldestLoading, LastError *FileInfo
	// Leases, nil when the pipeline has none (--lease-ranges).
	Leases *Leases
}

// FileQuery selects files. Zero fields select everything.
type FileQuery struct {
	Pipeline string
	Status   Status
	// MinAttempts, when > 0, keeps files with at least that many attempts
	// (with Status Failed: the quarantined ones).
	MinAttempts int
	// Prefix keeps keys that start with it; Keys, when not empty, keeps
	// exactly these keys.
	Prefix string
	Keys   []string
	// Limit, when > 0, keeps the first Limit files.
	Limit int
}

// FileInfo is a file version as the state keeps it.
type FileInfo struct {
	Pipeline, Key, ETag string
	Size                int64
	Status              Status
	Attempts            int
	// Records is the committed position; Loaded and Rejected split it
	// (-1: not counted by the ferry that loaded it).
	Records, Loaded, Rejected int64
	// Rescued counts the loaded records with values kept in the
	// --rescue-column (-1: not counted).
	Rescued int64
	Error   string
	// AfterLoad is the done file's --after-load action (zero: none).
	AfterLoad AfterLoad
	// Modified is the object's LastModified; Started the first attempt,
	// Attempted the start of the last one, Updated the last change (the
	// end of the load for a done file). Zero when not known (state kept
	// by an older ferry).
	Modified, Started, Attempted, Updated time.Time
	// Retries are the failures that a retry cleared, oldest first.
	Retries []Retry
}

// Retry is a failure that a retry cleared.
type Retry struct {
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
}

// RejectQuery selects rejected records. Zero fields select everything.
type RejectQuery struct {
	Pipeline, Key string
	Limit         int
}

// Reject is a rejected record (or a queue message that was not a
// notification: then MessageID is set and Key is the queue URL).
type Reject struct {
	Pipeline, Key, ETag string
	// Record is the record's ordinal in the file (1-based; 0: not known);
	// Offset its byte offset (-1: not known).
	Record, Offset int64
	MessageID      string
	Error, Raw     string
	At             time.Time
}
