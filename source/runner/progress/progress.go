// Package progress shows a run of the engine (package source/runner) to
// the person who started it, from the runner's counters: a snapshot's
// progress bar or progress log lines, its summary at the end, and a
// replication's periodic status line (backlog, lag, quarantined files),
// and the log those go to (NewLogger).
// It only reads the counters and the state; the engine knows nothing of
// it.
package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/runner"
)

// Mode is how Start shows a snapshot's progress.
type Mode string

// The modes: Bar redraws a line (on a terminal), None shows nothing, Log
// writes a log line every 10 seconds, and Auto is Bar on a terminal, else
// Log.
const (
	Auto Mode = "auto"
	Bar  Mode = "bar"
	Log  Mode = "log"
	None Mode = "none"
)

// UnmarshalText sets a mode from its name (a flag's value).
func (m *Mode) UnmarshalText(b []byte) error {
	switch v := Mode(b); v {
	case Auto, Bar, Log, None:
		*m = v
		return nil
	}
	return fmt.Errorf("expected auto, bar, log or none")
}

// MarshalText returns the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// Start shows a snapshot's progress, read from the runner's counters c,
// until stop is called: in Bar mode a line on w, redrawn, with the bar and
// percentage of the bytes read, the files, rows, recent rate and time
// left; in Log mode the same figures in a log line every 10 seconds.
func Start(ctx context.Context, c *runner.Counters, w io.Writer, mode Mode, log zerolog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	if mode == None {
		return stop
	}
	if mode == Auto || mode == "" {
		mode = Log
		if IsTerminal(w) {
			mode = Bar
		}
	}
	every, window := 10*time.Second, 10*time.Second
	if mode == Bar {
		every, window = 250*time.Millisecond, 5*time.Second
	}
	m := meter{window: window}
	m.add(sampleOf(c, time.Now()))
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if mode == Bar {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
			}
			s := sampleOf(c, time.Now())
			rate := m.add(s)
			if mode == Bar {
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
