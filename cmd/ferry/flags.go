package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrydata/ferry/source/format/lines"
	"github.com/ferrydata/ferry/source/runner/progress"
	"github.com/ferrydata/ferry/source/sqs"
)

var errHelp = errors.New("help")

// options are the flags that are not part of Config.
type options struct {
	cfg        Config
	config     string
	logLevel   string
	logFormat  string
	progress   progress.Mode
	cpuProfile string
	metrics    string
	allowEmpty bool // a snapshot that matches no file exits 0
}

// newFlags defines the flags of a command: snapshot, or replicate (the
// snapshot flags plus polling, windows and shutdown). The usage (-h) is
// written to out; parse errors are returned, not written.
func newFlags(command string, out io.Writer) (*flag.FlagSet, *options) {
	o := &options{}
	c := &o.cfg
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.config, "config", "", "YAML `file` whose keys are these flags' names; flags override it")

	fs.StringVar(&c.Source, "source", "", "where the files are: a directory (./data, file:///abs/path) or s3://bucket/prefix; or one file: its path, or an S3 object's key")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, else AWS)")
	fs.BoolVar(&c.S3PathStyle, "s3-path-style", false, "path-style S3 addressing (MinIO and most S3-compatible stores)")
	fs.StringVar(&c.Inventory, "inventory", "", "read the first listing from this S3 Inventory report (s3://bucket/path/manifest.json, CSV or Parquet) instead of listing the bucket")
	c.Runner.Filter.AddFlags(fs, &c.Runner.Since)
	fs.BoolVar(&o.allowEmpty, "allow-empty", false, "snapshot: a source where no file matches exits 0 (default: 1, \"no files matched\"); replicate always waits for files")

	c.Load.Format.AddFlags(fs)
	fs.StringVar(&c.Load.Format.Preset, "lines-preset", "", "lines: a ready-made pattern: "+strings.Join(slices.Sorted(maps.Keys(lines.Presets)), ", "))
	fs.StringVar(&c.Load.Compression, "compression", "auto", "auto (extension and magic bytes), none, gzip or zstd")
	fs.StringVar(&c.Columns, "columns", "", "columns as 'name [type], ...': names CSV columns without a header, sets types of a created table")

	fs.StringVar(&c.Target, "target", "stdout", "stdout, file:PATH (JSON lines appended) or a PostgreSQL URL")
	fs.StringVar(&c.Table, "table", "", "PostgreSQL table [schema.]name (default: the source's last path element)")
	c.Postgres.AddFlags(fs)
	fs.StringVar(&c.InvalidUTF8, "invalid-utf8", "replace", "text that is not valid UTF-8: replace (bad bytes become U+FFFD) or reject (a bad value)")
	fs.IntVar(&c.Load.MaxRejects, "max-rejects", 1000, "skip-record: a file with more rejected records than this fails (-1: no limit)")
	fs.StringVar(&c.RejectsFile, "rejects-file", "", "skip-record with a stdout or file target: JSON-lines file for rejected records (default ferry-rejects.jsonl)")
	fs.BoolVar(&c.SystemColumns, "system-columns", false, "add _ferry_file (text) and _ferry_record (bigint, record ordinal in the file): --metadata-columns file,record")
	fs.StringVar(&c.MetadataColumns, "metadata-columns", "", "columns _ferry_NAME about each record's file, from file, record, etag, modified, size, loaded_at (comma-separated)")
	fs.BoolVar(&c.PartitionColumns, "partition-columns", false, "Hive-style name=value directories below the source (dt=2024-05-01/region=eu/) become columns")
	fs.StringVar(&c.KeyPattern, "key-pattern", "", "a `regex` matched against each key below the source; its named groups become columns, e.g. (?P<year>\\d{4})/(?P<month>\\d{2})/")

	c.Runner.AddFlags(fs, command == "replicate")
	fs.DurationVar(&c.Load.RetryMaxElapsed, "retry-max-elapsed", 5*time.Minute, "how long a read, listing, HEAD or SQS delete that fails for a transient reason (5xx, SlowDown, reset, body cut short, timeout) is retried with backoff, from the last progress; then the file is left to resume (0: no retry)")
	fs.DurationVar(&c.Load.ReadTimeout, "read-timeout", time.Minute, "a read from the store that gets no byte for this long is abandoned and retried (0: no timeout)")
	fs.IntVar(&c.Load.ParseWorkers, "parse-workers", 0, "goroutines parsing blocks of one CSV, TSV, JSON-lines or lines file in parallel (default: half the CPUs, at most 4; 1: sequential)")
	fs.StringVar(&c.Pipeline, "pipeline", "", "name of the job's progress state (default: derived from source, target and table)")
	fs.StringVar(&c.State, "state", "", "where progress is kept: default the target database (schema ferry) for PostgreSQL, else the directory .ferry; a directory or a PostgreSQL URL")
	fs.StringVar(&c.StateSchema, "state-schema", "ferry", "PostgreSQL schema of the state tables (files, rejects, pipelines, load_history); created when missing")
	if command == "replicate" {
		c.Poll.AddFlags(fs)
		sqs.AddFlags(fs, &c.SQS, &c.Feed)
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long chunks already being written may take to commit")
	}
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "console", "console or json (on stderr)")
	fs.TextVar(&o.progress, "progress", progress.Auto, "snapshot progress: auto (a bar on a terminal, log lines otherwise), bar, log or none (replicate logs a status line every 30s)")
	fs.StringVar(&o.metrics, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on this HOST:PORT, e.g. :9090 (default: off)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to this `file` (for development)")
	fs.Usage = func() {
		if command == "replicate" {
			fmt.Fprintf(fs.Output(), "Usage: ferry replicate --source DIR|s3://bucket/prefix [--sqs-queue-url URL] [flags]\n\nLoad every matching file, then keep loading new files as they appear (found by polling, or\nnamed by S3 event notifications on an SQS queue), until stopped.\n\nFlags:\n")
		} else {
			fmt.Fprintf(fs.Output(), "Usage: ferry snapshot --source DIR|s3://bucket/prefix [flags]\n\nLoad every matching file once, then exit.\n\nFlags:\n")
		}
		fs.PrintDefaults()
	}
	c.Plan.AddFlags(fs, command) // ferry plan's own, and its usage
	return fs, o
}

// parse reads the flags, then the config file for the flags not given.
func (o *options) parse(fs *flag.FlagSet, args []string) (Config, error) {
	err := parseFlags(fs, args, &o.config, true)
	return o.cfg, err
}

// parseFlags parses args, then the YAML file *config names for the flags
// not given (strict: a job's, whose keys must all be flags and whose
// flags take no argument; see applyConfigFile). It returns errHelp once
// the usage asked for is shown.
func parseFlags(fs *flag.FlagSet, args []string, config *string, strict bool) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // report parse errors in one line, below
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return errHelp
	case err != nil:
		return fmt.Errorf("%v (run 'ferry %s -h' for the flags)", err, fs.Name())
	case strict && fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *config != "":
		return applyConfigFile(fs, *config, strict)
	}
	return nil
}

// applyConfigFile sets every flag named by a key of the YAML file unless it
// was given on the command line. A key that names no flag is an error when
// strict (a job's own file); otherwise it is ignored (the status commands
// read a job's file for the flags they share with it).
func applyConfigFile(fs *flag.FlagSet, path string, strict bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == "config" || fs.Lookup(k) == nil {
			if !strict {
				continue
			}
			return fmt.Errorf("--config %s: unknown key %q", path, k)
		}
		if set[k] {
			continue
		}
		vals, ok := m[k].([]any)
		if !ok {
			vals = []any{m[k]}
		}
		for _, v := range vals {
			if _, ok := v.(map[string]any); ok {
				return fmt.Errorf("--config %s: key %q: expected a value or a list", path, k)
			}
			if v == nil {
				continue
			}
			if err := fs.Set(k, fmt.Sprint(v)); err != nil {
				return fmt.Errorf("--config %s: key %q: %w", path, k, err)
			}
		}
	}
	return nil
}
