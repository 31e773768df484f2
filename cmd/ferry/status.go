package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/state/inspect"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// The commands that read and act on a pipeline's state: status, files,
// retry and rejects. They open the state where a job keeps it (--state,
// else the --target database, else the .ferry directory) and never create
// it.

// inspectOptions are the flags of the state commands: where the state
// is, and what to print (inspect.Options).
type inspectOptions struct {
	inspect.Options
	config, state, target, schema, rejectsFile string
	allFailed                                  bool // retry
}

var inspectUsage = map[string]string{
	"status": `Usage: ferry status [--pipeline NAME] [--state URL|DIR | --target URL] [--json]

One block per pipeline: files done, loading, failed and quarantined; records
and bytes loaded; first and last load; the oldest file still loading; the
last error.`,
	"files": `Usage: ferry files [--pipeline NAME] [--status failed|quarantined|loading|done] [--prefix P] [--limit N] [--json]

The files in the state, the most recently updated first, with attempts,
records, bytes, error and times.`,
	"retry": `Usage: ferry retry [--pipeline NAME] (KEY... | --all-failed)

Make failed and quarantined files eligible again: the next run or poll loads
them (from the position they reached). Their attempts go back to 0; the
error stays in their retry history. Prints what it changed.`,
	"rejects": `Usage: ferry rejects [--pipeline NAME] [--key K] [--limit N] [--json]

The records rejected under --on-error skip-record (and queue messages that
were not notifications), the newest first, with their errors.`,
}

func newInspectFlags(command string, stderr io.Writer) (*flag.FlagSet, *inspectOptions) {
	o := &inspectOptions{}
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "the job's YAML `file`: its pipeline, state, target, state-schema, max-attempts and rejects-file keys apply (flags win), the others are ignored")
	fs.StringVar(&o.Pipeline, "pipeline", "", "the pipeline (default: every pipeline; retry: the only one)")
	fs.StringVar(&o.state, "state", "", "where the progress is: a PostgreSQL URL or a directory (default: the --target database, else .ferry)")
	fs.StringVar(&o.target, "target", "", "the job's PostgreSQL target, whose database holds the state when --state is not given")
	fs.StringVar(&o.schema, "state-schema", string(pgstate.DefaultSchema), "PostgreSQL schema of the state tables")
	if command == "status" || command == "files" {
		fs.IntVar(&o.MaxAttempts, "max-attempts", 3, "a failed file with this many attempts counts as quarantined: the replicate's --max-attempts (0: none)")
	}
	if command != "retry" {
		fs.BoolVar(&o.JSON, "json", false, "print JSON (stable field names) instead of text")
	}
	switch command {
	case "files":
		fs.StringVar(&o.Status, "status", "", "only files with this status: failed (quarantined included), quarantined, loading, done, replaced or removed")
		fs.StringVar(&o.Prefix, "prefix", "", "only keys that start with this")
		fs.IntVar(&o.Limit, "limit", 100, "at most this many files (0: all)")
	case "retry":
		fs.BoolVar(&o.allFailed, "all-failed", false, "retry every failed file of the pipeline")
	case "rejects":
		fs.StringVar(&o.Key, "key", "", "only the records of this file key")
		fs.IntVar(&o.Limit, "limit", 100, "at most this many records (0: all)")
		fs.StringVar(&o.rejectsFile, "rejects-file", "ferry-rejects.jsonl", "with the .ferry directory state: the job's --rejects-file")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", inspectUsage[command])
		fs.PrintDefaults()
	}
	return fs, o
}

// runInspect runs status, files, retry or rejects.
func runInspect(command string, args []string, stdout, stderr io.Writer) int {
	fs, o := newInspectFlags(command, stderr)
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stdout)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return exitOK
	}
	if err != nil {
		return fail(stderr, usage("%v (run 'ferry %s -h' for the flags)", err, command))
	}
	if o.config != "" {
		if err := applyConfigFile(fs, o.config, false); err != nil {
			return fail(stderr, &UsageError{Err: err})
		}
	}
	keys := fs.Args()
	switch {
	case command == "retry" && len(keys) == 0 && !o.allFailed:
		return fail(stderr, usage("retry: name the file keys, or --all-failed"))
	case command == "retry" && len(keys) > 0 && o.allFailed:
		return fail(stderr, usage("retry: keys or --all-failed, not both"))
	case command != "retry" && len(keys) > 0:
		return fail(stderr, usage("unexpected argument %q", keys[0]))
	case command == "files" && !slices.Contains([]string{"", "failed", "quarantined", "loading", "done", "replaced", "removed"}, o.Status):
		return fail(stderr, usage("--status %q: expected failed, quarantined, loading, done, replaced or removed", o.Status))
	case o.Limit < 0 || o.MaxAttempts < 0:
		return fail(stderr, usage("--limit and --max-attempts must not be negative"))
	}
	ctx, cancel := signalContext()
	defer cancel()
	in, where, closeState, err := openInspector(ctx, o)
	if err != nil {
		return fail(stderr, err)
	}
	defer closeState()
	names, err := in.Pipelines(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	switch {
	case o.Pipeline != "" && !slices.Contains(names, o.Pipeline):
		return fail(stderr, usage("unknown pipeline %q in %s (%s)", o.Pipeline, where, inspect.PipelineList(names)))
	case o.Pipeline != "":
		names = []string{o.Pipeline}
	case command == "retry" && len(names) != 1:
		return fail(stderr, usage("retry: name the pipeline with --pipeline (%s in %s)", inspect.PipelineList(names), where))
	}
	switch command {
	case "status":
		err = inspect.Status(ctx, in, names, o.Options, stdout)
	case "files":
		if o.Status == "quarantined" && o.MaxAttempts == 0 {
			return fail(stderr, usage("--status quarantined needs --max-attempts above 0"))
		}
		err = inspect.Files(ctx, in, o.Options, stdout)
	case "retry":
		return retry(ctx, in, names[0], keys, stdout, stderr)
	case "rejects":
		err = inspect.Rejects(ctx, in, o.Options, stdout)
		if errors.Is(err, state.ErrNoRejects) {
			err = usage("the state directory keeps no rejected records: --rejects-file names the job's rejects file")
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// retry retries the keys (all failed files when none) and prints what it
// changed; a key with no failed version is named on stderr, and makes the
// exit status 1.
func retry(ctx context.Context, in state.Inspector, pipeline string, keys []string, stdout, stderr io.Writer) int {
	left, err := inspect.Retry(ctx, in, pipeline, keys, stdout)
	for _, e := range left {
		fmt.Fprintf(stderr, "ferry: %v\n", e)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if len(left) > 0 {
		return exitFailed
	}
	return exitOK
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// openInspector opens the state the options name, without creating it;
// where says which, for messages.
func openInspector(ctx context.Context, o *inspectOptions) (in state.Inspector, where string, closeState func(), err error) {
	if err := pgstate.Schema(o.schema).Validate(); err != nil {
		return nil, "", nil, usage("--state-schema: %v", err)
	}
	url := o.state
	if url == "" && o.target != "" {
		if !pgstate.IsURL(o.target) {
			return nil, "", nil, usage("--target %q: the state is in a PostgreSQL target's database; for another target, --state names the directory", o.target)
		}
		url = o.target
	}
	if pgstate.IsURL(url) {
		pool, err := pgstate.Connect(ctx, url, 2, "ferry/"+cmp.Or(o.Pipeline, "status"))
		if errors.Is(err, pgstate.ErrBadURL) {
			return nil, "", nil, &UsageError{Err: err}
		}
		if err != nil {
			return nil, "", nil, err
		}
		where = "PostgreSQL schema " + pgstate.Schema(o.schema).Name()
		st, err := pgstate.Schema(o.schema).Inspect(ctx, pool)
		if err != nil {
			pool.Close()
			if errors.Is(err, pgstate.ErrNoState) {
				err = fmt.Errorf("no ferry state in %s (--state, --target and --state-schema say where it is)", where)
			}
			return nil, "", nil, err
		}
		return st, where, pool.Close, nil
	}
	dir := filestore.Dir(url)
	where = "state directory " + dir
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, "", nil, fmt.Errorf("no ferry state in %s (--state or --target says where it is)", dir)
	}
	st, err := filestore.New(dir)
	if err != nil {
		return nil, "", nil, err
	}
	st.RejectsFile = o.rejectsFile
	return st, where, func() { st.Close() }, nil
}
