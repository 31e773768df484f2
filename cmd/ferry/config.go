package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/compress"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/plan"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/source/stores"
	"github.com/ferrydata/ferry/state/inspect"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets"
	"github.com/ferrydata/ferry/targets/postgres"
)

// Config is a job as the flags and the config file say it. The flags
// bind straight into the components' own configurations where there is
// one (format, engine, polling, SQS); open builds the parts from it.
type Config struct {
	Source      string
	S3Endpoint  string
	S3PathStyle bool
	Inventory   string // s3://bucket/key/manifest.json: the first listing

	// Load: how files are read (format, compression, retries; the flags'
	// 0 retry-max-elapsed and read-timeout mean none, Validate maps them
	// to load's negative none).
	Load    load.Config
	Columns string // 'name [type], ...'

	Target      string
	Table       string
	Pipeline    string
	State       string
	StateSchema string
	RejectsFile string
	InvalidUTF8 string
	// Postgres holds the flags of the PostgreSQL target's own settings
	// (unknown fields, extra column, timestamp format); open adds the rest.
	Postgres      postgres.Config
	SystemColumns bool
	// MetadataColumns: --metadata-columns file,record,...; Validate sets
	// Metadata from it and --system-columns.
	MetadataColumns string
	Metadata        []string
	// PartitionColumns and KeyPattern: columns from the file's key.
	PartitionColumns bool
	KeyPattern       string

	Runner          runner.Options
	Poll            runner.PollOptions
	ShutdownTimeout time.Duration
	SQS             sqs.Config     // replicate --sqs-queue-url
	Feed            sqs.FeedConfig // its receivers and message bounds

	Plan plan.Options // ferry plan's own flags
	// Observer is told of the engine's events (--metrics-addr; not a flag).
	Observer runner.Observer
	pg       bool // the target is PostgreSQL (set by Validate)
}

// ValidateReplication checks the replication settings.
func (c *Config) ValidateReplication() error {
	if c.Inventory != "" && !c.Poll.Backfill {
		return usage("--inventory replaces the backfill listing: it cannot go with --backfill=false")
	}
	if err := c.Poll.Validate(); err != nil {
		return usage("%v", err)
	}
	if c.ShutdownTimeout < 0 {
		return usage("--shutdown-timeout must not be negative")
	}
	switch {
	case c.Feed.DeleteOnRemove && (!pgstate.IsURL(c.Target) || c.SQS.QueueURL == ""):
		return usage("--delete-on-remove needs --sqs-queue-url (ObjectRemoved notifications) and a PostgreSQL target")
	case c.Poll.LeaseRanges > 0 && c.SQS.QueueURL != "":
		return usage("--lease-ranges is for polling replication: with --sqs-queue-url the queue already shares the files out among the processes")
	case c.Poll.LeaseRanges > 0 && !pgstate.IsURL(c.State) && (c.State != "" || !pgstate.IsURL(c.Target)):
		return usage("--lease-ranges needs the state in PostgreSQL (a PostgreSQL target, or --state postgres://...): the processes lease their ranges there")
	}
	if c.SQS.QueueURL == "" {
		return nil
	}
	if !stores.IsS3(c.Source) {
		return usage("--sqs-queue-url needs an s3:// --source (the bucket whose notifications the queue receives)")
	}
	if err := c.SQS.Validate(); err != nil {
		return usage("%v", err)
	}
	if err := c.Feed.Validate(); err != nil {
		return usage("%v", err)
	}
	return nil
}

// UsageError is a bad flag or config value (exit status 2): the state
// commands' type, one for the whole command line.
type UsageError = inspect.UsageError

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Validate checks the config and fills defaults; the components' own
// Validate methods check what they take.
func (c *Config) Validate() error {
	if err := c.store().Validate(); err != nil {
		return &UsageError{Err: err}
	}
	var err error
	for _, e := range []struct {
		flag    string
		v       *string
		allowed []string // the first is the default
	}{
		{"--format", &c.Load.Format.Format, []string{"auto", format.CSV, format.TSV, format.JSONL, format.JSON, format.Lines, format.Parquet}},
		{"--compression", &c.Load.Compression, []string{compress.Auto, compress.None, compress.Gzip, compress.Zstd}},
		{"--invalid-utf8", &c.InvalidUTF8, []string{"replace", "reject"}},
	} {
		if *e.v == "" {
			*e.v = e.allowed[0]
		}
		if !slices.Contains(e.allowed, *e.v) {
			n := len(e.allowed) - 1
			return usage("%s %q: expected %s or %s", e.flag, *e.v, strings.Join(e.allowed[:n], ", "), e.allowed[n])
		}
	}
	if err := c.Postgres.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	if c.Columns != "" { // names the CSV columns too
		if c.Postgres.Columns, err = postgres.ParseColumns(c.Columns); err != nil {
			return &UsageError{Err: err}
		}
		c.Load.Format.Columns = nil
		for _, col := range c.Postgres.Columns {
			c.Load.Format.Columns = append(c.Load.Format.Columns, col.Name)
		}
	}
	meta := c.MetadataColumns
	if c.SystemColumns {
		meta += "," + pusher.MetaFile + "," + pusher.MetaRecord
	}
	if c.Metadata, err = pusher.ParseMetaColumns(meta); err != nil {
		return usage("--metadata-columns: %v", err)
	}
	if _, err := pusher.NewPartitions(c.PartitionColumns, c.KeyPattern, nil); err != nil {
		return usage("%v", err)
	}
	if !c.Load.Format.Header && c.Columns == "" && (c.Load.Format.Format == format.CSV || c.Load.Format.Format == format.TSV || c.Load.Format.Format == "auto") {
		return usage("--csv-header=false needs --columns to name the columns")
	}
	if c.pg, err = targets.IsPostgres(c.Target); err != nil {
		return &UsageError{Err: err}
	}
	switch {
	case c.pg && c.Table == "":
		c.Table = postgres.DefaultTable(stores.LastElement(c.Source))
	case !c.pg && c.Table != "":
		return usage("--table is for a PostgreSQL target")
	case !c.pg && c.Postgres.OnlyPostgres() != nil:
		return &UsageError{Err: c.Postgres.OnlyPostgres()}
	case !c.pg && c.RejectsFile == "" && c.Runner.OnError == runner.OnErrorSkipRecord:
		c.RejectsFile = "ferry-rejects.jsonl"
	case c.pg && c.RejectsFile != "":
		return usage("--rejects-file is for non-PostgreSQL targets; PostgreSQL keeps rejects in ferry.rejects")
	}
	if c.Runner.AfterLoad.Kind == source.AfterLoadTag && !stores.IsS3(c.Source) {
		return usage("--after-load %s: tags are for S3 sources only (a local directory: delete or move:DIR)", c.Runner.AfterLoad)
	}
	if c.Runner.ResumeFallback == "" {
		c.Runner.ResumeFallback = runner.OnChangeAppend
		if c.pg {
			c.Runner.ResumeFallback = runner.OnChangeReplace
		}
	}
	if !c.pg && c.Runner.ReplacesKeys() {
		return usage("--on-change replace (or --resume-fallback replace) needs a PostgreSQL target (it deletes the rows of a file's older versions)")
	}
	if c.pg {
		if c.Postgres.Table, err = postgres.ParseTable(c.Table); err != nil {
			return &UsageError{Err: err}
		}
		pc := &c.Postgres // the rest of the target's settings
		pc.Metadata, pc.ReplaceKeys, pc.RemoveKeys = c.Metadata, c.Runner.ReplacesKeys(), c.Feed.DeleteOnRemove
		pc.StateSchema, pc.SkipRecords = pgstate.Schema(c.StateSchema), c.Runner.OnError == runner.OnErrorSkipRecord
		pc.Conversion.RejectInvalidUTF8 = c.InvalidUTF8 == "reject"
		if err := pc.CheckMergeKey(); err != nil {
			return &UsageError{Err: err}
		}
	}
	if c.Runner.GroupLinger == 0 {
		c.Runner.GroupLinger = -1 // the flag's 0 is "not at all"
	}
	if c.Runner.Workers == 0 {
		c.Runner.Workers = runtime.NumCPU()
	}
	if c.Load.ParseWorkers == 0 {
		// Half the CPUs, at most 4: the rest decompress, encode for COPY
		// and load other files. On 2 CPUs (with PostgreSQL beside) that is
		// 1, which measured faster and smaller there.
		c.Load.ParseWorkers = max(1, min(runtime.GOMAXPROCS(0)/2, 4))
	}
	if c.Load.ParseWorkers < 0 {
		return usage("--parse-workers must not be negative")
	}
	for _, d := range []*time.Duration{&c.Load.RetryMaxElapsed, &c.Load.ReadTimeout} {
		if *d < 0 {
			return usage("--retry-max-elapsed and --read-timeout must not be negative")
		} else if *d == 0 {
			*d = -1 // none
		}
	}
	c.Load.SkipRecords = c.Runner.OnError == runner.OnErrorSkipRecord
	if err := c.Load.Format.Validate(); err != nil {
		return usage("%v", err)
	}
	if err := c.Runner.Validate(); err != nil {
		return usage("%v", err)
	}
	if err := pgstate.Schema(c.StateSchema).Validate(); err != nil {
		return usage("--state-schema: %v", err)
	}
	return nil
}

// store is the store part of c, for stores.Open.
func (c Config) store() stores.Config {
	return stores.Config{Source: c.Source, S3Endpoint: c.S3Endpoint, S3PathStyle: c.S3PathStyle, Inventory: c.Inventory,
		RetryMaxElapsed: c.Load.RetryMaxElapsed}
}

// targets is the target and state part of c (validated), for
// targets.Open.
func (c Config) targets() targets.Config {
	return targets.Config{Target: c.Target, Table: c.Table, Pipeline: c.Pipeline, State: c.State, StateSchema: c.StateSchema,
		RejectsFile: c.RejectsFile, Postgres: c.Postgres, Metadata: c.Metadata,
		RejectInvalidUTF8: c.InvalidUTF8 == "reject", SkipRecords: c.Runner.OnError == runner.OnErrorSkipRecord}
}
