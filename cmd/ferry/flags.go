package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrydata/ferry/source/format/lines"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/targets/postgres"
)

var errHelp = errors.New("help")

// options are the flags that are not part of Config.
type options struct {
	cfg        Config
	config     string
	logLevel   string
	logFormat  string
	progress   string
	cpuProfile string
	metrics    string
	allowEmpty bool // a snapshot that matches no file exits 0
}

// sizeFlag is a byte count: 1048576, 64KiB, 8MiB, 1GiB, 10MB.
type sizeFlag[T int | int64] struct{ v *T }

// String spells the size in the largest binary unit that divides it
// (8MiB); the usage shows it as the default, unless it is zero.
func (s sizeFlag[T]) String() string {
	if s.v == nil {
		return "0"
	}
	return formatSize(int64(*s.v))
}

func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s sizeFlag[T]) Set(v string) error {
	n, err := parseSize(v)
	*s.v = T(n)
	return err
}

// oneByte parses a one-byte flag (CSV delimiter, quote, escape, comment);
// where tab is true, a tab may be written \t or tab.
func oneByte(v *byte, tab bool) func(string) error {
	return func(s string) error {
		if tab && (s == `\t` || s == "tab") {
			s = "\t"
		}
		if len(s) > 1 {
			return errors.New("must be one byte")
		}
		*v = 0
		if s != "" {
			*v = s[0]
		}
		return nil
	}
}

// appendTo is a repeatable string flag.
func appendTo(v *[]string) func(string) error {
	return func(s string) error { *v = append(*v, s); return nil }
}

func parseSize(v string) (int, error) {
	units := []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	s := strings.TrimSpace(v)
	mult := 1
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (examples: 1048576, 512KiB, 8MiB)", v)
	}
	return n * mult, nil
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
	fs.StringVar(&c.Inventory, "inventory", "", "read the first listing from this S3 Inventory report (s3://bucket/path/manifest.json, CSV) instead of listing the bucket")
	fs.Func("include", "load only keys matching this `glob` (relative to the prefix; * within a segment, ** across /); repeatable", appendTo(&c.Include))
	fs.Func("exclude", "skip keys matching this `glob`; repeatable", appendTo(&c.Exclude))
	fs.BoolVar(&o.allowEmpty, "allow-empty", false, "snapshot: a source where no file matches exits 0 (default: 1, \"no files matched\"); replicate always waits for files")

	fs.StringVar(&c.Format.Format, "format", "auto", "file format: auto (by extension), csv, tsv, jsonl, json, lines or parquet")
	fs.StringVar(&c.Compression, "compression", "auto", "auto (extension and magic bytes), none, gzip or zstd")
	fs.BoolVar(&c.Format.Header, "csv-header", true, "the first CSV row names the columns (false: name them with --columns)")
	fs.Func("csv-delimiter", "CSV field delimiter, one byte (default , for csv, tab for tsv; \\t accepted)", oneByte(&c.Format.Delimiter, true))
	fs.Func("csv-quote", "CSV quote character, one byte (default \")", oneByte(&c.Format.Quote, false))
	fs.Func("csv-escape", "CSV escape character inside quotes, e.g. \\ (default: none, a doubled quote is a quote)", oneByte(&c.Format.Escape, false))
	fs.Func("csv-comment", "lines starting with this byte are skipped (default: none)", oneByte(&c.Format.Comment, false))
	fs.IntVar(&c.Format.SkipRows, "skip-rows", 0, "CSV/TSV: drop this many lines at the start of each file, before the header")
	fs.StringVar(&c.Format.RecordsField, "json-records-field", "", "json: dotted path to the array of records in each document (e.g. Records, data.items); default: a top-level array, else the document is one record")
	fs.StringVar(&c.Format.Regex, "lines-regex", "", "lines: RE2 pattern whose named groups become columns; a line that does not match is a bad record")
	fs.StringVar(&c.Format.Preset, "lines-preset", "", "lines: a ready-made pattern: "+strings.Join(slices.Sorted(maps.Keys(lines.Presets)), ", "))
	c.Format.MaxRecordBytes = 16 << 20
	fs.Var(sizeFlag[int]{&c.Format.MaxRecordBytes}, "max-record-bytes", "a record (line, CSV row, JSON element) longer than this is a bad record")
	fs.StringVar(&c.Format.NullString, "null-string", "", "an unquoted CSV field equal to this is NULL (default: empty unquoted field)")
	fs.StringVar(&c.Columns, "columns", "", "columns as 'name [type], ...': names CSV columns without a header, sets types of a created table")

	fs.StringVar(&c.Target, "target", "stdout", "stdout, file:PATH (JSON lines appended) or a PostgreSQL URL")
	fs.StringVar(&c.Table, "table", "", "PostgreSQL table [schema.]name (default: the source's last path element)")
	fs.TextVar(&c.Postgres.UnknownFields, "unknown-fields", postgres.UnknownError, "fields with no column in the table: error, ignore, extra (kept in the jsonb column --extra-column) or add (a new column, added in the chunk's transaction)")
	fs.TextVar(&c.Postgres.UnknownFields, "jsonl-unknown-fields", postgres.UnknownError, "same as --unknown-fields")
	fs.StringVar(&c.Postgres.ExtraColumn, "extra-column", "_extra", "jsonb column for fields with no column under --unknown-fields extra (created with the table)")
	fs.BoolVar(&c.IgnoreUnknownFields, "ignore-unknown-fields", false, "same as --unknown-fields ignore")
	fs.StringVar(&c.Postgres.Conversion.TimestampFormat, "timestamp-format", "auto", "timestamps: auto (ISO 8601 / RFC 3339 text), epoch_s or epoch_ms (numbers are seconds or milliseconds since 1970)")
	fs.StringVar(&c.InvalidUTF8, "invalid-utf8", "replace", "text that is not valid UTF-8: replace (bad bytes become U+FFFD) or reject (a bad value)")
	onError := runner.OnErrorAbort
	if command == "replicate" {
		onError = runner.OnErrorSkipFile
	}
	fs.TextVar(&c.Runner.OnError, "on-error", onError, "bad records: abort (fail the file and stop), skip-record (load the rest, keep the bad ones in ferry.rejects or --rejects-file) or skip-file (fail the file, go on)")
	fs.IntVar(&c.MaxRejects, "max-rejects", 1000, "skip-record: a file with more rejected records than this fails (-1: no limit)")
	fs.StringVar(&c.RejectsFile, "rejects-file", "", "skip-record with a stdout or file target: JSON-lines file for rejected records (default ferry-rejects.jsonl)")
	fs.BoolVar(&c.SystemColumns, "system-columns", false, "add _ferry_file (text) and _ferry_record (bigint, record ordinal in the file): --metadata-columns file,record")
	fs.StringVar(&c.MetadataColumns, "metadata-columns", "", "columns _ferry_NAME about each record's file, from file, record, etag, modified, size, loaded_at (comma-separated)")
	fs.StringVar(&c.Postgres.RescueColumn, "rescue-column", "", "jsonb `column` that keeps values that do not convert to their column's type ({\"field\": \"value\"}); the typed column is NULL and the record loads")
	fs.BoolVar(&c.PartitionColumns, "partition-columns", false, "Hive-style name=value directories below the source (dt=2024-05-01/region=eu/) become columns")
	fs.StringVar(&c.KeyPattern, "key-pattern", "", "a `regex` matched against each key below the source; its named groups become columns, e.g. (?P<year>\\d{4})/(?P<month>\\d{2})/")

	fs.IntVar(&c.Runner.Workers, "workers", 0, "files loaded in parallel (default: number of CPUs)")
	fs.IntVar(&c.Runner.FetchAhead, "fetch-concurrency", 16, "GETs under way at once, started while files wait for a worker (0: each worker opens its file)")
	fs.DurationVar(&c.RetryMaxElapsed, "retry-max-elapsed", 5*time.Minute, "how long a read, listing, HEAD or SQS delete that fails for a transient reason (5xx, SlowDown, reset, body cut short, timeout) is retried with backoff, from the last progress; then the file is left to resume (0: no retry)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", time.Minute, "a read from the store that gets no byte for this long is abandoned and retried (0: no timeout)")
	fs.IntVar(&c.ParseWorkers, "parse-workers", 0, "goroutines parsing blocks of one CSV, TSV, JSON-lines or lines file in parallel (default: half the CPUs, at most 4; 1: sequential)")
	c.Runner.Async = true
	c.Runner.InflightBytes = 64 << 20
	fs.Var(sizeFlag[int64]{&c.Runner.InflightBytes}, "inflight-bytes", "budget of chunk bytes read but not yet committed; reading waits while it is spent")
	fs.IntVar(&c.Runner.GroupFiles, "group-files", 500, "small files committed in one transaction at most, up to --batch-rows and --batch-bytes together (1: each alone)")
	fs.BoolVar(&c.Runner.OverlapWrites, "overlap-writes", true, "write a big file's next chunk on a second connection while the one before commits (PostgreSQL with its state in the same database; false: one at a time)")
	fs.DurationVar(&c.Runner.GroupLinger, "group-linger", 5*time.Millisecond, "how long a transaction that could take more files waits for them (0: not at all)")
	fs.IntVar(&c.Format.BatchRows, "batch-rows", 100_000, "records per chunk (one COPY and transaction)")
	c.Format.BatchBytes = 8 << 20
	fs.Var(sizeFlag[int]{&c.Format.BatchBytes}, "batch-bytes", "bytes per chunk, e.g. 8MiB")

	fs.StringVar(&c.Pipeline, "pipeline", "", "name of the job's progress state (default: derived from source, target and table)")
	fs.StringVar(&c.State, "state", "", "where progress is kept: default the target database (schema ferry) for PostgreSQL, else the directory .ferry; a directory or a PostgreSQL URL")
	fs.StringVar(&c.StateSchema, "state-schema", "ferry", "PostgreSQL schema of the state tables (files, rejects, pipelines, load_history); created when missing")

	fs.StringVar(&c.Since, "since", "", "only objects modified at or after this: a duration back from now (24h) or a time (2024-05-01T00:00:00Z)")
	fs.TextVar(&c.Runner.OnChange, "on-change", runner.OnChangeAppend, "an object that changed (new ETag) after it was loaded: append (load it as a new version, the old rows stay), replace (its rows replace the old version's; PostgreSQL, adds _ferry_file), resume (a file that only grew loads only what was appended) or ignore (a key loads once)")
	fs.TextVar(&c.Runner.ResumeFallback, "resume-fallback", runner.OnChange(""), "--on-change resume: how a new version that did not only grow loads: replace or append (default replace with PostgreSQL, else append)")
	fs.Var(reloadChanged{&c.Runner.OnChange}, "reload-changed", "same as --on-change append (true) or ignore (false)")
	maxAttempts := 0
	if command == "replicate" {
		maxAttempts = 3
	}
	fs.IntVar(&c.Runner.MaxAttempts, "max-attempts", maxAttempts, "a failed file is retried until it has failed this many times (0: every run)")
	if command == "replicate" {
		fs.DurationVar(&c.Poll.Interval, "poll-interval", 10*time.Second, "how often to list the source")
		fs.BoolVar(&c.Poll.Backfill, "backfill", true, "load what is already there before following new files; false: only objects modified from now on")
		fs.BoolVar(&c.Poll.StartAfterKey, "start-after-key", false, "for keys that grow lexicographically (date-partitioned): list only after the oldest key of the lookback window")
		fs.IntVar(&c.Poll.LookbackKeys, "lookback-keys", 0, "with --start-after-key: the window keeps this many of the newest loaded keys")
		fs.DurationVar(&c.Poll.Lookback, "lookback", 0, "with --start-after-key: the window keeps the keys loaded within this duration")
		fs.DurationVar(&c.Poll.Reconcile, "reconcile-interval", 0, "with --sqs-queue-url: also list the source this often (after the --start-after-key window), loading objects whose notifications never arrived (0: never)")
		fs.DurationVar(&c.Poll.Retention, "state-retention", 0, "forget done files after this long (0: never); a forgotten file that is listed again loads again")
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long chunks already being written may take to commit")
		fs.StringVar(&c.SQS.QueueURL, "sqs-queue-url", "", "follow S3 event notifications on this SQS queue instead of polling (the source must be the s3:// bucket they come from)")
		fs.StringVar(&c.SQS.Endpoint, "sqs-endpoint", "", "SQS endpoint URL (default: AWS, or AWS_ENDPOINT_URL_SQS)")
		fs.DurationVar(&c.SQS.Wait, "sqs-wait", 20*time.Second, "long-polling wait of each receive (at most 20s)")
		fs.IntVar(&c.Feed.Receivers, "sqs-receivers", 2, "concurrent receive loops (each asks for one message after an empty receive, up to 10 otherwise)")
		fs.DurationVar(&c.SQS.Visibility, "sqs-visibility", time.Minute, "visibility timeout set on receive, extended at half of it while the message's objects load; also how long a message whose receive was lost stays hidden")
		fs.IntVar(&c.Feed.MaxReceives, "sqs-max-receives", 5, "a message that is not an S3 notification is recorded as rejected and deleted once received this many times (0: leave it to the queue's dead-letter redrive)")
		fs.IntVar(&c.Feed.MaxMessages, "sqs-max-messages", 100, "messages in flight (received and not yet deleted or released) at most")
		fs.BoolVar(&c.Feed.DeleteOnRemove, "delete-on-remove", false, "with --sqs-queue-url: an ObjectRemoved notification deletes the rows loaded from its key (PostgreSQL, fills _ferry_file) and marks it removed")
	}
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "console", "console or json (on stderr)")
	fs.StringVar(&o.progress, "progress", "auto", "snapshot progress: auto (a bar on a terminal, log lines otherwise), bar, log or none (replicate logs a status line every 30s)")
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
	return fs, o
}

// parse reads the flags, then the config file for the flags not given.
func (o *options) parse(fs *flag.FlagSet, args []string) (Config, error) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // report parse errors in one line, below
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return o.cfg, errHelp
	}
	if err != nil {
		return o.cfg, fmt.Errorf("%v (run 'ferry %s -h' for the flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return o.cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.config != "" {
		if err := applyConfigFile(fs, o.config, true); err != nil {
			return o.cfg, err
		}
	}
	return o.cfg, nil
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

// reloadChanged is --reload-changed, the boolean alias of --on-change.
type reloadChanged struct{ v *runner.OnChange }

func (r reloadChanged) IsBoolFlag() bool { return true }

func (r reloadChanged) String() string {
	if r.v == nil || *r.v != runner.OnChangeIgnore {
		return "true"
	}
	return "false"
}

func (r reloadChanged) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*r.v = runner.OnChangeAppend
	if !b {
		*r.v = runner.OnChangeIgnore
	}
	return nil
}
