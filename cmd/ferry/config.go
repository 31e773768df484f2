package main

import (
	"fmt"
	"path"
	"regexp"
	"runtime"
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

	Workers int
	// ParseWorkers: goroutines parsing one file's blocks (0: half the
	// CPUs, at most 4; 1: sequential).
	ParseWorkers int
	BatchRows    int
	BatchBytes   int

	Pipeline string
	State    string

	// Since: only objects modified at or after it (a duration back from
	// now, or an RFC 3339 time).
	Since string
	// ReloadChanged loads a changed object (new ETag) again as a new
	// version; false ignores changes to keys already loaded.
	ReloadChanged bool
	// MaxAttempts: a failed file is retried until it has failed this many
	// times (0: always; snapshot default).
	MaxAttempts int

	// Replication.
	// Async: push chunks through the async pusher (parse queue, per-file
	// progress, in-flight byte budget) instead of writing in the reader.
	Async           bool
	InflightBytes   int
	PollInterval    time.Duration
	Backfill        bool
	StartAfterKey   bool
	LookbackKeys    int
	Lookback        time.Duration
	StateRetention  time.Duration
	ShutdownTimeout time.Duration

	// SQS-driven replication (SQSQueueURL set): follow S3 event
	// notifications instead of polling.
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

// Validate checks the config and fills defaults.
func (c *Config) Validate() error {
	if c.Source == "" {
		return usage("--source is required (a directory, file:///path or s3://bucket/prefix)")
	}
	if strings.HasPrefix(c.Source, "s3://") {
		if strings.TrimPrefix(c.Source, "s3://") == "" {
			return usage("--source %q: no bucket", c.Source)
		}
	} else if strings.Contains(c.Source, "://") && !strings.HasPrefix(c.Source, "file://") {
		return usage("--source %q: expected a directory, file:///path or s3://bucket/prefix", c.Source)
	}
	if err := (discover.Filter{Include: c.Include, Exclude: c.Exclude}).Validate(); err != nil {
		return &UsageError{Err: err}
	}
	switch c.Format {
	case "", "auto":
		c.Format = "auto"
	case format.CSV, format.TSV, format.JSONL, format.JSON, format.Lines, format.Parquet:
	default:
		return usage("--format %q: expected auto, csv, tsv, jsonl, json, lines or parquet", c.Format)
	}
	for _, b := range []struct{ flag, v string }{{"--csv-quote", c.CSVQuote}, {"--csv-escape", c.CSVEscape}, {"--csv-comment", c.CSVComment}} {
		if len(b.v) > 1 {
			return usage("%s %q: must be one byte", b.flag, b.v)
		}
	}
	if c.SkipRows < 0 {
		return usage("--skip-rows must not be negative")
	}
	if c.LinesRegex != "" && c.LinesPreset != "" {
		return usage("--lines-regex and --lines-preset exclude each other")
	}
	if c.LinesRegex != "" {
		if _, err := regexp.Compile(c.LinesRegex); err != nil {
			return usage("--lines-regex: %v", err)
		}
	}
	switch c.OnError {
	case "":
		c.OnError = string(runner.OnErrorAbort)
	case string(runner.OnErrorAbort), string(runner.OnErrorSkipRecord), string(runner.OnErrorSkipFile):
	default:
		return usage("--on-error %q: expected abort, skip-record or skip-file", c.OnError)
	}
	switch c.InvalidUTF8 {
	case "":
		c.InvalidUTF8 = "replace"
	case "replace", "reject":
	default:
		return usage("--invalid-utf8 %q: expected replace or reject", c.InvalidUTF8)
	}
	switch c.TimestampFormat {
	case "", "auto":
		c.TimestampFormat = "auto"
	case "epoch_s", "epoch_ms":
	default:
		return usage("--timestamp-format %q: expected auto, epoch_s or epoch_ms", c.TimestampFormat)
	}
	switch c.UnknownFields {
	case "":
		c.UnknownFields = "error"
	case "error", "ignore", "extra":
	default:
		return usage("--unknown-fields %q: expected error, ignore or extra", c.UnknownFields)
	}
	if c.ExtraColumn == "" {
		c.ExtraColumn = "_extra"
	}
	if c.MaxRecordBytes < 0 {
		return usage("--max-record-bytes must not be negative")
	}
	switch c.Compression {
	case "":
		c.Compression = compress.Auto
	case compress.Auto, compress.None, compress.Gzip, compress.Zstd:
	default:
		return usage("--compression %q: expected auto, none, gzip or zstd", c.Compression)
	}
	if len(c.CSVDelimiter) > 1 {
		if d, ok := map[string]string{`\t`: "\t", "tab": "\t"}[c.CSVDelimiter]; ok {
			c.CSVDelimiter = d
		} else {
			return usage("--csv-delimiter %q: must be one byte", c.CSVDelimiter)
		}
	}
	if c.CSVDelimiter == "\"" || c.CSVDelimiter == "\n" || c.CSVDelimiter == "\r" {
		return usage("--csv-delimiter %q is not allowed", c.CSVDelimiter)
	}
	if c.Columns != "" {
		if _, err := postgres.ParseColumns(c.Columns); err != nil {
			return &UsageError{Err: err}
		}
	}
	if !c.CSVHeader && c.Columns == "" && (c.Format == format.CSV || c.Format == format.TSV || c.Format == "auto") {
		return usage("--csv-header=false needs --columns to name the columns")
	}
	kind, err := targetKind(c.Target)
	if err != nil {
		return err
	}
	if kind == targetPostgres {
		if c.Table == "" {
			c.Table = postgres.DefaultTable(lastElement(c.Source))
		}
		if _, err := postgres.ParseTable(c.Table); err != nil {
			return &UsageError{Err: err}
		}
	} else if c.Table != "" {
		return usage("--table is for a PostgreSQL target")
	} else if c.RejectsFile == "" && c.OnError == string(runner.OnErrorSkipRecord) {
		c.RejectsFile = "ferry-rejects.jsonl"
	}
	if kind == targetPostgres && c.RejectsFile != "" {
		return usage("--rejects-file is for non-PostgreSQL targets; PostgreSQL keeps rejects in ferry.rejects")
	}
	if _, err := c.sinceTime(time.Now()); err != nil {
		return err
	}
	if c.MaxAttempts < 0 {
		return usage("--max-attempts must not be negative")
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
	if c.ParseWorkers < 0 {
		return usage("--parse-workers must not be negative")
	}
	if c.Workers < 0 || c.BatchRows < 0 || c.BatchBytes < 0 {
		return usage("--workers, --batch-rows and --batch-bytes must not be negative")
	}
	return nil
}

// lastElement is the last path element of a source location.
func lastElement(src string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(src, "s3://"), "file://")
	s = strings.TrimRight(s, "/")
	return path.Base(s)
}
