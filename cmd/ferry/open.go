package main

import (
	"cmp"
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/local"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/runner/metrics"
	"github.com/ferrydata/ferry/source/s3"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets/jsonlines"
	"github.com/ferrydata/ferry/targets/postgres"
)

// job is an opened job: store, target, state and engine ready.
type job struct {
	*runner.Runner
	store   source.Store
	queue   *sqs.Queue     // --sqs-queue-url
	rejects sqs.RejectSink // where rejected queue messages go
	state   state.Store    // progress; read for the quarantined count at start
	closers []func()       // in reverse order of opening

	// rejectsAt names where rejected records go, for the summary.
	rejectsAt string
	pools     []*pgxpool.Pool  // the PostgreSQL connections (health checks)
	metrics   *metrics.Metrics // --metrics-addr
}

// open validates cfg and opens what the job needs. Unreachable stores or
// databases fail here with a clear error.
func open(ctx context.Context, cfg Config, log zerolog.Logger) (_ *job, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &job{rejectsAt: rejectsWhere(cfg)}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	if j.store, err = openStore(ctx, cfg, log); err != nil {
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
	// The connections are named after the pipeline (application_name),
	// before the state that may keep an older name is open.
	appName := cfg.Pipeline
	if appName == "" {
		appName, _, _ = defaultPipeline(j.store.String(), cfg.Target, cfg.Table)
	}
	appName = "ferry/" + appName
	var targetPool *pgxpool.Pool
	var jl *jsonlines.Target
	if cfg.pg {
		if targetPool, err = j.connect(ctx, cfg.Target, cfg.Runner.Workers+2, appName); err != nil {
			return nil, err
		}
	} else {
		if jl, err = jsonlines.Open(cfg.Target, cfg.RejectsFile); err != nil {
			return nil, err
		}
		j.closers = append(j.closers, func() { jl.Close() })
		jl.Metadata, jl.Partitions = cfg.Metadata, parts
		jl.RejectInvalidUTF8, jl.SkipRecords = cfg.InvalidUTF8 == "reject", cfg.Runner.OnError == runner.OnErrorSkipRecord
		if cfg.RejectsFile != "" {
			j.rejects = jl
		}
	}

	var st state.Store
	pool, sameTx := targetPool, cfg.State == "" && cfg.pg // default: beside the rows
	switch {
	case pgstate.IsURL(cfg.State):
		if pool, err = j.connect(ctx, cfg.State, cfg.Runner.Workers+2, appName); err == nil {
			st, err = pgstate.Schema(cfg.StateSchema).Open(ctx, pool)
		}
	case sameTx:
		st, err = pgstate.Schema(cfg.StateSchema).Open(ctx, pool)
	default:
		st, err = filestore.New(filestore.Dir(cfg.State))
	}
	if err != nil {
		return nil, err
	}
	j.closers = append(j.closers, func() { st.Close() })
	j.state = st
	if sink, ok := st.(sqs.RejectSink); ok {
		j.rejects = sink // ferry.rejects, beside the rows
	}
	pipeline, err := pipelineName(ctx, cfg, j.store.String(), st, sameTx, targetPool, log)
	if err != nil {
		return nil, err
	}

	var target pusher.Target = jl
	if jl != nil {
		jl.Pipeline = pipeline
	} else {
		if !sameTx {
			log.Warn().Msg("progress state is not in the target database: loading is at-least-once, not exactly-once")
		}
		pc := cfg.Postgres
		pc.Pipeline, pc.StateInTx, pc.Partitions = pipeline, sameTx, parts
		pc.Log = func(msg string) { log.Warn().Msg(msg) }
		t, err := postgres.New(ctx, targetPool, pc)
		if err != nil {
			return nil, err
		}
		j.closers = append(j.closers, func() { t.Close() })
		target = t
	}
	j.Runner, err = runner.New(runner.Config{
		Store: j.store, Target: target, State: st, Pipeline: pipeline, Log: log,
		Load: cfg.Load, Options: cfg.Runner, Observer: cfg.Observer,
	})
	if errors.Is(err, source.ErrBadAfterLoad) {
		err = &UsageError{Err: err}
	}
	return j, err
}

// openStore opens the store --source names.
func openStore(ctx context.Context, cfg Config, log zerolog.Logger) (source.Store, error) {
	if !strings.HasPrefix(cfg.Source, "s3://") {
		return local.New(cfg.Source)
	}
	st, err := s3.New(ctx, s3.Config{URL: cfg.Source, Endpoint: cfg.S3Endpoint, PathStyle: cfg.S3PathStyle,
		RetryMaxElapsed: cfg.Load.RetryMaxElapsed, Log: log})
	if err != nil || cfg.Inventory == "" {
		return st, err
	}
	return s3.NewInventory(ctx, st, cfg.Inventory)
}

// connect opens a pool and checks the server answers.
func (j *job) connect(ctx context.Context, url string, maxConns int, appName string) (*pgxpool.Pool, error) {
	pool, err := pgstate.Connect(ctx, url, maxConns, appName)
	if errors.Is(err, pgstate.ErrBadURL) {
		return nil, &UsageError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	j.closers = append(j.closers, pool.Close)
	j.pools = append(j.pools, pool)
	return pool, nil
}

// Close releases the job's resources: the target, then the state, then
// the connections.
func (j *job) Close() {
	for i := len(j.closers) - 1; i >= 0; i-- {
		j.closers[i]()
	}
}

// rejectsWhere names where rejected records go, for the summary.
func rejectsWhere(cfg Config) string {
	if cfg.pg {
		return cmp.Or(cfg.StateSchema, "ferry") + ".rejects"
	}
	return cmp.Or(cfg.RejectsFile, "the rejects file")
}
