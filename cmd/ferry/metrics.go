package main

import (
	"context"
	"errors"

	"github.com/ferrydata/ferry/source/runner/metrics"
)

// metricsServer is the --metrics-addr server, and the health of the job
// it watches; nil when the flag is not given (its methods do nothing).
type metricsServer struct {
	*metrics.Server
	health  *metrics.Health
	metrics *metrics.Metrics
}

// listenMetrics listens on --metrics-addr before anything is opened or
// loaded, so that a port in use fails the start, and sets cfg's Observer
// to the metrics it will serve. An address that is not HOST:PORT is a
// usage error.
func listenMetrics(addr string, cfg *Config) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	srv, err := metrics.Listen(addr)
	if ae := (*metrics.AddrError)(nil); errors.As(err, &ae) {
		return nil, &UsageError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	s := &metricsServer{Server: srv, health: metrics.NewHealth()}
	s.metrics = metrics.New(s.health)
	cfg.Observer = s.metrics
	return s, nil
}

// watch registers the opened job's metrics (labelled with its pipeline)
// and makes /readyz answer from its health.
func (s *metricsServer) watch(j *job, command string, cfg Config) {
	if s == nil {
		return
	}
	h := s.health
	switch {
	case command == "snapshot":
		h.SourceWindow = -1 // it lists once
	case j.queue == nil:
		h.SourceWindow = max(metrics.DefaultWindow, 2*cfg.Poll.Interval)
	}
	h.Ping = func(ctx context.Context) error {
		for _, p := range j.pools {
			if err := p.Ping(ctx); err != nil {
				return err
			}
		}
		return nil // a state directory, and no PostgreSQL
	}
	s.metrics.Register(s.Registry, j.Pipeline())
	s.metrics.WatchRunner(&j.Counters, j.Runner)
	j.metrics = s.metrics
	s.SetReady(h.Ready)
}

// Close stops the server.
func (s *metricsServer) Close() {
	if s != nil {
		s.Server.Close()
	}
}
