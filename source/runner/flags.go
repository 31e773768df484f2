package runner

import (
	"flag"
	"strconv"
	"time"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/runner/lease"
)

// AddFlags binds o to the engine's flags, with the defaults of a snapshot,
// or of a replication (skip-file, three attempts) when replicate is true.
// The command line always runs the async pusher.
func (o *Options) AddFlags(fs *flag.FlagSet, replicate bool) {
	onError, maxAttempts := OnErrorAbort, 0
	if replicate {
		onError, maxAttempts = OnErrorSkipFile, 3
	}
	fs.TextVar(&o.OnError, "on-error", onError, "bad records: abort (fail the file and stop), skip-record (load the rest, keep the bad ones in ferry.rejects or --rejects-file) or skip-file (fail the file, go on)")
	fs.TextVar(&o.AfterLoad, "after-load", source.AfterLoad{}, "what to do with a file once its rows are committed: keep, delete, move:PREFIX (a key prefix in the bucket, or a directory, outside the source) or tag:KEY=VALUE (S3); recorded in the state, retried with backoff, never reloads the file")
	fs.IntVar(&o.MaxAttempts, "max-attempts", maxAttempts, "a failed file is retried until it has failed this many times (0: every run)")
	fs.TextVar(&o.OnChange, "on-change", OnChangeAppend, "an object that changed (new ETag) after it was loaded: append (load it as a new version, the old rows stay), replace (its rows replace the old version's; PostgreSQL, adds _ferry_file), resume (a file that only grew loads only what was appended) or ignore (a key loads once)")
	fs.TextVar(&o.ResumeFallback, "resume-fallback", OnChange(""), "--on-change resume: how a new version that did not only grow loads: replace or append (default replace with PostgreSQL, else append)")
	fs.Var(reloadChanged{&o.OnChange}, "reload-changed", "same as --on-change append (true) or ignore (false)")
	fs.IntVar(&o.Workers, "workers", 0, "files loaded in parallel (default: number of CPUs)")
	fs.IntVar(&o.FetchAhead, "fetch-concurrency", 16, "GETs under way at once, started while files wait for a worker (0: each worker opens its file)")
	o.Async = true
	format.SizeVar(fs, &o.InflightBytes, "inflight-bytes", 64<<20, "budget of chunk bytes read but not yet committed; reading waits while it is spent")
	fs.BoolVar(&o.OverlapWrites, "overlap-writes", true, "write a big file's next chunk on a second connection while the one before commits (PostgreSQL with its state in the same database; false: one at a time)")
	fs.IntVar(&o.GroupFiles, "group-files", 500, "small files committed in one transaction at most, up to --batch-rows and --batch-bytes together (1: each alone)")
	fs.DurationVar(&o.GroupLinger, "group-linger", 5*time.Millisecond, "how long a transaction that could take more files waits for them (0: not at all)")
}

// AddFlags binds o to the polling flags of replicate.
func (o *PollOptions) AddFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.Interval, "poll-interval", 10*time.Second, "how often to list the source")
	fs.BoolVar(&o.Backfill, "backfill", true, "load what is already there before following new files; false: only objects modified from now on")
	fs.BoolVar(&o.StartAfterKey, "start-after-key", false, "for keys that grow lexicographically (date-partitioned): list only after the oldest key of the lookback window")
	fs.IntVar(&o.LookbackKeys, "lookback-keys", 0, "with --start-after-key: the window keeps this many of the newest loaded keys")
	fs.DurationVar(&o.Lookback, "lookback", 0, "with --start-after-key: the window keeps the keys loaded within this duration")
	fs.DurationVar(&o.Reconcile, "reconcile-interval", 0, "with --sqs-queue-url: also list the source this often (after the --start-after-key window), loading objects whose notifications never arrived (0: never)")
	fs.IntVar(&o.LeaseRanges, "lease-ranges", 0, "scale out: split the keys into this many hash ranges (a power of two, the same for every process), leased in the PostgreSQL state to the processes polling the pipeline; each loads only its ranges' keys (0: off; not with --sqs-queue-url)")
	fs.DurationVar(&o.LeaseExpiry, "lease-expiry", lease.DefaultExpiry, "with --lease-ranges: a process that has not renewed its leases for this long (heartbeat every third of it, or every --poll-interval when shorter) is taken for dead and its ranges are taken over")
	fs.DurationVar(&o.Retention, "state-retention", 0, "forget done files after this long (0: never); a forgotten file that is listed again loads again")
}

// reloadChanged is --reload-changed, the boolean alias of --on-change.
type reloadChanged struct{ v *OnChange }

func (r reloadChanged) IsBoolFlag() bool { return true }

func (r reloadChanged) String() string {
	if r.v == nil || *r.v != OnChangeIgnore {
		return "true"
	}
	return "false"
}

func (r reloadChanged) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*r.v = OnChangeAppend
	if !b {
		*r.v = OnChangeIgnore
	}
	return nil
}
