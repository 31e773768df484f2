package main

import (
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ferrydata/ferry/source/compress"
	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/targets/postgres"
)

// Config is a job as the flags and the config file say it: what to read,
// how, where to, and the engine's policy. open builds the parts from it.
type Config struct {
	Source      string
	S3Endpoint  string
	S3PathStyle bool
	Include     []string
	Exclude     []string

	Format           string
	Compression      string
	CSVHeader        bool
	CSVDelimiter     string
	CSVQuote         string
	CSVEscape        string
	CSVComment       string
	SkipRows         int
	NullString       string
	Columns          string
	JSONRecordsField string
	LinesRegex       string
	LinesPreset      string
	MaxRecordBytes   int

	OnError         string
	MaxRejects      int
	RejectsFile     string
	InvalidUTF8     string
	TimestampFormat string
	UnknownFields   string
	ExtraColumn     string

	Target              string
	Table               string
	IgnoreUnknownFields bool
	SystemColumns       bool

	Workers      int
	ParseWorkers int
	BatchRows    int
	BatchBytes   int

	Pipeline string
	State    string

	Since         string
	ReloadChanged bool
	MaxAttempts   int

	// Replication (Async: through the async pusher).
	Async           bool
	InflightBytes   int
	PollInterval    time.Duration
	Backfill        bool
	StartAfterKey   bool
	LookbackKeys    int
	Lookback        time.Duration
	StateRetention  time.Duration
	ShutdownTimeout time.Duration

	// SQS-driven replication (SQSQueueURL set).
	SQSQueueURL    string
	SQSEndpoint    string
	SQSWait        time.Duration
	SQSReceivers   int
	SQSVisibility  time.Duration
	SQSMaxReceives int
	SQSMaxMessages int
}

// sinceTime resolves Since at now.
func (c *Config) sinceTime(now time.Time) (time.Time, error) {
	t, err := discover.ParseSince(c.Since, now)
	if err != nil {
		return t, usage("--since: %v", err)
	}
	return t, nil
}

// ValidateReplication checks the replication settings.
func (c *Config) ValidateReplication() error {
	if err := c.pollOptions().Validate(); err != nil {
		return usage("%v", err)
	}
	if c.ShutdownTimeout < 0 {
		return usage("--shutdown-timeout must not be negative")
	}
	if c.SQSQueueURL == "" {
		return nil
	}
	if !strings.HasPrefix(c.Source, "s3://") {
		return usage("--sqs-queue-url needs an s3:// --source (the bucket whose notifications the queue receives)")
	}
	if err := (sqs.Config{QueueURL: c.SQSQueueURL, Endpoint: c.SQSEndpoint, Wait: c.SQSWait, Visibility: c.SQSVisibility}).Validate(); err != nil {
		return usage("%v", err)
	}
	if c.SQSReceivers < 1 || c.SQSMaxMessages < 1 || c.SQSMaxReceives < 0 {
		return usage("--sqs-receivers and --sqs-max-messages must be at least 1, --sqs-max-receives at least 0")
	}
	return nil
}

func (c *Config) pollOptions() runner.PollOptions {
	return runner.PollOptions{Interval: c.PollInterval, Backfill: c.Backfill, StartAfterKey: c.StartAfterKey,
		LookbackKeys: c.LookbackKeys, Lookback: c.Lookback, Retention: c.StateRetention}
}

// UsageError is a bad flag or config value (exit status 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Target kinds.
const (
	targetStdout   = "stdout"
	targetFile     = "file"
	targetPostgres = "postgres"
)

// targetKind classifies --target.
func targetKind(t string) (string, error) {
	switch {
	case t == "" || t == "stdout" || t == "-":
		return targetStdout, nil
	case strings.HasPrefix(t, "file:"):
		if strings.TrimPrefix(t, "file:") == "" {
			return "", usage("--target file: needs a path (file:PATH)")
		}
		return targetFile, nil
	case isPostgresURL(t):
		return targetPostgres, nil
	}
	return "", usage("--target %q: expected stdout, file:PATH or a PostgreSQL URL (postgres://...)", t)
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") ||
		strings.Contains(s, "host=") || strings.Contains(s, "dbname=")
}

// Validate checks the config and fills defaults; the components' own
// Validate methods check what they take.
func (c *Config) Validate() error {
	switch {
	case c.Source == "":
		return usage("--source is required (a directory, file:///path or s3://bucket/prefix)")
	case c.Source == "s3://":
		return usage("--source %q: no bucket", c.Source)
	case strings.Contains(c.Source, "://") && !strings.HasPrefix(c.Source, "s3://") && !strings.HasPrefix(c.Source, "file://"):
		return usage("--source %q: expected a directory, file:///path or s3://bucket/prefix", c.Source)
	}
	for _, e := range []struct {
		flag    string
		v       *string
		allowed []string // the first is the default
	}{
		{"--format", &c.Format, []string{"auto", format.CSV, format.TSV, format.JSONL, format.JSON, format.Lines, format.Parquet}},
		{"--compression", &c.Compression, []string{compress.Auto, compress.None, compress.Gzip, compress.Zstd}},
		{"--on-error", &c.OnError, []string{string(runner.OnErrorAbort), string(runner.OnErrorSkipRecord), string(runner.OnErrorSkipFile)}},
		{"--invalid-utf8", &c.InvalidUTF8, []string{"replace", "reject"}},
		{"--timestamp-format", &c.TimestampFormat, []string{"auto", "epoch_s", "epoch_ms"}},
		{"--unknown-fields", &c.UnknownFields, []string{"error", "ignore", "extra"}},
	} {
		if *e.v == "" {
			*e.v = e.allowed[0]
		}
		if !slices.Contains(e.allowed, *e.v) {
			n := len(e.allowed) - 1
			return usage("%s %q: expected %s or %s", e.flag, *e.v, strings.Join(e.allowed[:n], ", "), e.allowed[n])
		}
	}
	if d, ok := map[string]string{`\t`: "\t", "tab": "\t"}[c.CSVDelimiter]; ok {
		c.CSVDelimiter = d
	}
	for _, b := range []struct{ flag, v string }{{"--csv-delimiter", c.CSVDelimiter}, {"--csv-quote", c.CSVQuote}, {"--csv-escape", c.CSVEscape}, {"--csv-comment", c.CSVComment}} {
		if len(b.v) > 1 {
			return usage("%s %q: must be one byte", b.flag, b.v)
		}
	}
	if c.Columns != "" {
		if _, err := postgres.ParseColumns(c.Columns); err != nil {
			return &UsageError{Err: err}
		}
	}
	if !c.CSVHeader && c.Columns == "" && (c.Format == format.CSV || c.Format == format.TSV || c.Format == "auto") {
		return usage("--csv-header=false needs --columns to name the columns")
	}
	if c.ExtraColumn == "" {
		c.ExtraColumn = "_extra"
	}
	kind, err := targetKind(c.Target)
	if err != nil {
		return err
	}
	switch {
	case kind == targetPostgres && c.Table == "":
		c.Table = postgres.DefaultTable(lastElement(c.Source))
	case kind != targetPostgres && c.Table != "":
		return usage("--table is for a PostgreSQL target")
	case kind != targetPostgres && c.RejectsFile == "" && c.OnError == string(runner.OnErrorSkipRecord):
		c.RejectsFile = "ferry-rejects.jsonl"
	case kind == targetPostgres && c.RejectsFile != "":
		return usage("--rejects-file is for non-PostgreSQL targets; PostgreSQL keeps rejects in ferry.rejects")
	}
	if kind == targetPostgres {
		if _, err := postgres.ParseTable(c.Table); err != nil {
			return &UsageError{Err: err}
		}
	}
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.ParseWorkers == 0 {
		// Half the CPUs, at most 4: the rest decompress, encode for COPY
		// and load other files. On 2 CPUs (with PostgreSQL beside) that is
		// 1, which measured faster and smaller there.
		c.ParseWorkers = max(1, min(runtime.GOMAXPROCS(0)/2, 4))
	}
	if c.ParseWorkers < 0 || c.MaxAttempts < 0 {
		return usage("--parse-workers and --max-attempts must not be negative")
	}
	since, err := c.sinceTime(time.Now())
	if err != nil {
		return err
	}
	if err := formatOptions(*c).Validate(); err != nil {
		return usage("%v", err)
	}
	o := c.runnerOptions(since)
	if err := o.Validate(); err != nil {
		return usage("%v", err)
	}
	return nil
}

// runnerOptions is the engine's policy.
func (c *Config) runnerOptions(since time.Time) runner.Options {
	return runner.Options{
		Filter: discover.Filter{Include: c.Include, Exclude: c.Exclude}, Since: since,
		OnError: runner.OnError(c.OnError), MaxAttempts: c.MaxAttempts, ReloadChanged: c.ReloadChanged,
		Workers: c.Workers, Async: c.Async, InflightBytes: int64(c.InflightBytes),
	}
}

// lastElement is the last path element of a source location.
func lastElement(src string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(src, "s3://"), "file://")
	s = strings.TrimRight(s, "/")
	return path.Base(s)
}
