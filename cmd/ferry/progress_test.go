package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/runner/progress"
)

// TestOneLine: a multi-line error stays on one console log line, and on
// one line of the summary and of a command's error.
func TestOneLine(t *testing.T) {
	var buf bytes.Buffer
	log, err := progress.NewLogger(&buf, "info", "console")
	if err != nil {
		t.Fatal(err)
	}
	log.Error().Str("file", "a.csv").Str("detail", "x\ny").Msg("copy: ERROR: bad\nDETAIL: row 3\n")
	if out := strings.TrimSuffix(buf.String(), "\n"); strings.Contains(out, "\n") || !strings.Contains(out, `bad\nDETAIL`) {
		t.Errorf("console line %q", buf.String())
	}
	var stderr bytes.Buffer
	if fail(&stderr, errors.New("connect: refused\nis the server up?")) != exitFailed || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("fail printed %q", stderr.String())
	}
}

// TestSummaryRejects: the summary names where the rejected records are:
// the rejects file for stdout and file targets, ferry.rejects for
// PostgreSQL.
func TestSummaryRejects(t *testing.T) {
	for _, c := range []struct {
		cfg       Config
		want, not string
	}{
		{Config{Target: "stdout", RejectsFile: "ferry-rejects.jsonl"}, "see ferry-rejects.jsonl", "ferry.rejects"},
		{Config{Target: "file:out.jsonl", RejectsFile: "bad.jsonl"}, "see bad.jsonl", "ferry.rejects"},
		{Config{Target: "postgres://localhost/db", pg: true}, "see ferry.rejects", "jsonl"},
	} {
		var w bytes.Buffer
		sum := runner.Summary{Files: 2, Loaded: 2, Rejected: 3, Errors: []error{errors.New("b.csv: line 1\nline 2")}, Elapsed: 29600 * time.Microsecond}
		progress.PrintSummary(&w, sum, c.cfg.targets().RejectsAt(), false, zerolog.Nop())
		out := w.String()
		if !strings.Contains(out, c.want) || strings.Contains(out, c.not) || !strings.Contains(out, `failed: b.csv: line 1\nline 2`+"\n") || !strings.Contains(out, "in 29.6ms") {
			t.Errorf("target %s: summary %q, want %q", c.cfg.Target, out, c.want)
		}
	}
}
