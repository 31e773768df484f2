package progress

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/state"
)

// StatusEvery is how often a polling replication logs its status line
// (as the SQS feed does its queue line).
const StatusEvery = 30 * time.Second

// StartStatus logs a replication's status line every interval while
// anything moves or files wait (statusLine), until stop is called. With
// SQS the queue's own line carries these fields instead (QueueReport).
func StartStatus(ctx context.Context, c *runner.Counters, quarantined func(context.Context) (int64, bool), every time.Duration, log zerolog.Logger) (stop func()) {
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
				l.log(log, now, func(e *zerolog.Event) { QuarantineField(ctx, e, quarantined) })
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// statusLine is a replication's periodic status: the loads' counters, the
// rate over the last interval, the backlog and the lag (StatusFields).
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
	StatusFields(e, l.c)
	for _, fn := range more {
		fn(e)
	}
	e.Msg("status")
	return true
}

// StatusFields adds a replication's backlog and lag to a status line:
// backlog is the files named (listed or notified) and wanted whose load
// has not ended; lag is, for the file loaded last, the time from its
// LastModified to its commit (left out until a file loads); with
// --lease-ranges, the ranges this process holds and how many there are.
func StatusFields(e *zerolog.Event, c *runner.Counters) *zerolog.Event {
	e = e.Int64("backlog", c.Backlog.Load())
	if lag := time.Duration(c.LastLag.Load()); lag > 0 {
		e = e.Dur("lag", roundLag(lag))
	}
	if n := c.LeaseRanges.Load(); n > 0 {
		e = e.Int64("lease_ranges_owned", c.LeasesHeld.Load()).Int64("lease_ranges", n)
	}
	return e
}

// QuarantineField adds the count of quarantined files, when the state
// tells it (count is nil otherwise, see QuarantineCount).
func QuarantineField(ctx context.Context, e *zerolog.Event, count func(context.Context) (int64, bool)) {
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

// QueueReport adds a replication's figures to the SQS feed's queue line
// (sqs.FeedConfig.Report): files loaded, rows, failed, backlog, lag and
// quarantined files.
func QueueReport(ctx context.Context, c *runner.Counters, quarantined func(context.Context) (int64, bool)) func(*zerolog.Event) {
	return func(e *zerolog.Event) {
		StatusFields(e.Int64("files_loaded", c.Done.Load()).Int64("rows", c.Records.Load()).Int64("failed", c.Failed.Load()), c)
		QuarantineField(ctx, e, quarantined)
	}
}

// QuarantineCount returns a function counting the pipeline's quarantined
// files in the state (they load again only after ferry retry, or as a new
// version), or nil when the state cannot say or nothing is quarantined
// (--max-attempts 0). The count is false when the state did not answer.
func QuarantineCount(st state.Store, pipeline string, maxAttempts int) func(context.Context) (int64, bool) {
	in, ok := st.(state.Inspector)
	if !ok || maxAttempts == 0 {
		return nil
	}
	return func(ctx context.Context) (int64, bool) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		sum, err := in.Summary(ctx, pipeline, maxAttempts)
		return sum.Quarantined, err == nil
	}
}

// LogQuarantined says at the start of a replication how many files are
// quarantined.
func LogQuarantined(ctx context.Context, count func(context.Context) (int64, bool), maxAttempts int, log zerolog.Logger) {
	if count == nil {
		return
	}
	n, ok := count(ctx)
	switch {
	case !ok:
		log.Warn().Msg("cannot count quarantined files")
	case n > 0:
		log.Warn().Int64("quarantined", n).Int("max_attempts", maxAttempts).
			Msg("quarantined files are not loaded again: 'ferry files --status quarantined' lists them, 'ferry retry' makes them load")
	}
}
