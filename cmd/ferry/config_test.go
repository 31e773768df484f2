package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	base := func() Config {
		return Config{Source: "./data", CSVHeader: true, Target: "stdout"}
	}
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", func(c *Config) {}, "", func(t *testing.T, c Config) {
			if c.Format != "auto" || c.Compression != "auto" || c.Workers < 1 {
				t.Fatalf("%+v", c)
			}
		}},
		{"default table from source", func(c *Config) { c.Source = "s3://b/landing/Events-2024/"; c.Target = "postgres://x/y" }, "", func(t *testing.T, c Config) {
			if c.Table != "events_2024" {
				t.Fatalf("table %q", c.Table)
			}
		}},
		{"tab delimiter", func(c *Config) { c.CSVDelimiter = `\t` }, "", func(t *testing.T, c Config) {
			if c.CSVDelimiter != "\t" {
				t.Fatalf("delimiter %q", c.CSVDelimiter)
			}
		}},
		{"no source", func(c *Config) { c.Source = "" }, "--source is required", nil},
		{"bad scheme", func(c *Config) { c.Source = "gs://b" }, "expected a directory", nil},
		{"no bucket", func(c *Config) { c.Source = "s3://" }, "no bucket", nil},
		{"bad format", func(c *Config) { c.Format = "xml" }, "--format", nil},
		{"bad compression", func(c *Config) { c.Compression = "bz2" }, "--compression", nil},
		{"long delimiter", func(c *Config) { c.CSVDelimiter = ";;" }, "one byte", nil},
		{"quote delimiter", func(c *Config) { c.CSVDelimiter = `"` }, "not allowed", nil},
		{"headerless without columns", func(c *Config) { c.CSVHeader = false }, "--columns", nil},
		{"bad target", func(c *Config) { c.Target = "mysql://x" }, "--target", nil},
		{"file target without path", func(c *Config) { c.Target = "file:" }, "needs a path", nil},
		{"table without postgres", func(c *Config) { c.Table = "t" }, "--table is for", nil},
		{"bad table", func(c *Config) { c.Target = "postgres://x"; c.Table = "a.b.c" }, "[schema.]name", nil},
		{"bad glob", func(c *Config) { c.Include = []string{"[a"} }, "[a", nil},
		{"negative workers", func(c *Config) { c.Workers = -1 }, "negative", nil},
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

func TestSinceTime(t *testing.T) {
	now := time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"24h":                  now.Add(-24 * time.Hour),
		"2024-05-01":           time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"2024-05-01T10:00:00Z": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
	} {
		c := Config{Since: in}
		got, err := c.sinceTime(now)
		if err != nil || !got.Equal(want) {
			t.Errorf("since %q = %v, %v; want %v", in, got, err, want)
		}
	}
	c := Config{Since: "yesterday"}
	if _, err := c.sinceTime(now); err == nil {
		t.Error("bad --since accepted")
	}
}

func TestValidateReplication(t *testing.T) {
	ok := Config{PollInterval: time.Second}
	if err := ok.ValidateReplication(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{},
		{PollInterval: time.Second, StartAfterKey: true},
		{PollInterval: time.Second, Lookback: -time.Second},
		{PollInterval: time.Second, StartAfterKey: true, Lookback: time.Hour, StateRetention: time.Minute},
	} {
		if err := c.ValidateReplication(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
