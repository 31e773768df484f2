package metrics

import (
	"context"
	"time"

	"github.com/ferrydata/ferry/source/runner"
)

// Endpoint is the --metrics-addr server of one pipeline: the Server, and
// the Metrics and Health it serves.
type Endpoint struct {
	*Server
	Metrics *Metrics
	Health  *Health
}

// Serve listens on addr (see Listen) and returns the endpoint, whose
// Metrics observe the engine from now on (runner.Config.Observer).
// /readyz says "starting" until Watch.
func Serve(addr string) (*Endpoint, error) {
	srv, err := Listen(addr)
	if err != nil {
		return nil, err
	}
	h := NewHealth()
	return &Endpoint{Server: srv, Metrics: New(h), Health: h}, nil
}

// Watch registers the metrics of the opened pipeline (labelled with its
// name) and those read from the runner r (its counters c and gauges),
// and makes /readyz answer from the Health: sourceWindow is
// Health.SourceWindow, ping Health.Ping (nil: none).
func (e *Endpoint) Watch(pipeline string, c *runner.Counters, r Engine, sourceWindow time.Duration, ping func(context.Context) error) {
	e.Health.SourceWindow, e.Health.Ping = sourceWindow, ping
	e.Metrics.Register(e.Registry, pipeline)
	e.Metrics.WatchRunner(c, r)
	e.SetReady(e.Health.Ready)
}
