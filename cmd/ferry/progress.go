package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/ferrydata/ferry/source/runner"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress shows a snapshot's progress: a redrawn line on a terminal,
// a log line every 10 seconds otherwise, until stop is called.
func startProgress(ctx context.Context, j *job, w io.Writer, mode string, log zerolog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	if mode == "auto" {
		mode = "log"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	if mode == "none" {
		return stop
	}
	every, window := 10*time.Second, 10*time.Second
	if mode == "bar" {
		every, window = 250*time.Millisecond, 5*time.Second
	}
	c := &j.Counters
	m := meter{window: window}
	m.add(sampleOf(c, time.Now()))
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if mode == "bar" {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
			}
			s := sampleOf(c, time.Now())
			rate := m.add(s)
			if mode == "bar" {
				fmt.Fprint(w, "\r\033[K"+barLine(s, rate))
				continue
			}
			progressEvent(log.Info(), s, rate).Msg("progress")
		}
	})
	return stop
}

// sample is the runner's counters at one time.
type sample struct {
	at                          time.Time
	files, listed, failed, rows int64
	bytes, wanted               int64 // read from the store; sizes of the files wanted
}

func sampleOf(c *runner.Counters, at time.Time) sample {
	return sample{at: at, files: c.Done.Load() + c.Failed.Load() + c.Skipped.Load(), listed: c.Listed.Load(),
		failed: c.Failed.Load(), rows: c.Records.Load(), bytes: c.ReadBytes.Load(), wanted: c.WantedBytes.Load()}
}

// percent is the share of the wanted bytes read, -1 when none are known
// yet. A file resumed mid-way is not read whole, and one that fails is
// not read to its end: the figure can stay below 100.
func (s sample) percent() int {
	if s.wanted <= 0 {
		return -1
	}
	return int(min(100, 100*s.bytes/s.wanted))
}

// eta is the time left to read the wanted bytes at rate (bytes per
// second); false when it cannot be told (nothing wanted, or no rate).
func (s sample) eta(rate float64) (time.Duration, bool) {
	if s.wanted <= 0 || rate <= 0 {
		return 0, false
	}
	left := float64(max(0, s.wanted-s.bytes))
	return time.Duration(left / rate * float64(time.Second)).Round(time.Second), true
}

// meter is the recent read rate: over the last window of samples, so a
// stalled run shows 0 within a window rather than a slowly falling
// average since the start.
type meter struct {
	window  time.Duration
	samples []sample // oldest first; the first is at or before the window's start
}

// add records s and returns the rate in bytes per second since the
// sample a window before it (or the oldest).
func (m *meter) add(s sample) float64 {
	m.samples = append(m.samples, s)
	for len(m.samples) > 2 && !m.samples[1].at.After(s.at.Add(-m.window)) {
		m.samples = m.samples[1:]
	}
	base := m.samples[0]
	el := s.at.Sub(base.at).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(s.bytes-base.bytes) / el
}

// barLine is the terminal's progress line: the bar and percentage of the
// bytes read, the files, rows, recent rate and time left.
func barLine(s sample, rate float64) string {
	var b strings.Builder
	if p := s.percent(); p >= 0 {
		fmt.Fprintf(&b, "%s %3d%%  %s/%s", bar(int64(p), 100, 20), p, mbFigure(s.bytes), mb(s.wanted))
	} else {
		fmt.Fprintf(&b, "%s  %s", bar(s.files, s.listed, 20), mb(s.bytes))
	}
	fmt.Fprintf(&b, "  files %d/%d  rows %d  %s", s.files, s.listed, s.rows, mbps(rate))
	if s.failed > 0 {
		fmt.Fprintf(&b, "  failed %d", s.failed)
	}
	if eta, ok := s.eta(rate); ok {
		fmt.Fprintf(&b, "  ETA %s", eta)
	}
	return b.String()
}

// progressEvent adds a progress log line's fields: the rate is the recent
// one.
func progressEvent(e *zerolog.Event, s sample, rate float64) *zerolog.Event {
	e = e.Int64("files", s.files).Int64("listed", s.listed).Int64("failed", s.failed).
		Int64("rows", s.rows).Int64("bytes", s.bytes)
	if p := s.percent(); p >= 0 {
		e = e.Int("percent", p)
	}
	e = e.Str("rate", mbps(rate))
	if eta, ok := s.eta(rate); ok {
		e = e.Dur("eta", eta)
	}
	return e
}

func bar(n, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	fill := int(int64(width) * min(n, total) / total)
	return "[" + strings.Repeat("#", fill) + strings.Repeat(" ", width-fill) + "]"
}

func mb(n int64) string       { return mbFigure(n) + " MB" }
func mbFigure(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) }
func mbps(rate float64) string {
	return fmt.Sprintf("%.1f MB/s", rate/1e6)
}

// startStatus logs a replication's status line every interval while
// anything moves or files wait (statusLine). With SQS the queue's own
// line carries these fields instead (sqs.FeedConfig.Report).
func startStatus(ctx context.Context, c *runner.Counters, quarantined func(context.Context) (int64, bool), every time.Duration, log zerolog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	l := newStatusLine(c, every, time.Now())
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				l.log(log, now, func(e *zerolog.Event) { quarantineField(ctx, e, quarantined) })
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// statusLine is a replication's periodic status: the loads' counters, the
// rate over the last interval, the backlog and the lag (statusFields).
type statusLine struct {
	c     *runner.Counters
	m     meter
	moved [3]int64 // loaded, failed, bytes read at the last line
}

func newStatusLine(c *runner.Counters, every time.Duration, now time.Time) *statusLine {
	l := &statusLine{c: c, m: meter{window: every}}
	l.m.add(sampleOf(c, now))
	l.moved = [3]int64{c.Done.Load(), c.Failed.Load(), c.ReadBytes.Load()}
	return l
}

// log writes the line at now, unless nothing loaded, failed or was read
// since the last one and no file waits (files found done again at each
// poll are not news); it says whether it wrote.
func (l *statusLine) log(log zerolog.Logger, now time.Time, more ...func(*zerolog.Event)) bool {
	s := sampleOf(l.c, now)
	rate := l.m.add(s)
	moved := [3]int64{l.c.Done.Load(), s.failed, s.bytes}
	if moved == l.moved && l.c.Backlog.Load() == 0 {
		return false
	}
	l.moved = moved
	e := log.Info().Int64("files_loaded", moved[0]).Int64("failed", s.failed).Int64("rows", s.rows).Str("rate", mbps(rate))
	statusFields(e, l.c)
	for _, fn := range more {
		fn(e)
	}
	e.Msg("status")
	return true
}

// statusFields adds a replication's backlog and lag to a status line:
// backlog is the files named (listed or notified) and wanted whose load
// has not ended; lag is, for the file loaded last, the time from its
// LastModified to its commit (left out until a file loads).
func statusFields(e *zerolog.Event, c *runner.Counters) *zerolog.Event {
	e = e.Int64("backlog", c.Backlog.Load())
	if lag := time.Duration(c.LastLag.Load()); lag > 0 {
		e = e.Dur("lag", roundLag(lag))
	}
	return e
}

// quarantineField adds the count of quarantined files, when the state
// tells it (count is nil otherwise, see quarantineCount).
func quarantineField(ctx context.Context, e *zerolog.Event, count func(context.Context) (int64, bool)) {
	if count == nil {
		return
	}
	if n, ok := count(ctx); ok {
		e.Int64("quarantined", n)
	}
}

// roundLag rounds a lag for reading: 850ms, 12.3s, 4m7s.
func roundLag(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// roundElapsed rounds a run's time: 29.6ms, 2m3.46s.
func roundElapsed(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}

// rejectsWhere names where rejected records go, for the summary.
func rejectsWhere(cfg Config) string {
	if kind, _ := targetKind(cfg.Target); kind == targetPostgres {
		return cmp.Or(cfg.StateSchema, "ferry") + ".rejects"
	}
	if cfg.RejectsFile != "" {
		return cfg.RejectsFile
	}
	return "the rejects file"
}

func printSummary(w io.Writer, s runner.Summary, rejectsAt string, jsonLog bool, log zerolog.Logger) {
	if jsonLog {
		log.Info().EmbedObject(s).Msg("summary")
		return
	}
	if s.Files > 0 && s.Loaded == 0 && s.Failed == 0 && s.Vanished == 0 && s.AlreadyDone == s.Files {
		fmt.Fprintf(w, "ferry: nothing new to load: all %d files already loaded\n", s.Files)
		return
	}
	fmt.Fprintf(w, "ferry: %d files (%d loaded, %d already loaded, %d failed), %d rows, %s in %s, %.1f MB/s\n",
		s.Files, s.Loaded, s.AlreadyDone, s.Failed, s.Records, mb(s.Bytes), roundElapsed(s.Elapsed), s.MBPerSecond())
	if s.Rejected > 0 {
		fmt.Fprintf(w, "ferry: %d records rejected (see %s)\n", s.Rejected, rejectsAt)
	}
	if s.Rescued > 0 {
		fmt.Fprintf(w, "ferry: %d records loaded with values kept in the rescue column (--rescue-column)\n", s.Rescued)
	}
	if s.Vanished > 0 {
		fmt.Fprintf(w, "ferry: %d files vanished or changed after listing (skipped)\n", s.Vanished)
	}
	if s.Aborted {
		fmt.Fprintln(w, "ferry: stopped at the first failed file (--on-error abort); files not started were not loaded")
	}
	const show = 10
	for i, err := range s.Errors {
		if i == show {
			fmt.Fprintf(w, "ferry: ... and %d more failed files (see the log)\n", len(s.Errors)-show)
			break
		}
		fmt.Fprintf(w, "ferry: failed: %s\n", oneLine(err.Error()))
	}
}

// statusEvery is how often a polling replication logs its status line
// (as the SQS feed does its queue line).
const statusEvery = 30 * time.Second
