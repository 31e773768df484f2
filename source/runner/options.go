package runner

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/runner/lease"
)

// OnError is the policy for a file whose data is bad.
type OnError string

// The --on-error policies.
const (
	// OnErrorAbort: a bad record fails its file, and no further file
	// starts; files already loading finish.
	OnErrorAbort OnError = "abort"
	// OnErrorSkipRecord: bad records are rejected and the rest of the file
	// loads (the reader and the target keep going past them).
	OnErrorSkipRecord OnError = "skip-record"
	// OnErrorSkipFile: a bad record fails its file (failed in the state)
	// and the other files go on.
	OnErrorSkipFile OnError = "skip-file"
)

// UnmarshalText sets a policy from its name (a flag's value).
func (p *OnError) UnmarshalText(b []byte) error {
	switch v := OnError(b); v {
	case OnErrorAbort, OnErrorSkipRecord, OnErrorSkipFile:
		*p = v
		return nil
	}
	return errors.New("expected abort, skip-record or skip-file")
}

// MarshalText returns the policy's name.
func (p OnError) MarshalText() ([]byte, error) { return []byte(p), nil }

// Options is the engine's policy: which files to load, how many at once,
// what a failure does. The zero value, after Validate, is a snapshot's.
type Options struct {
	// Filter selects keys (include/exclude globs); Since, when not zero,
	// skips objects modified before it.
	Filter discover.Filter
	Since  time.Time
	// OnError is what a bad file does to the run (default OnErrorAbort).
	OnError OnError
	// MaxAttempts: a failed file is tried again until it has failed this
	// many times, then it is quarantined (0: always tried again).
	MaxAttempts int
	// OnChange is what a changed object (new ETag) of a key already
	// loaded does (default OnChangeAppend).
	OnChange OnChange
	// ResumeFallback is how a new version loads under OnChangeResume when
	// it did not only grow: OnChangeAppend (default) or OnChangeReplace
	// (the target must then delete a key's rows at a version's first
	// chunk).
	ResumeFallback OnChange
	// Workers is how many files load at once (default 1).
	Workers int
	// Async pushes through the async pusher (ordered writes of chunk
	// groups, per-file progress, InflightBytes budget) instead of writing
	// in the reader; the command line always sets it.
	Async bool
	// InflightBytes is the async pusher's budget of pushed, uncommitted
	// chunk bytes (default pusher.DefaultInflightBytes).
	InflightBytes int64
	// GroupFiles bounds the chunks (of different files) the async pusher
	// commits in one transaction, besides a chunk's rows and bytes
	// (default pusher.DefaultGroupChunks; 1: every chunk alone), and
	// GroupLinger how long a group that could take more waits for them
	// (default pusher.DefaultLinger; negative: not at all).
	GroupFiles  int
	GroupLinger time.Duration
	// OverlapWrites: the async pusher writes a big file's consecutive
	// chunks two at a time, on two connections, each committing after the
	// one before (pusher.AsyncConfig.Overlap; the PostgreSQL target with
	// its state in the same database).
	OverlapWrites bool
	// FetchAhead is how many files' GETs may be under way at once, started
	// while the files wait for a worker (0: each load opens its file).
	FetchAhead int
	// AfterLoad is what is done with an object once its rows are
	// committed (--after-load; the zero value keeps it): see afterload.go.
	AfterLoad source.AfterLoad
}

// Validate checks the options and fills defaults.
func (o *Options) Validate() error {
	switch o.OnError {
	case "":
		o.OnError = OnErrorAbort
	case OnErrorAbort, OnErrorSkipRecord, OnErrorSkipFile:
	default:
		return fmt.Errorf("on-error %q: expected abort, skip-record or skip-file", o.OnError)
	}
	switch o.OnChange {
	case "":
		o.OnChange = OnChangeAppend
	case OnChangeAppend, OnChangeReplace, OnChangeIgnore, OnChangeResume:
	default:
		return fmt.Errorf("on-change %q: expected append, replace, resume or ignore", o.OnChange)
	}
	switch o.ResumeFallback {
	case "":
		o.ResumeFallback = OnChangeAppend
	case OnChangeAppend, OnChangeReplace:
	default:
		return fmt.Errorf("resume fallback %q: expected append or replace", o.ResumeFallback)
	}
	if o.MaxAttempts < 0 || o.Workers < 0 || o.InflightBytes < 0 || o.GroupFiles < 0 || o.FetchAhead < 0 {
		return errors.New("max attempts, workers, in-flight bytes, group files and fetch concurrency must not be negative")
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	return o.Filter.Validate()
}

// ReplacesKeys says whether a version's first chunk deletes its key's
// rows: OnChangeReplace, or OnChangeResume falling back to replace.
func (o Options) ReplacesKeys() bool {
	return o.OnChange == OnChangeReplace || o.OnChange == OnChangeResume && o.ResumeFallback == OnChangeReplace
}

// PollOptions configure polling replication (Runner.Poll).
type PollOptions struct {
	// Interval between the end of one listing and the start of the next.
	Interval time.Duration
	// Backfill loads what the store already holds; false loads only what
	// arrives from the pipeline's first start on (state.Store.Anchor).
	Backfill bool
	// StartAfterKey lists only the keys after the lookback window (the
	// LookbackKeys largest done keys and those done within Lookback).
	StartAfterKey bool
	LookbackKeys  int
	Lookback      time.Duration
	// Retention forgets done files completed longer ago than it (0: never).
	Retention time.Duration
	// Reconcile, for Follow only: list the store this often (0: never)
	// while following the queue, with the start-after window above, so
	// that objects whose notification never arrived load too.
	Reconcile time.Duration
	// LeaseRanges, for Poll only, when not 0: the keys are split into this
	// many hash ranges (a power of two), leased in the state (it must be a
	// state.Leaser) to the processes polling the pipeline, and this one
	// loads only the keys of the ranges it holds (package lease).
	// LeaseExpiry is how long a lease lasts without a heartbeat (default
	// lease.DefaultExpiry); the heartbeat comes every third of it.
	LeaseRanges int
	LeaseExpiry time.Duration
}

// Validate checks the polling options.
func (o PollOptions) Validate() error {
	switch {
	case o.Interval <= 0:
		return errors.New("poll interval must be positive")
	case o.LookbackKeys < 0 || o.Lookback < 0 || o.Retention < 0 || o.Reconcile < 0:
		return errors.New("lookback keys, lookback, state retention and reconcile interval must not be negative")
	case o.StartAfterKey && o.LookbackKeys == 0 && o.Lookback == 0:
		return errors.New("start-after-key needs lookback keys or a lookback")
	case o.Retention > 0 && o.StartAfterKey && o.Lookback > o.Retention:
		return errors.New("state retention must be longer than the lookback, or files in the window load again")
	case o.LeaseRanges > 0 && o.Reconcile > 0:
		return errors.New("lease ranges are for polling replication; the reconcile interval is for SQS, whose queue already shares the files out")
	}
	return lease.Validate(o.LeaseRanges, cmp.Or(o.LeaseExpiry, lease.DefaultExpiry))
}
