package main

import (
	"context"
	"errors"

	"github.com/ferrydata/ferry/source/runner/metrics"
)

// listenMetrics serves --metrics-addr (nil when not given) before
// anything is opened or loaded, so that a port in use fails the start,
// and sets cfg's Observer to the metrics it serves. An address that is
// not HOST:PORT is a usage error.
func listenMetrics(addr string, cfg *Config) (*metrics.Endpoint, error) {
	if addr == "" {
		return nil, nil
	}
	e, err := metrics.Serve(addr)
	if ae := (*metrics.AddrError)(nil); errors.As(err, &ae) {
		return nil, &UsageError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	cfg.Observer = e.Metrics
	return e, nil
}

// watchMetrics serves the opened job's metrics and readiness: a snapshot
// lists once, a polling replication lists every --poll-interval; the
// state and target are pinged through the job's PostgreSQL connections.
func watchMetrics(e *metrics.Endpoint, j *job, command string, cfg Config) {
	if e == nil {
		return
	}
	window := metrics.DefaultWindow
	switch {
	case command == "snapshot":
		window = -1
	case j.queue == nil:
		window = max(metrics.DefaultWindow, 2*cfg.Poll.Interval)
	}
	e.Watch(j.Pipeline(), &j.Counters, j.Runner, window, func(ctx context.Context) error {
		for _, p := range j.pools {
			if err := p.Ping(ctx); err != nil {
				return err
			}
		}
		return nil // a state directory, and no PostgreSQL
	})
	if cfg.Poll.LeaseRanges > 0 && j.queue == nil {
		e.Metrics.WatchLeases(&j.Counters)
	}
	j.metrics = e.Metrics
}
