// Command ferry moves the records of files (CSV, TSV, JSON lines, JSON
// documents, log lines, Parquet; plain, gzip or zstd) from a local
// directory or S3 (and S3-compatible stores) into PostgreSQL, or writes
// them as JSON lines to stdout or a file. It runs three jobs: snapshot
// (every matching file once, then exit), replication from S3 event
// notifications on an SQS queue (replicate --sqs-queue-url), and polling
// replication (replicate: list the store every --poll-interval; also for
// log files that land in a bucket).
//
// Usage:
//
//	ferry snapshot --source DIR|s3://bucket/prefix [flags]
//	ferry replicate --source DIR|s3://bucket/prefix [--sqs-queue-url URL] [flags]
//	ferry status|files|retry|rejects [flags]
//
// The command only composes the components' flags (each binds its own
// with AddFlags) into a Config, applies the config file, validates across
// components, builds the store (source/stores) and the target with its
// state (targets.Open), starts the engine (package source/runner) with
// its progress display (source/runner/progress) and metrics
// (source/runner/metrics), and runs the state commands of state/inspect.
// Exit status: 0 when every file loaded, 1 when any failed, a snapshot
// matched no file (unless --allow-empty) or the job could not run, 2 on
// bad usage or configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/rs/zerolog"

	_ "github.com/ferrydata/ferry/source/format/csv"     // csv, tsv readers
	_ "github.com/ferrydata/ferry/source/format/json"    // json reader
	_ "github.com/ferrydata/ferry/source/format/jsonl"   // jsonl reader
	_ "github.com/ferrydata/ferry/source/format/lines"   // lines reader
	_ "github.com/ferrydata/ferry/source/format/parquet" // parquet reader
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/runner/metrics"
	"github.com/ferrydata/ferry/source/runner/progress"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/state/inspect"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const topUsage = `ferry replicates files into databases.

Usage:
  ferry snapshot [flags]      load every matching file once, then exit
  ferry replicate [flags]     load every matching file, then follow new files until stopped
  ferry plan [flags]          a dry run of snapshot: files, table DDL or mapping, rejects; writes nothing
  ferry status [flags]        what each pipeline has loaded, is loading and failed
  ferry files [flags]         the files in a pipeline's state
  ferry retry [flags] KEY...  load failed or quarantined files again at the next run or poll
  ferry rejects [flags]       the rejected records and their errors
  ferry version               print the version and the commit it was built from
  ferry help [command]        show help

Run 'ferry COMMAND -h' for the flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	switch args[0] {
	case "snapshot", "replicate":
		return runJob(args[0], args[1:], stdout, stderr)
	case "plan":
		return runPlan(args[1:], stdout, stderr)
	case "status", "files", "retry", "rejects":
		return runInspect(args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 && (slices.Contains([]string{"snapshot", "replicate", "plan"}, args[1]) || inspect.Usage[args[1]] != "") {
			return run([]string{args[1], "-h"}, stdout, stderr) // its usage, on stdout
		}
		fmt.Fprint(stdout, topUsage)
		return exitOK
	case "version", "--version":
		fmt.Fprintln(stdout, "ferry", progress.Version())
		return exitOK
	}
	fmt.Fprintf(stderr, "ferry: unknown command %q\n\n%s", args[0], topUsage)
	return exitUsage
}

// fail prints err and returns its exit status.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "ferry: %s\n", progress.OneLine(err.Error()))
	if ue := (interface{ Usage() bool })(nil); errors.As(err, &ue) && ue.Usage() {
		return exitUsage
	}
	return exitFailed
}

// prepare parses a command's flags (and config file), validates them and
// makes the logger. An exit status >= 0 means stop with it (help was shown
// on stdout, or the usage was wrong and the reason printed on stderr).
func prepare(command string, args []string, stdout, stderr io.Writer, validate func(*Config) error) (Config, *options, zerolog.Logger, int) {
	fs, o := newFlags(command, stdout)
	cfg, err := o.parse(fs, args)
	if errors.Is(err, errHelp) {
		return cfg, o, zerolog.Nop(), exitOK
	}
	if err == nil && validate != nil {
		err = validate(&cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ferry: %v\n", err)
		return cfg, o, zerolog.Nop(), exitUsage
	}
	log, err := progress.NewLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "ferry: %v\n", err)
		return cfg, o, log, exitUsage
	}
	return cfg, o, log, -1
}

// runJob runs snapshot or replicate. The stop is two-phase: the first
// SIGINT/SIGTERM stops listing and reading; chunks being written get
// --shutdown-timeout (replicate; none for a snapshot) to commit, which a
// second signal cuts short. The handler is installed first, so a signal
// during start-up is a graceful stop too.
func runJob(command string, args []string, stdout, stderr io.Writer) int {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	validate := (*Config).ValidateReplication
	if command == "snapshot" {
		validate = nil
	}
	cfg, o, log, exit := prepare(command, args, stdout, stderr, validate)
	if exit >= 0 {
		return exit
	}
	stopProfile, err := metrics.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return fail(stderr, &UsageError{Err: err})
	}
	defer stopProfile()
	var srv *metrics.Endpoint
	if o.metrics != "" {
		if srv, err = metrics.Serve(o.metrics); err != nil {
			return fail(stderr, err)
		}
		defer srv.Close()
		cfg.Observer = srv.Metrics
	}
	ctx, writeCtx, stop := runner.Shutdown(signals, cfg.ShutdownTimeout, log)
	defer stop()
	j, err := open(ctx, cfg, log)
	if err != nil {
		return fail(stderr, err)
	}
	defer j.Close()
	if srv != nil {
		j.metrics = srv.WatchJob(metrics.Job{Pipeline: j.Pipeline(), Counters: &j.Counters, Runner: j.Runner, Snapshot: command == "snapshot",
			Queue: j.queue != nil, PollInterval: cfg.Poll.Interval, Leases: cfg.Poll.LeaseRanges > 0, Ping: j.out.Ping})
	}
	if os.Getenv("GOMEMLIMIT") == "" && cfg.Runner.Async {
		debug.SetMemoryLimit(j.MemoryBudget())
	}
	if command == "snapshot" {
		return snapshot(ctx, j, o, stderr, log)
	}
	if err := follow(ctx, writeCtx, j, cfg, log); err != nil {
		return fail(stderr, err)
	}
	log.Info().Msg("stopped; the next start resumes where this one stopped")
	return exitOK
}

// snapshot loads every file once; the exit status says whether all did.
func snapshot(ctx context.Context, j *job, o *options, stderr io.Writer, log zerolog.Logger) int {
	log.Info().Str("pipeline", j.Pipeline()).Str("version", progress.Version()).Msg("snapshot starting")
	stopProgress := progress.Start(ctx, &j.Counters, stderr, o.progress, log)
	sum, err := j.Snapshot(ctx)
	stopProgress()
	progress.PrintSummary(stderr, sum, j.out.RejectsAt, o.logFormat == "json", log)
	switch {
	case err != nil && sum.Unavailable:
		fmt.Fprintf(stderr, "ferry: %s\nferry: a service was unavailable; files not loaded were left to resume: run again\n", progress.OneLine(err.Error()))
		return exitFailed
	case err != nil:
		fmt.Fprintf(stderr, "ferry: %s\n", progress.OneLine(err.Error()))
		return exitFailed
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "ferry: interrupted; run again to resume")
		return exitFailed
	case sum.Failed > 0:
		return exitFailed
	}
	if err := sum.NothingMatched(j.store.String()); err != nil {
		if o.allowEmpty {
			fmt.Fprintf(stderr, "ferry: %v (--allow-empty)\n", err)
			return exitOK
		}
		if a := o.cfg.Runner.AfterLoad; a.Removes() {
			// The files loaded before are gone by their own action.
			fmt.Fprintf(stderr, "ferry: %v (--after-load %s takes the files loaded away)\n", err, a)
			return exitOK
		}
		fmt.Fprintf(stderr, "ferry: %v; --allow-empty makes this exit 0\n", err)
		return exitFailed
	}
	return exitOK
}

// follow runs a replication until ctx is cancelled: polling the store, or
// following the S3 notifications on --sqs-queue-url.
func follow(ctx, writeCtx context.Context, j *job, cfg Config, log zerolog.Logger) error {
	quarantined := progress.QuarantineCount(j.out.State, j.Pipeline(), cfg.Runner.MaxAttempts)
	progress.LogQuarantined(ctx, quarantined, cfg.Runner.MaxAttempts, log)
	if j.queue == nil {
		log.Info().Str("pipeline", j.Pipeline()).Str("version", progress.Version()).Dur("poll_interval", cfg.Poll.Interval).Bool("backfill", cfg.Poll.Backfill).Int("lease_ranges", cfg.Poll.LeaseRanges).Msg("replication starting")
		defer progress.StartStatus(ctx, &j.Counters, quarantined, progress.StatusEvery, log)()
		return j.Poll(ctx, writeCtx, cfg.Poll)
	}
	log.Info().Str("pipeline", j.Pipeline()).Str("version", progress.Version()).Str("queue", cfg.SQS.QueueURL).Bool("backfill", cfg.Poll.Backfill).Msg("replication from SQS notifications starting")
	fc := cfg.Feed
	fc.Queue, fc.Store, fc.Filter, fc.Since, fc.Visibility = j.queue, j.store.(sqs.Store), cfg.Runner.Filter, cfg.Runner.Since, cfg.SQS.Visibility
	fc.Rejects, fc.Pipeline, fc.Quarantined, fc.Log = j.out.Rejects, j.Pipeline(), j.Quarantined, log
	fc.Report = progress.QueueReport(ctx, &j.Counters, quarantined)
	if j.metrics != nil {
		fc.Received = j.metrics.SourceRoundTrip
	}
	feed := sqs.NewFeed(fc)
	if j.metrics != nil {
		j.metrics.WatchQueue(&feed.Counters, feed)
	}
	stop := feed.Start(ctx, writeCtx)
	defer stop()
	return j.Follow(ctx, writeCtx, feed.Feed(ctx), runner.FollowOptions{Backfill: cfg.Poll.Backfill, Retention: cfg.Poll.Retention, Reconcile: cfg.Poll})
}
