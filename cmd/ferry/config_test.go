package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/sqs"
)

func TestValidate(t *testing.T) {
	base := func() Config {
		return Config{Source: "./data", Load: load.Config{Format: format.Options{Header: true}}, Target: "stdout"}
	}
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", func(c *Config) {}, "", func(t *testing.T, c Config) {
			if c.Load.Format.Format != "auto" || c.Load.Compression != "auto" || c.Runner.Workers < 1 || c.Runner.OnError != runner.OnErrorAbort {
				t.Fatalf("%+v", c)
			}
		}},
		{"default table from source", func(c *Config) { c.Source = "s3://b/landing/Events-2024/"; c.Target = "postgres://x/y" }, "", func(t *testing.T, c Config) {
			if c.Table != "events_2024" {
				t.Fatalf("table %q", c.Table)
			}
		}},
		{"no source", func(c *Config) { c.Source = "" }, "--source is required", nil},
		{"bad scheme", func(c *Config) { c.Source = "gs://b" }, "expected a directory", nil},
		{"no bucket", func(c *Config) { c.Source = "s3://" }, "no bucket", nil},
		{"inventory of a directory", func(c *Config) { c.Inventory = "s3://inv/m/manifest.json" }, "--inventory needs an s3:// --source", nil},
		{"inventory not on S3", func(c *Config) { c.Source = "s3://b/in"; c.Inventory = "./manifest.json" }, "expected s3://bucket/path/manifest.json", nil},
		{"bad format", func(c *Config) { c.Load.Format.Format = "xml" }, `--format "xml"`, nil},
		{"bad compression", func(c *Config) { c.Load.Compression = "bz2" }, "--compression", nil},
		{"quote delimiter", func(c *Config) { c.Load.Format.Delimiter = '"' }, "not allowed", nil},
		{"headerless without columns", func(c *Config) { c.Load.Format.Header = false }, "--columns", nil},
		{"bad on-error", func(c *Config) { c.Runner.OnError = "ignore" }, "on-error", nil},
		{"bad target", func(c *Config) { c.Target = "mysql://x" }, "--target", nil},
		{"file target without path", func(c *Config) { c.Target = "file:" }, "file:PATH", nil},
		{"table without postgres", func(c *Config) { c.Table = "t" }, "--table is for", nil},
		{"bad table", func(c *Config) { c.Target = "postgres://x"; c.Table = "a.b.c" }, "[schema.]name", nil},
		{"bad glob", func(c *Config) { c.Runner.Filter.Include = []string{"[a"} }, "[a", nil},
		{"negative workers", func(c *Config) { c.Runner.Workers = -1 }, "negative", nil},
		{"bad columns", func(c *Config) { c.Columns = `"x` }, "unterminated", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			var ue *UsageError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ue) {
				t.Fatalf("error %v, want usage error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateReplication(t *testing.T) {
	ok := Config{Poll: runner.PollOptions{Interval: time.Second}}
	if err := ok.ValidateReplication(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{},
		{Poll: runner.PollOptions{Interval: time.Second, StartAfterKey: true}},
		{Poll: runner.PollOptions{Interval: time.Second, Lookback: -time.Second}},
		{Poll: runner.PollOptions{Interval: time.Second, StartAfterKey: true, Lookback: time.Hour, Retention: time.Minute}},
		{Inventory: "s3://inv/manifest.json", Poll: runner.PollOptions{Interval: time.Second}}, // --backfill=false
	} {
		if err := c.ValidateReplication(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	leases := runner.PollOptions{Interval: time.Second, LeaseRanges: 16, LeaseExpiry: 30 * time.Second}
	for _, c := range []Config{
		{Target: "postgres://h/db", Poll: leases},
		{Target: "stdout", State: "postgres://h/state", Poll: leases},
	} {
		if err := c.ValidateReplication(); err != nil {
			t.Errorf("--lease-ranges, target %s, state %q: %v", c.Target, c.State, err)
		}
	}
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{Target: "stdout", Poll: leases}, "needs the state in PostgreSQL"},
		{Config{Target: "postgres://h/db", State: "./.ferry", Poll: leases}, "needs the state in PostgreSQL"},
		{Config{Source: "s3://b/", Target: "postgres://h/db", SQS: sqs.Config{QueueURL: "http://q"}, Poll: leases}, "for polling replication"},
		{Config{Target: "postgres://h/db", Poll: runner.PollOptions{Interval: time.Second, LeaseRanges: 12}}, "power of two"},
		{Config{Target: "postgres://h/db", Poll: runner.PollOptions{Interval: time.Second, LeaseRanges: 16, LeaseExpiry: time.Millisecond}}, "lease expiry"},
	} {
		err := tt.c.ValidateReplication()
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want a usage error with %q", tt.c.Poll, err, tt.want)
		}
	}
}

func TestValidateDriftFlags(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(c *Config)
		err  string
	}{
		{"unknown metadata column", func(c *Config) { c.MetadataColumns = "file,path" }, `--metadata-columns: unknown metadata column "path"`},
		{"both partition flags", func(c *Config) { c.PartitionColumns, c.KeyPattern = true, "(?P<y>x)" }, "cannot be used together"},
		{"pattern without a group", func(c *Config) { c.KeyPattern = `(\d+)` }, "no named group"},
		{"pattern that does not compile", func(c *Config) { c.KeyPattern = `(?P<y>[` }, "--key-pattern"},
		{"rescue into JSON lines", func(c *Config) { c.Target, c.Postgres.RescueColumn = "stdout", "_r" }, "--rescue-column is for a PostgreSQL target"},
		{"merge into JSON lines, skipping records", func(c *Config) {
			c.Target, c.Postgres.MergeKey, c.Runner.OnError = "stdout", []string{"id"}, runner.OnErrorSkipRecord
		}, "--merge-key is for a PostgreSQL target"},
		{"a key named twice", func(c *Config) { c.Postgres.MergeKey = []string{"id", "id"} }, `--merge-key names column "id" twice`},
		{"merge and replace, before connecting", func(c *Config) {
			c.Postgres.MergeKey, c.Runner.OnChange = []string{"id"}, runner.OnChangeReplace
		}, "--merge-key cannot go with --on-change replace"},
		{"merge and delete-on-remove, before connecting", func(c *Config) {
			c.Postgres.MergeKey, c.Feed.DeleteOnRemove = []string{"id"}, true
		}, "--merge-key cannot go with --delete-on-remove"},
		{"unknown lines preset", func(c *Config) { c.Load.Format.Preset = "apache" }, `lines preset "apache": expected one of alb, combined, common, nginx, s3-access`},
	} {
		c := Config{Source: "./data", Target: "postgres://h/db", Load: load.Config{Format: format.Options{Header: true}}}
		tt.mod(&c)
		err := c.Validate()
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want a usage error with %q", tt.name, err, tt.err)
		}
	}
	c := Config{Source: "./data", Target: "stdout", SystemColumns: true, MetadataColumns: "size, record", Load: load.Config{Format: format.Options{Header: true}}}
	if err := c.Validate(); err != nil || strings.Join(c.Metadata, ",") != "file,record,size" {
		t.Errorf("--system-columns with --metadata-columns: %v, %v", c.Metadata, err)
	}
}
