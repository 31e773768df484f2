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
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// The commands that read and act on a pipeline's state: status, files,
// retry and rejects. They open the state where a job keeps it (--state,
// else the --target database, else the .ferry directory) and never create
// it.

// inspectOptions are the flags of the state commands.
type inspectOptions struct {
	config, pipeline, state, target, schema, rejectsFile string
	json                                                 bool
	maxAttempts                                          int
	// files
	status, prefix string
	limit          int
	// retry
	allFailed bool
	// rejects
	key string
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
	fs.StringVar(&o.pipeline, "pipeline", "", "the pipeline (default: every pipeline; retry: the only one)")
	fs.StringVar(&o.state, "state", "", "where the progress is: a PostgreSQL URL or a directory (default: the --target database, else .ferry)")
	fs.StringVar(&o.target, "target", "", "the job's PostgreSQL target, whose database holds the state when --state is not given")
	fs.StringVar(&o.schema, "state-schema", string(pgstate.DefaultSchema), "PostgreSQL schema of the state tables")
	if command == "status" || command == "files" {
		fs.IntVar(&o.maxAttempts, "max-attempts", 3, "a failed file with this many attempts counts as quarantined: the replicate's --max-attempts (0: none)")
	}
	if command != "retry" {
		fs.BoolVar(&o.json, "json", false, "print JSON (stable field names) instead of text")
	}
	switch command {
	case "files":
		fs.StringVar(&o.status, "status", "", "only files with this status: failed (quarantined included), quarantined, loading, done, replaced or removed")
		fs.StringVar(&o.prefix, "prefix", "", "only keys that start with this")
		fs.IntVar(&o.limit, "limit", 100, "at most this many files (0: all)")
	case "retry":
		fs.BoolVar(&o.allFailed, "all-failed", false, "retry every failed file of the pipeline")
	case "rejects":
		fs.StringVar(&o.key, "key", "", "only the records of this file key")
		fs.IntVar(&o.limit, "limit", 100, "at most this many records (0: all)")
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
	case command == "files" && !slices.Contains([]string{"", "failed", "quarantined", "loading", "done", "replaced", "removed"}, o.status):
		return fail(stderr, usage("--status %q: expected failed, quarantined, loading, done, replaced or removed", o.status))
	case o.limit < 0 || o.maxAttempts < 0:
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
	case o.pipeline != "" && !slices.Contains(names, o.pipeline):
		return fail(stderr, usage("unknown pipeline %q in %s (%s)", o.pipeline, where, pipelineList(names)))
	case o.pipeline != "":
		names = []string{o.pipeline}
	case command == "retry" && len(names) != 1:
		return fail(stderr, usage("retry: name the pipeline with --pipeline (%s in %s)", pipelineList(names), where))
	}
	switch command {
	case "status":
		err = status(ctx, in, names, o, stdout)
	case "files":
		err = files(ctx, in, o, stdout)
	case "retry":
		return retry(ctx, in, names[0], keys, stdout, stderr)
	case "rejects":
		err = rejects(ctx, in, o, stdout)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// pipelineList names the pipelines for an error line: at most
// maxListed of them, and how many more (ferry status lists them all).
func pipelineList(names []string) string {
	if len(names) == 0 {
		return "it has no pipelines"
	}
	if len(names) > maxListed {
		return fmt.Sprintf("pipelines: %s and %d more; 'ferry status' lists them", strings.Join(quoteAll(names[:maxListed]), ", "), len(names)-maxListed)
	}
	return "pipelines: " + strings.Join(quoteAll(names), ", ")
}

// maxListed is how many pipeline names an error line gives.
const maxListed = 10

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
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
		if !isPostgresURL(o.target) {
			return nil, "", nil, usage("--target %q: the state is in a PostgreSQL target's database; for another target, --state names the directory", o.target)
		}
		url = o.target
	}
	if isPostgresURL(url) {
		pool, err := pgstate.Connect(ctx, url, 2, "ferry/"+cmp.Or(o.pipeline, "status"))
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
	dir := cmp.Or(strings.TrimPrefix(url, "file:"), ".ferry")
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

// quarantineCount returns a function counting the pipeline's quarantined
// files in the state (they load again only after ferry retry, or as a new
// version), or nil when the state cannot say or nothing is quarantined
// (--max-attempts 0). The count is false when the state did not answer.
func quarantineCount(st state.Store, pipeline string, maxAttempts int) func(context.Context) (int64, bool) {
	in, ok := st.(state.Inspector)
	if !ok || maxAttempts == 0 {
		return nil
	}
	return func(ctx context.Context) (int64, bool) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		sum, err := in.Summary(ctx, pipeline, maxAttempts)
		return sum.Quarantined, err == nil
	}
}

// logQuarantined says at the start of a replication how many files are
// quarantined.
func logQuarantined(ctx context.Context, count func(context.Context) (int64, bool), maxAttempts int, log zerolog.Logger) {
	if count == nil {
		return
	}
	n, ok := count(ctx)
	switch {
	case !ok:
		log.Warn().Msg("cannot count quarantined files")
	case n > 0:
		log.Warn().Int64("quarantined", n).Int("max_attempts", maxAttempts).
			Msg("quarantined files are not loaded again: 'ferry files --status quarantined' lists them, 'ferry retry' makes them load")
	}
}

func status(ctx context.Context, in state.Inspector, names []string, o *inspectOptions, w io.Writer) error {
	var out statusJSON
	out.Pipelines = []pipelineJSON{}
	for _, p := range names {
		sum, err := in.Summary(ctx, p, o.maxAttempts)
		if err != nil {
			return err
		}
		out.Pipelines = append(out.Pipelines, newPipelineJSON(sum, o.maxAttempts))
	}
	if o.json {
		return writeJSON(w, out)
	}
	return writeStatus(w, out)
}

func files(ctx context.Context, in state.Inspector, o *inspectOptions, w io.Writer) error {
	q := state.FileQuery{Pipeline: o.pipeline, Status: state.Status(o.status), Prefix: o.prefix, Limit: o.limit}
	if o.status == "quarantined" {
		if o.maxAttempts == 0 {
			return usage("--status quarantined needs --max-attempts above 0")
		}
		q.Status, q.MinAttempts = state.Failed, o.maxAttempts
	}
	fs, err := in.Files(ctx, q)
	if err != nil {
		return err
	}
	out := filesJSON{Files: []fileJSON{}}
	for _, f := range fs {
		out.Files = append(out.Files, newFileJSON(f, o.maxAttempts))
	}
	if o.json {
		return writeJSON(w, out)
	}
	return writeFiles(w, out, o.pipeline == "")
}

// retry retries the keys (all failed files when none) and prints what it
// changed; a key with no failed version is named on stderr, and makes the
// exit status 1.
func retry(ctx context.Context, in state.Inspector, pipeline string, keys []string, stdout, stderr io.Writer) int {
	changed, err := in.Retry(ctx, pipeline, keys)
	if err != nil {
		return fail(stderr, err)
	}
	writeRetried(stdout, pipeline, changed)
	exit := exitOK
	for _, k := range keys {
		if slices.ContainsFunc(changed, func(f state.FileInfo) bool { return f.Key == k }) {
			continue
		}
		fs, err := in.Files(ctx, state.FileQuery{Pipeline: pipeline, Keys: []string{k}})
		if err != nil {
			return fail(stderr, err)
		}
		if len(fs) == 0 {
			fmt.Fprintf(stderr, "ferry: %q: no such file in pipeline %q\n", k, pipeline)
		} else {
			fmt.Fprintf(stderr, "ferry: %q: not failed (%s), left as it is\n", k, fs[0].Status)
		}
		exit = exitFailed
	}
	return exit
}

func rejects(ctx context.Context, in state.Inspector, o *inspectOptions, w io.Writer) error {
	rs, err := in.Rejects(ctx, state.RejectQuery{Pipeline: o.pipeline, Key: o.key, Limit: o.limit})
	if errors.Is(err, state.ErrNoRejects) {
		return usage("the state directory keeps no rejected records: --rejects-file names the job's rejects file")
	}
	if err != nil {
		return err
	}
	out := rejectsJSON{Rejects: []rejectJSON{}}
	for _, r := range rs {
		out.Rejects = append(out.Rejects, newRejectJSON(r))
	}
	if o.json {
		return writeJSON(w, out)
	}
	return writeRejects(w, out)
}

// utc formats a time for output: RFC 3339 in UTC, to the second.
func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
