package runner

import (
	"time"

	"github.com/ferrydata/ferry/pusher"
)

// FileStatus is how a file's turn in a pass ended, as an Observer sees it.
type FileStatus string

// The file statuses an Observer is told of.
const (
	// FileLoaded: every record of the file is committed.
	FileLoaded FileStatus = "loaded"
	// FileSkipped: named again and not loaded: already loaded,
	// quarantined, another version of the key loaded, or it vanished.
	FileSkipped FileStatus = "skipped"
	// FileFailed: the file failed and is tried again later.
	FileFailed FileStatus = "failed"
	// FileQuarantined: the file failed for the last time (MaxAttempts).
	FileQuarantined FileStatus = "quarantined"
)

// The retry reasons an Observer is told of.
const (
	// RetryUnavailable: a service (state, target, store) was unavailable;
	// the file resumes later.
	RetryUnavailable = "unavailable"
	// RetryConflict: another process moved the file's progress.
	RetryConflict = "conflict"
	// RetryClaimed: another process is loading the file.
	RetryClaimed = "claimed"
	// RetryPass: a poll or pass failed and runs again after a backoff.
	RetryPass = "pass"
	// RetryRead: a file's read failed for a transient reason and is
	// retried within its load, after a backoff.
	RetryRead = "read"
	// RetryAfterLoad: a file's --after-load action failed; it is tried
	// again later (the file stays loaded).
	RetryAfterLoad = "after_load"
)

// Observer is told what the engine does, for metrics and health checks
// (the command's Prometheus adapter implements it; the engine knows
// nothing of Prometheus). Its methods are called from many goroutines and
// must return quickly. The counters that only grow (Runner.Counters) and
// the gauges (Runner.Inflight, Runner.BacklogFiles) are read, not told.
type Observer interface {
	// FileEnded: a file's turn ended with status. For a loaded file, took
	// is the load's time, from its start to its last commit.
	FileEnded(obj pusher.Object, status FileStatus, took time.Duration)
	// Committed: the async pusher wrote a transaction (a group of chunks)
	// in took.
	Committed(took time.Duration)
	// Retried: a file or a pass is left to be tried again, for reason
	// (RetryUnavailable, ...).
	Retried(reason string)
	// StateRoundTrip: a call to the state store or the target returned;
	// err is nil when the service answered (a refused value is an answer).
	StateRoundTrip(err error)
	// SourceRoundTrip: a listing page, or a queue receive, returned.
	SourceRoundTrip(err error)
}

// nopObserver is the Observer of a runner given none.
type nopObserver struct{}

func (nopObserver) FileEnded(pusher.Object, FileStatus, time.Duration) {}
func (nopObserver) Committed(time.Duration)                            {}
func (nopObserver) Retried(string)                                     {}
func (nopObserver) StateRoundTrip(error)                               {}
func (nopObserver) SourceRoundTrip(error)                              {}

// answered reports whether err, from a call to a service, still means the
// service answered: anything but an unavailable service (a refused value
// and a conflict are answers). A cancellation says nothing either way
// (known false).
func answered(err error) (ok, known bool) {
	switch pusher.ClassOf(err) {
	case pusher.ClassCanceled:
		return false, false
	case pusher.ClassUnavailable:
		return false, true
	}
	return true, true
}

// stateRoundTrip tells the observer how a state or target call went.
func (r *Runner) stateRoundTrip(err error) {
	if ok, known := answered(err); known {
		if ok {
			err = nil
		}
		r.obs.StateRoundTrip(err)
	}
}
