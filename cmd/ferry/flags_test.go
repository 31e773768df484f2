package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(path, []byte(`
source: s3://bucket/in/
s3-path-style: true
include: ["*.csv", "**/*.jsonl"]
exclude: tmp/**
workers: 3
batch-bytes: 1MiB
target: stdout
`), 0o644)
	var stderr bytes.Buffer
	fs, o := newFlags("snapshot", &stderr)
	cfg, err := o.parse(fs, []string{"--config", path, "--workers", "5", "--include", "x.tsv"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != "s3://bucket/in/" || !cfg.S3PathStyle || cfg.Runner.Workers != 5 || cfg.Load.Format.BatchBytes != 1<<20 ||
		strings.Join(cfg.Runner.Filter.Include, " ") != "x.tsv" || strings.Join(cfg.Runner.Filter.Exclude, " ") != "tmp/**" {
		t.Fatalf("%+v", cfg)
	}

	for body, want := range map[string]string{
		"sorce: x\n":        `unknown key "sorce"`,
		"workers: many\n":   `key "workers"`,
		"source: {a: 1}\n":  "expected a value",
		"- not\n- a map\n":  "ferry.yaml",
		"config: other.yml": `unknown key "config"`,
	} {
		os.WriteFile(path, []byte(body), 0o644)
		fs, o := newFlags("snapshot", &stderr)
		if _, err := o.parse(fs, []string{"--config", path}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want %q", body, err, want)
		}
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != exitUsage {
		t.Fatalf("no args: exit %d", code)
	}
	if code := run([]string{"snapshot", "--bogus"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "-bogus") {
		t.Fatalf("bad flag: exit %d %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"snapshot", "-h"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "-source") {
		t.Fatalf("help: exit %d %q", code, out.String())
	}
	if code := run([]string{"nope"}, &out, &errb); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}

func TestByteFlags(t *testing.T) {
	var stderr bytes.Buffer
	fs, o := newFlags("snapshot", &stderr)
	cfg, err := o.parse(fs, []string{"--csv-delimiter", `\t`, "--csv-quote", "'", "--csv-escape", `\`})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Load.Format.Delimiter != '\t' || cfg.Load.Format.Quote != '\'' || cfg.Load.Format.Escape != '\\' || cfg.Load.Format.Comment != 0 {
		t.Fatalf("%+v", cfg.Load.Format)
	}
	for _, args := range [][]string{{"--csv-delimiter", ";;"}, {"--csv-quote", "ab"}} {
		fs, o := newFlags("snapshot", &stderr)
		if _, err := o.parse(fs, args); err == nil || !strings.Contains(err.Error(), "one byte") {
			t.Errorf("%q: error %v, want one byte", args, err)
		}
	}
}
