package runner

import (
	"context"
	"errors"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Outcome is how a task ended.
type Outcome int

const (
	// Loaded: every record is committed, now or before.
	Loaded Outcome = iota
	// Skipped: nothing to load: the object vanished or changed since it
	// was named, or it is quarantined.
	Skipped
	// Failed: the file's data is bad; the failure is recorded in the
	// state, with the attempts so far in Result.Attempts.
	Failed
	// Retry: not finished (stopping, a service down, another process
	// loading it); the file resumes at its committed position later.
	Retry
)

func (o Outcome) String() string {
	return [...]string{"loaded", "skipped", "failed", "retry"}[o]
}

// Result is a task's end.
type Result struct {
	Outcome Outcome
	// Attempts is the file's failed attempts so far, when Failed.
	Attempts int
	// Err says why, when Failed or Retry (nil when the pass stopped
	// before the file started).
	Err error
}

// Task is one object version to load, and its completion.
type Task struct {
	Object pusher.Object
	// Remove says that the object was removed (only Object.Key counts):
	// the rows loaded from the key are deleted and its versions marked
	// removed (--delete-on-remove), once no file of the key is loading in
	// the pass. Done gets Loaded once that is committed.
	Remove bool
	// Done, when set, is called exactly once with how the task ended:
	// the feed's completion handle (a queue message deletes itself once
	// the last object it names is done).
	Done func(Result)
}

func (t Task) done(res Result) {
	if t.Done != nil {
		t.Done(res)
	}
}

// Send hands a batch of tasks to a pass. It looks their progress up in
// one query, completes at once those that need no load, and queues the
// others, blocking while the workers are busy. It returns ErrStopped once
// the pass takes no more files, and the lookup's error when it fails;
// either way every task of the batch not queued is completed with Retry.
type Send func(ctx context.Context, tasks []Task) error

// Feed sends the tasks of a pass until it has no more or ctx is done
// (then it returns nil), or Send returns ErrStopped.
type Feed func(ctx context.Context, send Send) error

// ErrStopped is returned by Send once the pass takes no more files.
var ErrStopped = errors.New("the pass takes no more files")

// wanted says whether a named object needs loading, given the progress of
// the versions of its key.
func (r *Runner) wanted(obj pusher.Object, progress map[string]state.Progress) bool {
	return Wanted(r.opts, obj, progress)
}

// Wanted says whether a pass under opts loads obj, given the progress of
// its key's versions (state.Store.Lookup): not when it is done, nor
// quarantined, nor (--on-change ignore) another version of it was loaded.
func Wanted(opts Options, obj pusher.Object, progress map[string]state.Progress) bool {
	pr, ok := progress[obj.ID()]
	if ok && pr.Status == state.Done {
		return false
	}
	if ok && pr.Status == state.Failed && opts.MaxAttempts > 0 && pr.Attempts >= opts.MaxAttempts {
		return false // quarantined: retried only as a new version
	}
	if !ok && opts.OnChange == OnChangeIgnore {
		for id, p := range progress {
			if (p.Status == state.Done || p.Status.Gone()) && state.KeyOf(id) == obj.Key {
				return false // another version of the key was loaded
			}
		}
	}
	return true
}

// Quarantined says whether a failed task's message should be let go: the
// file failed MaxAttempts times (0: never; the queue's redrive policy
// decides), and the policy is not abort (which keeps it).
func (r *Runner) Quarantined(res Result) bool {
	return res.Outcome == Failed && r.opts.OnError != OnErrorAbort && r.opts.MaxAttempts > 0 && res.Attempts >= r.opts.MaxAttempts
}
