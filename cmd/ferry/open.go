package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/runner/metrics"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/source/stores"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets"
)

// job is an opened job: store, target, state and engine ready.
type job struct {
	*runner.Runner
	store   source.Store
	queue   *sqs.Queue       // --sqs-queue-url
	out     *targets.Opened  // target and state (read for the quarantined count at start)
	metrics *metrics.Metrics // --metrics-addr
}

// open validates cfg and opens what the job needs (stores.Open,
// targets.Open). Unreachable stores or databases fail here with a clear
// error.
func open(ctx context.Context, cfg Config, log zerolog.Logger) (_ *job, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &job{}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	sc := cfg.store()
	sc.Log = log
	if j.store, err = stores.Open(ctx, sc); err != nil {
		return nil, err
	}
	parts, err := pusher.NewPartitions(cfg.PartitionColumns, cfg.KeyPattern, j.store.Rel)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	if cfg.SQS.QueueURL != "" {
		cfg.SQS.RetryMaxElapsed, cfg.SQS.Log = cfg.Load.RetryMaxElapsed, log
		if j.queue, err = sqs.New(ctx, cfg.SQS); err != nil {
			return nil, err
		}
	}
	tc := cfg.targets()
	tc.Source, tc.Partitions, tc.MaxConns, tc.Log = j.store.String(), parts, cfg.Runner.Workers+2, log
	if j.out, err = targets.Open(ctx, tc); errors.Is(err, pgstate.ErrBadURL) {
		return nil, &UsageError{Err: err}
	} else if err != nil {
		return nil, err
	}
	j.Runner, err = runner.New(runner.Config{
		Store: j.store, Target: j.out.Target, State: j.out.State, Pipeline: j.out.Pipeline, Log: log,
		Load: cfg.Load, Options: cfg.Runner, Observer: cfg.Observer,
	})
	if errors.Is(err, source.ErrBadAfterLoad) {
		err = &UsageError{Err: err}
	}
	return j, err
}

// Close releases the job's resources: the target, then the state, then
// the connections.
func (j *job) Close() {
	if j.out != nil {
		j.out.Close()
	}
}
