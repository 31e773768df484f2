package inspect

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// The state commands' command line: their usage and flags (Command), the
// checks of their arguments (Check), opening the state where a job keeps
// it (Open) and running one (Run). The YAML config file and the exit
// status stay with the command line.

// Usage is each state command's usage text.
var Usage = map[string]string{
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

// Command is a state command as its flags say: what to print (Options),
// and where the state is.
type Command struct {
	Options
	Name                               string // status, files, retry or rejects
	Config                             string // the job's YAML file (--config)
	State, Target, Schema, RejectsFile string
	AllFailed                          bool // retry
}

// UsageError is a bad flag or argument of a state command.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage says the error is the user's command line (exit status 2).
func (e *UsageError) Usage() bool { return true }

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// NewCommand defines the flags of the state command name on a new flag set
// whose usage goes to out.
func NewCommand(name string, out io.Writer) (*flag.FlagSet, *Command) {
	c := &Command{Name: name}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Config, "config", "", "the job's YAML `file`: its pipeline, state, target, state-schema, max-attempts and rejects-file keys apply (flags win), the others are ignored")
	fs.StringVar(&c.Pipeline, "pipeline", "", "the pipeline (default: every pipeline; retry: the only one)")
	fs.StringVar(&c.State, "state", "", "where the progress is: a PostgreSQL URL or a directory (default: the --target database, else .ferry)")
	fs.StringVar(&c.Target, "target", "", "the job's PostgreSQL target, whose database holds the state when --state is not given")
	fs.StringVar(&c.Schema, "state-schema", string(pgstate.DefaultSchema), "PostgreSQL schema of the state tables")
	if name == "status" || name == "files" {
		fs.IntVar(&c.MaxAttempts, "max-attempts", 3, "a failed file with this many attempts counts as quarantined: the replicate's --max-attempts (0: none)")
	}
	if name != "retry" {
		fs.BoolVar(&c.JSON, "json", false, "print JSON (stable field names) instead of text")
	}
	switch name {
	case "files":
		fs.StringVar(&c.Status, "status", "", "only files with this status: failed (quarantined included), quarantined, loading, done, replaced or removed")
		fs.StringVar(&c.Prefix, "prefix", "", "only keys that start with this")
		fs.IntVar(&c.Limit, "limit", 100, "at most this many files (0: all)")
	case "retry":
		fs.BoolVar(&c.AllFailed, "all-failed", false, "retry every failed file of the pipeline")
	case "rejects":
		fs.StringVar(&c.Key, "key", "", "only the records of this file key")
		fs.IntVar(&c.Limit, "limit", 100, "at most this many records (0: all)")
		fs.StringVar(&c.RejectsFile, "rejects-file", "ferry-rejects.jsonl", "with the .ferry directory state: the job's --rejects-file")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", Usage[name])
		fs.PrintDefaults()
	}
	return fs, c
}

// Check checks the command's arguments (the keys of retry).
func (c *Command) Check(keys []string) error {
	switch {
	case c.Name == "retry" && len(keys) == 0 && !c.AllFailed:
		return usage("retry: name the file keys, or --all-failed")
	case c.Name == "retry" && len(keys) > 0 && c.AllFailed:
		return usage("retry: keys or --all-failed, not both")
	case c.Name != "retry" && len(keys) > 0:
		return usage("unexpected argument %q", keys[0])
	case c.Name == "files" && !slices.Contains([]string{"", "failed", "quarantined", "loading", "done", "replaced", "removed"}, c.Status):
		return usage("--status %q: expected failed, quarantined, loading, done, replaced or removed", c.Status)
	case c.Limit < 0 || c.MaxAttempts < 0:
		return usage("--limit and --max-attempts must not be negative")
	case c.Name == "files" && c.Status == "quarantined" && c.MaxAttempts == 0:
		return usage("--status quarantined needs --max-attempts above 0")
	}
	if err := pgstate.Schema(c.Schema).Validate(); err != nil {
		return usage("--state-schema: %v", err)
	}
	return nil
}

// Run opens the state, runs the command on it and prints to w. left names
// the keys retry found no failed version of.
func (c *Command) Run(ctx context.Context, keys []string, w io.Writer) (left []error, err error) {
	in, where, closeState, err := c.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeState()
	names, err := in.Pipelines(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Pipeline != "" && !slices.Contains(names, c.Pipeline):
		return nil, usage("unknown pipeline %q in %s (%s)", c.Pipeline, where, PipelineList(names))
	case c.Pipeline != "":
		names = []string{c.Pipeline}
	case c.Name == "retry" && len(names) != 1:
		return nil, usage("retry: name the pipeline with --pipeline (%s in %s)", PipelineList(names), where)
	}
	switch c.Name {
	case "status":
		return nil, Status(ctx, in, names, c.Options, w)
	case "files":
		return nil, Files(ctx, in, c.Options, w)
	case "retry":
		return Retry(ctx, in, names[0], keys, w)
	}
	err = Rejects(ctx, in, c.Options, w)
	if errors.Is(err, state.ErrNoRejects) {
		err = usage("the state directory keeps no rejected records: --rejects-file names the job's rejects file")
	}
	return nil, err
}

// Open opens the state the command names, without creating it; where
// says which, for messages.
func (c *Command) Open(ctx context.Context) (in state.Inspector, where string, closeState func(), err error) {
	url := c.State
	if url == "" && c.Target != "" {
		if !pgstate.IsURL(c.Target) {
			return nil, "", nil, usage("--target %q: the state is in a PostgreSQL target's database; for another target, --state names the directory", c.Target)
		}
		url = c.Target
	}
	if pgstate.IsURL(url) {
		pool, err := pgstate.Connect(ctx, url, 2, "ferry/"+cmp.Or(c.Pipeline, "status"))
		if errors.Is(err, pgstate.ErrBadURL) {
			return nil, "", nil, &UsageError{Err: err}
		}
		if err != nil {
			return nil, "", nil, err
		}
		where = "PostgreSQL schema " + pgstate.Schema(c.Schema).Name()
		st, err := pgstate.Schema(c.Schema).Inspect(ctx, pool)
		if err != nil {
			pool.Close()
			if errors.Is(err, pgstate.ErrNoState) {
				err = fmt.Errorf("%w in %s (--state, --target and --state-schema say where it is)", pgstate.ErrNoState, where)
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
	st.RejectsFile = c.RejectsFile
	return st, where, func() { st.Close() }, nil
}

// OpenStore opens, only to look it up, the state of the job whose state
// flag is stateURL and target target (the default: the target's database
// when it is PostgreSQL, else the directory .ferry): the pipeline's
// progress, or nil when there is none yet. It creates nothing (ferry
// plan).
func OpenStore(ctx context.Context, stateURL, target, schema, pipeline string) (state.Store, func(), error) {
	c := &Command{State: stateURL, Schema: schema}
	c.Pipeline = pipeline
	if stateURL == "" && pgstate.IsURL(target) {
		c.Target = target
	}
	if !pgstate.IsURL(cmp.Or(c.State, c.Target)) {
		// A directory: only a pipeline file already there is read.
		dir := filestore.Dir(c.State)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, func() {}, nil
		}
		st, err := filestore.New(dir)
		if err != nil {
			return nil, nil, err
		}
		snap := st.Path(pipeline)
		_, errSnap := os.Stat(snap)
		if _, errLog := os.Stat(strings.TrimSuffix(snap, ".json") + ".log"); errSnap != nil && errLog != nil {
			return nil, func() {}, nil // the pipeline's snapshot and log
		}
		return st, func() { st.Close() }, nil
	}
	in, _, closeState, err := c.Open(ctx)
	if errors.Is(err, pgstate.ErrNoState) {
		return nil, func() {}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	st, ok := in.(state.Store)
	if !ok {
		closeState()
		return nil, nil, fmt.Errorf("the state in %T cannot be looked up", in)
	}
	return st, closeState, nil
}
