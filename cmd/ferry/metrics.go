package main

import "github.com/ferrydata/ferry/source/runner/metrics"

// watchMetrics serves the opened job's metrics and readiness: a snapshot
// lists once, a polling replication lists every --poll-interval; the
// state and target are pinged through the job's PostgreSQL connections.
func watchMetrics(e *metrics.Endpoint, j *job, command string, cfg Config) {
	window := metrics.DefaultWindow
	switch {
	case command == "snapshot":
		window = -1
	case j.queue == nil:
		window = max(metrics.DefaultWindow, 2*cfg.Poll.Interval)
	}
	e.Watch(j.Pipeline(), &j.Counters, j.Runner, window, j.out.Ping)
	if cfg.Poll.LeaseRanges > 0 && j.queue == nil {
		e.Metrics.WatchLeases(&j.Counters)
	}
	j.metrics = e.Metrics
}
