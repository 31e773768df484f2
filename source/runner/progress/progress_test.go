package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/state/filestore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// jsonLog is a JSON logger writing durations as cmd/ferry's does (30s,
// not 30000).
func jsonLog(w io.Writer) zerolog.Logger {
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	return zerolog.New(w)
}

// TestMeterRecentRate: the rate is over the last window, so a run that
// stalls shows 0 at the next line, not a falling average since the start.
func TestMeterRecentRate(t *testing.T) {
	m := meter{window: 10 * time.Second}
	for _, c := range []struct {
		after time.Duration
		bytes int64
		want  float64
	}{
		{0, 0, 0},
		{10 * time.Second, 100e6, 10e6},
		{20 * time.Second, 100e6, 0}, // stalled
		{30 * time.Second, 150e6, 5e6},
	} {
		if got := m.add(sample{at: t0.Add(c.after), bytes: c.bytes}); got != c.want {
			t.Errorf("at +%v, %d bytes: rate %v, want %v", c.after, c.bytes, got, c.want)
		}
	}
	// A bar's meter sees many samples within its window: the rate is
	// since the one a window back.
	m = meter{window: time.Second}
	var got float64
	for i := range 9 {
		got = m.add(sample{at: t0.Add(time.Duration(i) * 250 * time.Millisecond), bytes: int64(i) * 1e6})
	}
	if got != 4e6 || len(m.samples) > 5 {
		t.Errorf("rate %v over %d samples, want 4e6 over at most 5", got, len(m.samples))
	}
}

// TestBarLine: the bar moves with the bytes read of the files wanted (one
// big file shows its progress before it ends), with percent and ETA.
func TestBarLine(t *testing.T) {
	var c runner.Counters
	c.Listed.Add(1)
	c.WantedBytes.Add(18e6)
	c.ReadBytes.Add(9e6)
	c.Records.Add(120000)
	line := barLine(sampleOf(&c, t0), 1e6)
	for _, want := range []string{"[##########          ]", " 50%", "9.0/18.0 MB", "files 0/1", "rows 120000", "1.0 MB/s", "ETA 9s"} {
		if !strings.Contains(line, want) {
			t.Errorf("bar %q: no %q", line, want)
		}
	}
	if strings.Contains(line, "\n") {
		t.Errorf("bar %q spans lines", line)
	}
	// Stalled: no ETA rather than an endless one.
	if line := barLine(sampleOf(&c, t0), 0); strings.Contains(line, "ETA") || !strings.Contains(line, "0.0 MB/s") {
		t.Errorf("stalled bar %q", line)
	}
	// Nothing wanted yet (listing): the bar counts files, no percent.
	var listing runner.Counters
	listing.Listed.Add(4)
	listing.Done.Add(1)
	if line := barLine(sampleOf(&listing, t0), 1e6); strings.Contains(line, "%") || strings.Contains(line, "ETA") || !strings.Contains(line, "[#####               ]") {
		t.Errorf("bar before any file is wanted: %q", line)
	}
	// Read past the wanted size (a Parquet footer read twice): 100%.
	c.ReadBytes.Add(10e6)
	if s := sampleOf(&c, t0); s.percent() != 100 || !strings.Contains(barLine(s, 1), "[####################] 100%") {
		t.Errorf("over-read: %q", barLine(s, 1))
	}
}

// TestProgressAndStatusLog: the log lines' rate is the recent one, and
// durations (eta, lag) are duration strings in JSON.
func TestProgressAndStatusLog(t *testing.T) {
	var buf bytes.Buffer
	log := jsonLog(&buf)
	var c runner.Counters
	c.WantedBytes.Add(100e6)
	c.ReadBytes.Add(40e6)
	c.Backlog.Add(7)
	c.LastLag.Store(int64(83*time.Second + 456*time.Millisecond))
	progressEvent(log.Info(), sampleOf(&c, t0), 2e6).Msg("progress")
	StatusFields(log.Info(), &c).Msg("status")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log %q", buf.String())
	}
	var p, s map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &s); err != nil {
		t.Fatal(err)
	}
	if p["rate"] != "2.0 MB/s" || p["percent"] != 40.0 || p["eta"] != "30s" {
		t.Errorf("progress line %v", p)
	}
	if s["backlog"] != 7.0 || s["lag"] != "1m23s" {
		t.Errorf("status line %v", s)
	}
}

// TestOneLine: a multi-line message is written on one line.
func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                       "plain",
		"a\nb\n":                      `a\nb`,
		"ERROR: x\r\nDETAIL: y\nHINT": `ERROR: x\nDETAIL: y\nHINT`,
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStatusLine: a replication's status line is written while files load
// or wait, with the rate of the last interval, and not when the only news
// is files found done again.
func TestStatusLine(t *testing.T) {
	var buf bytes.Buffer
	log := jsonLog(&buf)
	var c runner.Counters
	every := 30 * time.Second
	l := newStatusLine(&c, every, t0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * every) }
	if l.log(log, at(1)) {
		t.Fatal("a line while idle")
	}
	c.Listed.Add(3)
	c.Skipped.Add(3) // the same done files, listed again
	if l.log(log, at(2)) {
		t.Fatal("a line for files found done again")
	}
	c.Backlog.Add(2)
	c.Done.Add(1)
	c.ReadBytes.Add(60e6)
	c.LastLag.Store(int64(12300 * time.Millisecond))
	if !l.log(log, at(3)) {
		t.Fatal("no line while files load")
	}
	if !l.log(log, at(4)) { // stalled, files waiting
		t.Fatal("no line while files wait")
	}
	c.Backlog.Add(-2)
	c.Done.Add(2)
	if !l.log(log, at(5)) || l.log(log, at(6)) {
		t.Fatal("the last loads: one line, then none")
	}
	var got []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 3 {
		t.Fatalf("%d lines: %s", len(got), buf.String())
	}
	if got[0]["rate"] != "2.0 MB/s" || got[0]["backlog"] != 2.0 || got[0]["lag"] != "12.3s" || got[0]["files_loaded"] != 1.0 {
		t.Errorf("loading: %v", got[0])
	}
	if got[1]["rate"] != "0.0 MB/s" || got[1]["backlog"] != 2.0 {
		t.Errorf("stalled: %v", got[1])
	}
	if got[2]["backlog"] != 0.0 || got[2]["files_loaded"] != 3.0 {
		t.Errorf("caught up: %v", got[2])
	}
}

// TestQuarantineField: the status line counts the quarantined files in
// the state (failed --max-attempts times), and leaves the field out when
// the state cannot say or nothing can be quarantined.
func TestQuarantineField(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, k := range []string{"bad.csv", "good.csv"} {
		if _, err := st.Start(ctx, "p", pusher.Object{Key: k, ETag: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Fail(ctx, "p", pusher.Object{Key: "bad.csv", ETag: "e"}, errors.New("bad row")); err != nil {
		t.Fatal(err)
	}
	line := func(count func(context.Context) (int64, bool)) string {
		var buf bytes.Buffer
		log := zerolog.New(&buf)
		e := log.Info()
		QuarantineField(ctx, e, count)
		e.Msg("status")
		return buf.String()
	}
	if got := line(QuarantineCount(st, "p", 1)); !strings.Contains(got, `"quarantined":1`) {
		t.Errorf("max attempts 1: %s; want quarantined 1", got)
	}
	if got := line(QuarantineCount(st, "p", 2)); !strings.Contains(got, `"quarantined":0`) {
		t.Errorf("max attempts 2: %s; want quarantined 0", got)
	}
	if got := line(QuarantineCount(st, "p", 0)); strings.Contains(got, "quarantined") {
		t.Errorf("max attempts 0: %s; want no quarantined field", got)
	}
}

func TestDurationsInLogs(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		log, err := NewLogger(&buf, "info", format)
		if err != nil {
			t.Fatal(err)
		}
		log.Info().Dur("took", 29600*time.Microsecond).Msg("poll")
		if !strings.Contains(buf.String(), "29.6ms") {
			t.Errorf("%s: %q, want took as 29.6ms", format, buf.String())
		}
	}
}

func TestVersionOf(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "fa028a9c0123456789abcdef0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "(devel) commit fa028a9c0123 (modified) go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0 go1.26.0"},
		{&debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, "(devel) commit abc"},
		{nil, "(devel)"},
	} {
		if got := VersionOf(c.bi); got != c.want {
			t.Errorf("VersionOf = %q, want %q", got, c.want)
		}
	}
}
