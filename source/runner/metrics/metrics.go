// Package metrics is ferry's Prometheus adapter and its HTTP endpoints
// (--metrics-addr): /metrics in the Prometheus text format, /healthz and
// /readyz.
//
// The engine knows nothing of Prometheus. Metrics implements the runner's
// Observer (files ended, commits, retries, round trips to the state and
// the source) and reads the counters and gauges the runner and the SQS
// feed keep (rows, bytes, rejects, in-flight, backlog, messages). Every
// metric carries the pipeline label; the Go runtime's and the process's
// own metrics come unlabelled.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/sqs"
)

// Engine is what Metrics reads from a runner (a *runner.Runner).
type Engine interface {
	Inflight() (files, bytes, limit int64)
	BacklogFiles() int64
}

// Queue is what Metrics reads from an SQS feed (a *sqs.Feed).
type Queue interface {
	InFlight() int
	Extended() int64
}

// Metrics records a pipeline's metrics and its readiness.
type Metrics struct {
	reg    prometheus.Registerer // labelled with the pipeline
	health *Health
	now    func() time.Time

	files       *prometheus.CounterVec
	byStatus    map[runner.FileStatus]prometheus.Counter // files' children, looked up once
	retries     *prometheus.CounterVec
	loadSeconds prometheus.Histogram
	commit      prometheus.Histogram
	lag         prometheus.Histogram
	lastSuccess prometheus.Gauge
}

var _ runner.Observer = (*Metrics)(nil)

// New returns a pipeline's metrics, ready to observe (Register serves
// them); h is told of the round trips (readiness).
// ferry_last_success_timestamp_seconds starts at the current time.
func New(h *Health) *Metrics {
	m := &Metrics{
		health: h,
		now:    time.Now,
		files: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_files_total",
			Help: "Files whose turn ended, by status: loaded, skipped (named again and not loaded: already loaded, quarantined, vanished), failed (tried again later), quarantined (failed for the last time).",
		}, []string{"status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_retries_total",
			Help: "Files or passes left to be tried again, by reason: unavailable (a service was down), conflict (another process moved the file), claimed (another process is loading it), pass (a poll or pass failed and runs again after a backoff), read (a read retried within its load), after_load (an --after-load action failed and is tried again later).",
		}, []string{"reason"}),
		loadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_load_seconds",
			Help:    "Time to load a file, from the start of its read to its last commit (loaded files).",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_commit_seconds",
			Help:    "Time to write and commit one transaction (a group of chunks, or one chunk).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_file_lag_seconds",
			Help:    "Commit time of a loaded file minus its object's LastModified: how stale the table is.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400},
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_last_success_timestamp_seconds",
			Help: "Unix time at which the last file loaded (the start time until one does).",
		}),
	}
	m.byStatus = map[runner.FileStatus]prometheus.Counter{}
	for _, s := range []runner.FileStatus{runner.FileLoaded, runner.FileSkipped, runner.FileFailed, runner.FileQuarantined} {
		m.byStatus[s] = m.files.WithLabelValues(string(s))
	}
	for _, r := range []string{runner.RetryUnavailable, runner.RetryConflict, runner.RetryClaimed, runner.RetryPass, runner.RetryRead, runner.RetryAfterLoad} {
		m.retries.WithLabelValues(r)
	}
	m.lastSuccess.Set(seconds(m.now()))
	return m
}

// Register registers the metrics in reg, each labelled with the pipeline
// (known once the job is open; what was observed before counts). Call it
// once, before WatchRunner and WatchQueue.
func (m *Metrics) Register(reg prometheus.Registerer, pipeline string) {
	m.reg = prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": pipeline}, reg)
	m.reg.MustRegister(m.files, m.retries, m.loadSeconds, m.commit, m.lag, m.lastSuccess)
}

// WatchRunner registers the metrics read from a runner: its counters
// (rows, bytes, rejects) and its gauges (in-flight, backlog).
func (m *Metrics) WatchRunner(c *runner.Counters, e Engine) {
	inflight := func(pick func(files, bytes, limit int64) int64) func() float64 {
		return func() float64 { return float64(pick(e.Inflight())) }
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_rows_total",
			Help: "Records loaded into the target (rejected records not counted).",
		}, monotonic(c.Records.Load)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_bytes_total",
			Help: "Bytes read from the store (as stored: compressed files count their compressed bytes).",
		}, monotonic(c.ReadBytes.Load)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_rejected_records_total",
			Help: "Records rejected (skip-record: kept in ferry.rejects or the rejects file).",
		}, monotonic(c.Rejected.Load)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_files_inflight",
			Help: "Files started and not yet ended (claimed, waiting for a worker, loading or committing).",
		}, inflight(func(f, _, _ int64) int64 { return f })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_inflight_bytes",
			Help: "Bytes of chunks read and not yet committed (held under --inflight-bytes).",
		}, inflight(func(_, b, _ int64) int64 { return b })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_inflight_bytes_limit",
			Help: "The in-flight budget (--inflight-bytes).",
		}, inflight(func(_, _, l int64) int64 { return l })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_backlog_files",
			Help: "Files named (listed, or notified on SQS) and wanted whose load has not ended.",
		}, func() float64 { return float64(e.BacklogFiles()) }),
	)
}

// WatchLeases registers the metrics of a polling replication that leases
// hash ranges (--lease-ranges): the ranges this process holds, and how
// many there are.
func (m *Metrics) WatchLeases(c *runner.Counters) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_lease_ranges_owned",
			Help: "Hash ranges of the keys this process holds a lease on (--lease-ranges): it loads only their keys.",
		}, func() float64 { return float64(c.LeasesHeld.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_lease_ranges",
			Help: "Hash ranges the keys are split into (--lease-ranges), among every process of the pipeline.",
		}, func() float64 { return float64(c.LeaseRanges.Load()) }),
	)
}

// WatchQueue registers the metrics read from an SQS feed.
func (m *Metrics) WatchQueue(c *sqs.Counters, q Queue) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_sqs_messages_received_total",
			Help: "SQS messages received.",
		}, monotonic(c.Received.Load)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_sqs_messages_deleted_total",
			Help: "SQS messages deleted: every object they name loaded, skipped or quarantined, or rejected.",
		}, monotonic(c.Deleted.Load)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_sqs_messages_inflight",
			Help: "SQS messages received and not yet deleted or released.",
		}, func() float64 { return float64(q.InFlight()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_sqs_visibility_extensions_total",
			Help: "Visibility timeout extensions sent while messages' objects load (one per message).",
		}, monotonic(q.Extended)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_sqs_messages_rejected_total",
			Help: "SQS messages that are not S3 notifications, recorded as rejected and deleted (--sqs-max-receives).",
		}, monotonic(c.Garbage.Load)),
	)
}

// FileEnded implements runner.Observer.
func (m *Metrics) FileEnded(obj pusher.Object, status runner.FileStatus, took time.Duration) {
	if c := m.byStatus[status]; c != nil {
		c.Inc() // every file listed again, at every poll: no label hashing
	} else {
		m.files.WithLabelValues(string(status)).Inc()
	}
	if status != runner.FileLoaded {
		return
	}
	now := m.now()
	m.loadSeconds.Observe(took.Seconds())
	if !obj.LastModified.IsZero() {
		m.lag.Observe(max(now.Sub(obj.LastModified).Seconds(), 0))
	}
	m.lastSuccess.Set(seconds(now))
}

// Committed implements runner.Observer.
func (m *Metrics) Committed(took time.Duration) { m.commit.Observe(took.Seconds()) }

// Retried implements runner.Observer.
func (m *Metrics) Retried(reason string) { m.retries.WithLabelValues(reason).Inc() }

// StateRoundTrip implements runner.Observer.
func (m *Metrics) StateRoundTrip(err error) { m.health.State(err) }

// SourceRoundTrip implements runner.Observer; it is also the SQS feed's
// Received.
func (m *Metrics) SourceRoundTrip(err error) { m.health.Source(err) }

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// monotonic reads a counter that may step back for a moment (the
// runner's rows drop by the records the target rejects once they are
// known) as one that never does: Prometheus takes a decrease for a
// restart.
func monotonic(load func() int64) func() float64 {
	var mu sync.Mutex
	var high int64
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		high = max(high, load())
		return float64(high)
	}
}
