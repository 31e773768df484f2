package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/runner/lease"
	"github.com/ferrydata/ferry/state"
)

// Config is what a Runner is built from: the parts, already open, and the
// policy.
type Config struct {
	Store  source.Store
	Target pusher.Target
	State  state.Store
	// Pipeline names the progress state.
	Pipeline string
	// Load says how to read a file (format, compression, batch sizes);
	// the runner sets its Pushed, ReadBytes and WriteCtx.
	Load    load.Config
	Options Options
	Log     zerolog.Logger
	// Observer, when set, is told of the engine's events (metrics).
	Observer Observer
}

// Runner loads the files feeds send. Its counters are safe to read at any
// time (progress display, tests).
type Runner struct {
	store    source.Store
	target   pusher.Target
	state    state.Store
	pipeline string
	load     load.Config
	opts     Options
	log      zerolog.Logger
	done     doneCache
	obs      Observer
	after    *afterLoader // --after-load; nil: keep

	// leases, while Poll runs with PollOptions.LeaseRanges, say which
	// keys are this process's.
	leases atomic.Pointer[lease.Manager]

	// async is the asynchronous pusher of the pass under way, if any.
	async atomic.Pointer[pusher.Async]
	// flying counts the files started and not yet ended.
	flying atomic.Int64

	Counters
}

// Counters count what the runner did since it was built.
type Counters struct {
	Listed, Skipped, Done, Failed atomic.Int64
	Vanished, Rejected, Retry     atomic.Int64
	Rescued                       atomic.Int64 // records loaded with values in the rescue column
	Claimed                       atomic.Int64 // files another process was loading
	Removed                       atomic.Int64 // keys removed (--delete-on-remove)
	// After-load actions (--after-load) done, failed (tried again
	// later) and skipped (the object changed or vanished first).
	AfterLoadDone, AfterLoadFailed, AfterLoadSkipped atomic.Int64
	Records, ReadBytes                               atomic.Int64
	// Backlog is a gauge: the files wanted (named by a feed and not done
	// or quarantined) whose load has not ended. WantedBytes adds up the
	// sizes of the files wanted (a file wanted again counts again).
	Backlog, WantedBytes atomic.Int64
	// LastLag is the lag of the file loaded last, in nanoseconds: when its
	// load ended (its last chunk committed) minus its LastModified.
	LastLag atomic.Int64
	// What listings saw (discover.Stats): every key the store listed,
	// and those not selected: hidden files and directory markers, keys
	// the include/exclude globs leave out, objects older than Since.
	Keys, Hidden, Unmatched, Old atomic.Int64
	// Others counts the objects listings selected whose keys are in hash
	// ranges leased to other processes (PollOptions.LeaseRanges): not
	// looked up, not loaded here.
	Others atomic.Int64
	// LeaseRanges is how many hash ranges the keys are split into (0:
	// leases off); LeasesHeld how many of them this process holds (a
	// gauge).
	LeaseRanges, LeasesHeld atomic.Int64
}

// New returns a runner over cfg's parts; it validates cfg.Options.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil || cfg.Target == nil || cfg.State == nil {
		return nil, errors.New("runner: a store, a target and a state store are needed")
	}
	if err := cfg.Options.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{store: cfg.Store, target: cfg.Target, state: cfg.State, pipeline: cfg.Pipeline,
		load: cfg.Load, opts: cfg.Options, log: cfg.Log, obs: cfg.Observer}
	if r.obs == nil {
		r.obs = nopObserver{}
	}
	var err error
	if r.after, err = newAfterLoader(cfg.Store, cfg.State, cfg.Options.AfterLoad); err != nil {
		return nil, err
	}
	if r.after != nil {
		r.load.AfterLoad = r.after.action.String()
	}
	r.load.ReadBytes = &r.ReadBytes
	r.load.Pushed = func(n int64) { r.Records.Add(n) }
	if r.load.Warn == nil {
		r.load.Warn = func(msg string) { r.log.Warn().Msg(msg) }
	}
	r.load.Retrying = func(obj pusher.Object, at pusher.Position, retry int, wait time.Duration, err error) {
		r.obs.Retried(RetryRead)
		r.log.Warn().Str("file", obj.Key).Int64("offset", at.Offset).Int64("record", at.Records).
			Int("retry", retry).Dur("retry_in", wait).Msg("read failed, retrying: " + err.Error())
	}
	return r, nil
}

// Pipeline is the name of the runner's progress state.
func (r *Runner) Pipeline() string { return r.pipeline }

// Inflight returns the files being loaded (started, not yet ended), the
// bytes of their chunks read and not yet committed, and the budget of
// those bytes (Options.InflightBytes; 0 without Options.Async). Safe to
// call at any time (metrics).
func (r *Runner) Inflight() (files, bytes, limit int64) {
	if r.opts.Async {
		limit = cmp.Or(r.opts.InflightBytes, pusher.DefaultInflightBytes)
	}
	if a := r.async.Load(); a != nil {
		bytes = a.InflightBytes()
	}
	return r.flying.Load(), bytes, limit
}

// BacklogFiles returns Counters.Backlog: the files named (listed or
// notified) and wanted whose load has not ended.
func (r *Runner) BacklogFiles() int64 { return r.Backlog.Load() }

// Summary of a pass.
type Summary struct {
	Files, Loaded, AlreadyDone, Failed int64
	Vanished, Rejected                 int64
	Rescued                            int64 // records loaded with values in the rescue column
	// After-load actions done and failed in the pass (--after-load).
	AfterLoadDone, AfterLoadFailed int64
	Aborted                        bool // OnErrorAbort stopped the pass
	Unavailable                    bool // a service was down: the pass stopped early
	Records, Bytes                 int64
	Elapsed                        time.Duration
	Errors                         []error
	// What the listings saw: keys listed, and of them not selected
	// (Files are the selected ones).
	Keys, Hidden, Unmatched, Old int64
	// Others: objects selected in hash ranges leased to other processes
	// (not in Files).
	Others int64
}

// MemoryBudget is about the most the runner holds, with room for the
// rest of the process: the in-flight budget (asynchronous loading), the
// batches being read and written and, with parallel parsing, the blocks
// and batches each file's parsers hold. Set as the process's soft memory
// limit (debug.SetMemoryLimit), it keeps the GC working to the budget.
// The room (memoryRoom) is what a 2 GiB file at the default budget needs
// with the peak RSS (which adds the program's own pages) under 160 MiB.
func (r *Runner) MemoryBudget() int64 {
	limit := r.opts.InflightBytes + memoryRoom
	if r.load.ParseWorkers > 1 {
		limit += int64(r.opts.Workers) * int64(r.load.ParseWorkers+2) * int64(r.load.Format.BatchBytes)
	}
	return limit
}

// memoryRoom is MemoryBudget's room beside the in-flight budget.
const memoryRoom = 80 << 20

// MBPerSecond is the rate the pass read its files at.
func (s Summary) MBPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Bytes) / 1e6 / s.Elapsed.Seconds()
}

// MarshalZerologObject writes the summary's figures as log fields.
func (s Summary) MarshalZerologObject(e *zerolog.Event) {
	e.Int64("files", s.Files).Int64("loaded", s.Loaded).Int64("already_loaded", s.AlreadyDone).
		Int64("failed", s.Failed).Int64("vanished", s.Vanished).Int64("rejected", s.Rejected).Int64("rescued", s.Rescued).Bool("aborted", s.Aborted).
		Int64("after_load_done", s.AfterLoadDone).Int64("after_load_failed", s.AfterLoadFailed).
		Int64("rows", s.Records).Int64("bytes", s.Bytes).
		Float64("seconds", s.Elapsed.Seconds()).Float64("mb_per_s", s.MBPerSecond()).
		Int64("keys_listed", s.Keys).Int64("hidden", s.Hidden).Int64("unmatched", s.Unmatched).Int64("older", s.Old)
}

// ErrNoFiles is wrapped by the error NothingMatched returns.
var ErrNoFiles = errors.New("no files matched")

// NothingMatched returns, when the pass's listings selected no file, an
// error wrapping ErrNoFiles that says what they saw in source: how many
// keys were listed and how many of them each selection left out. It
// returns nil when a file was selected (done already or not).
func (s Summary) NothingMatched(source string) error {
	if s.Files > 0 || s.Others > 0 {
		return nil
	}
	if s.Keys == 0 {
		return fmt.Errorf("%w in %s: the listing found no keys (check the bucket, prefix or path)", ErrNoFiles, source)
	}
	parts := []string{fmt.Sprintf("%d keys listed", s.Keys)}
	for _, p := range []struct {
		n    int64
		what string
	}{{s.Unmatched, "left out by --include/--exclude"}, {s.Old, "older than --since (or the lookback window)"}, {s.Hidden, "hidden files or directory markers"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return fmt.Errorf("%w in %s: %s", ErrNoFiles, source, strings.Join(parts, ", "))
}

type counts struct {
	Listed, Skipped, Done, Failed, Vanished, Rejected, Records, Bytes int64
	Keys, Hidden, Unmatched, Old                                      int64
	Rescued, Others                                                   int64
	AfterLoadDone, AfterLoadFailed                                    int64
}

func (r *Runner) counts() counts {
	return counts{r.Listed.Load(), r.Skipped.Load(), r.Done.Load(), r.Failed.Load(), r.Vanished.Load(),
		r.Rejected.Load(), r.Records.Load(), r.ReadBytes.Load(),
		r.Keys.Load(), r.Hidden.Load(), r.Unmatched.Load(), r.Old.Load(), r.Rescued.Load(), r.Others.Load(),
		r.AfterLoadDone.Load(), r.AfterLoadFailed.Load()}
}

// summary fills s's counts with what happened since before.
func (r *Runner) summary(s *Summary, before counts, start time.Time) {
	after := r.counts()
	s.Files = after.Listed - before.Listed
	s.AlreadyDone = after.Skipped - before.Skipped
	s.Loaded = after.Done - before.Done
	s.Failed = after.Failed - before.Failed
	s.Vanished = after.Vanished - before.Vanished
	s.Rejected = after.Rejected - before.Rejected
	s.Rescued = after.Rescued - before.Rescued
	s.AfterLoadDone = after.AfterLoadDone - before.AfterLoadDone
	s.AfterLoadFailed = after.AfterLoadFailed - before.AfterLoadFailed
	s.Records = after.Records - before.Records
	s.Bytes = after.Bytes - before.Bytes
	s.Keys = after.Keys - before.Keys
	s.Hidden = after.Hidden - before.Hidden
	s.Unmatched = after.Unmatched - before.Unmatched
	s.Old = after.Old - before.Old
	s.Others = after.Others - before.Others
	s.Elapsed = time.Since(start)
}

// Prune forgets done files completed before now minus retention, with
// keys below belowKey when it is not "", and logs how many.
func (r *Runner) Prune(ctx context.Context, retention time.Duration, belowKey string) error {
	n, err := r.state.Prune(ctx, r.pipeline, time.Now().Add(-retention), belowKey)
	r.stateRoundTrip(err)
	if err != nil {
		return err
	}
	if n > 0 {
		r.done.clear()
	}
	if n > 0 {
		r.log.Info().Int64("files", n).Msg("pruned done files past --state-retention")
	}
	return nil
}
